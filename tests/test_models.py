from __future__ import annotations

from pathlib import Path

import pytest

from samiksha.errors import ModelError
from samiksha.models import offline_requested, resolve_model


def test_embedded_default_is_the_packaged_minilm():
    resolved = resolve_model(None)
    assert resolved.name == "sentence-transformers/all-MiniLM-L6-v2"
    assert (Path(resolved.path) / "model.safetensors").exists()
    assert resolved.local_files_only
    assert resolve_model("minilm") == resolved


def test_local_folder(tiny_albert):
    resolved = resolve_model(str(tiny_albert))
    assert resolved.path == str(tiny_albert) and resolved.local_files_only


def test_folder_without_config_and_missing_folder(tmp_path):
    with pytest.raises(ModelError, match="not a model folder"):
        resolve_model(str(tmp_path))
    with pytest.raises(ModelError, match="no such model folder"):
        resolve_model(str(tmp_path / "nope"))


def test_hub_name_online_is_left_to_transformers(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    resolved = resolve_model("ai4bharat/indic-bert")
    assert (resolved.path, resolved.local_files_only) == ("ai4bharat/indic-bert", False)


def test_hub_name_offline_uses_the_cache_or_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(ModelError, match="not in the local Hugging Face cache and offline mode is on"):
        resolve_model("ai4bharat/indic-bert", offline=True)


@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), ("0", False), ("", False)])
def test_offline_environment_switch(monkeypatch, value, expected):
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", value)
    assert offline_requested() is expected
