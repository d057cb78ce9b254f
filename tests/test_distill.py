"""`samiksha distill`: a smaller student learns a teacher's soft labels and is an ordinary model folder."""

from __future__ import annotations

import importlib
import json
import logging
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import make_reviews
from test_data import _write

from samiksha.distill import distill, read_unlabelled
from samiksha.errors import SamikshaError
from samiksha.predict import Classifier


@pytest.fixture(scope="module")
def unlabelled_jsonl(tmp_path_factory, trained_tiny) -> tuple:
    """New reviews, plus the teacher's evaluation rows written in another case and spacing (must be left out)."""
    evaluation = pd.read_csv(trained_tiny / "eval.csv")["text"].tolist()
    new = [f"{t} new" for t in make_reviews(8, seed=7)["text"]]
    disguised = ["  " + t.upper().replace(" ", "  ") for t in evaluation]
    path = tmp_path_factory.mktemp("unlabelled") / "pool.jsonl"
    pd.DataFrame({"review": new + disguised}).to_json(path, orient="records", lines=True, force_ascii=False)
    return path, evaluation


@pytest.fixture(scope="module")
def student(tmp_path_factory, trained_tiny, unlabelled_jsonl):
    out = tmp_path_factory.mktemp("students") / "student"
    distill(trained_tiny, out, unlabelled=[unlabelled_jsonl[0]], layers=1, epochs=2)
    return out


def test_student_is_a_smaller_model_folder_with_the_teachers_labels(student, trained_tiny):
    teacher_meta = json.loads((trained_tiny / "samiksha.json").read_text())
    meta = json.loads((student / "samiksha.json").read_text())
    config = json.loads((student / "config.json").read_text())
    assert config["num_hidden_layers"] == 1
    assert meta["method"] == "stack" and meta["labels"] == teacher_meta["labels"]
    # stacked with the teacher's own TF-IDF model, which never saw a guessed label
    for name in ("tfidf.json", "tfidf.safetensors"):
        assert (student / name).read_bytes() == (trained_tiny / name).read_bytes()
    assert set(json.loads((student / "metrics.json").read_text())["parts"]) == {"transformer", "tfidf", "stack"}
    teacher_config = json.loads((trained_tiny / "config.json").read_text())
    assert config["id2label"] == teacher_config["id2label"]
    for name in ("metrics.json", "report.txt", "eval.csv", "README.md", "model.safetensors"):
        assert (student / name).exists()
    assert "Distilled (`samiksha distill`) from the teacher" in (student / "README.md").read_text()
    proba = Classifier.load(student).predict_proba(["bakwas phone", "बहुत अच्छा 😊"])
    assert proba.shape == (2, 3) and np.allclose(proba.sum(1), 1)


def test_evaluation_rows_never_teach_the_student(student, unlabelled_jsonl):
    read = json.loads((student / "samiksha.json").read_text())["config"]["extra"]["distilled"]["unlabelled"]
    assert read["evaluation_rows_left_out"] == len(unlabelled_jsonl[1])
    assert read["used"] == 24  # the 24 new reviews, and nothing else


def test_leak_check_fires_and_soft_labels_follow_the_label_order(trained_tiny, unlabelled_jsonl, tmp_path,
                                                                  monkeypatch, caplog):
    captured = {}

    def capture(train_part, eval_part, schema, output, config, **kwargs):
        captured.update(train=train_part, eval=eval_part, schema=schema, config=config, **kwargs)

    monkeypatch.setattr(importlib.import_module("samiksha.distill"), "train_parts", capture)
    with caplog.at_level(logging.WARNING, logger="samiksha"):
        distill(trained_tiny, tmp_path / "s", unlabelled=[unlabelled_jsonl[0]], layers=1, temperature=1.0)
    assert f"left out {len(unlabelled_jsonl[1])} unlabelled review(s) that are also evaluation rows" in caplog.text
    keys = {" ".join(t.casefold().split()) for t in captured["train"].texts}
    assert not keys & {" ".join(t.casefold().split()) for t in unlabelled_jsonl[1]}
    teacher = Classifier.load(trained_tiny)
    soft = captured["targets"].soft
    assert np.allclose(soft, teacher.predict_proba(captured["train"].texts), atol=1e-5)  # columns in label order
    assert list(captured["schema"].names) == teacher.labels
    labelled = captured["targets"].labelled
    assert labelled.sum() == len(captured["train"]) - 24 and not labelled[-24:].any()


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".parquet", ".xlsx"])
def test_unlabelled_reviews_in_every_format(tmp_path, suffix):
    frame = pd.DataFrame({"id": [1, 2, 3, 4], "text": ["acha hai", "बहुत बढ़िया", "Acha  hai", "eval row"]})
    path = _write(frame, tmp_path / f"pool{suffix}")
    texts, report = read_unlabelled([path], None, {"eval row"}, set(), None, 0)
    assert texts == ["acha hai", "बहुत बढ़िया"]
    assert report["duplicates"] == 1 and report["evaluation_rows_left_out"] == 1


