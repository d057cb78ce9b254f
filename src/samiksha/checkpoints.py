"""`Trainer` checkpoints of an interrupted run (fine-tuning's and `adapt`'s): which one `--resume` continues from."""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path

from .distributed import launch
from .errors import SamikshaError, first_line
from .modelfolder import META, read_json_object

log = logging.getLogger(__name__)
CHECKPOINT = re.compile(r"checkpoint-\d+")  # Trainer's checkpoint folders, by global step


def _checkpoints(work: Path) -> list[Path]:
    """The checkpoint folders in ``work``, the newest (most steps) first."""
    found = [p for p in work.iterdir() if p.is_dir() and CHECKPOINT.fullmatch(p.name)] if work.is_dir() else []
    return sorted(found, key=lambda p: int(p.name.rsplit("-", 1)[1]), reverse=True)


def checkpoint_problem(folder: Path) -> str | None:
    """What keeps `Trainer` from resuming at ``folder`` (None when nothing does): a run killed while writing it
    leaves some of its state, weights, optimizer and scheduler missing or cut short."""
    import zipfile

    from safetensors import SafetensorError, safe_open

    state = folder / "trainer_state.json"
    try:
        if "global_step" not in json.loads(state.read_text(encoding="utf-8")):
            return f"{state.name} has no global_step"
        weights = folder / "model.safetensors"
        if not weights.exists():
            return f"no {weights.name}"
        with safe_open(str(weights), "pt"):  # checks that the header and the tensors cover the file
            pass
        for name in ("optimizer.pt", "scheduler.pt"):
            if not zipfile.is_zipfile(folder / name):  # torch.save writes a zip; cut short, it has no directory
                return f"{name} missing or cut short"
    except FileNotFoundError as err:
        return f"no {Path(err.filename or '?').name}"
    except (OSError, ValueError, SafetensorError) as err:
        return f"{type(err).__name__}: {first_line(err)}"
    return None


def _resume_point(work: Path) -> Path | None:
    """The newest checkpoint `Trainer` can resume from; incomplete ones are removed (by rank 0), saying so."""
    point = None
    for folder in _checkpoints(work):
        problem = checkpoint_problem(folder)
        if problem is None:
            point = point or folder
        elif launch().main:
            log.warning("%s is incomplete (%s; the run was stopped while writing it): removed", folder, problem)
            shutil.rmtree(folder, ignore_errors=True)
    return point


def checkpoint_state(checkpoint: Path) -> dict:
    """The `Trainer` state saved with ``checkpoint`` (its epoch and global step)."""
    return json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))


def resume_from(work: Path, resume: bool, run_info: dict) -> Path | None:
    """The checkpoint to resume from, if any; refuses to mix a different run's checkpoints into this one."""
    if not _checkpoints(work):
        if resume:
            log.warning("nothing to resume in %s; starting a fresh run", work)
        return None
    if not resume:
        raise SamikshaError(f"{work}: holds checkpoints of an interrupted run; pass --resume to continue it, "
                            "or delete the folder to start again")
    meta = work / META
    previous = read_json_object(meta) if meta.exists() else {}
    if previous and previous.get("run") != run_info:
        raise SamikshaError(f"{work}: the interrupted run used other data or settings; "
                            "delete the folder to start again")
    point = _resume_point(work)
    if point is None:
        log.warning("no complete checkpoint to resume from in %s; starting a fresh run", work)
    return point
