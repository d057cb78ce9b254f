"""The table of file formats: each entry knows its suffixes, how to read it in chunks and how to write it.

`data` (reading), `storage` (writing), `serve` (uploads), `labelpage` (exports) and `raydata` (cluster reads)
look formats up here, so a new format is one `register`ed entry.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import logging
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from .errors import DataError, first_line
from .labels import normalise_raw

log = logging.getLogger(__name__)

SEPARATORS = {",": "comma", ";": ";", "\t": "tab", "|": "|"}
XLSX_MAX_UNZIPPED = 200 * 1024 * 1024  # bytes an .xlsx may unzip to (its parts' declared sizes, which zipfile keeps to)
# What a spreadsheet may read as the start of a formula (OWASP's list for CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class TooManyRows(DataError):
    """A table with more rows than the caller accepts."""


def as_strings(frame: pd.DataFrame) -> pd.DataFrame:
    """Every column name and cell as a stripped string ('' for missing)."""
    frame.columns = [str(c) for c in frame.columns]
    return frame.astype(object).map(normalise_raw) if len(frame) else frame.astype(object)


class TableFile:
    """Writes one format to a new file, a chunk at a time (`storage.TableWriter` owns the file's temporary name)."""

    def __init__(self, path: Path):
        self.path = path
        self.started = False

    def write(self, frame: pd.DataFrame) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """Complete the file."""

    def abort(self) -> None:
        """Let go of an unfinished file."""


class Format:
    """One file format. Subclass it (``name``, ``suffixes``, `chunks`, and `writer` if it can be written), then
    `register` an instance.

    ``suffixes``: the first is the one written. ``streams``: read in constant memory (else read whole and handed
    out in slices). ``random_access``: read from a seekable stream only. ``labelled``: can hold a label beside each
    text. ``header``: the first line names the columns, so the first data row is row 2, as a spreadsheet counts.
    ``folder``: the input is a folder, not a file.
    """

    name = ""
    suffixes: tuple[str, ...] = ()
    description = ""
    media_type = "application/octet-stream"
    streams = True
    random_access = False
    labelled = True
    header = False
    folder = False

    def chunks(self, stream: BinaryIO, path: object, chunk_rows: int) -> Iterator[pd.DataFrame]:
        """Frames of up to ``chunk_rows`` rows from an open binary stream, cells as read."""
        raise NotImplementedError(f"{self.name} files cannot be read")

    def read(self, path: Path) -> pd.DataFrame:
        """The whole table of a file (or folder), cells as read."""
        with open(path, "rb") as stream:
            frames = list(self.chunks(stream, path, 100_000))
        return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0] if frames else pd.DataFrame()

    def read_bounded(self, stream: BinaryIO, path: object, max_rows: int, chunk_rows: int) -> pd.DataFrame:
        """At most about ``max_rows`` + one chunk decoded before refusing with `TooManyRows`."""
        chunks, rows = [], 0
        for chunk in self.chunks(stream, path, min(chunk_rows, max_rows + 1)):
            rows += len(chunk)
            if rows > max_rows:
                raise TooManyRows(path, f"has more than {max_rows:,} rows")
            chunks.append(as_strings(chunk))
        if not chunks:
            raise DataError(path, "is empty")
        return pd.concat(chunks, ignore_index=True) if len(chunks) > 1 else chunks[0]

    def is_folder(self, path: Path) -> bool:
        """Whether a folder holds this format (for ``folder`` formats)."""
        return False

    @property
    def uploads(self) -> tuple[str, ...]:
        """The suffixes a server accepts in an upload (read with `read_bounded`)."""
        return () if self.folder else self.suffixes

    def rows(self, path: Path) -> int | None:
        """Rows of a file without loading it (at least its rows), or None when unknown."""
        return None

    def writer(self, path: Path) -> TableFile:
        """A writer of this format into the new file ``path`` (a format that does not override it is read only)."""
        raise NotImplementedError(f"{self.name} files cannot be written")


