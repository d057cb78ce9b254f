"""Aspects: clauses, seed words, sentiment per clause, user aspect files, the command and the hand-labelled sets."""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from samiksha.aspects import (
    ASPECT_NAMES,
    AspectFinder,
    aspect_scores,
    aspect_set,
    clauses,
    keyword_baseline,
    read_aspect_file,
    read_aspect_labels,
)
from samiksha.cli import app
from samiksha.demo import demo_data_dir
from samiksha.errors import DataError

LABELS = ["negative", "neutral", "positive"]


class WordModel:
    """A stand-in sentiment model with known answers: 'bekaar'/'late' negative, 'fast'/'achhi' positive."""

    labels = LABELS

    def predict_proba(self, texts, batch_size=64):
        out = []
        for text in texts:
            neg = sum(w in text for w in ("bekaar", "late", "बेकार"))
            pos = sum(w in text for w in ("fast", "achhi", "अच्छी"))
            out.append(np.exp([neg * 2.0, 0.5, pos * 2.0]))
        out = np.array(out)
        return out / out.sum(axis=1, keepdims=True)

    def predict(self, texts, batch_size=64):
        return [LABELS[i] for i in self.predict_proba(texts).argmax(axis=1)]


def test_clauses_split_on_connectives_in_three_scripts():
    assert clauses("delivery fast thi par quality bekaar") == ["delivery fast thi", "par quality bekaar"]
    assert clauses("packing achhi hai lekin size chhota. Seller ok!") == ["packing achhi hai", "lekin size chhota",
                                                                        "Seller ok"]
    assert clauses("डिलीवरी समय पर हुई, लेकिन कपड़ा खराब है") == ["डिलीवरी समय पर हुई", "लेकिन कपड़ा खराब है"]
    assert clauses("डिलीवरी जल्दी थी पर कपड़ा खराब") == ["डिलीवरी जल्दी थी", "पर कपड़ा खराब"]
    assert clauses("delivery time par aayi") == ["delivery time par aayi"]  # "par" as "on", not "but"
    assert clauses("Good phone but the battery drains") == ["Good phone", "but the battery drains"]
    assert clauses("!!!") == []
    assert clauses("Rs. 1,299 mein liya, 4.5 star") == ["Rs 1,299 mein liya", "4.5 star"]  # numbers stay whole


def test_mixed_review_gets_one_sentiment_per_aspect():
    finder = AspectFinder(WordModel())
    [found] = finder.find(["delivery fast thi par quality bekaar"])
    assert [(a.aspect, a.sentiment) for a in found] == [("delivery", "positive"), ("quality", "negative")]
    [found] = finder.find(["डिलीवरी fast थी लेकिन कपड़ा बेकार"])
    assert [(a.aspect, a.sentiment) for a in found] == [("delivery", "positive"), ("quality", "negative")]
    # one clause: the review's label for all its aspects
    [found] = finder.find(["packing and price bekaar"])
    assert {a.aspect for a in found} == {"packaging", "price"} and {a.sentiment for a in found} == {"negative"}
    assert finder.find(["bahut badiya", "So-so."]) == [[], []]


def test_seed_words_match_whole_words_and_prefixes():
    finder = AspectFinder(WordModel())
    found = finder.find(["it got delivered late", "inbox full", "refunded in 2 days", "box was torn"])
    assert [[a.aspect for a in row] for row in found] == [["delivery"], [], ["returns"], ["packaging"]]


def test_numbers_in_seeds_and_polarity_words_with_negation():
    from samiksha.aspects import polarity

    finder = AspectFinder(WordModel())
    found = finder.find(["499 mein itna solid trimmer", "₹1500 का है", "2 din mein aa gaya"])
    assert [[a.aspect for a in row] for row in found] == [["price", "quality"], ["price"], ["delivery"]]
    assert polarity("packing achhi thi") == 1 and polarity("packing achhi nahi thi") == -1
    assert polarity("पैकिंग बहुत खराब") == -1 and polarity("not bad at all") == 1 and polarity("box aaya") == 0


def test_polarity_words_decide_a_clause_the_model_reads_wrongly():
    class Contrary(WordModel):
        """Calls everything negative, clauses included."""

        def predict_proba(self, texts, batch_size=64):
            return np.tile([0.8, 0.1, 0.1], (len(texts), 1))

    [found] = AspectFinder(Contrary()).find(["packing bahut achhi thi lekin quality bekaar"])
    assert [(a.aspect, a.sentiment) for a in found] == [("packaging", "positive"), ("quality", "negative")]
    [found] = AspectFinder(Contrary(), polarity_weight=0).find(["packing bahut achhi thi lekin quality bekaar"])
    assert [a.sentiment for a in found] == ["negative", "negative"]


