"""Few-shot training with SetFit: contrastive tuning of a sentence-transformers body, then a logistic-regression head."""

from __future__ import annotations

import json
import logging
import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..backends import Backend, log_proba
from ..config import SETFIT_BELOW, TrainConfig
from ..errors import ModelError, SamikshaError, first_line
from ..hf_logging import quiet_transformers
from ..models import ResolvedModel, check_max_length, resolve_model
from ..progress import trainer_bar
from ..sklearn_parts import load_logistic, save_logistic
from .base import FitJob, Fitted, Method, stored_safely

log = logging.getLogger(__name__)

# the body and config_setfit.json use setfit's own file names; the head is saved without pickle, which
# `setfit.SetFitModel.from_pretrained(folder)` cannot read (it would start a fresh, unfitted head)
HEAD = "model_head"  # model_head.json (settings) and model_head.safetensors (coefficients)
LEGACY_HEAD_FILE = "model_head.pkl"  # what older versions wrote (setfit's name): a pickle, loaded only if trusted
SETFIT_CONFIG = "config_setfit.json"
BODY_LEARNING_RATE = 2e-5  # setfit's default for the body; --learning-rate is the fine-tune's


@dataclass
class SetFitSettings:
    """SetFit's own settings (``--set setfit.NAME=VALUE``), shared by the ensemble."""

    section: ClassVar[str] = "setfit"
    renamed: ClassVar[dict[str, str]] = {"setfit_iterations": "iterations"}  # as samiksha.json 1-3 named them
    iterations: int = 5  # pairs per text (half similar, half not) in the contrastive phase
    max_pairs: int = 2000  # cap on the contrastive pairs, so CPU training stays in minutes

    def __post_init__(self) -> None:
        if self.iterations < 1:
            raise SamikshaError("SetFit iterations must be at least 1")
        if self.max_pairs < 2:
            raise SamikshaError("max pairs must be at least 2")


STORAGE = ("the SetFit body in sentence-transformers' layout (`model.safetensors`), its logistic-regression head in "
           "`model_head.json` (settings) and `model_head.safetensors` (coefficients)")
LOAD_NOTE = (" `setfit.SetFitModel.from_pretrained` reads the body but not this head (it expects a pickled "
             "`model_head.pkl`): load the folder with Samiksha.")


def contrastive_sample(label_ids: list[int], limit: int, seed: int) -> list[int]:
    """Indices of at most ``limit`` texts for the contrastive phase, stratified by label, in input order."""
    if len(label_ids) <= limit:
        return list(range(len(label_ids)))
    rng = np.random.default_rng(seed)
    by_label: dict[int, list[int]] = {}
    for i, label in enumerate(label_ids):
        by_label.setdefault(label, []).append(i)
    share = limit / len(label_ids)
    picked = [int(i) for idx in by_label.values()
              for i in rng.choice(idx, max(1, round(len(idx) * share)), replace=False)]
    return sorted(picked)


def _load_body(resolved: ResolvedModel, max_length: int):
    from sentence_transformers import SentenceTransformer

    try:
        with quiet_transformers():
            body = SentenceTransformer(resolved.path, local_files_only=resolved.local_files_only)
    except (OSError, ValueError) as err:
        first = first_line(err)
        raise ModelError(f"{resolved.name}: cannot load a sentence-transformers model: {first}") from None
    check_max_length(max_length, body[0].auto_model.config.to_dict(), f"--max-length for {resolved.name}")
    body.max_seq_length = max_length
    return body


