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
