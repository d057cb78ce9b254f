"""Training launched by `torchrun`: which process this is, and waiting for the others.

`torchrun --nproc_per_node N -m samiksha train ...` starts N copies of the command. Each runs the whole training
(the `Trainer` shards the batches and averages the gradients, with nccl on GPUs and gloo on CPUs), so early
stopping and the best epoch agree, as every rank sees the same gathered evaluation. Only rank 0 writes the
published folder, the report, the card and the stacked parts; the others work in a throwaway folder, wait for rank
0 at the end, and exit 0. Without torchrun's variables nothing here does anything.
"""

from __future__ import annotations

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
