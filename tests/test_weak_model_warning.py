"""A model whose report shows nothing (too few rows, near chance, below TF-IDF) says so and is not sent to distill."""

from __future__ import annotations

import importlib
import json

from conftest import make_reviews
from typer.testing import CliRunner

from samiksha.cli import app
from samiksha.metrics import compute_metrics, weakness_warning
from samiksha.train import TrainResult

train_module = importlib.import_module("samiksha.train")  # the package's `train` attribute is the function

NAMES = ["negative", "neutral", "positive"]


def _metrics(true: list[str], predicted: list[str], **extra) -> dict:
    return {**compute_metrics(true, predicted, NAMES), **extra}


def test_warning_names_too_few_rows_chance_and_tfidf():
    four = _metrics(["negative", "neutral", "positive", "positive"], ["positive", "negative", "neutral", "positive"])
    line = weakness_warning(four)
    assert "only 4 reviews" in line and "chance" in line and "\n" not in line
    right = NAMES * 20
    assert weakness_warning(_metrics(right, right)) is None
    assert "chance" in weakness_warning(_metrics(right, ["positive"] * 60))
    stack = _metrics(right, right[:50] + ["positive"] * 10, parts={"tfidf": {"macro_f1": 0.99}})
    assert "below the TF-IDF part alone (0.990)" in weakness_warning(stack)
    dead = _metrics(right, right, parts={"transformer": {"macro_f1": 0.167}, "tfidf": {"macro_f1": 0.9}})
    assert "its transformer part alone is near chance (macro-F1 0.167)" in weakness_warning(dead)


def test_train_on_tiny_data_warns_in_output_and_report(tmp_path):
    data = make_reviews(n_per_class=6, seed=3)
    data["label"] = data["label"].sample(frac=1, random_state=0).to_numpy()  # labels unrelated to the texts
    path = tmp_path / "tiny.csv"
    data.to_csv(path, index=False)
    result = CliRunner().invoke(app, ["train", str(path), "-o", str(tmp_path / "m"), "--method", "tfidf"])
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "warning:" in output and "reviews (fewer than 30 say little)" in output
    assert (tmp_path / "m" / "report.txt").read_text().startswith("warning: scored on only")
    assert "fewer than 30" in json.loads((tmp_path / "m" / "metrics.json").read_text())["warning"]


def test_weak_stack_is_not_sent_to_distill(tmp_path, monkeypatch):
    def fake_train(data, output, *, eval_data=None, config=None, resume=False, callbacks=None):
        metrics = _metrics(["negative", "neutral", "positive", "positive"], ["positive"] * 4, data="held-out split")
        return TrainResult(output, metrics, {"method": "stack"})

    monkeypatch.setattr(train_module, "train", fake_train)
    path = tmp_path / "r.csv"
    make_reviews().to_csv(path, index=False)
    result = CliRunner().invoke(app, ["train", str(path), "-o", str(tmp_path / "m")])
    assert result.exit_code == 0, result.output
    assert "warning:" in result.output and "distill" not in result.output