def test_vanilla_pipeline_loads_the_student_and_it_exports_to_int8(student, tmp_path):
    code = ("import json, sys; from transformers import pipeline; "
            f"p = pipeline('text-classification', model={str(student)!r}); "
            "print(json.dumps(p(['bahut badiya', 'bakwas']))); assert 'samiksha' not in sys.modules")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert {r["label"] for r in json.loads(done.stdout.strip().splitlines()[-1])} <= {"negative", "neutral", "positive"}
    from samiksha.export import export_onnx

    report = export_onnx(student, tmp_path / "served", force=True)
    assert report["fp32"]["max_abs_logit_diff"] < 1e-3 and report["int8"]["accepted"]
    graphs = {f.name for f in (tmp_path / "served" / "onnx").iterdir()}
    assert graphs == {"model.int8.onnx", "export.json"}  # the serving folder keeps only the graph it serves
    assert not (tmp_path / "served" / "model.safetensors").exists()
    texts = make_reviews(4, seed=3)["text"].tolist()
    onnx = Classifier.load(tmp_path / "served", backend="onnx")
    assert onnx.predict_proba(texts).shape == (12, 3)


def test_no_tfidf_gives_the_transformer_alone(trained_tiny, tmp_path):
    distill(trained_tiny, tmp_path / "alone", layers=1, epochs=1, keep_tfidf=False)
    meta = json.loads((tmp_path / "alone" / "samiksha.json").read_text())
    assert meta["method"] == "finetune" and not (tmp_path / "alone" / "tfidf.json").exists()
    assert Classifier.load(tmp_path / "alone").predict(["bakwas"])[0] in meta["labels"]


def test_refuses_what_it_cannot_distil(tmp_path, reviews_csv, trained_tiny):
    from samiksha import TrainConfig, train

    tfidf = tmp_path / "tfidf"
    train(reviews_csv, tfidf, config=TrainConfig(method="tfidf"))
    with pytest.raises(SamikshaError, match="needs a fine-tuned transformer"):
        distill(tfidf, tmp_path / "s1")
    with pytest.raises(SamikshaError, match="between 1 and the teacher's 2 layers"):
        distill(trained_tiny, tmp_path / "s2", layers=3)
    with pytest.raises(SamikshaError, match="is the teacher's folder"):
        distill(trained_tiny, trained_tiny)


@pytest.mark.parametrize("architecture", ["bert", "xlm-roberta"])  # MiniLM; the multilingual e5 model
def test_keep_layers_keeps_evenly_spaced_layers_and_saves_them(tmp_path, architecture):
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification

    from samiksha.methods.finetune import keep_layers

    torch.manual_seed(0)
    config = AutoConfig.for_model(architecture, vocab_size=100, hidden_size=16, num_hidden_layers=6,
                                  num_attention_heads=2, intermediate_size=32, num_labels=3)
    model = AutoModelForSequenceClassification.from_config(config).eval()
    originals = list(model.base_model.encoder.layer)
    assert keep_layers(model, 3) == [0, 2, 5]
    assert list(model.base_model.encoder.layer) == [originals[0], originals[2], originals[5]]
    ids = torch.tensor([[1, 5, 7, 2]])
    model.save_pretrained(tmp_path / "m")
    reloaded = AutoModelForSequenceClassification.from_pretrained(tmp_path / "m").eval()
    assert reloaded.config.num_hidden_layers == 3
    with torch.no_grad():
        assert torch.allclose(model(ids).logits, reloaded(ids).logits, atol=1e-6)
    with pytest.raises(SamikshaError):
        keep_layers(model, 4)


def test_cli_distil_error_is_one_line(tmp_path, trained_tiny):
    from typer.testing import CliRunner

    from samiksha.cli import app

    result = CliRunner().invoke(app, ["distill", str(trained_tiny), "-o", str(tmp_path / "s"), "--layers", "0"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "between 1 and the teacher's 2 layers" in lines[0]


def test_distillation_loss_is_hintons_with_true_labels_where_known():
    import types

    import torch

    from samiksha.distill import Distillation
    from samiksha.methods.finetune import _make_trainer_class

    logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3]])
    soft = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    model = lambda **inputs: types.SimpleNamespace(logits=logits)  # noqa: E731
    base = _make_trainer_class()
    t = 2.0
    kd = sum((p * (p.log() - torch.log_softmax(z / t, -1))).sum() for p, z in zip(soft, logits)) / 2 * t * t

    def loss(labels, hard_weight, class_weights=None):
        trainer_class = Distillation(None, None, t, hard_weight).trainer_class(base)
        assert issubclass(trainer_class, base)  # the fine-tune's trainer, with the teacher's loss on top
        trainer = types.SimpleNamespace(class_weights=class_weights, label_smoothing=0.0,
                                        args=types.SimpleNamespace(world_size=1))
        trainer.hard_loss = types.MethodType(base.hard_loss, trainer)
        trainer._step_mean = types.MethodType(base._step_mean, trainer)
        return trainer_class.compute_loss(trainer, model, {"labels": torch.tensor(labels), "soft": soft.clone()})

    assert loss([0, 2], 0.0) == pytest.approx(kd.item(), rel=1e-5)
    ce = torch.nn.functional.cross_entropy(logits, torch.tensor([0, 2]))
    assert loss([0, 2], 1.0) == pytest.approx(ce.item(), rel=1e-5)
    only_first = torch.nn.functional.cross_entropy(logits[:1], torch.tensor([0]))
    assert loss([0, -100], 0.5) == pytest.approx(0.5 * kd.item() + 0.5 * only_first.item(), rel=1e-5)
    assert loss([-100, -100], 0.5) == pytest.approx(0.5 * kd.item(), rel=1e-5)  # no true label: the teacher alone
    weighted = torch.nn.functional.cross_entropy(logits, torch.tensor([0, 2]), weight=torch.tensor([1.0, 1.0, 3.0]))
    assert loss([0, 2], 1.0, [1.0, 1.0, 3.0]) == pytest.approx(weighted.item(), rel=1e-5)
