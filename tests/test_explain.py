"""Explanations: words map back to the text, weights mean what they say, on every backend."""

from __future__ import annotations

import json

import numpy as np
import pytest

from samiksha.errors import SamikshaError
from samiksha.explain import explain, occlusion, without, word_spans
from samiksha.predict import Classifier

TEXTS = ["delivery fast thi, par quality bekaar!!! 😡😡", "कुकर की बनावट मज़बूत है, ढक्कन आसानी से बंद होता है",
         "seller ने time पे भेजा (quality average)", "ok"]


def test_words_are_whole_and_in_place():
    text = "कुकर की बनावट मज़बूत है, don't buy!!! 😡😡 ok"
    words = [text[a:b] for a, b in word_spans(text)]
    assert words == ["कुकर", "की", "बनावट", "मज़बूत", "है", ",", "don't", "buy", "!!!", "😡😡", "ok"]
    assert "".join(words) == text.replace(" ", "")


def test_deleting_words_never_joins_their_neighbours():
    text = "hai,par quality"
    spans = word_spans(text)
    assert without(text, [spans[1]]) == "hai par quality"
    assert without(text, spans[:3]) == "quality"


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_occlusion_weights_are_the_fall_in_the_label_probability(trained_tiny, tmp_path, backend):
    if backend == "onnx":
        from samiksha.export import export_onnx

        export_onnx(trained_tiny, tmp_path / "exported", force=True)
        classifier = Classifier.load(tmp_path / "exported", backend="onnx")
    else:
        classifier = Classifier.load(trained_tiny, backend=backend)
    explained = classifier.explain(TEXTS)
    proba = classifier.predict_proba(TEXTS)
    # int8 graphs quantize activations per batch, so a text's scores move slightly with its batch-mates
    tolerance = 1e-3 if backend == "onnx" else 1e-5
    for e, text, row in zip(explained, TEXTS, proba):
        assert [w for w, _ in e.words] == [text[a:b] for a, b in word_spans(text)]
        assert e.label == classifier.labels[row.argmax()] and e.score == pytest.approx(row.max(), abs=tolerance)
        best = int(row.argmax())
        for k in (0, len(e.words) - 1):  # each weight, recomputed by hand
            rest = without(text, [word_spans(text)[k]])
            assert e.words[k][1] == pytest.approx(row[best] - classifier.predict_proba([rest])[0, best],
                                                  abs=max(tolerance, 1e-4) * 2)


def test_long_texts_are_occluded_in_runs_of_neighbours(trained_tiny):
    classifier = Classifier.load(trained_tiny, backend="torch")
    text = " ".join(f"word{i}" for i in range(30))
    [e] = occlusion(classifier, [text], max_occlusions=10)
    weights = [w for _, w in e.words]
    assert len(weights) == 30
    for start in range(0, 30, 3):  # 30 words in 10 runs of 3: one weight per run, shared
        assert weights[start] == weights[start + 1] == weights[start + 2]


def test_tfidf_model_is_explained_too(tmp_path, reviews_csv):
    from samiksha import TrainConfig, train

    train(reviews_csv, tmp_path / "tfidf", config=TrainConfig(method="tfidf", seed=1))
    classifier = Classifier.load(tmp_path / "tfidf")
    [e] = classifier.explain(["bahut badiya product, mast"])
    assert [w for w, _ in e.words] == ["bahut", "badiya", "product", ",", "mast"]
    assert any(w != 0 for _, w in e.words)


def test_gradients_map_pieces_back_to_words(trained_tiny):
    pytest.importorskip("captum")
    classifier = Classifier.load(trained_tiny, backend="torch")
    explained = explain(classifier, TEXTS, method="gradients")
    labels = classifier.predict(TEXTS)
    for e, text, label in zip(explained, TEXTS, labels):
        assert [w for w, _ in e.words] == [text[a:b] for a, b in word_spans(text)]
        assert e.label == label and all(np.isfinite(w) for _, w in e.words)
    assert any(w != 0 for _, w in explained[0].words)


def test_gradients_need_pytorch_and_unknown_methods_fail(trained_tiny, tmp_path):
    from samiksha.export import export_onnx

    export_onnx(trained_tiny, tmp_path / "exported", force=True)
    with pytest.raises(SamikshaError, match="PyTorch"):
        explain(Classifier.load(tmp_path / "exported", backend="onnx"), ["ok"], method="gradients")
    with pytest.raises(SamikshaError, match="unknown explanation method"):
        explain(Classifier.load(trained_tiny), ["ok"], method="shap")


def test_explain_command_json(trained_tiny):
    from typer.testing import CliRunner

    from samiksha.cli import app

    result = CliRunner().invoke(app, ["explain", str(trained_tiny), TEXTS[1], "ok", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert [b["text"] for b in body] == [TEXTS[1], "ok"]
    assert set(body[0]) == {"text", "label", "score", "words"}
    assert [w for w, _ in body[0]["words"]][:3] == ["कुकर", "की", "बनावट"]
    coarse = CliRunner().invoke(app, ["explain", str(trained_tiny), "a b c d e f", "--json", "--max-occlusions", "2"])
    weights = [w for _, w in json.loads(coarse.stdout)[0]["words"]]
    assert weights[:3] == [weights[0]] * 3 and weights[3:] == [weights[3]] * 3
    shown = CliRunner().invoke(app, ["explain", str(trained_tiny), "bahut [/] badiya [bold]"])  # not rich markup
    assert shown.exit_code == 0 and "supports the label" in shown.stdout and "[/]" in shown.stdout
    refused = CliRunner().invoke(app, ["explain", str(trained_tiny), "ok", "--method", "shap"])
    assert refused.exit_code == 1 and "unknown explanation method" in refused.output
