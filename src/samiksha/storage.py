"""Atomic writes: a finished model or output file is either complete or not there at all."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import SamikshaError

if TYPE_CHECKING:  # pandas loads with the first table read or written, not with every command
    import pandas as pd

    from .formats import TableFile


def _umask() -> int:
    """The process's umask, read without changing it where Linux shows it (another thread may be creating files)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    umask = os.umask(0)
    os.umask(umask)
    return umask


def normal_mode(directory: bool = False) -> int:
    """The permissions a normally created file (or folder) gets: 0o644 (0o755) under umask 022."""
    return (0o777 if directory else 0o666) & ~_umask()


def temp_beside(path: Path) -> Path:
    """A new empty file next to ``path``, with the permissions a normally created file would get."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, normal_mode())
    return Path(tmp)


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    tmp = temp_beside(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: str | Path, text: str) -> None:
    """Write a UTF-8 text file atomically."""
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json(path: str | Path, value: object) -> None:
    write_text(path, json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def save_figure(figure, path: str | Path) -> None:
    """Save a matplotlib figure atomically, in the format its suffix names (PNG without one)."""
    fmt = Path(path).suffix.lstrip(".").lower() or "png"
    atomic_write(path, lambda tmp: figure.savefig(tmp, format=fmt))


def _is_stdio(path: object) -> bool:
    return path is None or str(path) in ("", "-")


def _same(output: Path, source: Path) -> bool:
    """Whether two paths name one file or folder: the same path once resolved, or the same inode (a hard link or a
    symlink to it)."""
    if output.resolve() == source.resolve():
        return True
    try:
        return os.path.samefile(output, source)
    except OSError:  # one of them does not exist (yet)
        return False


def refuse_overwriting_inputs(inputs: Iterable[object], outputs: Iterable[object] = (),
                              replaced: Iterable[object] = ()) -> None:
    """Refuse, in one line naming both, an output file that is one of the inputs (by path, symlink or hard link),
    or a folder to be replaced (``replaced``) that is or holds an input. None and '-' (stdin/stdout) are skipped."""
    sources = [Path(str(p)) for p in inputs if not _is_stdio(p)]
    for output in (Path(str(p)) for p in outputs if not _is_stdio(p)):
        for source in sources:
            if _same(output, source):
                same = "" if str(output) == str(source) else " (the same file)"
                raise SamikshaError(f"{output}: the output would overwrite the input {source}{same}; Samiksha never "
                                    "overwrites an input: choose another output")
    for folder in (Path(str(p)) for p in replaced if not _is_stdio(p)):
        for source in sources:
            if _same(folder, source) or source.resolve().is_relative_to(folder.resolve()):
                raise SamikshaError(f"{folder}: would replace the folder holding the input {source}; Samiksha never "
                                    "overwrites an input: choose another output folder")


def write_table(frame: pd.DataFrame, path: str | Path) -> None:
    """Write a table in the format its suffix names (`formats.written`), atomically."""
    with TableWriter(path) as writer:
        writer.write(frame)


class TableWriter:
    """Writes a table chunk by chunk to a temporary file and renames it into place on success.

    Each format of `formats.written` (CSV, TSV, JSONL, Parquet, XLSX) streams in constant memory. ``path`` None or
    '-' writes CSV to stdout. Every format keeps each text exactly (CSV here is for machines and `samiksha train`:
    lossless, no OWASP prefix); in XLSX a text that starts with = + - @ is a text cell with Excel's quote prefix,
    never a live formula.
    """

    def __init__(self, path: str | Path | None):
        from . import formats

        self.stdout = path is None or str(path) == "-"
        self.path = None if self.stdout else Path(path)
        self.suffix = ".csv" if self.stdout else self.path.suffix.lower()
        writable = formats.written()
        if self.suffix not in writable:
            raise SamikshaError(f"{path}: cannot write '{self.suffix}' files (use {', '.join(writable)})")
        self.tmp: Path | None = None
        self.file: TableFile | None = None
        self.rows = 0
        if self.path is not None:
            self.tmp = temp_beside(self.path)
            try:
                self.file = writable[self.suffix].writer(self.tmp)
            except BaseException:
                self.tmp.unlink(missing_ok=True)
                raise

    def write(self, frame: pd.DataFrame) -> None:
        first = self.rows == 0
        self.rows += len(frame)
        if self.stdout:
            import sys

            frame.to_csv(sys.stdout, index=False, header=first)
        else:
            self.file.write(frame)

    def close(self) -> None:
        if self.file is not None:
            self.file.finish()
            os.replace(self.tmp, self.path)

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(self, kind, error, trace) -> None:
        if kind is None:
            self.close()
        elif self.file is not None:
            self.file.abort()
            self.tmp.unlink(missing_ok=True)


def map_file(source: str | Path, target: str | Path | None, frame_fn: Callable, chunk_rows: int = 10_000) -> int:
    """Write ``frame_fn(chunk)`` for each chunk of a file (constant memory for CSV/TSV/JSONL/Parquet); the output
    appears only when complete and is never the source. Returns the number of rows."""
    from .data import iter_table

    refuse_overwriting_inputs([source], [target])
    with TableWriter(target) as writer:
        for chunk in iter_table(source, chunk_rows):
            writer.write(frame_fn(chunk))
    return writer.rows
