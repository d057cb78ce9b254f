"""How long `samiksha predict MODEL "one review"` takes from the shell: start-up (imports, loading the model)
dominates a one-review call.

Each model folder is timed over --runs fresh processes (median and min wall seconds), next to the bare import of
the command line (`import samiksha.cli`), the floor every command pays. Without --model it trains a TF-IDF model
on 2,000 Flipkart rows (seconds) into a temporary folder; pass your own folders (a fine-tuned one, the same after
`samiksha export`) to compare PyTorch with ONNX start-up. --src times another checkout's code (say, before a
change) with the same Python.

    python benchmarks/startup.py --model samiksha-demo-model --runs 5
    python benchmarks/startup.py --src ../main/src            # the same figures for another checkout
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "flipkart-reviews" / "train.csv"
SRC = Path(__file__).resolve().parents[1] / "src"


def wall(args: list[str], env: dict[str, str], runs: int) -> list[float]:
    """Wall seconds of ``runs`` fresh processes running ``python args``."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, *args], env=env, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return times


def tfidf_model(folder: Path, env: dict[str, str]) -> Path:
    import pandas as pd

    pd.read_csv(DATA).sample(2000, random_state=0).to_csv(folder / "train.csv", index=False)
    subprocess.run([sys.executable, "-m", "samiksha", "train", str(folder / "train.csv"), "--output",
                    str(folder / "tfidf"), "--method", "tfidf"], env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return folder / "tfidf"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=[], help="A model folder (repeatable).")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--src", default=str(SRC), help="The source folder to time (default: this checkout's).")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": args.src, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    with tempfile.TemporaryDirectory() as tmp:
        models = [Path(m) for m in args.model] or [tfidf_model(Path(tmp), env)]
        rows = [("import samiksha.cli", wall(["-c", "import samiksha.cli"], env, args.runs))]
        for model in models:
            rows.append((f"predict {model.name} \"one review\"",
                         wall(["-m", "samiksha", "predict", str(model), "kal hi mila, ekdum first class"], env,
                              args.runs)))
    print(f"source: {args.src}; {args.runs} runs each; load average {os.getloadavg()[0]:.1f} at the end")
    print("| command | median s | min s |\n|---|---:|---:|")
    for name, times in rows:
        print(f"| {name} | {statistics.median(times):.2f} | {min(times):.2f} |")


if __name__ == "__main__":
    main()
