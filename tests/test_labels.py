from __future__ import annotations

import pytest

from samiksha.labels import LabelSchema, infer_kind, parse_label


@pytest.mark.parametrize("raw, name", [
    ("negative", "negative"), ("NEGATIVE", "negative"), (" Neg ", "negative"), ("neutral", "neutral"),
    ("NEU", "neutral"), ("Positive", "positive"), ("pos", "positive"),
])
def test_sentiment_spellings(raw, name):
    assert parse_label(raw, "sentiment") == name


@pytest.mark.parametrize("raw, name", [("0", "negative"), ("1", "neutral"), ("2", "positive"), ("2.0", "positive")])
def test_classic_indices(raw, name):
    assert parse_label(raw, "index") == name


@pytest.mark.parametrize("raw, name", [("1", "negative"), ("2", "negative"), ("3", "neutral"), ("4", "positive"),
                                       ("5", "positive"), ("5.0", "positive")])
def test_star_ratings(raw, name):
    assert parse_label(raw, "stars") == name


@pytest.mark.parametrize("raw, kind", [("maybe", "sentiment"), ("3", "index"), ("6", "stars"), ("0", "stars"),
                                       ("2.5", "stars"), ("", "custom")])
def test_values_outside_a_kind_are_rejected(raw, kind):
    assert parse_label(raw, kind) is None


@pytest.mark.parametrize("values, column, kind", [
    (["positive", "NEG", "neutral"], "label", "sentiment"),
    (["0", "1", "2", "1"], "label", "index"),
    (["1", "2", "3", "4", "5"], "label", "stars"),
    (["1", "2"], "rating", "stars"),  # a column called rating holds stars even if only 1 and 2 occur
    (["1", "2"], "label", "index"),
    (["spam", "ham"], "label", "custom"),
    (["positive", "spam"], "label", "custom"),
    (["positive"] * 5 + ["negative"] * 5 + ["postive"], "label", "sentiment"),  # a typo, reported by row
    (["7", "8"], "label", "custom"),
])
def test_infer_kind(values, column, kind):
    assert infer_kind(values, column) == kind


def test_schema_order_is_natural_for_sentiment_and_sorted_otherwise():
    assert LabelSchema.from_labels(["positive", "negative", "neutral"]).names == ("negative", "neutral", "positive")
    assert LabelSchema.from_labels(["positive", "negative"]).names == ("negative", "positive")
    schema = LabelSchema.from_labels(["spam", "ham", "eggs", "ham"])
    assert schema.names == ("eggs", "ham", "spam")
    assert schema.id2label == {0: "eggs", 1: "ham", 2: "spam"}
    assert schema.label2id == {"eggs": 0, "ham": 1, "spam": 2}


@pytest.mark.parametrize("values, column, scheme, kind, ambiguous", [
    (["1", "2", "2"], "label", None, "index", True),  # star ratings 1-2, or class ids 1 and 2: both fit
    (["2", "2"], "label", None, "index", True),
    (["1", "2"], "label", "stars", "stars", False),
    (["1", "2"], "label", "ids", "index", False),
    (["1", "2"], "rating", None, "stars", False),  # the column's name says stars
    (["0", "1", "2"], "label", None, "index", False),  # 0 is no star rating
    (["1", "2", "5"], "label", None, "stars", False),  # 5 is no class id
    (["positive", "negative"], "label", "stars", "stars", False),  # an explicit scheme is applied as given
    (["positive", "negative"], "label", None, "sentiment", False),
])
def test_numeric_labels_read_by_an_explicit_scheme_or_say_how_they_were_read(values, column, scheme, kind, ambiguous):
    from samiksha.labels import choose_kind

    chosen, note, both = choose_kind(values, column, scheme)
    assert (chosen, both) == (kind, ambiguous)
    guessed_numbers = scheme is None and kind in ("index", "stars")
    assert (note is not None) == guessed_numbers  # a guess is always named, never silent
    if ambiguous:
        assert "--label-scheme stars" in note and "class indices 0=negative, 1=neutral, 2=positive" in note


def test_unknown_label_scheme_is_one_clear_error():
    from samiksha.errors import SamikshaError
    from samiksha.labels import choose_kind

    with pytest.raises(SamikshaError, match="unknown label scheme 'likert' \\(choose from auto, stars, ids\\)"):
        choose_kind(["1"], "label", "likert")


def test_star_ratings_1_and_2_warn_and_read_as_stars_when_told(tmp_path, caplog):
    import logging

    from samiksha.data import load_labelled

    path = tmp_path / "stars.csv"
    path.write_text("text,label\nbakwas,1\ntoot gaya,2\nwaste,1\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="samiksha"):
        assert load_labelled(path).labels == ["neutral", "positive", "neutral"]
    assert "numbers 1, 2 in 'label' read as class indices" in caplog.text
    assert load_labelled(path, label_scheme="stars").labels == ["negative"] * 3
