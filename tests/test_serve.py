from __future__ import annotations

import asyncio
import io
import json
import time

import httpx
import numpy as np
import pandas as pd
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance
from typer.testing import CliRunner

from samiksha import web
from samiksha.demo import demo_data_dir
from samiksha.predict import Classifier
from samiksha.serve import UPLOADS, create_app

LABELS = ["negative", "neutral", "positive"]
LIMITS = {"max_texts": 5, "max_text_chars": 50, "max_upload_bytes": 20_000, "max_rows": 2000}
TEXTS = ["mast product, bahut badiya", "bakwas", "ठीक है, kuch khaas nahi", "waste of money yaar, toot gaya", "ok"]


@pytest.fixture(scope="module")
def app(trained_tiny):
    return create_app(trained_tiny, **LIMITS)


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app) as client:
        yield client


@pytest.fixture(scope="module")
def keyed(trained_tiny):
    with TestClient(create_app(trained_tiny, api_key="s3cret")) as client:
        yield client


def upload(client, name, content, params=None, **form):
    return client.post("/v1/predict/file", files={"file": (name, content)}, data=form, params=params or {})


def assert_error(response, status, *words):
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["error"] and "Traceback" not in body["error"]
    for word in words:
        assert word in body["error"]


def test_health(client):
    assert client.get("/health").json() == {"status": "ok", "api_key_required": False}


def test_model_info(client):
    info = client.get("/v1/model").json()
    assert info["labels"] == LABELS and info["backend"] == "torch+tfidf" and info["name"] == "tiny-model"
    metrics = info["metrics"]
    assert 0 <= metrics["macro_f1"] <= 1 and list(metrics["per_class"]) == LABELS
    assert metrics["n"] == sum(c["support"] for c in metrics["per_class"].values()) > 0
    assert "/" not in metrics["data"] and "/" not in (info["base_model"] or "")
    assert info["limits"] == {**LIMITS, "max_explain_texts": 5} and info["train_rows"] > 0


def test_predict_keeps_order_and_label_order(client, trained_tiny):
    response = client.post("/v1/predict", json={"texts": TEXTS})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["labels"] == LABELS and body["notices"] == [] and len(body["results"]) == len(TEXTS)
    expected = Classifier.load(trained_tiny).predict_proba(TEXTS)
    for result, row in zip(body["results"], expected, strict=True):
        assert list(result["probabilities"]) == LABELS
        assert sum(result["probabilities"].values()) == pytest.approx(1, abs=1e-3)
        assert list(result["probabilities"].values()) == pytest.approx(row.tolist(), abs=1e-3)
        assert result["label"] == LABELS[int(row.argmax())] and result["score"] == pytest.approx(row.max(), abs=1e-3)
        assert result["truncated"] is False


def test_long_text_is_cut_with_a_notice(client):
    body = client.post("/v1/predict", json={"texts": ["short", "bakwas " * 100]}).json()
    assert [r["truncated"] for r in body["results"]] == [False, True]
    assert body["notices"] == ["1 text(s) longer than 50 characters: only their first 50 were labelled"]


@pytest.mark.parametrize("payload, status, words", [
    (b'{"texts": ["unclosed"', 400, ["not valid JSON"]),
    (b"\xff\xfe not utf-8", 400, []),
    (b'{"texts": []}', 422, ["empty"]),
    (b'{"texts": ["a", 1]}', 422, ["texts.1", "string"]),
    (b'{"texts": "one string"}', 422, ["texts", "list"]),
    (b'["a bare list"]', 422, ["body"]),
    (b'{"text": ["typo"]}', 422, ["texts", "required"]),
    (b'{"texts": ["a"], "extra": 1}', 422, ["extra"]),
    (b'{"texts": ["1", "2", "3", "4", "5", "6"]}', 413, ["6 texts", "at most 5"]),
])
def test_bad_requests_get_a_json_error(client, payload, status, words):
    response = client.post("/v1/predict", content=payload, headers={"Content-Type": "application/json"})
    assert_error(response, status, *words)