def fit_setfit(texts: list[str], label_ids: list[int], folder: Path, resolved: ResolvedModel,
               config: TrainConfig, class_weight: dict[int, float] | None = None) -> dict:
    """Train SetFit on ``texts`` and save body, head and config to ``folder``; returns training figures."""
    import datasets
    import setfit
    from sklearn.linear_model import LogisticRegression

    setfit.logging.set_verbosity_warning()
    datasets.disable_progress_bars()
    body = _load_body(resolved, config.max_length)
    head = LogisticRegression(max_iter=2000, class_weight=class_weight, random_state=config.seed)
    model = setfit.SetFitModel(model_body=body, model_head=head)
    # pairs = 2 x iterations x texts: larger data is sampled for the contrastive phase; the head sees every text
    settings = config.method_settings(SetFitSettings)
    keep = contrastive_sample(label_ids, max(len(set(label_ids)), settings.max_pairs // (2 * settings.iterations)),
                              config.seed)
    pairs = 2 * settings.iterations * len(keep)
    log.info("SetFit on %s: %d contrastive pairs from %d of %d texts, then a logistic-regression head on all",
             resolved.name, pairs, len(keep), len(texts))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="samiksha-setfit-") as work:
        args = setfit.TrainingArguments(
            output_dir=work, batch_size=config.batch_size, num_epochs=1, num_iterations=settings.iterations,
            body_learning_rate=BODY_LEARNING_RATE, seed=config.seed, report_to="none", save_strategy="no",
            logging_strategy="no", logging_first_step=False, show_progress_bar=False)
        trainer = setfit.Trainer(model=model, args=args, callbacks=[trainer_bar("SetFit: contrastive pairs")])
        quiet_trainer(trainer.st_trainer)
        trainer.train_embeddings([texts[i] for i in keep], [label_ids[i] for i in keep])
        trainer.train_classifier(texts, label_ids)
    wall = time.perf_counter() - started
    folder.mkdir(parents=True, exist_ok=True)
    with quiet_transformers():
        body.save(str(folder), create_model_card=False)
    save_logistic(head, folder, HEAD)
    (folder / SETFIT_CONFIG).write_text(json.dumps({"normalize_embeddings": False, "labels": None}) + "\n",
                                        encoding="utf-8")
    return {"epochs_run": 1.0, "steps": math.ceil(pairs / config.batch_size), "best_checkpoint": None,
            "wall_seconds": wall, "examples_per_second": len(texts) / wall, "resumed": False, "history": [],
            "contrastive_pairs": pairs, "contrastive_texts": len(keep)}


def quiet_trainer(trainer) -> None:
    """No raw log dictionaries (Trainer's printer and tqdm bar; `progress.trainer_bar` draws the steps) and no
    pin_memory warning on a machine without a GPU."""
    import torch
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.pop_callback(PrinterCallback)
    trainer.pop_callback(ProgressCallback)
    if not torch.cuda.is_available():
        trainer.args.dataloader_pin_memory = False


class SetFitBackend:
    """Runs a saved SetFit model; its 'logits' are log-probabilities in the saved label order."""

    name = "setfit"

    def __init__(self, path: Path, n_labels: int, device: str | None = None, trust_pickle: bool = False):
        from sentence_transformers import SentenceTransformer

        self.head = load_logistic(Path(path), HEAD, LEGACY_HEAD_FILE, trust_pickle)  # before the body: no pickle
        classes = self.head.classes_
        if min(classes) < 0 or max(classes) >= n_labels:
            raise ModelError(f"{path}: the head's classes {classes.tolist()} do not fit the {n_labels} labels in "
                             "samiksha.json")
        with quiet_transformers():
            self.body = SentenceTransformer(str(path), device=device, local_files_only=True)
        width = self.body.get_embedding_dimension()
        if width is not None and width != self.head.coef_.shape[1]:
            raise ModelError(f"{path}: the head reads {self.head.coef_.shape[1]} features but the body gives {width}")
        self.n_labels = n_labels

    def logits(self, texts: list[str], max_length: int) -> np.ndarray:
        self.body.max_seq_length = max_length
        embeddings = self.body.encode(texts, batch_size=len(texts), convert_to_numpy=True, show_progress_bar=False)
        proba = np.zeros((len(texts), self.n_labels))
        proba[:, self.head.classes_] = self.head.predict_proba(embeddings)  # a class absent in training stays 0
        return log_proba(proba)


class SetFit(Method):
    """Few-shot SetFit (`--method setfit`; auto's choice below 64 examples a class)."""

    name = "setfit"
    summary = "few-shot, a sentence-transformers body"
    settings = SetFitSettings
    sentence_transformer = True
    compared = True

    def auto(self, config: TrainConfig, counts: dict[str, int], sentence_model: bool) -> str | None:
        smallest = min(counts.values())
        if sentence_model and smallest < SETFIT_BELOW:
            return f"smallest class has {smallest} examples (< {SETFIT_BELOW}): few-shot SetFit"
        return None

    def storage(self, meta: dict) -> str:
        return stored_safely(STORAGE, LOAD_NOTE)

    def fit(self, job: FitJob) -> Fitted:
        resolved = resolve_model(job.config.model, job.config.offline)
        training = fit_setfit(job.train.texts, job.label_ids(job.train), job.folder, resolved, job.config,
                              job.sklearn_class_weight)
        return Fitted(resolved.name, training)

    def load(self, path: Path, meta: dict, backend: str, device: str | None, trust_pickle: bool = False) -> Backend:
        if backend == "onnx":
            raise ModelError(f"{path}: a SetFit model has no ONNX backend")
        return SetFitBackend(path, len(meta["labels"]), device, trust_pickle)


METHOD = SetFit()
