from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import make_reviews

from samiksha import Classifier, TrainConfig, evaluate, methods, train
from samiksha.errors import SamikshaError
from samiksha.methods.finetune import tuning
from samiksha.modelfolder import ModelFolder


def _config(model, finetune: dict | None = None, **overrides) -> TrainConfig:
    """A quick config; ``finetune``: fine-tuning's own settings."""
    values = {"model": str(model), "epochs": 1, "batch_size": 8, "seed": 3, "settings": {"finetune": finetune or {}}}
    values.update(overrides)
    return TrainConfig(**values)


@pytest.mark.parametrize("base", ["tiny_bert", "tiny_albert"])
def test_train_save_load_predict_round_trip(request, tmp_path, reviews_csv, base):
    model = request.getfixturevalue(base)
    out = tmp_path / "model"
    result = train(reviews_csv, out, config=_config(model))
    for name in ("config.json", "model.safetensors", "tokenizer.json", "samiksha.json", "metrics.json",
                 "report.txt", "confusion_matrix.png", "README.md", "eval.csv"):
        assert (out / name).exists(), name
    assert not (out / "training_args.bin").exists()
    assert not ModelFolder(out).checkpoints.exists()
    config = json.loads((out / "config.json").read_text())
    assert config["id2label"] == {"0": "negative", "1": "neutral", "2": "positive"}
    meta = json.loads((out / "samiksha.json").read_text())
    assert meta["labels"] == ["negative", "neutral", "positive"]
    assert meta["data"]["train"]["sha256"] and meta["config"]["seed"] == 3
    assert meta["data"]["train"]["rows"] + meta["data"]["eval"]["rows"] == 36
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics == json.loads(json.dumps(result.metrics))
    assert set(metrics) >= {"accuracy", "macro_f1", "weighted_f1", "per_class", "confusion_matrix"}
    assert sum(map(sum, metrics["confusion_matrix"])) == meta["data"]["eval"]["rows"]
    assert "samiksha.normalise.normaliser" in (out / "README.md").read_text()  # the card tells pipeline() users what to do

    classifier = Classifier.load(out)
    texts = ["bahut badiya phone", "bakwas", "theek thaak hai", "मस्त है"]
    proba = classifier.predict_proba(texts)
    assert proba.shape == (4, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    assert classifier.predict(texts) == [classifier.labels[i] for i in proba.argmax(axis=1)]
    # one epoch and a fixed blend: the eval rows chose nothing, so the report is what evaluate() measures on them
    assert metrics["how"].startswith("scored by the saved model")
    assert evaluate(out, out / "eval.csv")["macro_f1"] == pytest.approx(metrics["macro_f1"])


def test_a_run_that_chose_nothing_reports_what_evaluate_measures(tmp_path, reviews_csv, tiny_bert):
    """One epoch and no stack: the evaluation rows chose nothing, so the saved model scores them directly."""
    out = tmp_path / "m"
    result = train(reviews_csv, out, config=_config(tiny_bert, stack=False, report_seeds=1))
    assert result.metrics["how"].startswith("scored by the saved model")
    again = evaluate(out, out / "eval.csv")
    assert again["macro_f1"] == pytest.approx(result.metrics["macro_f1"])
    assert again["ci"] == result.metrics["ci"]


def test_predict_proba_rows_follow_input_order_not_length_order(trained_tiny):
    classifier = Classifier.load(trained_tiny)
    texts = ["a much longer review text about a phone that broke " * 3, "ok", "mast product bahut badiya", "x y"]
    together = classifier.predict_proba(texts, batch_size=2)
    one_by_one = np.vstack([classifier.predict_proba([t]) for t in texts])
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)


def test_custom_label_order_is_saved_and_used(tmp_path, tiny_bert):
    frame = make_reviews(8)
    frame["label"] = frame["label"].map({"negative": "zeta", "neutral": "alpha", "positive": "mid"})
    path = tmp_path / "custom.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "m"
    train(path, out, config=_config(tiny_bert))
    classifier = Classifier.load(out)
    assert classifier.labels == ["alpha", "mid", "zeta"]
    assert json.loads((out / "config.json").read_text())["id2label"] == {"0": "alpha", "1": "mid", "2": "zeta"}
    logits = classifier.backend.logits(["mast product"], 32)
    np.testing.assert_allclose(classifier.predict_proba(["mast product"])[0],
                               np.exp(logits[0]) / np.exp(logits[0]).sum(), rtol=1e-5)


