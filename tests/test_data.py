from __future__ import annotations

import json
import logging

import pandas as pd
import pytest
from conftest import make_reviews

from samiksha.data import check_leakage, check_training_data, iter_table, load_labelled, read_table, stratified_split
from samiksha.errors import DataError


def _write(frame: pd.DataFrame, path):
    suffix = path.suffix
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".tsv":
        frame.to_csv(path, index=False, sep="\t")
    elif suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    elif suffix == ".parquet":
        frame.to_parquet(path, index=False)
    elif suffix == ".xlsx":
        frame.to_excel(path, index=False)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".parquet", ".xlsx"])
def test_each_file_format_loads(tmp_path, suffix):
    frame = make_reviews(4)
    frame.loc[0, "text"] = 'मस्त "quoted", with comma'
    data = load_labelled(_write(frame, tmp_path / f"reviews{suffix}"))
    assert data.texts == frame["text"].tolist()
    assert data.labels == frame["label"].tolist()
    assert (data.text_column, data.label_column, data.label_kind) == ("text", "label", "sentiment")


def test_datasets_folder_loads(tmp_path):
    import datasets

    frame = make_reviews(3)
    datasets.DatasetDict({"train": datasets.Dataset.from_pandas(frame)}).save_to_disk(str(tmp_path / "hf"))
    data = load_labelled(tmp_path / "hf")
    assert data.texts == frame["text"].tolist()


def test_columns_found_by_common_names_and_integer_labels(tmp_path, caplog):
    path = tmp_path / "r.jsonl"
    path.write_text("\n".join(json.dumps({"id": i, "review_text": t, "sentiment": lab})
                              for i, (t, lab) in enumerate([("achha", 2), ("bura", 0), ("theek", 1)])) + "\n")
    with caplog.at_level(logging.INFO, logger="samiksha"):
        data = load_labelled(path)
    assert (data.text_column, data.label_column, data.label_kind) == ("review_text", "sentiment", "index")
    assert data.labels == ["positive", "negative", "neutral"]
    assert "text column 'review_text', label column 'sentiment'" in caplog.text


def test_star_ratings_column(tmp_path):
    path = _write(pd.DataFrame({"review": ["a", "b", "c", "d", "e"], "rating": [1, 2, 3, 4, 5]}), tmp_path / "s.csv")
    assert load_labelled(path).labels == ["negative", "negative", "neutral", "positive", "positive"]


