"""Inference speed: the classic `pipeline()` per text against our PyTorch, ONNX fp32 and ONNX int8 backends.

For each dataset (2,000 texts of SentiMix dev, and Flipkart reviews) prints texts/s, peak memory, model
size on disk and macro-F1 for:
  (a) transformers.pipeline("text-classification") called once per text (the classic recipe)
  (b) Samiksha's PyTorch backend (length-sorted batches of 64)
  (c) ONNX Runtime fp32
  (d) ONNX Runtime int8 (dynamic quantization)
with each ratio to (a); also the machine's measured matmul GFLOP/s and int8 Gop/s and the model's FLOPs
per text, and how close (d) comes to that limit. Each setup runs in its own process (PyTorch and ONNX
Runtime thread pools must not share one), interleaved over --repeats rounds (see timing.py): texts/s and the
ratio to (a) are medians over the rounds, with min-max. The timed region is the whole call on all texts
after a warm-up batch (text clean-up, tokenization and the model); the share of clean-up and tokenization
is printed. --busy adds one CPU-bound process during the timing, to show what a shared machine does.

    python benchmarks/inference.py                         # trains a small model per dataset first (~3 min each)
    python benchmarks/inference.py --model DIR             # a trained model folder for both datasets (a stack: its
                                                           # transformer alone)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from timing import interleaved, peak_mb, run_worker, speeds, spread  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SETUPS = ("pipeline", "torch", "onnx-fp32", "onnx-int8")


def worker(setup: str, model_dir: str, texts_file: str) -> None:
    """Time one setup in this process and print a JSON line."""
    import pandas as pd
    from sklearn.metrics import f1_score

    frame = pd.read_csv(texts_file)
    texts, gold = frame["text"].astype(str).tolist(), frame["label"].tolist()
    folder = Path(model_dir)
    overhead = {}
    if setup == "pipeline":
        from transformers import pipeline

        classify = pipeline("text-classification", model=model_dir, device="cpu")
        classify(texts[:8])
        started, cpu_started = time.perf_counter(), time.process_time()
        predicted = [classify(t)[0]["label"] for t in texts]
        size = (folder / "model.safetensors").stat().st_size
    else:
        from samiksha.backends import OnnxBackend
        from samiksha.predict import Classifier

        if setup == "torch":
            clf = Classifier.load(folder, backend="torch")
            clf = clf.with_backend(getattr(clf.backend, "transformer", clf.backend))  # a stack's transformer alone
            size = (folder / "model.safetensors").stat().st_size
        else:
            file = folder / "onnx" / ("model.onnx" if setup == "onnx-fp32" else "model.int8.onnx")
            meta = json.loads((folder / "samiksha.json").read_text())
            clf = Classifier(OnnxBackend(file, folder), meta["labels"], meta["config"]["max_length"], meta)
            size = file.stat().st_size
        clf.predict(texts[:64])
        started = time.perf_counter()
        prefix = getattr(clf.backend, "prefix", "")
        cleaned = [prefix + clf.clean(t) for t in texts]
        overhead["clean_s"] = time.perf_counter() - started
        tokenizer = getattr(clf.backend, "tokenizer", None)
        if tokenizer is not None:
            started = time.perf_counter()
            for i in range(0, len(cleaned), 64):
                tokenizer(cleaned[i:i + 64], truncation=True, max_length=clf.max_length, padding=True,
                          return_tensors="np")
            overhead["tokenize_s"] = time.perf_counter() - started
        started, cpu_started = time.perf_counter(), time.process_time()
        predicted = clf.predict(texts, batch_size=64)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    labels = sorted(set(gold))
    print(json.dumps({"setup": setup, "texts_per_s": len(texts) / seconds, "seconds": seconds,
                      "texts_per_cpu_s": len(texts) / cpu, "peak_mb": peak_mb(), "size_mb": size / 1e6,
                      "threads": _threads(setup), **overhead,
                      "macro_f1": f1_score(gold, predicted, labels=labels, average="macro", zero_division=0)}))


def _threads(setup: str) -> int:
    """The intra-op threads the setup's runtime uses."""
    if setup in ("pipeline", "torch"):
        import torch

        return torch.get_num_threads()
    from samiksha.backends import cpu_threads

    return cpu_threads()  # OnnxBackend's default


def machine_limits() -> dict:
    """Measured fp32 matmul GFLOP/s (torch, all threads) and int8 Gop/s (ONNX Runtime MatMulInteger)."""
    code = r"""
import json, time, torch
n = 1024
a, b = torch.randn(n, n), torch.randn(n, n)
for _ in range(3): a @ b
t = time.perf_counter(); reps = 30
for _ in range(reps): a @ b
print(json.dumps({"fp32_gflops": 2 * n**3 * reps / (time.perf_counter() - t) / 1e9}))
"""
    fp32 = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                     check=True).stdout)
    code_int8 = r"""
import json, time, numpy as np, onnx, onnxruntime as ort
from onnx import TensorProto, helper
n = 1024
graph = helper.make_graph([helper.make_node("MatMulInteger", ["a", "b"], ["c"])], "mm",
    [helper.make_tensor_value_info("a", TensorProto.UINT8, [n, n]), helper.make_tensor_value_info("b", TensorProto.INT8, [n, n])],
    [helper.make_tensor_value_info("c", TensorProto.INT32, [n, n])])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
s = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
a = np.random.randint(0, 255, (n, n), dtype=np.uint8); b = np.random.randint(-127, 127, (n, n), dtype=np.int8)
for _ in range(3): s.run(None, {"a": a, "b": b})
t = time.perf_counter(); reps = 30
for _ in range(reps): s.run(None, {"a": a, "b": b})
print(json.dumps({"int8_gops": 2 * n**3 * reps / (time.perf_counter() - t) / 1e9}))
"""
    int8 = json.loads(subprocess.run([sys.executable, "-c", code_int8], capture_output=True, text=True,
                                     check=True).stdout)
    return {**fp32, **int8}


