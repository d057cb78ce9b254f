"""Small-data helpers say nothing they cannot back: guesses only once the quick model beats chance on held-out
folds, audits only with enough labels of each class, and the quick model's C chosen by cross-validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import make_reviews

from samiksha.audit import audit_data
from samiksha.data import LabelledData
from samiksha.embeddings import quick_proba, quick_skill
from samiksha.errors import DataError
from samiksha.suggest import RANDOM_REASON, pick_next, row_id, suggest


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SAMIKSHA_CACHE_DIR", str(tmp_path / "cache"))


def _unit(points: np.ndarray) -> np.ndarray:
    return points / np.linalg.norm(points, axis=1, keepdims=True)


def _blobs(per: int, spread: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three classes around nearby directions of a 32-d space (as sentence embeddings sit: all close together)."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=32)
    centres = [base + rng.normal(size=32) * 0.15 for _ in range(3)]
    points = np.concatenate([c + rng.normal(scale=spread, size=(per, 32)) for c in centres])
    return _unit(points), np.repeat(np.arange(3), per)


def test_the_quick_model_is_not_stuck_near_a_third_on_unit_length_embeddings():
    x, y = _blobs(20, 0.05)
    proba = quick_proba(x, y, x, 3, balanced=True)
    assert (proba.argmax(axis=1) == y).all()
    assert proba.max(axis=1).mean() > 0.8  # C=1 left every row near 1/3 here
    assert quick_proba(x, y, x, 3, balanced=True, c=1.0).max(axis=1).mean() < 0.5


def test_skill_tells_signal_from_noise():
    x, y = _blobs(15, 0.05)
    assert quick_skill(x, y, 3).better_than_chance
    noise = np.random.default_rng(1).permutation(y)
    judged = quick_skill(x, noise, 3)
    assert not judged.better_than_chance and "chance" in judged.describe()


def test_no_guesses_while_the_quick_model_is_no_better_than_chance():
    x, y = _blobs(10, 0.05)
    pool = _unit(np.random.default_rng(2).normal(size=(20, 32)))
    noise = np.random.default_rng(3).permutation(y)
    picks, proba, why = pick_next(pool, x, noise, 3, 6)
    assert len(picks) == 6 and proba is None
    at_random = [row for row in picks if why[row] == RANDOM_REASON]  # the default mix: half are random picks
    assert len(at_random) == 3
    assert all("no guess yet" in why[row] and "chance" in why[row] for row in picks if row not in at_random)
    picks, proba, why = pick_next(pool, x, y, 3, 6)
    assert proba is not None and list(why.values()) == [RANDOM_REASON] * 3
    picks, proba, why = pick_next(pool, x, y, 3, 6, strategy="entropy")
    assert proba is not None and not why


def test_suggest_leaves_guesses_empty_for_labels_that_are_noise(tmp_path):
    truth = make_reviews(6, seed=9)
    shuffled = truth.assign(label=np.random.default_rng(0).permutation(truth["label"].to_numpy()))
    labelled, pool = tmp_path / "labelled.csv", tmp_path / "pool.csv"
    shuffled.to_csv(labelled, index=False)
    make_reviews(4, seed=1)[["text"]].to_csv(pool, index=False)
    picked = suggest(pool, n=6, labelled=labelled, encoder="minilm")
    unsure = picked["reason"] != RANDOM_REASON
    assert (picked["guess"] == "").all() and unsure.sum() == 3
    assert picked.loc[unsure, "reason"].str.contains("no better than chance").all()


def _labelled(frame: pd.DataFrame) -> LabelledData:
    return LabelledData(frame["text"].tolist(), frame["label"].tolist(), "labels.csv", "text", "label", "sentiment",
                        list(range(2, len(frame) + 2)))


def test_audit_asks_for_more_labels_of_each_class():
    frame = make_reviews(5, seed=2)
    with pytest.raises(DataError, match=r"at least 8 of each label, so label 3 more negative, 3 more neutral"):
        audit_data(_labelled(frame), encoder="minilm")


def test_check_my_labels_lists_only_the_flagged_and_asks_for_more_first(tmp_path):
    from fastapi.testclient import TestClient

    from samiksha.labelpage import create_label_app

    truth = make_reviews(10, seed=4)
    pool = tmp_path / "pool.csv"
    truth[["text"]].to_csv(pool, index=False)
    with TestClient(create_label_app(pool, encoder="minilm", target=30)) as page:
        for n, (text, label) in enumerate(zip(truth["text"], truth["label"])):
            page.post("/label/api/label", json={"row_id": row_id(text), "label": label})
            if n == 14:
                refused = page.get("/label/api/audit")
                assert refused.status_code == 400 and "at least 8 of each label" in refused.json()["error"]
        listed = page.get("/label/api/audit").json()  # 30 right labels: it listed 20 of them, "looks" alike included
        assert len(listed) < 10 and all(s["flagged"] and s["suggested"] != s["label"] for s in listed)
