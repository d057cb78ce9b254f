"""MiniLM vs the embedded multilingual model (multilingual-e5-small) vs the TF-IDF baseline, in one run.

Prints macro-F1, accuracy and training time for each model on IIT Patna Hindi product reviews (Devanagari;
a seeded, stratified 80/20 split) and on SentiMix Hinglish (train -> dev).

    python benchmarks/hindi.py                                   # everything, full size (slow: hours on 2 cores)
    python benchmarks/hindi.py --train-size 600 --eval-size 300 --epochs 2
    python benchmarks/hindi.py --only iitp --models multilingual tfidf
    python benchmarks/hindi.py --only iitp --models multilingual --raw-text   # without NFC / joiner clean-up

Data is read from ../shared/data (never copied into the repository). The first multilingual run converts
the model into the cache (about half a minute); that time is not counted as training.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pandas as pd  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from samiksha import TrainConfig, evaluate, train  # noqa: E402
from samiksha.models import resolve_model  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MODELS = ("minilm", "multilingual", "tfidf")


def sample(frame: pd.DataFrame, size: int | None, seed: int) -> pd.DataFrame:
    """A seeded, stratified sample of ``size`` rows (all rows when ``size`` is unset or too large)."""
    if not size or size >= len(frame):
        return frame
    kept, _ = train_test_split(frame, train_size=size, stratify=frame["label"], random_state=seed)
    return kept


def datasets(args, out: Path) -> list[tuple[str, Path, Path]]:
    """(name, train file, eval file) for each benchmark asked for, sampled to the sizes asked for."""
    parts = []
    if args.only in (None, "iitp"):
        frame = pd.read_csv(DATA / "iitp-hindi-reviews" / "train.csv")
        tr, te = train_test_split(frame, test_size=0.2, stratify=frame["label"], random_state=args.seed)
        parts.append(("iitp-hindi", tr, te))
    if args.only in (None, "sentimix"):
        parts.append(("sentimix", pd.read_csv(DATA / "sentimix-hinglish" / "train.csv"),
                      pd.read_csv(DATA / "sentimix-hinglish" / "dev.csv")))
    files = []
    for name, tr, te in parts:
        train_file, eval_file = out / f"{name}-train.csv", out / f"{name}-eval.csv"
        for frame, size, path in ((tr, args.train_size, train_file), (te, args.eval_size, eval_file)):
            frame = sample(frame, size, args.seed)[["text", "label"]]
            frame.to_csv(path, index=False)
        files.append((name, train_file, eval_file))
    return files


def config_for(model: str, args) -> TrainConfig:
    if model == "tfidf":
        return TrainConfig(method="tfidf", seed=args.seed, report_seeds=1, normalise=not args.raw_text)
    return TrainConfig(method="finetune", model=model, epochs=args.epochs, seed=args.seed, report_seeds=1,
                       max_length=args.max_length, learning_rate=args.learning_rate or TrainConfig.learning_rate,
                       settings={"finetune": {"freeze_embeddings": args.freeze_embeddings}},
                       normalise=not args.raw_text)


def run(dataset: str, model: str, train_file: Path, eval_file: Path, args, out: Path) -> dict:
    folder = out / f"{dataset}-{model}"
    started = time.perf_counter()
    result = train(train_file, folder, eval_data=eval_file, config=config_for(model, args))
    wall = time.perf_counter() - started
    metrics = evaluate(folder, eval_file)
    training = result.meta["training"]
    row = {"dataset": dataset, "model": model, "base_model": result.meta["base_model"],
           "train_rows": result.meta["data"]["train"]["rows"], "eval_rows": metrics["n"],
           "script_mix": result.meta["data"]["train"]["script_mix"], "macro_f1": round(metrics["macro_f1"], 4),
           "accuracy": round(metrics["accuracy"], 4), "train_s": round(training.get("wall_seconds", wall), 1),
           "wall_s": round(wall, 1), "epochs_run": training.get("epochs_run")}
    print(json.dumps(row, ensure_ascii=False), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-size", type=int, default=None, help="stratified sample of each training split")
    parser.add_argument("--eval-size", type=int, default=None, help="stratified sample of each evaluation split")
    parser.add_argument("--epochs", type=float, default=None, help="fine-tuning epochs (default: by data size)")
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--only", choices=["iitp", "sentimix"], default=None)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--raw-text", action="store_true", help="skip the default Unicode normalisation (NFC, joiners)")
    parser.add_argument("--max-length", type=int, default=128, help="tokens kept per text when fine-tuning")
    parser.add_argument("--learning-rate", type=float, default=None, help="peak learning rate (default: ours)")
    parser.add_argument("--freeze-embeddings", action=argparse.BooleanOptionalAction, default=None,
                        help="keep the token embeddings fixed (default: when they are most of the model)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(f"settings: max length {args.max_length}, learning rate {args.learning_rate or TrainConfig.learning_rate:g}, embeddings frozen: {'auto' if args.freeze_embeddings is None else args.freeze_embeddings}, "
          f"{'raw' if args.raw_text else 'normalised'} text, epochs {args.epochs or 'by data size'}", flush=True)
    if "multilingual" in args.models:
        started = time.perf_counter()
        resolve_model("multilingual")  # converts on first use; not part of any training time
        print(f"multilingual model ready in {time.perf_counter() - started:.1f} s", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for dataset, train_file, eval_file in datasets(args, out):
            rows += [run(dataset, model, train_file, eval_file, args, out) for model in args.models]
    print(f"\n{'dataset':<13}{'model':<14}{'train':>7}{'eval':>6}{'macro-F1':>10}{'accuracy':>10}{'train s':>9}"
          f"{'epochs':>8}")
    for r in rows:
        epochs = f"{r['epochs_run']:g}" if r["epochs_run"] is not None else "-"
        print(f"{r['dataset']:<13}{r['model']:<14}{r['train_rows']:>7}{r['eval_rows']:>6}{r['macro_f1']:>10.3f}"
              f"{r['accuracy']:>10.3f}{r['train_s']:>9.1f}{epochs:>8}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