FORMATS: dict[str, Format] = {}


def register(fmt: Format) -> Format:
    """Add a format to the table (replacing one of the same name); its suffixes then read and write it."""
    FORMATS[fmt.name] = fmt
    return fmt


def by_suffix(suffix: str) -> Format | None:
    """The file format for a suffix ('.csv'), any case."""
    suffix = suffix.lower()
    return next((f for f in FORMATS.values() if not f.folder and suffix in f.suffixes), None)


def file_suffixes() -> list[str]:
    """Every suffix a file can be read by."""
    return sorted(s for f in FORMATS.values() if not f.folder for s in f.suffixes)


def written() -> dict[str, Format]:
    """Suffix written -> format, for every format with a writer."""
    return {f.suffixes[0]: f for f in FORMATS.values() if f.suffixes and type(f).writer is not Format.writer}


def for_path(path: Path) -> Format:
    """The format of an existing path: a folder's by its files, a file's by its suffix."""
    if path.is_dir():
        found = next((f for f in FORMATS.values() if f.folder and f.is_folder(path)), None)
        if found is None:
            raise DataError(path, "is a folder but not a dataset saved with datasets.save_to_disk")
        return found
    found = by_suffix(path.suffix)
    if found is None:
        raise DataError(path, f"unsupported file type '{path.suffix}' (use one of {', '.join(file_suffixes())})")
    return found


def line_count(path: Path) -> int:
    """Line ends in a file, counted in blocks."""
    lines = 0
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            lines += block.count(b"\n")
    return lines


# --- text formats: CSV, TSV, JSONL, one review per line ----------------------------------------------------------

def utf8_error(path: object, raw: bytes, err: UnicodeDecodeError) -> DataError:
    line = raw[: err.start].count(b"\n") + 1
    return DataError(path, f"is not UTF-8 text (byte 0x{raw[err.start]:02x} on line {line}); save it as UTF-8",
                     row=None)


def peek_text(stream: BinaryIO, size: int = 65536) -> str:
    """The first bytes of a buffered stream as text, without consuming them ('' when it cannot peek)."""
    try:
        head = stream.peek(size)[:size]
    except (AttributeError, OSError, ValueError):
        return ""
    return head.decode("utf-8-sig", errors="ignore")


class TextFormat(Format):
    """UTF-8 text, read from its decoded lines (`from_lines`): whole, saying on which line a problem is, or streamed."""

    def from_lines(self, lines: Iterable[str], chunk_rows: int, path: object) -> Iterator[pd.DataFrame]:
        """Frames of up to ``chunk_rows`` rows from the decoded lines (line ends kept)."""
        raise NotImplementedError

    def parse(self, text: str, path: object) -> pd.DataFrame:
        """The table in a whole decoded text."""
        frames = list(self.from_lines(io.StringIO(text, newline=""), sys.maxsize, path))
        return frames[0] if frames else pd.DataFrame()

    def decode(self, raw: bytes, path: object) -> pd.DataFrame:
        """The table in a whole file's bytes (which must be UTF-8 and not blank)."""
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise utf8_error(path, raw, err) from None
        if not text.strip():
            raise DataError(path, "is empty")
        return self.parse(text, path)

    def read(self, path: Path) -> pd.DataFrame:
        return self.decode(path.read_bytes(), path)

    def chunks(self, stream: BinaryIO, path: object, chunk_rows: int) -> Iterator[pd.DataFrame]:
        return self.decoded(stream, path, lambda lines: self.from_lines(lines, chunk_rows, path))

    @staticmethod
    def decoded(stream: BinaryIO, path: object,
                read: Callable[[io.TextIOBase], Iterator[pd.DataFrame]]) -> Iterator[pd.DataFrame]:
        """``read``'s frames from the stream decoded as UTF-8; a byte that is not UTF-8 is one line."""
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
        try:
            yield from read(text)
        except UnicodeDecodeError as err:
            raise DataError(path, f"is not UTF-8 text (byte 0x{err.object[err.start]:02x}); save it as UTF-8"
                            ) from None
        finally:
            text.detach()  # the caller owns the stream

    def read_bounded(self, stream: BinaryIO, path: object, max_rows: int, chunk_rows: int) -> pd.DataFrame:
        if not stream.read(4096).strip():
            raise DataError(path, "is empty")
        stream.seek(0)
        return super().read_bounded(stream, path, max_rows, chunk_rows)

    def rows(self, path: Path) -> int:
        return max(line_count(path) - self.header, 0)