def test_two_class_star_ratings(tmp_path, tiny_bert):
    frame = make_reviews(8, labels=("negative", "positive"))
    frame["stars"] = frame.pop("label").map({"negative": 1, "positive": 5})
    path = tmp_path / "stars.xlsx"
    frame.to_excel(path, index=False)
    out = tmp_path / "m"
    result = train(path, out, config=_config(tiny_bert))
    assert result.meta["labels"] == ["negative", "positive"]
    assert result.meta["label_kind"] == "stars"
    assert Classifier.load(out).predict_proba(["x"]).shape == (1, 2)


def test_vanilla_transformers_pipeline_loads_the_folder(trained_tiny_plain):
    trained_tiny = trained_tiny_plain
    import subprocess
    import sys

    code = ("import json, sys; from transformers import pipeline; "
            f"p = pipeline('text-classification', model={str(trained_tiny)!r}, top_k=None); "
            "print(json.dumps(p(['bahut badiya', 'bakwas'])))"
            "; assert 'samiksha' not in sys.modules")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert all({r["label"] for r in row} == {"negative", "neutral", "positive"} for row in results)
    # the pipeline's scores are the Classifier's probabilities
    proba = Classifier.load(trained_tiny).predict_proba(["bahut badiya"])[0]
    scores = {r["label"]: r["score"] for r in results[0]}
    assert [scores[n] for n in ("negative", "neutral", "positive")] == pytest.approx(proba.tolist(), abs=1e-5)


