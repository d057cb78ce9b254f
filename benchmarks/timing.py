"""Shared by the speed benchmarks: each setup timed in its own process, the setups interleaved over rounds (each
round in a new order, so a slow minute of a shared machine hits every setup), and medians with their spread.

Why rounds: on 2 cores another process (a test run, an index, a second benchmark) slows the batched backends, which
use both cores, more than the per-text pipeline, which waits on Python between texts; one run of each setup taken at
different minutes can then give a ratio a third lower than a quiet one. The load average before each round is
printed, and texts per CPU-second, which other load disturbs far less, beside texts/s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def peak_mb() -> float:
    """This process's peak resident memory (VmHWM; ru_maxrss would carry the parent's peak over exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_worker(script: str, *args: str) -> dict:
    """Run ``script --worker ARGS`` in a new process and return the JSON object on its last line of output."""
    done = subprocess.run([sys.executable, script, "--worker", *args], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(args[:2])} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def interleaved(setups: Sequence[str], repeats: int, run) -> dict[str, list[dict]]:
    """``run(setup, round)`` for every setup in each of ``repeats`` rounds, each round starting one setup later."""
    runs: dict[str, list[dict]] = {s: [] for s in setups}
    for r in range(repeats):
        print(f"round {r + 1}/{repeats}: load average {os.getloadavg()[0]:.2f}", file=sys.stderr, flush=True)
        shift = r % len(setups)
        for setup in [*setups[shift:], *setups[:shift]]:
            runs[setup].append(run(setup, r))
    return runs


def speeds(runs: dict[str, list[dict]], setup: str, key: str = "texts_per_s") -> np.ndarray:
    return np.array([row[key] for row in runs[setup]])


def spread(values: np.ndarray, digits: int = 0) -> str:
    """'min-max' of a few measurements."""
    return f"{values.min():.{digits}f}-{values.max():.{digits}f}"
