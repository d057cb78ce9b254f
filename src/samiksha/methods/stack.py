"""The default for fine-tuning: the fine-tuned transformer and a TF-IDF model, blended.

The two make different mistakes: the transformer reads meaning, character n-grams catch spellings, emoji and
code-mixed words it has no tokens for. The blend is the mean of their log-probabilities (the geometric mean of their
probabilities), with no weights fitted: what was measured against it is in docs/decisions.md. The evaluation rows
still pick the transformer's best epoch, so the report cross-fits that choice (`crossfit`).

The folder is the transformer's own (a plain `pipeline()` loads it and gives the transformer's labels), plus
`tfidf.json` and `tfidf.safetensors` (the TF-IDF model, no pickle) and `stack.json` (the parts and the blend's weights).
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path

import numpy as np

from ..backends import Backend, log_proba, softmax
from ..errors import ModelError
from ..metrics import BLEND_PART
from ..modelfolder import ModelFolder
from ..sklearn_parts import load_tfidf, save_tfidf
from .base import SAMIKSHA_USAGE, FitJob, Fitted, stored_safely
from .finetune import (
    PIPELINE_USAGE,
    TRANSFORMER_FILES,
    FineTuning,
    fine_tune,
    fine_tune_reason,
    load_transformer,
    nested_epoch_choice,
    pipeline_note,
    saved_prefix,
)
from .tfidf import DESCRIPTION as TFIDF_DESCRIPTION
from .tfidf import FILES_NOTE as TFIDF_FILES_NOTE
from .tfidf import LEGACY_FILE, TfidfBackend, fit_tfidf
from .tfidf import MODEL_FILES as TFIDF_FILES
from .tfidf import PART as TFIDF_PART

log = logging.getLogger(__name__)
STACK_FILE = "stack.json"


def blend(weights: list[float], parts: list[np.ndarray]) -> np.ndarray:
    """The stack's scores: the weighted mean of the parts' log-probabilities."""
    return sum(w * log_proba(p) for w, p in zip(weights, parts))


class StackBackend:
    """The parts named in stack.json (the transformer by PyTorch or its ONNX export), blended by their weights."""

    def __init__(self, path: Path, meta: dict, backend: str = "auto", device: str | None = None,
                 trust_pickle: bool = False):
        self.saved = json.loads((path / STACK_FILE).read_text(encoding="utf-8"))
        parts, weights = self.saved.get("parts"), self.saved.get("weights")
        if not parts or set(parts) - {"transformer", TFIDF_PART} or not isinstance(weights, list) \
                or len(weights) != len(parts):
            raise ModelError(f"{path / STACK_FILE}: expected parts (transformer, tfidf) and one weight each; "
                             "retrain this model with this version of Samiksha")
        self.tfidf = TfidfBackend(path, len(meta["labels"]), trust_pickle)  # first: a missing part fails fast
        self.transformer = load_transformer(path, backend, device, saved_prefix(meta))
        self.name = f"{self.transformer.name}+tfidf"

    def parts(self) -> dict[str, Backend]:
        """The blended parts by name, in the order of their weights."""
        every = {"transformer": self.transformer, TFIDF_PART: self.tfidf}
        return {name: every[name] for name in self.saved["parts"]}

    def blend_proba(self, parts: list[np.ndarray]) -> np.ndarray:
        """The stack's scores from its parts' probabilities (in ``parts()`` order)."""
        return blend(self.saved["weights"], parts)

    def logits(self, texts: list[str], max_length: int) -> np.ndarray:
        return self.blend_proba([softmax(part.logits(texts, max_length)) for part in self.parts().values()])


class Stack(FineTuning):
    """The fine-tuned transformer and TF-IDF, blended (`--method stack`; auto's choice from 64 examples a class)."""

    name = "stack"
    summary = "a fine-tuned transformer and TF-IDF blended by the mean of their log-probabilities"
    parts = {"transformer": "the fine-tuned transformer alone", TFIDF_PART: "the TF-IDF model alone",
             BLEND_PART: "the stack (what Samiksha predicts with)"}

    def auto(self, config, counts: dict[str, int], sentence_model: bool) -> str | None:
        why = fine_tune_reason(config, counts, sentence_model)
        return (f"{why}, stacked with TF-IDF (mean of log-probabilities; --no-stack: the transformer alone)"
                if why and config.stack else None)

    def student(self, keep_parts: bool) -> str | None:
        return self.name if keep_parts else "finetune"

    def usage(self, meta: dict) -> str:
        return (f"{SAMIKSHA_USAGE}: both use the stack (the transformer and the TF-IDF model, blended as `stack.json` "
                f"says).\n\nThe folder is also a plain Hugging Face model:\n\n{PIPELINE_USAGE}\n\nbut that gives the "
                "fine-tuned transformer's own labels, without the other parts and the blend (see the table above for "
                f"the difference).{pipeline_note(meta)}")

    def storage(self, meta: dict) -> str:
        return stored_safely(f"{TRANSFORMER_FILES}; {TFIDF_FILES_NOTE}")

    def fit(self, job: FitJob) -> Fitted:
        tuned = fine_tune(job)
        started = time.perf_counter()
        config, n_labels = job.config, len(job.schema)
        teacher = job.targets.parts_from
        if teacher is not None:  # a distilled student: the teacher's TF-IDF, fitted on its true labels only
            if all((teacher / name).exists() for name in TFIDF_FILES):
                for name in TFIDF_FILES:
                    shutil.copy2(teacher / name, job.folder / name)
            else:  # an older teacher's pickle (loaded only if trusted): the student gets the safe files
                save_tfidf(load_tfidf(teacher, TFIDF_PART, LEGACY_FILE, job.targets.trust_pickle), job.folder,
                           TFIDF_PART)
            teacher_training = ModelFolder(teacher).read_meta().get("training", {})
            tfidf_training = teacher_training.get("tfidf") or {"wall_seconds": 0.0, "examples_per_second": None}
        else:
            tfidf_training = fit_tfidf(job.train.texts, job.label_ids(job.train), job.folder, config.seed,
                                       job.sklearn_class_weight)
        tfidf = softmax(TfidfBackend(job.folder, n_labels).logits(job.evaluation.texts, config.max_length))
        saved = {"parts": ["transformer", TFIDF_PART], "weights": [0.5, 0.5],
                 "blend": "mean of the parts' log-probabilities", "tfidf": TFIDF_DESCRIPTION}
        (job.folder / STACK_FILE).write_text(json.dumps(saved, indent=1) + "\n", encoding="utf-8")
        # the blend is fixed, so the only choice the evaluation rows made is the transformer's epoch: cross-fit it
        crossed = nested_epoch_choice(tuned, job)
        transformer = crossed if crossed is not None else tuned.epoch_proba[tuned.best]
        stacked = softmax(blend(saved["weights"], [transformer, tfidf]))
        training = dict(tuned.training)
        training["wall_seconds"] += time.perf_counter() - started
        training["parts_seconds"] = {"transformer": tuned.training["wall_seconds"],
                                     "tfidf": time.perf_counter() - started}
        training["tfidf"] = {k: tfidf_training[k] for k in ("wall_seconds", "examples_per_second")}
        parts = {"transformer": transformer, TFIDF_PART: tfidf, BLEND_PART: stacked}
        # with one evaluated epoch there was nothing to choose, and the saved model scores the rows directly
        return Fitted(tuned.base_model, training, stacked if crossed is not None else None, parts, BLEND_PART)

    def load(self, path: Path, meta: dict, backend: str, device: str | None, trust_pickle: bool = False) -> Backend:
        if not (path / STACK_FILE).exists():
            raise ModelError(f"{path}: a stacked model without its {STACK_FILE}")
        return StackBackend(path, meta, backend, device, trust_pickle)


METHOD = Stack()
