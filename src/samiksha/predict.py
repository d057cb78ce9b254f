"""Classifier: load a saved model folder (PyTorch or ONNX) and label texts in length-sorted batches, in order."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .backends import Backend, softmax
from .errors import ModelError, first_line
from .modelfolder import META, ModelFolder
from .normalise import normaliser, saved_steps

BACKENDS = ("auto", "torch", "onnx")


def _config_labels(path: Path) -> list[str]:
    """Label names from a plain Hugging Face folder's config.json, in id order."""
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        id2label = {int(k): v for k, v in config["id2label"].items()}
        return [id2label[i] for i in range(len(id2label))]
    except (KeyError, ValueError, OSError) as err:
        raise ModelError(f"{path}: not a usable text-classification model ({first_line(err)})") from None


def _check_outputs(path: Path, runner: Backend, labels: list[str]) -> None:
    """Refuse a folder whose transformer gives another number of scores than it has labels."""
    outputs = getattr(getattr(runner, "transformer", runner), "outputs", None)
    if outputs is not None and outputs != len(labels):
        raise ModelError(f"{path}: the classification head gives {outputs} scores but the folder names "
                         f"{len(labels)} labels ({', '.join(map(str, labels))})")


def _max_length(path: Path, saved: int | None) -> int:
    """The saved max length, refused beyond the model's position table; without one, 128 (or the table's size)."""
    from .models import check_max_length, max_positions

    config = {}
    if (path / "config.json").exists():
        try:
            config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        except (ValueError, OSError) as err:
            raise ModelError(f"{path / 'config.json'}: not valid JSON ({first_line(err)})") from None
    config = config if isinstance(config, dict) else {}
    if saved is None:
        return min(128, max_positions(config) or 128)
    check_max_length(saved, config, path / META)
    return saved


class Classifier:
    """A trained sentiment model. Probability columns follow ``labels``, the order saved with the model."""

    def __init__(self, backend: Backend, labels: Sequence[str], max_length: int = 128,
                 meta: dict | None = None):
        self.backend = backend
        self.labels = list(labels)
        self.max_length = max_length
        self.meta = meta or {}
        # texts get the clean-up the model was trained with (none for a plain Hugging Face folder)
        self.clean = normaliser(saved_steps(self.meta.get("config", {})))

    def with_backend(self, backend: Backend) -> Classifier:
        """The same labels, length and clean-up, run by ``backend`` (say, one part of a stack alone)."""
        return Classifier(backend, self.labels, self.max_length, self.meta)

    @property
    def normalise(self) -> bool:
        return bool(self.clean.steps)

    @classmethod
    def load(cls, path: str | Path, backend: str = "auto", device: str | None = None,
             trust_pickle: bool = False) -> Classifier:
        """Load a folder written by `samiksha train`/`export` (or any Hugging Face text-classification folder).

        ``backend="auto"`` uses the ONNX export when the folder has one, else PyTorch. ``trust_pickle``: also load
        an older folder whose TF-IDF model or SetFit head is a pickle (which can run code: only folders you trust).
        """
        from . import methods

        path = Path(path)
        if backend not in BACKENDS:
            raise ModelError(f"unknown backend '{backend}' (choose from {', '.join(BACKENDS)})")
        folder = ModelFolder(path)
        folder.require()  # finishes a publish that a killed run left half done
        meta = folder.read_meta()
        if "adapted" in meta and "method" not in meta:
            raise ModelError(f"{path}: is an encoder adapted by `samiksha adapt`, not a classifier; train one on it "
                             f"with `samiksha train DATA --model {path} --output MODEL`")
        runner = methods.for_folder(meta).load(path, meta, backend, device, trust_pickle)
        labels = meta.get("labels") or _config_labels(path)
        _check_outputs(path, runner, labels)
        saved_length = meta.get("config", {}).get("max_length")
        max_length = _max_length(path, int(saved_length) if saved_length is not None else None)
        return cls(runner, labels, max_length, meta)

    def logits(self, texts: Sequence[str], batch_size: int = 64,
               progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Raw scores, shape (len(texts), len(labels)), rows in input order; batches are sorted by length."""
        texts = [self.clean(str(t)) for t in texts]
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            out[idx] = self.backend.logits([texts[i] for i in idx], self.max_length)
            if progress is not None:
                progress(len(idx))
        return out

    def predict_proba(self, texts: Sequence[str], batch_size: int = 64,
                      progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Probabilities, shape (len(texts), len(labels)), rows in input order, columns in ``labels`` order."""
        return softmax(self.logits(texts, batch_size, progress))

    def predict(self, texts: Sequence[str], batch_size: int = 64) -> list[str]:
        """The most likely label name for each text."""
        proba = self.logits(texts, batch_size)
        return [self.labels[i] for i in proba.argmax(axis=1)]

    def explain(self, texts: Sequence[str], method: str = "occlusion", batch_size: int = 64,
                max_occlusions: int | None = None) -> list:
        """Each text's predicted label and every word's contribution toward it (see `samiksha.explain`)."""
        from .explain import MAX_OCCLUSIONS, explain

        return explain(self, texts, method, batch_size, max_occlusions or MAX_OCCLUSIONS)


def label_frame(classifier: Classifier, frame, text_column: str | None = None, source: object = "input",
                batch_size: int = 64, progress: Callable[[int], None] | None = None, decimals: int | None = 4,
                proba: np.ndarray | None = None):
    """A copy of ``frame`` with label, score and one probability column per label added (rounded to ``decimals``,
    or as computed when None). ``proba``: the rows' probabilities when already computed."""
    from .data import TEXT_COLUMNS, find_column

    column = find_column(frame, text_column, TEXT_COLUMNS, "text", source)
    if proba is None:
        proba = classifier.predict_proba(frame[column].astype(str).tolist(), batch_size, progress)
    out = frame.copy()
    added = ["label", "score", *(f"prob_{name}" for name in classifier.labels)]
    prefix = "predicted_" if set(added) & set(out.columns) else ""  # never overwrite the user's columns
    best = proba.argmax(axis=1)
    out[prefix + "label"] = [classifier.labels[i] for i in best]
    if decimals is not None:
        proba = proba.round(decimals)
    out[prefix + "score"] = proba[np.arange(len(best)), best]
    for j, name in enumerate(classifier.labels):
        out[f"{prefix}prob_{name}"] = proba[:, j]
    return out


def predict_file(classifier: Classifier, source: str | Path, target: str | Path | None, text_column: str | None = None,
                 batch_size: int = 64, chunk_rows: int = 10_000, progress: Callable[[int], None] | None = None) -> int:
    """Label a file chunk by chunk (every original column kept); returns the number of rows."""
    from .storage import map_file

    return map_file(source, target, lambda chunk: label_frame(classifier, chunk, text_column, source, batch_size,
                                                              progress), chunk_rows)
