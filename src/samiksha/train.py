"""Fine-tuning with `transformers.Trainer`: class-weighted loss, early stopping on macro-F1, resume, atomic save."""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .card import model_card
from .config import FREEZE_EMBEDDINGS_ABOVE, TrainConfig
from .data import LabelledData, check_leakage, check_training_data, load_labelled, stratified_split
from .errors import ModelError, SamikshaError
from .labels import LabelSchema
from .metrics import compute_metrics, confident_mistakes, format_report, save_confusion_png
from .models import ResolvedModel, default_model_for, quiet_transformers, resolve_model
from .storage import MODEL_META, check_output_dir, publish_dir, write_json, write_table

log = logging.getLogger("samiksha")
FORMAT_VERSION = 1


@dataclass
class TrainResult:
    """What a training run produced: the model folder and its evaluation metrics."""

    output_dir: Path
    metrics: dict
    meta: dict


def checkpoint_dir(output: Path) -> Path:
    """Where an unfinished run keeps its checkpoints (removed once the model is published)."""
    return output.with_name(f"{output.name}.checkpoints")


def _has_checkpoint(work: Path) -> bool:
    return work.is_dir() and any(p.name.startswith("checkpoint-") for p in work.iterdir())


def _checkpoint_epoch(work: Path) -> float:
    """The epoch at which the last checkpoint in ``work`` was saved."""
    from transformers.trainer_utils import get_last_checkpoint

    state = Path(get_last_checkpoint(str(work))) / "trainer_state.json"
    return float(json.loads(state.read_text(encoding="utf-8")).get("epoch") or 0)


def _load_base(resolved: ResolvedModel, schema: LabelSchema):
    """Tokenizer and a fresh classification head on the base model, with label names set."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    try:
        with quiet_transformers():  # "newly initialized classifier" is expected here
            tokenizer = AutoTokenizer.from_pretrained(resolved.path, local_files_only=resolved.local_files_only)
            model = AutoModelForSequenceClassification.from_pretrained(
                resolved.path, num_labels=len(schema), id2label=schema.id2label, label2id=schema.label2id,
                dtype=torch.float32, ignore_mismatched_sizes=True, local_files_only=resolved.local_files_only)
    except (OSError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        where = "the Hugging Face Hub (is there a network?)" if not resolved.local_files_only else "its folder"
        raise ModelError(f"{resolved.name}: cannot load a text-classification model from {where}: {first}") from None
    return tokenizer, model


def _datasets(tokenizer, schema: LabelSchema, config: TrainConfig, *parts: LabelledData):
    """Tokenized train and eval datasets (the last part is the evaluation set)."""
    import datasets

    padding = "max_length" if config.padding == "max_length" else False

    def encode(batch):
        return tokenizer(batch["text"], truncation=True, max_length=config.max_length, padding=padding)

    out = []
    for part in parts:
        ds = datasets.Dataset.from_dict({"text": part.texts, "labels": [schema.label2id[n] for n in part.labels]})
        out.append(ds.map(encode, batched=True, remove_columns=["text"]))
    # Evaluation order does not change its metrics; sorted by length, its batches carry little padding.
    evaluation = out[-1]
    out[-1] = evaluation.select(np.argsort([len(ids) for ids in evaluation["input_ids"]], kind="stable"))
    return out


def _maybe_freeze_embeddings(model, freeze: bool | None) -> bool:
    """Keep the token embeddings fixed if asked, or (``None``) when they are most of the model; True if frozen."""
    embeddings = model.get_input_embeddings().weight
    share = embeddings.numel() / sum(p.numel() for p in model.parameters())
    if freeze is None:
        freeze = share > FREEZE_EMBEDDINGS_ABOVE
    if freeze:
        embeddings.requires_grad_(False)
        log.info("token embeddings frozen (%.0f%% of the parameters; --train-embeddings to tune them too)",
                 100 * share)
    return freeze


def _make_trainer_class():
    import torch
    from transformers import Trainer

    class WeightedLossTrainer(Trainer):
        """Cross-entropy with per-class weights; a plain mean per batch."""

        def __init__(self, *args, class_weights: list[float] | None = None, **kwargs):
            super().__init__(*args, **kwargs)
            self.class_weights = class_weights
            self.loss_is_scaled_for_ga = False

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            if self.class_weights is None:
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            labels = inputs.pop("labels")
            outputs = model(**inputs)
            weight = torch.tensor(self.class_weights, dtype=outputs.logits.dtype, device=outputs.logits.device)
            loss = torch.nn.functional.cross_entropy(outputs.logits.float(), labels, weight=weight.float())
            return (loss, outputs) if return_outputs else loss

    return WeightedLossTrainer


def _make_progress_class():
    from transformers.trainer_callback import ProgressCallback

    class EpochLines(ProgressCallback):
        """Trainer's progress bar, with one readable line per epoch in place of its raw log dictionaries."""

        train_loss: float | None = None

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not state.is_world_process_zero or self.training_bar is None or not logs:
                return
            if "eval_macro_f1" in logs:
                loss = f"train loss {self.train_loss:.3f}, " if self.train_loss is not None else ""
                self.training_bar.write(
                    f"epoch {logs.get('epoch', state.epoch or 0):g}/{args.num_train_epochs:g}: {loss}eval loss "
                    f"{logs.get('eval_loss', float('nan')):.3f}, macro-F1 {logs['eval_macro_f1']:.3f}, "
                    f"accuracy {logs.get('eval_accuracy', float('nan')):.3f}")
            elif "train_runtime" in logs:
                self.training_bar.write(f"trained in {logs['train_runtime']:.0f} s")
            elif "loss" in logs:
                self.train_loss = float(logs["loss"])

    return EpochLines


