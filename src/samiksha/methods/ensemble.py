"""SetFit and TF-IDF trained on the same data in one folder, their probabilities averaged (`--method ensemble`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..backends import Backend, log_proba
from ..errors import ModelError
from .base import FitJob, Fitted, Method, stored_safely
from .setfit import LOAD_NOTE, STORAGE, SetFitBackend, SetFitSettings
from .setfit import METHOD as SETFIT
from .tfidf import FILES_NOTE as TFIDF_FILES_NOTE
from .tfidf import METHOD as TFIDF
from .tfidf import TfidfBackend


class EnsembleBackend:
    """SetFit and TF-IDF saved in one folder; its 'logits' are the log of their averaged probabilities."""

    name = "setfit+tfidf"

    def __init__(self, path: Path, n_labels: int, device: str | None = None, trust_pickle: bool = False):
        self.tfidf = TfidfBackend(path, n_labels, trust_pickle)
        self.setfit = SetFitBackend(path, n_labels, device, trust_pickle)

    def logits(self, texts: list[str], max_length: int) -> np.ndarray:
        both = np.exp(self.setfit.logits(texts, max_length)) + np.exp(self.tfidf.logits(texts, max_length))
        return log_proba(both / 2)


class Ensemble(Method):
    name = "ensemble"
    summary = "SetFit and TF-IDF, probabilities averaged"
    settings = SetFitSettings
    sentence_transformer = True

    def storage(self, meta: dict) -> str:
        return stored_safely(f"{STORAGE}; {TFIDF_FILES_NOTE}", LOAD_NOTE)

    def fit(self, job: FitJob) -> Fitted:
        setfit, tfidf = SETFIT.fit(job), TFIDF.fit(job)
        training = dict(setfit.training)
        training["wall_seconds"] += tfidf.training["wall_seconds"]
        training["examples_per_second"] = len(job.train) / training["wall_seconds"]
        return Fitted(f"{setfit.base_model} (SetFit) + {tfidf.base_model}", training)

    def load(self, path: Path, meta: dict, backend: str, device: str | None, trust_pickle: bool = False) -> Backend:
        if backend == "onnx":
            raise ModelError(f"{path}: a SetFit model has no ONNX backend")
        return EnsembleBackend(path, len(meta["labels"]), device, trust_pickle)


METHOD = Ensemble()
