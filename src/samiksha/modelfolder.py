"""The model folder: its layout, its metadata (``samiksha.json``) and how a new one replaces an old one.

Layout of a folder ``DIR`` that Samiksha writes: the model's own files (``config.json``, weights, tokenizer, the
method's parts, ``onnx/`` after an export) plus ``samiksha.json`` (what was trained, how, on what), ``metrics.json``,
``report.txt``, ``confusion_matrix.png``, ``eval.csv`` (the evaluation rows) and ``README.md`` (the model card).
Beside it live ``DIR.checkpoints`` (an unfinished fine-tune, for ``--resume``) and hidden working files that all
start with ``.DIR.``: the lock, the staging folder of a run, the seed runs' folder, and a publish journal.

Publishing is crash-safe: every instant leaves the old or the new complete model reachable.

1. A run writes the whole new model into ``.DIR.staging-PID`` (files get normal modes: ``0o666 & ~umask``).
2. It writes the journal ``.DIR.publish.json`` naming that staging folder (atomically). From here on the swap goes
   forward: the staging folder is complete and no longer the run's to delete.
3. ``DIR`` is renamed to ``.DIR.old``; 4. the staging folder is renamed to ``DIR``; 5. ``.DIR.old`` is removed;
   6. the journal is removed.

A later ``train``, ``Classifier.load`` (so ``predict`` and ``serve``) or ``export`` that finds a journal finishes
the swap from whichever step it stopped at (or, if the staging folder is gone, puts ``.DIR.old`` back), and logs
one line saying so. A ``.DIR.old`` without a journal comes from Samiksha before this scheme: it is put back when
``DIR`` is missing, else removed, with a line either way. The same swap replaces ``DIR/onnx`` on an export.

Every writer holds ``DIR``'s lock (``filelock`` on ``.DIR.lock``, which stays: removing a lock file races a run
that is about to take it) for its whole run, and a second run into the same folder is refused at once. So whatever staging or seed folder a lock holder finds beside ``DIR`` belongs to a
run that is gone (kill -9, power loss). It removes them, saying so in one line, except a staging folder that holds
``samiksha.json``: training writes it right after fitting, before the seed runs and the report, so such a folder is
a loadable model that may have cost hours. It is moved to the visible ``DIR.unpublished-PID`` (never published over
``DIR``: its report may be missing, and a run that was killed is not the user's choice of model), and the line
says where. The seed runs' models are discarded by design (only their scores are kept), so their folder is removed.

``samiksha.json`` carries ``format_version``; `migrate` brings an older folder's metadata to the current version in
memory (the folder is never rewritten on load). A plain Hugging Face folder has no ``samiksha.json`` and loads as
such, but is never replaced: only a folder with Samiksha's ``samiksha.json``, or an empty one, is.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .backends import ONNX_DIR
from .errors import ModelError, SamikshaError, first_line
from .storage import normal_mode, write_json

log = logging.getLogger(__name__)

META, METRICS, REPORT, EVAL_ROWS, CARD, CONFUSION_PNG = (
    "samiksha.json", "metrics.json", "report.txt", "eval.csv", "README.md", "confusion_matrix.png")
# 1: the first folders; 2: stacked folders, text clean-up steps saved; 3: published by ModelFolder (lock, journal,
# normal file modes), samiksha.json written before the seed runs; its contents are those of version 2
FORMAT_VERSION = 3
PARTS = (ONNX_DIR,)  # sub-folders replaced on their own, by the same swap

_held: dict[Path, int] = {}  # the folders this process holds the lock of, and the thread that holds it
_held_guard = threading.Lock()


def _from_1(meta: dict) -> None:
    """Version 2 saved the text clean-up steps (before them: unicode clean-up when normalised) and stacking."""
    config = meta.setdefault("config", {})
    config.setdefault("text_steps", ["unicode"] if config.get("normalise") else [])
    config.setdefault("stack", False)


def _from_2(meta: dict) -> None:
    """Version 3 changed how folders are published, not what samiksha.json holds."""


MIGRATIONS: dict[int, Callable[[dict], None]] = {1: _from_1, 2: _from_2}  # version N -> N + 1


def migrate(meta: dict) -> dict:
    """``meta`` (read from a folder of any earlier version) as the current version writes it."""
    version = meta.get("format_version", 1)
    while version < FORMAT_VERSION:
        MIGRATIONS[version](meta)
        version += 1
    meta["format_version"] = version
    return meta


def read_json_object(path: Path) -> dict:
    """A JSON object from ``path``, or one ModelError line naming the file."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        reason = first_line(err)
        raise ModelError(f"{path}: cannot be read ({reason}); restore the file or retrain the model") from None
    if not isinstance(value, dict):
        raise ModelError(f"{path}: holds a JSON {type(value).__name__}, not an object; restore the file or retrain "
                         "the model")
    return value


