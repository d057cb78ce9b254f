"""The labelling store and page API: labels saved at once, one row per review, safe across kills and clients."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import threading

import pandas as pd
import pytest
from conftest import make_reviews
from fastapi.testclient import TestClient

from samiksha.data import load_labelled
from samiksha.errors import DataError
from samiksha.labelstore import LabelStore
from samiksha.suggest import read_pool, row_id

PLAIN_COVER = r"a typical review: \d+ others? in the pool reads? much like it|unlike any other review in the pool"


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SAMIKSHA_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def pool_csv(tmp_path):
    path = tmp_path / "pool.csv"
    frame = make_reviews(6, seed=3)[["text"]].assign(order_id=lambda f: [f"OD{i}" for i in range(len(f))])
    extra = pd.DataFrame({"text": ["बहुत अच्छा फ़ोन, zabardast", "good product", "Good product!!"],
                          "order_id": ["H1", "D1", "D2"]})
    pd.concat([frame, extra], ignore_index=True).to_csv(path, index=False)
    return path


def test_undo_restores_the_earlier_label_and_keeps_the_history(tmp_path, pool_csv):
    pool = read_pool(pool_csv)
    store = LabelStore(tmp_path / "l.sqlite", pool)
    a, b, c = pool.ids[:3]
    store.set(a, "positive", "tab")
    store.set(b, "negative", "tab")
    store.set(a, "negative", "tab")  # relabel: replaces, never a second label
    assert store.labels() == {b: "negative", a: "negative"}
    undone = store.undo("tab")
    assert (undone.row_id, undone.action, undone.label) == (a, "label", "positive")
    assert store.labels() == {b: "negative", a: "positive"}  # the earlier label is back, not deleted
    store.skip(c, "tab")
    assert store.skipped() == {c} and store.undo("tab").row_id == c and store.skipped() == set()
    assert store.undo("tab").row_id == b and store.undo("tab").row_id == a and store.labels() == {}
    assert store.undo("tab") is None  # nothing left to undo
    history = store.history(a)
    assert [(e.action, e.label) for e in history] == [("label", "positive"), ("label", "negative"),
                                                      ("label", "positive"), ("clear", None)]
    assert history[2].undoes == history[1].seq and history[3].undoes == history[0].seq
    assert {e.session for e in history} == {"tab"} and all(e.at > 0 for e in history)
    assert len(store.history()) == 8  # append-only: 4 changes, 4 undos
    with sqlite3.connect(tmp_path / "l.sqlite") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_undo_takes_back_only_its_own_sessions_changes(tmp_path, pool_csv):
    pool = read_pool(pool_csv)
    store = LabelStore(tmp_path / "l.sqlite", pool)
    a, b, c = pool.ids[:3]
    store.set(a, "positive", "tab1")
    store.set(b, "neutral", "tab2")
    assert store.undo("tab1").row_id == a and store.labels() == {b: "neutral"}  # not tab 2's newer label
    store.set(a, "neutral", "tab1")
    store.set(a, "negative", "tab2")  # tab 2 relabels tab 1's review
    store.set(c, "positive", "tab1")
    assert store.undo("tab1").row_id == c
    assert store.undo("tab1").row_id == a and store.labels()[a] == "negative"  # tab 2's label stands
    assert store.undo("tab2").row_id == a and a not in store.labels()  # and tab 1's undone one stays undone
    assert store.undo("tab2").row_id == b and store.labels() == {}
    assert store.undo("tab1") is None and store.undo("tab2") is None


def test_two_stores_on_one_file_share_labels_but_not_undo(tmp_path, pool_csv):
    pool = read_pool(pool_csv)
    db = tmp_path / "l.sqlite"
    one, two = LabelStore(db, pool), LabelStore(db, pool)  # two servers on the same database
    a, b = pool.ids[:2]
    one.set(a, "positive", "s1")
    two.set(b, "negative", "s2")
    two.set(a, "neutral", "s2")
    assert one.labels() == two.labels() == {b: "negative", a: "neutral"}
    assert one.undo("s1").row_id == a and two.labels() == {b: "negative", a: "neutral"}
    assert two.undo("s2").row_id == a and one.labels() == {b: "negative"}
    errors = []

    def server(store: LabelStore, session: str, label: str) -> None:
        try:
            for rid in pool.ids:
                store.set(rid, label, session)
            while store.undo(session) is not None:
                pass
        except Exception as err:  # surfaced below
            errors.append(err)

    threads = [threading.Thread(target=server, args=(LabelStore(db, pool), f"t{i}", label))
               for i, label in enumerate(("negative", "positive"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert one.labels() == {b: "negative"}  # every change of theirs taken back, whatever the interleaving
    assert len(one.history()) == 5 + 4 * len(pool.ids)


OLD_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS labels (
    row_id TEXT PRIMARY KEY,
    label TEXT,                         -- NULL when skipped
    seq INTEGER NOT NULL,               -- order of the last change, for undo
    updated REAL NOT NULL
);
"""  # labelstore.py at 687547a, before the label history


