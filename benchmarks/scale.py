"""Scale-out on one machine: training on one process against several under torchrun, and labelling a big file in
one process against Ray Data with 1 and 2 actors.

Training (`--part train`): the same recipe on 1, 2 and 4 processes (`--processes`) must give the same model up to
noise: test macro-F1 of the blend and of its fine-tuned transformer alone (the default recipe, `samiksha train`, is
the stack), the optimizer steps and the global batch, per seed, then mean +- std per process count. On a 2-core
machine several processes cannot be faster than one using both cores: the point is correctness. One process uses 2
PyTorch threads, N processes 2/N threads each (at least 1). The demo train file, scored on the demo test file;
`--data`/`--test` for other files (`--rows` rows of `--data`, the first ones), `--seeds` seeds per arm.

Labelling (`--part label --model DIR`): `--rows` rows made by repeating the texts of `--texts` (SentiMix train when
present), labelled by `samiksha predict` in one process and by `samiksha predict --engine ray` with 1 actor of 2
threads and 2 actors of 1 thread: wall time, texts/s, peak memory (largest process and all processes together),
startup overhead (the same arms on 1,000 rows), and agreement with the one-process output.

    python benchmarks/scale.py --work /tmp/scale --seeds 3
    python benchmarks/scale.py --work /tmp/scale-sentimix --seeds 3 --data ../shared/data/sentimix-hinglish/train.csv \
        --rows 3000 --test ../shared/data/sentimix-hinglish/dev.csv
    python benchmarks/scale.py --work /tmp/scale --part label --model MODEL_DIR --rows 200000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from samiksha.demo import demo_data_dir  # noqa: E402
from samiksha.evaluation import evaluate  # noqa: E402


def run_arm(processes: int, data: Path, out: Path, seed: int) -> dict:
    """Train with ``processes`` processes on 2 cores; wall time and the training's own figures."""
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "OMP_NUM_THREADS": str(max(1, 2 // processes)), "GLOO_SOCKET_IFNAME": "lo", "MASTER_ADDR": "127.0.0.1"}
    command = ["-m", "samiksha", "train", str(data), "--output", str(out), "--seed", str(seed), "--report-seeds", "1"]
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes)] \
        if processes > 1 else [sys.executable]
    started = time.perf_counter()
    subprocess.run(launcher + command, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    training = json.loads((out / "samiksha.json").read_text(encoding="utf-8"))["training"]
    return {"processes": processes, "seed": seed, "wall_s": round(wall, 1), "steps": training["steps"],
            "global_batch": training.get("global_batch"), "epochs_run": training["epochs_run"],
            "processes_seen": training.get("processes")}


def training(args) -> None:
    """Every process count on every seed, then a table and mean +- std per process count."""
    import numpy as np
    import pandas as pd

    data = args.data
    if args.rows:
        data = args.work / f"train-{args.rows}.csv"
        pd.read_csv(args.data, dtype=str, keep_default_na=False).head(args.rows).to_csv(data, index=False)
    results = args.work / "results.jsonl"
    rows = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines()] if results.exists() else []
    for seed in range(42, 42 + args.seeds):
        for processes in args.processes:
            if any(r["seed"] == seed and r["processes"] == processes for r in rows):
                continue  # done by an earlier call with the same --work
            out = args.work / f"p{processes}-s{seed}"
            row = run_arm(processes, data, out, seed)
            scores = evaluate(out, args.test)
            row["macro_f1"] = round(scores["macro_f1"], 4)
            row["transformer_macro_f1"] = round(scores.get("parts", {}).get("transformer", scores)["macro_f1"], 4)
            rows.append(row)
            with results.open("a", encoding="utf-8") as file:
                file.write(json.dumps(row) + "\n")
            print(row, flush=True)
    print(f"\n{'processes':>9} {'seed':>5} {'macro-F1':>9} {'transformer':>11} {'steps':>6} {'global batch':>12} "
          f"{'epochs':>7}")
    for r in sorted(rows, key=lambda r: (r["processes"], r["seed"])):
        print(f"{r['processes']:>9} {r['seed']:>5} {r['macro_f1']:>9.4f} {r['transformer_macro_f1']:>11.4f} "
              f"{r['steps']:>6} {r['global_batch']!s:>12} {r['epochs_run']:>7g}")
    print(f"\n{'processes':>9} {'runs':>5} {'macro-F1 mean +- std':>21} {'transformer mean +- std':>24}")
    for processes in sorted({r["processes"] for r in rows}):
        group = [r for r in rows if r["processes"] == processes]
        blend, part = (np.array([r[k] for r in group]) for k in ("macro_f1", "transformer_macro_f1"))
        print(f"{processes:>9} {len(group):>5} {blend.mean():>13.4f} +- {blend.std(ddof=1) if len(group) > 1 else 0:.4f}"
              f" {part.mean():>16.4f} +- {part.std(ddof=1) if len(group) > 1 else 0:.4f}")


