"""Atomic writes: a finished model or output file is either complete or not there at all."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
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
    """Write CSV, TSV, JSONL, Parquet or Excel by suffix, atomically."""
    with TableWriter(path) as writer:
        writer.write(frame)


# What a spreadsheet may read as the start of a formula (OWASP's list for CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _xlsx_value(value: object) -> object:
    """A cell value openpyxl can store: numpy scalars as Python ones, missing as empty, anything else as text."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (str, int, float, bool, pd.Timestamp)):
        return value
    return str(value)


class TableWriter:
    """Writes a table chunk by chunk to a temporary file and renames it into place on success.

    CSV, TSV, JSONL, Parquet and XLSX stream in constant memory (XLSX through openpyxl's write-only mode).
    ``path`` None or '-' writes CSV to stdout. Every format keeps each text exactly (CSV here is for machines and
    `samiksha train`: lossless, no OWASP prefix); in XLSX a text that starts with = + - @ is a text cell with
    Excel's quote prefix, never a live formula.
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
        self._workbook = None
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
            self._write_xlsx(frame)

    def _write_xlsx(self, frame: pd.DataFrame) -> None:
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell

        if self._workbook is None:
            self._workbook = Workbook(write_only=True)
        new = not self._workbook.worksheets
        sheet = self._workbook.worksheets[0] if not new else self._workbook.create_sheet("Sheet1")

        def cell(value: object) -> object:
            value = _xlsx_value(value)
            if not isinstance(value, str) or not value.startswith(FORMULA_START):
                return value
            text = WriteOnlyCell(sheet, value=value)
            text.data_type = "s"  # openpyxl takes a leading '=' for a formula: store the text as text
            text.quotePrefix = True  # and Excel keeps it text when the cell is edited
            return text

        if new:
            sheet.append([cell(str(c)) for c in frame.columns])
        for row in frame.itertuples(index=False, name=None):
            sheet.append([cell(v) for v in row])

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        if self.suffix == ".xlsx" and self.tmp is not None:
            if self._workbook is None:
                self._write_xlsx(pd.DataFrame())
            self._workbook.save(self.tmp)
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
