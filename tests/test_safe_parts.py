"""Model folders hold no pickle and run no code; tampered or mismatched folders get one line, never random labels."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import make_reviews
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from samiksha import Classifier, TrainConfig, train
from samiksha.cli import app
from samiksha.errors import ModelError, SamikshaError
from samiksha.methods.tfidf import LEGACY_FILE, PART, build_pipeline
from samiksha.models import check_max_length, max_positions
from samiksha.sklearn_parts import load_logistic, load_tfidf, save_logistic, save_tfidf

runner = CliRunner()
TEXTS = ["bahut badiya phone", "bakwas", "theek thaak hai", "मस्त है 😍", ""]


class Planted:
    """A pickle that, when loaded, creates ``marker``: what a planted model file could do instead."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def plant(file: Path, marker: Path) -> None:
    file.write_bytes(pickle.dumps(Planted(marker)))


def refused(args: list, *needles: str) -> str:
    """Run the CLI and assert one error line holding every needle, a non-zero exit and no traceback."""
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code != 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert "Traceback" not in result.output + result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def tfidf_model(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tfidf")
    make_reviews(12).to_csv(folder / "reviews.csv", index=False)
    train(folder / "reviews.csv", folder / "model", config=TrainConfig(method="tfidf", seed=0))
    return folder / "model"


def _old_style(source: Path, folder: Path) -> Path:
    """A copy of ``source`` as older versions wrote it: the TF-IDF pipeline as a joblib pickle."""
    import joblib

    shutil.copytree(source, folder)
    joblib.dump(load_tfidf(folder, PART, LEGACY_FILE), folder / LEGACY_FILE)
    for name in ("tfidf.json", "tfidf.safetensors"):
        (folder / name).unlink()
    return folder


def test_no_file_of_a_trained_folder_is_a_pickle(tfidf_model, trained_tiny):
    for folder in (tfidf_model, trained_tiny):
        for file in folder.iterdir():
            head = file.read_bytes()[:2] if file.is_file() else b""
            assert not head.startswith(b"\x80"), f"{file.name} looks like a pickle"
    assert "No file in this folder is a pickle" in (tfidf_model / "README.md").read_text()


@pytest.mark.parametrize("classes", [3, 2])
def test_tfidf_round_trips_with_identical_probabilities(tmp_path, classes):
    frame = make_reviews(10, labels=("negative", "neutral", "positive")[:classes])
    ids = {"negative": 0, "neutral": 1, "positive": 2}
    pipeline = build_pipeline(0, {0: 2.0, 1: 1.0, 2: 1.0}).fit(frame["text"].tolist(), frame["label"].map(ids).tolist())
    save_tfidf(pipeline, tmp_path, PART)
    loaded = load_tfidf(tmp_path, PART, LEGACY_FILE)
    texts = TEXTS + frame["text"].tolist()
    assert np.array_equal(loaded.predict_proba(texts), pipeline.predict_proba(texts))
    assert list(loaded.classes_) == list(pipeline.classes_)


def test_logistic_head_round_trips_with_identical_probabilities(tmp_path):
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 8)), np.repeat([0, 1, 2], 20)
    head = LogisticRegression(max_iter=200).fit(x, y)
    save_logistic(head, tmp_path, "model_head")
    loaded = load_logistic(tmp_path, "model_head", "model_head.pkl", width=8)
    assert np.array_equal(loaded.predict_proba(x), head.predict_proba(x))
    with pytest.raises(ModelError, match="do not fit"):
        load_logistic(tmp_path, "model_head", "model_head.pkl", width=9)


def test_a_planted_tfidf_pickle_never_runs(tmp_path, tfidf_model):
    from samiksha.serve import create_app

    folder = _old_style(tfidf_model, tmp_path / "m")
    marker = tmp_path / "pwned"
    plant(folder / LEGACY_FILE, marker)
    with pytest.raises(ModelError, match="--trust-pickle"):
        Classifier.load(folder)
    with pytest.raises(ModelError, match="--trust-pickle"):
        create_app(folder)
    for command in (["predict", folder, "hi"], ["evaluate", folder, folder / "eval.csv"],
                    ["explain", folder, "hi"], ["aspects", folder, "hi"]):
        refused(command, f"{folder / LEGACY_FILE}", "--trust-pickle")
    assert not marker.exists()


