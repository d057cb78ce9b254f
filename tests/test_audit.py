"""`audit`: rows likely mislabelled, from out-of-fold probabilities only, ranked by cleanlab."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_reviews

from samiksha.audit import audit, out_of_fold_proba, rank_issues
from samiksha.errors import DataError


def _memoriser(seen: list):
    """Recalls the label of any row it was fitted on, else votes among the 5 nearest: perfect on its own rows, so
    in-sample scores would hide every flip."""

    def fit(train_x, train_y, score_x, n_labels):
        seen.append((train_x.copy(), score_x.copy()))
        distance = ((score_x[:, None, :] - train_x[None, :, :]) ** 2).sum(-1)
        votes = np.eye(n_labels)[train_y[np.argsort(distance, axis=1)[:, :5]]].mean(1)
        recalled = distance.min(1) == 0
        votes[recalled] = np.eye(n_labels)[train_y[distance.argmin(1)]][recalled]
        return votes * 0.98 + 0.02 / n_labels

    return fit


def test_ranking_uses_only_out_of_fold_probabilities():
    rng = np.random.default_rng(0)
    features = np.concatenate([rng.normal(c, 0.2, size=(30, 2)) for c in ((0, 0), (5, 5), (0, 5))])
    y = np.repeat([0, 1, 2], 30)
    flipped = np.array([3, 40, 70, 11, 55])
    y[flipped] = (y[flipped] + 1) % 3
    seen: list = []
    proba = out_of_fold_proba(features, y, 3, _memoriser(seen))
    for train_x, score_x in seen:  # no row is scored by a fit that saw it
        assert not (score_x[:, None, :] == train_x[None, :, :]).all(-1).any()
    quality, flagged = rank_issues(y, proba)
    assert set(np.argsort(quality)[:5]) == set(flipped)
    assert set(np.flatnonzero(flagged)) == set(flipped)
    in_sample = _memoriser([])(features, y, features, 3)
    assert not rank_issues(y, in_sample)[1].any()  # the leak the cross-fitting avoids: nothing found


def test_audit_puts_flipped_labels_first(tmp_path):
    frame = make_reviews(12, seed=2)
    flips = {0: "negative", 1: "positive", 2: "neutral"}
    wrong = {}
    for row, new in zip(frame.index[:3], flips.values()):
        if frame.at[row, "label"] == new:
            new = "positive" if new != "positive" else "negative"
        frame.at[row, "label"] = new
        wrong[row + 2] = new  # the row number a spreadsheet shows
    path = tmp_path / "labels.csv"
    frame.to_csv(path, index=False)
    ranking = audit(path, encoder="minilm")
    assert len(ranking) == len(frame) and list(ranking.columns[:4]) == ["row", "text", "label", "suggested"]
    assert set(ranking["row"].head(9)) >= set(wrong), ranking.head(12)
    top = ranking.set_index("row").loc[list(wrong)]
    assert (top["suggested"] != top["label"]).all()
    assert ranking["quality"].is_monotonic_increasing


def test_one_label_is_refused(tmp_path):
    path = tmp_path / "one.csv"
    make_reviews(5, labels=("positive",)).to_csv(path, index=False)
    with pytest.raises(DataError, match="only one label"):
        audit(path, encoder="minilm")


def test_cli_prints_the_top_and_writes_the_full_ranking(tmp_path):
    import pandas as pd
    from test_cli import invoke as cli

    path = tmp_path / "labels.csv"
    make_reviews(8, seed=5).to_csv(path, index=False)
    out = tmp_path / "ranking.jsonl"
    result = cli("audit", path, "--output", out, "--top", 3, "--encoder", "minilm")
    assert result.exit_code == 0, result.output
    assert "likeliest label mistakes" in result.output
    assert len(pd.read_json(out, lines=True)) == 24
