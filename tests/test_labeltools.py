"""Labels in and out of the tools labelling teams use: Label Studio's task JSON, who labelled what and when, and
audit rankings that keep the input's own columns."""

from __future__ import annotations

import json

import pandas as pd
from conftest import make_reviews
from typer.testing import CliRunner

from samiksha.audit import audit
from samiksha.cli import app
from samiksha.data import load_labelled, read_table
from samiksha.labelstore import LabelStore
from samiksha.suggest import read_pool

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def _pool(tmp_path):
    path = tmp_path / "pool.csv"
    frame = make_reviews(3, seed=4)[["text"]].assign(order_id=lambda f: [f"OD{i}" for i in range(len(f))])
    frame.to_csv(path, index=False)
    return path


def test_label_export_records_who_labelled_what_and_when(tmp_path):
    pool = read_pool(_pool(tmp_path))
    store = LabelStore(tmp_path / "l.sqlite", pool)
    store.set(pool.ids[0], "positive", "asha")
    store.set(pool.ids[1], "negative", "ravi")
    assert store.export(tmp_path / "labels.csv") == 2
    got = pd.read_csv(tmp_path / "labels.csv")
    assert list(got.columns) == ["text", "order_id", "label", "annotator", "labelled_at"]
    assert got["annotator"].tolist() == ["asha", "ravi"]
    assert all(pd.Timestamp(t).tzname() == "UTC" for t in got["labelled_at"])
    assert load_labelled(tmp_path / "labels.csv").labels == ["positive", "negative"]  # still a train input as is


def test_label_studio_round_trip_keeps_labels_ids_and_annotators(tmp_path):
    pool_csv = _pool(tmp_path)
    pool = read_pool(pool_csv)
    store = LabelStore(tmp_path / "pool.labels.sqlite", pool)
    labels = ["positive", "negative", "neutral", "positive"]
    for rid, label, who in zip(pool.ids, labels, ["asha", "ravi", "42", "asha"]):
        store.set(rid, label, who)
    result = invoke("label", pool_csv, "--export", tmp_path / "tasks.json", "--format", "label-studio")
    assert result.exit_code == 0, result.output
    tasks = json.loads((tmp_path / "tasks.json").read_text())
    assert tasks[0]["data"]["text"] == pool.texts[0] and tasks[0]["data"]["order_id"] == "OD0"
    assert tasks[0]["annotations"][0]["result"] == [{"from_name": "sentiment", "to_name": "text", "type": "choices",
                                                     "value": {"choices": ["positive"]}}]
    assert tasks[2]["annotations"][0]["completed_by"] == 42  # a Label Studio user id
    back = load_labelled(tmp_path / "tasks.json")  # what `samiksha train` reads
    assert back.labels == labels and back.texts == pool.texts[:4]
    table = read_table(tmp_path / "tasks.json")
    assert table["order_id"].tolist() == ["OD0", "OD1", "OD2", "OD3"]
    assert table["annotator"].tolist() == ["asha", "ravi", "42", "asha"]


def test_a_label_studio_export_reads_as_training_data(tmp_path):
    tasks = [
        {"id": 7, "data": {"text": "bahut accha phone"}, "annotations": [
            {"completed_by": 3, "created_at": "2026-01-02T10:00:00Z", "was_cancelled": False,
             "result": [{"from_name": "sentiment", "to_name": "text", "type": "choices",
                         "value": {"choices": ["Negative"]}}]},
            {"completed_by": {"email": "asha@shop.in"}, "created_at": "2026-01-03T10:00:00Z",
             "result": [{"from_name": "sentiment", "to_name": "text", "type": "choices",
                         "value": {"choices": ["Positive"]}}]},
            {"completed_by": 5, "created_at": "2026-01-04T10:00:00Z", "was_cancelled": True, "result": []}],
         "predictions": [{"model_version": "m", "score": 0.9, "result": []}]},
        {"id": 8, "data": {"text": "bekar, paisa barbaad"}, "annotations": [
            {"completed_by": 3, "updated_at": "2026-01-05T09:00:00Z",
             "result": [{"from_name": "sentiment", "to_name": "text", "type": "choices",
                         "value": {"choices": ["Negative"]}}]}]},
        {"id": 9, "data": {"text": "not reviewed yet"}, "annotations": []},
    ]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks, indent=2))
    table = read_table(path)
    assert table.to_dict("list") == {
        "text": ["bahut accha phone", "bekar, paisa barbaad", "not reviewed yet"], "id": ["7", "8", "9"],
        "label": ["Positive", "Negative", ""], "annotator": ["asha@shop.in", "3", ""],
        "labelled_at": ["2026-01-03T10:00:00Z", "2026-01-05T09:00:00Z", ""]}
    data = load_labelled(path)
    assert data.labels == ["positive", "negative"] and data.rows == [1, 2]


def test_audit_keeps_the_inputs_columns_and_writes_label_studio_tasks(tmp_path):
    frame = make_reviews(8, seed=1)
    frame.insert(0, "id", [f"R{i}" for i in range(len(frame))])
    frame["stars"] = "4"
    path = tmp_path / "labels.csv"
    frame.to_csv(path, index=False)
    ranking = audit(path, encoder="minilm")
    assert list(ranking.columns[:5]) == ["row", "id", "text", "label", "stars"]
    assert (ranking["id"] == ranking["row"].map(lambda r: f"R{r - 2}")).all()
    result = invoke("audit", path, "--encoder", "minilm", "-o", tmp_path / "audit.json", "--format", "label-studio")
    assert result.exit_code == 0, result.output
    tasks = json.loads((tmp_path / "audit.json").read_text())
    assert {t["data"]["id"] for t in tasks} == set(frame["id"])
    assert all(t["predictions"][0]["result"][0]["value"]["choices"][0] in ("negative", "neutral", "positive")
               for t in tasks)
    back = read_table(tmp_path / "audit.json").set_index("id")
    assert back.loc[frame["id"], "label"].tolist() == frame["label"].tolist()