def test_a_database_from_before_the_history_is_migrated_in_place(tmp_path, pool_csv):
    pool = read_pool(pool_csv)
    db = tmp_path / "old.sqlite"
    a, b, c = pool.ids[:3]
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(OLD_SCHEMA)
        conn.execute("INSERT INTO meta VALUES ('pool', ?)", (str(pool_csv),))
        conn.executemany("INSERT INTO labels VALUES (?, ?, ?, ?)",
                         [(b, "negative", 3, 1000.0), (a, "positive", 1, 900.0), (c, None, 2, 950.0)])
    conn.close()
    threads = [threading.Thread(target=LabelStore, args=(db, pool)) for _ in range(3)]  # opened at once
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    store = LabelStore(db, pool)
    assert store.labels() == {a: "positive", b: "negative"} and list(store.labels()) == [a, b]
    assert store.skipped() == {c}
    history = store.history()
    assert [(e.row_id, e.action, e.at) for e in history] == [(a, "label", 900.0), (c, "skip", 950.0),
                                                             (b, "label", 1000.0)]  # migrated once only
    store.set(a, "neutral", "tab")
    assert store.undo("tab").label == "positive" and store.undo("tab") is None  # old rows are no tab's to undo
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # an older Samiksha still reads the labels, and fails loudly rather than writing a second table
        conn.executescript(OLD_SCHEMA)
        assert sorted(conn.execute("SELECT row_id, label FROM labels WHERE label IS NOT NULL")) == sorted(
            [(a, "positive"), (b, "negative")])
        with pytest.raises(sqlite3.OperationalError, match="view"):
            conn.execute("DELETE FROM labels")
    conn.close()
    assert LabelStore(db, pool).labels() == {a: "positive", b: "negative"}


def test_a_file_that_is_no_label_database_gets_one_line(tmp_path, pool_csv):
    (tmp_path / "l.sqlite").write_text("not a database " * 100)
    with pytest.raises(DataError, match="cannot be used as a label database"):
        LabelStore(tmp_path / "l.sqlite", read_pool(pool_csv))


def test_export_is_a_train_input_with_every_column(tmp_path, pool_csv):
    pool = read_pool(pool_csv)
    store = LabelStore(tmp_path / "l.sqlite", pool)
    for rid, label in zip(pool.ids[:4], ["positive", "negative", "neutral", "positive"]):
        store.set(rid, label)
    for suffix in ("csv", "jsonl", "parquet"):
        out = tmp_path / f"labels.{suffix}"
        assert store.export(out) == 4
        data = load_labelled(out)
        assert data.labels == ["positive", "negative", "neutral", "positive"]
        assert data.texts == pool.texts[:4]
    assert list(pd.read_csv(tmp_path / "labels.csv").columns) == ["text", "order_id", "label", "annotator", "labelled_at"]


