"""SetFit, `auto` and the small-data seed report: every method through train/evaluate/predict/Classifier."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from conftest import make_reviews
from typer.testing import CliRunner

from samiksha import Classifier, TrainConfig, evaluate, methods, train
from samiksha.cli import app
from samiksha.config import SETFIT_BELOW
from samiksha.errors import SamikshaError
from samiksha.export import export_onnx
from samiksha.train import choose_method

FOLDER_FILES = ("samiksha.json", "metrics.json", "report.txt", "confusion_matrix.png", "README.md", "eval.csv")
TEXTS = ["bahut badiya phone", "bakwas quality", "theek thaak hai", "मस्त है"]


def _files(tmp_path, n_train: int = 8, n_eval: int = 4):
    train_file, eval_file = tmp_path / "train.csv", tmp_path / "eval.csv"
    make_reviews(n_train, seed=1).to_csv(train_file, index=False)
    frame = make_reviews(n_eval, seed=2)
    frame["text"] = frame["text"] + " (eval)"  # no text is shared with the training file
    frame.to_csv(eval_file, index=False)
    return train_file, eval_file


@pytest.fixture(scope="module")
def setfit_model(tmp_path_factory):
    """SetFit with the real MiniLM body on 8 examples per class, one pair iteration."""
    folder = tmp_path_factory.mktemp("setfit")
    train_file, eval_file = _files(folder)
    config = TrainConfig(method="setfit", settings={"setfit": {"iterations": 1}}, seed=7, report_seeds=1)
    return train(train_file, folder / "model", eval_data=eval_file, config=config), eval_file


def test_setfit_writes_the_same_kind_of_folder_and_round_trips(setfit_model, tmp_path):
    result, eval_file = setfit_model
    out = result.output_dir
    for name in (*FOLDER_FILES, "model_head.json", "model_head.safetensors", "modules.json", "model.safetensors"):
        assert (out / name).exists(), name
    assert not list(out.glob("*.pkl")) and not list(out.glob("*.joblib"))
    meta = json.loads((out / "samiksha.json").read_text())
    assert (meta["method"], meta["labels"]) == ("setfit", ["negative", "neutral", "positive"])
    assert meta["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert meta["training"]["contrastive_pairs"] == 2 * 1 * 24
    assert "seeds" not in result.metrics  # report_seeds=1

    classifier = Classifier.load(out)
    assert classifier.backend.name == "setfit" and classifier.labels == meta["labels"]
    proba = classifier.predict_proba(TEXTS)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
    assert classifier.predict(TEXTS) == [classifier.labels[i] for i in proba.argmax(axis=1)]
    # rows follow the input order whatever the batching
    np.testing.assert_allclose(classifier.predict_proba(TEXTS, batch_size=1), proba, atol=1e-5)
    # the saved metrics are what evaluate() measures from the folder
    assert evaluate(out, eval_file)["macro_f1"] == pytest.approx(result.metrics["macro_f1"])
    assert result.metrics["macro_f1"] > 0.5  # the phrases carry the label; chance is 0.33

    predicted = CliRunner().invoke(app, ["predict", str(out), *TEXTS[:2]])
    assert predicted.exit_code == 0, predicted.output
    refused = CliRunner().invoke(app, ["predict", str(out), "x", "--backend", "onnx"])
    assert refused.exit_code == 1 and "SetFit model has no ONNX backend" in refused.stderr
    with pytest.raises(SamikshaError, match="only fine-tuned transformer models export"):
        export_onnx(out)


def test_setfit_same_seed_same_predictions(setfit_model, tmp_path):
    result, eval_file = setfit_model
    train_file, _ = _files(tmp_path)
    config = TrainConfig(method="setfit", settings={"setfit": {"iterations": 1}}, seed=7, report_seeds=1)
    again = train(train_file, tmp_path / "again", eval_data=eval_file, config=config)
    np.testing.assert_allclose(Classifier.load(again.output_dir).predict_proba(TEXTS),
                               Classifier.load(result.output_dir).predict_proba(TEXTS), atol=1e-6)


def test_tfidf_same_seed_same_predictions(tmp_path):
    train_file, eval_file = _files(tmp_path, 20)
    runs = [train(train_file, tmp_path / name, eval_data=eval_file, config=TrainConfig(method="tfidf", seed=3))
            for name in ("a", "b")]
    a, b = (Classifier.load(r.output_dir).predict_proba(TEXTS) for r in runs)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(("per_class", "expected"), [
    (1, "setfit"), (8, "setfit"), (SETFIT_BELOW - 1, "setfit"), (SETFIT_BELOW, "stack"), (50_000, "stack")])
def test_auto_picks_by_the_smallest_class(per_class, expected):
    counts = {"negative": per_class, "neutral": per_class * 3, "positive": per_class * 10}
    method, reason = methods.choose(TrainConfig(), counts)
    assert method == expected and str(per_class) in reason
    alone = methods.choose(TrainConfig(stack=False), counts)[0]  # --no-stack: the transformer alone
    assert alone == ("setfit" if expected == "setfit" else "finetune")


def test_auto_is_the_default_and_explicit_methods_stay():
    assert TrainConfig().method == "auto"
    assert methods.choose(TrainConfig(method="tfidf"), {"a": 5, "b": 5}) == ("tfidf", "as requested")
    assert methods.preset("lesson").method == "finetune"
    with pytest.raises(SamikshaError, match="unknown method 'magic'"):
        methods.choose(TrainConfig(method="magic"), {"a": 5, "b": 5})


def test_auto_fine_tunes_a_named_plain_transformer(tiny_bert, tmp_path, caplog):
    counts = {"negative": 8, "positive": 8}
    assert choose_method(TrainConfig(model=str(tiny_bert)), counts)[0] == "stack"
    assert choose_method(TrainConfig(model=str(tiny_bert), stack=False), counts)[0] == "finetune"
    assert choose_method(TrainConfig(), counts)[0] == "setfit"  # the embedded MiniLM is a sentence-transformer
    train_file, eval_file = _files(tmp_path)
    with caplog.at_level(logging.INFO, logger="samiksha"):
        result = train(train_file, tmp_path / "m", eval_data=eval_file,
                       config=TrainConfig(model=str(tiny_bert), epochs=1, batch_size=8, report_seeds=1))
    assert result.meta["method"] == "stack" and (tmp_path / "m" / "config.json").exists()
    choice = [r.message for r in caplog.records if r.message.startswith("method auto")]
    assert choice == [f"method auto -> stack: the model {tiny_bert} is not a sentence-transformers model, so it "
                      "is fine-tuned, stacked with TF-IDF (mean of log-probabilities; --no-stack: the transformer alone)"]
    assert result.meta["training"]["method_choice"] in choice[0]


def test_small_data_report_gives_mean_and_spread_over_seeds(tmp_path, tiny_bert):
    train_file, eval_file = _files(tmp_path, 8)
    result = train(train_file, tmp_path / "m", eval_data=eval_file,
                   config=TrainConfig(model=str(tiny_bert), method="finetune", epochs=1, batch_size=8, seed=5))
    seeds = json.loads((tmp_path / "m" / "metrics.json").read_text())["seeds"]
    values = [r["macro_f1"] for r in seeds["runs"]]
    assert [r["seed"] for r in seeds["runs"]] == [5, 6, 7]  # 24 texts < 300: three seeds by default
    assert values[0] == result.metrics["macro_f1"]  # the saved model is the first seed's
    assert seeds["macro_f1_mean"] == pytest.approx(np.mean(values))
    assert seeds["macro_f1_std"] == pytest.approx(np.std(values, ddof=1))
    assert (seeds["macro_f1_min"], seeds["macro_f1_max"]) == (min(values), max(values))
    report = (tmp_path / "m" / "report.txt").read_text()
    assert f"macro-F1 over 3 seeds (5, 6, 7; same data and split): {np.mean(values):.3f}" in report
    card = (tmp_path / "m" / "README.md").read_text()
    assert f"| macro-F1 over 3 seeds | {np.mean(values):.3f} ± {np.std(values, ddof=1):.3f}" in card
    assert "the saved model is seed 5's" in card
    assert not list(tmp_path.glob("*.checkpoints")) and sorted(p.name for p in tmp_path.iterdir()) == [
        ".m.lock", "eval.csv", "m", "train.csv"]  # the seed runs' folders are gone; the empty lock file stays


def test_report_seeds_one_or_large_data_trains_once(tmp_path):
    train_file, eval_file = _files(tmp_path, 12)
    one = train(train_file, tmp_path / "one", eval_data=eval_file, config=TrainConfig(method="tfidf", report_seeds=1))
    assert "seeds" not in one.metrics
    assert TrainConfig().seeds_for(299) == 3 and TrainConfig().seeds_for(300) == 1
    assert TrainConfig(report_seeds=5).seeds_for(10_000) == 5
    with pytest.raises(SamikshaError, match="report seeds must be at least 1"):
        TrainConfig(report_seeds=0)


def test_cli_train_method_option(tmp_path, tiny_bert):
    train_file, eval_file = _files(tmp_path, 12)
    runner = CliRunner()
    result = runner.invoke(app, ["train", str(train_file), "-o", str(tmp_path / "m"), "--eval", str(eval_file),
                                 "--method", "tfidf", "--report-seeds", "2"])
    assert result.exit_code == 0, result.output
    assert "macro-F1 over" not in result.output and "±" not in result.output  # TF-IDF: the same model whatever the seed
    assert json.loads((tmp_path / "m" / "samiksha.json").read_text())["method"] == "tfidf"
    bad = runner.invoke(app, ["train", str(train_file), "-o", str(tmp_path / "x"), "--method", "bert"])
    assert bad.exit_code == 1 and "unknown method 'bert'" in bad.stderr


@pytest.mark.slow
def test_cli_auto_on_few_examples_trains_setfit(tmp_path):
    """The default method on 8 examples per class is SetFit with the embedded MiniLM, seeds and all."""
    train_file, eval_file = _files(tmp_path)
    result = CliRunner().invoke(app, ["train", str(train_file), "-o", str(tmp_path / "m"), "--eval", str(eval_file),
                                      "--report-seeds", "2"])
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "m" / "samiksha.json").read_text())
    assert meta["method"] == "setfit" and meta["config"]["method"] == "setfit"
    assert "smallest class has 8 examples" in meta["training"]["method_choice"]
    assert "macro-F1 over 2 seeds" in result.output


def test_ensemble_averages_setfit_and_tfidf_probabilities(tmp_path):
    from samiksha.methods.setfit import SetFitBackend
    from samiksha.methods.tfidf import TfidfBackend

    train_file, eval_file = _files(tmp_path)
    config = TrainConfig(method="ensemble", settings={"setfit": {"iterations": 1}}, seed=7, report_seeds=1)
    result = train(train_file, tmp_path / "m", eval_data=eval_file, config=config)
    out = result.output_dir
    for name in (*FOLDER_FILES, "model_head.safetensors", "tfidf.safetensors", "modules.json"):
        assert (out / name).exists(), name
    assert result.meta["method"] == "ensemble" and "(SetFit) + tfidf" in result.meta["base_model"]
    classifier = Classifier.load(out)
    assert classifier.backend.name == "setfit+tfidf"
    parts = [np.exp(b.logits(TEXTS, 128)) for b in (SetFitBackend(out, 3), TfidfBackend(out))]
    np.testing.assert_allclose(classifier.predict_proba(TEXTS), (parts[0] + parts[1]) / 2, atol=1e-5)
    assert evaluate(out, eval_file)["macro_f1"] == pytest.approx(result.metrics["macro_f1"])
    with pytest.raises(SamikshaError, match="only fine-tuned transformer models export"):
        export_onnx(out)
