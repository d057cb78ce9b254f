"""Which labels are likely wrong: out-of-fold probabilities on frozen embeddings, ranked by cleanlab.

Every row is scored by a model that never saw it (k-fold cross-fitting), since a model scored on rows it
trained on agrees with their labels, mistakes included. cleanlab ranks the rows by label quality (the
out-of-fold probability of the given label) and flags the ones its confident-learning estimate calls issues.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from .crossfit import FOLDS, cross_fit
from .data import LabelledData, file_format, first_row_number, load_labelled, read_table
from .errors import DataError

# labels of each class an audit needs: with 8, each of 5 folds' fits still sees 6 of every label and chooses its C
# by 5-fold cross-validation
MIN_PER_CLASS = 8
# fit on (x, y) of the choose rows, then probabilities for the score rows: (train_x, train_y, score_x, n_labels)
Learner = Callable[[np.ndarray, np.ndarray, np.ndarray, int], np.ndarray]


def out_of_fold_proba(features: np.ndarray, y: np.ndarray, n_labels: int, learner: Learner | None = None,
                      folds: int = FOLDS, seed: int = 0) -> np.ndarray:
    """Each row's probabilities from ``learner`` fitted on the other folds only."""
    from .embeddings import quick_proba

    fit = learner or (lambda tx, ty, sx, k: quick_proba(tx, ty, sx, k, seed))
    return cross_fit(y, lambda choose, score: fit(features[choose], y[choose], features[score], n_labels),
                     n_labels, folds, seed)


def rank_issues(y: np.ndarray, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """cleanlab's label-quality score per row (low: likely wrong) and its flag of likely label issues."""
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    quality = get_label_quality_scores(y, proba, method="self_confidence")
    present = np.unique(y)
    if len(present) < 2:
        return quality, np.zeros(len(y), dtype=bool)
    flagged = find_label_issues(y, proba, filter_by="prune_by_noise_rate")
    return quality, flagged


def too_few_labels(labels: list[str], min_per_class: int = MIN_PER_CLASS) -> str | None:
    """What is missing before an audit means anything (None: enough labels of every class)."""
    counts = Counter(labels)
    short = {name: n for name, n in sorted(counts.items()) if n < min_per_class}
    if not short:
        return None
    have = ", ".join(f"{name} {n}" for name, n in sorted(counts.items()))
    more = ", ".join(f"{min_per_class - n} more {name}" for name, n in short.items())
    return (f"too few labels to check ({have}): an audit needs at least {min_per_class} of each label, so label "
            f"{more}")


def audit_data(data: LabelledData, *, encoder: str | None = None, folds: int = FOLDS, seed: int = 0,
               learner: Learner | None = None, min_per_class: int = MIN_PER_CLASS) -> pd.DataFrame:
    """Every row of ``data``, most likely mislabelled first: row (as the user counts it), text, given label,
    suggested label, the out-of-fold confidence in it, cleanlab's quality score and whether it is flagged.
    ``attrs["skill"]`` holds the out-of-fold model's macro-F1 against chance (`embeddings.Skill`)."""
    from .embeddings import embed, skill

    names = sorted(set(data.labels))
    if len(names) < 2:
        raise DataError(data.source, "has only one label; an audit needs at least two", column=data.label_column)
    missing = too_few_labels(data.labels, min_per_class)
    if missing:
        raise DataError(data.source, missing, column=data.label_column)
    index = {name: i for i, name in enumerate(names)}
    y = np.asarray([index[label] for label in data.labels])
    proba = out_of_fold_proba(embed(data.texts, encoder), y, len(names), learner, folds, seed)
    quality, flagged = rank_issues(y, proba)
    suggested = proba.argmax(axis=1)
    frame = pd.DataFrame({
        "row": data.rows, "text": data.texts, "label": data.labels,
        "suggested": [names[i] for i in suggested], "confidence": proba.max(axis=1).round(4),
        "given_probability": proba[np.arange(len(y)), y].round(4), "quality": np.round(quality, 4),
        "flagged": flagged,
    })
    frame = frame.sort_values(["quality", "row"], kind="stable").reset_index(drop=True)
    frame.attrs["skill"] = skill(y, proba, seed)
    return frame


def with_input_columns(ranking: pd.DataFrame, table: pd.DataFrame, first_row: int) -> pd.DataFrame:
    """The ranking with every column of the input ``table`` beside each row (whose first data row is numbered
    ``first_row``): ``row``, the input's columns, then the audit's. An input column named as one of the audit's
    is that column when it holds the same values (``text``, ``label`` as written), else kept as
    ``<name>_original``."""
    own = table.iloc[ranking["row"].to_numpy() - first_row].reset_index(drop=True)
    same = [c for c in own.columns
            if c != "row" and c in ranking.columns and own[c].astype(str).equals(ranking[c].astype(str))]
    own = own.rename(columns={c: f"{c}_original" for c in own.columns if c in ranking.columns and c not in same})
    frame = pd.concat([ranking[["row"]], own, ranking.drop(columns=["row", *same])], axis=1)
    frame.attrs = ranking.attrs
    return frame


def audit(data: str | Path, *, text_column: str | None = None, label_column: str | None = None,
          encoder: str | None = None, folds: int = FOLDS, seed: int = 0,
          label_scheme: str | None = None) -> pd.DataFrame:
    """Rank the rows of a labelled file by how likely their label is wrong (see `audit_data`), every column of
    the file kept beside each row (`with_input_columns`; not for stdin, which is read once)."""
    ranking = audit_data(load_labelled(data, text_column, label_column, label_scheme=label_scheme), encoder=encoder,
                         folds=folds, seed=seed)
    if str(data) == "-":
        return ranking
    return with_input_columns(ranking, read_table(data), first_row_number(file_format(Path(data))))
