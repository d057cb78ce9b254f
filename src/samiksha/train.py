"""Training: data -> method -> honest report -> published folder. Never names a method (see `methods`)."""

from __future__ import annotations

import logging
import os
import platform
import shutil
import tempfile
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path

from . import methods
from .card import model_card
from .config import TrainConfig
from .data import LabelledData, check_leakage, check_training_data, load_labelled, stratified_split
from .distributed import launch, wait_for_all
from .labels import LabelSchema
from .metrics import confident_mistakes, format_report, parts_metrics, save_confusion_png, score_proba, weakness_warning
from .modelfolder import ModelFolder
from .models import default_model_for, is_sentence_transformer, resolve_model, warn_unreadable_script
from .seeds import format_seed_summary, seed_summary
from .storage import write_json, write_table

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What a training run produced: the model folder and its evaluation metrics."""

    output_dir: Path
    metrics: dict
    meta: dict


def _versions(text_steps: list[str] | None = None) -> dict:
    """The versions of what made the model; with the script_view step, of the transliterators too (their word
    lists decide the text the model reads)."""
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    extra = ("dhvani", "indic-transliteration") if "script_view" in (text_steps or ()) else ()
    for package in ("samiksha", "torch", "transformers", "datasets", "accelerate", "scikit-learn", *extra):
        try:
            out[package] = md.version(package)
        except md.PackageNotFoundError:
            pass
    return out


def prepare_data(train_data, eval_data, config: TrainConfig) -> tuple[LabelledData, LabelledData, LabelSchema]:
    """Training and evaluation data (a stratified hold-out without ``eval_data``) and the label order."""
    data = load_labelled(train_data, config.text_column, config.label_column, label_scheme=config.label_scheme)
    check_training_data(data)
    schema = LabelSchema.from_labels(data.labels)
    log.info("labels (%s): %s", data.label_kind, ", ".join(f"{n}={data.counts()[n]}" for n in schema.names))
    if eval_data is not None:
        evaluation = load_labelled(eval_data, config.text_column, config.label_column, schema=schema,
                                   label_scheme=config.label_scheme)
        check_leakage(data, evaluation)
        return data, evaluation, schema
    train_part, eval_part = stratified_split(data, config.eval_fraction, config.seed, config.eval_max_rows)
    log.info("held out %d of %d rows (stratified, seed %d) for evaluation", len(eval_part), len(data), config.seed)
    return train_part, eval_part, schema


def train(train_data: str | Path, output_dir: str | Path, *, eval_data: str | Path | None = None,
          config: TrainConfig | None = None, resume: bool = False, callbacks: list | None = None) -> TrainResult:
    """Train ``config.method`` on ``train_data`` and write a complete model folder to ``output_dir``."""
    config = config or TrainConfig()
    with writing(ModelFolder(output_dir)):  # refused at once when another run writes there
        train_part, eval_part, schema = prepare_data(train_data, eval_data, config)
        return train_parts(train_part, eval_part, schema, output_dir, config, resume=resume, callbacks=callbacks)


def writing(folder: ModelFolder):
    """``folder.writing()`` for the process that writes (under torchrun rank 0; the others use throwaway folders)."""
    return folder.writing() if launch().main else nullcontext(folder)


def _sentence_model(config: TrainConfig) -> bool:
    """Whether ``auto`` may pick a method that needs a sentence-transformers model (the embedded default is one)."""
    return config.method != methods.AUTO or config.model is None or \
        is_sentence_transformer(resolve_model(config.model, config.offline))


def choose_method(config: TrainConfig, counts: dict[str, int]) -> tuple[str, str]:
    """The method ``config`` trains on data with these label counts, and why (``auto`` made concrete)."""
    return methods.choose(config, counts, _sentence_model(config))


def resolve_config(config: TrainConfig, train_part: LabelledData) -> tuple[TrainConfig, str]:
    """``config`` with the model, method and text clean-up made concrete for this data, and why that method."""
    if config.model is None and (config.method == methods.AUTO or methods.get(config.method).uses_model):
        config = replace(config, model=default_model_for(train_part.texts))
    elif config.method == methods.AUTO or methods.get(config.method).uses_model:
        warn_unreadable_script(config.model, train_part.texts)
    requested = config.method
    config, reason = methods.resolve(config, train_part, _sentence_model(config))
    if requested == methods.AUTO:
        log.info("method auto -> %s: %s", config.method, reason)
    if not config.normalise and config.text_steps:
        log.warning("text clean-up is off (--no-normalise or the lesson preset), so the steps %s are not used",
                    ",".join(config.text_steps))
    if not config.normalise or config.text_steps is None:  # saved concrete: prediction cleans exactly as training
        config = replace(config, text_steps=list(config.normaliser().steps))
    return config, reason


def train_parts(train_part: LabelledData, eval_part: LabelledData, schema: LabelSchema, output_dir: str | Path,
                config: TrainConfig, *, resume: bool = False, callbacks: list | None = None,
                targets: methods.Targets | None = None) -> TrainResult:
    """Train ``config.method`` on loaded data, report on ``eval_part`` and publish the folder ``output_dir``
    (``targets``: what fine-tuning learns on the training rows, when not their labels; see `samiksha.distill`)."""
    output = Path(output_dir)
    folder = ModelFolder(output)
    main = launch().main  # under torchrun only rank 0 writes; the other ranks train with it in a throwaway folder
    with writing(folder):
        config, reason = resolve_config(config, train_part)
        clean = config.normaliser()
        train_part, eval_part = train_part.mapped(clean), eval_part.mapped(clean)
        with folder.staging() if main else tempfile.TemporaryDirectory(prefix="samiksha-rank-") as staging:
            staging = Path(staging)
            targets = targets or methods.Targets()
            job = methods.FitJob(train_part, eval_part, schema, config, staging, output,
                                 config.weights_for(schema.names, targets.counts(train_part)), resume,
                                 list(callbacks or []), targets)
            fitted = methods.get(config.method).fit(job)
            fitted.training["method_choice"] = reason
            if main:  # a loadable model from here on: kept if the run is killed during the seed runs
                meta = ModelFolder(staging).write_meta(_meta(fitted, schema, config, train_part, eval_part))
            seed_runs = other_seed_runs(train_part, eval_part, schema, config, folder) \
                if config.seeds_for(len(train_part)) > 1 and not _deterministic(config) else []
            if main:
                metrics = _finish_folder(ModelFolder(staging), fitted, schema, config, train_part, eval_part,
                                         seed_runs, meta)
                folder.publish(staging)
        wait_for_all()  # no rank leaves while another still trains; rank 0 has published
        if not main:
            return TrainResult(output, {}, {})
        shutil.rmtree(folder.checkpoints, ignore_errors=True)
    log.info("saved the model to %s", output)
    return TrainResult(output, metrics, meta)


def _deterministic(config: TrainConfig) -> bool:
    """True for a method whose model does not depend on the seed (TF-IDF): other seeds would score the same."""
    if not getattr(methods.get(config.method), "deterministic", False):
        return False
    if config.report_seeds is not None and config.report_seeds > 1:
        log.info("%s gives the same model with every seed: trained once, not with %d seeds", config.method,
                 config.report_seeds)
    return True


def other_seed_runs(train_part: LabelledData, eval_part: LabelledData, schema: LabelSchema,
                    config: TrainConfig, folder: ModelFolder) -> list[dict]:
    """Macro-F1 and accuracy of the same training with the next seeds (their models are discarded)."""
    n = config.seeds_for(len(train_part))
    log.info("small data (%d training texts): training %d more seed(s) of %s to report the spread of macro-F1; "
             "the saved model is seed %d's", len(train_part), n - 1, config.method, config.seed)
    runs = []
    # beside the output, named alike by every torchrun rank (their checkpoints must be shared)
    work = folder.seeds_work(os.environ.get("MASTER_PORT") or os.getpid())
    level = log.level
    try:
        for seed in range(config.seed + 1, config.seed + n):
            log.info("seed %d (%d of %d) for the spread of macro-F1; its model is not kept", seed,
                     seed - config.seed + 1, n)
            log.setLevel(max(level, logging.WARNING))  # its steps repeat the first run's, in a temporary folder
            try:
                result = train_parts(train_part, eval_part, schema, work / f"seed{seed}",
                                     replace(config, seed=seed, report_seeds=1))
            finally:
                log.setLevel(level)
            if result.metrics:  # rank 0's
                runs.append({"seed": seed, "macro_f1": result.metrics["macro_f1"],
                             "accuracy": result.metrics["accuracy"]})
        wait_for_all()  # not in `finally`: a rank that failed must exit (torchrun then stops the others), not wait
    finally:
        if launch().main:
            shutil.rmtree(work, ignore_errors=True)
    return runs


def _report(folder: ModelFolder, fitted: methods.Fitted, schema: LabelSchema, train_part: LabelledData,
            eval_part: LabelledData) -> dict:
    """The evaluation: cross-fitted where the evaluation rows chose anything, else the saved model's own scores."""
    from .predict import Classifier

    if fitted.report_proba is not None:
        proba = fitted.report_proba
        how = ("cross-fitted: these rows also chose the saved model's epoch, so each fold of them (5, fewer when "
               "a label has fewer rows) was scored by the epoch chosen on the other folds")
    else:
        proba = Classifier.load(folder.path).predict_proba(eval_part.texts)
        how = "scored by the saved model; these rows chose nothing in training"
    metrics = score_proba(eval_part.labels, proba, schema.names)
    metrics["data"] = eval_part.source if eval_part.source != train_part.source else "held-out split of train data"
    metrics["how"] = how
    if fitted.parts:  # the blend's row is the headline's own probabilities
        parts = {**fitted.parts, **({fitted.blend: proba} if fitted.blend else {})}
        metrics["parts"] = parts_metrics(eval_part.labels, parts, schema.names)
    metrics["confident_mistakes"] = confident_mistakes(eval_part.texts, eval_part.labels, proba, schema.names)
    metrics["warning"] = weakness_warning(metrics)
    return metrics


