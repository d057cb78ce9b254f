"""Our training defaults against the classic classroom recipe (`--preset lesson`), in one run.

Each setup is what a user gets with no options besides the preset: the default stacks the fine-tuned MiniLM
with TF-IDF; `lesson` fine-tunes MiniLM as the classic recipe does. Both get the same evaluation file (which picks
the best epoch) and are then scored on test rows that chose nothing. Prints
macro-F1 and accuracy on those test rows, the training report's own cross-fitted figure, training examples/s,
whole-run wall time and CPU time, and their ratios.

    python benchmarks/train_sentimix.py --train-size 600 --eval-size 300   # the small-data comparison
    python benchmarks/train_sentimix.py                  # full SentiMix train split (slow: hours for lesson)
    python benchmarks/train_sentimix.py --only default --flipkart

SentiMix: a seeded, stratified sample of train; --eval-size dev rows (default 1,000) choose, the rest of dev is
the test. Flipkart: a seeded, stratified 80/20 split; 15% of the 80 chooses.
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

from samiksha import TrainConfig, evaluate, methods, train  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def sample(frame: pd.DataFrame, size: int | None, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A seeded, stratified sample of ``size`` rows and the rest (all rows and none without ``size``)."""
    if not size or size >= len(frame):
        return frame, frame.iloc[:0]
    kept, rest = train_test_split(frame, train_size=size, stratify=frame["label"], random_state=seed)
    return kept, rest


def run(name: str, config: TrainConfig, train_file: Path, eval_file: Path | None, test_file: Path,
        out: Path) -> dict:
    started, cpu_started = time.perf_counter(), time.process_time()
    result = train(train_file, out / name, eval_data=eval_file, config=config)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started  # the whole run: report included
    metrics = evaluate(out / name, test_file)
    training = result.meta["training"]
    row = {"setup": name, "macro_f1": metrics["macro_f1"], "accuracy": metrics["accuracy"], "test_rows": metrics["n"],
           "report_macro_f1": result.metrics["macro_f1"], "report_ci": result.metrics["ci"]["macro_f1"],
           "method": result.meta["method"], "examples_per_s": training["examples_per_second"],
           "train_s": training["wall_seconds"], "wall_s": wall, "cpu_s": cpu,
           "examples_per_cpu_s": training["epochs_run"] * result.meta["data"]["train"]["rows"] / cpu,
           "epochs_run": training["epochs_run"],
           "per_epoch_eval_macro_f1": [round(h["eval_macro_f1"], 4) for h in training["history"]
                                       if "eval_macro_f1" in h]}
    print(json.dumps(row), flush=True)
    return row


def compare(title: str, train_file: Path, eval_file: Path | None, test_file: Path, setups: list[str], args,
            out: Path) -> None:
    rows = []
    for name in setups:
        overrides = {"epochs": args.epochs} if args.epochs and name == "default" else {}
        config = methods.preset("lesson" if name == "lesson" else "default", seed=args.seed, **overrides)
        rows.append(run(f"{title}-{name}", config, train_file, eval_file, test_file, out))
    print(f"\n## {title}: {train_file.name} -> test {test_file.name} ({rows[0]['test_rows']} rows)")
    print(f"{'setup':<22}{'macro-F1':>9}{'accuracy':>9}{'report':>8}{'ex/s':>8}{'wall s':>8}{'ex/cpu-s':>9}"
          f"{'cpu s':>8}{'epochs':>7}")
    for r in rows:
        print(f"{r['setup']:<22}{r['macro_f1']:>9.3f}{r['accuracy']:>9.3f}{r['report_macro_f1']:>8.3f}"
              f"{r['examples_per_s']:>8.1f}{r['wall_s']:>8.0f}{r['examples_per_cpu_s']:>9.2f}{r['cpu_s']:>8.0f}"
              f"{r['epochs_run']:>7.1f}")
    if len(rows) == 2:
        ours, lesson = rows
        print(f"ratios (default / lesson): wall time {ours['wall_s'] / lesson['wall_s']:.3f} "
              f"(1/{lesson['wall_s'] / ours['wall_s']:.1f}), CPU time 1/{lesson['cpu_s'] / ours['cpu_s']:.1f}, "
              f"examples/s {ours['examples_per_s'] / lesson['examples_per_s']:.2f}x, "
              f"macro-F1 {ours['macro_f1'] - lesson['macro_f1']:+.3f} on the test rows")
        print("(wall and CPU time cover the whole run: loading, training, per-epoch evaluation, the stack and the "
              "report; CPU time counts both threads and is less disturbed by other load than wall time)")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-size", type=int, default=None, help="stratified sample of SentiMix train")
    parser.add_argument("--eval-size", type=int, default=1000,
                        help="SentiMix dev rows that choose; the rest of dev is the test (default 1,000)")
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
            train_frame, _ = sample(pd.read_csv(DATA / "sentimix-hinglish" / "train.csv"), args.train_size, args.seed)
            eval_frame, test_frame = sample(pd.read_csv(DATA / "sentimix-hinglish" / "dev.csv"), args.eval_size,
                                            args.seed)
            files = {name: out / f"sentimix-{name}.csv" for name in ("train", "eval", "test")}
            for name, frame in (("train", train_frame), ("eval", eval_frame), ("test", test_frame)):
                if len(frame):
                    frame[["text", "label"]].to_csv(files[name], index=False)
            if not len(test_frame):
                raise SystemExit("--eval-size leaves no dev rows to test on")
            compare(f"sentimix{len(train_frame)}", files["train"], files["eval"], files["test"], setups, args, out)
        if args.flipkart:
            frame = pd.read_csv(DATA / "flipkart-reviews" / "train.csv")
            tr, te = train_test_split(frame, test_size=0.2, stratify=frame["label"], random_state=args.seed)
            tr[["text", "label"]].to_csv(out / "flipkart-train.csv", index=False)
            te[["text", "label"]].to_csv(out / "flipkart-test.csv", index=False)
            compare("flipkart", out / "flipkart-train.csv", None, out / "flipkart-test.csv", setups, args, out)


if __name__ == "__main__":
    main()