def separator(path: object, head: str, fmt: str) -> str:
    """The separator of a CSV or TSV file from its first lines: the one its suffix names, unless the header lacks
    it and csv.Sniffer finds another one (;, tab, comma or |) that the header has."""
    expected = "\t" if fmt == "tsv" else ","
    header = head.split("\n", 1)[0]
    if expected in header:
        return expected
    try:
        found = csv.Sniffer().sniff(head, delimiters="".join(SEPARATORS)).delimiter
    except csv.Error:
        return expected
    if found == expected or found not in header:
        return expected
    log.info("%s: reading it as %s-separated (its header has no %s)", path, SEPARATORS[found], SEPARATORS[expected])
    return found


def csv_problem(path: object, lines: Iterable[str], sep: str, fmt: str) -> DataError | None:
    """Where a CSV/TSV that the parser refused really goes wrong, read again with Python's csv module: the row whose
    quote never closes, or the first row with more fields than the header (and the quoted field before it that
    swallowed line ends, the usual cause). Rows are counted as a spreadsheet does (the header is row 1)."""
    reader = csv.reader(lines, delimiter=sep)
    start, width, spanning = 1, None, None
    for number, record in enumerate(reader, 1):
        end = reader.line_num
        if width is None:
            width = len(record)
        if end > start and any("\n" in field for field in record):
            spanning = (number, start, end)
        if len(record) > width:
            where = f"line {start} has " if start != number else ""
            message = f"cannot be read as {fmt}: {where}{len(record)} fields where the header has {width}"
            if spanning is not None:
                message += (f"; a quoted field opened on line {spanning[1]} runs to line {spanning[2]}: "
                            "check the quotes there")
            else:
                message += (f"; a text with a {SEPARATORS[sep] if sep != ',' else 'comma'} in it must be in double "
                            "quotes")
            return DataError(path, message, row=number)
        start = end + 1
    if spanning is not None and spanning[2] == start - 1:
        number, first, _ = spanning
        return DataError(path, f"cannot be read as {fmt}: the quote opened on line {first} never closes (it runs to "
                               "the end of the file); check the quotes in this row", row=number)
    return None


def parse_error(path: object, fmt: str, err: Exception, lines: Iterable[str] | None = None,
                sep: str = ",") -> DataError:
    """A CSV/TSV reader's error as one line: where the file really goes wrong when ``lines`` can be read again,
    else the reader's own message."""
    if lines is not None:
        found = csv_problem(path, lines, sep, fmt)
        if found is not None:
            return found
    message = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
    match = re.search(r"line (\d+)", message)
    return DataError(path, f"cannot be read as {fmt}: {message}", row=int(match.group(1)) if match else None)


