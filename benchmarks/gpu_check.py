"""The CUDA path, end to end: train the demo on the GPU (bf16 where the card has it), then compare GPU and CPU.

Prints the mixed precision Trainer used, demo test macro-F1, how closely GPU and CPU predictions of the same
model agree (argmax agreement, max probability difference), and prediction texts/s on each device with the
ratio. `--scale` adds the scale-out paths on the GPU: the demo trained again through `torchrun` (1 process,
nccl) with its macro-F1, and `predict --engine ray` with one GPU actor against `predict` in one process on the
GPU (texts/s, same labels). Needs a CUDA GPU; CI never runs it.

    python benchmarks/gpu_check.py [--texts ../shared/data/sentimix-hinglish/dev.csv] [--output DIR] [--scale]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from samiksha import Classifier  # noqa: E402
from samiksha.demo import demo_data_dir, run_demo  # noqa: E402

DEV = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sentimix-hinglish" / "dev.csv"


def texts_per_second(classifier: Classifier, texts: list[str], batch_size: int) -> float:
    classifier.predict_proba(texts[:batch_size], batch_size=batch_size)  # warm-up
    started = time.perf_counter()
    classifier.predict_proba(texts, batch_size=batch_size)
    return len(texts) / (time.perf_counter() - started)


def scale_out(folder: Path, texts: list[str], work: Path) -> None:
    """torchrun on one GPU (demo macro-F1), and Ray Data with one GPU actor against one process on the GPU."""
    from samiksha.evaluation import evaluate
    from samiksha.predict import predict_file
    from samiksha.raydata import label_files

    out = work / "torchrun-model"
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "1", "-m",
                    "samiksha", "train", str(demo_data_dir() / "train.csv"), "--output", str(out)], check=True,
                   stdout=subprocess.DEVNULL)
    training = json.loads((out / "samiksha.json").read_text(encoding="utf-8"))["training"]
    print(f"torchrun, 1 GPU process: {time.perf_counter() - started:.1f} s, processes {training.get('processes')}, "
          f"test macro-F1 {evaluate(out, demo_data_dir() / 'test.csv')['macro_f1']:.3f}", flush=True)
    rows = work / "rows.csv"
    pd.DataFrame({"text": (texts * (-(-20_000 // len(texts))))[:20_000]}).to_csv(rows, index=False)
    started = time.perf_counter()
    predict_file(Classifier.load(folder, backend="torch", device="cuda"), rows, work / "one.parquet", batch_size=256)
    one = time.perf_counter() - started
    started = time.perf_counter()
    label_files(folder, str(rows), str(work / "ray"), gpus_per_worker=1, batch_size=256)
    on_ray = time.perf_counter() - started
    a = pd.read_parquet(work / "one.parquet")
    b = pd.read_parquet(work / "ray").sort_values("source_row")
    print(f"20,000 rows on the GPU (model loads and Ray's start included): one process {20_000 / one:.0f} texts/s, "
          f"Ray with 1 GPU actor {20_000 / on_ray:.0f} texts/s ({on_ray / one:.2f}x the time); same labels "
          f"{(a['label'].to_numpy() == b['label'].to_numpy()).mean():.4f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=Path, default=DEV, help="CSV with a text column for the speed test")
    parser.add_argument("--output", type=Path, default=None, help="where to keep the demo model")
    parser.add_argument("--scale", action="store_true", help="also torchrun and Ray Data on the GPU (needs ray)")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA GPU here")
    print(f"GPU: {torch.cuda.get_device_name()}, bf16 supported: {torch.cuda.is_bf16_supported()}, "
          f"CPU threads: {torch.get_num_threads()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.output or Path(tmp) / "demo-model"
        started = time.perf_counter()
        result, test_metrics, _ = run_demo(folder)
        print(f"demo trained on the GPU in {time.perf_counter() - started:.1f} s "
              f"({result.meta['training']['examples_per_second']:.0f} examples/s, "
              f"{result.meta['training']['epochs_run']:g} epochs); test macro-F1 {test_metrics['macro_f1']:.3f}, "
              f"accuracy {test_metrics['accuracy']:.3f}", flush=True)
        print(f"mixed precision: {'bf16' if torch.cuda.is_bf16_supported() else 'fp16'} (samiksha's training "
              "arguments turn it on whenever CUDA is present)", flush=True)
        texts = (pd.read_csv(args.texts)["text"].astype(str).tolist() if args.texts.exists()
                 else pd.read_csv(demo_data_dir() / "test.csv")["text"].astype(str).tolist())
        gpu = Classifier.load(folder, backend="torch", device="cuda")
        cpu = Classifier.load(folder, backend="torch", device="cpu")
        p_gpu, p_cpu = gpu.predict_proba(texts), cpu.predict_proba(texts)
        agree = float((p_gpu.argmax(1) == p_cpu.argmax(1)).mean())
        print(f"GPU vs CPU on {len(texts)} texts: argmax agreement {agree:.4f}, "
              f"max |probability difference| {np.abs(p_gpu - p_cpu).max():.2e}", flush=True)
        speed_cpu = texts_per_second(cpu, texts, 64)
        for batch in (64, 256):
            speed_gpu = texts_per_second(gpu, texts, batch)
            print(f"predict texts/s, batch {batch}: GPU {speed_gpu:.0f} vs CPU ({torch.get_num_threads()} threads, "
                  f"batch 64) {speed_cpu:.0f}: {speed_gpu / speed_cpu:.1f}x", flush=True)
        if args.scale:
            scale_out(folder, texts, Path(tmp))


if __name__ == "__main__":
    main()