def test_explain_gives_words_in_order_with_the_predicted_label(client, trained_tiny):
    from samiksha.explain import word_spans

    texts = ["कुकर मज़बूत है, don't buy!!", "bakwas " * 20]
    body = client.post("/v1/explain", json={"texts": texts}).json()
    expected = Classifier.load(trained_tiny).predict(["कुकर मज़बूत है, don't buy!!", ("bakwas " * 20)[:50]])
    assert [r["label"] for r in body["results"]] == expected
    first = body["results"][0]
    assert [w for w, _ in first["words"]] == ["कुकर", "मज़बूत", "है", ",", "don't", "buy", "!!"]
    cut = body["results"][1]["text"]
    assert len(cut) == 50 and [w for w, _ in body["results"][1]["words"]] == [cut[a:b] for a, b in word_spans(cut)]
    assert body["notices"] == ["1 text(s) longer than 50 characters: only their first 50 were labelled"]
    lone = client.post("/v1/explain", content=b'{"texts": ["ab\\ud800 cd"]}',
                       headers={"Content-Type": "application/json"})
    assert lone.status_code == 200 and [w for w, _ in lone.json()["results"][0]["words"]][-1] == "cd"
    assert_error(client.post("/v1/explain", json={"texts": []}), 422, "empty")
    assert_error(client.post("/v1/explain", json={"texts": ["a"] * 6}), 413, "at most 5")


def test_aspects_per_review(client):
    body = client.post("/v1/aspects", json={"texts": ["delivery late thi par packing achhi", "ok"]}).json()
    assert body["aspects"] == ["delivery", "packaging", "quality", "price", "seller", "returns", "size"]
    first, second = body["results"]
    assert [a["aspect"] for a in first["aspects"]] == ["delivery", "packaging"] and second["aspects"] == []
    assert all(a["sentiment"] in LABELS for a in first["aspects"])
    assert_error(client.post("/v1/aspects", json={"texts": ["a"] * 6}), 413, "at most 5")


def test_oversized_json_body_is_refused_before_reading(client):
    huge = json.dumps({"texts": ["x" * 100_000] * 5}).encode()
    assert_error(client.post("/v1/predict", content=huge, headers={"Content-Type": "application/json"}), 413, "bytes")


def test_unknown_route_and_method(client):
    assert_error(client.get("/v1/nothing"), 404)
    assert_error(client.get("/v1/predict"), 405)


def test_api_key(keyed):
    assert keyed.get("/health").json()["api_key_required"] is True
    assert keyed.get("/").status_code == 200
    assert_error(keyed.post("/v1/predict", json={"texts": ["a"]}), 401, "X-API-Key")
    assert_error(keyed.post("/v1/predict", json={"texts": ["a"]}, headers={"X-API-Key": "wrong"}), 401)
    assert_error(keyed.get("/v1/model"), 401)
    assert_error(upload(keyed, "r.csv", b"text\nmast\n"), 401)
    assert keyed.post("/v1/predict", json={"texts": ["a"]}, headers={"X-API-Key": "s3cret"}).status_code == 200
    assert keyed.get("/v1/model", headers={"X-API-Key": "s3cret"}).status_code == 200
    assert "APIKeyHeader" in json.dumps(keyed.get("/openapi.json").json()["components"]["securitySchemes"])


SOURCE = pd.DataFrame({"order_id": ["A1", "A2", "A3"], "review": ["mast hai", "bakwas", "ठीक है"],
                       "city": ["Pune", "पटना", ""]})