def flops_per_text(model_dir: Path, texts: list[str]) -> tuple[float, float]:
    """Mean real tokens per text and the matmul FLOPs of one forward pass at that length."""
    from transformers import AutoConfig, AutoTokenizer

    config = AutoConfig.from_pretrained(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    lengths = [len(ids) for ids in tokenizer(texts, truncation=True, max_length=128)["input_ids"]]
    tokens = sum(lengths) / len(lengths)
    h, inter, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    per_layer = 2 * tokens * (4 * h * h + 2 * h * inter) + 2 * 2 * tokens * tokens * h  # projections + attention
    return tokens, layers * per_layer


def prepare(name: str, out: Path, model: str | None, seed: int) -> tuple[Path, Path]:
    import pandas as pd
    from sklearn.model_selection import train_test_split

    from samiksha import TrainConfig, train
    from samiksha.export import export_onnx

    if name == "sentimix":
        texts = pd.read_csv(DATA / "sentimix-hinglish" / "dev.csv").sample(2000, random_state=seed)
        train_frame = pd.read_csv(DATA / "sentimix-hinglish" / "train.csv")
    else:
        frame = pd.read_csv(DATA / "flipkart-reviews" / "train.csv")
        train_frame, texts = train_test_split(frame, test_size=0.2, stratify=frame["label"], random_state=seed)
    texts_file = out / f"{name}-texts.csv"
    texts[["text", "label"]].to_csv(texts_file, index=False)
    folder = out / f"{name}-model"
    if model:
        shutil.copytree(model, folder)
    else:
        sample, _ = train_test_split(train_frame, train_size=3000, stratify=train_frame["label"], random_state=seed)
        sample[["text", "label"]].to_csv(out / f"{name}-train.csv", index=False)
        train(out / f"{name}-train.csv", folder, config=TrainConfig(method="finetune", epochs=2, seed=seed))
    if not (folder / "onnx" / "model.int8.onnx").exists():
        export_onnx(folder, quantize="int8", force=True)  # measure int8 even if the gate would refuse it
    return folder, texts_file


def busy_process() -> subprocess.Popen:
    """One CPU-bound process (a Python loop), as another job on a shared machine would be."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--datasets", default="sentimix,flipkart")
    parser.add_argument("--repeats", type=int, default=3, help="Interleaved rounds of every setup.")
    parser.add_argument("--busy", action="store_true", help="Time with one competing CPU-bound process.")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    limits = machine_limits()
    print(f"machine: fp32 matmul {limits['fp32_gflops']:.0f} GFLOP/s, int8 matmul {limits['int8_gops']:.0f} Gop/s "
          f"({os.cpu_count()} cores)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.datasets.split(","):
            folder, texts_file = prepare(name, Path(tmp), args.model, args.seed)
            import pandas as pd

            tokens, flops = flops_per_text(folder, pd.read_csv(texts_file)["text"].astype(str).tolist())
            busy = busy_process() if args.busy else None
            try:
                runs = interleaved(SETUPS, args.repeats, lambda setup, _, model=str(folder), data=str(texts_file):
                                   run_worker(__file__, setup, model, data))
            finally:
                if busy is not None:
                    busy.kill()
            base, cpu_base = speeds(runs, "pipeline"), speeds(runs, "pipeline", "texts_per_cpu_s")
            print(f"\n## {name}: {len(pd.read_csv(texts_file))} texts, {tokens:.1f} tokens/text, "
                  f"{flops / 1e9:.2f} GFLOP/text; {args.repeats} interleaved rounds"
                  f"{', one competing CPU-bound process' if args.busy else ''}: medians (min-max)")
            print(f"{'setup':<11}{'texts/s':>9}{'(min-max)':>12}{'x (a)':>7}{'(min-max)':>12}{'texts/cpu-s':>12}"
                  f"{'x (a)':>7}{'threads':>8}{'clean+tok':>10}{'peak MB':>9}{'size MB':>9}{'macro-F1':>10}")
            for setup in SETUPS:
                speed, cpu = speeds(runs, setup), speeds(runs, setup, "texts_per_cpu_s")
                first = runs[setup][0]
                share = (first.get("clean_s", 0) + first.get("tokenize_s", 0)) / first["seconds"] \
                    if "clean_s" in first else float("nan")
                print(f"{setup:<11}{np.median(speed):>9.1f}{spread(speed):>12}{np.median(speed / base):>7.2f}"
                      f"{spread(speed / base, 2):>12}{np.median(cpu):>12.1f}{np.median(cpu / cpu_base):>7.2f}"
                      f"{first['threads']:>8}{share:>10.0%}{first['peak_mb']:>9.0f}{first['size_mb']:>9.1f}"
                      f"{first['macro_f1']:>10.3f}")
            int8 = np.median(speeds(runs, "onnx-int8"))
            ceiling = limits["int8_gops"] * 1e9 / flops
            print(f"int8 ceiling at the measured int8 matmul rate: {ceiling:.0f} texts/s; (d) reaches "
                  f"{int8 / ceiling:.0%} of it. int8 size / fp32 size: "
                  f"{runs['onnx-int8'][0]['size_mb'] / runs['onnx-fp32'][0]['size_mb']:.0%}; macro-F1 (d) - (b): "
                  f"{runs['onnx-int8'][0]['macro_f1'] - runs['torch'][0]['macro_f1']:+.3f}", flush=True)


if __name__ == "__main__":
    main()
