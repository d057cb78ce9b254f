"""TrainConfig: every training choice in one dataclass, validated, saved with the model as JSON."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .errors import SamikshaError

PRESETS = ("default", "lesson")
METHODS = ("auto", "stack", "finetune", "setfit", "tfidf", "ensemble")
# `auto` picks by the smallest class's number of labelled training examples (TrainConfig.method_for): SetFit
# below SETFIT_BELOW, else fine-tuning (stacked with TF-IDF unless --no-stack). Basis: the learning curve in docs/curves (benchmarks/learning_curve.py on a
# GPU, MiniLM, 3 seeds, macro-F1 finetune / setfit / tfidf). SentiMix Hinglish tweets (3,000 dev texts): 8 per class
# 0.327 / 0.416 / 0.404, 16: 0.368 / 0.447 / 0.480, 32: 0.471 / 0.473 / 0.494, 64: 0.508 / 0.505 / 0.514,
# 256: 0.546 / 0.530 / 0.543, all: 0.619 / 0.579 / 0.613. Flipkart reviews (1,211 held out): 8: 0.418 / 0.479 /
# 0.423, 16: 0.482 / 0.564 / 0.469, 32: 0.548 / 0.551 / 0.489 (fine-tuning's std 0.117 vs SetFit's 0.030),
# 64: 0.628 / 0.587 / 0.519, 256: 0.631 / 0.612 / 0.581, all: 0.684 / 0.626 / 0.627. SetFit up to 32 per class
# and fine-tuning from 64 is the single threshold with the smallest gaps to the best method on both; TF-IDF, best on
# tweets at 16-64 per class (up to 3.3 points), is far behind on product reviews (9.5 points at 16), so auto
# never picks it.
SETFIT_BELOW = 64
# Fine-tuning freezes the token embeddings when they hold more than this share of the parameters (a large
# multilingual vocabulary: 81% of multilingual-e5-small). Measured there (benchmarks/hindi.py): 1.6x the training
# examples/s on 2 CPU cores (21.6 vs 13.7, 320 IITP texts, 2 runs each); macro-F1 within a point on a GPU
# (IITP Hindi 0.744 frozen vs 0.747, SentiMix 0.611 vs 0.617, one seed).
FREEZE_EMBEDDINGS_ABOVE = 2 / 3
FINE_TUNING = ("finetune", "stack")  # the methods that fine-tune a transformer
SMALL_DATA = 1000  # below this many training texts, a shorter schedule of smaller steps (TrainConfig.sized_for)
# Below SMALL_DATA, fine-tuning takes batches of 8 and, by model, at most this many epochs (held-out macro-F1 stops
# them earlier, see early_stopping_patience) at this peak learning rate. MiniLM's was measured on 600 SentiMix
# tweets and 600 Flipkart reviews (issue 10). At 1.5e-4 the 12-layer multilingual e5 stalled on some demo seeds:
# once the rate peaked, its [CLS] vectors of different texts drew together, so every text got one label and the
# loss stayed at ln 3. benchmarks/stall_probe.py (the demo, first 45 steps; spread of the [CLS] vectors, 0.30 at
# the start): at 1.5e-4 seed 42 collapsed (0.06) and 1 of 4 seeds in all; at 1e-4 none of 4 did, but seed 44 fell
# to 0.20 at step 30 before it recovered; at 5e-5 neither of 2 seeds fell below 0.28. The smaller steps need more
# passes, so the other models train until held-out macro-F1 stops improving, within a cap.
SMALL_DATA_SCHEDULE = {"minilm": (3, 1.5e-4)}  # model -> (epochs, learning rate)
# any other model: at most 6 epochs at 5e-5 (the cap of 6 is not yet measured: benchmarks/schedule.py)
SMALL_DATA_OTHER = (6, 5e-5)
SEEDS_BELOW = 300  # with fewer training texts, the report gives macro-F1 over REPORT_SEEDS seeds
REPORT_SEEDS = 3


@dataclass
class TrainConfig:
    """Training settings. ``epochs``, ``batch_size`` and ``learning_rate`` left None are picked by data size
    (``sized_for``)."""

    model: str | None = None
    method: str = "auto"
    preset: str = "default"
    epochs: float | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    max_length: int = 128
    padding: str = "dynamic"  # or "max_length", as in the classic recipe
    group_by_length: bool = True
    warmup: float = 0.06  # a fraction of the steps (< 1) or a number of steps (>= 1)
    weight_decay: float = 0.01
    class_weights: str | dict[str, float] = "balanced"
    early_stopping_patience: int | None = 2
    best_metric: str = "macro_f1"
    eval_fraction: float = 0.15
    eval_max_rows: int | None = 1000  # held-out rows are capped: past ~1,000 they add little to the choices or the
    # report (a 95% interval of about +-0.03) and the rest trains the model
    seed: int = 42
    text_column: str | None = None
    label_column: str | None = None
    label_scheme: str | None = None  # how numeric labels read: stars or ids (None: by the column's name and values)
    offline: bool = False
    max_steps: int = -1
    report_seeds: int | None = None  # None: REPORT_SEEDS below SEEDS_BELOW training texts, else 1
    setfit_iterations: int = 5  # SetFit pairs per text (half similar, half not) in the contrastive phase
    max_pairs: int = 2000  # cap on SetFit's contrastive pairs, so CPU training stays in minutes
    freeze_embeddings: bool | None = None  # keep token embeddings fixed; None: when they are most of the model
    normalise: bool = True  # clean text the same way in training and prediction (see normalise.py)
    text_steps: list[str] | None = None  # the clean-up steps; None: normalise.DEFAULT_STEPS (saved made concrete)
    stack: bool = True  # auto: stack the fine-tuned transformer with TF-IDF (False: the transformer alone)
    input_prefix: str | None = None  # put before every text the transformer reads; None: by model (saved concrete)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise SamikshaError(f"unknown preset '{self.preset}' (choose from {', '.join(PRESETS)})")
        if self.method not in METHODS:
            raise SamikshaError(f"unknown method '{self.method}' (choose from {', '.join(METHODS)})")
        if self.padding not in ("dynamic", "max_length"):
            raise SamikshaError(f"padding must be 'dynamic' or 'max_length', not '{self.padding}'")
        if isinstance(self.class_weights, str) and self.class_weights not in ("balanced", "none"):
            raise SamikshaError("class weights must be 'balanced', 'none' or name=weight pairs, "
                                f"not '{self.class_weights}'")
        checks = [(self.batch_size is None or self.batch_size >= 1, "batch size must be at least 1"),
                  (self.learning_rate is None or self.learning_rate > 0, "learning rate must be positive"),
                  (8 <= self.max_length <= 8192, "max length must be between 8 and 8192"),
                  (self.epochs is None or self.epochs > 0, "epochs must be positive"),
                  (0 < self.eval_fraction < 1, "eval fraction must be between 0 and 1"),
                  (self.warmup >= 0, "warmup must not be negative"),
                  (self.report_seeds is None or self.report_seeds >= 1, "report seeds must be at least 1"),
                  (self.setfit_iterations >= 1, "SetFit iterations must be at least 1"),
                  (self.max_pairs >= 2, "max pairs must be at least 2")]
        for ok, message in checks:
            if not ok:
                raise SamikshaError(message)
        if self.text_steps is not None:
            from .normalise import normaliser

            normaliser(self.text_steps)  # one clear line for an unknown step

    @classmethod
    def for_preset(cls, preset: str = "default", **overrides: Any) -> TrainConfig:
        """A config for a preset; ``overrides`` that are not None win over the preset's values."""
        values: dict[str, Any] = {"preset": preset}
        if preset == "lesson":
            # The classic classroom recipe, exactly: pad to 128, batch 4, 5 epochs, warmup 10 steps,
            # weight decay 0.01, Trainer's default learning rate, best checkpoint by eval loss, no weights.
            values.update(method="finetune", stack=False, epochs=5, batch_size=4, learning_rate=5e-5, max_length=128, padding="max_length",
                          group_by_length=False, warmup=10, weight_decay=0.01, class_weights="none",
                          early_stopping_patience=None, best_metric="loss",
                          normalise=False, freeze_embeddings=False, input_prefix="")
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def epochs_for(self, n_train: int) -> float:
        """The number of epochs to run: as set, or by data size when unset."""
        if self.epochs is not None:
            return self.epochs
        if self._small_data(n_train):
            return self._small_schedule()[0]
        if n_train < 5000:
            return 5
        return 3

    def _small_data(self, n_train: int) -> bool:
        """Whether the small-data schedule applies (measured for fine-tuning only)."""
        return n_train < SMALL_DATA and self.method in FINE_TUNING

    def _small_schedule(self) -> tuple[float, float]:
        """(epochs, learning rate) of the small-data schedule for this config's model (None: MiniLM)."""
        return SMALL_DATA_SCHEDULE.get(self.model or "minilm", SMALL_DATA_OTHER)

    def sized_for(self, n_train: int) -> TrainConfig:
        """This config with epochs, batch size and learning rate made concrete for ``n_train`` texts, where unset.

        Fine-tuning below 1,000 texts: batches of 8. MiniLM: 3 epochs at 1.5e-4, more and smaller steps in a third
        of the passes; on 600 SentiMix tweets (two samples) and 600 Flipkart reviews the stack scored as well as or
        better than with up to 8 epochs of 16 at 1e-4 (early stopping) in 40-70% of the time. Other models: at most
        6 epochs at 5e-5 (see SMALL_DATA_OTHER). From 1,000: batches of 16 at 1e-4, 5 epochs below 5,000 texts,
        else 3.
        """
        small = self._small_data(n_train)
        return replace(self, epochs=self.epochs_for(n_train),
                       batch_size=self.batch_size or (8 if small else 16),
                       learning_rate=self.learning_rate or (self._small_schedule()[1] if small else 1e-4))

    def method_for(self, counts: dict[str, int], fine_tune_only: bool = False) -> tuple[str, str]:
        """The method to train and why: as set, or for ``auto`` by the smallest class's count.

        ``fine_tune_only``: the model to use is a plain transformer (no sentence-transformers body for SetFit),
        so it is fine-tuned whatever the data size.
        """
        if self.method != "auto":
            return self.method, "as requested"
        smallest = min(counts.values())
        if fine_tune_only:
            return self._fine_tune_method(f"the model {self.model} is not a sentence-transformers model, so it is "
                                          "fine-tuned")
        if smallest < SETFIT_BELOW:
            return "setfit", f"smallest class has {smallest} examples (< {SETFIT_BELOW}): few-shot SetFit"
        return self._fine_tune_method(f"smallest class has {smallest} examples (>= {SETFIT_BELOW}): fine-tuning")

    def _fine_tune_method(self, why: str) -> tuple[str, str]:
        if self.stack:
            return "stack", f"{why}, stacked with TF-IDF (mean of log-probabilities; --no-stack: the transformer alone)"
        return "finetune", f"{why}, the transformer alone (--no-stack)"

    def seeds_for(self, n_train: int) -> int:
        """How many seeds the training report measures: as set, or several on small data."""
        if self.report_seeds is not None:
            return self.report_seeds
        return REPORT_SEEDS if n_train < SEEDS_BELOW else 1

    def weights_for(self, names: tuple[str, ...], counts: dict[str, int]) -> list[float] | None:
        """Per-class loss weights in label order, or None for an unweighted loss."""
        if self.class_weights == "none":
            return None
        if self.class_weights == "balanced":
            total = sum(counts.values())
            return [total / (len(names) * counts[n]) for n in names]
        unknown = set(self.class_weights) - set(names)
        if unknown:
            raise SamikshaError(f"class weights name unknown label(s) {sorted(unknown)}; labels are {list(names)}")
        return [float(self.class_weights.get(n, 1.0)) for n in names]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


def parse_class_weights(value: str) -> str | dict[str, float]:
    """'balanced', 'none', or 'negative=2,neutral=1.5' keyed by label name."""
    value = value.strip()
    if value in ("balanced", "none"):
        return value
    weights = {}
    for part in value.split(","):
        name, sep, number = part.partition("=")
        try:
            weights[name.strip()] = float(number)
        except ValueError:
            raise SamikshaError(f"class weights: '{part}' is not name=number") from None
        if not sep or not name.strip():
            raise SamikshaError(f"class weights: '{part}' is not name=number")
    return weights
