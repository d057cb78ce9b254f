"""The command line follows the usual conventions: --version, -h, clean --help, tables that line up in Hindi."""

from __future__ import annotations

import json
import logging
import re
import unicodedata

import pandas as pd
import pytest
from conftest import make_reviews
from test_cli import invoke


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SAMIKSHA_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def tfidf_model(tmp_path_factory):
    """A TF-IDF model on the toy reviews: seconds to train, enough to drive predict and explain."""
    folder = tmp_path_factory.mktemp("tfidf")
    make_reviews(12).to_csv(folder / "reviews.csv", index=False)
    result = invoke("train", folder / "reviews.csv", "--output", folder / "model", "--method", "tfidf")
    assert result.exit_code == 0, result.output
    return folder / "model", result.output


def test_version_and_short_help():
    from importlib.metadata import version

    result = invoke("--version")
    assert result.exit_code == 0 and result.output.strip() == f"samiksha {version('samiksha')}"
    for args in (["-h"], ["predict", "-h"]):
        result = invoke(*args)
        assert result.exit_code == 0 and "Usage" in result.output, result.output


def test_help_shows_flags_bare_and_keeps_brackets():
    result = invoke("explain", "--help")
    assert result.exit_code == 0
    assert "<bool>" not in result.output
    assert "words: [[word, weight], ...]}" in result.output


def _terminal_width(line: str) -> int:
    """Columns a terminal gives ``line`` (wcwidth: combining marks 0, spacing vowel signs 1, wide 2)."""
    return sum(0 if unicodedata.category(c) in ("Mn", "Me", "Cf") else 2 if unicodedata.east_asian_width(c) in "WF"
               else 1 for c in line)


def test_tables_line_up_with_devanagari(tfidf_model):
    result = invoke("predict", tfidf_model[0], "bahut badiya", "बहुत अच्छा है, कीमत भी ठीक", "ठीक है")
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line.strip()]
    assert len({_terminal_width(line) for line in rows}) == 1, rows


def test_tfidf_trains_once_whatever_the_data_size(tfidf_model):
    folder, output = tfidf_model
    metrics = json.loads((folder / "metrics.json").read_text())
    assert "seeds" not in metrics and "±" not in output


def test_explain_input_file(tmp_path, tfidf_model):
    source = tmp_path / "in.csv"
    pd.DataFrame({"id": [1, 2], "Review": ["bakwas product, paisa barbaad", "mast hai"]}).to_csv(source, index=False)
    target = tmp_path / "out.csv"
    result = invoke("explain", tfidf_model[0], "--input", source, "--text-column", "Review", "--output", target)
    assert result.exit_code == 0, result.output
    got = pd.read_csv(target)
    assert list(got.columns) == ["id", "Review", "label", "score", "supports", "word_weights"]
    assert [w for w, _ in json.loads(got["word_weights"][1])] == ["mast", "hai"]
    printed = invoke("explain", tfidf_model[0], "--input", source, "--text-column", "Review")
    assert printed.exit_code == 0 and "paisa" in printed.output and "mast" in printed.output
    assert invoke("explain", tfidf_model[0]).exit_code == 1  # neither reviews nor --input


def test_suggest_titles_what_it_shows_and_reads_each_files_column(tmp_path):
    pool = tmp_path / "pool.csv"
    make_reviews(4, seed=1)[["text"]].rename(columns={"text": "Comment"}).to_csv(pool, index=False)
    labelled = tmp_path / "labelled.csv"
    make_reviews(2, seed=2).to_csv(labelled, index=False)  # its own "text" column, not "Comment"
    result = invoke("suggest", pool, "-o", tmp_path / "next.csv", "-n", 5, "--labelled", labelled,
                    "--text-column", "Comment", "--encoder", "minilm")
    assert result.exit_code == 0, result.output
    assert "5 reviews to label next" in result.output and "first 10" not in result.output


def test_minilm_named_for_devanagari_data_warns_once(caplog):
    from samiksha.config import TrainConfig
    from samiksha.data import LabelledData
    from samiksha.train import resolve_config

    texts = ["बहुत अच्छा", "bakwas", "ठीक है", "mast hai", "accha"]
    data = LabelledData(texts, ["positive", "negative", "neutral", "positive", "positive"], "x.csv", "text",
                        "label", "sentiment")
    with caplog.at_level(logging.WARNING, logger="samiksha"):
        resolve_config(TrainConfig(model="minilm", method="finetune"), data)
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and re.search(r"40% .*Devanagari.*--model multilingual", warned[0])


def test_training_logs_name_the_users_folder_not_temporary_ones(tmp_path, tiny_bert, caplog):
    from samiksha import TrainConfig, train

    data = tmp_path / "reviews.csv"
    make_reviews(8).to_csv(data, index=False)
    with caplog.at_level(logging.INFO, logger="samiksha"):
        train(data, tmp_path / "shop", config=TrainConfig(model=str(tiny_bert), method="finetune", epochs=1,
                                                          batch_size=8, seed=5, report_seeds=2))
    said = [r.getMessage() for r in caplog.records]
    assert not [line for line in said if "seeds-" in line or "seed6" in line], said
    assert any("seed 6 (2 of 2)" in line for line in said) and any(" 1 epoch (" in line for line in said)
