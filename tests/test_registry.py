"""The method registry: a method from another package's entry point trains and loads through the CLI, settings come
in through --set and a settings file, and folders written before methods owned their settings keep loading."""

from __future__ import annotations

import importlib.metadata as md
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from typer.testing import CliRunner

from samiksha import Classifier, TrainConfig, methods
from samiksha.cli import app
from samiksha.errors import SamikshaError
from samiksha.methods.finetune import saved_prefix, tuning
from samiksha.methods.setfit import SetFitSettings
from samiksha.modelfolder import ModelFolder


@dataclass
class PriorSettings:
    section: ClassVar[str] = "prior"
    smoothing: float = 1.0


class PriorBackend:
    name = "prior"

    def __init__(self, path: Path):
        self.log_prior = np.log(np.array(json.loads((path / "prior.json").read_text())["prior"]))

    def logits(self, texts: list[str], max_length: int) -> np.ndarray:
        return np.tile(self.log_prior, (len(texts), 1))


class Prior(methods.Method):
    """A toy third-party method: every review gets the training labels' (smoothed) frequencies."""

    name = "prior"
    summary = "the label frequencies"
    settings = PriorSettings

    def usage(self, meta: dict) -> str:
        return "Predicts the label frequencies, whatever the review."

    def fit(self, job: methods.FitJob) -> methods.Fitted:
        smoothing = job.config.method_settings(PriorSettings).smoothing
        counts = np.bincount(job.label_ids(job.train), minlength=len(job.schema)) + smoothing
        job.folder.mkdir(parents=True, exist_ok=True)
        (job.folder / "prior.json").write_text(json.dumps({"prior": (counts / counts.sum()).tolist()}))
        return methods.Fitted("label frequencies", {"epochs_run": 1.0, "steps": 1, "best_checkpoint": None,
                                                    "wall_seconds": 0.01, "examples_per_second": None,
                                                    "resumed": False, "history": []})

    def load(self, path, meta, backend, device, trust_pickle=False):
        return PriorBackend(path)


@pytest.fixture
def prior_plugin(monkeypatch):
    """The registry as a fresh process sees it with a package installed whose entry point names `Prior`."""
    entry = md.EntryPoint(name="prior", value=f"{__name__}:Prior", group=methods.ENTRY_POINTS)
    real = md.entry_points
    monkeypatch.setattr(methods.md, "entry_points",
                        lambda **kw: [entry] if kw.get("group") == methods.ENTRY_POINTS else real(**kw))
    monkeypatch.setattr(methods, "_registry", {})
    monkeypatch.setattr(methods, "_loaded", False)


def test_a_method_from_an_entry_point_trains_and_loads_through_the_cli(prior_plugin, tmp_path, reviews_csv):
    runner = CliRunner()
    out = tmp_path / "prior-model"
    result = runner.invoke(app, ["train", str(reviews_csv), "-o", str(out), "--method", "prior",
                                 "--set", "prior.smoothing=3", "--report-seeds", "1"])
    assert result.exit_code == 0, result.output
    meta = ModelFolder(out).read_meta()
    assert meta["method"] == "prior" and meta["config"]["settings"] == {"prior": {"smoothing": 3.0}}
    assert "Predicts the label frequencies" in (out / "README.md").read_text()
    predicted = runner.invoke(app, ["predict", str(out), "mast product"])
    assert predicted.exit_code == 0, predicted.output
    assert Classifier.load(out).predict_proba(["a", "b"]).shape == (2, 3)
    assert "prior" in methods.names() and methods.get("prior").summary == "the label frequencies"


def test_a_broken_plugin_is_skipped_with_one_line(monkeypatch, caplog):
    entry = md.EntryPoint(name="broken", value="no_such_package_xyz:METHOD", group=methods.ENTRY_POINTS)
    monkeypatch.setattr(methods.md, "entry_points", lambda **kw: [entry])
    monkeypatch.setattr(methods, "_registry", {})
    monkeypatch.setattr(methods, "_loaded", False)
    assert "stack" in methods.names()
    assert "method plugin broken" in caplog.text


