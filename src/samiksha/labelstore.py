"""Labels being collected for a pool, in an SQLite database beside it: every label is committed at once.

One row per review, keyed by its stable id (`suggest.row_id`), so a refresh, a second browser tab, a crash or
a killed server can neither lose a committed label nor create a second row for a review. WAL mode lets the
page read while another request writes. Exports are ordinary `samiksha train` input files.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from .errors import DataError
from .storage import refuse_overwriting_inputs, write_table
from .suggest import Pool

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS labels (
    row_id TEXT PRIMARY KEY,
    label TEXT,                         -- NULL when skipped
    seq INTEGER NOT NULL,               -- order of the last change, for undo
    updated REAL NOT NULL
);
"""


def default_db(pool: str | Path) -> Path:
    """Where a pool's labels live unless told otherwise: ``reviews.csv`` -> ``reviews.labels.sqlite``."""
    pool = Path(pool)
    return pool.with_name(f"{pool.stem}.labels.sqlite")


class LabelStore:
    """The labels of one pool in SQLite (WAL mode, a new connection per call so any thread may use it)."""

    def __init__(self, path: str | Path, pool: Pool):
        self.path = Path(path)
        self.pool = pool
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
            db.execute("INSERT OR IGNORE INTO meta VALUES ('pool', ?)", (pool.source,))
            ids = [row[0] for row in db.execute("SELECT row_id FROM labels")]
        known = set(pool.ids)
        if ids and not known.intersection(ids):
            raise DataError(self.path, f"holds {len(ids)} labels of another pool (none of them is a review in "
                                       f"{pool.source}); pass --db with a new file for this pool")

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA synchronous=FULL")
            yield db
        finally:
            db.close()

    def _change(self, row_id: str, label: str | None) -> None:
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM labels").fetchone()[0]
                db.execute("INSERT INTO labels VALUES (?, ?, ?, ?) ON CONFLICT(row_id) DO UPDATE SET "
                           "label = excluded.label, seq = excluded.seq, updated = excluded.updated",
                           (row_id, label, seq, time.time()))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def set(self, row_id: str, label: str) -> None:
        """Label a review (again: the newer label replaces the older)."""
        self._change(row_id, label)

    def skip(self, row_id: str) -> None:
        """Put a review aside: it comes back only after every other review."""
        self._change(row_id, None)

    def undo(self) -> str | None:
        """Forget the most recent label or skip; returns its review's id (None when there is nothing to undo)."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT row_id FROM labels ORDER BY seq DESC LIMIT 1").fetchone()
            if row is not None:
                db.execute("DELETE FROM labels WHERE row_id = ?", row)
            db.execute("COMMIT")
        return row[0] if row else None

    def labels(self) -> dict[str, str]:
        """Review id -> label, oldest first (skips left out)."""
        with self._connect() as db:
            return dict(db.execute("SELECT row_id, label FROM labels WHERE label IS NOT NULL ORDER BY seq"))

    def skipped(self) -> set[str]:
        with self._connect() as db:
            return {row[0] for row in db.execute("SELECT row_id FROM labels WHERE label IS NULL")}

    def labelled_frame(self, label_column: str = "label") -> pd.DataFrame:
        """The labelled reviews of the pool, every original column plus ``label_column``, in labelling order."""
        labels = self.labels()
        first = self.pool.first_position
        present = [rid for rid in labels if rid in first]
        frame = self.pool.frame.iloc[[first[rid] for rid in present]].copy()
        frame[label_column] = [labels[rid] for rid in present]
        return frame.reset_index(drop=True)

    def export(self, path: str | Path) -> int:
        """Write the labelled reviews to ``path`` (CSV, JSONL or Parquet by suffix, atomically, never over the pool);
        returns the rows."""
        refuse_overwriting_inputs([self.pool.source], [path])
        frame = self.labelled_frame()
        write_table(frame, path)
        return len(frame)

