"""Cluster labelling on Ray Data: the same rows, ids and probabilities as labelling in one process."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import make_reviews
from typer.testing import CliRunner

from samiksha import raydata
from samiksha.backends import ONNX_INT8, onnx_model_file
from samiksha.cli import app
from samiksha.data import iter_table
from samiksha.errors import DataError, SamikshaError
from samiksha.predict import Classifier, label_frame

runner = CliRunner()
NEWLINE_TEXT = 'pehli line "quoted"\nदूसरी लाइन, packing kharab'
DEVANAGARI_TEXT = "बहुत बढ़िया फोन है, डिलीवरी भी जल्दी"


@pytest.fixture(scope="module")
def ray_cluster():
    """One local Ray for the module (3 logical CPUs: two actors and a slot for splitting the input)."""
    ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'samiksha[ray]')")
    ray.init(num_cpus=3, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def int8_model(tmp_path_factory, trained_tiny) -> Path:
    """The stacked tiny model with an int8 ONNX export, the folder a cluster would label with."""
    from samiksha.export import export_onnx

    folder = tmp_path_factory.mktemp("ray-model") / "model"
    shutil.copytree(trained_tiny, folder)
    export_onnx(folder, quantize="int8", force=True)
    assert onnx_model_file(folder).name == ONNX_INT8
    return folder


@pytest.fixture(scope="module")
def review_folder(tmp_path_factory) -> Path:
    """A CSV of 2,000 rows (a quoted newline, Devanagari, a pincode with a leading zero), a JSONL and a Parquet."""
    folder = tmp_path_factory.mktemp("reviews")
    big = pd.concat([make_reviews(12, seed=s) for s in range(56)], ignore_index=True).head(2000)
    big["pincode"] = "0" + big.index.astype(str)
    big.loc[7, "text"], big.loc[1500, "text"] = NEWLINE_TEXT, DEVANAGARI_TEXT
    big.to_csv(folder / "a.csv", index=False)
    make_reviews(12, seed=99).rename(columns={"label": "stars"}).to_json(folder / "b.jsonl", orient="records",
                                                                           lines=True, force_ascii=False)
    make_reviews(20, seed=7).to_parquet(folder / "c.parquet", index=False)
    return folder


def in_process(model: Path, path: Path, chunk_rows: int) -> pd.DataFrame:
    """What `samiksha predict` computes for a file, chunk by chunk, before rounding."""
    classifier = Classifier.load(model)
    frames = [label_frame(classifier, chunk, decimals=None) for chunk in iter_table(path, chunk_rows)]
    return pd.concat(frames, ignore_index=True)


def test_ray_labels_every_row_as_one_process_does(ray_cluster, int8_model, review_folder, tmp_path):
    out = tmp_path / "labelled"
    rows = raydata.label_files(int8_model, str(review_folder), str(out), workers=2, chunk_rows=300)
    parts = sorted(out.glob("*.parquet"))
    assert len(parts) > 1 and sorted(p.name for p in tmp_path.iterdir()) == ["labelled"]  # no staging left
    got = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
    assert rows == len(got) == 2000 + 36 + 60
    for name in ("a.csv", "b.jsonl", "c.parquet"):
        path = review_folder / name
        mine = got[got.source_file == str(path)].sort_values("source_row").reset_index(drop=True)
        expected = in_process(int8_model, path, 300)
        assert mine.source_row.tolist() == list(range(len(expected)))  # every row once: the id joins back
        others = [c for c in mine.columns if c not in expected.columns and c not in ("source_file", "source_row")]
        assert mine[others].isna().all().all()  # the other files' columns (parts share one schema) are empty here
        mine = mine[list(expected.columns)]  # every original column, then label, score, prob_*
        for column in expected.columns:
            if column.startswith(("prob_", "predicted_prob_", "score", "predicted_score")):
                np.testing.assert_allclose(mine[column], expected[column], atol=1e-5)
            else:
                assert mine[column].tolist() == expected[column].tolist(), column
    csv = got[got.source_file == str(review_folder / "a.csv")].set_index("source_row")
    assert csv.loc[7, "text"] == NEWLINE_TEXT and csv.loc[1500, "text"] == DEVANAGARI_TEXT
    assert csv.loc[42, "pincode"] == "042"  # cells stay strings, as in `samiksha predict`


def test_cli_writes_csv_parts_and_refuses_a_full_folder(ray_cluster, trained_tiny, review_folder, tmp_path):
    out = tmp_path / "parts"
    result = runner.invoke(app, ["predict", str(trained_tiny), "--input", str(review_folder / "*.csv"),
                                 "--output", str(out), "--engine", "ray", "--output-format", "csv",
                                 "--chunk-rows", "500", "--backend", "torch"])
    assert result.exit_code == 0, result.output
    assert "labelled 2000 rows on Ray Data" in result.output
    got = pd.concat([pd.read_csv(p, dtype=str, keep_default_na=False) for p in sorted(out.glob("*.csv"))])
    got = got.set_index(got.source_row.astype(int)).sort_index()
    expected = in_process(trained_tiny, review_folder / "a.csv", 500)
    assert got.predicted_label.tolist() == expected.predicted_label.tolist()
    np.testing.assert_allclose(got.predicted_prob_positive.astype(float), expected.predicted_prob_positive, atol=1e-5)
    assert got.loc[7, "text"] == NEWLINE_TEXT

    again = runner.invoke(app, ["predict", str(trained_tiny), "--input", str(review_folder / "a.csv"),
                                "--output", str(out), "--engine", "ray"])
    assert again.exit_code == 1 and "already exists" in again.output
    texts = runner.invoke(app, ["predict", str(trained_tiny), "bahut badiya", "--engine", "ray"])
    assert texts.exit_code == 1 and "--engine ray labels files" in texts.output


def test_a_bad_file_fails_with_one_line_and_writes_nothing(ray_cluster, trained_tiny, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    make_reviews(12).to_csv(folder / "a.csv", index=False)
    make_reviews(12).rename(columns={"text": "body_text"}).to_csv(folder / "b.csv", index=False)
    with pytest.raises(SamikshaError, match=r"b\.csv: has no text column 'text'"):
        raydata.label_files(trained_tiny, str(folder), str(tmp_path / "out"), backend="torch")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]
    with pytest.raises(SamikshaError, match="leave none of the cluster"):
        raydata.label_files(trained_tiny, str(folder / "a.csv"), str(tmp_path / "out"), workers=3)
    with pytest.raises(SamikshaError, match="the cluster has 0 GPUs"):
        raydata.label_files(trained_tiny, str(folder / "a.csv"), str(tmp_path / "out"), gpus_per_worker=1)


def test_inputs_are_files_folders_or_globs(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("sub/x.csv", "y.jsonl", "notes.txt.bak", ".hidden.csv", "_partial.csv"):
        (tmp_path / name).write_text("text\nok\n", encoding="utf-8")
    assert raydata.input_paths(str(tmp_path)) == [str(tmp_path / "sub" / "x.csv"), str(tmp_path / "y.jsonl")]
    assert raydata.input_paths(str(tmp_path / "**" / "x.csv")) == [str(tmp_path / "sub" / "x.csv")]
    with pytest.raises(DataError, match="matches no file"):
        raydata.input_paths(str(tmp_path / "*.parquet"))
    with pytest.raises(DataError, match="cannot be labelled with --engine ray"):
        raydata.input_paths(str(tmp_path / "notes.txt.bak"))
    with pytest.raises(DataError, match="no such file"):
        raydata.input_paths(str(tmp_path / "missing.csv"))


def test_without_the_extra_the_message_says_what_to_install(monkeypatch, trained_tiny, tmp_path):
    monkeypatch.setattr(raydata, "ray", None)
    (tmp_path / "a.csv").write_text("text\nok\n", encoding="utf-8")
    result = runner.invoke(app, ["predict", str(trained_tiny), "--input", str(tmp_path / "a.csv"),
                                 "--output", str(tmp_path / "out"), "--engine", "ray"])
    assert result.exit_code == 1
    assert result.output.strip() == "error: --engine ray needs Ray Data: pip install 'samiksha[ray]'"