def test_unknown_label_names_file_row_and_column(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("text,label\ngood one,positive\nhmm,maybe\n", encoding="utf-8")
    from samiksha.labels import LabelSchema

    with pytest.raises(DataError) as caught:
        load_labelled(path, schema=LabelSchema(("negative", "neutral", "positive")))
    assert str(caught.value) == (f"{path}, row 3, column 'label': unknown label 'maybe' "
                                 "(expected negative, neutral, positive)")


def test_unknown_star_value(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("text,rating\na,5\nb,4\nc,9\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"row 4, column 'rating': unknown label '9'"):
        load_labelled(path, schema=None)


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    (b"", "is empty"),
    (b"text,label\n", "has no data rows"),
    (b"text,label\ncaf\xe9 accha,positive\n", r"is not UTF-8 text \(byte 0xe9 on line 2\)"),
    (b"words,stars2\nhello,positive\n", "no text column found among words, stars2"),
    (b'text,label\n"a",positive\nb,neutral,extra\n', r"row 3: cannot be read as csv"),
])
def test_bad_files_raise_one_clear_line(tmp_path, content, message):
    path = tmp_path / "input.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError, match=message) as caught:
        load_labelled(path)
    assert str(caught.value).startswith(str(path))
    assert "\n" not in str(caught.value)


def test_named_column_missing(tmp_path, reviews_csv):
    with pytest.raises(DataError, match=r"has no text column 'body' \(columns: text, label\)"):
        load_labelled(reviews_csv, text_column="body")


def test_unsupported_suffix(tmp_path):
    path = tmp_path / "r.docx"
    path.write_text("x")
    with pytest.raises(DataError, match="unsupported file type '.docx'"):
        read_table(path)


def test_one_class_data_is_refused(tmp_path):
    path = _write(make_reviews(5, labels=("positive",)), tmp_path / "one.csv")
    with pytest.raises(DataError, match=r"has only one class \(positive\)"):
        check_training_data(load_labelled(path))


def test_small_data_conflicts_and_rare_classes_warn(tmp_path, caplog):
    frame = pd.concat([make_reviews(5), pd.DataFrame({"text": ["Same Text", "same   text"],
                                                      "label": ["positive", "negative"]})])
    with caplog.at_level(logging.WARNING, logger="samiksha"):
        check_training_data(load_labelled(_write(frame, tmp_path / "d.csv")))
    assert "only 17 labelled rows" in caplog.text
    assert "class 'neutral' has only 5 example(s)" in caplog.text
    assert "1 text(s) appear with conflicting labels" in caplog.text


def test_empty_rows_are_skipped_with_a_warning(tmp_path, caplog):
    path = tmp_path / "gaps.csv"
    path.write_text("text,label\ngood,positive\n,negative\nbad,\nmeh,neutral\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="samiksha"):
        data = load_labelled(path)
    assert data.texts == ["good", "meh"]
    assert data.rows == [2, 5]
    assert "skipped 1 row(s) with an empty 'label'" in caplog.text
    assert "skipped 1 row(s) with an empty 'text'" in caplog.text


def test_stratified_split_is_seeded_stratified_and_keeps_duplicates_together(tmp_path):
    frame = make_reviews(20)
    frame = pd.concat([frame, frame.head(6)])  # exact duplicates must not straddle the split
    data = load_labelled(_write(frame, tmp_path / "d.csv"))
    train_a, eval_a = stratified_split(data, 0.25, seed=7)
    train_b, eval_b = stratified_split(data, 0.25, seed=7)
    _, eval_c = stratified_split(data, 0.25, seed=8)
    assert eval_a.texts == eval_b.texts and train_a.texts == train_b.texts
    assert eval_a.texts != eval_c.texts
    assert len(train_a) + len(eval_a) == len(data)
    assert not set(train_a.texts) & set(eval_a.texts)
    distinct_eval = dict(zip(eval_a.texts, eval_a.labels))
    assert sorted(pd.Series(distinct_eval).value_counts().tolist()) == [5, 5, 5]
    capped_train, capped = stratified_split(data, 0.25, seed=7, max_rows=6)  # large data: a capped hold-out
    assert len(set(capped.texts)) == 6 and sorted(pd.Series(capped.labels).value_counts().tolist())[0] >= 2
    assert len(capped_train) + len(capped) == len(data)


def test_split_refuses_a_class_with_one_text(tmp_path):
    frame = pd.concat([make_reviews(5, labels=("negative", "positive")),
                       pd.DataFrame({"text": ["only one"], "label": ["neutral"]})])
    with pytest.raises(DataError, match="class 'neutral' has fewer than 2 distinct texts"):
        stratified_split(load_labelled(_write(frame, tmp_path / "d.csv")), 0.2, 0)


def test_leakage_between_train_and_eval_warns(tmp_path, caplog):
    train = load_labelled(_write(make_reviews(5), tmp_path / "t.csv"))
    evaluation = load_labelled(_write(make_reviews(5).head(4), tmp_path / "e.csv"))
    with caplog.at_level(logging.WARNING, logger="samiksha"):
        assert check_leakage(train, evaluation) == 4
    assert "4 of 4 evaluation texts also appear in the training data" in caplog.text


def test_semicolon_separated_csv_is_sniffed_when_the_header_says_so(tmp_path, caplog):
    path = tmp_path / "semi.csv"
    path.write_text("text;label\nachha, sasta;positive\nbura;negative\n", encoding="utf-8")
    with caplog.at_level(logging.INFO, logger="samiksha"):
        data = load_labelled(path)
    assert data.texts == ["achha, sasta", "bura"] and data.labels == ["positive", "negative"]
    assert "reading it as ;-separated" in caplog.text
    assert [len(chunk) for chunk in iter_table(path)] == [2]


def test_a_header_with_both_separators_is_not_guessed_but_named(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text("text;label,x\nachha;positive\n", encoding="utf-8")
    with pytest.raises(DataError, match="the header looks ;-separated"):
        load_labelled(path)


@pytest.mark.parametrize("body, row, words", [
    ('good,positive\n"bad thing,negative\nok,neutral\n', 3, "the quote opened on line 3 never closes"),
    ('good,positive\n"bad,negative\nok,neutral\nfine "x,positive\nyy,neutral,x\n', 4,
     "line 6 has 3 fields where the header has 2; a quoted field opened on line 3 runs to line 5"),
    ("good,positive\nok,neutral,extra\n", 3, "3 fields where the header has 2; a text with a comma in it must be"),
])
def test_broken_quotes_name_the_row_where_the_quote_opens(tmp_path, body, row, words):
    path = tmp_path / "quotes.csv"
    path.write_text("text,label\n" + body, encoding="utf-8")
    for read in (read_table, lambda p: list(iter_table(p))):
        with pytest.raises(DataError) as caught:
            read(path)
        assert f"row {row}: cannot be read as csv" in str(caught.value) and words in str(caught.value)


def test_jsonl_line_that_is_not_an_object_is_named(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"text": "a"}\n\n[1, 2]\n', encoding="utf-8")
    for read in (read_table, lambda p: list(iter_table(p))):
        with pytest.raises(DataError, match=r"row 3: cannot be read as jsonl: line 3 is a JSON list, not an object"):
            read(path)


def test_counting_rows_of_a_missing_file_is_a_data_error(tmp_path):
    from samiksha.data import count_rows

    with pytest.raises(DataError, match="missing.csv: no such file or folder"):
        count_rows(tmp_path / "missing.csv")
