"""`suggest`: cover the pool at first, then the least certain reviews; never a labelled or duplicate row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import make_reviews

from samiksha.errors import DataError
from samiksha.suggest import (
    RANDOM_REASON,
    cover,
    cover_reason,
    guess_and_reason,
    least_certain,
    least_certain_first,
    near_key,
    needs_cover,
    row_id,
    suggest,
)

PLAIN_COVER = r"a typical review: \d+ others? in the pool reads? much like it|unlike any other review in the pool"


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SAMIKSHA_CACHE_DIR", str(tmp_path / "cache"))


def _blobs(k: int, per: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, 16)) * 5
    points = np.concatenate([c + rng.normal(scale=0.1, size=(per, 16)) for c in centres])
    return points / np.linalg.norm(points, axis=1, keepdims=True), np.repeat(np.arange(k), per)


def test_cover_picks_one_review_from_every_cluster():
    points, cluster = _blobs(6, 20)
    picks = cover(points, 6, seed=3)
    assert sorted(cluster[[row for row, _, _ in picks]]) == list(range(6))
    assert [size for _, _, size in picks] == [20] * 6


def test_least_certain_takes_the_most_uncertain_first_and_skips_near_duplicates():
    vectors = np.eye(4)
    vectors = np.vstack([vectors, vectors[0] * 0.99 + vectors[1] * 0.01])  # row 4 is nearly row 0
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    proba = np.array([[0.5, 0.5, 0], [0.9, 0.1, 0], [0.6, 0.4, 0], [1, 0, 0], [0.5, 0.5, 0]])
    assert least_certain(proba, vectors, 3) == [0, 2, 1]  # row 4 ties row 0 but is its near-duplicate


def test_least_certain_first_ranks_every_row_with_near_duplicates_after_the_picks():
    vectors = np.eye(4)
    vectors = np.vstack([vectors, vectors[0] * 0.99 + vectors[1] * 0.01])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    proba = np.array([[0.5, 0.5, 0], [0.9, 0.1, 0], [0.6, 0.4, 0], [1, 0, 0], [0.5, 0.5, 0]])
    embedded: list[list[int]] = []

    def embed_rows(rows):
        embedded.append(list(rows))
        return vectors[rows]

    assert least_certain_first(proba, embed_rows, 2) == [0, 2, 4, 1, 3]  # row 4, a near-duplicate, after the picks
    assert sorted(embedded[0]) == [0, 1, 2, 3, 4]  # only the 10 n least certain are embedded (here: all 5)
    assert least_certain_first(proba, embed_rows, 1)[:1] == [0] and len(embedded[1]) == 5


def test_reasons_are_plain_words():
    assert cover_reason(29) == "a typical review: 28 others in the pool read much like it"
    assert cover_reason(2) == "a typical review: 1 other in the pool reads much like it"
    assert cover_reason(1) == "unlike any other review in the pool"
    _, _, reason = guess_and_reason(np.array([0.41, 0.38, 0.21]), ["negative", "neutral", "positive"],
                                    "a quick model trained on your 12 labels")
    assert reason == "hard to call for a quick model trained on your 12 labels: negative 41% or neutral 38%"


def test_needs_cover_until_every_class_has_five():
    assert needs_cover([0] * 9 + [1] * 5, 3)
    assert not needs_cover([0] * 5 + [1] * 5 + [2] * 5, 3)


def test_near_duplicates_share_a_key_and_ids_are_stable():
    assert near_key("Good product!!") == near_key("good   product")
    assert row_id("Good  product") == row_id("good product") != row_id("bad product")


def _pool(tmp_path) -> tuple[pd.DataFrame, str]:
    frame = make_reviews(8, seed=4)[["text"]].assign(order_id=lambda f: [f"OD{i}" for i in range(len(f))])
    frame = pd.concat([frame, pd.DataFrame({"text": ["good product", "Good product!!", "GOOD PRODUCT", "बहुत अच्छा"],
                                            "order_id": ["D1", "D2", "D3", "D4"]})], ignore_index=True)
    path = tmp_path / "pool.jsonl"
    frame.to_json(path, orient="records", lines=True, force_ascii=False)
    return frame, str(path)


def test_cold_start_never_returns_a_labelled_or_duplicate_row(tmp_path):
    frame, pool = _pool(tmp_path)
    labelled = tmp_path / "labelled.csv"
    frame.iloc[:5].assign(label="positive").to_csv(labelled, index=False)
    picked = suggest(pool, n=len(frame), labelled=labelled, encoder="minilm")
    assert set(picked.columns) >= {"row_id", "text", "order_id", "guess", "reason"}
    assert not set(picked["text"]) & set(frame["text"].iloc[:5])
    assert len({near_key(t) for t in picked["text"]}) == len(picked)
    assert sum(near_key(t) == "good product" for t in picked["text"]) == 1
    assert picked["reason"].str.fullmatch(PLAIN_COVER).all() and (picked["guess"] == "").all()
    assert list(picked["row_id"]) == [row_id(t) for t in picked["text"]]


def test_with_enough_labels_a_quick_model_picks_the_least_certain(tmp_path):
    frame, pool = _pool(tmp_path)
    labelled = tmp_path / "labelled.csv"
    make_reviews(6, seed=9).to_csv(labelled, index=False)
    unsure = (r"hard to call for a quick model trained on your 18 labels: "
              r"(negative|neutral|positive) \d+% or (negative|neutral|positive) \d+%")
    picked = suggest(pool, n=6, labelled=labelled, encoder="minilm", strategy="entropy")
    assert len(picked) == 6 and picked["reason"].str.fullmatch(unsure).all()
    mixed = suggest(pool, n=6, labelled=labelled, encoder="minilm")  # the default: half of them at random
    at_random = mixed["reason"] == RANDOM_REASON
    assert at_random.sum() == 3 and mixed.loc[~at_random, "reason"].str.fullmatch(unsure).all()
    for frame in (picked, mixed):  # the model's guess is there for every pick
        assert set(frame["guess"]) <= {"negative", "neutral", "positive"}
        scores = frame["guess_score"].to_numpy(dtype=float)
        assert ((scores > 0) & (scores <= 1)).all()


def test_a_trained_model_ranks_by_its_own_uncertainty(tmp_path, trained_tiny):
    _, pool = _pool(tmp_path)
    picked = suggest(pool, n=4, model_dir=trained_tiny, encoder="minilm", strategy="entropy")
    assert len(picked) == 4 and picked["reason"].str.contains(str(trained_tiny)).all()
    mixed = suggest(pool, n=4, model_dir=trained_tiny, encoder="minilm")
    assert (mixed["reason"] == RANDOM_REASON).sum() == 2 and (mixed["guess"] != "").all()
    assert mixed.loc[mixed["reason"] != RANDOM_REASON, "reason"].str.contains(str(trained_tiny)).all()


def test_bad_input_gets_one_clear_line(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("text\n", encoding="utf-8")
    with pytest.raises(DataError, match="no data rows"):
        suggest(empty, encoder="minilm")
    frame, pool = _pool(tmp_path)
    with pytest.raises(DataError, match="at least 1"):
        suggest(pool, n=0)
    everything = tmp_path / "all.csv"
    frame.assign(label="positive").to_csv(everything, index=False)
    with pytest.raises(DataError, match="labelled already"):
        suggest(pool, labelled=everything, encoder="minilm")


def test_embeddings_are_cached_by_content(tmp_path, monkeypatch):
    from samiksha import embeddings

    texts = ["first review", "doosra review"]
    first = embeddings.embed(texts, "minilm")
    monkeypatch.setattr(embeddings, "_load", lambda *a: pytest.fail("the cache was not used"))
    assert np.array_equal(embeddings.embed(texts, "minilm"), first)
    assert np.allclose(np.linalg.norm(first, axis=1), 1, atol=1e-5)


def test_cli_writes_the_picks_with_every_column(tmp_path):
    from test_cli import invoke as cli

    _, pool = _pool(tmp_path)
    out = tmp_path / "next.parquet"
    result = cli("suggest", pool, "--output", out, "-n", 3, "--encoder", "minilm")
    assert result.exit_code == 0, result.output
    picked = pd.read_parquet(out)
    assert len(picked) == 3 and {"order_id", "text", "reason"} <= set(picked.columns)
    assert "3 reviews to label next" in result.output
    missing = cli("suggest", tmp_path / "nope.csv", "--output", out)
    assert missing.exit_code == 1 and "no such file" in missing.output
