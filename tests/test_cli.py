from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from samiksha.cli import app

runner = CliRunner()


def invoke(*args, input=None):
    return runner.invoke(app, [str(a) for a in args], input=input)


def test_train_command_writes_a_model(tmp_path, reviews_csv, tiny_bert):
    out = tmp_path / "m"
    result = invoke("train", reviews_csv, "--output", out, "--model", tiny_bert, "--epochs", 1, "--batch-size", 8,
                    "--class-weights", "negative=2,neutral=1,positive=1", "--max-length", 32, "--seed", 5)
    assert result.exit_code == 0, result.output
    assert "macro-F1" in result.output
    meta = json.loads((out / "samiksha.json").read_text())
    assert meta["config"]["class_weights"] == {"negative": 2.0, "neutral": 1.0, "positive": 1.0}
    assert (meta["config"]["max_length"], meta["config"]["seed"]) == (32, 5)


def test_evaluate_json(tmp_path, trained_tiny, reviews_csv, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("evaluate", trained_tiny, reviews_csv, "--json")
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert set(metrics) >= {"accuracy", "macro_f1", "weighted_f1", "per_class"}
    assert set(metrics["per_class"]) == {"negative", "neutral", "positive"}
    assert sum(c["support"] for c in metrics["per_class"].values()) == 36
    assert list(tmp_path.iterdir()) == []  # nothing written into the current folder unasked
    plotted = invoke("evaluate", trained_tiny, reviews_csv, "--plot", tmp_path / "cm.png")
    assert plotted.exit_code == 0 and (tmp_path / "cm.png").read_bytes().startswith(b"\x89PNG")


def test_evaluate_table(tmp_path, trained_tiny, reviews_csv):
    result = invoke("evaluate", trained_tiny, reviews_csv, "--plot", tmp_path / "cm.png")
    assert result.exit_code == 0, result.output
    assert "confusion matrix" in result.output and "macro-F1" in result.output
    assert (tmp_path / "cm.png").stat().st_size > 1000


def test_predict_texts(trained_tiny):
    result = invoke("predict", trained_tiny, "bahut badiya", "bakwas product")
    assert result.exit_code == 0, result.output
    assert "bahut badiya" in result.output and "bakwas product" in result.output


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet", ".xlsx"])
def test_predict_file_keeps_columns_and_adds_probabilities(tmp_path, trained_tiny, suffix):
    source = pd.DataFrame({"order_id": ["A1", "A2", "A3"], "review": ["mast hai", "bakwas", "ठीक है"]})
    source.to_csv(tmp_path / "in.csv", index=False)
    target = tmp_path / f"out{suffix}"
    result = invoke("predict", trained_tiny, "--input", tmp_path / "in.csv", "--output", target)
    assert result.exit_code == 0, result.output
    from samiksha.data import read_table

    labelled = read_table(target)
    assert list(labelled.columns) == ["order_id", "review", "label", "score", "prob_negative", "prob_neutral",
                                      "prob_positive"]
    assert labelled["order_id"].tolist() == ["A1", "A2", "A3"]
    assert labelled["review"].tolist() == ["mast hai", "bakwas", "ठीक है"]
    assert set(labelled["label"]) <= {"negative", "neutral", "positive"}


FORMULAS = ['=HYPERLINK("http://example.com","click")', "=1+2", "+91 98765", "-bakwas", "@SUM(1)", "mast"]


def test_xlsx_output_stores_formula_like_reviews_as_text(tmp_path, reviews_csv):
    import openpyxl

    model = tmp_path / "tfidf"
    assert invoke("train", reviews_csv, "-o", model, "--method", "tfidf").exit_code == 0
    pd.DataFrame({"text": FORMULAS}).to_csv(tmp_path / "in.csv", index=False)
    for target in (tmp_path / "out.xlsx", tmp_path / "out.csv"):
        result = invoke("predict", model, "--input", tmp_path / "in.csv", "--output", target)
        assert result.exit_code == 0, result.output
    sheet = openpyxl.load_workbook(tmp_path / "out.xlsx").active
    cells = [row[0] for row in sheet.iter_rows(min_row=2)]
    assert [c.value for c in cells] == FORMULAS  # the text itself never changes
    assert all(c.data_type == "s" for c in cells), [(c.value, c.data_type) for c in cells]
    assert all(c.quotePrefix for c in cells[:5])
    from samiksha.data import read_table

    assert read_table(tmp_path / "out.csv")["text"].tolist() == FORMULAS  # CSV for machines stays lossless


def test_predict_stdin_to_stdout_does_not_overwrite_an_existing_label_column(trained_tiny):
    result = invoke("predict", trained_tiny, "--input", "-", input="text,label\nmast hai,positive\nbakwas,negative\n")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0] == ("text,label,predicted_label,predicted_score,predicted_prob_negative,"
                        "predicted_prob_neutral,predicted_prob_positive")
    assert lines[1].startswith("mast hai,positive,") and len(lines) == 3


