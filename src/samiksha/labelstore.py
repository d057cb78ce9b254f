"""Labels being collected for a pool, in an SQLite database beside it: every label is committed at once.

The store is an append-only history of label events (a label, a skip, or an undo that cleared a review), each
with the review's stable id (`suggest.row_id`), the session that made it (a page tab) and the time. A review's
current label is its latest event, so a refresh, a second tab, a crash or a killed server can neither lose a
committed label nor give a review two labels, and an undo restores the label a review had before. WAL mode and
short transactions let the page read while another request, or another server on the same file, writes.
Exports are ordinary `samiksha train` input files.

A review labelled outside the pool (a correction sent from the `serve` page, which has no pool) keeps its text in
the ``texts`` table, so the export, and so the next training, has it too.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Literal, NamedTuple

import pandas as pd

from .errors import DataError
from .storage import refuse_overwriting_inputs
from .suggest import Pool, row_id

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2  # 0: one row per review in a `labels` table, before the history (migrated on open)
MIGRATED = "before-history"  # the session of events moved over from a version-0 database
LATEST = "SELECT MAX(seq) FROM events GROUP BY row_id"
NOT_UNDONE = "undoes IS NULL AND NOT EXISTS (SELECT 1 FROM events AS u WHERE u.undoes = events.seq)"

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS events (
        seq INTEGER PRIMARY KEY,            -- order of the events; rows are only ever added
        row_id TEXT NOT NULL,               -- the review (suggest.row_id)
        action TEXT NOT NULL CHECK (action IN ('label', 'skip', 'clear')),
        label TEXT CHECK ((action = 'label') = (label IS NOT NULL)),
        session TEXT NOT NULL,              -- who: the page tab (or other client) that made the change
        at REAL NOT NULL,                   -- when: Unix time
        undoes INTEGER REFERENCES events (seq)  -- an undo: the event it took back; its action is what is left
    )""",
    "CREATE INDEX IF NOT EXISTS events_by_row ON events (row_id, seq)",
    # the text of each review labelled with `LabelStore.add` (added in place: older versions read on without it)
    "CREATE TABLE IF NOT EXISTS texts (row_id TEXT PRIMARY KEY, text TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS events_by_session ON events (session, seq)",
    "CREATE UNIQUE INDEX IF NOT EXISTS events_undone ON events (undoes) WHERE undoes IS NOT NULL",
    # The current label of each review, laid out as the version-0 table was, so that an older Samiksha reads
    # the labels and fails loudly (a view cannot be written) rather than starting a second, empty table.
    f"""CREATE VIEW IF NOT EXISTS labels AS
        SELECT row_id, label, seq, at AS updated FROM events WHERE seq IN ({LATEST}) AND action != 'clear'""",
)


class Event(NamedTuple):
    """One entry of the history."""

    seq: int
    row_id: str
    action: Literal["label", "skip", "clear"]
    label: str | None
    session: str
    at: float
    undoes: int | None


def default_db(pool: str | Path) -> Path:
    """Where a pool's labels live unless told otherwise: ``reviews.csv`` -> ``reviews.labels.sqlite``."""
    pool = Path(pool)
    return pool.with_name(f"{pool.stem}.labels.sqlite")