def test_label_studio_format_needs_a_file(tmp_path):
    result = invoke("audit", _pool(tmp_path), "--format", "label-studio")
    assert result.exit_code != 0 and "name the file to write" in result.output
    result = invoke("audit", _pool(tmp_path), "-o", tmp_path / "x.json", "--format", "doccano")
    assert result.exit_code != 0 and "--format doccano: unknown" in result.output


def test_suggest_writes_its_guesses_as_label_studio_predictions(tmp_path):
    pool = tmp_path / "pool.csv"
    make_reviews(5, seed=3)[["text"]].assign(id=lambda f: [f"P{i}" for i in range(len(f))]).to_csv(pool, index=False)
    labelled = tmp_path / "labelled.csv"
    make_reviews(6, seed=9).to_csv(labelled, index=False)
    result = invoke("suggest", pool, "-n", 4, "--labelled", labelled, "--encoder", "minilm", "-o",
                    tmp_path / "tasks.json", "--format", "label-studio")
    assert result.exit_code == 0, result.output
    tasks = json.loads((tmp_path / "tasks.json").read_text())
    assert len(tasks) == 4 and all(t["data"]["id"].startswith("P") and "annotations" not in t for t in tasks)
    for task in tasks:
        prediction = task["predictions"][0]
        assert prediction["result"][0]["value"]["choices"][0] in ("negative", "neutral", "positive")
        assert 0 < prediction["score"] <= 1 and "guess" not in task["data"]
    for task in tasks:  # a reviewer accepts each guess in Label Studio
        task["annotations"] = [{"completed_by": 1, "result": task["predictions"][0]["result"]}]
    (tmp_path / "reviewed.json").write_text(json.dumps(tasks))
    back = load_labelled(tmp_path / "reviewed.json")
    assert back.labels == [t["predictions"][0]["result"][0]["value"]["choices"][0] for t in tasks]
    assert read_table(tmp_path / "reviewed.json")["id"].tolist() == [t["data"]["id"] for t in tasks]


def test_argilla_records_saved_with_datasets_read_as_labels_and_annotators(tmp_path):
    import datasets

    records = datasets.Dataset.from_dict({  # as Argilla 2's dataset.records.to_datasets() flattens them
        "id": ["r1", "r2", "r3", "r4"],
        "text": ["bahut accha phone", "bekar, paisa barbaad", "theek hai", "not reviewed yet"],
        "status": ["completed", "completed", "completed", "pending"],
        "sentiment.responses": [["positive"], ["neutral", "negative"], ["neutral"], []],
        "sentiment.responses.users": [["u-asha"], ["u-ravi", "u-asha"], ["u-ravi"], []],
        "sentiment.responses.status": [["submitted"], ["discarded", "submitted"], ["submitted"], []],
        "sentiment.suggestion": ["positive", "positive", "neutral", None],
        "sentiment.suggestion.score": [0.9, 0.6, 0.5, None],
    })
    records.save_to_disk(str(tmp_path / "argilla"))
    table = read_table(tmp_path / "argilla")
    assert table[["id", "label", "annotator", "guess"]].to_dict("list") == {
        "id": ["r1", "r2", "r3", "r4"], "label": ["positive", "negative", "neutral", ""],
        "annotator": ["u-asha", "u-asha", "u-ravi", ""], "guess": ["positive", "positive", "neutral", ""]}
    data = load_labelled(tmp_path / "argilla")
    assert data.labels == ["positive", "negative", "neutral"] and data.texts == records["text"][:3]


def test_labels_reviewed_in_label_studio_come_back_into_the_label_database(tmp_path):
    pool_csv = _pool(tmp_path)
    pool = read_pool(pool_csv)
    store = LabelStore(tmp_path / "pool.labels.sqlite", pool)
    store.set(pool.ids[0], "positive", "asha")
    assert invoke("label", pool_csv, "--export", tmp_path / "tasks.json", "--format", "label-studio").exit_code == 0
    tasks = json.loads((tmp_path / "tasks.json").read_text())
    tasks[0]["annotations"].append({"completed_by": 7, "updated_at": "2027-02-01T08:00:00Z", "result": [
        {"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": ["Neutral"]}}]})
    tasks.append({"data": {"text": "naya review, bahut badhiya"}, "annotations": [{"completed_by": 7, "result": [
        {"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": ["Positive"]}}]}]})
    (tmp_path / "reviewed.json").write_text(json.dumps(tasks))
    result = invoke("label", pool_csv, "--import", tmp_path / "reviewed.json")
    assert result.exit_code == 0, result.output
    frame = LabelStore(tmp_path / "pool.labels.sqlite", pool).labelled_frame()
    assert frame[["text", "label", "annotator"]].values.tolist() == [
        [pool.texts[0], "neutral", "7"], ["naya review, bahut badhiya", "positive", "7"]]
    assert frame["labelled_at"].iloc[0] == "2027-02-01T08:00:00+00:00"
