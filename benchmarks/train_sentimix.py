"""Our training defaults against the classic classroom recipe (`--preset lesson`), in one run.

Prints macro-F1, accuracy, training examples/s and wall time for each, and their ratios, on
SentiMix Hinglish (train -> dev) and on Flipkart reviews (a seeded, stratified 80/20 split).

    python benchmarks/train_sentimix.py                        # full SentiMix train split (slow: hours for lesson)
    python benchmarks/train_sentimix.py --train-size 2000      # a seeded, stratified sample of train
    python benchmarks/train_sentimix.py --only default --flipkart

Data is read from ../shared/data (never copied into the repository).
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

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def sample(frame: pd.DataFrame, size: int | None, seed: int) -> pd.DataFrame:
    if not size or size >= len(frame):
        return frame
    kept, _ = train_test_split(frame, train_size=size, stratify=frame["label"], random_state=seed)
    return kept


def run(name: str, config: TrainConfig, train_file: Path, eval_file: Path, out: Path) -> dict:
    started, cpu_started = time.perf_counter(), time.process_time()
    result = train(train_file, out / name, eval_data=eval_file, config=config)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    metrics = evaluate(out / name, eval_file)
    training = result.meta["training"]
    row = {"setup": name, "macro_f1": metrics["macro_f1"], "accuracy": metrics["accuracy"],
           "examples_per_s": training["examples_per_second"], "train_s": training["wall_seconds"],
           "wall_s": wall, "cpu_s": cpu,
           "examples_per_cpu_s": training["epochs_run"] * result.meta["data"]["train"]["rows"] / cpu,
           "epochs_run": training["epochs_run"],
           "per_epoch_eval_macro_f1": [round(h["eval_macro_f1"], 4) for h in training["history"]
                                       if "eval_macro_f1" in h]}
    print(json.dumps(row), flush=True)
    return row


def compare(title: str, train_file: Path, eval_file: Path, setups: list[str], args, out: Path) -> None:
    rows = []
    for name in setups:
        overrides = {"epochs": args.epochs} if args.epochs and name == "default" else {}
        config = TrainConfig.for_preset("lesson" if name == "lesson" else "default", method="finetune",
                                        model="minilm", seed=args.seed, **overrides)
        rows.append(run(f"{title}-{name}", config, train_file, eval_file, out))
    print(f"\n## {title}: {train_file.name} -> {eval_file.name}")
    print(f"{'setup':<22}{'macro-F1':>9}{'accuracy':>9}{'ex/s':>8}{'train s':>9}{'ex/cpu-s':>9}{'cpu s':>8}"
          f"{'epochs':>7}")
    for r in rows:
        print(f"{r['setup']:<22}{r['macro_f1']:>9.3f}{r['accuracy']:>9.3f}{r['examples_per_s']:>8.1f}"
              f"{r['train_s']:>9.0f}{r['examples_per_cpu_s']:>9.2f}{r['cpu_s']:>8.0f}{r['epochs_run']:>7.1f}")
    if len(rows) == 2:
        ours, lesson = rows
        print(f"ratios (default / lesson): examples/s {ours['examples_per_s'] / lesson['examples_per_s']:.2f}x, "
              f"wall time {ours['wall_s'] / lesson['wall_s']:.3f} (1/{lesson['wall_s'] / ours['wall_s']:.1f}), "
              f"examples per CPU-second {ours['examples_per_cpu_s'] / lesson['examples_per_cpu_s']:.2f}x, "
              f"CPU time 1/{lesson['cpu_s'] / ours['cpu_s']:.1f}, macro-F1 {ours['macro_f1'] - lesson['macro_f1']:+.3f}")
        print("(CPU time counts both threads of this process: it is far less disturbed by other load on the "
              "machine than wall time)")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-size", type=int, default=None, help="stratified sample of SentiMix train")
    parser.add_argument("--only", choices=["default", "lesson"], default=None)
    parser.add_argument("--epochs", type=float, default=None, help="epochs for our defaults (default: by size)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--skip-sentimix", action="store_true")
    parser.add_argument("--flipkart", action="store_true", help="also Flipkart reviews, seeded 80/20 split")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    setups = [args.only] if args.only else ["default", "lesson"]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        if not args.skip_sentimix:
            train_frame = sample(pd.read_csv(DATA / "sentimix-hinglish" / "train.csv"), args.train_size, args.seed)
            train_file = out / "sentimix-train.csv"
            train_frame[["text", "label"]].to_csv(train_file, index=False)
            compare(f"sentimix{len(train_frame)}", train_file, DATA / "sentimix-hinglish" / "dev.csv", setups,
                    args, out)
        if args.flipkart:
            frame = pd.read_csv(DATA / "flipkart-reviews" / "train.csv")
            tr, te = train_test_split(frame, test_size=0.2, stratify=frame["label"], random_state=args.seed)
            tr[["text", "label"]].to_csv(out / "flipkart-train.csv", index=False)
            te[["text", "label"]].to_csv(out / "flipkart-test.csv", index=False)
            compare("flipkart", out / "flipkart-train.csv", out / "flipkart-test.csv", setups, args, out)


if __name__ == "__main__":
    main()
