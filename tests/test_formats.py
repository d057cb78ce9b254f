"""The table of file formats (a new format is one entry; .txt is one review per line) and the column names of real
exports (Flipkart's "Review Text", Amazon's "review_body"/"star_rating"), found by every command."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from pathlib import Path

import pandas as pd
import pytest
from conftest import make_reviews
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from samiksha import formats
from samiksha.cli import app
from samiksha.data import TEXT_COLUMNS, count_rows, find_column, iter_table, load_labelled, read_table
from samiksha.errors import DataError
from samiksha.storage import write_table


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def one_error(result) -> str:
    assert result.exit_code != 0 and "Traceback" not in result.output, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    return errors[0]


@pytest.fixture(scope="module")
def tfidf_model(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("formats")
    make_reviews(12).to_csv(folder / "reviews.csv", index=False)
    result = invoke("train", folder / "reviews.csv", "-o", folder / "model", "--method", "tfidf")
    assert result.exit_code == 0, result.output
    return folder / "model"


# --- a new format is one entry -----------------------------------------------------------------------------------

class Arrows(formats.Format):
    """A toy format: one 'label -> text' per line."""

    name, suffixes, description = "arrows", (".arrows",), "label -> text lines"

    def chunks(self, stream, path, chunk_rows: int) -> Iterator[pd.DataFrame]:
        rows = [line.decode().rstrip("\n").split(" -> ", 1) for line in stream if line.strip()]
        for start in range(0, len(rows), chunk_rows):
            yield pd.DataFrame(rows[start:start + chunk_rows], columns=["label", "text"])

    def writer(self, path: Path) -> formats.TableFile:
        return ArrowsFile(path)


class ArrowsFile(formats.TableFile):
    def write(self, frame: pd.DataFrame) -> None:
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.writelines(f"{label} -> {text}\n" for label, text in zip(frame["label"], frame["text"]))


def test_a_new_format_is_one_entry_in_the_table(tmp_path, monkeypatch):
    monkeypatch.setitem(formats.FORMATS, "arrows", Arrows())
    frame = make_reviews(3)
    path = tmp_path / "reviews.arrows"
    write_table(frame, path)  # written through the table...
    assert path.read_text(encoding="utf-8").splitlines()[0] == f"{frame['label'][0]} -> {frame['text'][0]}"
    data = load_labelled(path)  # ...and read by every reader
    assert data.texts == frame["text"].tolist() and data.labels == frame["label"].tolist() and data.rows[0] == 1
    assert [len(chunk) for chunk in iter_table(path, chunk_rows=4)] == [4, 4, 1]
    assert read_table(path).columns.tolist() == ["label", "text"]
    assert count_rows(path) is None  # unknown until read: the default
    (tmp_path / "x.nope").write_text("x")
    with pytest.raises(DataError, match=r"unsupported file type '\.nope' \(use one of .*\.arrows"):
        read_table(tmp_path / "x.nope")


def test_every_format_round_trips_through_the_table(tmp_path):
    frame = pd.DataFrame({"text": ['मस्त "quoted", with comma', "=1+1 not a formula"],
                          "label": ["positive", "neutral"]})
    for suffix in formats.written():
        path = tmp_path / f"r{suffix}"
        write_table(frame, path)
        assert read_table(path).values.tolist() == frame.values.tolist(), suffix


# --- .txt: one review per line --------------------------------------------------------------------------------------

TXT = "bahut badiya, value for money\n\n  bekar\tpaisa barbaad  \r\nठीक है\n"
TXT_TEXTS = ["bahut badiya, value for money", "bekar\tpaisa barbaad", "ठीक है"]


def test_txt_is_one_review_per_line_not_tsv(tmp_path):
    path = tmp_path / "reviews.txt"
    path.write_text(TXT, encoding="utf-8")
    frame = read_table(path)
    assert frame.columns.tolist() == ["text"] and frame["text"].tolist() == TXT_TEXTS
    assert [c["text"].tolist() for c in iter_table(path, chunk_rows=2)] == [TXT_TEXTS[:2], TXT_TEXTS[2:]]
    assert count_rows(path) == 3


def test_txt_is_refused_where_labels_are_needed(tmp_path):
    path = tmp_path / "reviews.txt"
    path.write_text(TXT, encoding="utf-8")
    with pytest.raises(DataError) as caught:
        load_labelled(path)
    assert str(caught.value) == (f"{path}: is read as one review per line, so it has no labels; where labels are "
                                 "needed, give a table with a text and a label column (.csv, .tsv, .jsonl, "
                                 ".parquet, .xlsx)")
    line = one_error(invoke("train", path, "-o", tmp_path / "m", "--method", "tfidf"))
    assert "one review per line" in line and ".csv" in line


def test_txt_feeds_predict_suggest_aspects_and_the_label_page(tmp_path, tfidf_model):
    from samiksha.labelpage import create_label_app

    path = tmp_path / "reviews.txt"
    path.write_text(TXT, encoding="utf-8")
    result = invoke("predict", tfidf_model, "--input", path, "-o", tmp_path / "p.csv")
    assert result.exit_code == 0, result.output
    assert pd.read_csv(tmp_path / "p.csv")["text"].tolist() == TXT_TEXTS
    result = invoke("aspects", tfidf_model, "--input", path, "-o", tmp_path / "a.jsonl")
    assert result.exit_code == 0, result.output
    assert len(pd.read_json(tmp_path / "a.jsonl", lines=True)) == 3
    result = invoke("suggest", path, "-o", tmp_path / "s.csv", "-n", 2, "--model", tfidf_model)
    assert result.exit_code == 0, result.output
    assert set(pd.read_csv(tmp_path / "s.csv")["text"]) <= set(TXT_TEXTS)
    with TestClient(create_label_app(path, encoder="minilm")) as page:
        assert page.get("/label/api/state").json()["total"] == 3


def test_serve_labels_an_uploaded_txt(tfidf_model):
    from samiksha.serve import create_app

    with TestClient(create_app(tfidf_model)) as client:
        response = client.post("/v1/predict/file", files={"file": ("r.txt", TXT.encode())})
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"].endswith('r.labelled.csv"')
    assert pd.read_csv(io.BytesIO(response.content))["text"].tolist() == TXT_TEXTS


# --- column names of real exports --------------------------------------------------------------------------------

def _export(headers: Iterable[str], n: int = 8) -> pd.DataFrame:
    """A store's export: product, review text and 1-5 stars under the store's own headers."""
    product, text, stars = headers
    reviews = make_reviews(n)
    rating = reviews["label"].map({"negative": 1, "neutral": 3, "positive": 5})
    return pd.DataFrame({product: ["Redmi 9"] * len(reviews), text: reviews["text"], stars: rating})


@pytest.mark.parametrize("headers", [("Product Name", "Review Text", "Rating"),  # Flipkart
                                     ("product_title", "review_body", "star_rating"),  # Amazon
                                     ("Product", "Summary", "Ratings"), ("product", "REVIEW_TEXT", "Star Rating"),
                                     ("item", "reviewText", "Stars")])
def test_train_finds_the_columns_of_real_exports(tmp_path, headers):
    _export(headers).to_csv(tmp_path / "export.csv", index=False)
    data = load_labelled(tmp_path / "export.csv")
    assert (data.text_column, data.label_column, data.label_kind) == (headers[1], headers[2], "stars")
    result = invoke("train", tmp_path / "export.csv", "-o", tmp_path / "m", "--method", "tfidf")
    assert result.exit_code == 0, result.output


def test_two_possible_text_columns_are_listed_not_guessed(tmp_path, tfidf_model):
    frame = _export(("Product Name", "Summary", "Rating")).assign(Review="Wonderful")
    frame.to_csv(tmp_path / "flipkart.csv", index=False)
    with pytest.raises(DataError, match=r"2 columns could be the text: 'Summary', 'Review'; name one with "
                                        "--text-column"):
        load_labelled(tmp_path / "flipkart.csv")
    line = one_error(invoke("predict", tfidf_model, "--input", tmp_path / "flipkart.csv", "-o", tmp_path / "p.csv"))
    assert "'Summary', 'Review'" in line and "--text-column" in line
    result = invoke("predict", tfidf_model, "--input", tmp_path / "flipkart.csv", "-o", tmp_path / "p.csv",
                    "--text-column", "summary")  # named loosely
    assert result.exit_code == 0, result.output
    # Samiksha's own name wins: a label export keeps the store's other text columns beside `text`.
    assert find_column(frame.rename(columns={"Summary": "text"}), None, TEXT_COLUMNS, "text", "x") == "text"


def test_predict_suggest_aspects_and_label_find_review_text(tmp_path, tfidf_model):
    from samiksha.labelpage import create_label_app

    pool = tmp_path / "flipkart.csv"
    _export(("Product Name", "Review Text", "Rating"), 3).to_csv(pool, index=False)
    out = tmp_path / "out.csv"
    for args in (("predict", tfidf_model, "--input", pool), ("aspects", tfidf_model, "--input", pool),
                 ("suggest", pool, "-n", 2, "--model", tfidf_model)):
        result = invoke(*args, "-o", out)
        assert result.exit_code == 0, result.output
        assert "Review Text" in pd.read_csv(out).columns
    with TestClient(create_label_app(pool, encoder="minilm")) as page:
        assert page.app.state.session.pool.text_column == "Review Text"


def test_serve_upload_finds_review_text(tfidf_model):
    from samiksha.serve import create_app

    buffer = io.BytesIO()
    _export(("Product Name", "Review Text", "Rating"), 2).to_excel(buffer, index=False)
    with TestClient(create_app(tfidf_model)) as client:
        response = client.post("/v1/predict/file", files={"file": ("flipkart.xlsx", buffer.getvalue())},
                               params={"format": "json"})
    assert response.status_code == 200, response.text
    assert response.json()["text_column"] == "Review Text"