def _meta(fitted: methods.Fitted, schema: LabelSchema, config: TrainConfig, train_part: LabelledData,
          eval_part: LabelledData) -> dict:
    """What samiksha.json records: the method, base model, labels, settings, data and training figures."""
    return {"method": config.method, "base_model": fitted.base_model, "labels": list(schema.names),
            "label_kind": train_part.label_kind, "config": config.to_dict(),
            "data": {"train": train_part.describe(), "eval": eval_part.describe()},
            "training": fitted.training, "versions": _versions(config.text_steps)}


def _finish_folder(folder: ModelFolder, fitted: methods.Fitted, schema: LabelSchema, config: TrainConfig,
                   train_part: LabelledData, eval_part: LabelledData, seed_runs: list[dict], meta: dict) -> dict:
    """Write metrics, report, PNG, evaluation rows and the model card beside the model and its metadata; returns
    the metrics.

    ``seed_runs``: scores of the same training with other seeds; with them the report gives mean and spread.
    """
    metrics = _report(folder, fitted, schema, train_part, eval_part)
    report = format_report(metrics)
    if seed_runs:
        metrics["seeds"] = seed_summary([{"seed": config.seed, "macro_f1": metrics["macro_f1"],
                                          "accuracy": metrics["accuracy"]}, *seed_runs])
        report += format_seed_summary(metrics["seeds"])
    write_json(folder.metrics_file, metrics)
    folder.report_file.write_text(report, encoding="utf-8")
    save_confusion_png(metrics, folder.confusion_file)
    import pandas as pd

    write_table(pd.DataFrame({"text": eval_part.texts, "label": eval_part.labels}), folder.eval_file)
    folder.card_file.write_text(model_card(meta, metrics), encoding="utf-8")
    return metrics