def test_export_has_the_latest_label_of_each_review(tmp_path, pool_csv):
    pool = read_pool(pool_csv)
    store = LabelStore(tmp_path / "l.sqlite", pool)
    a, b, c, d = pool.ids[:4]
    store.set(a, "positive", "tab")
    store.set(b, "negative", "tab")
    store.set(a, "negative", "tab")
    store.set(c, "neutral", "tab")
    store.skip(c, "tab")  # labelled, then put aside: out of the export
    store.skip(d, "tab")
    store.set(b, "neutral", "other")
    store.undo("tab")  # the skip of d
    store.undo("tab")  # the skip of c: neutral again
    store.undo("tab")  # c's label: none
    store.undo("tab")  # a's relabel: positive again
    assert store.export(tmp_path / "labels.csv") == 2
    got = pd.read_csv(tmp_path / "labels.csv")
    assert dict(zip(got["text"], got["label"])) == {pool.texts[0]: "positive", pool.texts[1]: "neutral"}
    assert list(got.columns) == ["text", "order_id", "label", "annotator", "labelled_at"]


def test_a_store_from_another_pool_is_refused(tmp_path, pool_csv):
    store = LabelStore(tmp_path / "l.sqlite", read_pool(pool_csv))
    store.set(row_id("good product"), "positive")
    other = tmp_path / "other.csv"
    pd.DataFrame({"text": ["kuch aur", "bilkul alag"]}).to_csv(other, index=False)
    with pytest.raises(DataError, match="labels of another pool"):
        LabelStore(tmp_path / "l.sqlite", read_pool(other))


WRITER = """
import sys
from samiksha.labelstore import LabelStore
from samiksha.suggest import read_pool
pool = read_pool(sys.argv[1])
store = LabelStore(sys.argv[2], pool)
for i in range(100000):
    store.set(pool.ids[i % len(pool.ids)], ("negative", "neutral", "positive")[i % 3])
    print(i, flush=True)
"""


def test_labels_survive_a_server_killed_mid_write(tmp_path, pool_csv):
    db = tmp_path / "l.sqlite"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(pool_csv), str(db)], stdout=subprocess.PIPE,
                              text=True)
    last = -1
    while last < 50:  # let it commit a good number of labels, then kill it wherever it is
        line = writer.stdout.readline()
        if not line:
            pytest.fail("the writer exited early")
        last = int(line)
    writer.kill()
    writer.wait()
    rest = writer.stdout.read().split()
    writer.stdout.close()
    committed = int(rest[-1]) + 1 if rest else last + 1
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = conn.execute("SELECT COUNT(*), COUNT(DISTINCT row_id) FROM labels").fetchone()
        events = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    pool = read_pool(pool_csv)
    assert rows[0] == rows[1] == len(set(pool.ids))  # every review once, never twice
    assert events >= committed  # nothing it reported as saved is lost
    assert LabelStore(db, pool).labels()


