"""Shared by the long accuracy benchmarks: a JSON-lines file of finished runs, so a comparison can be run piecewise
(runs already in the file are skipped) and its table printed from the file alone."""

from __future__ import annotations

import json
from pathlib import Path


def read_rows(path: Path) -> list[dict]:
    """The rows already recorded in ``path`` (none when it does not exist yet)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def record(path: Path, row: dict, rows: list[dict] | None = None) -> None:
    """Print ``row`` as one JSON line, append it to ``path`` and, when given, to the in-memory ``rows``."""
    line = json.dumps(row)
    print(line, flush=True)
    with path.open("a", encoding="utf-8") as f:
        f.write(line + "\n")
    if rows is not None:
        rows.append(row)
