from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from samiksha import Classifier, TrainConfig, train
from samiksha.backends import OnnxBackend, TorchBackend
from samiksha.cli import app
from samiksha.errors import SamikshaError
from samiksha.export import export_onnx

TEXTS = ["bahut badiya phone", "bakwas", "theek thaak hai, kuch khaas nahi", "मस्त है", "ok",
         "delivery late thi lekin product achha hai " * 4]


@pytest.fixture(scope="module")
def exported(tmp_path_factory, trained_tiny_plain):
    folder = tmp_path_factory.mktemp("exp") / "model"
    shutil.copytree(trained_tiny_plain, folder)
    report = export_onnx(folder, quantize="int8", force=True)
    return folder, report


def test_export_parity_and_report(exported):
    folder, report = exported
    assert (folder / "onnx" / "model.onnx").exists()
    assert report["fp32"]["max_abs_logit_diff"] <= 1e-3
    assert report["fp32"]["argmax_agreement"] == 1.0
    assert report["parity_texts"] == len(pd.read_csv(folder / "eval.csv"))
    assert json.loads((folder / "onnx" / "export.json").read_text()) == report


def test_backends_agree_on_predict_and_predict_proba(exported):
    folder, report = exported
    torch_clf = Classifier.load(folder, backend="torch")
    onnx_fp32 = Classifier(OnnxBackend(folder / "onnx" / "model.onnx", folder), torch_clf.labels)
    auto = Classifier.load(folder)
    assert isinstance(torch_clf.backend, TorchBackend) and isinstance(auto.backend, OnnxBackend)
    assert auto.backend.model_file.name == ("model.int8.onnx" if report["preferred"] == "int8" else "model.onnx")
    assert auto.labels == onnx_fp32.labels == torch_clf.labels == ["negative", "neutral", "positive"]
    np.testing.assert_allclose(onnx_fp32.predict_proba(TEXTS, batch_size=4), torch_clf.predict_proba(TEXTS),
                               atol=1e-4)
    assert onnx_fp32.predict(TEXTS) == torch_clf.predict(TEXTS)
    int8 = auto.predict_proba(TEXTS)
    assert int8.shape == (len(TEXTS), 3)
    np.testing.assert_allclose(int8.sum(axis=1), 1, rtol=1e-5)


def test_int8_gate_passes_or_refuses_on_remeasured_macro_f1(tmp_path, trained_tiny_plain):
    folder = tmp_path / "model"
    shutil.copytree(trained_tiny_plain, folder)
    passing = export_onnx(folder, quantize="int8", max_f1_drop=1.0)  # any drop allowed: must pass
    assert passing["int8"]["accepted"] and passing["preferred"] == "int8"
    assert (folder / "onnx" / "model.int8.onnx").exists()
    assert passing["int8"]["size_bytes"] < passing["fp32"]["size_bytes"]
    refusing = export_onnx(folder, quantize="int8", max_f1_drop=-1.0)  # must improve by 100 points: refused
    assert not refusing["int8"]["accepted"] and refusing["preferred"] == "fp32"
    assert not (folder / "onnx" / "model.int8.onnx").exists()
    assert "macro-F1" in refusing["int8"]["reason"]
    assert isinstance(Classifier.load(folder).backend, OnnxBackend)
    assert Classifier.load(folder).backend.model_file.name == "model.onnx"


def test_int8_without_evaluation_data_needs_force(tmp_path, trained_tiny_plain):
    folder = tmp_path / "model"
    shutil.copytree(trained_tiny_plain, folder)
    (folder / "eval.csv").unlink()
    report = export_onnx(folder)
    assert not report["int8"]["accepted"] and "no evaluation data" in report["int8"]["reason"]
    assert report["parity_texts"] == 10  # built-in sample reviews


def test_export_to_a_serving_folder_without_torch_weights(tmp_path, trained_tiny_plain):
    target = tmp_path / "serve"
    result = CliRunner().invoke(app, ["export", str(trained_tiny_plain), "--output", str(target), "--quantize", "none"])
    assert result.exit_code == 0, result.output
    assert not (target / "model.safetensors").exists() and (target / "onnx" / "model.onnx").exists()
    assert not (trained_tiny_plain / "onnx").exists()
    served = Classifier.load(target)
    assert isinstance(served.backend, OnnxBackend)
    np.testing.assert_allclose(served.predict_proba(TEXTS), Classifier.load(trained_tiny_plain).predict_proba(TEXTS),
                               atol=1e-4)
    again = CliRunner().invoke(app, ["export", str(trained_tiny_plain), "--output", str(target), "--quantize", "none"])
    assert again.exit_code == 0, again.output  # a serving folder Samiksha wrote is replaced whole
    assert Classifier.load(target).labels == served.labels
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    refused = CliRunner().invoke(app, ["export", str(trained_tiny_plain), "--output", str(tmp_path / "mine")])
    assert refused.exit_code == 1 and "not replaced" in refused.stderr
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["notes.txt"]
    itself = CliRunner().invoke(app, ["export", str(trained_tiny_plain), "--output", str(trained_tiny_plain)])
    assert itself.exit_code == 1 and "never overwrites an input" in itself.stderr
    assert (trained_tiny_plain / "samiksha.json").exists()