def _as_bytes(frame: pd.DataFrame, suffix: str) -> bytes:
    buffer = io.BytesIO()
    if suffix == ".xlsx":
        frame.to_excel(buffer, index=False)
    elif suffix == ".jsonl":
        frame.to_json(buffer, orient="records", lines=True, force_ascii=False)
    elif suffix == ".parquet":
        frame.to_parquet(buffer)
    else:
        frame.to_csv(buffer, index=False, sep="\t" if suffix == ".tsv" else ",")
    return buffer.getvalue()


def _read(content: bytes, suffix: str, tmp_path) -> pd.DataFrame:
    from samiksha.data import read_table

    path = tmp_path / f"back{suffix}"
    path.write_bytes(content)
    return read_table(path)


@pytest.mark.parametrize("suffix, media", [(".csv", "text/csv"), (".xlsx", "spreadsheetml"),
                                           (".jsonl", "ndjson"), (".tsv", "tab-separated"), (".parquet", "parquet")])
def test_file_round_trip_keeps_columns(client, tmp_path, suffix, media):
    response = upload(client, f"my reviews{suffix}", _as_bytes(SOURCE, suffix))
    assert response.status_code == 200, response.text
    assert media in response.headers["content-type"]
    assert response.headers["content-disposition"] == f'attachment; filename="my_reviews.labelled{suffix}"'
    labelled = _read(response.content, suffix, tmp_path)
    assert list(labelled.columns) == ["order_id", "review", "city", "label", "score", *(f"prob_{x}" for x in LABELS)]
    assert labelled[["order_id", "review", "city"]].values.tolist() == SOURCE.values.tolist()
    assert set(labelled["label"]) <= set(LABELS)
    probabilities = labelled[[f"prob_{x}" for x in LABELS]].astype(float).sum(axis=1)
    assert probabilities.tolist() == pytest.approx([1, 1, 1], abs=1e-3)


def test_file_as_json_table_and_other_format(client, tmp_path):
    table = upload(client, "r.xlsx", _as_bytes(SOURCE, ".xlsx"), {"format": "json"}).json()
    assert table["text_column"] == "review" and table["labels"] == LABELS and table["file"] == "r.xlsx"
    assert table["columns"][:3] == ["order_id", "review", "city"] and len(table["rows"]) == 3
    assert [row[1] for row in table["rows"]] == SOURCE["review"].tolist()
    assert all(isinstance(row[4], float) for row in table["rows"])
    csv = upload(client, "r.xlsx", _as_bytes(SOURCE, ".xlsx"), {"format": "csv"})
    assert csv.headers["content-disposition"].endswith('r.labelled.csv"')
    assert list(_read(csv.content, ".csv", tmp_path)["order_id"]) == ["A1", "A2", "A3"]


def test_file_text_column_and_notices(client):
    content = "id,feedback\n1,mast\n2," + "bakwas " * 20 + "\n"
    assert_error(upload(client, "r.csv", content.encode()), 422, "no text column", "text_column")
    response = upload(client, "r.csv", content.encode(), {"format": "json"}, text_column="feedback")
    assert response.status_code == 200 and "1 text(s) longer than 50" in response.json()["notices"][0]
    assert "X-Samiksha-Notice" in upload(client, "r.csv", content.encode(), text_column="feedback").headers
    assert_error(upload(client, "r.csv", content.encode(), text_column="/etc/passwd"), 422, "no text column")


@pytest.mark.parametrize("name, content, status, words", [
    ("r.csv", "text\nबहुत अच्छा\n".encode("utf-16"), 400, ["r.csv", "UTF-8"]),
    ("r.csv", "text\ncafé\n".encode("latin-1"), 400, ["UTF-8"]),
    ("r.csv", b"", 400, ["empty"]),
    ("r.csv", b"text\n", 422, ["no rows"]),
    ("r.xlsx", b"not a zip", 400, ["excel"]),
    ("r.jsonl", b'{"text": "a"}\n{broken\n', 400, ["jsonl"]),
    ("r.exe", b"MZ", 415, [".exe", ".csv"]),
    ("reviews", b"text\na\n", 415, ["none"]),
    ("r.xls", b"text\na\n", 415, [".xls'"]),
])
def test_bad_files_get_a_json_error(client, name, content, status, words):
    response = upload(client, name, content)
    assert_error(response, status, *words)
    assert "samiksha-serve" not in response.json()["error"] and "/tmp" not in response.json()["error"]


