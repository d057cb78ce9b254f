"""`suggest.acquire`'s strategies: entropy (the default), mix (a random share) and cluster-margin (spread over
clusters); each picks distinct unlabelled rows, the same ones for the same seed."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_reviews

from samiksha.suggest import RANDOM_REASON, STRATEGIES, acquire, cluster_margin, least_certain, mixed, suggest


def _blobs(k: int, per: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, 16)) * 5
    points = np.concatenate([c + rng.normal(scale=2.0, size=(per, 16)) for c in centres])
    return points / np.linalg.norm(points, axis=1, keepdims=True), np.repeat(np.arange(k), per)


def _doubts(n: int) -> np.ndarray:
    """Probabilities whose uncertainty falls with the row: row 0 the least certain, by entropy and by margin."""
    top = np.linspace(0.4, 0.98, n)
    return np.stack([top, (1 - top) * 0.6, (1 - top) * 0.4], axis=1)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_each_strategy_picks_n_distinct_unlabelled_rows_the_same_for_a_seed(strategy):
    vectors, cluster = _blobs(6, 40)
    y = cluster % 3
    known = np.concatenate([np.flatnonzero(y == c)[:6] for c in range(3)])
    left = np.setdiff1d(np.arange(len(vectors)), known)

    def picks(seed: int) -> list[int]:
        rows, proba, _ = acquire(vectors[left], vectors[known], y[known].tolist(), 3, 12, seed, strategy)
        assert proba is not None and proba.shape == (len(left), 3)
        return left[rows].tolist()

    first = picks(0)
    assert len(first) == 12 == len(set(first))
    assert not set(first) & set(known.tolist())
    assert picks(0) == first
    if strategy != "entropy":
        assert picks(1) != first  # their random draws follow the seed


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_suggest_never_returns_a_labelled_row_whatever_the_strategy(tmp_path, monkeypatch, strategy):
    monkeypatch.setenv("SAMIKSHA_CACHE_DIR", str(tmp_path / "cache"))
    reviews = make_reviews(10, seed=4)
    path = tmp_path / "pool.csv"
    reviews[["text"]].to_csv(path, index=False)
    labelled = tmp_path / "labelled.csv"
    known = reviews.groupby("label").head(5)  # five of each: past the cover, the strategy picks
    known.to_csv(labelled, index=False)
    picked = suggest(path, n=8, labelled=labelled, encoder="minilm", strategy=strategy)
    assert len(picked) == len(set(picked["text"])) == 8
    assert not set(picked["text"]) & set(known["text"])
    random_picks = picked["reason"] == RANDOM_REASON  # said as such, with the model's guess beside it
    assert random_picks.sum() == (4 if strategy == "mix" else 0)
    others = picked.loc[~random_picks, "reason"]
    assert others.str.startswith("hard to call").all() or others.str.startswith("unsure").all()
    with pytest.raises(ValueError, match="unknown strategy"):
        suggest(path, labelled=labelled, strategy="badge")


def test_the_mix_holds_its_random_share_in_every_part_of_the_batch():
    proba = _doubts(1000)
    assert least_certain(proba, None, 20) == list(range(20))
    picks, at_random = mixed(proba, None, 20, seed=5, share=0.5)
    assert len(picks) == len(set(picks)) == 20 and len(at_random) == 10 and at_random <= set(picks)
    far = [row >= 100 for row in picks]  # the least certain 20 would all be under 20; random rows rarely are
    assert 8 <= sum(far) <= 10
    assert all(any(far[i:i + 4]) for i in range(0, 20, 4))  # interleaved, not all at the end
    assert set(picks) - at_random == set(range(10))  # the other half: the least certain
    assert mixed(proba, None, 20, seed=5, share=0.0) == (list(range(20)), set())


def test_cluster_margin_spreads_picks_where_least_certain_takes_one_cluster():
    clusters = np.repeat(np.arange(5), 40)
    rng = np.random.default_rng(0)
    others = [np.concatenate([rng.uniform(0.46, 0.47, 2), rng.uniform(0.6, 0.9, 38)]) for _ in range(4)]
    top = np.concatenate([rng.uniform(0.40, 0.45, 40), *others])  # cluster 0: the least certain
    proba = np.stack([top, (1 - top) * 0.55, (1 - top) * 0.45], axis=1)
    assert set(clusters[least_certain(proba, None, 5)]) == {0}
    picks = cluster_margin(proba, clusters, 5, seed=1)
    assert len(picks) == len(set(picks)) == 5
    assert sorted(clusters[picks]) == [0, 1, 2, 3, 4]
    assert cluster_margin(proba, clusters, 5, seed=1) == picks