def test_a_pickle_beside_the_safe_files_is_never_read(tmp_path, trained_tiny):
    folder = tmp_path / "m"
    shutil.copytree(trained_tiny, folder)
    marker = tmp_path / "pwned"
    plant(folder / LEGACY_FILE, marker)
    assert Classifier.load(folder).predict(["bakwas"])[0] in ("negative", "neutral", "positive")
    assert not marker.exists()


@pytest.mark.parametrize("method", ["setfit", "ensemble"])
def test_a_planted_head_pickle_never_runs(tmp_path, tfidf_model, method):
    folder = tmp_path / "m"
    shutil.copytree(tfidf_model, folder)  # the ensemble's TF-IDF part is the safe one
    meta = json.loads((folder / "samiksha.json").read_text())
    (folder / "samiksha.json").write_text(json.dumps({**meta, "method": method}))
    marker = tmp_path / "pwned"
    plant(folder / "model_head.pkl", marker)
    with pytest.raises(ModelError, match="model_head.pkl: a pickle.*--trust-pickle"):
        Classifier.load(folder)
    refused(["predict", folder, "hi"], "model_head.pkl", "--trust-pickle")
    assert not marker.exists()


def test_an_older_folder_loads_with_trust_pickle(tmp_path, tfidf_model):
    folder = _old_style(tfidf_model, tmp_path / "old")
    expected = Classifier.load(tfidf_model).predict_proba(TEXTS)
    assert np.array_equal(Classifier.load(folder, trust_pickle=True).predict_proba(TEXTS), expected)
    result = runner.invoke(app, ["predict", str(folder), "bakwas", "--trust-pickle"])
    assert result.exit_code == 0, result.output
    refused(["predict", folder, "bakwas"], "--trust-pickle")


@pytest.mark.parametrize("damage, needle", [
    (lambda f: (f / "tfidf.safetensors").unlink(), "tfidf.safetensors: missing"),
    (lambda f: [(f / n).unlink() for n in ("tfidf.json", "tfidf.safetensors")], "the tfidf part is missing"),
    (lambda f: (f / "tfidf.safetensors").write_bytes((f / "tfidf.safetensors").read_bytes()[:200]), "truncated"),
    (lambda f: (f / "tfidf.json").write_text("{"), "not valid JSON"),
    (lambda f: _edit_json(f / "tfidf.json", lambda s: s["features"][0]["vocabulary"].pop()), "do not match"),
    (lambda f: _edit_json(f / "tfidf.json", lambda s: s["features"][0]["settings"].update(tokenizer="os.system")),
     "unknown settings tokenizer"),
    (lambda f: _edit_json(f / "tfidf.json", lambda s: s["features"][0]["settings"].update(analyzer="nope")),
     "not a usable TF-IDF model"),
])
def test_a_damaged_tfidf_part_gets_one_line(tmp_path, trained_tiny, damage, needle):
    folder = tmp_path / "m"
    shutil.copytree(trained_tiny, folder)
    damage(folder)
    refused(["predict", folder, "hi"], needle)


def _edit_json(file: Path, change) -> None:
    saved = json.loads(file.read_text())
    change(saved)
    file.write_text(json.dumps(saved))


def _weights(folder: Path, change) -> None:
    from safetensors.torch import load_file, save_file

    tensors = load_file(folder / "model.safetensors")
    change(tensors)
    save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})


@pytest.mark.parametrize("damage, needle", [
    (lambda f: _edit_json(f / "config.json", lambda c: c.update(model_type="gpt2")),
     "do not fit GPT2ForSequenceClassification"),
    (lambda f: _weights(f, lambda t: t.pop("classifier.weight")), "1 missing weight(s) (classifier.weight)"),
    (lambda f: _weights(f, lambda t: t.update({"extra.weight": t["classifier.bias"].clone()})),
     "1 unexpected weight(s)"),
    (lambda f: (f / "model.safetensors").write_bytes((f / "model.safetensors").read_bytes()[:5000]), "truncated"),
    (lambda f: _edit_json(f / "config.json", lambda c: c.update(id2label={str(i): f"l{i}" for i in range(5)},
                                                                 label2id={f"l{i}": i for i in range(5)})),
     "needs (5,"),
    (lambda f: _edit_json(f / "samiksha.json", lambda m: m.update(labels=["negative", "positive"])),
     "the TF-IDF model's classes [0, 1, 2] do not fit the 2 labels"),
    (lambda f: _edit_json(f / "samiksha.json", lambda m: m["config"].update(max_length=8192)),
     "max length 8192 is beyond the model's 256 token positions"),
])
def test_a_tampered_transformer_folder_gets_one_line(tmp_path, trained_tiny, damage, needle):
    folder = tmp_path / "m"
    shutil.copytree(trained_tiny, folder)
    damage(folder)
    with pytest.raises(ModelError):
        Classifier.load(folder)
    refused(["predict", folder, "hi"], needle)


