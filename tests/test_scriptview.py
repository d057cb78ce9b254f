"""The script_view clean-up step: the other script appended, the same output for the same input, saved with a model."""

from __future__ import annotations

import importlib.metadata
import sys

import pytest

from samiksha.config import TrainConfig
from samiksha.errors import SamikshaError
from samiksha.normalise import normaliser
from samiksha.scriptview import SEPARATOR

VIEW = normaliser(["unicode", "script_view"])


def test_hinglish_gets_devanagari_and_devanagari_gets_roman():
    hinglish = VIEW("Kya bakwas phone hai yaar, paisa barbaad")
    assert hinglish.startswith("Kya bakwas phone hai yaar, paisa barbaad" + SEPARATOR)
    assert "बकवास" in hinglish.split(SEPARATOR)[1] and "phone" in hinglish.split(SEPARATOR)[1]  # English kept
    assert VIEW("यह उत्पाद बेकार है, पैसे बर्बाद।") == "यह उत्पाद बेकार है, पैसे बर्बाद।" + SEPARATOR + \
        "yah utpad bekar hai, paise barbad."


@pytest.mark.parametrize("text", ["the phone is very good, battery life is great",  # English: no view
                                  "ज़बरदस्त फ़ोन, paisa vasool",  # both scripts already
                                  "5 ⭐ 👍", ""])
def test_english_mixed_and_letterless_reviews_are_left_alone(text):
    assert VIEW(text) == normaliser(["unicode"])(text)


@pytest.mark.parametrize("text", ["bahut accha product hai | seller ne jaldi bheja", "बहुत अच्छा | ठीक है",
                                  "product accha hai but delivery late thi"])
def test_same_input_same_output_and_idempotent(text):
    once = VIEW(text)
    assert VIEW(text) == once
    assert VIEW(once) == once


def test_a_missing_package_is_one_clear_line(monkeypatch):
    from samiksha import scriptview

    scriptview._packages.cache_clear()
    monkeypatch.setitem(sys.modules, "dhvani", None)  # as if not installed
    try:
        with pytest.raises(SamikshaError, match=r"script_view text step needs the 'script' extra: pip install"):
            TrainConfig(text_steps=["unicode", "script_view"])
    finally:
        scriptview._packages.cache_clear()


def test_a_model_trained_with_the_view_predicts_the_same_through_classifier(tmp_path, tiny_bert):
    """The folder saves the step; Classifier applies it, so the same text gives the same probabilities, raw,
    already cleaned, through a second load, or through the ONNX export."""
    import json

    import numpy as np
    import pandas as pd
    from conftest import make_reviews

    from samiksha import Classifier, train
    from samiksha.export import export_onnx

    frame = make_reviews(6)
    frame["text"] = frame["text"] + frame["label"].map({"negative": " bahut bekaar hai yaar", "neutral": " theek hai",
                                                        "positive": " bahut accha hai"})
    data = tmp_path / "reviews.csv"
    frame.to_csv(data, index=False)
    out = tmp_path / "m"
    train(data, out, config=TrainConfig(model=str(tiny_bert), epochs=1, batch_size=8, seed=0, stack=False,
                                        report_seeds=1, text_steps=["unicode", "script_view"]))
    meta = json.loads((out / "samiksha.json").read_text())
    assert meta["config"]["text_steps"] == ["unicode", "script_view"]
    assert meta["versions"]["dhvani"] == importlib.metadata.version("dhvani")  # its word lists make the text
    assert meta["versions"]["indic-transliteration"] == importlib.metadata.version("indic-transliteration")
    assert all(SEPARATOR in t for t in pd.read_csv(out / "eval.csv")["text"])  # evaluated with the view too
    raw = ["kurti bahut accha hai yaar", "यह बेकार है"]
    classifier = Classifier.load(out)
    assert [classifier.clean(t) for t in raw] == [VIEW(t) for t in raw]
    first = classifier.predict_proba(raw)
    assert (classifier.predict_proba(raw) == first).all()
    assert (classifier.predict_proba([classifier.clean(t) for t in raw]) == first).all()
    assert (Classifier.load(out).predict_proba(raw) == first).all()
    export_onnx(out, quantize="none")
    onnx = Classifier.load(out, backend="onnx")
    assert onnx.clean.steps == ("unicode", "script_view")
    np.testing.assert_allclose(onnx.predict_proba(raw), first, atol=1e-4)
