"""The one interface every training method follows: fit texts and labels into a folder; load a backend from one."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from ..backends import Backend
from ..config import TrainConfig
from ..data import LabelledData
from ..labels import LabelSchema


@dataclass
class Distillation:
    """Soft targets from a teacher model for fine-tuning a smaller student (see `samiksha.distill`)."""

    soft: np.ndarray  # the teacher's probabilities at ``temperature``, one row per training text
    labelled: np.ndarray  # True where a training text has a true label (the rest are the teacher's guesses)
    temperature: float
    hard_weight: float  # the loss: (1 - w) * T^2 * KL(teacher || student) + w * cross-entropy on true labels
    layers: int | None = None  # keep this many of the initial model's transformer layers (None: all)
    tfidf_from: Path | None = None  # a stacked student reuses this (the teacher's) folder's TF-IDF model
    trust_pickle: bool = False  # the teacher's TF-IDF model may be an older folder's pickle (saved anew, safely)


@dataclass
class FitJob:
    """Everything a method needs to train: the data, its settings, and where to write the model."""

    train: LabelledData
    evaluation: LabelledData  # the rows that may choose (the best epoch); the report cross-fits them
    schema: LabelSchema
    config: TrainConfig
    folder: Path  # the staging folder the model is written to
    output: Path  # the folder it will be published as (checkpoints live beside it)
    class_weights: list[float] | None = None  # per-class loss weights in label order; None: unweighted
    resume: bool = False
    callbacks: list = field(default_factory=list)
    distillation: Distillation | None = None  # fine-tuning only: learn a teacher's soft labels

    def label_ids(self, part: LabelledData) -> list[int]:
        return [self.schema.label2id[name] for name in part.labels]

    @property
    def sklearn_class_weight(self) -> dict[int, float] | None:
        """The class weights in scikit-learn's form, keyed by label id."""
        return dict(enumerate(self.class_weights)) if self.class_weights else None


@dataclass
class Fitted:
    """What a method reports after writing its folder.

    ``report_proba``: out-of-sample probabilities on the evaluation rows, when the method used those rows to
    choose anything (an epoch); None when it chose nothing, and the saved model scores them.
    ``parts``: out-of-sample probabilities of each component on the evaluation rows, reported side by side.
    """

    base_model: str
    training: dict
    report_proba: np.ndarray | None = None
    parts: dict[str, np.ndarray] = field(default_factory=dict)


class Method(Protocol):
    name: str

    def fit(self, job: FitJob) -> Fitted:
        """Train on ``job.train`` and write a loadable folder to ``job.folder``."""
        ...

    def load(self, path: Path, meta: dict, backend: str, device: str | None, trust_pickle: bool = False) -> Backend:
        """The runtime for a folder this method wrote (``backend``: auto, torch or onnx).

        ``trust_pickle``: also load an older folder's pickled parts (a pickle can run code; see `sklearn_parts`).
        """
        ...
