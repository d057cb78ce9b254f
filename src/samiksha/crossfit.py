"""Honest figures from rows that also choose: every choice made on the evaluation rows is cross-fitted.

The evaluation rows pick the transformer's best epoch. Scoring the saved model on those same
rows would flatter it, so the report scores each fold of them with choices made on the other folds only
(nested cross-fitting); the saved model makes the same choices on all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

FOLDS = 5


def fold_indices(y: Sequence[int], folds: int = FOLDS, seed: int = 0) -> list[np.ndarray]:
    """Row indices of each fold: stratified by label when every label has two rows or more."""
    from sklearn.model_selection import KFold, StratifiedKFold

    y = np.asarray(y)
    if len(y) < 2:  # nothing to cross: one fold, chosen on no rows
        return [np.arange(len(y))]
    smallest = int(np.unique(y, return_counts=True)[1].min())
    if smallest >= 2:  # as many folds as the smallest label fills, so every fold holds every label
        splitter = StratifiedKFold(max(2, min(folds, smallest)), shuffle=True, random_state=seed)
    else:
        splitter = KFold(max(2, min(folds, len(y))), shuffle=True, random_state=seed)
    return [test for _, test in splitter.split(np.zeros(len(y)), y)]


def cross_fit(y: Sequence[int], fit_predict: Callable[[np.ndarray, np.ndarray], np.ndarray], n_labels: int,
              folds: int = FOLDS, seed: int = 0) -> np.ndarray:
    """Out-of-sample probabilities for every row: ``fit_predict(choose_rows, score_rows)`` may choose or fit on
    ``choose_rows`` only, and returns probabilities for ``score_rows``."""
    y = np.asarray(y)
    out = np.zeros((len(y), n_labels))
    every = np.arange(len(y))
    for rows in fold_indices(y, folds, seed):
        out[rows] = fit_predict(np.setdiff1d(every, rows), rows)
    return out


def selection_score(proba: np.ndarray, y: np.ndarray, metric: str, weights: Sequence[float] | None = None) -> float:
    """How good ``proba`` is on labels ``y`` by ``metric`` (higher is better; 'loss' is negated cross-entropy,
    class-weighted as the training loss is)."""
    from sklearn.metrics import accuracy_score, f1_score

    predicted = proba.argmax(axis=1)
    labels = list(range(proba.shape[1]))
    if metric == "macro_f1":
        return float(f1_score(y, predicted, labels=labels, average="macro", zero_division=0))
    if metric == "weighted_f1":
        return float(f1_score(y, predicted, labels=labels, average="weighted", zero_division=0))
    if metric == "accuracy":
        return float(accuracy_score(y, predicted))
    if metric == "loss":
        w = np.asarray(weights, dtype=float)[y] if weights else np.ones(len(y))
        nll = -np.log(np.clip(proba[np.arange(len(y)), y], 1e-12, 1.0))
        return -float((w * nll).sum() / w.sum())
    raise ValueError(f"unknown selection metric {metric!r}")


def best_candidate(candidates: Sequence[np.ndarray], y: np.ndarray, rows: np.ndarray, metric: str,
                   weights: Sequence[float] | None = None) -> int:
    """The candidate (say, an epoch's probabilities) scoring best on ``rows``; the earliest wins a tie, as in
    `Trainer`'s choice of the best checkpoint."""
    scores = [selection_score(c[rows], y[rows], metric, weights) for c in candidates]
    return int(np.argmax(scores))
