"""Samiksha: fine-tune transformers to label Indian e-commerce reviews as negative, neutral or positive."""

from __future__ import annotations

from .audit import audit
from .config import TrainConfig
from .distill import distill
from .errors import DataError, ModelError, SamikshaError
from .evaluation import evaluate
from .predict import Classifier
from .suggest import suggest
from .train import TrainResult, train

__all__ = ["Classifier", "DataError", "ModelError", "SamikshaError", "TrainConfig", "TrainResult", "audit",
           "distill", "evaluate", "suggest", "train"]