@pytest.mark.parametrize("args, message", [
    (["train", "{tmp}/missing.csv", "-o", "{tmp}/m"], "{tmp}/missing.csv: no such file or folder"),
    (["train", "{data}", "-o", "{tmp}/m", "--eval", "{bad_label}"], "row 3, column 'label': unknown label 'angry'"),
    (["train", "{typo}", "-o", "{tmp}/m"], "row 12, column 'label': unknown label 'postive'"),
    (["train", "{data}", "-o", "{tmp}/m", "--text-column", "body"], "has no text column 'body'"),
    (["train", "{data}", "-o", "{tmp}/m", "--model", "{tmp}"], "not a model folder (no config.json)"),
    (["train", "{data}", "-o", "{tmp}/m", "--model", "./nowhere"], "./nowhere: no such model folder"),
    (["train", "{data}", "-o", "{tmp}/m", "--class-weights", "heavy"], "'heavy' is not name=number"),
    (["train", "{data}", "-o", "{tmp}/m", "--preset", "fast"], "unknown preset 'fast'"),
    (["evaluate", "{tmp}", "{data}"], "not a model folder (no config.json)"),
    (["predict", "{tmp}/nothing", "hello"], "no such model folder"),
    (["predict", "{model}"], "give reviews to label, or --input FILE"),
    (["predict", "{model}", "--input", "{latin1}"], "is not UTF-8 text"),
])
def test_bad_input_gets_one_line_and_exit_1(tmp_path, reviews_csv, trained_tiny, args, message):
    bad_label = tmp_path / "bad.csv"
    bad_label.write_text("text,label\ngood,positive\nhmm,angry\nbad,negative\n", encoding="utf-8")
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("text\ncafé\n".encode("latin-1"))
    typo = tmp_path / "typo.csv"
    typo.write_text("text,label\n" + "".join(f"t{i},{'negative' if i % 2 else 'positive'}\n" for i in range(10))
                    + "t10,postive\n", encoding="utf-8")
    fill = {"typo": typo, "tmp": tmp_path, "data": reviews_csv, "bad_label": bad_label, "model": trained_tiny, "latin1": latin1}
    result = invoke(*[a.format(**fill) for a in args])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and message.format(**fill) in error_lines[0], result.stderr


def test_offline_hub_name_is_one_clear_line(tmp_path, reviews_csv, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    result = invoke("train", reviews_csv, "-o", tmp_path / "m", "--model", "ai4bharat/indic-bert", "--offline")
    assert result.exit_code == 1
    assert "ai4bharat/indic-bert: not in the local Hugging Face cache and offline mode is on" in result.stderr


def test_train_tfidf_then_predict(tmp_path, reviews_csv):
    out = tmp_path / "tfidf"
    result = invoke("train", reviews_csv, "-o", out, "--method", "tfidf")
    assert result.exit_code == 0, result.output
    predicted = invoke("predict", out, "--input", reviews_csv)
    assert predicted.exit_code == 0, predicted.output
    assert predicted.stdout.splitlines()[0].startswith("text,label,predicted_label,predicted_score")
    refused = invoke("predict", out, "hello", "--backend", "onnx")
    assert refused.exit_code == 1 and "has no ONNX backend" in refused.stderr


def test_evaluate_star_ratings_1_and_2_warns_and_reads_them_as_stars_when_told(tmp_path, reviews_csv):
    model = tmp_path / "tfidf"
    assert invoke("train", reviews_csv, "-o", model, "--method", "tfidf").exit_code == 0
    stars = tmp_path / "stars.csv"
    stars.write_text("text,label\nbakwas product,1\ntoot gaya,2\nwaste of money,1\n", encoding="utf-8")
    guessed = invoke("evaluate", model, stars, "--json", "--plot", tmp_path / "cm.png")
    assert guessed.exit_code == 0, guessed.output
    assert "read as class indices 0=negative, 1=neutral, 2=positive; if they are star ratings, pass --label-scheme " \
           "stars" in " ".join(guessed.stderr.split())
    told = invoke("evaluate", model, stars, "--json", "--plot", tmp_path / "cm.png", "--label-scheme", "stars")
    assert told.exit_code == 0, told.output
    assert json.loads(told.stdout)["per_class"]["negative"]["support"] == 3