def timed(command: list[str]) -> dict:
    """Run a command alone; wall time and peak resident memory (largest process, and the whole process tree)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = {"largest_mb": 0.0, "total_mb": 0.0}

    def sample() -> None:
        parent = psutil.Process(child.pid)
        while child.poll() is None:
            try:
                sizes = [p.memory_info().rss / 2**20 for p in [parent, *parent.children(recursive=True)]]
            except psutil.Error:
                continue
            peak["largest_mb"], peak["total_mb"] = max(peak["largest_mb"], max(sizes)), max(peak["total_mb"], sum(sizes))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, errors = child.communicate()
    wall = time.perf_counter() - started
    sampler.join()
    if child.returncode:
        raise SystemExit(f"{' '.join(command)} failed:\n{errors[-3000:]}")
    return {"wall_s": round(wall, 1), **{k: round(v) for k, v in peak.items()}}


def label_arm(model: Path, data: Path, out: Path, workers: int | None) -> dict:
    """`samiksha predict` in one process (workers None) or on Ray Data with ``workers`` actors."""
    shutil.rmtree(out, ignore_errors=True)
    out.unlink(missing_ok=True)
    command = [sys.executable, "-m", "samiksha", "predict", str(model), "--input", str(data), "--output", str(out)]
    if workers:
        command += ["--engine", "ray", "--workers", str(workers)]
    return timed(command)


def read_labels(out: Path):
    import pandas as pd

    frame = pd.read_parquet(out)
    if "source_row" in frame:
        frame = frame.sort_values("source_row").reset_index(drop=True)
    return frame


def labelling(args) -> None:
    import pandas as pd

    texts = pd.read_csv(args.texts, dtype=str, keep_default_na=False)["text"]
    reps = -(-args.rows // len(texts))
    big = pd.DataFrame({"id": range(args.rows), "text": pd.concat([texts] * reps, ignore_index=True)[:args.rows]})
    data, small = args.work / f"reviews-{args.rows}.csv", args.work / "reviews-1000.csv"
    big.to_csv(data, index=False)
    big.head(1000).to_csv(small, index=False)
    arms = {"one process": None, "Ray, 1 actor x 2 threads": 1, "Ray, 2 actors x 1 thread": 2}
    results = {}
    for name, workers in arms.items():
        startup = label_arm(args.model, small, args.work / "small.parquet", workers)
        row = label_arm(args.model, data, args.work / f"out-{workers or 0}.parquet", workers)
        row.update(texts_per_s=round(args.rows / row["wall_s"]), wall_1000_s=startup["wall_s"])
        results[name] = row
        print(name, row, flush=True)
    base = read_labels(args.work / "out-0.parquet")
    labels = [c for c in base.columns if c.startswith("prob_")]
    print(f"\n{args.rows} rows, model {args.model}\n{'arm':<26} {'wall s':>7} {'texts/s':>8} {'vs 1 proc':>9} "
          f"{'1,000 rows s':>12} {'largest MB':>10} {'all MB':>7} {'labels same':>11} {'max prob diff':>13}")
    for name, row in results.items():
        got = read_labels(args.work / f"out-{arms[name] or 0}.parquet")
        same = (got["label"].to_numpy() == base["label"].to_numpy()).mean()
        diff = abs(got[labels].to_numpy() - base[labels].to_numpy()).max()
        print(f"{name:<26} {row['wall_s']:>7} {row['texts_per_s']:>8} {row['wall_s'] / results['one process']['wall_s']:>8.2f}x "
              f"{row['wall_1000_s']:>12} {row['largest_mb']:>10} {row['total_mb']:>7} {same:>11.4%} {diff:>13.1e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--part", choices=("train", "label"), default="train")
    parser.add_argument("--data", type=Path, default=demo_data_dir() / "train.csv")
    parser.add_argument("--test", type=Path, default=demo_data_dir() / "test.csv")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--model", type=Path, help="labelling: the model folder (say, a distilled int8 student)")
    parser.add_argument("--rows", type=int, help="training: the first ROWS rows of --data; labelling: the rows to "
                        "label (default 200,000)")
    parser.add_argument("--processes", type=lambda v: [int(x) for x in v.split(",")], default=[1, 2, 4],
                        help="training: comma-separated process counts (default 1,2,4)")
    parser.add_argument("--texts", type=Path, default=ROOT.parent / "shared/data/sentimix-hinglish/train.csv")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.part == "label":
        if args.model is None:
            parser.error("--part label needs --model DIR")
        args.rows = args.rows or 200_000
        labelling(args)
        return
    training(args)

if __name__ == "__main__":
    main()
