"""Shared by the speed benchmarks: each setup timed in its own process, the setups interleaved over rounds (each
round in a new order, so a slow minute of a shared machine hits every setup), and medians with their spread.

Measured on 2 cores (benchmarks/inference.py, SentiMix): the per-text pipeline is the noisiest setup (its speed
varied 5-24% between rounds of one run, batched int8 1-8%), and another process hits the setups unequally: with one
competing CPU-bound process the per-text pipeline fell 4.2x (its 2 intra-op threads wait on each other for every
small operation) while batched int8 halved, so the ratio doubled (3.8x -> 7.6x). A single run of each setup, taken
at different minutes, can therefore land anywhere in a wide range; every round here reports how many cores other
processes used while it ran (from /proc/stat), so a distorted round shows.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def peak_mb() -> float:
    """This process's peak resident memory (VmHWM; ru_maxrss would carry the parent's peak over exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all processes, all cores) since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_worker(script: str, *args: str) -> dict:
    """Run ``script --worker ARGS`` in a new process and return the JSON object on its last line of output, with
    ``other_cores``: the cores other processes kept busy meanwhile (0 on a quiet machine)."""
    busy, children, started = _busy_seconds(), _children_cpu(), time.monotonic()
    done = subprocess.run([sys.executable, script, "--worker", *args], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(args[:2])} failed:\n{done.stderr[-3000:]}")
    others = (_busy_seconds() - busy) - (_children_cpu() - children)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["other_cores"] = max(0.0, others / (time.monotonic() - started))
    return result


def interleaved(setups: Sequence[str], repeats: int, run) -> dict[str, list[dict]]:
    """``run(setup, round)`` for every setup in each of ``repeats`` rounds, each round starting one setup later;
    prints how busy other processes kept the machine in each round."""
    runs: dict[str, list[dict]] = {s: [] for s in setups}
    for r in range(repeats):
        shift = r % len(setups)
        others = []
        for setup in [*setups[shift:], *setups[:shift]]:
            runs[setup].append(run(setup, r))
            others.append(runs[setup][-1].get("other_cores", float("nan")))
        print(f"round {r + 1}/{repeats}: other processes kept {max(others):.2f} cores busy at most (per setup)",
              file=sys.stderr, flush=True)
    return runs


def speeds(runs: dict[str, list[dict]], setup: str, key: str = "texts_per_s") -> np.ndarray:
    return np.array([row[key] for row in runs[setup]])


def spread(values: np.ndarray, digits: int = 0) -> str:
    """'min-max' of a few measurements."""
    return f"{values.min():.{digits}f}-{values.max():.{digits}f}"
