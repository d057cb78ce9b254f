"""Two encoders, where they pay (issue 24 item 5): does blending the fine-tuned MiniLM, the fine-tuned e5 and TF-IDF
beat the default stack (MiniLM and TF-IDF) by more than the seed spread?

Per seed, two default models are trained on the same SentiMix sample (`samiksha train`, split included): the
default encoder (MiniLM) and `--model multilingual` (e5). Each part's probabilities on a stratified sample of dev
that neither saw are then blended the stack's way (mean of log-probabilities, equal weights, nothing fitted on dev):

    minilm+tfidf        the default stack
    e5+tfidf            the e5 stack
    minilm+e5           the two transformers
    minilm+e5+tfidf     all three, a third each

    python benchmarks/two_encoders.py --seeds 42,43,44 --work two-encoders/
    python benchmarks/schedule.py --recipes after --datasets sentimix --model multilingual --keep E5/  # e5 folders
    python benchmarks/two_encoders.py --e5 E5/sentimix-after-{seed} ...  # reuse them

The sample is schedule.py's (600 train rows, 1,500 dev rows, stratified, seed 0), so its e5 "after" folders
(``--keep``) can be reused. Folders already in ``--work`` are reused, so a run can be continued. Data is read from
../shared/data, never copied into the repository.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from results import read_rows, record  # noqa: E402  (the script folder is on sys.path)
from schedule import DATA, sample  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402

from samiksha import TrainConfig, train  # noqa: E402
from samiksha.evaluation import part_proba  # noqa: E402
from samiksha.methods.stack import blend  # noqa: E402
from samiksha.modelfolder import META  # noqa: E402
from samiksha.predict import Classifier  # noqa: E402

ARMS = {"minilm+tfidf": ("minilm", "tfidf"), "e5+tfidf": ("e5", "tfidf"), "minilm+e5": ("minilm", "e5"),
        "minilm+e5+tfidf": ("minilm", "e5", "tfidf")}
MODELS = {"minilm": None, "e5": "multilingual"}  # None: the default's encoder


def trained(folder: Path, train_file: Path, seed: int, model: str | None) -> Path:
    """The model in ``folder``, trained there with the default recipe unless it is already there."""
    if not (folder / META).exists():
        train(train_file, folder, config=TrainConfig(seed=seed, model=model, report_seeds=1))
    return folder


def run_seed(seed: int, train_file: Path, dev: pd.DataFrame, folders: dict[str, Path]) -> dict:
    """Macro- and weighted-F1 of each arm on ``dev``, from the parts of the two stacks trained with ``seed``."""
    proba = {}
    for name, folder in folders.items():
        classifier = Classifier.load(trained(folder, train_file, seed, MODELS[name]))
        parts = part_proba(classifier, dev["text"].tolist())
        if parts is None:
            raise SystemExit(f"{folder}: not a stacked model (the default picked {classifier.meta['method']} here)")
        proba[name] = parts["transformer"]
        proba.setdefault("tfidf", parts["tfidf"])  # the same rows and seed: the same TF-IDF model in both
        labels = classifier.labels
    row = {"seed": seed}
    for arm, names in ARMS.items():
        scores = blend([1 / len(names)] * len(names), [proba[n] for n in names])
        predicted = [labels[i] for i in scores.argmax(axis=1)]
        row[arm] = {"macro_f1": f1_score(dev["label"], predicted, average="macro"),
                    "weighted_f1": f1_score(dev["label"], predicted, average="weighted")}
    return row


def table(rows: list[dict]) -> None:
    """mean ± std over seeds of each arm, and its paired gain over the default stack."""
    if not rows:
        print("no runs recorded yet")
        return
    print(f"\n{'arm':<18}{'seeds':>6}{'macro-F1':>18}{'weighted-F1':>18}{'gain vs default':>20}")
    for arm in ARMS:
        macro = np.array([r[arm]["macro_f1"] for r in rows])
        weighted = np.array([r[arm]["weighted_f1"] for r in rows])
        gain = macro - np.array([r["minilm+tfidf"]["macro_f1"] for r in rows])
        sd = (lambda v: np.std(v, ddof=1)) if len(rows) > 1 else (lambda v: 0.0)
        print(f"{arm:<18}{len(rows):>6}{macro.mean():>11.3f} ± {sd(macro):.3f}{weighted.mean():>11.3f} ± "
              f"{sd(weighted):.3f}{gain.mean():>+13.3f} ± {sd(gain):.3f}")
    print("  by seed: " + "; ".join(f"{r['seed']}: " + ", ".join(f"{a} {r[a]['macro_f1']:.3f}" for a in ARMS)
                                    for r in rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="42,43,44")
    parser.add_argument("--train-size", type=int, default=600, help="SentiMix training rows (stratified sample)")
    parser.add_argument("--eval-size", type=int, default=1500, help="SentiMix dev rows scored (stratified sample)")
    parser.add_argument("--work", type=Path, default=Path("two-encoders"), help="where the model folders are kept")
    parser.add_argument("--e5", default=None, help="the e5 folder of each seed, a pattern with {seed} "
                                                   "(default: WORK/e5-{seed})")
    parser.add_argument("--results", type=Path, default=Path("two-encoders.jsonl"))
    parser.add_argument("--table-only", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    done = read_rows(args.results)
    if not args.table_only:
        args.work.mkdir(parents=True, exist_ok=True)
        folder = DATA / "sentimix-hinglish"
        dev = sample(pd.read_csv(folder / "dev.csv"), args.eval_size)[["text", "label"]]
        with tempfile.TemporaryDirectory() as tmp:
            train_file = Path(tmp) / "sentimix-train.csv"
            sample(pd.read_csv(folder / "train.csv"), args.train_size)[["text", "label"]].to_csv(train_file, index=False)
            for seed in (int(s) for s in args.seeds.split(",")):
                if any(r["seed"] == seed for r in done):
                    continue
                folders = {"minilm": args.work / f"minilm-{seed}",
                           "e5": Path(args.e5.format(seed=seed)) if args.e5 else args.work / f"e5-{seed}"}
                record(args.results, run_seed(seed, train_file, dev, folders), done)
    table(done)


if __name__ == "__main__":
    main()
