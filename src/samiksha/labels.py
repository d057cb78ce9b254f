"""The label schema: names, their fixed order, and parsing of strings, 0/1/2 indices and 1-5 stars."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .errors import SamikshaError

SENTIMENT = ("negative", "neutral", "positive")

_SENTIMENT_ALIASES = {
    "negative": "negative", "neg": "negative", "-": "negative", "bad": "negative", "-1": "negative",
    "neutral": "neutral", "neu": "neutral", "neut": "neutral", "mixed": "neutral", "0": "neutral",
    "positive": "positive", "pos": "positive", "+": "positive", "good": "positive", "+1": "positive",
}
# "-1"/"0"/"+1" only count as sentiment in a column that also uses words; bare 0/1/2 are indices.
_NUMERIC_ALIASES = {"-1", "0", "+1"}
STAR_COLUMNS = {"rating", "ratings", "rate", "stars", "star", "star_rating", "review_rating", "score", "overall"}

KINDS = ("sentiment", "index", "stars", "custom")
# --label-scheme: how a column of numbers reads (auto: by the column's name and values)
LABEL_SCHEMES = {"auto": None, "stars": "stars", "ids": "index"}


def column_key(name: str) -> str:
    """A column name as matched against known names: case, spaces, underscores and hyphens ignored
    ('Review Text', 'review_text' and 'reviewText' are one name)."""
    return re.sub(r"[\s_-]+", "", name.casefold())


def _as_int(value: str) -> int | None:
    """'2', '2.0' and ' 2 ' are 2; anything else is None."""
    try:
        number = float(value)
    except ValueError:
        return None
    if math.isfinite(number) and number == int(number):
        return int(number)
    return None


def normalise_raw(value: object) -> str:
    """A raw cell as a stripped string ('' for missing)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def parse_label(value: str, kind: str) -> str | None:
    """Map one raw label to a label name under ``kind``; None when it does not fit."""
    value = value.strip()
    if kind == "custom":
        return value or None
    if kind == "sentiment":
        return _SENTIMENT_ALIASES.get(value.lower())
    number = _as_int(value)
    if number is None:
        return None
    if kind == "index":
        return SENTIMENT[number] if 0 <= number <= 2 else None
    if kind == "stars":
        if not 1 <= number <= 5:
            return None
        return "negative" if number <= 2 else "neutral" if number == 3 else "positive"
    raise ValueError(f"unknown label kind {kind!r}")


def infer_kind(values: Iterable[str], column: str | None = None) -> str:
    """Guess how a label column is written: sentiment words, 0/1/2 indices, 1-5 stars, or custom names."""
    present = [v.strip() for v in values if v.strip()]
    distinct = set(present)
    if not distinct:
        return "custom"
    numbers = {_as_int(v) for v in distinct}
    if None not in numbers:
        if column is not None and column_key(column) in {column_key(name) for name in STAR_COLUMNS}:
            return "stars"
        if numbers <= {0, 1, 2}:
            return "index"
        if numbers <= {1, 2, 3, 4, 5}:
            return "stars"
        return "custom"
    words = {v.lower() for v in distinct}
    if words <= _NUMERIC_ALIASES:
        return "custom"
    sentiment_rows = sum(v.lower() in _SENTIMENT_ALIASES for v in present)
    # Mostly sentiment words with a few others ('postive', 'n/a') is a typo to report, not a new label set.
    if sentiment_rows == len(present) or sentiment_rows >= 0.9 * len(present):
        return "sentiment"
    return "custom"


def choose_kind(values: Sequence[str], column: str | None = None,
                scheme: str | None = None) -> tuple[str, str | None, bool]:
    """The kind of a label column under ``scheme`` (auto, stars or ids; None is auto); for numbers read by guess,
    a line naming the mapping used, and whether both readings fit (only 1s and 2s in a column not named for stars:
    class ids 1 = neutral, 2 = positive, or star ratings that are all negative)."""
    if scheme not in (None, *LABEL_SCHEMES):
        raise SamikshaError(f"unknown label scheme '{scheme}' (choose from {', '.join(LABEL_SCHEMES)})")
    if LABEL_SCHEMES.get(scheme or "auto"):
        return LABEL_SCHEMES[scheme], None, False
    kind = infer_kind(values, column)
    if kind not in ("index", "stars"):
        return kind, None, False
    numbers = sorted({n for n in (_as_int(v) for v in values if v.strip()) if n is not None})
    note = f"numbers {', '.join(map(str, numbers))} in '{column}' read as {describe_kind(kind)}"
    ambiguous = kind == "index" and set(numbers) <= {1, 2}
    if ambiguous:
        note += f"; if they are star ratings, pass --label-scheme stars ({describe_kind('stars')})"
    return kind, note, ambiguous


def describe_kind(kind: str) -> str:
    """What a kind means, for messages."""
    return {
        "sentiment": "sentiment names (negative/neutral/positive and common spellings)",
        "index": "class indices 0=negative, 1=neutral, 2=positive",
        "stars": "star ratings 1-2=negative, 3=neutral, 4-5=positive",
        "custom": "label names as written",
    }[kind]


@dataclass(frozen=True)
class LabelSchema:
    """The fixed, saved order of label names; index i of every probability row is ``names[i]``."""

    names: tuple[str, ...]

    @classmethod
    def from_labels(cls, labels: Sequence[str]) -> LabelSchema:
        """Sentiment names in their natural order, any other names sorted."""
        present = set(labels)
        if present <= set(SENTIMENT):
            return cls(tuple(n for n in SENTIMENT if n in present))
        return cls(tuple(sorted(present)))

    @property
    def id2label(self) -> dict[int, str]:
        return dict(enumerate(self.names))

    @property
    def label2id(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.names)}

    def __len__(self) -> int:
        return len(self.names)
