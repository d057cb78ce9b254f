"""The classical baseline: word and character n-gram TF-IDF with a class-balanced logistic regression."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..backends import Backend, log_proba
from ..errors import ModelError
from ..sklearn_parts import files, load_tfidf, save_tfidf
from .base import FitJob, Fitted, Method, stored_safely

PART = "tfidf"
MODEL_FILES = files(PART)  # tfidf.json (settings, vocabularies) and tfidf.safetensors (idf, coefficients)
LEGACY_FILE = "tfidf.joblib"  # what older versions wrote: a pickle, loaded only with trust_pickle
DESCRIPTION = "tfidf: word 1-2-grams + char 2-5-grams, logistic regression"
FILES_NOTE = ("the TF-IDF model in `tfidf.json` (settings and vocabularies) and `tfidf.safetensors` "
              "(idf vectors and coefficients)")


def build_pipeline(seed: int, class_weight: dict[int, float] | None = None):
    """Word 1-2-grams and character 2-5-grams (within word boundaries) feeding a logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    features = FeatureUnion([
        ("words", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, min_df=1,
                                  token_pattern=r"(?u)\b\w+\b")),
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)),
    ])
    classifier = LogisticRegression(C=4.0, max_iter=2000, class_weight=class_weight, random_state=seed)
    return Pipeline([("features", features), ("classifier", classifier)])


def fit_tfidf(texts: list[str], label_ids: list[int], folder: Path, seed: int,
              class_weight: dict[int, float] | None = None) -> dict:
    """Fit on ``texts`` and save to ``folder``; returns training figures for samiksha.json."""
    started = time.perf_counter()
    pipeline = build_pipeline(seed, class_weight).fit(texts, label_ids)
    wall = time.perf_counter() - started
    folder.mkdir(parents=True, exist_ok=True)
    save_tfidf(pipeline, folder, PART)
    return {"epochs_run": 1.0, "steps": 1, "best_checkpoint": None, "wall_seconds": wall,
            "examples_per_second": len(texts) / wall, "resumed": False, "history": []}


class TfidfBackend:
    """Runs a saved TF-IDF pipeline; its 'logits' are log-probabilities, so softmax gives them back."""

    name = "tfidf"

    def __init__(self, path: Path, n_labels: int | None = None, trust_pickle: bool = False):
        self.pipeline = load_tfidf(Path(path), PART, LEGACY_FILE, trust_pickle)
        self.n_labels = n_labels
        classes = self.pipeline.classes_
        if n_labels is not None and (min(classes) < 0 or max(classes) >= n_labels):
            raise ModelError(f"{path}: the TF-IDF model's classes {classes.tolist()} do not fit the {n_labels} labels "
                             "in samiksha.json")

    def logits(self, texts: list[str], max_length: int) -> np.ndarray:
        proba = self.pipeline.predict_proba(texts)
        classes = self.pipeline.classes_
        if self.n_labels is not None and len(classes) != self.n_labels:  # a label absent in training stays at 0
            full = np.zeros((len(texts), self.n_labels))
            full[:, classes] = proba
            proba = full
        return log_proba(proba)


class Tfidf(Method):
    """The classical n-gram baseline (`--method tfidf`): no transformer, thousands of texts a second."""

    name = "tfidf"
    summary = "the classical n-gram baseline"
    compared = True
    deterministic = True  # the same data gives the same model whatever the seed: no spread over seeds to report

    def storage(self, meta: dict) -> str:
        return stored_safely(FILES_NOTE)

    def fit(self, job: FitJob) -> Fitted:
        training = fit_tfidf(job.train.texts, job.label_ids(job.train), job.folder, job.config.seed,
                             job.sklearn_class_weight)
        return Fitted(DESCRIPTION, training)

    def load(self, path: Path, meta: dict, backend: str, device: str | None, trust_pickle: bool = False) -> Backend:
        if backend == "onnx":
            raise ModelError(f"{path}: a TF-IDF model has no ONNX backend")
        return TfidfBackend(path, len(meta["labels"]), trust_pickle)


METHOD = Tfidf()
