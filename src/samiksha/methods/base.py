"""The one interface every training method follows: fit texts and labels into a folder; load a backend from one."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..backends import Backend
from ..config import TrainConfig
from ..labels import LabelSchema

if TYPE_CHECKING:  # pandas (under data) loads with the first data read, not with the command line
    from ..data import LabelledData


class Targets:
    """What fine-tuning learns on the training rows: their true labels (this class, the default), or something
    a subclass brings, such as a teacher's probabilities (`samiksha.distill.Distillation`)."""

    parts_from: Path | None = None  # a stacked model reuses this folder's TF-IDF model instead of fitting its own
    trust_pickle: bool = False  # ... which may be an older folder's pickle (saved anew, safely)
    extra_columns: bool = False  # the training rows carry columns that are no model input (kept for the loss)

    def counts(self, part: LabelledData) -> dict[str, int]:
        """Training rows per class with a true label (the class weights follow them)."""
        return part.counts()

    def prepare(self, model) -> dict:
        """Change the model before training starts; returns what to record in the folder's ``training``."""
        return {}

    def columns(self, columns: dict[str, list]) -> dict[str, list]:
        """The training dataset's columns (``labels``: label ids in row order)."""
        return columns

    def trainer_class(self, base: type) -> type:
        """The `Trainer` class that trains on these targets, given the fine-tune's own (class-weighted) one."""
        return base


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
    targets: Targets = field(default_factory=Targets)  # fine-tuning only: what the training rows teach

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
    blend: str | None = None  # the name in ``parts`` of the model's own output (reported with the headline's scores)


SAMIKSHA_USAGE = ('```python\nfrom samiksha import Classifier\nclassify = Classifier.load("PATH/TO/THIS/FOLDER")\n'
                  'classify.predict(["delivery fast thi aur quality bhi badiya"])\n```\n\n'
                  'or `samiksha predict PATH/TO/THIS/FOLDER "your review"`')


def stored_safely(files: str, note: str = "") -> str:
    """The model card's paragraph on how a folder is stored: ``files`` is what each part's files are."""
    return (f"Stored as safetensors and JSON: {files}. No file in this folder is a pickle, so loading it runs no code "
            f"from the folder.{note}")


class Method:
    """A training method: what every method declares, with the defaults of a method that declares nothing more.

    A method is one object (``METHOD`` in its module), registered by name in `samiksha.methods` (built in, or by a
    package's ``samiksha.methods`` entry point). Its settings are a dataclass with a ``section`` name: they are set
    with ``--set SECTION.FIELD=VALUE`` and saved in ``samiksha.json`` under ``config.settings.SECTION``.
    """

    name: str
    summary: str = ""  # one phrase for `--method`'s help
    settings: type | None = None  # the method's settings dataclass (None: it has none)
    fine_tunes: bool = False  # fine-tunes a transformer (so it can be distilled and exported to ONNX)
    sentence_transformer: bool = False  # needs a sentence-transformers model
    onnx: bool = False  # its folders export to ONNX
    compared: bool = False  # in `compare` and `curve` by default
    parts: dict[str, str] = {}  # the parts its report scores one by one, with what each is (for the model card)
    presets: dict[str, dict[str, Any]] = {}  # named settings (`--preset`) that choose this method
    aliases: dict[str, str] = {}  # CLI flags kept for its settings: flag name -> SECTION.NAME

    @property
    def uses_model(self) -> bool:
        """Whether it trains from a base model (``--model``); a class may set it."""
        return self.fine_tunes or self.sentence_transformer

    def resolve(self, config: TrainConfig, data: LabelledData) -> TrainConfig:
        """``config`` made concrete for training this method on ``data`` (method and settings already chosen)."""
        return config.sized_for(len(data))

    def auto(self, config: TrainConfig, counts: dict[str, int], sentence_model: bool) -> str | None:
        """Why ``--method auto`` picks this method for training data with these label counts, or None when it does
        not (``sentence_model``: whether the model to use is a sentence-transformers model)."""
        return None

    def student(self, keep_parts: bool) -> str | None:
        """The method a distilled student of one of this method's models trains with (None: cannot be distilled);
        ``keep_parts``: the student keeps this model's cheap parts (TF-IDF)."""
        return None

    def usage(self, meta: dict) -> str:
        """How to use a folder this method wrote, for its model card (Markdown)."""
        return SAMIKSHA_USAGE + "."

    def storage(self, meta: dict) -> str:
        """What the folder's files are, for its model card (Markdown); empty when nothing needs saying."""
        return ""

    def fit(self, job: FitJob) -> Fitted:
        """Train on ``job.train`` and write a loadable folder to ``job.folder``."""
        raise NotImplementedError

    def load(self, path: Path, meta: dict, backend: str, device: str | None, trust_pickle: bool = False) -> Backend:
        """The runtime for a folder this method wrote (``backend``: auto, torch or onnx).

        ``trust_pickle``: also load an older folder's pickled parts (a pickle can run code; see `sklearn_parts`).
        """
        raise NotImplementedError