def test_keyword_baseline_gives_every_aspect_the_review_label():
    [found] = keyword_baseline(WordModel(), ["delivery fast thi par quality bekaar bekaar"])
    assert {(a.aspect, a.sentiment) for a in found} == {("delivery", "negative"), ("quality", "negative")}


def test_user_aspect_file_adds_replaces_and_refuses_bad_lines(tmp_path):
    file = tmp_path / "mine.txt"
    file.write_text("# my shop\nbattery: battery, charge*, बैटरी\nsound: awaaz, bass, sound\nemi: # ki emi\n",
                    encoding="utf-8")
    assert [a.name for a in read_aspect_file(file)] == ["battery", "sound", "emi"]
    file.write_text("# my shop\nbattery: battery, charge*, बैटरी\nsound: awaaz, bass, sound\n", encoding="utf-8")
    names = [a.name for a in aspect_set(file)]
    assert names == [n for n in ASPECT_NAMES if n != "sound"] + ["battery", "sound"]
    assert [a.name for a in aspect_set(file, replace=True)] == ["battery", "sound"]
    finder = AspectFinder(WordModel(), aspect_set(file, replace=True))
    [found] = finder.find(["बैटरी fast charge hoti hai lekin awaaz bekaar"])
    assert [(a.aspect, a.sentiment) for a in found] == [("battery", "positive"), ("sound", "negative")]
    for bad, words in (("battery battery\n", "line 1"), ("x:\n", "line 1"), ("\nall: *\n", "line 2"), ("ok: a\nok: b\n", "named twice"),
                       ("# nothing\n", "no aspects")):
        file.write_text(bad, encoding="utf-8")
        with pytest.raises(DataError, match=words):
            read_aspect_file(file)


def test_scores_by_hand():
    gold = [[("delivery", "positive"), ("quality", "negative")], [("price", "neutral")], []]
    found = [[("delivery", "positive"), ("quality", "positive")], [], [("size", "negative")]]
    s = aspect_scores(gold, found)
    assert s["micro_f1"] == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))  # tp 2, fp 1 (size), fn 1 (price)
    assert s["sentiment_accuracy"] == 0.5 and s["sentiment_on"] == 2
    assert s["pair_f1"] == pytest.approx(2 * 1 / (2 * 1 + 2 + 2))
    assert s["per_aspect_f1"]["delivery"] == 1.0 and s["per_aspect_f1"]["returns"] == 0.0


@pytest.mark.parametrize("name", ["aspects_test.csv", "aspects_dev.csv"])
def test_hand_labelled_sets_are_well_formed(name):
    texts, labels = read_aspect_labels(demo_data_dir() / name)
    assert len(texts) >= 130 and len(set(texts)) == len(texts)
    for pairs in labels:
        names = [n for n, _ in pairs]
        assert set(names) <= set(ASPECT_NAMES) and len(names) == len(set(names))
    assert sum(len({s for _, s in p}) > 1 for p in labels) >= 30  # mixed-sentiment reviews
    if name == "aspects_test.csv":
        with open(demo_data_dir() / "test.csv", encoding="utf-8", newline="") as handle:
            demo = [row["text"] for row in csv.DictReader(handle)]
        rows = list(csv.DictReader(open(demo_data_dir() / name, encoding="utf-8", newline="")))
        assert [r["text"] for r in rows if r["source"] == "demo-test"] == demo
        assert sum(r["source"] == "new" for r in rows) >= 150
        dev = set(read_aspect_labels(demo_data_dir() / "aspects_dev.csv")[0])
        assert not dev & set(texts)


def test_aspects_command_keeps_every_column(trained_tiny, tmp_path):
    source = tmp_path / "in.csv"
    pd.DataFrame({"id": [7, 8], "review": ["delivery late thi par packing achhi", "ok"]}).to_csv(source, index=False)
    target = tmp_path / "out.jsonl"
    result = CliRunner().invoke(app, ["aspects", str(trained_tiny), "--input", str(source), "--output", str(target)])
    assert result.exit_code == 0, result.output
    out = pd.read_json(target, lines=True)
    assert list(out.columns) == ["id", "review", "aspects"] and out["id"].tolist() == [7, 8]
    first = json.loads(out["aspects"][0])
    assert [a["aspect"] for a in first] == ["delivery", "packaging"]
    assert all(a["sentiment"] in LABELS for a in first) and json.loads(out["aspects"][1]) == []
    shown = CliRunner().invoke(app, ["aspects", str(trained_tiny), "size chhota hai"])
    assert shown.exit_code == 0 and "size" in shown.stdout
    refused = CliRunner().invoke(app, ["aspects", str(trained_tiny), "ok", "--only-file-aspects"])
    assert refused.exit_code == 1 and "--only-file-aspects needs --aspects" in refused.output
