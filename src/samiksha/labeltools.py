"""Labels in and out of the tools labelling teams use: Label Studio and Argilla.

Label Studio's task JSON, out and back in: Samiksha's guesses as ``predictions``, people's labels as
``annotations``.

Written: a JSON array of tasks ``{"data": {"text": ..., <every other column>}, "predictions": [...],
"annotations": [...]}`` for a project whose labelling config has ``<Text name="text" value="$text"/>`` and
``<Choices name="sentiment" toName="text">`` with a ``<Choice>`` per label name. Read (by `formats`, from any
``.json`` file that is a JSON array of tasks): one row per task, its ``data`` as columns, the latest annotation
that was not cancelled as ``label``, who made it (``completed_by``, else the data's ``annotator``) as
``annotator`` and when as ``labelled_at``; a task's ``id`` as ``id`` when its data has none. So a team's review
in Label Studio is a `samiksha train` input as it is.

Argilla (2.x) records flattened by ``dataset.records.to_datasets()`` (saved with ``save_to_disk``, or as Parquet or
JSONL): the columns ``<question>.responses``, ``.responses.users`` and ``.responses.status`` of one label question
become ``label`` (the first submitted response), ``annotator`` (its user id) and ``labelled_at`` (empty: Argilla's
flat records carry no time); ``<question>.suggestion`` and ``.suggestion.score`` become ``guess`` and
``guess_score`` (`argilla_frame`). Samiksha's tables go the other way with ``dataset.records.log(rows,
mapping={"guess": "sentiment.suggestion", "guess_score": "sentiment.suggestion.score"})``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd

from .errors import SamikshaError
from .storage import write_table, write_text

log = logging.getLogger(__name__)

CHOICES, TEXT = "sentiment", "text"  # the names of the Choices and Text tags of the labelling config
ADDED = ("label", "annotator", "labelled_at")  # the columns a read adds beside a task's data


def is_tasks(records: list) -> bool:
    """Whether the records of a JSON array are Label Studio tasks (each an object with a ``data`` object)."""
    return bool(records) and all(isinstance(r, dict) and isinstance(r.get("data"), dict) for r in records)


def _choice(result: object) -> str | None:
    """The first choice of a ``choices`` result list (None when there is none)."""
    for item in result if isinstance(result, list) else ():
        value = item.get("value") if isinstance(item, dict) else None
        choices = value.get("choices") if isinstance(value, dict) else None
        if choices:
            return str(choices[0])
    return None


def _who(completed_by: object) -> str:
    """An annotator as Label Studio records it: a user id, or (in older exports) an object with an email."""
    if isinstance(completed_by, dict):
        completed_by = completed_by.get("email", completed_by.get("id", ""))
    return "" if completed_by is None else str(completed_by)


def tasks_frame(tasks: list[dict]) -> pd.DataFrame:
    """One row per task: its data, and its latest kept annotation's label, annotator and time ('' when none)."""
    rows = []
    for task in tasks:
        row = dict(task["data"])
        if "id" not in row and "id" in task:
            row["id"] = task["id"]
        kept = [a for a in task.get("annotations") or () if isinstance(a, dict) and not a.get("was_cancelled")
                and _choice(a.get("result")) is not None]
        latest = max(kept, key=lambda a: str(a.get("updated_at") or a.get("created_at") or ""), default=None)
        row["label"] = _choice(latest["result"]) if latest else ""
        who = _who(latest.get("completed_by")) if latest else ""
        row["annotator"] = who or (row.get("annotator", "") if latest else "")
        when = str(latest.get("updated_at") or latest.get("created_at") or "") if latest else ""
        row["labelled_at"] = when or (row.get("labelled_at", "") if latest else "")
        rows.append(row)
    return pd.DataFrame.from_records(rows)


def _items(cell: object) -> list:
    """A list cell as read from datasets, Parquet or JSON (a list, an array, or missing)."""
    return [] if cell is None or isinstance(cell, (str, float)) else list(cell)


