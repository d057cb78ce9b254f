"""ONNX export with a parity check against PyTorch, and int8 quantization gated on re-measured macro-F1."""

from __future__ import annotations

import copy
import logging
import shutil
import warnings
from pathlib import Path

import numpy as np

from . import methods
from .backends import ONNX_DIR, ONNX_FP32, ONNX_INT8, ONNX_REPORT, OnnxBackend, TorchBackend
from .errors import SamikshaError
from .metrics import compute_metrics
from .modelfolder import ModelFolder
from .predict import Classifier
from .storage import write_json

log = logging.getLogger(__name__)
MAX_LOGIT_DIFF = 1e-3
PARITY_TEXTS = 256
FALLBACK_TEXTS = ["bahut badiya product, value for money", "bakwas quality, paisa barbaad", "theek thaak hai",
                  "Delivery was late but the product is good", "पैसे बर्बाद, मत खरीदना", "अच्छा है",
                  "not good not bad", "ekdum mast, recommend karunga", "packaging damaged tha", "ok"]


class ExportError(SamikshaError):
    """An export that failed its parity check."""


def _torch_export(model_dir: Path, target: Path) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from .hf_logging import quiet_transformers

    with quiet_transformers():
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        # eager attention exports the plain matmul/softmax pattern that ONNX Runtime knows how to fuse
        model = AutoModelForSequenceClassification.from_pretrained(
            model_dir, dtype=torch.float32, attn_implementation="eager").eval()
    sample = tokenizer(["a short review", "a somewhat longer review text to export with"], padding=True,
                       return_tensors="pt")
    names = [n for n in tokenizer.model_input_names if n in sample]

    class LogitsOnly(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, *inputs):
            return self.model(**dict(zip(names, inputs))).logits

    axes = {n: {0: "batch", 1: "sequence"} for n in names}
    axes["logits"] = {0: "batch"}
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer chatter about advanced indexing and constant folding
        torch.onnx.export(LogitsOnly(), tuple(sample[n] for n in names), str(target), input_names=names,
                          output_names=["logits"], dynamic_axes=axes, opset_version=17, dynamo=False)


def _fuse(path: Path, config: dict) -> bool:
    """ONNX Runtime's transformer fusions (attention, GELU, layer norm) for BERT-like graphs."""
    if config.get("model_type") not in ("bert", "roberta", "xlm-roberta", "distilbert", "electra"):
        return False
    from onnxruntime.transformers.optimizer import optimize_model

    try:
        optimized = optimize_model(str(path), model_type="bert", num_heads=config["num_attention_heads"],
                                   hidden_size=config["hidden_size"])
    except Exception as err:  # fusion is an optimisation; the plain graph still works
        log.warning("graph fusion skipped: %s", err)
        return False
    optimized.save_model_to_file(str(path))
    return True


