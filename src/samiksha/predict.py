"""Classifier: load a saved model folder and label texts in length-sorted batches, in the caller's order."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .errors import ModelError
from .models import quiet_transformers
from .storage import MODEL_META

log = logging.getLogger("samiksha")


class TorchBackend:
    """Runs a `transformers` sequence-classification model with PyTorch."""

    name = "torch"

    def __init__(self, path: Path, device: str | None = None):
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        with quiet_transformers():
            self.tokenizer = AutoTokenizer.from_pretrained(path)
            self.model = AutoModelForSequenceClassification.from_pretrained(path, dtype=torch.float32)
        self.model.to(self.device).eval()

    def logits(self, texts: list[str], max_length: int) -> np.ndarray:
        import torch

        batch = self.tokenizer(texts, truncation=True, max_length=max_length, padding=True, return_tensors="pt")
        with torch.inference_mode():
            out = self.model(**{k: v.to(self.device) for k, v in batch.items()})
        return out.logits.float().cpu().numpy()


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def read_model_meta(path: Path) -> dict:
    """The Samiksha metadata saved beside the model (empty for a plain Hugging Face folder)."""
    meta = path / MODEL_META
    return json.loads(meta.read_text(encoding="utf-8")) if meta.exists() else {}


class Classifier:
    """A trained sentiment model. Probability columns follow ``labels``, the order saved with the model."""

    def __init__(self, backend: TorchBackend, labels: Sequence[str], max_length: int = 128, meta: dict | None = None):
        self.backend = backend
        self.labels = list(labels)
        self.max_length = max_length
        self.meta = meta or {}

    @classmethod
    def load(cls, path: str | Path, device: str | None = None) -> Classifier:
        """Load a folder written by `samiksha train` (or any Hugging Face text-classification folder)."""
        path = Path(path)
        if not path.is_dir():
            raise ModelError(f"{path}: no such model folder")
        config_file = path / "config.json"
        if not config_file.exists():
            raise ModelError(f"{path}: not a model folder (no config.json)")
        try:
            config = json.loads(config_file.read_text(encoding="utf-8"))
            id2label = {int(k): v for k, v in config["id2label"].items()}
            backend = TorchBackend(path, device)
        except (KeyError, ValueError, OSError) as err:
            raise ModelError(f"{path}: not a usable text-classification model ({str(err).splitlines()[0]})") from None
        meta = read_model_meta(path)
        labels = meta.get("labels") or [id2label[i] for i in range(len(id2label))]
        max_length = int(meta.get("config", {}).get("max_length", 128))
        return cls(backend, labels, max_length, meta)

    def predict_proba(self, texts: Sequence[str], batch_size: int = 64,
                      progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Probabilities, shape (len(texts), len(labels)), rows in input order; batches are sorted by length."""
        texts = [str(t) for t in texts]
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            out[idx] = _softmax(self.backend.logits([texts[i] for i in idx], self.max_length))
            if progress is not None:
                progress(len(idx))
        return out

    def predict(self, texts: Sequence[str], batch_size: int = 64) -> list[str]:
        """The most likely label name for each text."""
        proba = self.predict_proba(texts, batch_size)
        return [self.labels[i] for i in proba.argmax(axis=1)]


def label_frame(classifier: Classifier, frame, text_column: str | None = None, source: object = "input",
                batch_size: int = 64, progress: Callable[[int], None] | None = None):
    """A copy of ``frame`` with label, score and one probability column per label added."""
    from .data import TEXT_COLUMNS, find_column

    column = find_column(frame, text_column, TEXT_COLUMNS, "text", source)
    proba = classifier.predict_proba(frame[column].astype(str).tolist(), batch_size, progress)
    out = frame.copy()
    added = ["label", "score", *(f"prob_{name}" for name in classifier.labels)]
    prefix = "predicted_" if set(added) & set(out.columns) else ""  # never overwrite the user's columns
    best = proba.argmax(axis=1)
    out[prefix + "label"] = [classifier.labels[i] for i in best]
    out[prefix + "score"] = proba[np.arange(len(best)), best].round(4)
    for j, name in enumerate(classifier.labels):
        out[f"{prefix}prob_{name}"] = proba[:, j].round(4)
    return out
