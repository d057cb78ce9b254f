"""`samiksha adapt`: masked-language-model adaptation of an encoder on unlabelled reviews (tiny BERT)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import make_reviews

from samiksha import methods
from samiksha.adapt import MaskedPositions, adapt, adaptation_texts, masked_lm
from samiksha.errors import ModelError, SamikshaError
from samiksha.modelfolder import ModelFolder


@pytest.fixture()
def unlabelled(tmp_path):
    """40 distinct unlabelled reviews plus 4 duplicates (case and spacing changed), and an evaluation file holding
    3 of them."""
    texts = make_reviews(14, seed=3)["text"].tolist()[:40]
    rows = texts + [f"  {t.upper()} " for t in texts[:4]]
    pool = tmp_path / "pool.csv"
    pd.DataFrame({"review": rows}).to_csv(pool, index=False)
    evaluation = tmp_path / "eval.csv"
    pd.DataFrame({"text": texts[10:13], "label": ["positive"] * 3}).to_csv(evaluation, index=False)
    return pool, evaluation, texts


def test_adaptation_texts_drop_duplicates_and_excluded_texts(unlabelled, caplog):
    pool, evaluation, texts = unlabelled
    kept, report = adaptation_texts([pool], [evaluation])
    assert kept == texts[:10] + texts[13:]
    assert report["duplicates"] == 4 and report["excluded"] == 3 and report["used"] == 37
    assert "left out 3 text(s) that are also in" in caplog.text


def test_adapt_refuses_when_every_text_is_excluded(tmp_path, tiny_bert):
    pool = tmp_path / "pool.csv"
    pd.DataFrame({"text": ["bahut badiya", "bakwas"]}).to_csv(pool, index=False)
    with pytest.raises(SamikshaError, match="no texts left to adapt on"):
        adapt([pool], tmp_path / "enc", model=str(tiny_bert), exclude=[pool])
    assert not (tmp_path / "enc").exists()


def test_logits_only_at_masked_positions(tiny_bert):
    import torch

    from samiksha.models import resolve_model

    tokenizer, model, new_head = masked_lm(resolve_model(str(tiny_bert)), {"max_length": 32})
    assert any(k.startswith("cls.predictions") for k in new_head)  # a plain encoder: the head is new
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight  # tied
    hook = MaskedPositions()
    model.get_output_embeddings().register_forward_pre_hook(hook)
    batch = tokenizer(["bahut badiya phone", "bakwas quality hai yaar"], padding=True, return_tensors="pt")
    hook.positions = torch.zeros_like(batch["input_ids"], dtype=torch.bool)
    hook.positions[0, 1] = hook.positions[1, 2] = hook.positions[1, 3] = True
    assert model(**batch).logits.shape == (3, model.config.vocab_size)


def test_adapted_encoder_trains_with_train_model(tmp_path, tiny_bert, reviews_csv, unlabelled):
    from safetensors import safe_open

    from samiksha import TrainConfig, train
    from samiksha.predict import Classifier

    pool, evaluation, _ = unlabelled
    out = tmp_path / "adapted"
    result = adapt([pool], out, model=str(tiny_bert), exclude=[evaluation], epochs=2, batch_size=8, seed=1)
    adapted = result.meta["adapted"]
    assert adapted["texts"] == 37 and adapted["epochs_run"] == pytest.approx(2) and adapted["steps"] == 10
    assert adapted["data"]["excluded"] == 3
    with safe_open(str(out / "model.safetensors"), "pt") as weights:
        keys = set(weights.keys())
    assert not any("cls." in k or "predictions" in k for k in keys)  # the encoder alone, no MLM head
    assert any("pooler" in k for k in keys)  # the original's pooler kept
    assert (out / "tokenizer.json").exists() and not ModelFolder(out).checkpoints.exists()
    card = (out / "README.md").read_text(encoding="utf-8")
    assert str(pool) in card and "2 epoch(s)" in card and "3 text(s) that also appear in" in card
    with pytest.raises(ModelError, match="not a classifier; train one on it"):
        Classifier.load(out)
    trained = train(reviews_csv, tmp_path / "model", config=TrainConfig(model=str(out), epochs=1, batch_size=8,
                                                                        seed=1, report_seeds=1))
    assert trained.meta["method"] == "stack" and trained.meta["base_model"] == str(out)
    assert trained.meta["config"]["settings"]["finetune"]["input_prefix"] == ""


def test_adapt_resumes_after_an_interruption(tmp_path, tiny_bert, unlabelled):
    from transformers import TrainerCallback

    class Interrupt(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.epoch is not None and state.epoch > 1.5:
                raise KeyboardInterrupt

    pool, _, _ = unlabelled
    out = tmp_path / "adapted"
    settings = {"model": str(tiny_bert), "epochs": 3, "batch_size": 8, "seed": 1}
    with pytest.raises(KeyboardInterrupt):
        adapt([pool], out, callbacks=[Interrupt()], **settings)
    assert not out.exists() and list(ModelFolder(out).checkpoints.glob("checkpoint-*"))
    with pytest.raises(SamikshaError, match="pass --resume to continue"):
        adapt([pool], out, **settings)
    with pytest.raises(SamikshaError, match="used other data or settings"):
        adapt([pool], out, resume=True, **{**settings, "epochs": 4})
    result = adapt([pool], out, resume=True, **settings)
    assert result.meta["adapted"]["resumed"] is True
    assert result.meta["adapted"]["epochs_run"] == pytest.approx(3)
    assert json.loads((out / "samiksha.json").read_text())["adapted"]["base_model"] == str(tiny_bert)


def test_an_adapted_e5_keeps_its_query_prefix(tmp_path):
    from samiksha.config import TrainConfig
    from samiksha.methods.finetune import input_prefix

    folder = tmp_path / "my-encoder"
    ModelFolder(folder).path.mkdir()
    ModelFolder(folder).write_meta({"adapted": {"base_model": "intfloat/multilingual-e5-small"}})
    assert input_prefix(TrainConfig(model=str(folder))) == "query: "
    assert input_prefix(TrainConfig(model=str(tmp_path))) == ""


def test_an_adapted_encoder_keeps_its_originals_small_data_schedule(tmp_path):
    from samiksha.config import SMALL_DATA_OTHER, SMALL_DATA_SCHEDULE, TrainConfig
    from samiksha.data import LabelledData
    from samiksha.models import EMBEDDED

    folder = tmp_path / "adapted-minilm"
    ModelFolder(folder).path.mkdir()
    ModelFolder(folder).write_meta({"adapted": {"base_model": EMBEDDED["minilm"][0]}})
    data = LabelledData(["acha"] * 600, ["positive"] * 600, "x.csv", "text", "label", "names")
    resolved = methods.get("finetune").resolve(TrainConfig(model=str(folder)), data)
    assert (resolved.epochs, resolved.learning_rate) == SMALL_DATA_SCHEDULE["minilm"]  # as MiniLM's, not another's
    other = methods.get("finetune").resolve(TrainConfig(model=str(tmp_path)), data)
    assert (other.epochs, other.learning_rate) == SMALL_DATA_OTHER


def test_cli_adapt_leaves_out_excluded_texts(tmp_path, tiny_bert, unlabelled):
    from typer.testing import CliRunner

    from samiksha.cli import app

    pool, evaluation, _ = unlabelled
    out = tmp_path / "adapted"
    result = CliRunner().invoke(app, ["adapt", str(pool), "--output", str(out), "--model", str(tiny_bert),
                                      "--exclude", str(evaluation), "--epochs", "1", "--batch-size", "16"])
    assert result.exit_code == 0, result.output
    assert "adapted" in result.output and "on 37 texts" in result.output
    assert ModelFolder(out).read_meta()["adapted"]["data"]["excluded"] == 3
    again = CliRunner().invoke(app, ["adapt", str(pool), "--output", str(pool.parent), "--model", str(tiny_bert)])
    assert again.exit_code == 1 and "never overwrites an input" in again.output
