"""The default for fine-tuning: the transformer and a TF-IDF model stacked by a small meta-learner.

The two make different mistakes: the transformer reads meaning, character n-grams catch spellings, emoji and
code-mixed words it has no tokens for. A multinomial logistic regression on their log-probabilities, fitted on the
evaluation rows, blends them. Those rows also pick the transformer's best epoch, so the report cross-fits both
choices (`crossfit`); the saved meta-learner is fitted on all of them.

The folder is the transformer's own (a plain `pipeline()` loads it and gives the transformer's labels), plus
`tfidf.joblib` and `stack.json` (the meta-learner's coefficients: JSON, not a pickle).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

from ..backends import Backend, log_proba, softmax
from ..crossfit import best_candidate, cross_fit
from ..errors import ModelError
from .base import FitJob, Fitted
from .finetune import fine_tune, load_transformer, nested_epoch_choice
from .tfidf import DESCRIPTION as TFIDF_DESCRIPTION
from .tfidf import TfidfBackend, fit_tfidf

log = logging.getLogger("samiksha")
STACK_FILE = "stack.json"
META_C = 1.0  # inverse regularisation strength of the meta-learner


def features(parts: list[np.ndarray]) -> np.ndarray:
    """The meta-learner's input: each part's log-probabilities side by side."""
    return np.hstack([log_proba(p) for p in parts])


def fit_meta(x: np.ndarray, y: np.ndarray, n_labels: int, class_weight: dict[int, float] | None,
             seed: int) -> dict:
    """A multinomial logistic regression from stacked log-probabilities to labels, as plain coefficients."""
    from sklearn.linear_model import LogisticRegression

    coef, intercept = np.zeros((n_labels, x.shape[1])), np.full(n_labels, -1e4)  # an unseen label is never picked
    present = np.unique(y)
    if len(present) == 1:
        intercept[present[0]] = 0.0
        return {"coef": coef.tolist(), "intercept": intercept.tolist()}
    weights = {k: v for k, v in (class_weight or {}).items() if k in present} or None
    model = LogisticRegression(C=META_C, max_iter=5000, class_weight=weights, random_state=seed).fit(x, y)
    classes = model.classes_
    if len(classes) == 2:  # scikit-learn keeps one row for two classes: the second class's logit against the first
        coef[classes[1]], intercept[classes[1]], intercept[classes[0]] = model.coef_[0], model.intercept_[0], 0.0
    else:
        coef[classes], intercept[classes] = model.coef_, model.intercept_
    return {"coef": coef.tolist(), "intercept": intercept.tolist()}


def meta_logits(meta: dict, x: np.ndarray) -> np.ndarray:
    return x @ np.asarray(meta["coef"]).T + np.asarray(meta["intercept"])


class StackBackend:
    """The transformer (PyTorch or its ONNX export) and TF-IDF, blended by the saved meta-learner."""

    def __init__(self, path: Path, n_labels: int, backend: str = "auto", device: str | None = None):
        self.transformer = load_transformer(path, backend, device)
        self.tfidf = TfidfBackend(path, n_labels)
        self.meta = json.loads((path / STACK_FILE).read_text(encoding="utf-8"))
        self.name = f"{self.transformer.name}+tfidf"

    def logits(self, texts: list[str], max_length: int) -> np.ndarray:
        parts = [softmax(self.transformer.logits(texts, max_length)), softmax(self.tfidf.logits(texts, max_length))]
        return meta_logits(self.meta, features(parts))


class Stack:
    name = "stack"

    def fit(self, job: FitJob) -> Fitted:
        tuned = fine_tune(job)
        started = time.perf_counter()
        tfidf_training = fit_tfidf(job.train.texts, job.label_ids(job.train), job.folder, job.config.seed,
                                   job.sklearn_class_weight)
        tfidf = softmax(TfidfBackend(job.folder, len(job.schema)).logits(job.evaluation.texts, job.config.max_length))
        y = np.array(job.label_ids(job.evaluation))
        n_labels, seed = len(job.schema), job.config.seed

        def choose_and_score(choose: np.ndarray, score: np.ndarray) -> np.ndarray:
            best = best_candidate(tuned.epoch_proba, y, choose, job.config.best_metric, job.class_weights)
            x = features([tuned.epoch_proba[best], tfidf])
            return softmax(meta_logits(fit_meta(x[choose], y[choose], n_labels, job.sklearn_class_weight, seed),
                                       x[score]))

        report = cross_fit(y, choose_and_score, n_labels, seed=seed)
        meta = fit_meta(features([tuned.epoch_proba[tuned.best], tfidf]), y, n_labels, job.sklearn_class_weight, seed)
        meta.update(parts=["transformer", f"tfidf ({TFIDF_DESCRIPTION})"], features="log-probabilities, parts side by side",
                    fitted_on_rows=len(y))
        (job.folder / STACK_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        training = dict(tuned.training)
        training["wall_seconds"] += time.perf_counter() - started
        training["tfidf_seconds"] = tfidf_training["wall_seconds"]
        transformer = nested_epoch_choice(tuned, job)
        parts = {"transformer": transformer if transformer is not None else tuned.epoch_proba[tuned.best],
                 "tfidf": tfidf, "stack": report}
        return Fitted(tuned.base_model, training, report, parts)

    def load(self, path: Path, meta: dict, backend: str, device: str | None) -> Backend:
        if not (path / STACK_FILE).exists():
            raise ModelError(f"{path}: a stacked model without its {STACK_FILE}")
        return StackBackend(path, len(meta["labels"]), backend, device)


METHOD = Stack()
