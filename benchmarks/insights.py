"""Explanations and aspects, measured: faithfulness and speed of each explanation method, and aspect detection and
aspect sentiment against a keyword-only baseline, in one run.

Explanations. For each text with at least 4 words, delete the 3 words a method ranks highest and, separately, 3
random words (3 seeded draws, averaged); the faithfulness of a method is how far the predicted label's probability
falls in the first case against the second (ratio of mean drops). Methods: word occlusion by PyTorch, word
occlusion by the int8 ONNX export (the fast path a served model uses) at 48, 24 and 12 occlusions per text at most,
Integrated Gradients (captum, PyTorch, the transformer part only), and, given ``--sentimix-student``, occlusion of a
distilled 2-layer int8 student. Texts/s is the wall time of explaining all the texts, after a warm-up.
Models and texts: the demo model (`samiksha train` on demo_data/train.csv, the default recipe) on the 150 demo test
reviews; a SentiMix model (the default recipe on a stratified sample of ``--sentimix-train`` train tweets) on
``--sentimix-texts`` dev tweets.

Aspects. demo_data/aspects_test.csv (390 hand-labelled reviews, never used to choose anything) and, marked as such,
aspects_dev.csv (130 reviews the seed words, clause rules, polarity words and weights were chosen on). Ours (clauses,
seed words, clause sentiment with polarity words) against two keyword-only baselines that give every aspect found
the review's label: the aspects' names and direct translations anywhere in the review, and our seed words anywhere
in the review. All with the demo model's sentiment: micro- and macro-F1 of aspect detection, sentiment accuracy on
the aspects both found and labelled (and on reviews whose aspects differ in sentiment), F1 of (aspect, sentiment)
pairs, texts/s.

    python benchmarks/insights.py --work /tmp/insights     # models are trained once into --work and reused
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "src"))

from samiksha import TrainConfig, train  # noqa: E402
from samiksha.aspects import Aspect, AspectFinder, aspect_scores, keyword_baseline, read_aspect_labels  # noqa: E402
from samiksha.demo import demo_data_dir  # noqa: E402
from samiksha.explain import explain, occlusion, without, word_spans  # noqa: E402
from samiksha.export import export_onnx  # noqa: E402
from samiksha.predict import Classifier  # noqa: E402

TOP_K, RANDOM_DRAWS = 3, 3
CAPS = (48, 24, 12)  # occlusions per text at most (longer texts are occluded in runs of neighbouring words)
# the plainest keyword search: each aspect's own name and its direct translations
NAMES_ONLY = [Aspect(name, seeds) for name, seeds in (
    ("delivery", ("delivery", "डिलीवरी")), ("packaging", ("packaging", "packing", "पैकिंग")),
    ("quality", ("quality", "क्वालिटी", "गुणवत्ता")), ("price", ("price", "कीमत", "दाम")),
    ("seller", ("seller", "विक्रेता")), ("returns", ("return", "refund", "रिटर्न", "रिफंड")),
    ("size", ("size", "साइज़", "साइज")))]


def trained(folder: Path, data: Path, seed: int) -> Path:
    """The default recipe trained on ``data`` into ``folder`` (reused when there), exported to int8 ONNX."""
    if not (folder / "samiksha.json").exists():
        train(data, folder, config=TrainConfig(seed=seed))
    if not (folder / "onnx" / "model.int8.onnx").exists():
        export_onnx(folder, force=True)
    return folder


def sentimix_data(work: Path, n_train: int, n_texts: int, seed: int) -> tuple[Path, list[str]]:
    """A stratified sample of SentiMix train (for the model) and a sample of dev tweets (to explain)."""
    train_file = work / "sentimix-train.csv"
    if not train_file.exists():
        frame = pd.read_csv(DATA / "sentimix-hinglish" / "train.csv")
        sample = frame.groupby("label", group_keys=False).apply(
            lambda g: g.sample(round(n_train * len(g) / len(frame)), random_state=seed))
        sample.to_csv(train_file, index=False)
    dev = pd.read_csv(DATA / "sentimix-hinglish" / "dev.csv").sample(n_texts, random_state=seed)
    return train_file, dev["text"].astype(str).tolist()


def faithfulness(classifier: Classifier, explanations, seed: int) -> tuple[float, float, int]:
    """Mean fall of the label's probability when its top-3 words are deleted, and when 3 random words are."""
    rng = random.Random(seed)
    top_texts, random_texts, rows = [], [], []
    for e in explanations:
        spans = word_spans(e.text)
        if len(spans) < 4:
            continue
        ranked = np.argsort([-w for _, w in e.words], kind="stable")[:TOP_K]
        top_texts.append(without(e.text, [spans[i] for i in ranked]))
        for _ in range(RANDOM_DRAWS):
            random_texts.append(without(e.text, [spans[i] for i in rng.sample(range(len(spans)), TOP_K)]))
        rows.append((classifier.labels.index(e.label), e.score))
    top = classifier.predict_proba(top_texts)
    rand = classifier.predict_proba(random_texts).reshape(len(rows), RANDOM_DRAWS, -1)
    top_drop = np.mean([score - top[i, label] for i, (label, score) in enumerate(rows)])
    random_drop = np.mean([score - rand[i, :, label].mean() for i, (label, score) in enumerate(rows)])
    return float(top_drop), float(random_drop), len(rows)


