"""How long `samiksha predict MODEL "one review"` takes from the shell: start-up (imports, loading the model)
dominates a one-review call.

Each command runs in --runs fresh processes (median and min wall seconds, and median CPU seconds, which a busy
machine disturbs less): the bare import of the command line (`import samiksha.cli`, the floor every command pays),
`samiksha --help`, and `predict` on each model folder. A TF-IDF model trained on 2,000 Flipkart rows (seconds) into
a temporary folder is timed too unless --no-tfidf; pass your own folders with --model (a fine-tuned one, the same
after `samiksha export`) to compare PyTorch with ONNX start-up.
--src is the checkout timed (default: this one); --baseline times another checkout (say, before a change) with the
same Python, run for run in turn with the first, and adds its medians, the ratio and whether its output was the same.

    python benchmarks/startup.py --model samiksha-demo-model --model exported-model --runs 5
    python benchmarks/startup.py --model samiksha-demo-model --baseline ../main/src --runs 5
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "flipkart-reviews" / "train.csv"
SRC = Path(__file__).resolve().parents[1] / "src"
REVIEW = "kal hi mila, ekdum first class"


def environment(src: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": src, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def cpu_seconds() -> float:
    """CPU seconds (user and system) of this process's finished children so far."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def timed(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds and standard output of one fresh process running ``python args``."""
    started, cpu = time.perf_counter(), cpu_seconds()
    done = subprocess.run([sys.executable, *args], env=env, check=True, capture_output=True, text=True)
    return time.perf_counter() - started, cpu_seconds() - cpu, done.stdout


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
    parser.add_argument("--no-tfidf", action="store_true", help="Do not train and time a TF-IDF model.")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--src", default=str(SRC), help="The source folder to time (default: this checkout's).")
    parser.add_argument("--baseline", help="Another source folder to time beside it (say, before a change).")
    args = parser.parse_args()
    sources = [args.src] + ([args.baseline] if args.baseline else [])
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        models = [Path(m) for m in args.model]
        if not args.no_tfidf:
            models.append(tfidf_model(Path(tmp), environment(args.src)))
        commands = [("import samiksha.cli", ["-c", "import samiksha.cli"]),
                    ("samiksha --help", ["-m", "samiksha", "--help"])]
        commands += [(f'predict {model.name} "one review"', ["-m", "samiksha", "predict", str(model), REVIEW])
                     for model in models]
        times = {(name, src): [] for name, _ in commands for src in sources}
        cpu = {(name, src): [] for name, _ in commands for src in sources}
        outputs = {}
        for _ in range(args.runs):  # the sources take turns, so that a change in the machine's load hits both
            for name, command in commands:
                for src in sources:
                    seconds, cpu_used, output = timed(command, environment(src))
                    times[name, src].append(seconds)
                    cpu[name, src].append(cpu_used)
                    outputs.setdefault((name, src), output)
    print(f"{args.runs} runs each; load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    print(f"source: {args.src}" + (f"; baseline: {args.baseline}" if args.baseline else ""))
    if not args.baseline:
        print("| command | median s | min s | median CPU s |\n|---|---:|---:|---:|")
        for name, _ in commands:
            runs = times[name, args.src]
            print(f"| {name} | {statistics.median(runs):.2f} | {min(runs):.2f} | "
                  f"{statistics.median(cpu[name, args.src]):.2f} |")
        return
    print("| command | median s | min s | median CPU s | baseline median s | baseline min s | baseline median CPU s | "
          "baseline / this (median s) | same output |\n|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for name, _ in commands:
        ours, theirs = times[name, args.src], times[name, args.baseline]
        same = "yes" if outputs[name, args.src] == outputs[name, args.baseline] else "NO"
        print(f"| {name} | {statistics.median(ours):.2f} | {min(ours):.2f} | {statistics.median(cpu[name, args.src]):.2f} "
              f"| {statistics.median(theirs):.2f} | {min(theirs):.2f} | {statistics.median(cpu[name, args.baseline]):.2f} "
              f"| {statistics.median(theirs) / statistics.median(ours):.2f} | {same} |")


if __name__ == "__main__":
    main()
