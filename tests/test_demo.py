from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from samiksha.cli import app
from samiksha.data import load_labelled, normalise_text
from samiksha.demo import NEW_REVIEWS, demo_data_dir


def test_bundled_demo_data_is_large_balanced_and_disjoint():
    folder = demo_data_dir()
    train = load_labelled(folder / "train.csv")
    test = load_labelled(folder / "test.csv")
    probe = load_labelled(folder / "probe.csv")
    assert len(train) >= 900 and len(test) == 150 and 100 <= len(probe) <= 150
    for part in (train, test, probe):
        counts = part.counts()
        assert set(counts) == {"negative", "neutral", "positive"}
        assert min(counts.values()) / len(part) > 0.25
    train_keys = {normalise_text(t) for t in train.texts}
    assert len(train_keys) == len(train)
    assert not train_keys & {normalise_text(t) for t in test.texts}
    probe_keys = {normalise_text(t) for t in probe.texts}
    assert len(probe_keys) == len(probe)
    assert not probe_keys & (train_keys | {normalise_text(t) for t in test.texts})
    assert not {normalise_text(t) for t in NEW_REVIEWS} & (train_keys | {normalise_text(t) for t in test.texts} | probe_keys)
    devanagari = sum(any("\u0900" <= ch <= "\u097f" for ch in t) for t in train.texts)
    assert 0.15 < devanagari / len(train) < 0.5
    assert (folder / "DATACARD.md").exists()


def test_no_demo_text_is_in_two_files():
    """Each review is in one file only; aspects_test.csv repeats test.csv on purpose (its demo-test rows)."""
    import pandas as pd

    folder = demo_data_dir()
    aspects_test = pd.read_csv(folder / "aspects_test.csv")
    texts = {name: pd.read_csv(folder / f"{name}.csv")["text"] for name in ("train", "test", "probe", "aspects_dev")}
    texts["aspects_test (new rows)"] = aspects_test.loc[aspects_test["source"] == "new", "text"]
    texts["shop"] = pd.read_csv(folder / "shop.csv")["review"]
    seen: dict[str, str] = {}
    for name, column in texts.items():
        for text in column:
            key = normalise_text(text)
            assert seen.setdefault(key, name) == name, f"{text!r} is in {seen[key]} and {name}"


@pytest.mark.slow
def test_real_embedded_model_fine_tunes(tmp_path):
    """A few real steps of the embedded MiniLM: the loss falls and the folder round-trips."""
    import pandas as pd

    from samiksha import Classifier, TrainConfig, train

    frame = pd.read_csv(demo_data_dir() / "train.csv").groupby("label").head(30)
    path = tmp_path / "small.csv"
    frame.to_csv(path, index=False)
    config = TrainConfig(method="finetune", model="minilm", epochs=3, seed=0, learning_rate=1e-4)
    result = train(path, tmp_path / "m", config=config)
    losses = [h["loss"] for h in result.meta["training"]["history"] if "loss" in h]
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert result.meta["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    classifier = Classifier.load(tmp_path / "m")
    assert classifier.predict_proba(["Delivery was fast and quality is superb"]).shape == (1, 3)


@pytest.mark.slow
def test_demo_command_end_to_end(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["demo", "--epochs", "3"])
    assert result.exit_code == 0, result.output
    for review in NEW_REVIEWS:
        assert review[:30] in result.output.replace("\n", " ") or review[:20] in result.output
    metrics = json.loads((tmp_path / "samiksha-demo-model" / "metrics.json").read_text())
    assert metrics["macro_f1"] > 0.45  # 3 epochs of MiniLM on the demo data learn far more than chance (0.33)
    assert (tmp_path / "samiksha-demo-report.html").exists() and "samiksha-demo-report.html" in result.output