class Delimited(TextFormat):
    """CSV or TSV: a header row, then one row per line (quoted fields may hold line ends). The separator is
    sniffed when the header lacks the expected one; a file the parser refuses is read again to say where."""

    header = True

    def __init__(self, name: str, suffixes: tuple[str, ...], sep: str, media_type: str, description: str):
        self.name, self.suffixes, self.sep, self.media_type = name, suffixes, sep, media_type
        self.description = description

    def parse(self, text: str, path: object) -> pd.DataFrame:
        sep = separator(path, text[:65536], self.name)
        try:
            return pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, skip_blank_lines=True)
        except Exception as err:
            raise parse_error(path, self.name, err, io.StringIO(text, newline=""), sep) from None

    def chunks(self, stream: BinaryIO, path: object, chunk_rows: int) -> Iterator[pd.DataFrame]:
        sep = separator(path, peek_text(stream), self.name)
        try:
            yield from self.decoded(stream, path, lambda lines: pd.read_csv(
                lines, sep=sep, dtype=str, keep_default_na=False, chunksize=chunk_rows))
        except pd.errors.EmptyDataError:
            raise DataError(path, "is empty") from None
        except (ValueError, pd.errors.ParserError) as err:
            if isinstance(path, Path) and path.is_file():  # read it again to say where it goes wrong
                with open(path, encoding="utf-8-sig", errors="replace", newline="") as again:
                    raise parse_error(path, self.name, err, again, sep) from None
            raise parse_error(path, self.name, err) from None

    def writer(self, path: Path) -> TableFile:
        return DelimitedFile(path, self.sep)


class DelimitedFile(TableFile):
    def __init__(self, path: Path, sep: str):
        super().__init__(path)
        self.sep = sep

    def write(self, frame: pd.DataFrame) -> None:
        frame.to_csv(self.path, index=False, header=not self.started, mode="a" if self.started else "w",
                     sep=self.sep)
        self.started = True


def json_array(text: str, chunk_rows: int, path: object) -> Iterator[pd.DataFrame]:
    """Frames of up to ``chunk_rows`` rows from a whole JSON array of objects; an array of Label Studio tasks is
    flattened by `labeltools.tasks_frame` (its data, label, annotator and labelled_at)."""
    from . import labeltools

    try:
        records = json.loads(text)
    except ValueError as err:
        raise DataError(path, f"cannot be read as JSON: {err}", row=getattr(err, "lineno", None)) from None
    odd = next((i for i, r in enumerate(records) if not isinstance(r, dict)), None)
    if odd is not None:
        raise DataError(path, f"cannot be read as JSON: item {odd + 1} of the array is a JSON "
                              f"{type(records[odd]).__name__}, not an object", row=odd + 1)
    frame = labeltools.tasks_frame(records) if labeltools.is_tasks(records) else pd.DataFrame.from_records(records)
    for start in range(0, len(frame), chunk_rows):
        yield frame.iloc[start:start + chunk_rows]