def explanation_rows(name: str, folder: Path, texts: list[str], seed: int, student: Path | None = None) -> list[dict]:
    torch_model = Classifier.load(folder, backend="torch")
    onnx_model = Classifier.load(folder, backend="onnx")
    setups = [("occlusion", torch_model, "model", CAPS[0]), *(("occlusion", onnx_model, "model", c) for c in CAPS),
              ("gradients", torch_model, "model", None)]
    if student is not None:
        student_model = Classifier.load(student, backend="onnx")
        setups += [("occlusion", student_model, "2-layer student", c) for c in CAPS]
    rows = []
    for method, classifier, model, cap in setups:
        def run(batch: list[str], classifier=classifier, method=method, cap=cap) -> list:
            if method == "occlusion":
                return occlusion(classifier, batch, max_occlusions=cap)
            return explain(classifier, batch, method=method)

        run(texts[:8])  # warm-up
        started = time.perf_counter()
        explained = run(texts)
        seconds = time.perf_counter() - started
        # faithfulness is judged by the model as it labels (the whole stack, same backend)
        top, rand, n = faithfulness(classifier, explained, seed)
        rows.append({"texts": name, "model": model, "method": method, "max_occlusions": cap or "-",
                     "backend": classifier.backend.name, "n": n, "top3_drop": round(top, 4),
                     "random3_drop": round(rand, 4), "ratio": round(top / rand, 2) if rand > 0 else float("nan"),
                     "texts_per_s": round(len(texts) / seconds, 1)})
        print(rows[-1], flush=True)
    return rows


def aspect_rows(model: Path) -> list[dict]:
    classifier = Classifier.load(model)
    finder = AspectFinder(classifier)
    rows = []
    for file, role in (("aspects_test.csv", "test"), ("aspects_dev.csv", "dev (chosen on)")):
        texts, gold = read_aspect_labels(demo_data_dir() / file)
        mixed = [i for i, g in enumerate(gold) if len({s for _, s in g}) > 1]
        for method, run in (("names only, review label", lambda t: keyword_baseline(classifier, t, NAMES_ONLY)),
                            ("our seeds, review label", lambda t: keyword_baseline(classifier, t)),
                            ("ours: clauses, seeds, polarity", finder.find)):
            run(texts[:8])
            started = time.perf_counter()
            found = [[(a.aspect, a.sentiment) for a in row] for row in run(texts)]
            seconds = time.perf_counter() - started
            scores = aspect_scores(gold, found)
            on_mixed = aspect_scores([gold[i] for i in mixed], [found[i] for i in mixed])
            rows.append({"set": f"{file} ({role})", "method": method, "reviews": len(texts),
                         "micro_f1": round(scores["micro_f1"], 3), "macro_f1": round(scores["macro_f1"], 3),
                         "sentiment_acc": round(scores["sentiment_accuracy"], 3), "on": scores["sentiment_on"],
                         "pair_f1": round(scores["pair_f1"], 3),
                         "mixed_sentiment_acc": round(on_mixed["sentiment_accuracy"], 3),
                         "texts_per_s": round(len(texts) / seconds, 1)})
            print(rows[-1], {k: round(v, 2) for k, v in scores["per_aspect_f1"].items()}, flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, required=True, help="Where the models are trained and kept.")
    parser.add_argument("--sentimix-train", type=int, default=3000)
    parser.add_argument("--sentimix-texts", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--skip-sentimix", action="store_true", help="Only the demo data (no ../shared needed).")
    parser.add_argument("--part", choices=("all", "explanations", "aspects"), default="all")
    parser.add_argument("--sentimix-student", type=Path, help="A student distilled from the SentiMix model "
                        "(`samiksha distill WORK/sentimix --output DIR` then `samiksha export DIR`), explained too.")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    demo_model = trained(args.work / "demo", demo_data_dir() / "train.csv", args.seed)
    if args.part in ("all", "explanations"):
        demo_texts = pd.read_csv(demo_data_dir() / "test.csv")["text"].astype(str).tolist()
        rows = explanation_rows("demo test", demo_model, demo_texts, args.seed)
        if not args.skip_sentimix:
            train_file, dev_texts = sentimix_data(args.work, args.sentimix_train, args.sentimix_texts, args.seed)
            rows += explanation_rows("SentiMix dev", trained(args.work / "sentimix", train_file, args.seed),
                                     dev_texts, args.seed, args.sentimix_student)
        print("\nExplanations: fall of the predicted label's probability, top-3 words deleted vs 3 random words")
        print(pd.DataFrame(rows).to_string(index=False))
    if args.part in ("all", "aspects"):
        print("\nAspects (sentiment by the demo model)")
        print(pd.DataFrame(aspect_rows(demo_model)).to_string(index=False))

if __name__ == "__main__":
    main()
