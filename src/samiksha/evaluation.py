"""Evaluating a saved model on labelled data."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .backends import softmax
from .data import load_labelled
from .labels import LabelSchema
from .metrics import BLEND_PART, confident_mistakes, parts_metrics, score_proba
from .predict import Classifier


def evaluate(model_dir: str | Path, data: str | Path, text_column: str | None = None,
             label_column: str | None = None, classifier: Classifier | None = None,
             label_scheme: str | None = None, trust_pickle: bool = False) -> dict:
    """Metrics of the model in ``model_dir`` on ``data``, with a bootstrap interval and the most confident mistakes
    (and, for a stacked model, each part's figures on the same rows). ``label_scheme``: how numeric labels read."""
    classifier = classifier or Classifier.load(model_dir, trust_pickle=trust_pickle)
    labelled = load_labelled(data, text_column, label_column, schema=LabelSchema(tuple(classifier.labels)),
                             label_scheme=label_scheme)
    parts = part_proba(classifier, labelled.texts)
    proba = parts[BLEND_PART] if parts else classifier.predict_proba(labelled.texts)
    metrics = score_proba(labelled.labels, proba, classifier.labels)
    metrics["data"] = str(data)
    if parts:
        metrics["parts"] = parts_metrics(labelled.labels, parts, classifier.labels)
    metrics["confident_mistakes"] = confident_mistakes(labelled.texts, labelled.labels, proba, classifier.labels)
    return metrics


def part_proba(classifier: Classifier, texts: list[str]) -> dict[str, np.ndarray] | None:
    """Each part's probabilities and the stack's (under ``BLEND_PART``), for a stacked model; None for any other."""
    backend = classifier.backend
    if not hasattr(backend, "parts"):
        return None
    parts = {name: classifier.with_backend(part).predict_proba(texts) for name, part in backend.parts().items()}
    return {**parts, BLEND_PART: softmax(backend.blend_proba(list(parts.values())))}