def test_missing_file_and_bad_format(client):
    assert_error(client.post("/v1/predict/file", data={"text_column": "x"}), 422, "file")
    assert_error(upload(client, "r.csv", b"text\na\n", {"format": "exe"}), 422, "format")


def test_upload_size_limit(client):
    row = "text\n" + "mast product hai\n" * 1300
    assert len(row) > LIMITS["max_upload_bytes"]
    assert_error(upload(client, "r.csv", row[:LIMITS["max_upload_bytes"] + 1].encode()), 413, "20,000 bytes")
    assert_error(upload(client, "r.csv", row.encode() * 10), 413)
    assert upload(client, "r.csv", row[:LIMITS["max_upload_bytes"] - 100].encode()).status_code == 200


def test_client_file_names_never_become_paths(client, tmp_path):
    response = upload(client, "../../../../tmp/evil\\name.csv", b"text\nmast\n")
    assert response.status_code == 200
    assert response.headers["content-disposition"] == 'attachment; filename="name.labelled.csv"'
    assert client.get("/static/../serve.py").status_code == 404
    assert client.get("/static/%2e%2e/serve.py").status_code == 404


def test_page_and_static_files(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert '<meta charset="utf-8">' in page.text and 'lang="' in page.text
    assert "http://" not in page.text and "https://" not in page.text
    for name, kind in (("app.js", "javascript"), ("style.css", "text/css")):
        response = client.get(f"/static/{name}")
        assert response.status_code == 200 and kind in response.headers["content-type"]
        text = response.text.replace("http://www.w3.org/2000/svg", "")  # the SVG namespace is a name, not a fetch
        assert "http://" not in text and "https://" not in text and "//cdn" not in text
    assert "Noto Sans Devanagari" in client.get("/static/style.css").text


def test_openapi_docs_work_offline(client):
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "cdn" not in docs.text and "/swagger-ui/swagger-ui-bundle.js" in docs.text
    bundle = client.get("/swagger-ui/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and 'PACKAGE_VERSION:"5.' in bundle.text  # Swagger UI 5 renders OpenAPI 3.1
    assert client.get("/redoc").status_code == 404  # FastAPI's ReDoc page loads from a CDN
    assert client.get("/swagger-ui/swagger-ui.css").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/predict", "/v1/predict/file", "/v1/model", "/health"} <= set(paths)


def test_concurrent_requests_share_model_calls_and_keep_their_results(trained_tiny):
    app = create_app(trained_tiny)
    batcher = app.state.batcher
    original, calls = batcher.classifier.predict_proba, []

    def slow(texts, batch_size=64):
        calls.append(len(texts))
        time.sleep(0.2)
        return original(texts, batch_size)

    batcher.classifier.predict_proba = slow
    texts = [f"{TEXTS[i % len(TEXTS)]} #{i}" for i in range(12)]

    async def run():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            return await asyncio.gather(*(http.post("/v1/predict", json={"texts": [t]}) for t in texts))

    try:
        responses = asyncio.run(run())
    finally:
        batcher.close()
    expected = Classifier.load(trained_tiny).predict_proba(texts)
    got = [list(r.json()["results"][0]["probabilities"].values()) for r in responses]
    assert np.allclose(got, expected, atol=1e-3)
    assert sum(calls) == 12 and len(calls) < 12  # later requests waited together for one call


def test_model_failure_is_a_json_500_without_traceback(trained_tiny):
    app = create_app(trained_tiny)

    def broken(texts, batch_size=64):
        raise RuntimeError("secret internal detail")

    app.state.batcher.classifier.predict_proba = broken
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/v1/predict", json={"texts": ["a"]})
    assert response.status_code == 500
    assert response.json() == {"error": "internal error; the server log has the details"}


def test_create_app_refuses_bad_limits_and_folders(tmp_path, trained_tiny):
    from samiksha.errors import ModelError, SamikshaError

    with pytest.raises(SamikshaError, match="max_texts"):
        create_app(trained_tiny, max_texts=0)
    with pytest.raises(ModelError):
        create_app(tmp_path)
    for empty in ("", "  "):  # an empty key would silently turn authentication off
        with pytest.raises(SamikshaError, match="API key is empty"):
            create_app(trained_tiny, api_key=empty)


def test_serve_command(trained_tiny, tmp_path, monkeypatch):
    import os

    import torch

    from samiksha.cli import app as cli

    started = {}
    monkeypatch.setattr(web, "run_server", lambda application, host, port, **kw: started.update(
        kw, app=application, host=host, port=port))
    monkeypatch.setattr(torch, "set_num_threads", lambda n: started.update(threads=n))  # keep this process's
    monkeypatch.setenv("SAMIKSHA_API_KEY", "from-env")
    result = CliRunner().invoke(cli, ["serve", str(trained_tiny), "--port", "8123", "--max-texts", "7",
                                      "--max-rows", "9", "--allow-host", "reviews.local"])
    assert result.exit_code == 0, result.output
    assert (started["host"], started["port"], started["threads"]) == ("127.0.0.1", 8123, os.cpu_count())
    assert started["allow_hosts"] == ["reviews.local"] and started["stop"] == started["app"].state.batcher.stop
    with TestClient(started["app"]) as client:
        assert client.get("/health").json()["api_key_required"] is True
        limits = client.get("/v1/model", headers={"X-API-Key": "from-env"}).json()["limits"]
        assert (limits["max_texts"], limits["max_rows"]) == (7, 9)
    bad = CliRunner().invoke(cli, ["serve", str(tmp_path / "missing")])
    assert bad.exit_code == 1 and "no such model folder" in bad.output


def test_serve_keeps_corrections_beside_the_model_unless_told_otherwise(trained_tiny, tmp_path, monkeypatch):
    from samiksha.cli import app as cli

    started = {}
    monkeypatch.setattr(web, "run_server", lambda application, host, port, **kw: started.update(app=application))
    for args, store in (([], trained_tiny.with_name("tiny-model.labels.sqlite")),
                        (["--labels-db", str(tmp_path / "mine.sqlite")], tmp_path / "mine.sqlite"),
                        (["--no-labels"], None)):
        result = CliRunner().invoke(cli, ["serve", str(trained_tiny), "--threads", "1", *args])
        assert result.exit_code == 0, result.output
        kept = started["app"].state.label_store
        assert (kept.path if kept else None) == store
        with TestClient(started["app"]) as client:
            assert client.get("/v1/model").json()["label_store"] == (store.name if store else None)
            assert store is None or not store.exists()  # serving alone writes nothing beside the model
            if store is not None:
                assert client.post("/v1/labels", json={"text": "mast hai", "label": "positive"}).status_code == 200
                assert store.exists()  # the first correction creates it


@pytest.mark.parametrize("how", [["--api-key", ""], ["--api-key", " "], "env"])
def test_an_empty_api_key_is_refused_not_ignored(trained_tiny, monkeypatch, how):
    from samiksha.cli import app as cli

    monkeypatch.setattr(web, "run_server", lambda *a, **kw: pytest.fail("an empty key must not serve"))
    if how == "env":
        monkeypatch.setenv("SAMIKSHA_API_KEY", "")
    result = CliRunner().invoke(cli, ["serve", str(trained_tiny), *([] if how == "env" else how)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "error: the API key is empty (--api-key or SAMIKSHA_API_KEY): give a key, or none to serve without one"]


def test_the_json_table_names_the_files_product_date_and_stars_columns(client):
    export = pd.DataFrame({"Product Name": ["Phone X", "Cable"], "review": ["mast product", "bakwas"],
                           "Review Date": ["2024-01-02", "2024-01-03"], " Rating ": [5, 1], "id": [1, 2]})
    table = upload(client, "r.csv", _as_bytes(export, ".csv"), {"format": "json"}).json()
    assert "context" in table, table
    assert table["context"] == {"product": "Product Name", "date": "Review Date", "stars": " Rating "}
    plain = upload(client, "r.csv", _as_bytes(SOURCE, ".csv"), {"format": "json"}).json()
    assert plain["context"] == {"product": None, "date": None, "stars": None}


@pytest.mark.parametrize("output", ["xlsx", "csv", "parquet"])
def test_a_table_goes_back_in_the_uploads_own_format(client, tmp_path, output):
    body = {"name": "my reviews", "columns": ["review", "label", "your_label", "n"],
            "rows": [["=cmd|' /C calc'!A0", "negative", None, 1], ["ठीक है", "neutral", "positive", 2.5]]}
    response = client.post("/v1/table", params={"format": output}, json=body)
    assert response.status_code == 200, response.text
    assert response.headers["content-disposition"] == f'attachment; filename="my_reviews.{output}"'
    back = _read(response.content, f".{output}", tmp_path)
    assert list(back.columns) == body["columns"] and back["review"].tolist() == ["=cmd|' /C calc'!A0", "ठीक है"]
    if output == "xlsx":  # a formula-looking cell stays text
        from openpyxl import load_workbook

        (tmp_path / "t.xlsx").write_bytes(response.content)
        assert load_workbook(tmp_path / "t.xlsx").active["A2"].data_type == "s"
    assert_error(client.post("/v1/table", json={**body, "rows": [["a"]]}), 400, "rows[0] has 1 cells for 4 columns")


def test_corrections_go_to_the_label_store_the_label_page_trains_from(trained_tiny, tmp_path):
    from samiksha.data import load_labelled
    from samiksha.labelstore import LabelStore
    from samiksha.suggest import read_pool

    db = tmp_path / "shop.labels.sqlite"
    pool = tmp_path / "shop.csv"
    pd.DataFrame({"text": ["mast product", "theek hai"]}).to_csv(pool, index=False)
    LabelStore(db, read_pool(pool)).set(read_pool(pool).ids[0], "positive", "label-page")  # labelled on the page
    with TestClient(create_app(trained_tiny, labels_db=db)) as client:
        assert client.get("/v1/model").json()["label_store"] == "shop.labels.sqlite"  # a name, no folders
        saved = client.post("/v1/labels", json={"text": "ekdum bekar, paisa barbaad", "label": "negative",
                                                "session": "tab-1"})
        assert saved.status_code == 200, saved.text
        assert saved.json() == {"row_id": saved.json()["row_id"], "label": "negative", "labelled": 2,
                                "store": "shop.labels.sqlite"}
        client.post("/v1/labels", json={"text": "theek hai", "label": "neutral"})  # a review of the pool too
        client.post("/v1/labels", json={"text": "wrong one", "label": "positive"})
        client.post("/v1/labels", json={"text": "wrong one", "label": None})  # taken back
        assert_error(client.post("/v1/labels", json={"text": "x", "label": "great"}), 400, "unknown label 'great'")
        export = client.get("/v1/labels", params={"format": "csv"})
        assert export.headers["content-disposition"] == 'attachment; filename="shop.labels.csv"'
    (tmp_path / "got.csv").write_bytes(export.content)
    got = load_labelled(tmp_path / "got.csv")  # a `samiksha train` input: the reviews whose text it was sent
    assert sorted(zip(got.texts, got.labels)) == [("ekdum bekar, paisa barbaad", "negative"), ("theek hai", "neutral")]
    page = LabelStore(db, read_pool(pool)).labelled_frame()  # the label page's export (and training) has them too
    assert sorted(zip(page["text"], page["label"])) == [("ekdum bekar, paisa barbaad", "negative"),
                                                        ("mast product", "positive"), ("theek hai", "neutral")]


def test_a_server_without_a_label_store_says_how_to_get_one(client):
    assert client.get("/v1/model").json()["label_store"] is None
    assert_error(client.post("/v1/labels", json={"text": "x", "label": "negative"}), 404, "--labels-db")


@pytest.mark.parametrize("mode", list(GenerationMode))
def test_openapi_fuzzing_finds_no_server_error(trained_tiny, mode):
    # an app of its own: schemathesis runs the app's lifespan, whose end stops the shared app's model thread
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(trained_tiny, **LIMITS))

    @given(case=schema.as_strategy(generation_mode=mode))
    @settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def check(case):
        case.call_and_validate(checks=[not_a_server_error, response_schema_conformance])

    check()


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".xlsx", ".parquet"])
def test_random_uploads_never_cause_a_server_error(client, suffix):
    from hypothesis import strategies as st

    texty = st.text(st.sampled_from("text,review\n\"' \t{}[]:1aबह\r\\"), max_size=200).map(str.encode)

    @given(content=st.one_of(st.binary(max_size=300), texty))
    @settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def check(content):
        response = upload(client, f"r{suffix}", content)
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            assert list(response.json()) == ["error"]

    check()