def _quantize(source: Path, target: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantizer logs a pre-processing hint on the root logger
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    finally:
        root.setLevel(level)


def _gate_data(model_dir: Path, eval_data: str | Path | None, labels: list[str]):
    from .data import load_labelled
    from .labels import LabelSchema

    source = eval_data if eval_data is not None else ModelFolder(model_dir).eval_file
    if eval_data is None and not Path(source).exists():
        return None
    return load_labelled(source, schema=LabelSchema(tuple(labels)))


def _with_transformer(classifier: Classifier, transformer) -> Classifier:
    """``classifier`` with its transformer run by ``transformer`` (in a stacked model, the rest is kept)."""
    backend = classifier.backend
    if hasattr(backend, "transformer"):
        backend = copy.copy(backend)
        backend.transformer = transformer
    else:
        backend = transformer
    return classifier.with_backend(backend)


def _macro_f1(classifier: Classifier, data) -> float:
    return compute_metrics(data.labels, classifier.predict(data.texts), classifier.labels)["macro_f1"]


def export_onnx(model_dir: str | Path, output_dir: str | Path | None = None, quantize: str = "int8",
                eval_data: str | Path | None = None, force: bool = False, max_f1_drop: float = 0.01,
                trust_pickle: bool = False) -> dict:
    """Export ``model_dir`` to ONNX (into ``model_dir/onnx`` or a new serving folder) and return the report.

    fp32 must match PyTorch (max |logit difference| <= 1e-3 on held-out texts) or the export is refused.
    int8 is kept only when its macro-F1 on the evaluation data is within ``max_f1_drop`` of fp32's,
    unless ``force``.
    """
    if quantize not in ("int8", "none"):
        raise SamikshaError(f"--quantize must be int8 or none, not '{quantize}'")
    model_dir = Path(model_dir)
    ModelFolder(model_dir).require()
    # a serving folder of its own, or onnx/ inside the model folder (swapped in whole, like a published folder)
    target, part = (ModelFolder(output_dir), None) if output_dir is not None else (ModelFolder(model_dir), ONNX_DIR)
    if part is None and target.real == ModelFolder(model_dir).real:
        raise SamikshaError(f"{output_dir}: is the model folder itself; leave --output out to add {ONNX_DIR}/ to it, "
                            "or choose another --output")
    with target.writing(replacing=part is None):  # refused at once when another run writes there
        model_clf = Classifier.load(model_dir, backend="torch", trust_pickle=trust_pickle)
        transformer = getattr(model_clf.backend, "transformer", model_clf.backend)
        if not isinstance(transformer, TorchBackend):
            exporting = " and ".join(m.name for m in methods.all_methods() if m.onnx)
            raise SamikshaError(f"{model_dir}: only fine-tuned transformer models export to ONNX (methods {exporting})")
        torch_clf = model_clf.with_backend(transformer)
        gate = _gate_data(model_dir, eval_data, torch_clf.labels)
        texts = (gate.texts if gate is not None else FALLBACK_TEXTS)[:PARITY_TEXTS]
        with target.staging(part) as staging:
            onnx_dir = staging / ONNX_DIR if part is None else staging
            onnx_dir.mkdir(exist_ok=True)
            report = _export(model_dir, onnx_dir, model_clf, torch_clf, transformer, gate, texts, quantize, force,
                             max_f1_drop)
            if part is None:
                _copy_serving_files(model_dir, staging)
                if report["preferred"] == "int8":  # a serving folder holds what serves: the int8 graph alone
                    (onnx_dir / ONNX_FP32).unlink()
                    report["fp32"]["kept"] = False
            write_json(onnx_dir / ONNX_REPORT, report)
            target.publish(staging, part)
    return report


def _export(model_dir: Path, onnx_dir: Path, model_clf: Classifier, torch_clf: Classifier, transformer, gate,
            texts: list[str], quantize: str, force: bool, max_f1_drop: float) -> dict:
    """Write the fp32 graph (and int8, when it passes its gate) into ``onnx_dir``; returns the report."""
    fp32 = onnx_dir / ONNX_FP32
    _torch_export(model_dir, fp32)
    fused = _fuse(fp32, _read_config(model_dir))
    onnx_clf = torch_clf.with_backend(OnnxBackend(fp32, model_dir, prefix=transformer.prefix))
    torch_logits = torch_clf.logits(texts)
    onnx_logits = onnx_clf.logits(texts)
    diff = float(np.abs(torch_logits - onnx_logits).max())
    agreement = float((torch_logits.argmax(1) == onnx_logits.argmax(1)).mean())
    report: dict = {"fused": fused, "parity_texts": len(texts), "gate_data": gate.source if gate else None,
                    "fp32": {"max_abs_logit_diff": diff, "argmax_agreement": agreement,
                             "size_bytes": fp32.stat().st_size}}
    log.info("ONNX fp32: max |logit diff| %.2e, argmax agreement %.4f on %d texts", diff, agreement, len(texts))
    if diff > MAX_LOGIT_DIFF:
        raise ExportError(f"{model_dir}: ONNX export does not match PyTorch (max logit difference {diff:.2e} > "
                          f"{MAX_LOGIT_DIFF:g}); refusing it")
    report["preferred"] = "fp32"
    if quantize == "int8":
        report["int8"] = _int8(onnx_dir, fp32, onnx_clf, model_clf, gate, texts, force, max_f1_drop)
        if report["int8"]["accepted"]:
            report["preferred"] = "int8"
    return report


def _int8(onnx_dir: Path, fp32: Path, onnx_clf: Classifier, model_clf: Classifier, gate, texts, force: bool,
          max_f1_drop: float) -> dict:
    """Quantize, then keep int8 only if the model as predictions use it (a stack included) keeps its macro-F1."""
    int8 = onnx_dir / ONNX_INT8
    _quantize(fp32, int8)
    int8_transformer = OnnxBackend(int8, onnx_clf.backend.tokenizer_dir, prefix=onnx_clf.backend.prefix)
    agreement = float((onnx_clf.logits(texts).argmax(1) ==
                       onnx_clf.with_backend(int8_transformer).logits(texts).argmax(1)).mean())
    fp32_clf, int8_clf = _with_transformer(model_clf, onnx_clf.backend), _with_transformer(model_clf, int8_transformer)
    result = {"size_bytes": int8.stat().st_size, "argmax_agreement_with_fp32": agreement, "forced": force}
    if gate is None:
        result.update(accepted=force, reason="no evaluation data to re-measure macro-F1 (pass --eval)")
    else:
        f1_fp32, f1_int8 = _macro_f1(fp32_clf, gate), _macro_f1(int8_clf, gate)
        drop = f1_fp32 - f1_int8
        result.update(macro_f1_fp32=f1_fp32, macro_f1_int8=f1_int8, macro_f1_drop=drop, gate_rows=len(gate),
                      accepted=drop <= max_f1_drop or force,
                      reason=f"macro-F1 {f1_fp32:.4f} -> {f1_int8:.4f} ({-drop:+.4f}; limit -{max_f1_drop:g})")
    if result["accepted"]:
        log.info("int8 accepted: %s, %.0f%% of the fp32 size", result["reason"],
                 100 * result["size_bytes"] / fp32.stat().st_size)
    else:
        int8.unlink()
        log.warning("int8 refused, keeping fp32: %s (--force keeps it anyway)", result["reason"])
    return result


def _read_config(model_dir: Path) -> dict:
    import json

    return json.loads((model_dir / "config.json").read_text(encoding="utf-8"))


def _copy_serving_files(model_dir: Path, staging: Path) -> None:
    """Everything but the PyTorch weights, so the new folder serves with ONNX Runtime alone."""
    for item in model_dir.iterdir():
        if item.name in (ONNX_DIR, "model.safetensors", "pytorch_model.bin") or item.name.startswith("."):
            continue
        if item.is_file():
            shutil.copy2(item, staging / item.name)
