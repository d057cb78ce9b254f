"""Cross-fitting and bootstrap intervals: figures from rows that also choose must stay out-of-sample."""

from __future__ import annotations

import numpy as np
import pytest

from samiksha.crossfit import best_candidate, cross_fit, fold_indices, selection_score
from samiksha.metrics import bootstrap_interval, compute_metrics


def test_folds_cover_every_row_once_and_keep_labels_spread():
    y = np.array([0] * 20 + [1] * 10 + [2] * 5)
    folds = fold_indices(y, 5, seed=1)
    assert len(folds) == 5
    assert sorted(np.concatenate(folds).tolist()) == list(range(len(y)))
    assert all(set(y[f]) == {0, 1, 2} for f in folds)  # stratified: every fold holds every label
    tiny = np.array([0, 0, 1, 2, 2, 1, 0])
    assert sorted(np.concatenate(fold_indices(tiny, 5)).tolist()) == list(range(7))
    assert sorted(np.concatenate(fold_indices(np.array([0, 1, 1, 1]), 5)).tolist()) == [0, 1, 2, 3]  # one row of 0


def _memoriser(features: np.ndarray, y: np.ndarray, n_labels: int):
    """A deliberately leaky 'meta-learner': looks each row up among the rows it was fitted on (1-nearest neighbour)."""

    def fit_predict(choose: np.ndarray, score: np.ndarray) -> np.ndarray:
        distances = ((features[score, None, :] - features[None, choose, :]) ** 2).sum(-1)
        nearest = choose[distances.argmin(axis=1)]
        return np.eye(n_labels)[y[nearest]]

    return fit_predict


def test_cross_fitting_catches_a_learner_that_scores_its_own_fitting_rows():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    noise = rng.normal(size=(300, 6))  # no relation to the labels at all
    leaky = _memoriser(noise, y, 3)
    every = np.arange(len(y))
    in_sample = (leaky(every, every).argmax(1) == y).mean()
    crossed = (cross_fit(y, leaky, 3, seed=0).argmax(1) == y).mean()
    assert in_sample == 1.0  # fitted and scored on the same rows: a perfect, meaningless score
    assert crossed < 0.45  # cross-fitted: chance (1/3), as it should be


def test_nested_choice_among_noise_candidates_stays_at_chance():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 120)
    candidates = [rng.dirichlet(np.ones(3), 120) for _ in range(40)]  # forty 'epochs' of pure noise
    every = np.arange(len(y))
    best_everywhere = candidates[best_candidate(candidates, y, every, "accuracy")]
    picked_on_all = (best_everywhere.argmax(1) == y).mean()

    def choose_and_score(choose, score):
        return candidates[best_candidate(candidates, y, choose, "accuracy")][score]

    nested = (cross_fit(y, choose_and_score, 3).argmax(1) == y).mean()
    assert picked_on_all > nested + 0.05  # picking the best of 40 on the scored rows flatters
    assert nested < 0.42


def test_selection_scores_and_ties():
    y = np.array([0, 1, 2, 2])
    good = np.eye(3)[[0, 1, 2, 2]] * 0.9 + 0.1 / 3
    bad = np.eye(3)[[1, 1, 2, 0]] * 0.9 + 0.1 / 3
    assert selection_score(good, y, "macro_f1") == pytest.approx(1.0)
    assert selection_score(good, y, "accuracy") > selection_score(bad, y, "accuracy")
    assert selection_score(good, y, "loss") > selection_score(bad, y, "loss")  # negated cross-entropy
    assert best_candidate([bad, good, good], y, np.arange(4), "macro_f1") == 1  # the earliest of the best
    with pytest.raises(ValueError):
        selection_score(good, y, "auc")


def test_bootstrap_interval_brackets_the_figure_and_narrows_with_more_rows():
    rng = np.random.default_rng(2)
    names = ["negative", "neutral", "positive"]

    def sample(n):
        true = [names[i] for i in rng.integers(0, 3, n)]
        pred = [t if rng.random() < 0.7 else names[rng.integers(0, 3)] for t in true]
        return true, pred

    small_true, small_pred = sample(60)
    small = bootstrap_interval(small_true, small_pred, names)
    figures = compute_metrics(small_true, small_pred, names)
    low, high = small["macro_f1"]
    assert low < figures["macro_f1"] < high
    assert small["accuracy"][0] < figures["accuracy"] < small["accuracy"][1]
    big = bootstrap_interval(*sample(2000), names)
    assert big["macro_f1"][1] - big["macro_f1"][0] < (high - low) / 3
    assert bootstrap_interval(small_true, small_pred, names) == small  # seeded: the same report every time
    perfect = bootstrap_interval(names * 5, names * 5, names)
    assert perfect["macro_f1"] == [1.0, 1.0] and perfect["accuracy"] == [1.0, 1.0]


def test_one_row_gives_one_fold_and_no_crash():
    assert [list(f) for f in fold_indices([2])] == [[0]]
    out = cross_fit([2], lambda choose, score: np.tile([0.2, 0.3, 0.5], (len(score), 1)), 3)
    np.testing.assert_allclose(out, [[0.2, 0.3, 0.5]])
