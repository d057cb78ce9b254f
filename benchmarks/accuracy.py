"""Accuracy of the default recipe against each of its parts alone, on real data, in one run.

For each dataset the default (`samiksha train` with no options) is trained once per split; the stack, its
fine-tuned transformer alone and its TF-IDF model alone are then scored on the same test rows, which none of
them saw (the transformer alone is exactly what `--no-stack` trains: the same data, seed and steps). Prints
macro-F1, accuracy and training wall time, the training report's own cross-fitted figure with its 95% interval,
and the gain of the default over its best single part.

    python benchmarks/accuracy.py                                   # all four (hours on 2 cores)
    python benchmarks/accuracy.py --only demo,iitp
    python benchmarks/accuracy.py --only sentimix --train-size 600 --eval-size 300
    python benchmarks/accuracy.py --only demo --also minilm          # and MiniLM fine-tuned alone
    python benchmarks/accuracy.py --only sentimix --train-size 600 --seeds 42,43,44 \
        --lever "smoothing:finetune.label_smoothing=0.1" --lever "adapted:model=/path/to/adapted"  # one row per lever

A lever is the default with some settings changed (as `train --set KEY=VALUE`; several joined by ``;``); each
lever's row is trained with the same data and seeds as the default, and its gain over the default is paired by seed.

Datasets: (a) SentiMix Hinglish tweets, train -> dev; (b) IIT-P Hindi product reviews, three seeded stratified
80/20 splits (mean and spread); (c) Flipkart reviews, a seeded stratified 80/20 split; (d) the demo train ->
demo test file. Data is read from ../shared/data (never copied into the repository).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from samiksha import Classifier, TrainConfig, methods, train  # noqa: E402
from samiksha.demo import demo_data_dir  # noqa: E402
from samiksha.metrics import compute_metrics  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DATASETS = ("sentimix", "iitp", "flipkart", "demo")


def machine() -> str:
    flags = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("flags"):
            have = set(line.split(":", 1)[1].split())
            flags = ", ".join(f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni") if f in have)
            break
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return f"{model}, {os.cpu_count()} CPUs ({flags or 'no avx2'})"


def sample(frame: pd.DataFrame, size: int | None, seed: int) -> pd.DataFrame:
    if not size or size >= len(frame):
        return frame
    kept, _ = train_test_split(frame, train_size=size, stratify=frame["label"], random_state=seed)
    return kept


def splits(name: str, args) -> list[tuple[str, pd.DataFrame, pd.DataFrame]]:
    """(split name, train rows, test rows) for a dataset."""
    if name == "sentimix":
        return [("train->dev", pd.read_csv(DATA / "sentimix-hinglish" / "train.csv"),
                 pd.read_csv(DATA / "sentimix-hinglish" / "dev.csv"))]
    if name == "demo":
        return [("train->test", pd.read_csv(demo_data_dir() / "train.csv"),
                 pd.read_csv(demo_data_dir() / "test.csv"))]
    folder = {"iitp": "iitp-hindi-reviews", "flipkart": "flipkart-reviews"}[name]
    frame = pd.read_csv(DATA / folder / "train.csv")
    seeds = args.iitp_seeds if name == "iitp" else [args.seed]
    return [(f"80/20 seed {s}", *train_test_split(frame, test_size=0.2, stratify=frame["label"], random_state=s))
            for s in seeds]


def scores(classifier: Classifier, texts: list[str], labels: list[str]) -> dict:
    metrics = compute_metrics(labels, classifier.predict(texts), classifier.labels)
    return {"macro_f1": metrics["macro_f1"], "accuracy": metrics["accuracy"], "weighted_f1": metrics["weighted_f1"]}


def lever(text: str) -> tuple[str, dict]:
    """``NAME:KEY=VALUE;KEY=VALUE`` -> (NAME, TrainConfig keyword arguments)."""
    name, sep, pairs = text.partition(":")
    if not sep or not name:
        raise SystemExit(f"--lever {text}: expected NAME:KEY=VALUE[;KEY=VALUE]")
    settings: dict = {}
    for pair in pairs.split(";"):
        methods.parse_setting(pair, settings)
    return name, settings


def parts(classifier: Classifier) -> dict[str, Classifier]:
    """The model as saved, and each part of a stack alone (the same weights, no blend)."""
    parts = classifier.backend.parts() if hasattr(classifier.backend, "parts") else {}
    return {"default": classifier, **{f"{name} alone": classifier.with_backend(part) for name, part in parts.items()}}


def run_split(dataset: str, split: str, tr: pd.DataFrame, te: pd.DataFrame, args, out: Path) -> list[dict]:
    train_file = out / f"{dataset}-train.csv"
    sample(tr, args.train_size, args.seed)[["text", "label"]].to_csv(train_file, index=False)
    test = sample(te, args.eval_size, args.seed)
    texts, labels = test["text"].astype(str).tolist(), test["label"].tolist()
    rows = []
    setups = [(seed, "default", TrainConfig(seed=seed)) for seed in args.seeds]
    setups += [(seed, f"{m} alone", TrainConfig(method="finetune", model=m, seed=seed))
               for seed in args.seeds for m in args.also]
    setups += [(seed, f"lever {name}", TrainConfig(**{"seed": seed, **settings}))
               for seed in args.seeds for name, settings in args.lever]
    for seed, setup, config in setups:
        folder = out / f"{dataset}-{setup.replace(' ', '-')}-{seed}"
        started = time.perf_counter()
        result = train(train_file, folder, config=config)
        wall = time.perf_counter() - started
        training, report = result.meta["training"], result.metrics
        seconds = training.get("parts_seconds", {})
        for name, classifier in parts(Classifier.load(folder)).items():
            label = setup if name == "default" else f"{name} ({result.meta['base_model'].split('/')[-1]})" \
                if name.startswith("transformer") else name
            row = {"dataset": dataset, "split": split, "seed": seed, "setup": label, "method": result.meta["method"],
                   "train_rows": result.meta["data"]["train"]["rows"], "test_rows": len(texts),
                   **scores(classifier, texts, labels),
                   "train_s": wall if name == "default" else seconds.get(name.split()[0], float("nan"))}
            if name == "default":
                row.update(report_macro_f1=report["macro_f1"], report_ci=report["ci"]["macro_f1"],
                           report_rows=report["n"], epochs_run=training.get("epochs_run"))
            rows.append(row)
            print(json.dumps(row, ensure_ascii=False), flush=True)
    return rows


def summary(rows: list[dict]) -> None:
    print(f"\n{'dataset':<10}{'setup':<40}{'runs':>7}{'macro-F1':>16}{'weighted-F1':>16}{'accuracy':>16}"
          f"{'train s':>9}")
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        mine = [r for r in rows if r["dataset"] == dataset]
        best_single = None
        for setup in dict.fromkeys(r["setup"] for r in mine):
            chosen = [r for r in mine if r["setup"] == setup]
            f1, weighted, acc = (np.array([r[k] for r in chosen]) for k in ("macro_f1", "weighted_f1", "accuracy"))
            spread = lambda v: f"{v.mean():.3f} ± {v.std(ddof=1):.3f}" if len(v) > 1 else f"{v.mean():.3f}"  # noqa: E731
            print(f"{dataset:<10}{setup:<40}{len(chosen):>7}{spread(f1):>16}{spread(weighted):>16}{spread(acc):>16}"
                  f"{np.mean([r['train_s'] for r in chosen]):>9.0f}")
            if setup != "default" and not setup.startswith("lever ") and (best_single is None or f1.mean() > best_single[1]):
                best_single = (setup, f1.mean())
        by_run = {(r["split"], r["seed"]): r["macro_f1"] for r in mine if r["setup"] == "default"}
        for setup in [s for s in dict.fromkeys(r["setup"] for r in mine) if s.startswith("lever ")]:
            gains = np.array([r["macro_f1"] - by_run[(r["split"], r["seed"])] for r in mine
                              if r["setup"] == setup and (r["split"], r["seed"]) in by_run])
            spread = f" ± {gains.std(ddof=1):.3f}" if len(gains) > 1 else ""
            print(f"{dataset:<10}{setup} - default, paired by split and seed: {gains.mean():+.3f}{spread} macro-F1 "
                  f"({len(gains)} pairs)")
        default = np.mean([r["macro_f1"] for r in mine if r["setup"] == "default"])
        report = [r for r in mine if r["setup"] == "default"]
        if best_single is None:  # the default had no parts here (auto chose SetFit)
            continue
        print(f"{dataset:<10}default - best single part ({best_single[0]}): {default - best_single[1]:+.3f} macro-F1;"
              f" training report (cross-fitted, {report[0]['report_rows']} rows): "
              + ", ".join(f"{r['report_macro_f1']:.3f} [{r['report_ci'][0]:.3f}-{r['report_ci'][1]:.3f}]"
                          for r in report))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(DATASETS), help=f"comma-separated, from {', '.join(DATASETS)}")
    parser.add_argument("--seed", type=int, default=42, help="training seed (and the Flipkart split's)")
    parser.add_argument("--iitp-seeds", type=lambda s: [int(x) for x in s.split(",")], default=[42, 43, 44])
    parser.add_argument("--train-size", type=int, default=None, help="a stratified sample of each training split")
    parser.add_argument("--eval-size", type=int, default=None, help="a stratified sample of each test split")
    parser.add_argument("--also", type=lambda s: [m for m in s.split(",") if m], default=[],
                        help="models also fine-tuned alone (minilm, multilingual, a folder)")
    parser.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=None,
                        help="training seeds, comma-separated (default: --seed); the splits stay those of --seed")
    parser.add_argument("--lever", type=lever, action="append", default=[], metavar="NAME:KEY=VALUE[;KEY=VALUE]",
                        help="the default with these settings (as train --set), one more row per seed")
    args = parser.parse_args()
    args.seeds = args.seeds or [args.seed]
    logging.basicConfig(level=logging.WARNING)
    print(f"machine: {machine()}; torch threads {os.environ.get('OMP_NUM_THREADS', 'default')}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for dataset in args.only.split(","):
            for split, tr, te in splits(dataset, args):
                rows += run_split(dataset, split, tr, te, args, Path(tmp))
    summary(rows)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
