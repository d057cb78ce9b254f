"""The text clean-up: each step on its own, idempotence, and the same steps in training and prediction."""

from __future__ import annotations

import pytest

from samiksha.config import TrainConfig
from samiksha.errors import SamikshaError
from samiksha.normalise import DEFAULT_STEPS, STEPS, normaliser, saved_steps

CLEAN_UPS = [s for s in STEPS if s != "script_view"]  # the steps that change a text in place (tests of its own)
ALL = normaliser(CLEAN_UPS)
SAMPLES = [
    "@ nehantics Haan yaar 😔😔 kab karega 😭 … https // t . co / 5RSlSbZNtt",
    "@RahulGandhi sooooo goooood!!!!! 👍🏽 https://t.co/ab12 www.example.com/x ok",
    "ज़बरदस्त फ़ोन, क्\u200Dवालिटी बढ़िया 😍 paisa vasooool",
    "Rs 1000 ka hai, 5 star ⭐⭐⭐⭐⭐ ... theek",
    "",
    "   spaces   everywhere   ",
]


def test_emoji_become_words():
    assert normaliser(["emoji"])("bahut badiya 😍") == "bahut badiya smiling face with heart-eyes"
    assert normaliser(["emoji"])("👍🏽ok") == "thumbs up medium skin tone ok"
    assert normaliser(["emoji"])("no emoji  here") == "no emoji  here"  # untouched when there is none


def test_placeholders_for_users_and_links():
    clean = normaliser(["placeholders"])
    assert clean("@RahulGandhi hello https://t.co/HmH8M7PTaK bye") == "@user hello http bye"
    # SentiMix splits tokens: '@ user' and 'https // t . co / ...'
    assert clean("@ nehantics hi https // t . co / HmH8M7PTaK") == "@user hi http"
    assert clean("see www.flipkart.com/item now") == "see http now"
    assert clean("mail me at a@b.in") == "mail me at a@b.in"  # an e-mail address is neither


def test_elongation_squeezes_letters_not_digits():
    clean = normaliser(["elongation"])
    assert clean("sooooo goooood!!!!! ??? ..") == "soo good!! ?? .."
    assert clean("Rs 1000, 5555 stars") == "Rs 1000, 5555 stars"
    assert clean("बहुuuut") == "बहुuut"


def test_unicode_step_is_the_old_normalisation():
    from samiksha.scripts import normalise_indic

    for text in SAMPLES:
        assert normaliser(["unicode"])(text) == normalise_indic(text)


@pytest.mark.parametrize("text", SAMPLES)
def test_every_step_and_all_together_are_idempotent(text):
    for steps in (["unicode"], ["placeholders"], ["elongation"], ["emoji"], ["script_view"], list(STEPS)):
        clean = normaliser(steps)
        assert clean(clean(text)) == clean(text), steps


def test_devanagari_survives_the_clean_up():
    out = ALL("ज़बरदस्त फ़ोन, क्\u200Dवालिटी बढ़िया 😍")
    assert out.startswith("ज\u093Cबरदस्त फ\u093Cोन, क्वालिटी बढ़िया")
    assert out.endswith("smiling face with heart-eyes")


def test_which_steps_a_config_and_a_saved_folder_use():
    assert TrainConfig().normaliser().steps == DEFAULT_STEPS == ("unicode",)
    assert TrainConfig(normalise=False).normaliser().steps == ()
    assert TrainConfig(text_steps=["unicode"]).normaliser().steps == ("unicode",)
    assert saved_steps({"normalise": True}) == ["unicode"]  # folders from before text_steps
    assert saved_steps({"normalise": False}) == []
    assert saved_steps({}) == []  # a plain Hugging Face folder
    assert saved_steps({"normalise": True, "text_steps": ["unicode", "emoji"]}) == ["unicode", "emoji"]
    with pytest.raises(SamikshaError, match="unknown text clean-up step"):
        normaliser(["lowercase"])


def test_training_and_prediction_clean_texts_the_same_way(tmp_path):
    """The folder records the steps; Classifier applies exactly them, so raw and pre-cleaned texts agree."""
    import json

    import pandas as pd
    from conftest import make_reviews

    from samiksha import Classifier, train

    frame = make_reviews(12)
    frame.loc[frame["label"] == "positive", "text"] += " 😍 soooo good @ritu https://t.co/x"
    data = tmp_path / "reviews.csv"
    frame.to_csv(data, index=False)
    out = tmp_path / "m"
    train(data, out, config=TrainConfig(method="tfidf", seed=0, text_steps=CLEAN_UPS))
    meta = json.loads((out / "samiksha.json").read_text())
    assert meta["config"]["text_steps"] == CLEAN_UPS
    eval_texts = pd.read_csv(out / "eval.csv")["text"].tolist()
    assert not any("😍" in t or "https" in t for t in eval_texts)  # the saved evaluation rows are cleaned too
    classifier = Classifier.load(out)
    raw = "mast product 😍 soooo good @ritu https://t.co/x"
    assert classifier.clean(raw) == "mast product smiling face with heart-eyes soo good @user http"
    cleaned = ALL(raw)
    assert (classifier.predict_proba([raw]) == classifier.predict_proba([cleaned])).all()
