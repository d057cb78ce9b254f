"""The default for fine-tuning: the fine-tuned transformer and a TF-IDF model, blended.

The two make different mistakes: the transformer reads meaning, character n-grams catch spellings, emoji and
code-mixed words it has no tokens for. The blend is the mean of their log-probabilities (the geometric mean of their
probabilities). Fitted meta-learners (a logistic regression on the evaluation rows, a tuned blend weight) and a
third part (a frozen multilingual encoder with a linear head) were measured against it on held-out data and did not
beat it (see the README): a few hundred evaluation rows are too few to fit a blend without overfitting. The
evaluation rows still pick the transformer's best epoch, so the report cross-fits that choice (`crossfit`).

The folder is the transformer's own (a plain `pipeline()` loads it and gives the transformer's labels), plus
`tfidf.joblib` and `stack.json` (the parts and the blend's weights).
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
from .finetune import fine_tune, load_transformer, nested_epoch_choice, saved_prefix
from .tfidf import DESCRIPTION as TFIDF_DESCRIPTION
from .tfidf import TfidfBackend, fit_tfidf

log = logging.getLogger("samiksha")
STACK_FILE = "stack.json"


def blend(weights: list[float], parts: list[np.ndarray]) -> np.ndarray:
    """The stack's scores: the weighted mean of the parts' log-probabilities."""
    return sum(w * log_proba(p) for w, p in zip(weights, parts))


class StackBackend:
    """The parts named in stack.json (the transformer by PyTorch or its ONNX export), blended by their weights."""

    def __init__(self, path: Path, meta: dict, backend: str = "auto", device: str | None = None):
        self.saved = json.loads((path / STACK_FILE).read_text(encoding="utf-8"))
        self.transformer = load_transformer(path, backend, device, saved_prefix(meta))
        self.tfidf = TfidfBackend(path, len(meta["labels"]))
        self.name = f"{self.transformer.name}+tfidf"

    def part_proba(self, texts: list[str], max_length: int) -> list[np.ndarray]:
        parts = {"transformer": self.transformer, "tfidf": self.tfidf}
        return [softmax(parts[name].logits(texts, max_length)) for name in self.saved["parts"]]

    def logits(self, texts: list[str], max_length: int) -> np.ndarray:
        return blend(self.saved["weights"], self.part_proba(texts, max_length))


class Stack:
    name = "stack"

    def fit(self, job: FitJob) -> Fitted:
        tuned = fine_tune(job)
        started = time.perf_counter()
        config, n_labels = job.config, len(job.schema)
        tfidf_training = fit_tfidf(job.train.texts, job.label_ids(job.train), job.folder, config.seed,
                                   job.sklearn_class_weight)
        tfidf = softmax(TfidfBackend(job.folder, n_labels).logits(job.evaluation.texts, config.max_length))
        saved = {"parts": ["transformer", "tfidf"], "weights": [0.5, 0.5],
                 "blend": "mean of the parts' log-probabilities", "tfidf": TFIDF_DESCRIPTION}
        (job.folder / STACK_FILE).write_text(json.dumps(saved, indent=1) + "\n", encoding="utf-8")
        y = np.array(job.label_ids(job.evaluation))

        def choose_and_score(choose: np.ndarray, score: np.ndarray) -> np.ndarray:
            best = best_candidate(tuned.epoch_proba, y, choose, config.best_metric, job.class_weights)
            return softmax(blend(saved["weights"], [tuned.epoch_proba[best][score], tfidf[score]]))

        # with one evaluated epoch there is nothing to choose, and the saved blend scores the rows directly
        report = cross_fit(y, choose_and_score, n_labels, seed=config.seed) if len(tuned.epoch_proba) > 1 else \
            softmax(blend(saved["weights"], [tuned.epoch_proba[tuned.best], tfidf]))
        training = dict(tuned.training)
        training["wall_seconds"] += time.perf_counter() - started
        training["parts_seconds"] = {"transformer": tuned.training["wall_seconds"],
                                     "tfidf": time.perf_counter() - started}
        training["tfidf"] = {k: tfidf_training[k] for k in ("wall_seconds", "examples_per_second")}
        transformer = nested_epoch_choice(tuned, job)
        parts = {"transformer": transformer if transformer is not None else tuned.epoch_proba[tuned.best],
                 "tfidf": tfidf, "stack": report}
        return Fitted(tuned.base_model, training, report if len(tuned.epoch_proba) > 1 else None, parts)

    def load(self, path: Path, meta: dict, backend: str, device: str | None) -> Backend:
        if not (path / STACK_FILE).exists():
            raise ModelError(f"{path}: a stacked model without its {STACK_FILE}")
        return StackBackend(path, meta, backend, device)


METHOD = Stack()
