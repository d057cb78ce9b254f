"""compare and curve on tiny data: the tables, JSON and plots hold the measured values."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from conftest import make_reviews
from typer.testing import CliRunner

from samiksha import TrainConfig
from samiksha.cli import app
from samiksha.compare import compare, learning_curve, parse_sizes, plan_sizes, subsample
from samiksha.data import load_labelled
from samiksha.errors import SamikshaError

runner = CliRunner()


def _tiny(tiny_bert) -> TrainConfig:
    return TrainConfig(model=str(tiny_bert), epochs=1, batch_size=8, seed=11)


def _is_png(path) -> bool:
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_leaderboard_holds_the_measured_values(tmp_path, reviews_csv, tiny_bert):
    out = tmp_path / "board"
    result = compare(reviews_csv, methods=["tfidf", "finetune"], seeds=2, output=out, config=_tiny(tiny_bert))
    saved = json.loads((out / "leaderboard.json").read_text())
    assert saved == json.loads(json.dumps(result))
    assert saved["seeds"] == [11, 12] and set(saved["methods"]) == {"tfidf", "finetune"}
    for row in saved["methods"].values():
        values = [r["macro_f1"] for r in row["runs"]]
        assert [r["seed"] for r in row["runs"]] == [11, 12]
        assert row["macro_f1_mean"] == pytest.approx(np.mean(values))
        assert row["macro_f1_std"] == pytest.approx(np.std(values, ddof=1))
        assert row["accuracy_mean"] == pytest.approx(np.mean([r["accuracy"] for r in row["runs"]]))
        for name in saved["labels"]:
            assert row["per_class_f1_mean"][name] == pytest.approx(np.mean([r["per_class_f1"][name]
                                                                           for r in row["runs"]]))
        assert row["train_seconds_mean"] > 0 and row["texts_per_second_mean"] > 0
        assert all(r["n_train"] == saved["train"]["rows"] for r in row["runs"])  # one split for every run
    assert saved["ranking"] == sorted(saved["methods"], key=lambda m: -saved["methods"][m]["macro_f1_mean"])
    assert saved["train"]["rows"] + saved["eval"]["rows"] == 36
    page = (out / "leaderboard.md").read_text()
    for method, row in saved["methods"].items():
        assert f"| {method} | {row['macro_f1_mean']:.3f} ± {row['macro_f1_std']:.3f} |" in page
    assert _is_png(out / "leaderboard.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["board"]  # scratch models are gone


def test_curve_table_json_and_plot(tmp_path, tiny_bert):
    data = tmp_path / "reviews.csv"
    make_reviews(20).to_csv(data, index=False)
    out = tmp_path / "curve"
    result = learning_curve(data, sizes=[4, 8, None, 100], methods=["tfidf", "finetune"], seeds=2, output=out,
                            config=_tiny(tiny_bert))
    saved = json.loads((out / "curve.json").read_text())
    assert saved == json.loads(json.dumps(result))
    assert [a["size"] for a in saved["auto"]] == [4, 8, "all"]  # 100 per class is every text: the same as 'all'
    assert [p["size"] for p in saved["points"]] == [4, 4, 8, 8, "all", "all"]
    for point in saved["points"]:
        values = [r["macro_f1"] for r in point["runs"]]
        assert point["macro_f1_mean"] == pytest.approx(np.mean(values))
        assert point["macro_f1_std"] == pytest.approx(np.std(values, ddof=1))
        if point["size"] != "all":
            assert all(r["n_train"] == 3 * point["size"] for r in point["runs"])
    assert all(a["method"] == "stack" for a in saved["auto"])  # a plain transformer was named: fine-tuned, stacked
    page = (out / "curve.md").read_text()
    four = {p["method"]: p for p in saved["points"] if p["size"] == 4}
    assert (f"| 4 | 12 | {four['tfidf']['macro_f1_mean']:.3f} ± {four['tfidf']['macro_f1_std']:.3f} | "
            f"{four['finetune']['macro_f1_mean']:.3f} ± {four['finetune']['macro_f1_std']:.3f} |") in page
    assert _is_png(out / "curve.png")


def test_cli_compare_and_curve_with_tfidf(tmp_path, reviews_csv):
    board = runner.invoke(app, ["compare", str(reviews_csv), "--methods", "tfidf", "--seeds", "2",
                                "-o", str(tmp_path / "b")])
    assert board.exit_code == 0, board.output
    saved = json.loads((tmp_path / "b" / "leaderboard.json").read_text())
    assert f"{saved['methods']['tfidf']['macro_f1_mean']:.3f}" in board.output
    assert (tmp_path / "b" / "leaderboard.md").exists() and _is_png(tmp_path / "b" / "leaderboard.png")

    curve = runner.invoke(app, ["curve", str(reviews_csv), "--methods", "tfidf", "--sizes", "2,4,all", "--seeds", "1",
                                "-o", str(tmp_path / "c")])
    assert curve.exit_code == 0, curve.output
    saved = json.loads((tmp_path / "c" / "curve.json").read_text())
    assert [a["method"] for a in saved["auto"]] == ["setfit", "setfit", "setfit"]  # ≤ 10 per class: few-shot
    assert "auto picks" in curve.output and _is_png(tmp_path / "c" / "curve.png")


@pytest.mark.parametrize(("args", "message"), [
    (["compare", "{data}", "--methods", "tfidf,bert"], "unknown method(s) ['bert']"),
    (["compare", "{data}", "--seeds", "0"], "--seeds must be at least 1"),
    (["curve", "{data}", "--sizes", "8,lots"], "--sizes: 'lots' is not a positive number"),
    (["curve", "{data}", "--methods", "auto"], "unknown method(s) ['auto']"),
])
def test_cli_compare_and_curve_errors_are_one_line(tmp_path, reviews_csv, args, message):
    result = runner.invoke(app, [a.format(data=reviews_csv) for a in args] + ["-o", str(tmp_path / "x")])
    assert result.exit_code == 1
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and message in error_lines[0], result.stderr


def test_subsample_is_seeded_stratified_and_capped(reviews_csv):
    data = load_labelled(reviews_csv)
    a, b, c = subsample(data, 5, 1), subsample(data, 5, 1), subsample(data, 5, 2)
    assert a.texts == b.texts and a.texts != c.texts
    assert Counter(a.labels) == {"negative": 5, "neutral": 5, "positive": 5}
    assert len(subsample(data, 50, 1)) == len(data)


def test_sizes_are_parsed_and_planned():
    assert parse_sizes("8, 16,all") == [8, 16, None]
    with pytest.raises(SamikshaError):
        parse_sizes("0")
    assert plan_sizes([64, 8, 16, None, 500], {"a": 100, "b": 40}) == [8, 16, 64, None]