def _rows_file(tmp_path, suffix: str, rows: int) -> bytes:
    frame = pd.DataFrame({"text": ["mast"] * rows, "order": [123456] * rows})
    path = tmp_path / f"bomb{suffix}"
    from samiksha.storage import write_table

    write_table(frame, path)
    return path.read_bytes()


@pytest.fixture(scope="module")
def few_rows(trained_tiny):
    with TestClient(create_app(trained_tiny, max_rows=50)) as client:
        yield client


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet", ".xlsx"])
def test_a_file_of_more_rows_than_allowed_gets_413_and_leaves_no_temporary_files(few_rows, tmp_path, monkeypatch,
                                                                                suffix):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    assert_error(upload(few_rows, f"r{suffix}", _rows_file(tmp_path, suffix, 51)), 413, "r" + suffix,
                 "more than 50 rows", "at most 50 rows per file")
    assert upload(few_rows, f"r{suffix}", _rows_file(tmp_path, suffix, 50)).status_code == 200
    assert_error(upload(few_rows, f"r{suffix}", b"\xff not a table"), 400)
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_parquet_bomb_is_refused_before_it_is_decoded(client, tmp_path):
    """141 KB of Parquet held 20 million rows in the issue; here 1 million constant rows in a few KB."""
    import tracemalloc

    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = 1_000_000
    path = tmp_path / "bomb.parquet"
    pq.write_table(pa.table({"text": pa.array(["mast"] * rows), "order": pa.array(np.full(rows, 123456))}), path)
    assert path.stat().st_size < LIMITS["max_upload_bytes"]
    tracemalloc.start()
    try:
        response = upload(client, "bomb.parquet", path.read_bytes())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert_error(response, 413, "more than 2,000 rows")
    # decoding it all takes over 60 MB of Python objects (one string per cell of 'order'); refused, it takes ~1 MB
    assert peak < 16 * 1024 * 1024, f"peak {peak:,} bytes"



