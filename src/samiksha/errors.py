"""The one exception type that the CLI turns into a single readable line."""

from __future__ import annotations


class SamikshaError(Exception):
    """A problem the user can fix (bad file, bad column, bad label, bad model folder)."""


class DataError(SamikshaError):
    """Bad input data; the message names the file, row and column where known."""

    def __init__(self, path: object, message: str, row: int | None = None, column: str | None = None):
        where = [str(path)]
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column '{column}'")
        super().__init__(f"{', '.join(where)}: {message}")
        self.path, self.row, self.column = path, row, column


class ModelError(SamikshaError):
    """A model name or folder that cannot be used."""


def first_line(error: BaseException) -> str:
    """An exception's first line, for a one-line message (its type's name when it has no message)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
