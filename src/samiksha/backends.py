"""Model runtimes: what runs a saved transformer folder (PyTorch or ONNX Runtime) for a Classifier."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Protocol

import numpy as np

from .errors import ModelError, first_line
from .hf_logging import quiet_transformers

ONNX_DIR, ONNX_FP32, ONNX_INT8, ONNX_REPORT = "onnx", "model.onnx", "model.int8.onnx", "export.json"
BUFFERS = re.compile(r"(^|\.)(position_ids|token_type_ids)$")  # rebuilt at load, harmless when absent or extra


class Backend(Protocol):
    """What a Classifier needs from a model runtime: raw scores for a batch, one column per label.

    Scores go through a softmax to become probabilities, so a method that has probabilities returns their log.
    """

    name: str

    def logits(self, texts: list[str], max_length: int) -> np.ndarray: ...


def log_proba(proba: np.ndarray) -> np.ndarray:
    """Probabilities as scores whose softmax gives them back."""
    return np.log(np.clip(proba, 1e-12, 1.0))


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def cpu_threads() -> int:
    """Threads for ONNX Runtime: OMP_NUM_THREADS when set (Ray sets it to an actor's CPUs), else the usable cores."""
    try:
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    except (KeyError, ValueError):
        return usable_cores()


class TorchBackend:
    """Runs a `transformers` sequence-classification model with PyTorch."""

    name = "torch"

    def __init__(self, path: Path, device: str | None = None, prefix: str = ""):
        import torch
        from safetensors import SafetensorError
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        try:
            with quiet_transformers():  # the load report is checked below instead of logged
                self.tokenizer = AutoTokenizer.from_pretrained(path)
                self.model, info = AutoModelForSequenceClassification.from_pretrained(
                    path, dtype=torch.float32, output_loading_info=True, ignore_mismatched_sizes=True)
        except (SafetensorError, RuntimeError) as err:
            first = first_line(err)
            damaged = ", perhaps a truncated file" if isinstance(err, SafetensorError) else ""
            raise ModelError(f"{path}: the weights cannot be read{damaged} ({first})") from None
        check_loading(Path(path), type(self.model).__name__, info)
        self.model.to(self.device).eval()
        self.prefix = prefix
        self.outputs = int(self.model.config.num_labels)

    def logits(self, texts: list[str], max_length: int) -> np.ndarray:
        import torch

        texts = [self.prefix + t for t in texts] if self.prefix else texts
        batch = self.tokenizer(texts, truncation=True, max_length=max_length, padding=True, return_tensors="pt")
        with torch.inference_mode():
            out = self.model(**{k: v.to(self.device) for k, v in batch.items()})
        return out.logits.float().cpu().numpy()


def check_loading(path: Path, model_class: str, info: dict) -> None:
    """Refuse a model whose saved weights do not fill it exactly: anything left at random would label at random."""
    missing = sorted(k for k in info["missing_keys"] if not BUFFERS.search(k))
    unexpected = sorted(k for k in info["unexpected_keys"] if not BUFFERS.search(k))
    mismatched = sorted(info["mismatched_keys"])
    if mismatched:
        name, saved, expected = mismatched[0]
        raise ModelError(f"{path}: the weight {name} has shape {tuple(saved)} in the saved file but {model_class} "
                         f"built from config.json needs {tuple(expected)} (a label count or size that does not match "
                         f"the weights{f', and {len(mismatched) - 1} more' if len(mismatched) > 1 else ''})")
    if missing or unexpected:
        found = [f"{len(ks)} {what} weight(s) ({', '.join(ks[:3])}{', ...' if len(ks) > 3 else ''})"
                 for ks, what in ((missing, "missing"), (unexpected, "unexpected")) if ks]
        raise ModelError(f"{path}: the saved weights do not fit {model_class}, the model config.json describes: "
                         f"{' and '.join(found)}; it would label with random weights")


class OnnxBackend:
    """Runs an exported ONNX graph with ONNX Runtime on the CPU (no PyTorch needed)."""

    name = "onnx"

    def __init__(self, model_file: Path, tokenizer_dir: Path, threads: int | None = None, prefix: str = ""):
        import onnxruntime as ort
        from onnxruntime.capi.onnxruntime_pybind11_state import Fail, InvalidGraph, InvalidProtobuf, NoSuchFile

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or cpu_threads()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.model_file, self.tokenizer_dir = Path(model_file), Path(tokenizer_dir)
        try:
            self.session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        except (Fail, InvalidGraph, InvalidProtobuf, NoSuchFile) as err:
            first = first_line(err)
            raise ModelError(f"{model_file}: not a usable ONNX graph, perhaps a truncated file ({first})") from None
        self.input_names = [i.name for i in self.session.get_inputs()]
        width = self.session.get_outputs()[0].shape[-1]
        self.outputs = width if isinstance(width, int) else None
        self.prefix = prefix
        self.tokenizer = RawTokenizer.load(self.tokenizer_dir)
        if self.tokenizer is None:  # no tokenizer.json: transformers' loader (which brings in PyTorch)
            from transformers import AutoTokenizer

            with quiet_transformers():
                self.tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)

    def logits(self, texts: list[str], max_length: int) -> np.ndarray:
        texts = [self.prefix + t for t in texts] if self.prefix else texts
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


def onnx_model_file(path: Path) -> Path | None:
    """The ONNX graph an export chose for ``path`` (int8 when it passed its gate), or None."""
    report = path / ONNX_DIR / ONNX_REPORT
    if not report.exists():
        return None
    preferred = json.loads(report.read_text(encoding="utf-8")).get("preferred", "fp32")
    return path / ONNX_DIR / (ONNX_INT8 if preferred == "int8" else ONNX_FP32)
