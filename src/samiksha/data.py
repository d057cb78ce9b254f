"""Reading labelled reviews (CSV, TSV, JSONL, Parquet, Excel, `datasets` folders), validation and splits."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from .errors import DataError
from .labels import LabelSchema, choose_kind, describe_kind, normalise_raw, parse_label
from .scripts import script_mix

log = logging.getLogger("samiksha")

TEXT_COLUMNS = ("text", "review", "review_text", "reviews", "comment", "content", "sentence", "body")
LABEL_COLUMNS = ("label", "labels", "sentiment", "rating", "ratings", "stars", "star_rating", "class")
SEPARATORS = {",": "comma", ";": ";", "\t": "tab", "|": "|"}
SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".txt": "tsv", ".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl",
            ".parquet": "parquet", ".pq": "parquet", ".xlsx": "excel", ".xls": "excel"}
MIN_PER_CLASS = 10
SMALL_DATA = 100


def file_format(path: Path) -> str:
    """The reader for a path: by suffix, or 'hf' for a `save_to_disk` folder."""
    if path.is_dir():
        if (path / "dataset_info.json").exists() or (path / "dataset_dict.json").exists():
            return "hf"
        raise DataError(path, "is a folder but not a dataset saved with datasets.save_to_disk")
    fmt = SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise DataError(path, f"unsupported file type '{path.suffix}' (use one of {', '.join(sorted(SUFFIXES))})")
    return fmt


def first_row_number(fmt: str) -> int:
    """The row number users see for the first data row: spreadsheet rows count the header, JSONL lines do not."""
    return 1 if fmt in ("jsonl", "parquet", "hf") else 2


def _utf8_error(path: object, raw: bytes, err: UnicodeDecodeError) -> DataError:
    line = raw[: err.start].count(b"\n") + 1
    return DataError(path, f"is not UTF-8 text (byte 0x{raw[err.start]:02x} on line {line}); save it as UTF-8",
                     row=None)


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a table of any supported format with every cell as a string ('-' reads CSV from stdin)."""
    if str(path) == "-":
        raw = sys.stdin.buffer.read()
        return _read_text_table("<stdin>", raw, "csv")
    path = Path(path)
    if not path.exists():
        raise DataError(path, "no such file or folder")
    fmt = file_format(path)
    try:
        if fmt in ("csv", "tsv", "jsonl"):
            return _read_text_table(path, path.read_bytes(), fmt)
        if fmt == "parquet":
            frame = pd.read_parquet(path)
        elif fmt == "excel":
            frame = pd.read_excel(path, dtype=object)
        else:
            import datasets

            loaded = datasets.load_from_disk(str(path))
            if isinstance(loaded, datasets.DatasetDict):
                split = "train" if "train" in loaded else next(iter(loaded))
                log.info("%s: using the '%s' split of %s", path, split, list(loaded))
                loaded = loaded[split]
            frame = loaded.to_pandas()
    except DataError:
        raise
    except Exception as err:  # readers raise many types; the user needs one line
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DataError(path, f"cannot be read as {fmt}: {first}") from None
    return _as_strings(frame)


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


def _csv_problem(path: object, lines: Iterable[str], sep: str, fmt: str) -> DataError | None:
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


def _jsonl_chunks(lines: Iterable[str], chunk_rows: int, path: object) -> Iterator[pd.DataFrame]:
    """Frames of up to ``chunk_rows`` JSON objects, one per non-blank line (Python's json: each value kept as
    written, no type guessing); a line that is not a JSON object is refused by its number."""
    records: list[dict] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as err:
            raise DataError(path, f"cannot be read as jsonl: line {number} is not JSON ({err})", row=number) from None
        if not isinstance(value, dict):
            raise DataError(path, f"cannot be read as jsonl: line {number} is a JSON {type(value).__name__}, not an "
                                  "object; JSONL holds one {\"text\": ...} object per line", row=number)
        records.append(value)
        if len(records) == chunk_rows:
            yield _as_strings(pd.DataFrame.from_records(records))
            records = []
    if records:
        yield _as_strings(pd.DataFrame.from_records(records))


def _parse_error(path: object, fmt: str, err: Exception, lines: Iterable[str] | None = None,
                 sep: str = ",") -> DataError:
    """A CSV/TSV reader's error as one line: where the file really goes wrong when ``lines`` can be read again,
    else the reader's own message."""
    if lines is not None:
        found = _csv_problem(path, lines, sep, fmt)
        if found is not None:
            return found
    message = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
    match = re.search(r"line (\d+)", message)
    return DataError(path, f"cannot be read as {fmt}: {message}", row=int(match.group(1)) if match else None)


