"""The labelling store and page API: labels saved at once, one row per review, safe across kills and clients."""

from __future__ import annotations

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


def test_store_keeps_one_row_per_review_and_undoes_the_latest(tmp_path, pool_csv):
    pool = read_pool(pool_csv)
    store = LabelStore(tmp_path / "l.sqlite", pool)
    a, b, c = pool.ids[:3]
    store.set(a, "positive")
    store.set(b, "negative")
    store.set(a, "neutral")  # relabel: replaces, never a second row
    store.skip(c)
    assert store.labels() == {b: "negative", a: "neutral"} and store.skipped() == {c}
    assert store.undo() == c and store.undo() == a and store.labels() == {b: "negative"}
    with sqlite3.connect(tmp_path / "l.sqlite") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT COUNT(*) FROM labels").fetchone()[0] == 1


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
    assert list(pd.read_csv(tmp_path / "labels.csv").columns) == ["text", "order_id", "label"]


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
        rows = conn.execute("SELECT COUNT(*), COUNT(DISTINCT row_id), MAX(seq) FROM labels").fetchone()
    pool = read_pool(pool_csv)
    assert rows[0] == rows[1] == len(set(pool.ids))  # every review once, never twice
    assert rows[2] >= committed  # nothing it reported as saved is lost
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
    assert first["reason"].startswith("cover") and first["guess"] is None
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


def test_page_api_bad_requests_get_one_clear_message(page):
    rid = page.get("/label/api/state").json()["next"][0]["row_id"]
    wrong = page.post("/label/api/label", json={"row_id": rid, "label": "great"})
    assert wrong.status_code == 400 and wrong.json()["error"] == (
        "unknown label 'great' (expected negative, neutral, positive)")
    assert page.post("/label/api/label", json={"row_id": "nope", "label": "positive"}).status_code == 404
    assert page.get("/label/api/export", params={"format": "xlsx"}).status_code == 422
    refused = page.post("/label/api/train")
    assert refused.status_code == 400 and "two different labels" in refused.json()["error"]


def test_quick_model_takes_over_once_every_class_has_five_labels(page, monkeypatch):
    from samiksha import labelpage

    truth = make_reviews(6, seed=3)
    for label in ("negative", "neutral", "positive"):
        for text in truth[truth["label"] == label]["text"].head(5):
            page.post("/label/api/label", json={"row_id": row_id(text), "label": label})
    monkeypatch.setattr(labelpage, "RERANK_EVERY", 1)
    state = page.get("/label/api/state").json()
    assert page.app.state.session.ranking.labelled_at == 15
    assert state["next"][0]["reason"].startswith("unsure (a quick model on your 15 labels)")
    assert state["next"][0]["guess"] in ("negative", "neutral", "positive")
    suspects = page.get("/label/api/audit").json()
    assert len(suspects) == 15 and {"row_id", "label", "suggested", "confidence"} <= set(suspects[0])


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
    for label, rid in zip(("negative", "positive"), session.ids):
        session.store.set(rid, label)
    session.start_training()
    assert started.wait(30)
    session.close(timeout=30)  # what the app's shutdown (and so SIGTERM) does
    assert not session.trainer.is_alive()
    assert session.training.state == "failed" and "shutting down" in session.training.message