def test_a_label_count_the_head_does_not_give_is_refused(tmp_path, trained_tiny):
    folder = tmp_path / "m"
    shutil.copytree(trained_tiny, folder)
    meta = json.loads((folder / "samiksha.json").read_text())
    (folder / "samiksha.json").write_text(json.dumps({**meta, "method": "finetune", "labels": ["neg", "pos"]}))
    refused(["predict", folder, "hi"], "the classification head gives 3 scores but the folder names 2 labels")


def test_max_length_beyond_the_position_table_is_refused_in_training(tmp_path, reviews_csv, tiny_bert):
    with pytest.raises(SamikshaError, match="max length 300 is beyond the model's 256 token positions"):
        train(reviews_csv, tmp_path / "m", config=TrainConfig(model=str(tiny_bert), max_length=300, epochs=1,
                                                              report_seeds=1))


def test_position_table_counts_robertas_padding_offset():
    assert max_positions({"model_type": "bert", "max_position_embeddings": 512}) == 512
    assert max_positions({"model_type": "xlm-roberta", "max_position_embeddings": 514, "pad_token_id": 1}) == 512
    assert max_positions({"model_type": "deberta-v2", "max_position_embeddings": 512,
                          "position_biased_input": False}) is None
    check_max_length(512, {"model_type": "roberta", "max_position_embeddings": 514, "pad_token_id": 1}, "x")
    with pytest.raises(ModelError, match="beyond the model's 512"):
        check_max_length(513, {"model_type": "roberta", "max_position_embeddings": 514, "pad_token_id": 1}, "x")


def test_onnx_backend_refuses_a_max_length_beyond_the_position_table(tmp_path, trained_tiny):
    from samiksha.export import export_onnx

    serving = tmp_path / "serving"
    export_onnx(trained_tiny, serving, quantize="none")
    _edit_json(serving / "samiksha.json", lambda m: m["config"].update(max_length=8192))
    with pytest.raises(ModelError, match="max length 8192 is beyond"):
        Classifier.load(serving, backend="onnx")
    graph = serving / "onnx" / "model.onnx"
    graph.write_bytes(graph.read_bytes()[:3000])
    refused(["predict", serving, "hi"], "model.onnx: not a usable ONNX graph")


@pytest.fixture(scope="module")
def saved_tfidf(tmp_path_factory) -> Path:
    frame = make_reviews(6)
    ids = {"negative": 0, "neutral": 1, "positive": 2}
    folder = tmp_path_factory.mktemp("saved-tfidf")
    save_tfidf(build_pipeline(0).fit(frame["text"].tolist(), frame["label"].map(ids).tolist()), folder, PART)
    return folder


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(["tfidf.json", "tfidf.safetensors"]), where=st.floats(0, 1), byte=st.integers(0, 255),
       truncate=st.booleans())
def test_a_damaged_part_loads_or_gets_a_model_error(tmp_path, saved_tfidf, name, where, byte, truncate):
    folder = tmp_path / "fuzz"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(saved_tfidf, folder)
    data = bytearray((folder / name).read_bytes())
    at = int(where * (len(data) - 1))
    if truncate:
        del data[at:]
    else:
        data[at] = byte
    (folder / name).write_bytes(bytes(data))
    try:
        pipeline = load_tfidf(folder, PART, LEGACY_FILE)
    except ModelError:
        return
    assert pipeline.predict_proba(TEXTS).shape == (len(TEXTS), 3)


def test_an_older_teacher_distils_only_when_trusted_and_its_student_holds_no_pickle(tmp_path, trained_tiny):
    from samiksha.distill import distill

    teacher = _old_style(trained_tiny, tmp_path / "teacher")
    with pytest.raises(ModelError, match="tfidf.joblib: a pickle.*--trust-pickle"):
        distill(teacher, tmp_path / "refused", layers=1, epochs=1)
    student = tmp_path / "student"
    distill(teacher, student, layers=1, epochs=1, trust_pickle=True)
    assert (student / "tfidf.safetensors").exists() and not (student / LEGACY_FILE).exists()
    expected = load_tfidf(trained_tiny, PART, LEGACY_FILE).predict_proba(TEXTS)
    assert np.array_equal(load_tfidf(student, PART, LEGACY_FILE).predict_proba(TEXTS), expected)