def _interrupted_run(reviews_csv, out, tiny_bert):
    """A 3-epoch fine-tune stopped (as by Ctrl-C) after an epoch and a half: its config and checkpoints folder."""
    from transformers import TrainerCallback

    class Interrupt(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.epoch is not None and state.epoch > 1.5:
                raise KeyboardInterrupt

    config = _config(tiny_bert, epochs=3, finetune={"early_stopping_patience": None})
    with pytest.raises(KeyboardInterrupt):
        train(reviews_csv, out, config=config, callbacks=[Interrupt()])
    return config, ModelFolder(out).checkpoints


def test_resume_after_an_interruption(tmp_path, reviews_csv, tiny_bert):
    out = tmp_path / "m"
    config, work = _interrupted_run(reviews_csv, out, tiny_bert)
    assert [p.name for p in work.iterdir() if p.name.startswith("checkpoint-")]
    assert not out.exists()
    with pytest.raises(SamikshaError, match="pass --resume to continue"):
        train(reviews_csv, out, config=config)
    with pytest.raises(SamikshaError, match="used other data or settings"):
        train(reviews_csv, out, config=_config(tiny_bert, epochs=3, finetune={"early_stopping_patience": None}, seed=4),
              resume=True)
    result = train(reviews_csv, out, config=config, resume=True)
    assert result.meta["training"]["resumed"] is True
    assert result.meta["training"]["epochs_run"] == pytest.approx(3)
    assert result.meta["training"]["examples_per_second"] > 0


def test_resume_skips_checkpoints_cut_short_by_a_kill(tmp_path, reviews_csv, tiny_bert, caplog):
    """A kill while Trainer writes a checkpoint leaves it without its state or with a file cut short: --resume
    continues from the last complete one, says which, and removes the others."""
    import shutil

    from samiksha.checkpoints import checkpoint_problem

    out = tmp_path / "m"
    config, work = _interrupted_run(reviews_csv, out, tiny_bert)
    (complete,) = work.glob("checkpoint-*")
    step = int(complete.name.split("-")[1])
    assert checkpoint_problem(complete) is None
    no_state, cut_short = work / f"checkpoint-{2 * step}", work / f"checkpoint-{3 * step}"
    for folder in (no_state, cut_short):
        shutil.copytree(complete, folder)
    (no_state / "trainer_state.json").unlink()
    weights = cut_short / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    assert "trainer_state.json" in checkpoint_problem(no_state) and checkpoint_problem(cut_short)
    optimizer = complete / "optimizer.pt"
    kept = optimizer.read_bytes()
    optimizer.write_bytes(kept[: len(kept) // 2])
    assert "optimizer.pt" in checkpoint_problem(complete)
    optimizer.write_bytes(kept)

    caplog.set_level("INFO", logger="samiksha")
    result = train(reviews_csv, out, config=config, resume=True)
    assert f"resuming from {complete}, the last complete checkpoint" in caplog.text
    assert f"{no_state} is incomplete (no trainer_state.json" in caplog.text
    assert f"{cut_short} is incomplete" in caplog.text
    assert result.meta["training"]["resumed"] is True
    assert result.meta["training"]["epochs_run"] == pytest.approx(3)
    assert result.meta["training"]["steps"] == 3 * step
    assert not work.exists()
    assert not work.exists()
    assert Classifier.load(out).labels == ["negative", "neutral", "positive"]


def test_same_seed_same_model(tmp_path, reviews_csv, tiny_bert):
    a = train(reviews_csv, tmp_path / "a", config=_config(tiny_bert))
    b = train(reviews_csv, tmp_path / "b", config=_config(tiny_bert))
    text = ["mast product", "bakwas hai"]
    np.testing.assert_allclose(Classifier.load(tmp_path / "a").predict_proba(text),
                               Classifier.load(tmp_path / "b").predict_proba(text), atol=1e-6)
    assert a.metrics["macro_f1"] == b.metrics["macro_f1"]


def test_eval_file_with_unknown_label_is_refused(tmp_path, reviews_csv, tiny_bert):
    bad = tmp_path / "eval.csv"
    bad.write_text("review,sentiment\nmast,positive\nhmm,angry\n", encoding="utf-8")
    with pytest.raises(SamikshaError, match=r"row 3, column 'sentiment': unknown label 'angry'"):
        train(reviews_csv, tmp_path / "m", eval_data=bad, config=_config(tiny_bert))


def test_output_folder_with_other_files_is_not_replaced(tmp_path, reviews_csv, tiny_bert):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(SamikshaError, match="Samiksha did not write.*not replaced"):
        train(reviews_csv, out, config=_config(tiny_bert))
    assert (out / "notes.txt").read_text() == "keep me"


def test_lesson_preset_is_the_classic_recipe():
    config = methods.preset("lesson")
    tuned = tuning(config)
    assert (config.method, config.epochs, config.batch_size, config.max_length, tuned.padding, tuned.warmup,
            tuned.weight_decay, config.class_weights, tuned.group_by_length, tuned.early_stopping_patience,
            tuned.best_metric, config.learning_rate) == ("finetune", 5, 4, 128, "max_length", 10, 0.01, "none", False,
                                                         None, "loss", 5e-5)
    assert methods.preset("lesson", epochs=2, batch_size=None).epochs == 2
    overridden = methods.preset("lesson", settings={"finetune": {"warmup": 0.1}})
    assert (tuning(overridden).warmup, tuning(overridden).padding) == (0.1, "max_length")
    assert tuning(methods.preset("lesson")).warmup == 10  # the preset itself is unchanged


def test_schedule_by_data_size_where_unset():
    small, mid, large = (TrainConfig().sized_for(n, small_schedule=True) for n in (600, 2000, 14000))
    assert (small.epochs, small.batch_size, small.learning_rate) == (3, 8, 1.5e-4)  # MiniLM, as measured
    e5 = TrainConfig(model="multilingual").sized_for(600, small_schedule=True)  # stalled at 1.5e-4: smaller steps
    assert (e5.epochs, e5.batch_size, e5.learning_rate) == (6, 8, 5e-5)
    assert TrainConfig(model="multilingual").sized_for(2000, small_schedule=True).learning_rate == 1e-4
    assert (mid.epochs, mid.batch_size, mid.learning_rate) == (5, 16, 1e-4)
    assert (large.epochs, large.batch_size, large.learning_rate) == (3, 16, 1e-4)
    mine = TrainConfig(epochs=2, batch_size=32, learning_rate=3e-5).sized_for(600, small_schedule=True)
    assert (mine.epochs, mine.batch_size, mine.learning_rate) == (2, 32, 3e-5)
    setfit = TrainConfig().sized_for(600)  # the small-data schedule was measured for fine-tuning (only it asks)
    assert (setfit.batch_size, setfit.learning_rate) == (16, 1e-4)
    lesson = methods.preset("lesson").sized_for(600, small_schedule=True)
    assert (lesson.epochs, lesson.batch_size, lesson.learning_rate) == (5, 4, 5e-5)


def test_the_saved_config_holds_the_schedule_it_ran(tmp_path, reviews_csv, tiny_bert):
    out = tmp_path / "m"
    train(reviews_csv, out, config=TrainConfig(model=str(tiny_bert), method="finetune", report_seeds=1, max_steps=2))
    saved = json.loads((out / "samiksha.json").read_text())["config"]
    assert (saved["epochs"], saved["batch_size"], saved["learning_rate"]) == (6, 8, 5e-5)  # a model other than MiniLM


def test_steps_given_with_normalise_off_are_neither_trained_nor_applied(tmp_path, reviews_csv, tiny_bert, caplog):
    out = tmp_path / "m"
    config = TrainConfig(model=str(tiny_bert), method="finetune", report_seeds=1, max_steps=1, normalise=False,
                         text_steps=["emoji"])
    train(reviews_csv, out, config=config)
    assert json.loads((out / "samiksha.json").read_text())["config"]["text_steps"] == []
    assert Classifier.load(out).clean("good 😍") == "good 😍"
    assert "are not used" in caplog.text


def test_class_weights(tmp_path):
    counts = {"negative": 10, "neutral": 30, "positive": 60}
    names = ("negative", "neutral", "positive")
    assert TrainConfig().weights_for(names, counts) == pytest.approx([100 / 30, 100 / 90, 100 / 180])
    assert TrainConfig(class_weights="none").weights_for(names, counts) is None
    assert TrainConfig(class_weights={"negative": 3.0}).weights_for(names, counts) == [3.0, 1.0, 1.0]
    with pytest.raises(SamikshaError, match="unknown label"):
        TrainConfig(class_weights={"angry": 2.0}).weights_for(names, counts)


def test_tfidf_method_writes_the_same_kind_of_folder(tmp_path):
    from samiksha.export import export_onnx

    data = tmp_path / "reviews.csv"
    make_reviews(40).to_csv(data, index=False)
    out = tmp_path / "tfidf"
    result = train(data, out, config=TrainConfig(method="tfidf", seed=0))
    for name in ("samiksha.json", "metrics.json", "report.txt", "confusion_matrix.png", "README.md", "eval.csv",
                 "tfidf.json", "tfidf.safetensors"):
        assert (out / name).exists(), name
    assert result.meta["method"] == "tfidf"
    classifier = Classifier.load(out)
    assert classifier.backend.name == "tfidf" and classifier.labels == ["negative", "neutral", "positive"]
    proba = classifier.predict_proba(["mast product", "bakwas"])
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
    # the phrases carry the label, so n-grams learn them: held-out metrics are far above chance
    assert result.metrics["macro_f1"] > 0.6
    assert evaluate(out, out / "eval.csv")["macro_f1"] == pytest.approx(result.metrics["macro_f1"])
    with pytest.raises(SamikshaError, match="only fine-tuned transformer models export"):
        export_onnx(out)


def test_text_is_normalised_in_training_and_prediction(tmp_path):
    """NFC and dropped joiners: the two spellings of ज़ and a joined conjunct reach the model as one text."""
    rows = ([(f"ज़बरदस्त फ़ोन {i}, मज़ा आ गया", "positive") for i in range(12)]
            + [(f"बेकार क्\u200Dवालिटी {i}, पैसे बर्बाद", "negative") for i in range(12)]
            + [(f"ठीक ठाक है {i}, चलेगा", "neutral") for i in range(12)])
    data = tmp_path / "hindi.csv"
    pd.DataFrame(rows, columns=["text", "label"]).to_csv(data, index=False)
    out = tmp_path / "model"
    train(data, out, config=TrainConfig(method="tfidf", seed=0))
    classifier = Classifier.load(out)
    assert classifier.normalise and classifier.meta["config"]["normalise"] is True
    precomposed, decomposed = "\u095Bबरदस्त", "\u091C\u093Cबरदस्त"  # ज़ as one code point, and as ज + nukta
    np.testing.assert_array_equal(classifier.predict_proba([precomposed]), classifier.predict_proba([decomposed]))
    np.testing.assert_array_equal(classifier.predict_proba(["क्\u200Dवालिटी"]), classifier.predict_proba(["क्वालिटी"]))

    raw = tmp_path / "raw"
    train(data, raw, config=TrainConfig(method="tfidf", seed=0, normalise=False))
    raw_classifier = Classifier.load(raw)
    assert not raw_classifier.normalise
    assert not np.array_equal(raw_classifier.predict_proba([precomposed]), raw_classifier.predict_proba([decomposed]))


def test_lesson_preset_keeps_the_classic_raw_text():
    assert methods.preset("lesson").normalise is False
    assert methods.preset("default").normalise is True


def test_embeddings_frozen_when_they_are_most_of_the_model():
    from transformers import BertConfig, BertForSequenceClassification

    from samiksha.methods.finetune import maybe_freeze_embeddings

    def model(vocab: int):
        return BertForSequenceClassification(BertConfig(vocab_size=vocab, hidden_size=32, num_hidden_layers=2,
                                                        num_attention_heads=2, intermediate_size=64))

    big_vocab = model(30522)  # embeddings ~95% of the parameters, like a multilingual vocabulary
    assert maybe_freeze_embeddings(big_vocab, None) is True
    assert not big_vocab.get_input_embeddings().weight.requires_grad
    assert big_vocab.classifier.weight.requires_grad
    small_vocab = model(200)
    assert maybe_freeze_embeddings(small_vocab, None) is False
    assert small_vocab.get_input_embeddings().weight.requires_grad
    assert maybe_freeze_embeddings(model(30522), False) is False
    assert maybe_freeze_embeddings(model(200), True) is True


def test_training_prints_one_readable_line_per_epoch(tmp_path, reviews_csv, tiny_bert, capsys):
    train(reviews_csv, tmp_path / "m", config=TrainConfig(model=str(tiny_bert), epochs=2, batch_size=8, seed=1,
                                                          report_seeds=1, settings={"finetune": {"early_stopping_patience": None}}))
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("epoch ")]
    assert [line.split(":")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]
    assert all("train loss" in line and "macro-F1" in line and "accuracy" in line for line in lines)
    assert "trained in " in out and "{'" not in out  # no raw log dictionaries


@pytest.mark.parametrize(("model", "prefix"), [("multilingual", "query: "), ("intfloat/multilingual-e5-small", "query: "),
                                               ("/models/multilingual-e5-base", "query: "), ("intfloat/e5-large-v2", "query: "),
                                               ("minilm", ""), ("xlm-roberta-base", ""), ("google/muril-base-cased", "")])
def test_input_prefix_by_model_name(model, prefix):
    from samiksha.methods.finetune import input_prefix

    assert input_prefix(TrainConfig(model=model)) == prefix
    assert input_prefix(TrainConfig(model=model, settings={"finetune": {"input_prefix": ""}})) == ""


def test_a_fresh_run_never_reuses_old_epoch_probabilities(tmp_path):
    from samiksha.methods.finetune import EPOCH_PROBA, _EpochProba

    np.savez(tmp_path / EPOCH_PROBA, **{"7": np.ones((2, 3))})
    assert _EpochProba(tmp_path, 2, np.arange(2), resumed_step=7).by_step.keys() == {7}
    assert _EpochProba(tmp_path, 2, np.arange(2), resumed_step=6).by_step == {}  # evaluated after the checkpoint
    fresh = _EpochProba(tmp_path, 2, np.arange(2), resumed_step=None)
    assert fresh.by_step == {} and not (tmp_path / EPOCH_PROBA).exists()


def test_input_prefix_is_saved_and_used_by_every_runtime(tmp_path, reviews_csv, tiny_bert):
    """A prefix the base model expects (e5's 'query: ') goes before every text in training and prediction."""
    from samiksha.backends import TorchBackend
    from samiksha.export import export_onnx

    out = tmp_path / "m"
    result = train(reviews_csv, out, config=_config(tiny_bert, stack=False, report_seeds=1, finetune={"input_prefix": "review: "}))
    assert result.meta["config"]["settings"]["finetune"]["input_prefix"] == "review: "
    classifier = Classifier.load(out)
    assert classifier.backend.prefix == "review: "
    plain = TorchBackend(out)  # no prefix: fed the prefixed text by hand
    np.testing.assert_allclose(classifier.backend.logits(["mast product"], 128),
                               plain.logits(["review: mast product"], 128), atol=1e-6)
    assert "puts `review: ` before each text" in (out / "README.md").read_text()
    export_onnx(out, quantize="none")  # the parity check runs both runtimes with the prefix
    onnx = Classifier.load(out, backend="onnx")
    assert onnx.backend.prefix == "review: "
    np.testing.assert_allclose(onnx.predict_proba(["mast product"]), classifier.predict_proba(["mast product"]),
                               atol=1e-4)
    assert tuning(TrainConfig()).input_prefix is None and tuning(methods.preset("lesson")).input_prefix == ""


def test_label_smoothing_softens_the_training_loss_and_not_the_evaluation_loss():
    import types

    import torch

    from samiksha.methods.finetune import FineTuneSettings, _make_trainer_class

    logits = torch.tensor([[4.0, 0.5, -2.0], [0.1, 0.2, 3.0], [1.0, 3.0, 0.0]])
    labels = torch.tensor([0, 2, 1])
    base = _make_trainer_class()
    trainer = types.SimpleNamespace(class_weights=[1.0, 2.0, 1.0], label_smoothing=0.1,
                                    args=types.SimpleNamespace(world_size=1))
    trainer._step_mean = types.MethodType(base._step_mean, trainer)
    weight = torch.tensor([1.0, 2.0, 1.0])
    smoothed = torch.nn.functional.cross_entropy(logits, labels, weight=weight, label_smoothing=0.1)
    plain = torch.nn.functional.cross_entropy(logits, labels, weight=weight)
    assert base.hard_loss(trainer, logits, labels) == pytest.approx(smoothed.item(), rel=1e-5)
    with torch.no_grad():  # evaluation reports the plain loss, comparable across settings
        assert base.hard_loss(trainer, logits, labels) == pytest.approx(plain.item(), rel=1e-5)
    assert smoothed.item() > plain.item() + 0.05  # confident, right logits pay for the smoothing
    with pytest.raises(SamikshaError, match="label_smoothing"):
        FineTuneSettings(label_smoothing=1.0)


def test_rdrop_adds_the_gap_between_two_dropout_passes_in_training_only():
    import types

    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from samiksha.methods.finetune import FineTuneSettings, _make_trainer_class

    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1,
                                                     num_attention_heads=2, intermediate_size=32, num_labels=3,
                                                     hidden_dropout_prob=0.3))
    inputs = {"input_ids": torch.randint(0, 50, (4, 7)), "attention_mask": torch.ones(4, 7, dtype=torch.long)}
    labels = torch.tensor([0, 2, 1, 2])
    base = _make_trainer_class()
    trainer = types.SimpleNamespace(class_weights=None, label_smoothing=0.0, rdrop=2.0,
                                    args=types.SimpleNamespace(world_size=1))
    for name in ("hard_loss", "_step_mean", "symmetric_kl"):
        setattr(trainer, name, types.MethodType(getattr(base, name), trainer))
    model.train()
    torch.manual_seed(1)
    loss = base.compute_loss(trainer, model, {**inputs, "labels": labels})
    torch.manual_seed(1)  # the same dropout masks, by hand: both passes in one batch, as R-Drop's code does
    first, second = model(**{k: torch.cat([v, v]) for k, v in inputs.items()}).logits.chunk(2)
    assert not torch.allclose(first, second)  # dropout made the passes differ
    ce = (torch.nn.functional.cross_entropy(first, labels) + torch.nn.functional.cross_entropy(second, labels)) / 2
    p, q = first.softmax(-1), second.softmax(-1)
    kl = ((p * (p / q).log()).sum(-1) + (q * (q / p).log()).sum(-1)).mean() / 2
    assert kl.item() > 0
    assert loss.item() == pytest.approx((ce + 2.0 / 2 * kl).item(), rel=1e-4)
    model.eval()  # evaluation: one pass, the plain loss
    with torch.no_grad():
        plain = torch.nn.functional.cross_entropy(model(**inputs).logits, labels)
        assert base.compute_loss(trainer, model, {**inputs, "labels": labels}).item() == pytest.approx(plain.item(), rel=1e-5)
    with pytest.raises(SamikshaError, match="rdrop"):
        FineTuneSettings(rdrop=-1)


def test_training_with_rdrop_uses_it_on_every_step(tmp_path, tiny_bert, reviews_csv, monkeypatch):
    from samiksha.methods import finetune

    gaps: list[float] = []
    make = finetune._make_trainer_class

    def counting():
        class Counting(make()):
            def symmetric_kl(self, first, second):
                gap = super().symmetric_kl(first, second)
                gaps.append(gap.item())
                return gap
        return Counting

    monkeypatch.setattr(finetune, "_make_trainer_class", counting)
    out = tmp_path / "model"
    result = train(reviews_csv, out, config=TrainConfig(model=str(tiny_bert), method="finetune", epochs=1, batch_size=8,
                                                         seed=1, report_seeds=1, settings={"finetune": {"rdrop": 1.0}}))
    assert result.meta["config"]["settings"]["finetune"]["rdrop"] == 1.0
    assert len(gaps) == result.meta["training"]["steps"] > 0  # once per optimizer step, and only in training
    assert all(gap > 0 for gap in gaps)  # the tiny BERT's dropout makes the two passes differ
    assert len(Classifier.load(out).predict(["bahut badhiya"])) == 1
