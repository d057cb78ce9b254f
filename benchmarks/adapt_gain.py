"""Does `samiksha adapt` help? The default recipe trained on SentiMix train rows with the default encoder and with
the same encoder adapted on unlabelled SentiMix train text (dev excluded), per seed, scored on SentiMix dev rows that
neither the adaptation nor the training saw. Also times the adaptation (CPU seconds per text in the training loop).

    python benchmarks/adapt_gain.py                                      # 600 rows, adapt on 1,000, 1 epoch
    python benchmarks/adapt_gain.py --pool 3000 --adapt-epochs 3 --dev-size 3000 --model multilingual

The labelled rows are among the adaptation texts (task-adaptive pretraining reads the task's own texts). Results
go to stdout and, one JSON line per run, to --results. Data is read from ../shared/data (never copied).
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from results import record  # noqa: E402  (the script folder is on sys.path)
from transformers import TrainerCallback  # noqa: E402

from samiksha import TrainConfig, train  # noqa: E402
from samiksha.adapt import adapt  # noqa: E402
from samiksha.evaluation import evaluate  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "sentimix-hinglish"


class Clock(TrainerCallback):
    """CPU and wall seconds of the training loop alone (no loading or saving)."""

    def on_train_begin(self, *args, **kwargs):
        self.cpu, self.wall = time.process_time(), time.perf_counter()

    def on_train_end(self, *args, **kwargs):
        self.cpu, self.wall = time.process_time() - self.cpu, time.perf_counter() - self.wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-size", type=int, default=600)
    parser.add_argument("--pool", type=int, default=1000, help="adaptation texts (the training rows among them)")
    parser.add_argument("--adapt-epochs", type=float, default=1.0)
    parser.add_argument("--dev-size", type=int, default=1000, help="a seeded sample of dev (3000: all of it)")
    parser.add_argument("--model", default=None, help="the encoder (default: the default's, minilm)")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--results", type=Path, default=Path("adapt_gain.jsonl"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    work = args.work or Path(tempfile.mkdtemp(prefix="adapt-gain-"))
    work.mkdir(parents=True, exist_ok=True)
    full = pd.read_csv(DATA / "train.csv")
    labelled = full.sample(args.train_size, random_state=0)
    pool = pd.concat([labelled, full.drop(labelled.index).sample(args.pool - args.train_size, random_state=0)])
    dev = pd.read_csv(DATA / "dev.csv")
    dev = dev.sample(min(args.dev_size, len(dev)), random_state=0)
    labelled[["text", "label"]].to_csv(work / "train.csv", index=False)
    pool[["text"]].to_csv(work / "pool.csv", index=False)
    dev[["text", "label"]].to_csv(work / "dev.csv", index=False)

    adapted = work / "adapted"
    clock = Clock()
    result = adapt([work / "pool.csv"], adapted, model=args.model, epochs=args.adapt_epochs,
                   exclude=[DATA / "dev.csv"], callbacks=[clock], resume=True)
    meta = result.meta["adapted"]
    record(args.results, {"adapt": {"model": meta["base_model"], "texts": meta["texts"], "epochs": meta["epochs_run"],
                      "steps": meta["steps"], "loop_cpu_s": clock.cpu, "loop_wall_s": clock.wall,
                      "cpu_s_per_text_epoch": clock.cpu / (meta["texts"] * meta["epochs_run"]),
                      "loss": meta["loss_history"]}})
    scores: dict[str, list[float]] = {"default": [], "adapted": []}
    for seed in (int(s) for s in args.seeds.split(",")):
        for name, model in (("default", args.model), ("adapted", str(adapted))):
            out = work / f"{name}-{seed}"
            started = time.perf_counter()
            trained = train(work / "train.csv", out, config=TrainConfig(model=model, seed=seed, report_seeds=1))
            metrics = evaluate(out, work / "dev.csv")
            scores[name].append(metrics["macro_f1"])
            record(args.results, {"encoder": name, "seed": seed, "method": trained.meta["method"],
                    "dev_macro_f1": metrics["macro_f1"], "dev_weighted_f1": metrics["weighted_f1"],
                    "dev_accuracy": metrics["accuracy"], "wall_s": time.perf_counter() - started})
    for name, values in scores.items():
        print(f"{name}: dev macro-F1 {np.mean(values):.3f} ± {np.std(values, ddof=1) if len(values) > 1 else 0:.3f} "
              f"over seeds {args.seeds}")


if __name__ == "__main__":
    main()