def _training_arguments(config: TrainConfig, work: Path, epochs: float):
    import torch
    from transformers import TrainingArguments

    cuda = torch.cuda.is_available()
    bf16 = cuda and torch.cuda.is_bf16_supported()
    warmup = int(config.warmup) if config.warmup >= 1 else float(config.warmup)
    return TrainingArguments(
        output_dir=str(work),
        num_train_epochs=epochs,
        max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=max(config.batch_size, 64),
        learning_rate=config.learning_rate,
        warmup_steps=warmup,
        weight_decay=config.weight_decay,
        eval_strategy="epoch",
        save_strategy="epoch",
        logging_strategy="epoch",
        load_best_model_at_end=True,
        metric_for_best_model=config.best_metric,
        greater_is_better=config.best_metric != "loss",
        save_total_limit=2,
        seed=config.seed,
        data_seed=config.seed,
        train_sampling_strategy="group_by_length" if config.group_by_length else "random",
        bf16=bf16,
        fp16=cuda and not bf16,
        report_to="none",
        disable_tqdm=False,
        dataloader_pin_memory=cuda,
    )


def _versions() -> dict:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for package in ("samiksha", "torch", "transformers", "datasets", "accelerate", "scikit-learn"):
        try:
            out[package] = md.version(package)
        except md.PackageNotFoundError:
            pass
    return out


def _prepare_data(train_data, eval_data, config: TrainConfig) -> tuple[LabelledData, LabelledData, LabelSchema]:
    data = load_labelled(train_data, config.text_column, config.label_column)
    check_training_data(data)
    schema = LabelSchema.from_labels(data.labels)
    log.info("labels (%s): %s", data.label_kind, ", ".join(f"{n}={data.counts()[n]}" for n in schema.names))
    if eval_data is not None:
        evaluation = load_labelled(eval_data, config.text_column, config.label_column, schema=schema)
        check_leakage(data, evaluation)
        return data, evaluation, schema
    train_part, eval_part = stratified_split(data, config.eval_fraction, config.seed)
    log.info("held out %d of %d rows (stratified, seed %d) for evaluation", len(eval_part), len(data), config.seed)
    return train_part, eval_part, schema


def _check_resume(work: Path, resume: bool, run_info: dict) -> bool:
    """Whether to resume; refuses to mix a different run's checkpoints into this one."""
    from .predict import read_model_meta

    if not _has_checkpoint(work):
        if resume:
            log.warning("nothing to resume in %s; starting a fresh run", work)
        return False
    if not resume:
        raise SamikshaError(f"{work}: holds checkpoints of an interrupted run; pass --resume to continue it, "
                            "or delete the folder to start again")
    previous = read_model_meta(work)
    if previous and previous.get("run") != run_info:
        raise SamikshaError(f"{work}: the interrupted run used other data or settings; "
                            "delete the folder to start again")
    return True


def train(train_data: str | Path, output_dir: str | Path, *, eval_data: str | Path | None = None,
          config: TrainConfig | None = None, resume: bool = False, callbacks: list | None = None) -> TrainResult:
    """Train ``config.method`` on ``train_data`` and write a complete model folder to ``output_dir``."""
    config = config or TrainConfig()
    output = Path(output_dir)
    check_output_dir(output)
    train_part, eval_part, schema = _prepare_data(train_data, eval_data, config)
    return train_parts(train_part, eval_part, schema, output, config, resume=resume, callbacks=callbacks)