def test_settings_are_read_as_their_types_and_unknown_ones_refused(tmp_path):
    into: dict = {}
    for pair in ("finetune.warmup=0.2", "finetune.early_stopping_patience=none", "setfit.iterations=2",
                 "epochs=3", "finetune.group_by_length=false"):
        methods.parse_setting(pair, into)
    assert into == {"epochs": 3.0, "settings": {"finetune": {"warmup": 0.2, "early_stopping_patience": None,
                                                             "group_by_length": False},
                                                "setfit": {"iterations": 2}}}
    config = methods.preset(**into)
    assert tuning(config).warmup == 0.2 and config.method_settings(SetFitSettings).iterations == 2
    for bad, message in [("finetune.warmth=1", "unknown setting .*finetune.warmup"),
                         ("magic.x=1", "no method has settings 'magic'"),
                         ("setfit.iterations=many", "'many' is not of type int"), ("warmup", "expected KEY=VALUE")]:
        with pytest.raises(SamikshaError, match=message):
            methods.parse_setting(bad, {})
    file = tmp_path / "settings.json"
    file.write_text(json.dumps({"epochs": 2, "finetune": {"warmup": 10, "input_prefix": None}}))
    from_file: dict = {}
    methods.read_settings(file, from_file)
    assert from_file == {"epochs": 2.0, "settings": {"finetune": {"warmup": 10.0, "input_prefix": None}}}
    with pytest.raises(SamikshaError, match="padding must be"):
        tuning(TrainConfig(settings={"finetune": {"padding": "sideways"}}))


def test_the_cli_sets_a_method_setting_and_keeps_its_flags(tmp_path, reviews_csv, tiny_bert):
    out = tmp_path / "m"
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"finetune": {"warmup": 3, "weight_decay": 0.5}}))
    result = CliRunner().invoke(app, ["train", str(reviews_csv), "-o", str(out), "--model", str(tiny_bert),
                                      "--method", "finetune", "--epochs", "1", "--batch-size", "8",
                                      "--report-seeds", "1", "--settings", str(settings),
                                      "--set", "finetune.warmup=2", "--train-embeddings"])
    assert result.exit_code == 0, result.output
    config = ModelFolder(out).read_meta()["config"]
    assert (config["epochs"], config["batch_size"]) == (1, 8)
    assert config["settings"]["finetune"]["warmup"] == 2  # --set wins over the file
    assert config["settings"]["finetune"]["weight_decay"] == 0.5
    assert config["settings"]["finetune"]["freeze_embeddings"] is False  # --train-embeddings
    assert set(config["settings"]) == {"finetune"}
    refused = CliRunner().invoke(app, ["train", str(reviews_csv), "-o", str(tmp_path / "x"), "--set", "nope=1"])
    assert refused.exit_code == 1 and "unknown setting" in refused.output and "Traceback" not in refused.output


@pytest.mark.parametrize("version", [1, 2, 3])
def test_folders_that_kept_method_settings_flat_keep_loading(tmp_path, trained_tiny_plain, version):
    """samiksha.json versions 1-3 saved the fine-tune and SetFit settings at the top of the config."""
    folder = tmp_path / "old"
    shutil.copytree(trained_tiny_plain, folder)
    meta = json.loads((folder / "samiksha.json").read_text())
    config = meta["config"]
    flat = {k: v for k, v in config.pop("settings")["finetune"].items()}
    config.update(flat, input_prefix="review: ", setfit_iterations=7, max_pairs=100)
    config.pop("legacy")
    meta["format_version"] = version
    if version == 1:
        del config["text_steps"], config["stack"]
    (folder / "samiksha.json").write_text(json.dumps(meta))
    old = TrainConfig.from_dict(ModelFolder(folder).read_meta()["config"])
    assert tuning(old).input_prefix == "review: " and tuning(old).warmup == flat["warmup"]
    assert old.method_settings(SetFitSettings).iterations == 7  # saved as setfit_iterations
    assert TrainConfig.from_dict(old.to_dict()) == old
    assert saved_prefix(ModelFolder(folder).read_meta()) == "review: "
    classifier = Classifier.load(folder)
    assert classifier.backend.prefix == "review: "
    assert classifier.predict_proba(["mast product"]).shape == (1, 3)