def test_the_pages_file_picker_offers_every_format_the_api_takes():
    import re

    from samiksha.web import STATIC

    accept = re.search(r'id="file" type="file" accept="([^"]+)"', (STATIC / "index.html").read_text(encoding="utf-8"))
    assert sorted(accept.group(1).split(",")) == sorted(UPLOADS)


def report(client, name: str, content: bytes, **form):
    return client.post("/v1/report", files={"file": (name, content)}, data=form)


SHOP = demo_data_dir() / "shop.csv"  # 192 reviews: 4 products, 12 months of 2025, star ratings


def test_the_report_of_an_upload_is_samiksha_reports_page(client, tmp_path, monkeypatch):
    import tempfile

    from plotly.offline import get_plotlyjs

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    response = report(client, "my shop.csv", SHOP.read_bytes())
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="my_shop.report.html"'
    assert response.headers["x-samiksha-notice"].startswith("52 text(s) longer than 50 characters")
    page = response.text
    shop = pd.read_csv(SHOP)
    for product in shop["product"].unique():  # a section of its own, in the product filter
        assert f"<option value='{product}'>{product}</option>" in page
    for month in pd.to_datetime(shop["date"]).dt.strftime("%b %Y").unique():  # by month, as the dates span a year
        assert f'"{month}\\u003cbr\\u003en=16"' in page  # a tick of the sentiment chart: 16 reviews a month
    assert "192 reviews (01 Jan 2025 to" in page and "Labelled by tiny-model (" in page
    assert "Rating against text" in page and "The labelled table" not in page  # no CSV beside it here
    rest = page.replace(get_plotlyjs(), "")  # plotly.js inlined: the page opens offline
    assert get_plotlyjs() in page and "src=" not in rest and "http" not in rest
    assert list(tmp_path.iterdir()) == []  # built in memory


