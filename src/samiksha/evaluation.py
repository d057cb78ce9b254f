"""Evaluating a saved model on labelled data."""

from __future__ import annotations

from pathlib import Path

from .data import load_labelled
from .labels import LabelSchema
from .metrics import confident_mistakes, score_proba
from .predict import Classifier


def evaluate(model_dir: str | Path, data: str | Path, text_column: str | None = None,
             label_column: str | None = None, classifier: Classifier | None = None) -> dict:
    """Metrics of the model in ``model_dir`` on ``data``, with a bootstrap interval and the most confident mistakes."""
    classifier = classifier or Classifier.load(model_dir)
    labelled = load_labelled(data, text_column, label_column, schema=LabelSchema(tuple(classifier.labels)))
    proba = classifier.predict_proba(labelled.texts)
    metrics = score_proba(labelled.labels, proba, classifier.labels)
    metrics["data"] = str(data)
    metrics["confident_mistakes"] = confident_mistakes(labelled.texts, labelled.labels, proba, classifier.labels)
    return metrics
