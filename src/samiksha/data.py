"""Reading tables of reviews (in any format of `formats.FORMATS`), finding their columns, validation and splits."""

from __future__ import annotations

import hashlib
import logging
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from . import formats, labeltools
from .errors import DataError, first_line
from .formats import FORMATS, SEPARATORS, as_strings
from .labels import LabelSchema, choose_kind, column_key, describe_kind, parse_label
from .scripts import script_mix

log = logging.getLogger(__name__)

# Known column names, matched by `labels.column_key` (case, spaces, underscores and hyphens ignored). Each entry is
# tried in turn: a name, or a group of names that are equally likely, so that two columns of one group are refused
# as ambiguous. "text" (Samiksha's own name, written by every export) goes first; then what real exports call the
# review (Flipkart's "Review Text", Amazon's "review_body", "Summary", ...).
TEXT_COLUMNS = ("text", ("review", "review_text", "reviews", "review_body", "review_content", "comment", "comments",
                         "content", "summary", "sentence", "body"))
LABEL_COLUMNS = ("label", "labels", "sentiment", "rating", "ratings", "rate", "stars", "star", "star_rating",
                 "review_rating", "class", "overall")
MIN_PER_CLASS = 10
SMALL_DATA = 100


def file_format(path: Path) -> str:
    """The name of the reader for a path (`formats.FORMATS`): by suffix, or 'hf' for a `save_to_disk` folder."""
    return formats.for_path(path).name


def first_row_number(fmt: str) -> int:
    """The row number users see for the first data row: spreadsheet rows count the header, JSONL lines do not."""
    return 2 if FORMATS[fmt].header else 1


def _unreadable(path: object, fmt: str, err: Exception) -> DataError:
    """A reader's unexpected exception as one line (readers raise many types; the user needs one line)."""
    return DataError(path, f"cannot be read as {fmt}: {first_line(err)}")


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a table of any supported format with every cell as a string ('-' reads CSV from stdin); Argilla's
    flattened records become a text, label and annotator table (`labeltools.argilla_frame`)."""
    if str(path) == "-":
        return as_strings(FORMATS["csv"].decode(sys.stdin.buffer.read(), "<stdin>"))
    path = Path(path)
    if not path.exists():
        raise DataError(path, "no such file or folder")
    fmt = formats.for_path(path)
    try:
        frame = labeltools.argilla_frame(fmt.read(path), path)
    except DataError:
        raise
    except Exception as err:
        raise _unreadable(path, fmt.name, err) from None
    return as_strings(frame)


def iter_table(path: str | Path, chunk_rows: int = 10_000) -> Iterator[pd.DataFrame]:
    """Read a table in chunks of string cells, in constant memory for the formats that stream (CSV, TSV, JSONL,
    text lines, Parquet)."""
    if str(path) == "-":
        yield from read_chunks(sys.stdin.buffer, "csv", chunk_rows, path)
        return
    path = Path(path)
    if not path.exists():
        raise DataError(path, "no such file or folder")
    fmt = formats.for_path(path)
    if not fmt.streams:  # read whole, hand out in slices
        frame = read_table(path)
        for start in range(0, len(frame), chunk_rows):
            yield frame.iloc[start:start + chunk_rows]
        return
    with open(path, "rb") as stream:
        yield from read_chunks(stream, fmt.name, chunk_rows, path)


def read_chunks(stream: BinaryIO, fmt: str, chunk_rows: int, path: object) -> Iterator[pd.DataFrame]:
    """Chunks of string cells from an open binary stream in the format named ``fmt`` (Parquet: a seekable one)."""
    try:
        for chunk in FORMATS[fmt].chunks(stream, path, chunk_rows):
            yield as_strings(chunk)
    except DataError:
        raise
    except Exception as err:
        raise _unreadable(path, fmt, err) from None


def read_bounded(stream: BinaryIO, fmt: str, max_rows: int, path: object, chunk_rows: int = 10_000) -> pd.DataFrame:
    """A whole table of string cells from a seekable binary stream, decoding at most about ``max_rows`` + one chunk
    before refusing with `TooManyRows`: a small compressed file cannot unpack into millions of rows in memory."""
    try:
        return FORMATS[fmt].read_bounded(stream, path, max_rows, chunk_rows)
    except DataError:
        raise
    except Exception as err:
        raise _unreadable(path, fmt, err) from None


def count_rows(path: str | Path) -> int | None:
    """Rows in a file without loading it (line count for text formats), or None when unknown."""
    if str(path) == "-":
        return None
    path = Path(path)
    if not path.exists():
        raise DataError(path, "no such file or folder")
    return formats.for_path(path).rows(path)


def find_column(frame: pd.DataFrame, wanted: str | None, candidates: tuple[str | tuple[str, ...], ...], role: str,
                path: object) -> str:
    """The column named ``wanted`` (exactly, else by `column_key`), or the one column of the first entry of
    ``candidates`` (a name or a group of names) that the frame has; two columns of one entry are refused."""
    columns = list(frame.columns)
    if wanted is not None:
        if wanted in columns:
            return wanted
        same = [c for c in columns if column_key(c) == column_key(wanted)]
        if len(same) == 1:
            return same[0]
        if not same:
            raise DataError(path, f"has no {role} column '{wanted}' (columns: {', '.join(columns)})")
        raise DataError(path, f"has several columns named like '{wanted}' ({', '.join(same)}); name one exactly "
                              f"with --{role}-column")
    names = [name for entry in candidates for name in ((entry,) if isinstance(entry, str) else entry)]
    for entry in candidates:
        keys = {column_key(name) for name in ((entry,) if isinstance(entry, str) else entry)}
        found = [c for c in columns if column_key(c) in keys]
        if len(found) == 1:
            return found[0]
        if found:
            listed = ", ".join(f"'{c}'" for c in found)
            raise DataError(path, f"{len(found)} columns could be the {role}: {listed}; name one with --{role}-column")
    odd = next((name for sep, name in SEPARATORS.items() if sep != "," and any(sep in c for c in columns)), None)
    hint = f"; the header looks {odd}-separated: save the file with commas between columns" if odd else ""
    raise DataError(path, f"no {role} column found among {', '.join(columns)}; "
                          f"name it with --{role}-column (looked for {', '.join(names)}){hint}")


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
    fmt = "csv" if str(path) == "-" else file_format(Path(path))
    if not FORMATS[fmt].labelled:
        tables = ", ".join(s for s, f in formats.written().items() if f.labelled)
        raise DataError(path, f"is read as {FORMATS[fmt].description}, so it has no labels; where labels are needed, "
                              f"give a table with a text and a label column ({tables})")
    if frame.empty:
        raise DataError(path, "has no data rows")
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