def test_two_clients_at_once_never_duplicate_a_review(tmp_path, pool_csv):
    pool = read_pool(pool_csv)
    db = tmp_path / "l.sqlite"
    LabelStore(db, pool)
    errors = []

    def client(label: str) -> None:
        try:
            store = LabelStore(db, pool)  # its own connections, as a second tab's requests have
            for _ in range(5):
                for rid in pool.ids:
                    store.set(rid, label)
        except Exception as err:  # surfaced below
            errors.append(err)

    threads = [threading.Thread(target=client, args=(name,)) for name in ("negative", "positive")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    labels = LabelStore(db, pool).labels()
    assert sorted(labels) == sorted(set(pool.ids)) and set(labels.values()) <= {"negative", "positive"}


@pytest.fixture
def page(tmp_path, pool_csv):
    from samiksha.labelpage import create_label_app

    app = create_label_app(pool_csv, encoder="minilm", labels_out=tmp_path / "out.jsonl", target=10)
    with TestClient(app) as client:
        yield client


def test_page_api_labels_undoes_skips_and_exports(tmp_path, page):
    state = page.get("/label/api/state").json()
    assert state["labelled"] == 0 and state["total"] == 20 and state["labels"] == ["negative", "neutral", "positive"]
    first = state["next"][0]
    assert re.fullmatch(PLAIN_COVER, first["reason"]) and first["guess"] is None
    state = page.post("/label/api/label", json={"row_id": first["row_id"], "label": "positive"}).json()
    assert state["labelled"] == 1 and state["counts"]["positive"] == 1
    assert first["row_id"] not in [r["row_id"] for r in state["next"]]
    assert len(pd.read_json(tmp_path / "out.jsonl", lines=True)) == 1  # --labels-out follows every label
    second = state["next"][0]["row_id"]
    state = page.post("/label/api/skip", json={"row_id": second}).json()
    assert state["skipped"] == 1 and state["next"][0]["row_id"] != second
    undone = page.post("/label/api/undo").json()
    assert undone["undone"] == second and undone["state"]["next"][0]["row_id"] == second
    export = page.get("/label/api/export", params={"format": "csv"})
    assert export.status_code == 200 and "pool-labels.csv" in export.headers["content-disposition"]
    (tmp_path / "got.csv").write_bytes(export.content)
    assert load_labelled(tmp_path / "got.csv").labels == ["positive"]
    studio = page.get("/label/api/export", params={"format": "label-studio"})  # Label Studio's task JSON
    assert studio.status_code == 200 and "pool-labels.json" in studio.headers["content-disposition"]
    assert studio.json()[0]["annotations"][0]["result"][0]["value"]["choices"] == ["positive"]


def test_page_api_undo_is_per_tab_and_per_server(tmp_path, pool_csv, page):
    from samiksha.labelpage import create_label_app

    ids = [r["row_id"] for r in page.get("/label/api/state").json()["next"]]
    page.post("/label/api/label", json={"row_id": ids[0], "label": "positive", "session": "tab1"})
    page.post("/label/api/label", json={"row_id": ids[1], "label": "negative", "session": "tab2"})
    page.post("/label/api/label", json={"row_id": ids[0], "label": "negative", "session": "tab1"})
    answer = page.post("/label/api/undo", json={"session": "tab1"}).json()
    assert answer["undone"] == ids[0] and answer["restored"] == "positive"
    assert answer["state"]["next"][0]["row_id"] == ids[0] and answer["state"]["labelled"] == 2
    assert page.post("/label/api/undo").json()["undone"] is None  # a client without an id: nothing of its own
    assert page.post("/label/api/undo", json={"session": "bad id!"}).status_code == 422
    store = page.app.state.session.store
    assert [(e.session, e.label) for e in store.history(ids[0])] == [
        ("tab1", "positive"), ("tab1", "negative"), ("tab1", "positive")]
    page.post("/label/api/label", json={"row_id": ids[2], "label": "neutral"})  # no id: this server's own
    other = create_label_app(pool_csv, encoder="minilm", target=10)  # a second server on the same database
    with TestClient(other) as second:
        assert second.post("/label/api/undo").json()["undone"] is None  # never the first server's label
        assert second.get("/label/api/state").json()["labelled"] == 3
    answer = page.post("/label/api/undo").json()
    assert answer["undone"] == ids[2] and answer["restored"] is None
    assert pd.read_json(tmp_path / "out.jsonl", lines=True)["label"].tolist() == ["negative", "positive"]


def test_page_api_bad_requests_get_one_clear_message(page):
    rid = page.get("/label/api/state").json()["next"][0]["row_id"]
    wrong = page.post("/label/api/label", json={"row_id": rid, "label": "great"})
    assert wrong.status_code == 400 and wrong.json()["error"] == (
        "unknown label 'great' (expected negative, neutral, positive)")
    assert page.post("/label/api/label", json={"row_id": "nope", "label": "positive"}).status_code == 404
    assert page.get("/label/api/export", params={"format": "xlsx"}).status_code == 422
    refused = page.post("/label/api/train")
    assert refused.status_code == 400 and "two different labels" in refused.json()["error"]


def test_the_session_raises_domain_errors_and_the_web_layer_gives_their_status(page, monkeypatch):
    from samiksha.errors import SamikshaError
    from samiksha.labelpage import AlreadyTraining, UnknownReview

    session = page.app.state.session
    with pytest.raises(UnknownReview, match="no review with id 'nope'"):
        session.label("nope", "positive")
    with pytest.raises(SamikshaError, match="unknown label"):
        session.label(session.ids[0], "great")
    monkeypatch.setattr(session.training, "state", "running")
    with pytest.raises(AlreadyTraining):
        session.start_training()
    for rid, label in zip(session.ids, ["negative", "positive"]):
        session.label(rid, label)
    busy = page.post("/label/api/train")
    assert busy.status_code == 409 and busy.json() == {"error": "a training run is already going"}


def test_quick_model_takes_over_once_every_class_has_five_labels(page, monkeypatch):
    from samiksha import labelpage

    truth = make_reviews(6, seed=3)
    for label in ("negative", "neutral", "positive"):
        for text in truth[truth["label"] == label]["text"].head(5):
            page.post("/label/api/label", json={"row_id": row_id(text), "label": label})
    monkeypatch.setattr(labelpage, "RERANK_EVERY", 1)
    state = page.get("/label/api/state").json()
    assert page.app.state.session.ranking.labelled_at == 15
    assert state["next"][0]["reason"].startswith("hard to call for a quick model trained on your 15 labels: ")
    assert state["next"][0]["guess"] in ("negative", "neutral", "positive")
    refused = page.get("/label/api/audit")  # 5 of each: too few to tell a wrong label from noise
    assert refused.status_code == 400 and "label 3 more negative" in refused.json()["error"]


def test_cli_exports_without_serving(tmp_path, pool_csv):
    from test_cli import invoke

    pool = read_pool(pool_csv)
    store = LabelStore(pool_csv.with_name("pool.labels.sqlite"), pool)
    store.set(pool.ids[0], "negative")
    result = invoke("label", pool_csv, "--export", tmp_path / "labels.parquet")
    assert result.exit_code == 0, result.output
    assert pd.read_parquet(tmp_path / "labels.parquet")["label"].tolist() == ["negative"]


def test_a_devanagari_pool_name_downloads(tmp_path, pool_csv):
    from samiksha.labelpage import create_label_app

    pool = pool_csv.rename(tmp_path / "समीक्षा.csv")
    with TestClient(create_label_app(pool, encoder="minilm")) as client:
        rid = client.get("/label/api/state").json()["next"][0]["row_id"]
        client.post("/label/api/label", json={"row_id": rid, "label": "positive"})
        export = client.get("/label/api/export", params={"format": "csv"})
    assert export.status_code == 200, export.text
    disposition = export.headers["content-disposition"]
    assert "filename*=utf-8''%E0%A4%B8" in disposition and disposition.endswith("-labels.csv")
    assert 'filename="' in disposition  # an ASCII name for clients without RFC 5987


def test_page_refuses_big_bodies_and_big_pools(tmp_path, pool_csv, page):
    from test_cli import invoke

    from samiksha.errors import SamikshaError
    from samiksha.labelpage import create_label_app

    huge = page.post("/label/api/label", content=b'{"row_id": "' + b"x" * 1_000_000 + b'"}',
                     headers={"Content-Type": "application/json"})
    assert huge.status_code == 413 and list(huge.json()) == ["error"]
    with pytest.raises(SamikshaError, match="more than 5 rows; label a part of it, or raise --max-rows"):
        create_label_app(pool_csv, encoder="minilm", max_rows=5)
    result = invoke("label", pool_csv, "--max-rows", 5)
    assert result.exit_code == 1 and "more than 5 rows" in result.output and "Traceback" not in result.output


def test_shutdown_stops_a_training_run(tmp_path, pool_csv, monkeypatch):
    import importlib

    from samiksha.labelpage import create_label_app

    app = create_label_app(pool_csv, encoder="minilm")
    session = app.state.session
    started, steps = threading.Event(), []

    def fake_train(data, output, config, callbacks):  # a training run that only ends when told to
        from types import SimpleNamespace

        started.set()
        while True:
            state = SimpleNamespace(max_steps=10**6, global_step=len(steps))
            steps.append(callbacks[0].on_step_end(None, state, None))

    monkeypatch.setattr(importlib.import_module("samiksha.train"), "train", fake_train)
    for label, rid in zip(("negative", "positive") * 4, session.ids):  # enough to hold some out
        session.store.set(rid, label)
    session.start_training()
    assert started.wait(30)
    session.close(timeout=30)  # what the app's shutdown (and so SIGTERM) does
    assert not session.trainer.is_alive()
    assert session.training.state == "failed" and "shutting down" in session.training.message


def test_a_store_without_a_pool_keeps_texts_and_an_older_database_gains_them(tmp_path, pool_csv):
    db = tmp_path / "pool.labels.sqlite"
    pool = read_pool(pool_csv)
    LabelStore(db, pool).set(pool.ids[0], "positive", "page")  # a database written before texts were kept
    with sqlite3.connect(db) as con:
        con.execute("DROP TABLE texts")
    store = LabelStore(db)  # the serve page's: no pool
    rid = store.add("ekdum bekar, paisa barbaad", "negative", "serve")
    store.add("wrong one", "neutral", "serve")
    store.add("wrong one", None, "serve")  # taken back
    assert store.labelled_frame()[["text", "label", "annotator"]].to_dict("list") == {
        "text": ["ekdum bekar, paisa barbaad"], "label": ["negative"], "annotator": ["serve"]}
    page = LabelStore(db, pool)  # the pool's page: its rows with every column, then the texts sent from elsewhere
    frame = page.labelled_frame()
    assert frame["text"].tolist() == [pool.texts[0], "ekdum bekar, paisa barbaad"]
    assert frame["label"].tolist() == ["positive", "negative"] and list(frame.columns) == list(pool.frame.columns) + [
        "label", "annotator", "labelled_at"]
    assert page.labels()[rid] == "negative" and [e.action for e in page.history(row_id("wrong one"))] == [
        "label", "clear"]


@pytest.fixture
def flipkart_pool(tmp_path):
    """A Flipkart-style export: its review under "Review Text", beside "Product Name" and "Rating"."""
    reviews = make_reviews(4, seed=5)
    path = tmp_path / "flipkart.csv"
    pd.DataFrame({"Product Name": "Redmi 9", "Review Text": reviews["text"], "Rating": 4,
                  "truth": reviews["label"]}).to_csv(path, index=False)
    return path


def test_train_now_works_on_a_pool_opened_with_a_text_column(tmp_path, flipkart_pool, monkeypatch):
    import dataclasses
    import importlib

    from test_cli import invoke

    from samiksha.labelpage import create_label_app

    train_module = importlib.import_module("samiksha.train")
    real_train = train_module.train
    monkeypatch.setattr(train_module, "train", lambda data, output, config, callbacks: real_train(
        data, output, config=dataclasses.replace(config, method="tfidf"), callbacks=callbacks))  # seconds, not minutes
    app = create_label_app(flipkart_pool, encoder="minilm", text_column="Review Text", output=tmp_path / "model")
    session = app.state.session
    truth = pd.read_csv(flipkart_pool).set_index("Review Text")["truth"]
    with TestClient(app) as page:
        for rid in session.ids:
            page.post("/label/api/label", json={"row_id": rid, "label": truth[session.text[rid]]})
        started = page.post("/label/api/train")
        assert started.status_code == 202, started.text
        session.trainer.join(120)
        training = page.get("/label/api/state").json()["training"]
        assert training["state"] == "done", training
        export = page.get("/label/api/export", params={"format": "csv"})
    (tmp_path / "labels.csv").write_bytes(export.content)
    assert list(pd.read_csv(tmp_path / "labels.csv").columns) == ["Product Name", "text", "Rating", "truth", "label",
                                                                     "annotator", "labelled_at"]
    monkeypatch.undo()
    result = invoke("train", tmp_path / "labels.csv", "-o", tmp_path / "again", "--method", "tfidf")  # as is
    assert result.exit_code == 0, result.output
    result = invoke("suggest", flipkart_pool, "--text-column", "Review Text", "--labelled", tmp_path / "labels.csv",
                    "--model", tmp_path / "again", "-n", 2, "-o", tmp_path / "next.csv")  # the pool's column
    assert "every review in the pool is labelled already" in result.output, result.output


def test_train_now_that_cannot_start_answers_with_the_reason(flipkart_pool):
    from samiksha.labelpage import create_label_app

    app = create_label_app(flipkart_pool, encoder="minilm", text_column="Review Text")
    session = app.state.session
    with TestClient(app) as page:
        for label, rid in zip(("negative", "positive"), session.ids):
            page.post("/label/api/label", json={"row_id": rid, "label": label})
        refused = page.post("/label/api/train")  # two labels: none left to hold out for evaluation
        assert refused.status_code == 400 and "fewer than 2 distinct texts" in refused.json()["error"]
        assert page.get("/label/api/state").json()["training"]["state"] == "idle"  # no "training in the background"
    assert session.trainer is None
