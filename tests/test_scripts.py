from __future__ import annotations

import pandas as pd
import pytest

from samiksha.data import load_labelled
from samiksha.scripts import SCRIPTS, devanagari_share, normalise_indic, script_mix, script_of


@pytest.mark.parametrize(("text", "script"), [
    ("Delivery was fast, quality superb", "latin"),
    ("bahut badiya product hai yaar", "latin"),
    ("Café très joli", "latin"),
    ("बहुत अच्छा उत्पाद है।", "devanagari"),
    ("फ़ोन ठीक है", "devanagari"),
    ("Phone अच्छा है but battery bekaar", "mixed"),
    ("ok।", "latin"),  # the danda is punctuation, not a letter
    ("५ ★★★★★", "other"),  # Devanagari digits and symbols only
    ("😍😍😍 !!!", "other"),
    ("বাংলা রিভিউ", "other"),
    ("", "other"),
])
def test_script_of(text, script):
    assert script_of(text) == script


def test_script_mix_counts_every_script_in_order():
    texts = ["good", "अच्छा", "good अच्छा", "😍", "nice"]
    assert script_mix(texts) == {"latin": 2, "devanagari": 1, "mixed": 1, "other": 1}
    assert list(script_mix([])) == list(SCRIPTS)
    assert script_mix([]) == dict.fromkeys(SCRIPTS, 0)


def test_devanagari_share_counts_devanagari_and_mixed_texts():
    assert devanagari_share(["good", "अच्छा", "good अच्छा", "😍"]) == 0.5
    assert devanagari_share([]) == 0.0


def test_describe_reports_the_script_mix(tmp_path):
    path = tmp_path / "r.csv"
    pd.DataFrame({"text": ["good", "अच्छा है", "Phone अच्छा है", "bad", "😡"],
                  "label": ["positive", "positive", "positive", "negative", "negative"]}).to_csv(path, index=False)
    described = load_labelled(path).describe()
    assert described["script_mix"] == {"latin": 2, "devanagari": 1, "mixed": 1, "other": 1}


def test_normalise_indic_gives_nukta_letters_one_spelling():
    assert normalise_indic("\u095B") == "\u091C\u093C"  # ज़ precomposed -> ज + nukta (a composition exclusion)
    assert normalise_indic("\u0928\u093C") == "\u0929"  # न + nukta -> ऩ
    assert normalise_indic("फ़ोन") == normalise_indic("\u095Eोन")


def test_normalise_indic_drops_zero_width_joiners_only():
    assert normalise_indic("क्\u200Dष") == "क्ष"
    assert normalise_indic("क्\u200Cष") == "क्ष"
    assert normalise_indic("a\u200Bb") == "a\u200Bb"  # a zero-width space separates words: kept
    assert normalise_indic("delivery fast thi") == "delivery fast thi"


def test_normalise_indic_is_idempotent():
    text = "कपड़ा \u095Eोन क्\u200Dष Café"
    assert normalise_indic(normalise_indic(text)) == normalise_indic(text)