class ModelFolder:
    """A model folder by path: the names of its files, its metadata, and its lock and publishing."""

    def __init__(self, path: str | Path):
        self.path = Path(path)  # as given, for messages
        self.real = Path(os.path.realpath(self.path))  # for the files beside it (``-o .`` has a name too)

    def __repr__(self) -> str:
        return f"ModelFolder({str(self.path)!r})"

    # -- layout ---------------------------------------------------------------------------------------------------

    @property
    def meta_file(self) -> Path:
        return self.path / META

    @property
    def metrics_file(self) -> Path:
        return self.path / METRICS

    @property
    def report_file(self) -> Path:
        return self.path / REPORT

    @property
    def eval_file(self) -> Path:
        """The evaluation rows (text, true label) the report scored."""
        return self.path / EVAL_ROWS

    @property
    def card_file(self) -> Path:
        return self.path / CARD

    @property
    def confusion_file(self) -> Path:
        return self.path / CONFUSION_PNG

    @property
    def checkpoints(self) -> Path:
        """Where an unfinished run keeps its checkpoints (removed once the model is published)."""
        return self.real.with_name(f"{self.real.name}.checkpoints")

    def _beside(self, what: str, target: Path | None = None) -> Path:
        """A hidden working file or folder beside ``target`` (the folder itself by default)."""
        target = target or self.real
        return target.with_name(f".{target.name}.{what}")

    def seeds_work(self, run: str | int) -> Path:
        """The folder the seed runs of run ``run`` train in (removed when they are done)."""
        return self._beside(f"seeds-{run}")

    # -- metadata -------------------------------------------------------------------------------------------------

    def is_model(self) -> bool:
        """Whether the folder holds a model (Samiksha's or a plain Hugging Face one)."""
        return (self.path / "config.json").exists() or self.meta_file.exists()

    def read_meta(self) -> dict:
        """The metadata, migrated to the current version ({} for a plain Hugging Face folder)."""
        if not self.meta_file.exists():
            return {}
        meta = read_json_object(self.meta_file)
        version = meta.get("format_version", 1)
        if type(version) is not int or version < 1:
            raise ModelError(f"{self.meta_file}: format_version {version!r} is not a version Samiksha writes; "
                             "restore the file or retrain the model")
        if version > FORMAT_VERSION:
            raise ModelError(f"{self.meta_file}: written by a newer Samiksha (format {version}; this one reads up "
                             f"to {FORMAT_VERSION}); upgrade Samiksha")
        return migrate(meta)

    def write_meta(self, meta: dict) -> dict:
        """Write ``meta`` as the current format version; returns what was written."""
        meta = {"format_version": FORMAT_VERSION, **meta}
        write_json(self.meta_file, meta)
        return meta

    def read_metrics(self) -> dict | None:
        """The saved evaluation (None when the folder has none)."""
        return read_json_object(self.metrics_file) if self.metrics_file.exists() else None

    def written_by_samiksha(self) -> bool:
        """Whether ``samiksha.json`` is Samiksha's (raises ModelError when it cannot be read)."""
        return self.meta_file.exists() and isinstance(read_json_object(self.meta_file).get("format_version"), int)

    def check_replaceable(self) -> None:
        """Refuse, in one line, to replace anything but an empty folder or one that Samiksha wrote."""
        if not self.path.exists():
            return
        if not self.path.is_dir():
            raise SamikshaError(f"{self.path}: exists and is not a folder; choose another --output")
        try:
            ours = self.written_by_samiksha()
        except ModelError as err:
            raise SamikshaError(f"{err} (so {self.path} is not replaced; choose another --output)") from None
        if not ours and any(self.path.iterdir()):
            raise SamikshaError(f"{self.path}: holds files that Samiksha did not write (it has no samiksha.json of "
                                "Samiksha's), so it is not replaced; choose another --output or an empty folder")
        if self.real == Path.cwd() or self.real in Path.cwd().parents:  # replacing it would pull it from under us
            raise SamikshaError(f"{self.path}: is the current folder (or holds it); choose another --output")

    # -- lock -----------------------------------------------------------------------------------------------------

    def _lock(self):
        from filelock import FileLock

        self.real.parent.mkdir(parents=True, exist_ok=True)
        return FileLock(self._beside("lock"))

    def _holder(self) -> str:
        try:
            return f"pid {int(self._beside('lock.pid').read_text())}"
        except (OSError, ValueError):
            return "another process"

    @contextmanager
    def writing(self, replacing: bool = True) -> Iterator[ModelFolder]:
        """Hold the folder's lock for a run that writes it, refusing at once when another run holds it.

        On entry it finishes a half-done swap, clears what killed runs left beside it and, when ``replacing``,
        refuses a folder that must not be replaced. Re-entering from the same thread (train -> train_parts) is free.
        """
        from filelock import Timeout

        with _held_guard:
            reentered = _held.get(self.real) == threading.get_ident()
        if reentered:
            yield self
            return
        if replacing:
            self.check_replaceable()  # before anything is created beside a folder that is refused
        lock = self._lock()
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise SamikshaError(f"{self.path}: is being written by another run ({self._holder()}); wait for it or "
                                "choose another --output") from None
        pid_file = self._beside("lock.pid")
        try:
            pid_file.write_text(str(os.getpid()))
            with _held_guard:
                _held[self.real] = threading.get_ident()
            self._recover()
            self._clean_abandoned()
            if replacing:
                self.check_replaceable()  # again: the recovery may have put a folder back
            yield self
        finally:
            with _held_guard:
                _held.pop(self.real, None)
            pid_file.unlink(missing_ok=True)
            lock.release()

    # -- publishing -----------------------------------------------------------------------------------------------

    def _target(self, part: str | None) -> Path:
        if part is not None and part not in PARTS:
            raise ValueError(f"unknown part {part!r}")
        return self.real if part is None else self.real / part

    @contextmanager
    def staging(self, part: str | None = None) -> Iterator[Path]:
        """A new, empty folder beside the folder (or inside it, for ``part``) to write its replacement into;
        removed on exit unless it was handed to `publish`."""
        staging = self._beside(f"staging-{os.getpid()}", self._target(part))
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            yield staging
        finally:
            journal = self._beside("publish.json", self._target(part))
            if not (journal.exists() and read_json_object(journal).get("staging") == staging.name):
                shutil.rmtree(staging, ignore_errors=True)

    def publish(self, staging: Path, part: str | None = None) -> None:
        """Replace the folder (or its sub-folder ``part``) by the complete ``staging`` folder (see the module
        docstring); call it holding the lock."""
        target = self._target(part)
        if staging.parent != target.parent:
            raise ValueError(f"{staging} is not beside {target}")
        _normal_modes(staging)
        journal, backup = self._beside("publish.json", target), self._beside("old", target)
        shutil.rmtree(backup, ignore_errors=True)  # only from an older Samiksha: `writing` has dealt with it
        write_json(journal, {"staging": staging.name, "backup": backup.name, "pid": os.getpid()})
        try:
            replacing = target.exists()
            if replacing:
                os.replace(target, backup)
            os.replace(staging, target)
            if replacing:
                shutil.rmtree(backup)
            journal.unlink()
        except OSError as err:
            raise SamikshaError(f"{target}: publishing the new model stopped half way ({err}); the next train, "
                                "load or export of it finishes the swap") from None

    def recover(self) -> None:
        """Finish a swap that a killed run left half done (see the module docstring), saying so in one line.

        Cheap when there is nothing to do. A run that holds the lock now is left to finish its own swap."""
        if not any(self._beside(what, self._target(part)).exists()
                   for part in (None, *PARTS) for what in ("publish.json", "old")):
            return
        with _held_guard:
            ours = _held.get(self.real) == threading.get_ident()
        if ours:
            return self._recover()
        from filelock import Timeout

        try:
            lock = self._lock()
            lock.acquire(timeout=0)
        except (Timeout, OSError):  # being published right now, or a read-only place: load what is there
            if not self.path.exists():
                raise ModelError(f"{self.path}: is being published by another run ({self._holder()}), or was left "
                                 "half published where this process cannot write; try again") from None
            return
        try:
            self._recover()
        finally:
            lock.release()

    def require(self) -> None:
        """Finish a half-done publish, then fail with one line when there is no folder to load."""
        self.recover()
        if not self.path.is_dir():
            raise ModelError(f"{self.path}: no such model folder")

    def _recover(self) -> None:
        for part in (None, *PARTS):
            target = self._target(part)
            done = _finish_swap(target, self._beside("publish.json", target), self._beside("old", target))
            if done:
                log.warning("%s: %s", target, done)

    def _clean_abandoned(self) -> None:
        """Remove the working folders of runs that are gone, keeping a complete model (see the module docstring)."""
        removed = []
        for part in (None, *PARTS):
            target = self._target(part)
            if not target.parent.is_dir():
                continue
            pattern = re.compile(rf"\.{re.escape(target.name)}\.(staging|seeds)-(.+)")
            for item in sorted(target.parent.iterdir()):
                match = pattern.fullmatch(item.name)
                if not match or not item.is_dir():
                    continue
                if match[1] == "staging" and (item / META).exists():
                    kept = _free_name(target.with_name(f"{target.name}.unpublished-{match[2]}"))
                    _normal_modes(item)
                    os.replace(item, kept)
                    log.warning("%s: a run that was stopped before publishing (pid %s) left a complete model; kept "
                                "it as %s (its report may be missing)", target, match[2], kept)
                else:
                    shutil.rmtree(item)
                    removed.append(item.name)
        if removed:
            log.warning("%s: removed the unfinished work of runs that were stopped: %s", self.path, ", ".join(removed))


