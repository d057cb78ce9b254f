from __future__ import annotations

import csv
import json
import tracemalloc

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from samiksha.cli import app
from samiksha.errors import DataError
from samiksha.predict import Classifier, predict_file


class LengthBackend:
    """A stand-in model (logits from text length) so the test measures streaming, not inference."""

    name = "length"

    def logits(self, texts, max_length):
        n = np.array([len(t) for t in texts], dtype=np.float32)
        return np.stack([-n, np.zeros_like(n), n / 10], axis=1)


@pytest.fixture
def length_classifier():
    return Classifier(LengthBackend(), ["negative", "neutral", "positive"])


def _big_csv(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "review", "city"])
        for i in range(rows):
            writer.writerow([i, f"review number {i} " + "x" * (i % 37), "पुणे" if i % 3 else "Delhi"])
    return path


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_streaming_memory_stays_bounded(tmp_path, length_classifier, suffix):
    source = _big_csv(tmp_path / "big.csv", 200_000)
    target = tmp_path / f"labelled{suffix}"
    tracemalloc.start()
    rows = predict_file(length_classifier, source, target, chunk_rows=5_000)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert rows == 200_000
    # the whole labelled table as a DataFrame is well over 100 MB of Python objects; a chunk is a few MB
    assert peak < 40e6, f"peak {peak / 1e6:.1f} MB"
    if suffix == ".csv":
        head = pd.read_csv(target, nrows=3, dtype=str)
        assert list(head.columns) == ["id", "review", "city", "label", "score", "prob_negative", "prob_neutral",
                                      "prob_positive"]
        assert head["id"].tolist() == ["0", "1", "2"]
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        assert pq.ParquetFile(target).metadata.num_rows == 200_000


def test_chunks_keep_order_and_match_whole_file(tmp_path, length_classifier):
    source = _big_csv(tmp_path / "small.csv", 2_345)
    predict_file(length_classifier, source, tmp_path / "a.jsonl", chunk_rows=100)
    predict_file(length_classifier, source, tmp_path / "b.jsonl", chunk_rows=100_000)
    a = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text(encoding="utf-8").splitlines()]
    b = [json.loads(line) for line in (tmp_path / "b.jsonl").read_text(encoding="utf-8").splitlines()]
    assert a == b and len(a) == 2_345
    assert [int(r["id"]) for r in a] == list(range(2_345))
    assert a[1]["city"] == "पुणे"


def test_failed_stream_leaves_no_partial_output(tmp_path, length_classifier):
    source = tmp_path / "broken.csv"
    source.write_bytes(b"review\n" + b"fine\n" * 50_000 + b"caf\xe9\n")
    target = tmp_path / "out.csv"
    with pytest.raises(DataError, match="is not UTF-8 text"):
        predict_file(length_classifier, source, target, chunk_rows=1_000)
    assert not target.exists()
    assert not list(tmp_path.glob(".out.csv.*"))


def test_cli_streams_a_file_with_the_real_model(tmp_path, trained_tiny):
    source = _big_csv(tmp_path / "in.csv", 1_200)
    result = CliRunner().invoke(app, ["predict", str(trained_tiny), "-i", str(source), "-o", str(tmp_path / "o.csv"),
                                      "--chunk-rows", "500", "--backend", "torch"])
    assert result.exit_code == 0, result.output
    labelled = pd.read_csv(tmp_path / "o.csv")
    assert len(labelled) == 1_200 and labelled["id"].tolist() == list(range(1_200))
    assert "labelled 1200 rows with the torch+tfidf backend" in result.stderr