def argilla_frame(frame: pd.DataFrame, path: object = "") -> pd.DataFrame:
    """Argilla's flattened records as a Samiksha table (see the module's notes); any other table as it is."""
    questions = [c[: -len(".responses")] for c in frame.columns if str(c).endswith(".responses")]
    if not questions:
        return frame
    question = next((q for q in questions if q in ("sentiment", "label")), questions[0])
    if len(questions) > 1:
        log.info("%s: labels from Argilla's question '%s' (of %s)", path, question, ", ".join(questions))
    labels, annotators = [], []
    for values, users, statuses in zip(frame[f"{question}.responses"],
                                       frame.get(f"{question}.responses.users", [None] * len(frame)),
                                       frame.get(f"{question}.responses.status", [None] * len(frame))):
        values, users, statuses = _items(values), _items(users), _items(statuses)
        kept = [i for i in range(len(values)) if i >= len(statuses) or statuses[i] in (None, "submitted")]
        labels.append(str(values[kept[0]]) if kept else "")
        annotators.append(str(users[kept[0]]) if kept and kept[0] < len(users) else "")
    out = frame.drop(columns=[c for c in frame.columns if str(c).startswith(f"{question}.")])
    out = out.drop(columns=[c for c in ADDED if c in out.columns])
    out["label"], out["annotator"], out["labelled_at"] = labels, annotators, ""
    if f"{question}.suggestion" in frame.columns:
        out["guess"] = frame[f"{question}.suggestion"].tolist()
        if f"{question}.suggestion.score" in frame.columns:
            out["guess_score"] = frame[f"{question}.suggestion.score"].tolist()
    return out


def _result(label: str) -> list[dict]:
    return [{"from_name": CHOICES, "to_name": TEXT, "type": "choices", "value": {"choices": [label]}}]


def _filled(value: object) -> bool:
    return value is not None and bool(pd.notna(value)) and str(value) != ""


def to_tasks(frame: pd.DataFrame, *, text_column: str = "text", label: str | None = None,
             annotator: str | None = None, labelled_at: str | None = None, guess: str | None = None,
             score: str | None = None, model_version: str = "samiksha") -> list[dict]:
    """Tasks from a table: the named columns (a label and who gave it when; a guess and its score) become an
    annotation and a prediction, every other column the task's data (the text as ``text``). The annotator and
    time stay in the data too, since Label Studio takes only its own user ids as ``completed_by``."""
    special = [c for c in (label, guess, score) if c is not None and c in frame.columns]
    data = frame.drop(columns=special).rename(columns={"text": "text_original"} if text_column != "text" else {})
    data = data.rename(columns={text_column: TEXT})
    records = json.loads(data.to_json(orient="records", force_ascii=False, date_format="iso"))
    tasks = []
    for position, record in enumerate(records):
        task: dict = {"data": record}
        row = frame.iloc[position]
        if guess in frame.columns and _filled(row[guess]):
            prediction = {"model_version": model_version, "result": _result(str(row[guess]))}
            if score in frame.columns and _filled(row[score]):
                prediction["score"] = float(row[score])
            task["predictions"] = [prediction]
        if label in frame.columns and _filled(row[label]):
            annotation: dict = {"result": _result(str(row[label]))}
            if annotator in frame.columns and str(row[annotator]).isdigit():  # a Label Studio user id
                annotation["completed_by"] = int(row[annotator])
            if labelled_at in frame.columns and _filled(row[labelled_at]):
                annotation["created_at"] = str(row[labelled_at])
            task["annotations"] = [annotation]
        tasks.append(task)
    return tasks


def write_tasks(frame: pd.DataFrame, path: str | Path, **columns: str | None) -> None:
    """Write `to_tasks` of ``frame`` as a Label Studio JSON file, atomically."""
    write_text(path, json.dumps(to_tasks(frame, **columns), ensure_ascii=False, indent=1) + "\n")


WRITES = ("table", "label-studio")  # what --format takes: a table in the format its suffix names, or tasks


def check_format(fmt: str, output: object) -> None:
    """Refuse an unknown --format, or Label Studio tasks without a file to write them to, before any work."""
    if fmt not in WRITES:
        raise SamikshaError(f"--format {fmt}: unknown (use {' or '.join(WRITES)})")
    if fmt == "label-studio" and (output is None or str(output) in ("", "-")):
        raise SamikshaError("--format label-studio writes a JSON file: name the file to write (tasks.json)")


def write(frame: pd.DataFrame, path: str | Path, fmt: str = "table", **columns: str | None) -> None:
    """Write ``frame`` as a table by the suffix of ``path``, or as Label Studio tasks (`to_tasks` ``columns``)."""
    if fmt == "label-studio":
        write_tasks(frame, path, **columns)
    else:
        write_table(frame, path)