def _finish_swap(target: Path, journal: Path, backup: Path) -> str | None:
    """Bring a half-done swap of ``target`` to an end; what was done, or None when nothing was left."""
    if journal.exists():
        staging = target.with_name(str(read_json_object(journal).get("staging")))
        if not staging.name.startswith(f".{target.name}.staging-"):
            raise ModelError(f"{journal}: does not name a staging folder of {target.name}; delete it")
        if staging.is_dir():
            if target.exists():
                shutil.rmtree(backup, ignore_errors=True)
                os.replace(target, backup)
            os.replace(staging, target)
            done = "finished publishing the new model that an interrupted run left half done"
        elif not target.exists() and backup.is_dir():
            os.replace(backup, target)
            done = "put the previous model back: an interrupted run left it aside and its new model is gone"
        else:
            done = "finished the clean-up of a publish that was interrupted (the new model was in place)"
        shutil.rmtree(backup, ignore_errors=True)
        journal.unlink()
        return done
    if backup.is_dir():
        if not target.exists():
            os.replace(backup, target)
            return f"put the previous model back from {backup.name}, where an interrupted publish had left it"
        shutil.rmtree(backup)
        return f"removed {backup.name}, the previous model that an interrupted publish had already replaced"
    return None


def _free_name(path: Path) -> Path:
    """``path``, or ``path-2``, ``path-3``... whichever does not exist yet."""
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate


def _normal_modes(folder: Path) -> None:
    """Give a folder's files and sub-folders the modes a normally created one gets (safetensors >= 0.8 writes
    its files 0600 through a temporary file, so others could not read a shared model folder)."""
    for root, _dirs, files in os.walk(folder):
        os.chmod(root, normal_mode(directory=True))
        for name in files:
            path = os.path.join(root, name)
            if not os.path.islink(path):
                os.chmod(path, normal_mode())


def adapted_from(path: str | Path) -> str | None:
    """The name of the model a folder written by `adapt` was adapted from (None for any other folder)."""
    meta_file = Path(path) / META
    if not meta_file.is_file():
        return None
    adapted = read_json_object(meta_file).get("adapted")
    return adapted.get("base_model") if isinstance(adapted, dict) else None
