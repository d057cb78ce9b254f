"""TrainConfig: the training choices every method shares, plus the chosen method's own settings (see `methods`),
validated, saved with the model as JSON."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from .errors import SamikshaError
from .normalise import DEFAULT_STEPS, Normaliser, normaliser

# `auto` picks by the smallest class's number of labelled training examples (the methods' `auto` tests): SetFit
# below SETFIT_BELOW, else fine-tuning, stacked with TF-IDF unless --no-stack (why: docs/decisions.md)
SETFIT_BELOW = 64
# freeze the token embeddings when they are more than this share of the parameters (why: docs/decisions.md)
FREEZE_EMBEDDINGS_ABOVE = 2 / 3
SMALL_DATA = 1000  # below this many training texts, fine-tuning's shorter schedule of smaller steps (sized_for)
# Below SMALL_DATA, fine-tuning takes batches of 8 and, by model, at most this many epochs (held-out macro-F1 stops
# them earlier: finetune.early_stopping_patience) at this peak learning rate. MiniLM's was measured on 600 SentiMix
# tweets and 600 Flipkart reviews. At 1.5e-4 the 12-layer multilingual e5 collapsed to one class on 1 of 4 demo seeds
# (benchmarks/stall_probe.py; why: docs/decisions.md), so the other models take smaller steps until held-out
# macro-F1 stops improving, within a cap.
SMALL_DATA_SCHEDULE = {"minilm": (3, 1.5e-4)}  # model -> (epochs, learning rate)
# any other model: at most 6 epochs at 5e-5 (the cap of 6 is not yet measured: benchmarks/schedule.py)
SMALL_DATA_OTHER = (6, 5e-5)
SEEDS_BELOW = 300  # with fewer training texts, the report gives macro-F1 over REPORT_SEEDS seeds
REPORT_SEEDS = 3
S = TypeVar("S")


@dataclass
class TrainConfig:
    """Training settings. ``epochs``, ``batch_size`` and ``learning_rate`` left None are picked by data size
    (``sized_for``). ``settings``: the methods' own settings by section (``{"finetune": {"warmup": 0.1}}``); a
    trained model's config holds its method's, every field set."""

    model: str | None = None
    method: str = "auto"
    preset: str = "default"
    epochs: float | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    max_length: int = 128
    class_weights: str | dict[str, float] = "balanced"
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
    normalise: bool = True  # clean text the same way in training and prediction (see normalise.py)
    text_steps: list[str] | None = None  # the clean-up steps; None: normalise.DEFAULT_STEPS (saved made concrete)
    stack: bool = True  # auto: stack the fine-tuned transformer with TF-IDF (False: the transformer alone)
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    legacy: dict[str, Any] = field(default_factory=dict)  # method settings an older samiksha.json kept flat

    def __post_init__(self) -> None:
        if isinstance(self.class_weights, str) and self.class_weights not in ("balanced", "none"):
            raise SamikshaError("class weights must be 'balanced', 'none' or name=weight pairs, "
                                f"not '{self.class_weights}'")
        checks = [(self.batch_size is None or self.batch_size >= 1, "batch size must be at least 1"),
                  (self.learning_rate is None or self.learning_rate > 0, "learning rate must be positive"),
                  (8 <= self.max_length <= 8192, "max length must be between 8 and 8192"),
                  (self.epochs is None or self.epochs > 0, "epochs must be positive"),
                  (0 < self.eval_fraction < 1, "eval fraction must be between 0 and 1"),
                  (self.report_seeds is None or self.report_seeds >= 1, "report seeds must be at least 1")]
        for ok, message in checks:
            if not ok:
                raise SamikshaError(message)
        if self.text_steps is not None:
            normaliser(self.text_steps)  # one clear line for an unknown step

    def method_settings(self, cls: type[S]) -> S:
        """The method settings of dataclass ``cls`` (its section in ``settings``) over their defaults, checked by
        ``cls``; for a config an older Samiksha saved, with the values it kept flat (``cls.renamed``: old names)."""
        fields = {f.name for f in dataclasses.fields(cls)}
        flat = {**{name: name for name in fields}, **getattr(cls, "renamed", {})}
        values = {new: self.legacy[old] for old, new in flat.items() if old in self.legacy}
        values.update(self.settings.get(cls.section, {}))
        unknown = sorted(set(values) - fields)
        if unknown:
            raise SamikshaError(f"unknown setting(s) {', '.join(f'{cls.section}.{k}' for k in unknown)} (choose from "
                                f"{', '.join(f'{cls.section}.{f}' for f in sorted(fields))})")
        return cls(**values)

    def normaliser(self) -> Normaliser:
        """The clean-up a training run uses: none without ``normalise``, else the steps named, else the default."""
        if not self.normalise:
            return Normaliser(())
        return normaliser(self.text_steps if self.text_steps is not None else DEFAULT_STEPS)

    def epochs_for(self, n_train: int, small_schedule: bool = False, schedule_model: str | None = None) -> float:
        """The number of epochs to run: as set, or by data size when unset (``small_schedule``: the method's
        schedule for fewer than SMALL_DATA texts, measured for fine-tuning, by ``schedule_model`` or this config's
        model)."""
        if self.epochs is not None:
            return self.epochs
        if small_schedule and n_train < SMALL_DATA:
            return self._small_schedule(schedule_model)[0]
        if n_train < 5000:
            return 5
        return 3

    def _small_schedule(self, model: str | None = None) -> tuple[float, float]:
        """(epochs, learning rate) of the small-data schedule for ``model``, else this config's (None: MiniLM)."""
        return SMALL_DATA_SCHEDULE.get(model or self.model or "minilm", SMALL_DATA_OTHER)

    def sized_for(self, n_train: int, small_schedule: bool = False, schedule_model: str | None = None) -> TrainConfig:
        """This config with epochs, batch size and learning rate made concrete for ``n_train`` texts, where unset.

        ``small_schedule`` (fine-tuning's), below 1,000 texts: batches of 8; MiniLM 3 epochs at 1.5e-4, other models
        at most 6 epochs at 5e-5 (SMALL_DATA_OTHER). From 1,000: batches of 16 at 1e-4, 5 epochs below 5,000 texts,
        else 3 (the measurements: docs/decisions.md).
        """
        small = small_schedule and n_train < SMALL_DATA
        return replace(self, epochs=self.epochs_for(n_train, small_schedule, schedule_model),
                       batch_size=self.batch_size or (8 if small else 16),
                       learning_rate=self.learning_rate or (self._small_schedule(schedule_model)[1] if small else 1e-4))

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
        """A config as ``to_dict`` wrote it; an older samiksha.json's flat method settings are kept in ``legacy``,
        where the method's settings read them (`methods.settings_for`)."""
        known = {f.name for f in dataclasses.fields(cls)}
        flat = {k: v for k, v in values.items() if k not in known}
        return cls(**{k: v for k, v in values.items() if k in known - {"legacy"}},
                   legacy={**values.get("legacy", {}), **flat})


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
