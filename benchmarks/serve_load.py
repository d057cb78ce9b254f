"""Load test of `samiksha serve` on loopback: is the HTTP server as fast as calling the model in-process?

Measures, in one run on one machine:
  (a) in-process `Classifier.predict_proba` throughput on the benchmark texts in batches of 32 (no server
      running), with 1 PyTorch thread and with one per CPU;
  (b) the served API (default options) under a bounded load from several concurrent httpx clients: single-text
      requests and 32-text requests, each a fixed number of requests: requests/s, texts/s, p50/p95/p99 latency,
      errors;
  (c) the same with --max-batch 1 (every request its own model call: what micro-batching is worth) and with
      --threads set to the CPU count (what leaving a core to HTTP is worth).
Then checks the targets: served texts/s at 32-text requests >= 80% of the better of (a); p99 single-text
latency < 100 ms; no errors. The server runs in a subprocess bound to 127.0.0.1 on a free port; the load
stops by itself.

    python benchmarks/serve_load.py                     # trains a quick 1-epoch demo model first (~2-3 min)
    python benchmarks/serve_load.py --model DIR         # any model folder written by `samiksha train`
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
SERVERS = [  # (name, `samiksha serve` options, texts per request of each load)
    ("default", (), (1, 32)),
    ("--max-batch 1", ("--max-batch", "1"), (1,)),
    (f"--threads {os.cpu_count()}", ("--threads", str(os.cpu_count())), (1, 32)),
]
DEMO = ROOT / "src" / "samiksha" / "demo_data"


def texts_for_benchmark() -> list[str]:
    """Real demo reviews (Hinglish, Hindi, English), test set first."""
    import pandas as pd

    return [t for name in ("test.csv", "train.csv") for t in pd.read_csv(DEMO / name)["text"].astype(str)]


def train_quick_model(folder: Path) -> Path:
    target = folder / "model"
    print(f"training a 1-epoch demo model into {target} ...", flush=True)
    subprocess.run([sys.executable, "-m", "samiksha.cli", "train", str(DEMO / "train.csv"), "-o", str(target),
                    "--epochs", "1", "--offline"], check=True, stdout=subprocess.DEVNULL)
    return target


def in_process_throughput(model: Path, texts: list[str], batch: int) -> dict[int, float]:
    """Texts/s of the model called directly (after one warm-up batch), for 1 PyTorch thread and for one per CPU."""
    import torch

    from samiksha.predict import Classifier

    classifier = Classifier.load(model)
    speeds = {}
    for threads in sorted({1, os.cpu_count() or 1}):
        torch.set_num_threads(threads)
        classifier.predict_proba(texts[:batch], batch_size=batch)
        start = time.perf_counter()
        classifier.predict_proba(texts, batch_size=batch)
        speeds[threads] = len(texts) / (time.perf_counter() - start)
    return speeds


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`samiksha serve` in a subprocess on 127.0.0.1."""

    def __init__(self, model: Path, log: Path, *extra: str):
        self.url = f"http://127.0.0.1:{(port := _free_port())}"
        self.log = log
        command = [sys.executable, "-m", "samiksha.cli", "serve", str(model), "--port", str(port), *extra]
        self.process = subprocess.Popen(command, stdout=log.open("w"), stderr=subprocess.STDOUT)

    def __enter__(self):
        import httpx

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1, trust_env=False).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the server did not start within 120 s")

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


async def _load(url: str, bodies: list[dict], clients: int) -> tuple[list[float], float, int]:
    """Send every body once from ``clients`` concurrent connections: (latencies in s, wall s, errors)."""
    import httpx

    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits, trust_env=False) as http:

        async def client(pending) -> None:
            nonlocal errors
            for body in pending:  # shared: each body is sent by exactly one client
                start = time.perf_counter()
                try:
                    response = await http.post("/v1/predict", json=body)
                    errors += response.status_code != 200
                except httpx.HTTPError:
                    errors += 1
                latencies.append(time.perf_counter() - start)

        warm_up = iter(bodies[:2 * clients])  # opens the connections; timed out of the figures
        await asyncio.gather(*(client(warm_up) for _ in range(clients)))
        latencies.clear()
        pending = iter(bodies)
        start = time.perf_counter()
        await asyncio.gather(*(client(pending) for _ in range(clients)))
        return latencies, time.perf_counter() - start, errors


def run_load(url: str, texts: list[str], per_request: int, requests: int, clients: int) -> dict:
    bodies = [{"texts": [texts[(i * per_request + j) % len(texts)] for j in range(per_request)]}
              for i in range(requests)]
    latencies, wall, errors = asyncio.run(_load(url, bodies, clients))
    ms = np.array(latencies) * 1000
    return {"texts_per_request": per_request, "clients": clients, "requests": requests, "errors": errors,
            "requests_per_s": requests / wall, "texts_per_s": requests * per_request / wall,
            "p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
            "p99_ms": float(np.percentile(ms, 99))}


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def show(name: str, r: dict) -> None:
    print(f"{name:<44} {r['requests_per_s']:>8.1f} {r['texts_per_s']:>9.1f} {r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} "
          f"{r['p99_ms']:>8.1f} {r['errors']:>6}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=None, help="model folder (default: train a quick one)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent connections")
    parser.add_argument("--single-requests", type=int, default=200, help="single-text requests per load")
    parser.add_argument("--batch-requests", type=int, default=16, help="32-text requests")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="samiksha-serve-load-") as folder:
        model = args.model or train_quick_model(Path(folder))
        texts = texts_for_benchmark()
        speeds = in_process_throughput(model, texts[: args.batch_requests * 32], 32)  # the texts the 32-text load sends
        in_process = max(speeds.values())
        progress(f"in-process texts/s by PyTorch threads: {speeds}")
        results = {}
        for name, options, loads in SERVERS:
            with Server(model, Path(folder) / "server.log", *options) as server:
                for per_request in loads:
                    requests = args.single_requests if per_request == 1 else args.batch_requests
                    label = f"{'1 text' if per_request == 1 else f'{per_request} texts'}/request, {name}"
                    results[label] = run_load(server.url, texts, per_request, requests, args.clients)
                    progress(f"{label}: done")

    print(f"\nmodel {model.name}; {os.cpu_count()} CPUs; {args.clients} concurrent clients on loopback")
    for threads, speed in speeds.items():
        print(f"in-process Classifier, batches of 32, {threads} PyTorch thread(s): {speed:.1f} texts/s")
    print(f"{'load':<44} {'req/s':>8} {'texts/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>6}")
    for name, result in results.items():
        show(name, result)
    ratio = results["32 texts/request, default"]["texts_per_s"] / in_process
    p99 = results["1 text/request, default"]["p99_ms"]
    errors = sum(r["errors"] for r in results.values())
    print(f"\nserved / best in-process throughput at 32-text requests: {ratio:.0%} (target >= 80%): "
          f"{'PASS' if ratio >= 0.8 else 'FAIL'}")
    print(f"p99 single-text latency: {p99:.1f} ms (target < 100 ms): {'PASS' if p99 < 100 else 'FAIL'}")
    print(f"errors: {errors} (target 0): {'PASS' if errors == 0 else 'FAIL'}")


if __name__ == "__main__":
    main()