def _read_text_table(path: object, raw: bytes, fmt: str) -> pd.DataFrame:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise _utf8_error(path, raw, err) from None
    if not text.strip():
        raise DataError(path, "is empty")
    if fmt == "jsonl":
        chunks = list(_jsonl_chunks(io.StringIO(text), sys.maxsize, path))
        return chunks[0] if chunks else pd.DataFrame()
    sep = separator(path, text[:65536], fmt)
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, skip_blank_lines=True)
    except Exception as err:
        raise _parse_error(path, fmt, err, io.StringIO(text, newline=""), sep) from None
    return _as_strings(frame)


def iter_table(path: str | Path, chunk_rows: int = 10_000) -> Iterator[pd.DataFrame]:
    """Read a table in chunks of string cells, in constant memory for CSV, TSV, JSONL and Parquet."""
    if str(path) == "-":
        yield from read_chunks(sys.stdin.buffer, "csv", chunk_rows, path)
        return
    path = Path(path)
    if not path.exists():
        raise DataError(path, "no such file or folder")
    fmt = file_format(path)
    if fmt in ("excel", "hf"):  # not streamable: read whole, hand out in slices
        frame = read_table(path)
        for start in range(0, len(frame), chunk_rows):
            yield frame.iloc[start:start + chunk_rows]
        return
    with open(path, "rb") as stream:
        yield from read_chunks(stream, fmt, chunk_rows, path)


