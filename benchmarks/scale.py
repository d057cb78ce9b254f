"""Training on one process against two under torchrun (gloo, CPUs): macro-F1 on held-out data, wall time,
training examples/s, and whether the runs agree.

On a 2-core machine two processes cannot be faster than one using both cores: the point is correctness (the same
macro-F1 within noise) and the overhead figure. Both arms use the same cores: one process with 2 PyTorch threads,
or two processes with 1 thread each. The default recipe (`samiksha train`) on the demo train file, scored on the
demo test file; `--data`/`--test` for other files, `--seeds` for more than one seed per arm.

    python benchmarks/scale.py --work /tmp/scale
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from samiksha.demo import demo_data_dir  # noqa: E402
from samiksha.evaluation import evaluate  # noqa: E402


def run_arm(processes: int, data: Path, out: Path, seed: int) -> dict:
    """Train with ``processes`` processes on 2 cores; wall time, the training's own figures, test macro-F1."""
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "OMP_NUM_THREADS": str(max(1, 2 // processes))}
    command = ["-m", "samiksha", "train", str(data), "--output", str(out), "--seed", str(seed), "--report-seeds", "1"]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes)] \
        if processes > 1 else [sys.executable]
    started = time.perf_counter()
    subprocess.run(launcher + command, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    training = json.loads((out / "samiksha.json").read_text(encoding="utf-8"))["training"]
    return {"processes": processes, "seed": seed, "wall_s": round(wall, 1),
            "fine_tune_s": round(training["parts_seconds"]["transformer"] if "parts_seconds" in training
                                 else training["wall_seconds"], 1),
            "examples_per_s": round(training["examples_per_second"], 1), "epochs_run": training["epochs_run"],
            "processes_seen": training.get("processes")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=demo_data_dir() / "train.csv")
    parser.add_argument("--test", type=Path, default=demo_data_dir() / "test.csv")
    parser.add_argument("--seeds", type=int, default=1)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    rows = []
    for seed in range(42, 42 + args.seeds):
        for processes in (1, 2):
            out = args.work / f"p{processes}-s{seed}"
            row = run_arm(processes, args.data, out, seed)
            row["test_macro_f1"] = round(evaluate(out, args.test)["macro_f1"], 4)
            rows.append(row)
            print(row, flush=True)
    print(f"\n{'processes':>9} {'seed':>5} {'macro-F1':>9} {'wall s':>8} {'fine-tune s':>12} {'examples/s':>11} "
          f"{'epochs':>7}")
    for r in rows:
        print(f"{r['processes']:>9} {r['seed']:>5} {r['test_macro_f1']:>9.4f} {r['wall_s']:>8} {r['fine_tune_s']:>12} "
              f"{r['examples_per_s']:>11} {r['epochs_run']:>7}")
    for seed in range(42, 42 + args.seeds):
        one, two = (next(r for r in rows if r["seed"] == seed and r["processes"] == p) for p in (1, 2))
        print(f"seed {seed}: 2 processes / 1 process: macro-F1 {two['test_macro_f1'] - one['test_macro_f1']:+.4f}, "
              f"wall time x{two['wall_s'] / one['wall_s']:.2f}, fine-tuning examples/s "
              f"x{two['examples_per_s'] / one['examples_per_s']:.2f}")


if __name__ == "__main__":
    main()