def test_the_report_finds_or_is_told_the_columns(client):
    content = b"feedback,sold_on,sku\nmast hai,2025-01-03,A1\nbekaar,2025-01-09,B2\n"
    page = report(client, "r.csv", content, text_column="feedback", date_column="sold_on").text
    assert "2 reviews (03 Jan 2025 to 09 Jan 2025, by week)" in page and "<option value='A1'>" in page
    assert "The file has no rating column" in page


@pytest.mark.parametrize(("name", "content", "form", "status", "words"), [
    ("r.csv", b"id,x\n1,2\n", {}, 422, ["r.csv: no text column found", "the text_column field"]),
    ("r.csv", b"text,date\nmast,2025-01-01\n", {"product_column": "sku"}, 422, ["has no product column 'sku'"]),
    ("r.csv", b"text,date\nmast,2025-01-01\n", {"date_column": "text"}, 422,
     ["one column is used for two roles", "name them with text_column, date_column, product_column"]),
    ("r.csv", b"text,date\n", {}, 422, ["r.csv: has no rows"]),
    ("r.exe", b"text\nmast\n", {}, 415, ["unsupported file type '.exe'"]),
    ("r.csv", b"text\n" + b"mast product hai\n" * 1300, {}, 413, ["20,000 bytes"]),
    ("r.parquet", b"\xff not parquet", {}, 400, ["r.parquet"]),
])
def test_a_bad_upload_gets_a_one_line_error_and_no_report(client, name, content, form, status, words):
    assert_error(report(client, name, content, **form), status, *words)


def test_the_report_keeps_the_servers_bounds(few_rows, keyed, tmp_path):
    assert_error(report(few_rows, "r.csv", _rows_file(tmp_path, ".csv", 51)), 413, "at most 50 rows per file")
    assert_error(report(keyed, "r.csv", b"text\nmast\n"), 401, "X-API-Key")
    response = keyed.post("/v1/report", files={"file": ("r.csv", b"text\nmast\n")}, headers={"X-API-Key": "s3cret"})
    assert response.status_code == 200 and "1 reviews" in response.text


def test_the_report_frame_runs_inline_scripts_in_a_sandbox_that_loads_nothing(client):
    frame = client.get("/report-frame")
    policy = frame.headers["content-security-policy"]
    assert frame.status_code == 200 and "<script>" in frame.text and "http" not in frame.text
    assert "default-src 'none'" in policy and "script-src 'unsafe-inline'" in policy
    assert "sandbox allow-scripts allow-downloads" in policy and "frame-ancestors 'self'" in policy
