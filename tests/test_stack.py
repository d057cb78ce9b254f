"""The stacked default: transformer + TF-IDF, blended, in one folder, honest reports, every consumer."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import make_reviews
from typer.testing import CliRunner

from samiksha import Classifier, TrainConfig, evaluate, methods, train
from samiksha.backends import OnnxBackend, TorchBackend, softmax
from samiksha.cli import app
from samiksha.errors import ModelError
from samiksha.export import export_onnx
from samiksha.methods.stack import STACK_FILE, StackBackend
from samiksha.predict import predict_file

TEXTS = ["bahut badiya phone", "bakwas", "theek thaak hai, kuch khaas nahi", "मस्त है 😍", "ok"]


def test_stack_is_the_default_folder(trained_tiny):
    meta = json.loads((trained_tiny / "samiksha.json").read_text())
    assert meta["method"] == "stack" and "stacked with TF-IDF" in meta["training"]["method_choice"]
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tfidf.json", "tfidf.safetensors", STACK_FILE):
        assert (trained_tiny / name).exists(), name
    assert not list(trained_tiny.glob("*.joblib")) and not list(trained_tiny.glob("*.pkl"))
    stack = json.loads((trained_tiny / STACK_FILE).read_text())
    assert stack["parts"] == ["transformer", "tfidf"] and stack["weights"] == [0.5, 0.5]
    metrics = json.loads((trained_tiny / "metrics.json").read_text())
    assert set(metrics["parts"]) == {"transformer", "tfidf", "stack"}
    assert metrics["parts"]["stack"]["macro_f1"] == pytest.approx(metrics["macro_f1"])
    assert "cross-fitted" in metrics["how"]
    low, high = metrics["ci"]["macro_f1"]
    assert low <= metrics["macro_f1"] <= high
    card = (trained_tiny / "README.md").read_text()
    assert "the TF-IDF model alone" in card and "transformer's own labels" in card and "95% CI" in card


def test_classifier_blends_the_parts_with_the_saved_weights(trained_tiny):
    classifier = Classifier.load(trained_tiny)
    assert isinstance(classifier.backend, StackBackend) and classifier.backend.name == "torch+tfidf"
    proba = classifier.predict_proba(TEXTS)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
    backend = classifier.backend
    cleaned = [classifier.clean(t) for t in TEXTS]
    parts = [softmax(part.logits(cleaned, 128)) for part in (backend.transformer, backend.tfidf)]
    mean_log = sum(np.log(p) for p in parts) / 2
    np.testing.assert_allclose(proba, softmax(mean_log), atol=1e-5)
    np.testing.assert_allclose(classifier.predict_proba(TEXTS, batch_size=2), proba, atol=1e-5)


def test_evaluate_scores_the_blend_and_each_part_on_the_same_rows(tmp_path, trained_tiny):
    frame = make_reviews(6, seed=5)
    frame.to_csv(tmp_path / "test.csv", index=False)
    texts, labels = frame["text"].tolist(), frame["label"].tolist()
    metrics = evaluate(trained_tiny, tmp_path / "test.csv")
    classifier = Classifier.load(trained_tiny)
    predicted = classifier.predict(texts)
    assert metrics["accuracy"] == pytest.approx(np.mean([p == y for p, y in zip(predicted, labels)]))
    assert set(metrics["parts"]) == {"transformer", "tfidf", "stack"}
    assert metrics["parts"]["stack"]["macro_f1"] == pytest.approx(metrics["macro_f1"])
    alone = Classifier(classifier.backend.tfidf, classifier.labels, classifier.max_length, classifier.meta)
    assert metrics["parts"]["tfidf"]["accuracy"] == pytest.approx(
        np.mean([p == y for p, y in zip(alone.predict(texts), labels)]))
    shown = CliRunner().invoke(app, ["evaluate", str(trained_tiny), str(tmp_path / "test.csv"),
                                     "--plot", str(tmp_path / "confusion.png")])
    assert shown.exit_code == 0 and "each part alone and the blend" in shown.output


def test_plain_pipeline_gives_the_transformer_alone(trained_tiny):
    import subprocess
    import sys

    code = ("import json; from transformers import pipeline; "
            f"p = pipeline('text-classification', model={str(trained_tiny)!r}, top_k=None); "
            "print(json.dumps(p(['bahut badiya phone'])))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    scores = {r["label"]: r["score"] for r in json.loads(done.stdout.strip().splitlines()[-1])[0]}
    transformer = softmax(Classifier.load(trained_tiny).backend.transformer.logits(["bahut badiya phone"], 128))[0]
    assert [scores[n] for n in ("negative", "neutral", "positive")] == pytest.approx(transformer.tolist(), abs=1e-5)


def test_no_stack_trains_the_transformer_alone(tmp_path, reviews_csv, tiny_bert):
    out = tmp_path / "plain"
    result = train(reviews_csv, out, config=TrainConfig(model=str(tiny_bert), epochs=2, batch_size=8, seed=1,
                                                        report_seeds=1, stack=False))
    assert result.meta["method"] == "finetune"
    assert not (out / "tfidf.json").exists() and not (out / STACK_FILE).exists()
    assert isinstance(Classifier.load(out).backend, TorchBackend)
    assert "parts" not in result.metrics
    runner = CliRunner()
    cli_out = tmp_path / "cli"
    done = runner.invoke(app, ["train", str(reviews_csv), "--output", str(cli_out), "--model", str(tiny_bert),
                               "--epochs", "1", "--report-seeds", "1", "--no-stack"])
    assert done.exit_code == 0, done.output
    assert json.loads((cli_out / "samiksha.json").read_text())["method"] == "finetune"


def test_stacked_folder_exports_serves_and_streams(tmp_path, trained_tiny):
    folder = tmp_path / "model"
    shutil.copytree(trained_tiny, folder)
    torch_proba = Classifier.load(folder).predict_proba(TEXTS)
    report = export_onnx(folder, quantize="int8", force=True)
    assert report["fp32"]["max_abs_logit_diff"] <= 1e-3
    onnx_clf = Classifier.load(folder, backend="onnx")
    assert isinstance(onnx_clf.backend, StackBackend) and isinstance(onnx_clf.backend.transformer, OnnxBackend)
    assert onnx_clf.backend.name == "onnx+tfidf"
    fp32 = Classifier(StackBackend(folder, onnx_clf.meta, "torch"), onnx_clf.labels, meta=onnx_clf.meta)
    fp32.backend.transformer = OnnxBackend(folder / "onnx" / "model.onnx", folder)
    np.testing.assert_allclose(fp32.predict_proba(TEXTS), torch_proba, atol=1e-4)
    # a serving folder without the PyTorch weights keeps the stack's other parts
    serving = tmp_path / "serving"
    export_onnx(trained_tiny, serving, quantize="none")
    assert (serving / "tfidf.safetensors").exists() and (serving / STACK_FILE).exists()
    np.testing.assert_allclose(Classifier.load(serving).predict_proba(TEXTS), torch_proba, atol=1e-4)

    source = tmp_path / "week.csv"
    pd.DataFrame({"id": range(7), "review": [*TEXTS, "dusra", "teesra"]}).to_csv(source, index=False)
    labelled = tmp_path / "week-labelled.csv"
    assert predict_file(Classifier.load(serving), source, labelled, chunk_rows=3) == 7
    frame = pd.read_csv(labelled)
    np.testing.assert_allclose(frame[["prob_negative", "prob_neutral", "prob_positive"]].to_numpy()[:5],
                               torch_proba, atol=2e-4)

    from fastapi.testclient import TestClient

    from samiksha.serve import create_app

    with TestClient(create_app(serving)) as client:
        body = client.post("/v1/predict", json={"texts": TEXTS}).json()
        info = client.get("/v1/model").json()
    assert [p["label"] for p in body["results"]] == Classifier.load(serving).predict(TEXTS)
    assert info["method"] == "stack" and info["metrics"]["ci"]["level"] == 0.95


def test_report_comes_from_out_of_sample_probabilities_not_the_saved_model(tmp_path, monkeypatch):
    """A method whose saved model knows the evaluation labels by heart: the report must not show it."""
    from samiksha.methods.base import Fitted

    class Memoriser:
        """Labels each evaluation text correctly by looking it up; every other text gets 'neutral'."""

        name = "memory"

        def __init__(self, path, labels):
            frame = pd.read_csv(path / "answers.csv")
            self.answers = dict(zip(frame["text"], frame["label"]))
            self.labels = labels

        def logits(self, texts, max_length):
            return np.array([[10.0 if self.answers.get(t, "neutral") == n else 0.0 for n in self.labels]
                             for t in texts])

    class LeakyMethod(methods.Method):
        name = "tfidf"  # stands in for a registered method

        def fit(self, job):
            pd.DataFrame({"text": job.evaluation.texts, "label": job.evaluation.labels}).to_csv(
                job.folder / "answers.csv", index=False)
            honest = np.full((len(job.evaluation), len(job.schema)), 1 / len(job.schema))
            honest[:, 0] += 0.01  # an honest, useless model: always the first label
            return Fitted("memoriser", {"epochs_run": 1.0, "wall_seconds": 0.1}, honest)

        def load(self, path, meta, backend, device, trust_pickle=False):
            return Memoriser(path, meta["labels"])

    monkeypatch.setattr(methods, "get", lambda name: LeakyMethod())
    data = tmp_path / "reviews.csv"
    make_reviews(20).to_csv(data, index=False)
    result = train(data, tmp_path / "m", config=TrainConfig(method="tfidf", report_seeds=1))
    assert evaluate(tmp_path / "m", tmp_path / "m" / "eval.csv")["macro_f1"] == 1.0  # the saved model's own view
    assert result.metrics["accuracy"] == pytest.approx(1 / 3, abs=0.05)  # the report: the honest probabilities
    assert result.metrics["macro_f1"] < 0.3


@pytest.mark.parametrize("saved", [{"parts": ["transformer", "encoder"], "weights": [0.5, 0.5]},
                                   {"parts": ["transformer", "tfidf"]}])
def test_a_stack_file_this_version_cannot_read_fails_with_one_line(tmp_path, trained_tiny, saved):
    folder = tmp_path / "m"
    shutil.copytree(trained_tiny, folder)
    (folder / STACK_FILE).write_text(json.dumps(saved))
    with pytest.raises(ModelError, match="retrain this model"):
        Classifier.load(folder)


def test_older_folders_load_and_predict_as_before(tmp_path, trained_tiny_plain):
    """A folder written before text_steps and stacking: NFC-only clean-up, the transformer alone."""
    old = tmp_path / "old"
    shutil.copytree(trained_tiny_plain, old)
    meta = json.loads((old / "samiksha.json").read_text())
    meta["format_version"] = 1
    del meta["config"]["text_steps"], meta["config"]["stack"]
    (old / "samiksha.json").write_text(json.dumps(meta))
    classifier = Classifier.load(old)
    assert classifier.clean.steps == ("unicode",)
    assert isinstance(classifier.backend, TorchBackend)
    emoji = "mast 😍"
    assert classifier.clean(emoji) == emoji  # no emoji-to-words for a folder that was not trained with it
    expected = softmax(classifier.backend.logits(["mast 😍", "ज़"], 128))
    np.testing.assert_allclose(classifier.predict_proba(["mast 😍", "\u095B"]), expected, atol=1e-6)
