"""Classifier: load a saved model folder (PyTorch or ONNX) and label texts in length-sorted batches, in order."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from .errors import ModelError
from .models import quiet_transformers
from .scripts import normalise_indic
from .storage import MODEL_META

BACKENDS = ("auto", "torch", "onnx")
ONNX_DIR, ONNX_FP32, ONNX_INT8, ONNX_REPORT = "onnx", "model.onnx", "model.int8.onnx", "export.json"


class Backend(Protocol):
    """What a Classifier needs from a model runtime: raw scores for a batch, one column per label."""

    name: str

    def logits(self, texts: list[str], max_length: int) -> np.ndarray: ...


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


class OnnxBackend:
    """Runs an exported ONNX graph with ONNX Runtime on the CPU (no PyTorch needed)."""

    name = "onnx"

    def __init__(self, model_file: Path, tokenizer_dir: Path, threads: int | None = None):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.model_file, self.tokenizer_dir = Path(model_file), Path(tokenizer_dir)
        self.session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.tokenizer = RawTokenizer.load(self.tokenizer_dir)
        if self.tokenizer is None:  # no tokenizer.json: transformers' loader (which brings in PyTorch)
            from transformers import AutoTokenizer

            with quiet_transformers():
                self.tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)

    def logits(self, texts: list[str], max_length: int) -> np.ndarray:
        batch = self.tokenizer(texts, truncation=True, max_length=max_length, padding=True, return_tensors="np")
        return self.session.run(["logits"], {n: batch[n].astype(np.int64) for n in self.input_names})[0]


class RawTokenizer:
    """A folder's tokenizer.json run by the `tokenizers` library alone: what transformers' fast tokenizer does
    for a batch (special tokens, truncation, padding to the longest), without importing transformers or PyTorch,
    which would double an ONNX process's memory. `samiksha export` checks the result against PyTorch's logits."""

    def __init__(self, tokenizer, pad_id: int, pad_token: str, padding_side: str = "right"):
        self.tokenizer = tokenizer
        self.tokenizer.enable_padding(direction=padding_side, pad_id=pad_id, pad_token=pad_token)
        self.max_length: int | None = None

    @classmethod
    def load(cls, folder: Path) -> RawTokenizer | None:
        from tokenizers import Tokenizer

        file, config_file = folder / "tokenizer.json", folder / "tokenizer_config.json"
        if not file.exists() or not config_file.exists():
            return None
        config = json.loads(config_file.read_text(encoding="utf-8"))
        pad = config.get("pad_token")
        pad = pad.get("content") if isinstance(pad, dict) else pad
        tokenizer = Tokenizer.from_file(str(file))
        pad_id = tokenizer.token_to_id(pad) if isinstance(pad, str) else None
        return None if pad_id is None else cls(tokenizer, pad_id, pad, config.get("padding_side", "right"))

    def __call__(self, texts: list[str], *, truncation: bool, max_length: int, padding: bool,
                 return_tensors: str) -> dict[str, np.ndarray]:
        if max_length != self.max_length:
            self.tokenizer.enable_truncation(max_length)
            self.max_length = max_length
        encodings = self.tokenizer.encode_batch(texts)
        return {"input_ids": np.array([e.ids for e in encodings]),
                "attention_mask": np.array([e.attention_mask for e in encodings]),
                "token_type_ids": np.array([e.type_ids for e in encodings])}


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def read_model_meta(path: Path) -> dict:
    """The Samiksha metadata saved beside the model (empty for a plain Hugging Face folder)."""
    meta = path / MODEL_META
    return json.loads(meta.read_text(encoding="utf-8")) if meta.exists() else {}


def onnx_model_file(path: Path) -> Path | None:
    """The ONNX graph an export chose for ``path`` (int8 when it passed its gate), or None."""
    report = path / ONNX_DIR / ONNX_REPORT
    if not report.exists():
        return None
    preferred = json.loads(report.read_text(encoding="utf-8")).get("preferred", "fp32")
    return path / ONNX_DIR / (ONNX_INT8 if preferred == "int8" else ONNX_FP32)


class Classifier:
    """A trained sentiment model. Probability columns follow ``labels``, the order saved with the model."""

    def __init__(self, backend: Backend, labels: Sequence[str], max_length: int = 128,
                 meta: dict | None = None):
        self.backend = backend
        self.labels = list(labels)
        self.max_length = max_length
        self.meta = meta or {}
        # folders trained with text normalisation get it at prediction too (older folders have no such key)
        self.normalise = bool(self.meta.get("config", {}).get("normalise", False))

    @classmethod
    def load(cls, path: str | Path, backend: str = "auto", device: str | None = None) -> Classifier:
        """Load a folder written by `samiksha train`/`export` (or any Hugging Face text-classification folder).

        ``backend="auto"`` uses the ONNX export when the folder has one, else PyTorch.
        """
        path = Path(path)
        if backend not in BACKENDS:
            raise ModelError(f"unknown backend '{backend}' (choose from {', '.join(BACKENDS)})")
        if not path.is_dir():
            raise ModelError(f"{path}: no such model folder")
        meta = read_model_meta(path)
        if meta.get("method") == "tfidf":
            if backend == "onnx":
                raise ModelError(f"{path}: a TF-IDF model has no ONNX backend")
            from .tfidf import TfidfBackend

            return cls(TfidfBackend(path), meta["labels"], meta["config"]["max_length"], meta)
        if meta.get("method") in ("setfit", "ensemble"):
            if backend == "onnx":
                raise ModelError(f"{path}: a SetFit model has no ONNX backend")
            from .fewshot import EnsembleBackend, SetFitBackend

            runner = (SetFitBackend if meta["method"] == "setfit" else EnsembleBackend)(path, len(meta["labels"]), device)
            return cls(runner, meta["labels"], meta["config"]["max_length"], meta)
        config_file = path / "config.json"
        if not config_file.exists():
            raise ModelError(f"{path}: not a model folder (no config.json)")
        onnx_file = onnx_model_file(path)
        if backend == "onnx" and onnx_file is None:
            raise ModelError(f"{path}: has no ONNX export; run `samiksha export {path}` first")
        try:
            config = json.loads(config_file.read_text(encoding="utf-8"))
            id2label = {int(k): v for k, v in config["id2label"].items()}
            if onnx_file is not None and backend != "torch":
                runner = OnnxBackend(onnx_file, path)
            else:
                runner = TorchBackend(path, device)
        except (KeyError, ValueError, OSError) as err:
            raise ModelError(f"{path}: not a usable text-classification model ({str(err).splitlines()[0]})") from None
        labels = meta.get("labels") or [id2label[i] for i in range(len(id2label))]
        max_length = int(meta.get("config", {}).get("max_length", 128))
        return cls(runner, labels, max_length, meta)

    def logits(self, texts: Sequence[str], batch_size: int = 64,
               progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Raw scores, shape (len(texts), len(labels)), rows in input order; batches are sorted by length."""
        texts = [normalise_indic(str(t)) for t in texts] if self.normalise else [str(t) for t in texts]
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
        return _softmax(self.logits(texts, batch_size, progress))

    def predict(self, texts: Sequence[str], batch_size: int = 64) -> list[str]:
        """The most likely label name for each text."""
        proba = self.logits(texts, batch_size)
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


def predict_file(classifier: Classifier, source: str | Path, target: str | Path | None, text_column: str | None = None,
                 batch_size: int = 64, chunk_rows: int = 10_000, progress: Callable[[int], None] | None = None) -> int:
    """Label a file chunk by chunk (constant memory for CSV/TSV/JSONL/Parquet); returns the number of rows."""
    from .data import iter_table
    from .storage import TableWriter

    with TableWriter(target) as writer:
        for chunk in iter_table(source, chunk_rows):
            writer.write(label_frame(classifier, chunk, text_column, source, batch_size, progress))
    return writer.rows
