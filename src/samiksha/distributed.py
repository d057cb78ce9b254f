"""Training launched by `torchrun`: which process this is, how a batch splits over the processes, and waiting for
the others.

`torchrun --nproc_per_node N -m samiksha train ...` starts N copies of the command. Each runs the whole training
(the `Trainer` shards the batches and averages the gradients, with nccl on GPUs and gloo on CPUs), so early
stopping and the best epoch agree, as every rank sees the same gathered evaluation. Only rank 0 writes the
published folder, the report, the card and the stacked parts; the others work in a throwaway folder, wait for rank
0 at the end, and exit 0. Without torchrun's variables nothing here does anything.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from .errors import SamikshaError

_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class Launch:
    """This process's place in a torchrun launch (rank 0 of 1 when not launched by torchrun)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def launch() -> Launch:
    """Read torchrun's environment, failing with one line when it is inconsistent."""
    present = {name: os.environ.get(name) for name in _VARIABLES}
    if not any(present[name] for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK")):
        return Launch()
    missing = [name for name, value in present.items() if not value]
    if missing:
        raise SamikshaError(f"incomplete torchrun environment: {', '.join(missing)} not set (start the command with "
                            "`torchrun --nproc_per_node N -m samiksha train ...`)")
    try:
        rank, world, local = (int(present[name]) for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))
    except ValueError:
        raise SamikshaError("torchrun environment: RANK, WORLD_SIZE and LOCAL_RANK must be whole numbers "
                            f"(got {present['RANK']!r}, {present['WORLD_SIZE']!r}, {present['LOCAL_RANK']!r})") from None
    if world < 1 or not 0 <= rank < world or not 0 <= local <= rank:
        raise SamikshaError(f"inconsistent torchrun environment: RANK={rank}, LOCAL_RANK={local}, WORLD_SIZE={world}")
    return Launch(rank, world, local)


def wait_for_all() -> None:
    """A barrier across the launch's processes (nothing when not distributed or not started yet)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()


@dataclass(frozen=True)
class BatchPlan:
    """How the rows of one optimizer step split over the processes."""

    asked: int  # --batch-size: the rows of one optimizer step, whatever the number of processes
    processes: int
    per_device: int

    @property
    def global_batch(self) -> int:
        return self.per_device * self.processes

    @property
    def exact(self) -> bool:
        return self.global_batch == self.asked

    def steps_per_epoch(self, n_train: int) -> int:
        """Optimizer steps in one pass over ``n_train`` rows: each process takes every ``processes``-th batch of
        ``per_device`` rows (the last process's share padded, as accelerate does)."""
        return max(1, math.ceil(math.ceil(n_train / self.per_device) / self.processes))


def batch_plan(batch_size: int, processes: int) -> BatchPlan:
    """Each process takes ``batch_size / processes`` rows, so N processes take the same optimizer steps on the same
    global batch as one.

    When the processes do not divide the batch, each takes the nearest whole number of rows (ties to the smaller,
    at least 1). Gradient accumulation cannot close the gap: per-device rows x accumulation x processes is always a
    multiple of the processes, so it would only cut the same global batches into more passes."""
    per_device = max(1, (2 * batch_size + processes - 1) // (2 * processes))
    return BatchPlan(batch_size, processes, per_device)