def read_chunks(stream: BinaryIO, fmt: str, chunk_rows: int, path: object) -> Iterator[pd.DataFrame]:
    """Chunks of string cells from an open binary stream of CSV, TSV or JSONL (or a seekable one of Parquet)."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(stream).iter_batches(batch_size=chunk_rows):
            yield _as_strings(batch.to_pandas())
        return
    sep = "" if fmt == "jsonl" else separator(path, _peek_text(stream), fmt)
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    try:
        if fmt == "jsonl":
            yield from _jsonl_chunks(text, chunk_rows, path)
            return
        for chunk in pd.read_csv(text, sep=sep, dtype=str, keep_default_na=False, chunksize=chunk_rows):
            yield _as_strings(chunk)
    except UnicodeDecodeError as err:
        raise DataError(path, f"is not UTF-8 text (byte 0x{err.object[err.start]:02x}); save it as UTF-8") from None
    except pd.errors.EmptyDataError:
        raise DataError(path, "is empty") from None
    except (ValueError, pd.errors.ParserError) as err:
        if isinstance(path, Path) and path.is_file():  # read it again to say where it goes wrong
            with open(path, encoding="utf-8-sig", errors="replace", newline="") as again:
                raise _parse_error(path, fmt, err, again, sep) from None
        raise _parse_error(path, fmt, err) from None
    finally:
        text.detach()  # the caller owns the stream


def _peek_text(stream: BinaryIO, size: int = 65536) -> str:
    """The first bytes of a buffered stream as text, without consuming them ('' when it cannot peek)."""
    try:
        head = stream.peek(size)[:size]
    except (AttributeError, OSError, ValueError):
        return ""
    return head.decode("utf-8-sig", errors="ignore")


XLSX_MAX_UNZIPPED = 200 * 1024 * 1024  # bytes an .xlsx may unzip to (its parts' declared sizes, which zipfile keeps to)


class TooManyRows(DataError):
    """A table with more rows than the caller accepts."""


def read_bounded(stream: BinaryIO, fmt: str, max_rows: int, path: object, chunk_rows: int = 10_000) -> pd.DataFrame:
    """A whole table of string cells from a seekable binary stream, decoding at most about ``max_rows`` + one chunk
    before refusing with `TooManyRows`: a small compressed file cannot unpack into millions of rows in memory."""
    too_many = TooManyRows(path, f"has more than {max_rows:,} rows")
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            rows = pq.ParquetFile(stream).metadata.num_rows
        except Exception as err:  # pyarrow raises several types for a broken file
            raise DataError(path, f"cannot be read as parquet: {str(err).splitlines()[0] if str(err) else err!r}"
                            ) from None
        if rows > max_rows:
            raise too_many
        stream.seek(0)
    if fmt == "excel":
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
            raise DataError(path, f"cannot be read as excel: {str(err).splitlines()[0] if str(err) else err!r}"
                            ) from None
        if len(frame) > max_rows:
            raise too_many
        return _as_strings(frame)
    if fmt in ("csv", "tsv", "jsonl") and not stream.read(4096).strip():
        raise DataError(path, "is empty")
    stream.seek(0)
    chunks, rows = [], 0
    for chunk in read_chunks(stream, fmt, min(chunk_rows, max_rows + 1), path):
        rows += len(chunk)
        if rows > max_rows:
            raise too_many
        chunks.append(chunk)
    if not chunks:
        raise DataError(path, "is empty")
    return pd.concat(chunks, ignore_index=True) if len(chunks) > 1 else chunks[0]


def count_rows(path: str | Path) -> int | None:
    """Rows in a file without loading it (line count for text formats), or None when unknown."""
    if str(path) == "-":
        return None
    path = Path(path)
    if not path.exists():
        raise DataError(path, "no such file or folder")
    fmt = file_format(path)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    if fmt not in ("csv", "tsv", "jsonl"):
        return None
    lines = 0
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            lines += block.count(b"\n")
    return max(lines - (fmt != "jsonl"), 0)


def _as_strings(frame: pd.DataFrame) -> pd.DataFrame:
    frame.columns = [str(c) for c in frame.columns]
    return frame.astype(object).map(normalise_raw) if len(frame) else frame.astype(object)


def find_column(frame: pd.DataFrame, wanted: str | None, candidates: tuple[str, ...], role: str,
                path: object) -> str:
    """The column named ``wanted``, or the first known name for ``role`` (case-insensitive)."""
    columns = list(frame.columns)
    if wanted is not None:
        if wanted in columns:
            return wanted
        lowered = {c.lower(): c for c in columns}
        if wanted.lower() in lowered:
            return lowered[wanted.lower()]
        raise DataError(path, f"has no {role} column '{wanted}' (columns: {', '.join(columns)})")
    lowered = {c.strip().lower(): c for c in columns}
    for name in candidates:
        if name in lowered:
            return lowered[name]
    odd = next((name for sep, name in SEPARATORS.items() if sep != "," and any(sep in c for c in columns)), None)
    hint = f"; the header looks {odd}-separated: save the file with commas between columns" if odd else ""
    raise DataError(path, f"no {role} column found among {', '.join(columns)}; "
                          f"name it with --{role}-column (looked for {', '.join(candidates)}){hint}")


@dataclass
class LabelledData:
    """Texts and label names read from one file, with what is needed to report on it."""

    texts: list[str]
    labels: list[str]
    source: str
    text_column: str
    label_column: str
    label_kind: str
    rows: list[int] = field(default_factory=list)
    fingerprint: str = ""

    def __len__(self) -> int:
        return len(self.texts)

    def counts(self) -> dict[str, int]:
        return dict(Counter(self.labels))

    def subset(self, indices: list[int]) -> LabelledData:
        return LabelledData([self.texts[i] for i in indices], [self.labels[i] for i in indices], self.source,
                            self.text_column, self.label_column, self.label_kind,
                            [self.rows[i] for i in indices], self.fingerprint)

    def mapped(self, clean: Callable[[str], str]) -> LabelledData:
        """The same data with each text through ``clean``."""
        return replace(self, texts=[clean(t) for t in self.texts])

    def describe(self) -> dict:
        return {"source": self.source, "rows": len(self), "text_column": self.text_column,
                "label_column": self.label_column, "label_kind": self.label_kind,
                "label_counts": self.counts(), "script_mix": script_mix(self.texts), "sha256": self.fingerprint}


def fingerprint(path: str | Path) -> str:
    """sha256 of a file, or of every file in a folder in name order."""
    path = Path(path)
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        digest.update(file.read_bytes())
    return digest.hexdigest()


def load_labelled(path: str | Path, text_column: str | None = None, label_column: str | None = None,
                  schema: LabelSchema | None = None, label_scheme: str | None = None) -> LabelledData:
    """Read a labelled file; with ``schema``, every label must be one of its names. ``label_scheme`` (auto, stars
    or ids) says how numbers read; by guess, the mapping used is logged, as a warning when both readings fit."""
    frame = read_table(path)
    if frame.empty:
        raise DataError(path, "has no data rows")
    fmt = "csv" if str(path) == "-" else file_format(Path(path))
    text_col = find_column(frame, text_column, TEXT_COLUMNS, "text", path)
    label_col = find_column(frame, label_column, LABEL_COLUMNS, "label", path)
    if text_column is None or label_column is None:
        log.info("%s: text column '%s', label column '%s'", path, text_col, label_col)
    first = first_row_number(fmt)
    raw_labels = frame[label_col].tolist()
    kind, note, ambiguous = choose_kind(raw_labels, label_col, label_scheme)
    if note is not None:
        log.log(logging.WARNING if ambiguous else logging.INFO, "%s: %s", path, note)
    if schema is not None and kind == "custom":
        # A custom model's names are matched as written; sentiment models also accept any sentiment spelling.
        kind = "custom" if not set(schema.names) <= {"negative", "neutral", "positive"} else "sentiment"
    texts, labels, rows = [], [], []
    skipped_text = skipped_label = 0
    for i, (text, raw) in enumerate(zip(frame[text_col].tolist(), raw_labels)):
        if not raw:
            skipped_label += 1
            continue
        name = parse_label(raw, kind)
        if name is None or (schema is not None and name not in schema.names):
            expected = ", ".join(schema.names) if schema is not None else describe_kind(kind)
            raise DataError(path, f"unknown label '{raw}' (expected {expected})", row=first + i, column=label_col)
        if not text:
            skipped_text += 1
            continue
        texts.append(text)
        labels.append(name)
        rows.append(first + i)
    if skipped_label:
        log.warning("%s: skipped %d row(s) with an empty '%s'", path, skipped_label, label_col)
    if skipped_text:
        log.warning("%s: skipped %d row(s) with an empty '%s'", path, skipped_text, text_col)
    if not texts:
        raise DataError(path, f"has no rows with both a text ('{text_col}') and a label ('{label_col}')")
    digest = fingerprint(path) if str(path) != "-" else ""
    return LabelledData(texts, labels, str(path), text_col, label_col, kind, rows, digest)


def normalise_text(text: str) -> str:
    """Case- and whitespace-insensitive key for duplicate checks."""
    return " ".join(text.casefold().split())


def check_training_data(data: LabelledData) -> None:
    """Refuse one-class data and classes too small to split; warn about small data and conflicting duplicates."""
    counts = Counter(data.labels)
    if len(counts) < 2:
        raise DataError(data.source, f"has only one class ({next(iter(counts))}); at least two are needed",
                        column=data.label_column)
    if len(data) < SMALL_DATA:
        log.warning("%s: only %d labelled rows; expect noisy results (a few hundred per class is a good start)",
                    data.source, len(data))
    for name, count in sorted(counts.items()):
        if count < MIN_PER_CLASS:
            log.warning("%s: class '%s' has only %d example(s); it will be learned poorly", data.source, name, count)
    short = sum(len(t) < 3 for t in data.texts)
    if short:
        log.warning("%s: %d text(s) are shorter than 3 characters", data.source, short)
    by_text: dict[str, set[str]] = defaultdict(set)
    first_row: dict[str, int] = {}
    for text, label, row in zip(data.texts, data.labels, data.rows):
        key = normalise_text(text)
        by_text[key].add(label)
        first_row.setdefault(key, row)
    conflicts = [k for k, v in by_text.items() if len(v) > 1]
    if conflicts:
        example = conflicts[0]
        log.warning("%s: %d text(s) appear with conflicting labels, e.g. row %d %r labelled %s",
                    data.source, len(conflicts), first_row[example], example[:60], sorted(by_text[example]))


def check_leakage(train: LabelledData, evaluation: LabelledData) -> int:
    """Warn about texts present in both train and eval; returns how many eval rows are affected."""
    seen = {normalise_text(t) for t in train.texts}
    leaked = [t for t in evaluation.texts if normalise_text(t) in seen]
    if leaked:
        log.warning("%d of %d evaluation texts also appear in the training data (e.g. %r); "
                    "evaluation scores will be optimistic", len(leaked), len(evaluation), leaked[0][:60])
    return len(leaked)


def stratified_split(data: LabelledData, eval_fraction: float, seed: int,
                     max_rows: int | None = None) -> tuple[LabelledData, LabelledData]:
    """Seeded, stratified hold-out of ``eval_fraction`` of the texts (at most ``max_rows``); duplicate texts stay
    on one side so they cannot leak."""
    from sklearn.model_selection import train_test_split

    groups: dict[str, list[int]] = {}
    for i, text in enumerate(data.texts):
        groups.setdefault(normalise_text(text), []).append(i)
    keys = list(groups)
    strata = [data.labels[groups[k][0]] for k in keys]
    counts = Counter(strata)
    rare = [name for name, n in counts.items() if n < 2]
    if rare:
        raise DataError(data.source, f"class '{rare[0]}' has fewer than 2 distinct texts; cannot hold out an "
                                     "evaluation split (add examples or pass --eval)", column=data.label_column)
    n_eval = max(len(counts), min(round(len(keys) * eval_fraction), max_rows or len(keys)))
    if len(keys) - n_eval < len(counts):
        raise DataError(data.source, f"too few distinct texts ({len(keys)}) to hold out an evaluation split")
    train_keys, eval_keys = train_test_split(keys, test_size=n_eval, stratify=strata, random_state=seed)
    pick = lambda ks: sorted(i for k in ks for i in groups[k])  # noqa: E731
    return data.subset(pick(train_keys)), data.subset(pick(eval_keys))
