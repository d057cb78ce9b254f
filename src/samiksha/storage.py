"""Atomic writes: a finished model or output file is either complete or not there at all."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from .errors import SamikshaError


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


def write_json(path: str | Path, value: object) -> None:
    text = json.dumps(value, indent=2, ensure_ascii=False) + "\n"
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_table(frame: pd.DataFrame, path: str | Path) -> None:
    """Write CSV, TSV, JSONL, Parquet or Excel by suffix, atomically."""
    with TableWriter(path) as writer:
        writer.write(frame)


class TableWriter:
    """Writes a table chunk by chunk to a temporary file and renames it into place on success.

    CSV, TSV, JSONL and Parquet stream in constant memory; XLSX is collected and written at the end.
    ``path`` None or '-' writes CSV to stdout.
    """

    FORMATS = (".csv", ".tsv", ".jsonl", ".parquet", ".xlsx")

    def __init__(self, path: str | Path | None):
        self.stdout = path is None or str(path) == "-"
        self.path = None if self.stdout else Path(path)
        self.suffix = ".csv" if self.stdout else self.path.suffix.lower()
        if self.suffix not in self.FORMATS:
            raise SamikshaError(f"{path}: cannot write '{self.suffix}' files (use {', '.join(self.FORMATS)})")
        self.tmp: Path | None = None
        self.rows = 0
        self._parquet = None
        self._frames: list[pd.DataFrame] = []
        if self.path is not None:
            self.tmp = temp_beside(self.path)

    def write(self, frame: pd.DataFrame) -> None:
        first = self.rows == 0
        self.rows += len(frame)
        if self.stdout:
            import sys

            frame.to_csv(sys.stdout, index=False, header=first)
        elif self.suffix in (".csv", ".tsv"):
            frame.to_csv(self.tmp, index=False, header=first, mode="w" if first else "a",
                         sep="\t" if self.suffix == ".tsv" else ",")
        elif self.suffix == ".jsonl":
            with open(self.tmp, "w" if first else "a", encoding="utf-8") as handle:
                frame.to_json(handle, orient="records", lines=True, force_ascii=False)
        elif self.suffix == ".parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            if self._parquet is None:
                table = pa.Table.from_pandas(frame, preserve_index=False)
                self._parquet = pq.ParquetWriter(self.tmp, table.schema)
            else:
                table = pa.Table.from_pandas(frame, schema=self._parquet.schema, preserve_index=False)
            self._parquet.write_table(table)
        else:
            self._frames.append(frame)

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        if self.suffix == ".xlsx" and self.tmp is not None:
            pd.concat(self._frames).to_excel(self.tmp, index=False, engine="openpyxl")
        if self.tmp is not None:
            os.replace(self.tmp, self.path)

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(self, kind, error, trace) -> None:
        if kind is None:
            self.close()
        else:
            if self._parquet is not None:
                self._parquet.close()
            if self.tmp is not None:
                self.tmp.unlink(missing_ok=True)