def test_onnx_backend_requested_without_export(trained_tiny_plain):
    with pytest.raises(SamikshaError, match="has no ONNX export"):
        Classifier.load(trained_tiny_plain, backend="onnx")


def test_albert_exports_with_parity(tmp_path, tiny_albert, reviews_csv):
    out = tmp_path / "albert"
    train(reviews_csv, out, config=TrainConfig(model=str(tiny_albert), epochs=1, batch_size=8))
    report = export_onnx(out, quantize="none")
    assert report["fp32"]["max_abs_logit_diff"] <= 1e-3 and report["fused"] is False


def test_multilingual_architecture_exports_and_gates_int8(tmp_path, minilm_tokenizer_dir, reviews_csv):
    """XLM-R (the architecture of multilingual-e5 and MuRIL-like encoders): fused export, gated int8."""
    from conftest import _tiny
    from transformers import XLMRobertaConfig

    base = _tiny(tmp_path / "tiny-xlmr", minilm_tokenizer_dir,
                 XLMRobertaConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                  intermediate_size=64, max_position_embeddings=260, pad_token_id=0))
    out = tmp_path / "xlmr"
    train(reviews_csv, out, config=TrainConfig(model=str(base), epochs=1, batch_size=8))
    report = export_onnx(out, quantize="int8")
    assert report["fp32"]["max_abs_logit_diff"] <= 1e-3 and report["fused"] is True
    int8 = report["int8"]
    assert int8["accepted"] == (int8["macro_f1_drop"] <= 0.01)
    assert (out / "onnx" / "model.int8.onnx").exists() == int8["accepted"]


@pytest.mark.slow
def test_int8_gate_on_the_real_minilm(tmp_path, reviews_csv):
    """The embedded MiniLM, briefly fine-tuned: fused fp32 matches PyTorch, and int8 is kept only by the gate."""
    from samiksha.demo import demo_data_dir

    folder = tmp_path / "m"
    train(reviews_csv, folder, config=TrainConfig(method="finetune", model="minilm", max_steps=4, batch_size=8,
                                                  report_seeds=1))
    report = export_onnx(folder, quantize="int8", eval_data=demo_data_dir() / "test.csv")
    assert report["fused"] and report["fp32"]["max_abs_logit_diff"] <= 1e-3
    int8 = report["int8"]
    assert int8["gate_rows"] == 150 and int8["size_bytes"] <= 0.3 * report["fp32"]["size_bytes"]
    assert int8["accepted"] == (int8["macro_f1_drop"] <= 0.01)
    assert report["preferred"] == ("int8" if int8["accepted"] else "fp32")


def test_onnx_backend_tokenizes_like_transformers_without_pytorch(exported):
    import subprocess
    import sys

    from transformers import AutoTokenizer

    from samiksha.backends import RawTokenizer

    folder, _ = exported
    raw, auto = RawTokenizer.load(folder), AutoTokenizer.from_pretrained(folder)
    texts = TEXTS + ["", "क्\u200dष ज़रूर", "a" * 3000]
    for max_length in (128, 16):
        ours = raw(texts, truncation=True, max_length=max_length, padding=True, return_tensors="np")
        theirs = auto(texts, truncation=True, max_length=max_length, padding=True, return_tensors="np")
        for key in ("input_ids", "attention_mask", "token_type_ids"):
            np.testing.assert_array_equal(ours[key], theirs[key])
    # a process that predicts with ONNX never loads PyTorch (it would double the memory)
    code = (f"import sys; from samiksha import Classifier; c = Classifier.load({str(folder)!r}, backend='onnx'); "
            "c.predict(['bahut badiya']); print('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "False"


def test_cli_predict_on_an_exported_folder_loads_no_pytorch(exported):
    """`samiksha predict` on an exported folder loads ONNX Runtime and none of the other heavy libraries: neither
    PyTorch nor transformers (seconds of start-up), nor pandas for reviews given on the command line."""
    from test_startup import cli, heavy_modules_after

    folder, _ = exported
    assert heavy_modules_after(cli("predict", str(folder), "bahut badiya phone")) == ["onnxruntime"]