class JsonLines(TextFormat):
    """One JSON object per line (Python's json: each value kept as written, no type guessing); or, where the file
    starts with '[', one JSON array of objects, read whole (Label Studio's exports)."""

    name, suffixes, media_type = "jsonl", (".jsonl", ".json", ".ndjson"), "application/x-ndjson"
    description = "one JSON object per line, or a JSON array (Label Studio tasks)"

    def from_lines(self, lines: Iterable[str], chunk_rows: int, path: object) -> Iterator[pd.DataFrame]:
        """Frames of up to ``chunk_rows`` JSON objects, one per non-blank line; a line that is not a JSON object is
        refused by its number. A file whose first non-blank line starts with '[' is one JSON array (`json_array`)."""
        lines = iter(lines)
        head: list[str] = []
        for line in lines:
            head.append(line)
            if line.strip():
                break
        if head and head[-1].lstrip().startswith("["):
            yield from json_array("".join(head) + "".join(lines), chunk_rows, path)
            return
        records: list[dict] = []
        for number, line in enumerate(itertools.chain(head, lines), 1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except ValueError as err:
                raise DataError(path, f"cannot be read as jsonl: line {number} is not JSON ({err})",
                                row=number) from None
            if not isinstance(value, dict):
                raise DataError(path, f"cannot be read as jsonl: line {number} is a JSON {type(value).__name__}, "
                                      "not an object; JSONL holds one {\"text\": ...} object per line", row=number)
            records.append(value)
            if len(records) == chunk_rows:
                yield pd.DataFrame.from_records(records)
                records = []
        if records:
            yield pd.DataFrame.from_records(records)

    def rows(self, path: Path) -> int | None:
        with open(path, "rb") as handle:
            array = handle.read(4096).decode("utf-8-sig", errors="ignore").lstrip().startswith("[")
        return None if array else super().rows(path)

    def writer(self, path: Path) -> TableFile:
        return JsonLinesFile(path)


class JsonLinesFile(TableFile):
    def write(self, frame: pd.DataFrame) -> None:
        with open(self.path, "a" if self.started else "w", encoding="utf-8") as handle:
            frame.to_json(handle, orient="records", lines=True, force_ascii=False)
        self.started = True


class Lines(TextFormat):
    """Plain text, one review per line, in a column ``text`` (blank lines skipped; no header, so no labels)."""

    name, suffixes, media_type = "text", (".txt",), "text/plain; charset=utf-8"
    description = "one review per line"
    labelled = False

    def from_lines(self, lines: Iterable[str], chunk_rows: int, path: object) -> Iterator[pd.DataFrame]:
        texts: list[str] = []
        for line in lines:
            if line.strip():
                texts.append(line)
            if len(texts) == chunk_rows:
                yield pd.DataFrame({"text": texts})
                texts = []
        if texts:
            yield pd.DataFrame({"text": texts})

    def rows(self, path: Path) -> int:
        with open(path, "rb") as handle:
            return sum(1 for line in handle if line.strip())


# --- binary formats ------------------------------------------------------------------------------------------------

def _broken(path: object, fmt: str, err: Exception) -> DataError:
    return DataError(path, f"cannot be read as {fmt}: {first_line(err)}")


class Parquet(Format):
    """Apache Parquet, read in record batches (the stream must be seekable)."""

    name, suffixes, media_type = "parquet", (".parquet", ".pq"), "application/vnd.apache.parquet"
    description = "Apache Parquet"
    random_access = True

    def chunks(self, stream: BinaryIO, path: object, chunk_rows: int) -> Iterator[pd.DataFrame]:
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(stream).iter_batches(batch_size=chunk_rows):
            yield batch.to_pandas()

    def read(self, path: Path) -> pd.DataFrame:
        return pd.read_parquet(path)

    def read_bounded(self, stream: BinaryIO, path: object, max_rows: int, chunk_rows: int) -> pd.DataFrame:
        import pyarrow.parquet as pq

        try:
            rows = pq.ParquetFile(stream).metadata.num_rows
        except Exception as err:  # pyarrow raises several types for a broken file
            raise _broken(path, self.name, err) from None
        if rows > max_rows:
            raise TooManyRows(path, f"has more than {max_rows:,} rows")
        stream.seek(0)
        return super().read_bounded(stream, path, max_rows, chunk_rows)

    def rows(self, path: Path) -> int:
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows

    def writer(self, path: Path) -> TableFile:
        return ParquetFile(path)


class ParquetFile(TableFile):
    def __init__(self, path: Path):
        super().__init__(path)
        self.parquet = None

    def write(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self.parquet is None:
            table = pa.Table.from_pandas(frame, preserve_index=False)
            self.parquet = pq.ParquetWriter(self.path, table.schema)
        else:
            table = pa.Table.from_pandas(frame, schema=self.parquet.schema, preserve_index=False)
        self.parquet.write_table(table)

    def finish(self) -> None:
        self.abort()

    def abort(self) -> None:
        if self.parquet is not None:
            self.parquet.close()


class Excel(Format):
    """Excel workbooks (the first sheet), read whole; written in openpyxl's write-only mode."""

    name, suffixes = "excel", (".xlsx", ".xls")
    media_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    description = "Excel workbook (first sheet)"
    streams, header = False, True
    uploads = (".xlsx",)  # an .xls is no zip file, so its unpacked size cannot be checked before reading

    def chunks(self, stream: BinaryIO, path: object, chunk_rows: int) -> Iterator[pd.DataFrame]:
        frame = pd.read_excel(stream, dtype=object)
        for start in range(0, len(frame), chunk_rows):
            yield frame.iloc[start:start + chunk_rows]

    def read(self, path: Path) -> pd.DataFrame:
        return pd.read_excel(path, dtype=object)

    def read_bounded(self, stream: BinaryIO, path: object, max_rows: int, chunk_rows: int) -> pd.DataFrame:
        import zipfile

        try:
            unzipped = sum(part.file_size for part in zipfile.ZipFile(stream).infolist())
        except (zipfile.BadZipFile, OSError, ValueError):
            raise DataError(path, "cannot be read as excel: not an .xlsx file") from None
        if unzipped > XLSX_MAX_UNZIPPED:
            raise DataError(path, f"unzips to {unzipped:,} bytes; at most {XLSX_MAX_UNZIPPED:,} are read")
        stream.seek(0)
        try:
            frame = pd.read_excel(stream, dtype=object, nrows=max_rows + 1)
        except Exception as err:
            raise _broken(path, self.name, err) from None
        if len(frame) > max_rows:
            raise TooManyRows(path, f"has more than {max_rows:,} rows")
        return as_strings(frame)

    def writer(self, path: Path) -> TableFile:
        return ExcelFile(path)


def _xlsx_value(value: object) -> object:
    """A cell value openpyxl can store: numpy scalars as Python ones, missing as empty, anything else as text."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (str, int, float, bool, pd.Timestamp)):
        return value
    return str(value)


class ExcelFile(TableFile):
    """XLSX in openpyxl's write-only mode (constant memory); a text that starts with = + - @ is a text cell with
    Excel's quote prefix, never a live formula."""

    def __init__(self, path: Path):
        from openpyxl import Workbook

        super().__init__(path)
        self.workbook = Workbook(write_only=True)
        self.sheet = self.workbook.create_sheet("Sheet1")

    def cell(self, value: object) -> object:
        from openpyxl.cell import WriteOnlyCell

        value = _xlsx_value(value)
        if not isinstance(value, str) or not value.startswith(FORMULA_START):
            return value
        text = WriteOnlyCell(self.sheet, value=value)
        text.data_type = "s"  # openpyxl takes a leading '=' for a formula: store the text as text
        text.quotePrefix = True  # and Excel keeps it text when the cell is edited
        return text

    def write(self, frame: pd.DataFrame) -> None:
        if not self.started:
            self.sheet.append([self.cell(str(c)) for c in frame.columns])
            self.started = True
        for row in frame.itertuples(index=False, name=None):
            self.sheet.append([self.cell(v) for v in row])

    def finish(self) -> None:
        if not self.started:
            self.write(pd.DataFrame())
        self.workbook.save(self.path)


class DatasetsFolder(Format):
    """A folder written by `datasets` ``save_to_disk`` (a DatasetDict: its 'train' split, else its first)."""

    name, description = "hf", "a folder saved with datasets' save_to_disk"
    streams, folder = False, True

    def is_folder(self, path: Path) -> bool:
        return (path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists()

    def read(self, path: Path) -> pd.DataFrame:
        import datasets

        loaded = datasets.load_from_disk(str(path))
        if isinstance(loaded, datasets.DatasetDict):
            split = "train" if "train" in loaded else next(iter(loaded))
            log.info("%s: using the '%s' split of %s", path, split, list(loaded))
            loaded = loaded[split]
        return loaded.to_pandas()


for _entry in (
    Delimited("csv", (".csv",), ",", "text/csv; charset=utf-8", "comma-separated, a header row (; | tab sniffed)"),
    Delimited("tsv", (".tsv",), "\t", "text/tab-separated-values; charset=utf-8", "tab-separated, a header row"),
    JsonLines(), Lines(), Parquet(), Excel(), DatasetsFolder(),
):
    register(_entry)