def choose_method(config: TrainConfig, counts: dict[str, int]) -> tuple[str, str]:
    """The method ``config`` trains on data with these label counts, and why (``auto`` made concrete)."""
    fine_tune_only = False
    if config.method == "auto" and config.model is not None:
        from .fewshot import is_sentence_transformer

        fine_tune_only = not is_sentence_transformer(resolve_model(config.model, config.offline))
    return config.method_for(counts, fine_tune_only)


def train_parts(train_part: LabelledData, eval_part: LabelledData, schema: LabelSchema, output_dir: str | Path,
                config: TrainConfig, *, resume: bool = False, callbacks: list | None = None) -> TrainResult:
    """Train ``config.method`` on loaded data, score it on ``eval_part`` and publish the folder ``output_dir``."""
    output = Path(output_dir)
    if config.model is None and config.method != "tfidf":
        config = replace(config, model=default_model_for(train_part.texts))
    if config.normalise:
        train_part, eval_part = train_part.normalised(), eval_part.normalised()
    method, reason = choose_method(config, train_part.counts())
    if config.method == "auto":
        log.info("method auto -> %s: %s", method, reason)
    config = replace(config, method=method)
    staging = output.with_name(f".{output.name}.staging-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        weights = config.weights_for(schema.names, train_part.counts())
        class_weight = dict(enumerate(weights)) if weights else None  # scikit-learn's form, by label id
        label_ids = [schema.label2id[n] for n in train_part.labels]
        if config.method == "tfidf":
            from .tfidf import DESCRIPTION, fit_tfidf

            base_model = DESCRIPTION
            training = fit_tfidf(train_part.texts, label_ids, staging, config.seed, class_weight)
        elif config.method in ("setfit", "ensemble"):
            from .fewshot import fit_setfit

            resolved = resolve_model(config.model, config.offline)
            base_model = resolved.name
            training = fit_setfit(train_part.texts, label_ids, staging, resolved, config, class_weight)
            if config.method == "ensemble":  # SetFit and TF-IDF side by side, probabilities averaged
                from .tfidf import DESCRIPTION, fit_tfidf

                base_model = f"{resolved.name} (SetFit) + {DESCRIPTION}"
                tfidf = fit_tfidf(train_part.texts, label_ids, staging, config.seed, class_weight)
                training["wall_seconds"] += tfidf["wall_seconds"]
                training["examples_per_second"] = len(train_part) / training["wall_seconds"]
        else:
            base_model, training = _fine_tune(train_part, eval_part, schema, config, weights, output, staging,
                                              resume, callbacks)
        training["method_choice"] = reason
        seed_runs = []
        if config.seeds_for(len(train_part)) > 1:
            from .compare import other_seed_runs

            seed_runs = other_seed_runs(train_part, eval_part, schema, config)
        result = _finish_folder(staging, base_model, schema, config, train_part, eval_part, training, seed_runs)
        publish_dir(staging, output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(checkpoint_dir(output), ignore_errors=True)
    log.info("saved the model to %s", output)
    return TrainResult(output, result["metrics"], result["meta"])


def _fine_tune(train_part: LabelledData, eval_part: LabelledData, schema: LabelSchema, config: TrainConfig,
               weights: list[float] | None, output: Path, staging: Path, resume: bool,
               callbacks: list | None) -> tuple[str, dict]:
    """Fine-tune with `Trainer` (checkpoints in DIR.checkpoints) and save the best model to ``staging``.

    ``weights``: the per-class loss weights in label order (None for a plain loss)."""
    import datasets
    from transformers import DataCollatorWithPadding, EarlyStoppingCallback, set_seed

    resolved = resolve_model(config.model, config.offline)
    work = checkpoint_dir(output)
    epochs = config.epochs_for(len(train_part))
    run_info = {"config": config.to_dict(), "train": train_part.describe(), "eval": eval_part.describe()}
    resuming = _check_resume(work, resume, run_info)

    datasets.disable_progress_bars()
    set_seed(config.seed)
    tokenizer, model = _load_base(resolved, schema)
    frozen = _maybe_freeze_embeddings(model, config.freeze_embeddings)
    train_ds, eval_ds = _datasets(tokenizer, schema, config, train_part, eval_part)
    if weights:
        log.info("class weights: %s", ", ".join(f"{n}={w:.2f}" for n, w in zip(schema.names, weights)))

    def trainer_metrics(prediction) -> dict:
        predicted = np.asarray(prediction.predictions).argmax(axis=1)
        names = list(schema.names)
        result = compute_metrics([names[i] for i in prediction.label_ids], [names[i] for i in predicted], names)
        return {k: result[k] for k in ("macro_f1", "accuracy", "weighted_f1")}

    work.mkdir(parents=True, exist_ok=True)
    write_json(work / MODEL_META, {"run": run_info})
    extra_callbacks = list(callbacks or [])
    if config.early_stopping_patience:
        extra_callbacks.append(EarlyStoppingCallback(early_stopping_patience=config.early_stopping_patience))
    trainer = _make_trainer_class()(
        model=model, args=_training_arguments(config, work, epochs), train_dataset=train_ds, eval_dataset=eval_ds,
        processing_class=tokenizer, data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=trainer_metrics, callbacks=extra_callbacks, class_weights=weights)
    from transformers.trainer_callback import ProgressCallback

    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(_make_progress_class())
    log.info("training %s on %d texts, evaluating on %d, %s epochs (%s preset)",
             resolved.name, len(train_part), len(eval_part), f"{epochs:g}", config.preset)
    if resuming:
        log.info("resuming from the last checkpoint in %s", work)
    start_epoch = _checkpoint_epoch(work) if resuming else 0.0
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=True if resuming else None)
    wall = time.perf_counter() - started
    with quiet_transformers():
        trainer.save_model(str(staging))
    (staging / "training_args.bin").unlink(missing_ok=True)  # a pickle; the settings are in samiksha.json
    epochs_run = float(trainer.state.epoch or 0)
    # measured over this process's run, per-epoch evaluation included (Trainer's own figure counts
    # planned epochs, which overstates speed when early stopping ends the run)
    return resolved.name, {
        "epochs_run": epochs_run, "steps": int(trainer.state.global_step),
        "best_checkpoint": Path(trainer.state.best_model_checkpoint or "").name or None,
        "wall_seconds": wall, "examples_per_second": (epochs_run - start_epoch) * len(train_part) / wall,
        "resumed": resuming, "embeddings_frozen": frozen, "history": [h for h in trainer.state.log_history if "eval_loss" in h or "loss" in h]}


def _finish_folder(folder: Path, base_model: str, schema: LabelSchema, config: TrainConfig,
                   train_part: LabelledData, eval_part: LabelledData, training: dict,
                   seed_runs: list[dict] | None = None) -> dict:
    """Evaluate the saved model from its folder and write metadata, metrics, report, PNG and model card.

    ``seed_runs``: scores of the same training with other seeds; with them the report gives mean and spread.
    """
    from .predict import Classifier

    meta = {"format_version": FORMAT_VERSION, "method": config.method, "base_model": base_model,
            "labels": list(schema.names), "label_kind": train_part.label_kind, "config": config.to_dict(),
            "data": {"train": train_part.describe(), "eval": eval_part.describe()},
            "training": training, "versions": _versions()}
    write_json(folder / MODEL_META, meta)
    classifier = Classifier.load(folder)
    proba = classifier.predict_proba(eval_part.texts)
    predicted = [schema.names[i] for i in proba.argmax(axis=1)]
    metrics = compute_metrics(eval_part.labels, predicted, schema.names)
    metrics["data"] = eval_part.source if eval_part.source != train_part.source else "held-out split of train data"
    metrics["confident_mistakes"] = confident_mistakes(eval_part.texts, eval_part.labels, proba, schema.names)
    report = format_report(metrics)
    if seed_runs:
        from .compare import format_seed_summary, seed_summary

        metrics["seeds"] = seed_summary([{"seed": config.seed, "macro_f1": metrics["macro_f1"],
                                          "accuracy": metrics["accuracy"]}, *seed_runs])
        report += format_seed_summary(metrics["seeds"])
    write_json(folder / "metrics.json", metrics)
    (folder / "report.txt").write_text(report, encoding="utf-8")
    save_confusion_png(metrics, folder / "confusion_matrix.png")
    import pandas as pd

    write_table(pd.DataFrame({"text": eval_part.texts, "label": eval_part.labels}), folder / "eval.csv")
    (folder / "README.md").write_text(model_card(meta, metrics), encoding="utf-8")
    return {"meta": meta, "metrics": metrics}