class LabelStore:
    """The labels of one pool in SQLite (WAL mode, a new connection per call so any thread may use it).

    ``session`` names who makes a change (a page tab, say); `undo` takes back only that session's changes.
    Without a ``pool`` (the `serve` page) the store holds only reviews labelled with their text (`add`).
    """

    def __init__(self, path: str | Path, pool: Pool | None = None):
        self.path = Path(path)
        self.pool = pool
        try:
            with self._connect() as db:
                db.execute("PRAGMA journal_mode=WAL")
            with self._transaction() as db:
                self._migrate(db)
                if pool is not None:
                    db.execute("INSERT OR IGNORE INTO meta VALUES ('pool', ?)", (pool.source,))
                ids = [row[0] for row in db.execute("SELECT DISTINCT row_id FROM events WHERE row_id NOT IN "
                                                    "(SELECT row_id FROM texts)")]
        except (sqlite3.DatabaseError, OSError) as err:
            raise DataError(self.path, f"cannot be used as a label database: {err}") from None
        known = set(pool.ids) if pool is not None else set()
        if ids and pool is not None and not known.intersection(ids):
            raise DataError(self.path, f"holds {len(ids)} labels of another pool (none of them is a review in "
                                       f"{pool.source}); pass --db with a new file for this pool")

    def _migrate(self, db: sqlite3.Connection) -> None:
        """Create the schema; a version-0 database's rows become events (in this one transaction)."""
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise DataError(self.path, f"was written by a newer Samiksha (label schema {version}); upgrade to use it")
        old = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'labels'").fetchone()
        if old:
            db.execute("ALTER TABLE labels RENAME TO labels_v0")
        for statement in SCHEMA:
            db.execute(statement)
        if old:
            moved = db.execute("INSERT INTO events (row_id, action, label, session, at) SELECT row_id, CASE WHEN "
                               "label IS NULL THEN 'skip' ELSE 'label' END, label, ?, updated FROM labels_v0 "
                               "ORDER BY seq", (MIGRATED,)).rowcount
            db.execute("DROP TABLE labels_v0")
            log.info("%s: %d labels moved into the label history", self.path, moved)
        if version < SCHEMA_VERSION:
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA synchronous=FULL")
            yield db
        finally:
            db.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A short write transaction: taken at once (other writers wait, readers go on), committed or rolled back."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    @staticmethod
    def _append(db: sqlite3.Connection, row_id: str, action: str, label: str | None, session: str,
                undoes: int | None = None, at: float | None = None) -> Event:
        at = time.time() if at is None else at
        seq = db.execute("INSERT INTO events (row_id, action, label, session, at, undoes) VALUES (?, ?, ?, ?, ?, ?)",
                         (row_id, action, label, session, at, undoes)).lastrowid
        return Event(seq, row_id, action, label, session, at, undoes)

    def set(self, row_id: str, label: str, session: str = "") -> None:
        """Label a review (again: the newer label is the current one; the older stays in the history)."""
        with self._transaction() as db:
            self._append(db, row_id, "label", label, session)

    def add(self, text: str, label: str | None, session: str = "") -> str:
        """Label a review given by its text, kept with the label (None: take its label back); returns its id."""
        rid = row_id(text)
        with self._transaction() as db:
            db.execute("INSERT OR IGNORE INTO texts VALUES (?, ?)", (rid, text))
            self._append(db, rid, "label" if label is not None else "clear", label, session)
        return rid

    def import_labels(self, path: str | Path, text_column: str | None = None) -> int:
        """Add the labels of a labelled file (any `samiksha train` input: a Label Studio or Argilla export, or an
        export of this page) in one transaction: each as a label event of its ``annotator`` (else 'import') at its
        ``labelled_at`` (else now); a review outside the pool is kept with its text. Returns the labels added."""
        from .data import file_format, first_row_number, load_labelled, read_table

        data = load_labelled(path, text_column)
        table = read_table(path)
        first = first_row_number(file_format(Path(path)))
        known = set(self.pool.ids) if self.pool is not None else set()
        with self._transaction() as db:
            for text, label, row in zip(data.texts, data.labels, data.rows):
                cells = table.iloc[row - first]
                rid = row_id(text)
                if rid not in known:
                    db.execute("INSERT OR IGNORE INTO texts VALUES (?, ?)", (rid, text))
                when = pd.to_datetime(cells.get("labelled_at", ""), utc=True, errors="coerce")
                self._append(db, rid, "label", label, cells.get("annotator", "") or "import",
                             at=None if pd.isna(when) else when.timestamp())
        return len(data)

    def skip(self, row_id: str, session: str = "") -> None:
        """Put a review aside: it comes back only after every other review."""
        with self._transaction() as db:
            self._append(db, row_id, "skip", None, session)

    def undo(self, session: str = "") -> Event | None:
        """Take back this session's latest label or skip not yet undone; returns the event that records the undo.

        The review gets the label (or skip) it had without that change: its earlier one, none, or the one
        another session gave it since, which stays. None when the session has nothing left to undo.
        """
        with self._transaction() as db:
            last = db.execute(f"SELECT seq, row_id FROM events WHERE session = ? AND {NOT_UNDONE} "
                              "ORDER BY seq DESC LIMIT 1", (session,)).fetchone()
            if last is None:
                return None
            seq, rid = last
            rest = db.execute(f"SELECT action, label FROM events WHERE row_id = ? AND seq != ? AND {NOT_UNDONE} "
                              "ORDER BY seq DESC LIMIT 1", (rid, seq)).fetchone()
            action, label = rest or ("clear", None)
            return self._append(db, rid, action, label, session, undoes=seq)

    def _current(self, action: str) -> list[tuple[str, str | None]]:
        with self._connect() as db:
            return db.execute(f"SELECT row_id, label FROM events WHERE seq IN ({LATEST}) AND action = ? "
                              "ORDER BY seq", (action,)).fetchall()

    def labels(self) -> dict[str, str]:
        """Review id -> its current label, in the order of their latest events (skipped reviews left out)."""
        return dict(self._current("label"))

    def labelled(self) -> dict[str, Event]:
        """Review id -> the event that gave it its current label (who, when), in the order of those events."""
        with self._connect() as db:
            rows = db.execute(f"SELECT seq, row_id, action, label, session, at, undoes FROM events WHERE seq IN "
                              f"({LATEST}) AND action = 'label' ORDER BY seq").fetchall()
        return {row[1]: Event(*row) for row in rows}

    def skipped(self) -> set[str]:
        """The reviews whose latest event is a skip."""
        return {rid for rid, _ in self._current("skip")}

    def history(self, row_id: str | None = None) -> list[Event]:
        """Every event, oldest first (of one review when ``row_id`` is given): who changed what, and when."""
        where, args = ("WHERE row_id = ?", (row_id,)) if row_id is not None else ("", ())
        with self._connect() as db:
            rows = db.execute(f"SELECT seq, row_id, action, label, session, at, undoes FROM events {where} "
                              "ORDER BY seq", args).fetchall()
        return [Event(*row) for row in rows]

    def labelled_frame(self, label_column: str = "label") -> pd.DataFrame:
        """The labelled reviews of the pool, every original column plus ``label_column``, ``annotator`` (the session
        that gave the label; an undo's session when an undo restored it) and ``labelled_at`` (ISO 8601, UTC), in
        labelling order; then those labelled by text alone (`add`), with their text in the pool's text column."""
        events = self.labelled()
        labels = {rid: event.label for rid, event in events.items()}
        first = self.pool.first_position if self.pool is not None else {}
        present = [rid for rid in labels if rid in first]
        text_column = self.pool.text_column if self.pool is not None else "text"
        frame = (self.pool.frame.iloc[[first[rid] for rid in present]].copy() if self.pool is not None
                 else pd.DataFrame({text_column: []}, dtype=object))
        frame[label_column] = [labels[rid] for rid in present]
        with self._connect() as db:
            texts = dict(db.execute("SELECT row_id, text FROM texts"))
        added = [rid for rid in labels if rid not in first and rid in texts]
        if added:
            extra = pd.DataFrame({text_column: [texts[rid] for rid in added], label_column: [labels[rid] for rid in added]})
            frame = pd.concat([frame, extra], ignore_index=True) if len(frame) else extra
        order = present + added
        frame["annotator"] = [events[rid].session for rid in order]
        frame["labelled_at"] = [pd.Timestamp(events[rid].at, unit="s", tz="UTC").isoformat(timespec="seconds")
                                for rid in order]
        return frame.reset_index(drop=True)

    def export(self, path: str | Path, fmt: str = "table") -> int:
        """Write the labelled reviews to ``path`` (CSV, JSONL or Parquet by suffix, or with ``fmt`` 'label-studio'
        Label Studio tasks; atomically, never over the pool); returns the rows."""
        from . import labeltools

        refuse_overwriting_inputs([self.pool.source] if self.pool is not None else [], [path])
        frame = train_input(self.labelled_frame(), self.pool.text_column if self.pool is not None else "text")
        labeltools.write(frame, path, fmt, label="label", annotator="annotator", labelled_at="labelled_at")
        return len(frame)


def train_input(frame: pd.DataFrame, text_column: str) -> pd.DataFrame:
    """Labelled reviews as `samiksha train` reads them as is: the review's column named ``text``, whatever the pool
    called it ('Review Text'), every other column kept (another column named ``text`` becomes ``text_original``)."""
    if text_column == "text":
        return frame
    return frame.rename(columns={"text": "text_original"}).rename(columns={text_column: "text"})
