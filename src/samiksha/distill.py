"""Distillation: a smaller, faster student learns a trained model's probabilities (the stack's included).

The student starts from the teacher's own fine-tuned transformer with some of its layers kept (`keep_layers`), and
is fine-tuned with `Trainer` like any model (`methods.finetune`), on the teacher's soft labels over the teacher's
training texts plus any unlabelled reviews the user has. The teacher's evaluation rows (its ``eval.csv``, true
labels) choose the student's epoch and are never used as unlabelled data. A stacked teacher's student is stacked with
the teacher's TF-IDF model (measured: the distilled transformer alone stays 2-3 points below the stack on SentiMix).
`Distillation` is what the student learns (the teacher's probabilities and the true labels where known) and
`DistillationTrainer` the loss, as setfit's `DistillationTrainer`; the fine-tune itself is the ordinary one.
The student is an ordinary model folder (method ``stack`` or ``finetune``): `Classifier`, a plain `pipeline()`
(the transformer alone) and `samiksha export` load it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from . import methods
from .backends import softmax
from .config import TrainConfig
from .data import LabelledData, fingerprint, load_labelled, normalise_text
from .errors import SamikshaError
from .labels import LabelSchema
from .methods.finetune import keep_layers
from .modelfolder import ModelFolder
from .predict import Classifier
from .train import TrainResult, train_parts, writing

log = logging.getLogger(__name__)
# the student's layers, epochs, temperature and caps: chosen by benchmarks/student.py (docs/decisions.md)
DEFAULT_LAYERS = 2
TEMPERATURE = 2.0
HARD_WEIGHT = 0.5
MAX_UNLABELLED = 20_000
DISTIL_EPOCHS = 2


class Distillation(methods.Targets):
    """A teacher's probabilities at ``temperature`` for every training row, and the true labels where known
    (``labelled``); the student keeps ``layers`` of the model's transformer layers (None: all)."""

    extra_columns = True  # ``soft``: the teacher's probabilities, read by the loss and never by the model

    def __init__(self, soft: np.ndarray, labelled: np.ndarray, temperature: float = TEMPERATURE,
                 hard_weight: float = HARD_WEIGHT, layers: int | None = None, parts_from: Path | None = None,
                 trust_pickle: bool = False):
        self.soft, self.labelled, self.temperature, self.hard_weight = soft, labelled, temperature, hard_weight
        self.layers, self.parts_from, self.trust_pickle = layers, parts_from, trust_pickle

    def counts(self, part: LabelledData) -> dict[str, int]:
        return dict(Counter(y for y, known in zip(part.labels, self.labelled) if known))

    def prepare(self, model) -> dict:
        return {"layers_kept": keep_layers(model, self.layers)} if self.layers else {}

    def columns(self, columns: dict[str, list]) -> dict[str, list]:
        labels = [y if known else -100 for y, known in zip(columns["labels"], self.labelled)]  # -100: no true label
        return {**columns, "labels": labels, "soft": self.soft.astype(np.float32).tolist()}

    def trainer_class(self, base: type) -> type:
        import torch

        distillation = self

        class DistillationTrainer(base):
            """(1 - w) * T^2 * KL(teacher || student at temperature T) + w * the fine-tune's (class-weighted)
            cross-entropy on the rows with a true label (Hinton et al., 2015)."""

            def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
                soft = inputs.pop("soft", None)
                if soft is None:  # evaluation rows: true labels only
                    return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
                labels = inputs.pop("labels")
                outputs = model(**inputs)
                logits = outputs.logits.float()
                t, w = distillation.temperature, distillation.hard_weight
                kd = torch.nn.functional.kl_div(torch.log_softmax(logits / t, dim=-1), soft.float(),
                                                reduction="batchmean") * t * t
                loss = (1 - w) * kd + w * self.hard_loss(logits, labels)
                return (loss, outputs) if return_outputs else loss

        return DistillationTrainer


def _teacher_training_data(teacher_dir: Path, meta: dict, schema: LabelSchema, train_data: str | Path | None,
                           key: Callable[[str], str], evaluation_keys: set[str]) -> LabelledData:
    """The teacher's training texts: ``train_data``, or the file its model folder names, minus its evaluation rows."""
    recorded = meta.get("data", {}).get("train", {})
    source = train_data if train_data is not None else recorded.get("source")
    if source is None or (train_data is None and not Path(source).exists()):
        raise SamikshaError(f"{teacher_dir}: its training data ({source or 'not recorded'}) is not there; "
                            "pass it with --train")
    if train_data is None and recorded.get("sha256") and fingerprint(source) != recorded["sha256"]:
        log.warning("%s: changed since the teacher was trained on it; distilling on it as it is now", source)
    scheme = {"stars": "stars", "index": "ids"}.get(recorded.get("label_kind"))  # numbers read as the teacher's were
    data = load_labelled(source, recorded.get("text_column"), recorded.get("label_column"), schema=schema,
                         label_scheme=scheme)
    keep = [i for i, t in enumerate(data.texts) if key(t) not in evaluation_keys]
    return data.subset(keep)


def read_unlabelled(files: list[str | Path], text_column: str | None, evaluation_keys: set[str],
                    training_keys: set[str], limit: int | None, seed: int,
                    key: Callable[[str], str] = normalise_text) -> tuple[list[str], dict]:
    """Texts of unlabelled review files (any supported format): no duplicates, no evaluation or training text (by
    ``key``), at most ``limit`` (a seeded sample); and a report of what was read and left out."""
    from .suggest import read_pool

    texts: list[str] = []
    seen: set[str] = set()
    report = {"files": [], "evaluation_rows_left_out": 0, "training_rows_left_out": 0, "duplicates": 0}
    for file in files:
        pool = read_pool(file, text_column)
        report["files"].append({"source": pool.source, "rows": len(pool.texts)})
        for text in pool.texts:
            text_key = key(text)
            if text_key in evaluation_keys:
                report["evaluation_rows_left_out"] += 1
            elif text_key in training_keys:
                report["training_rows_left_out"] += 1
            elif text_key in seen:
                report["duplicates"] += 1
            else:
                seen.add(text_key)
                texts.append(text)
    if limit is not None and len(texts) > limit:
        log.info("using a seeded sample of %d of the %d new unlabelled reviews (--max-unlabelled)", limit, len(texts))
        picked = np.random.default_rng(seed).choice(len(texts), limit, replace=False)
        texts = [texts[i] for i in sorted(picked)]
    report["used"] = len(texts)
    return texts, report


def distill(teacher_dir: str | Path, output_dir: str | Path, *, unlabelled: list[str | Path] = (),
            train_data: str | Path | None = None, eval_data: str | Path | None = None,
            layers: int = DEFAULT_LAYERS, temperature: float = TEMPERATURE, hard_weight: float = HARD_WEIGHT,
            max_unlabelled: int | None = MAX_UNLABELLED, keep_tfidf: bool = True, text_column: str | None = None,
            epochs: float | None = None,
            seed: int | None = None, resume: bool = False, callbacks: list | None = None,
            trust_pickle: bool = False) -> TrainResult:
    """Train a ``layers``-layer student on ``teacher_dir``'s soft labels and write it to ``output_dir``.

    A stacked teacher's student is stacked with the teacher's own TF-IDF model (cheap to run: thousands of texts/s
    on a CPU) unless ``keep_tfidf`` is False; then it is the transformer alone. ``trust_pickle``: the teacher may be
    an older folder whose TF-IDF model is a pickle (the student gets it saved without pickle)."""
    teacher_dir, output = Path(teacher_dir), Path(output_dir)
    if temperature <= 0 or not 0 <= hard_weight <= 1:
        raise SamikshaError("--temperature must be positive and --hard-weight between 0 and 1")
    if output.resolve() == teacher_dir.resolve():
        raise SamikshaError(f"{output}: is the teacher's folder; write the student to another --output")
    teacher_folder = ModelFolder(teacher_dir)
    with writing(ModelFolder(output)):  # refused at once when another run writes there
        # the teacher itself, not an int8 approximation
        teacher = Classifier.load(teacher_dir, backend="torch", trust_pickle=trust_pickle)
        meta = teacher.meta
        student_method = methods.get(meta["method"]).student(keep_tfidf) if meta.get("method") else None
        if student_method is None:
            raise SamikshaError(f"{teacher_dir}: distillation needs a fine-tuned transformer (method "
                                f"{' or '.join(m.name for m in methods.all_methods() if m.student(True))}), not "
                                f"'{meta.get('method', 'a plain Hugging Face folder')}'")
        teacher_layers = getattr(teacher.backend, "transformer", teacher.backend).model.config.num_hidden_layers
        if not 1 <= layers <= teacher_layers:
            raise SamikshaError(f"--layers must be between 1 and the teacher's {teacher_layers} layers, not {layers}")
        schema = LabelSchema(tuple(teacher.labels))
        teacher_config = TrainConfig.from_dict(meta["config"])
        teacher_rows = teacher_folder.eval_file
        if eval_data is None and not teacher_rows.exists():
            raise SamikshaError(f"{teacher_dir}: has no {teacher_rows.name} to choose the student's epoch; pass --eval")
        evaluation = load_labelled(eval_data if eval_data is not None else teacher_rows, schema=schema)

        def key(text: str) -> str:
            return normalise_text(teacher.clean(text))

        evaluation_keys = {key(t) for t in evaluation.texts}
        if eval_data is not None and teacher_rows.exists():  # the teacher's own evaluation rows stay out too
            evaluation_keys |= {key(t) for t in load_labelled(teacher_rows, schema=schema).texts}
        labelled = _teacher_training_data(teacher_dir, meta, schema, train_data, key, evaluation_keys)
        extra, read = read_unlabelled(list(unlabelled), text_column, evaluation_keys, {key(t) for t in labelled.texts},
                                      max_unlabelled, teacher_config.seed, key)
        if read["evaluation_rows_left_out"]:
            log.warning("left out %d unlabelled review(s) that are also evaluation rows: they choose the student's "
                        "epoch and must never teach it", read["evaluation_rows_left_out"])
        texts = labelled.texts + [teacher.clean(t) for t in extra]
        log.info("the teacher (%s) labels %d texts (%d labelled, %d unlabelled)", teacher.backend.name, len(texts),
                 len(labelled), len(extra))
        scores = teacher.logits(texts)
        soft = softmax(scores / temperature)
        guesses = [teacher.labels[i] for i in scores.argmax(1)]
        combined = LabelledData(texts, labelled.labels + guesses[len(labelled):],
                                f"{labelled.source} + {len(extra)} unlabelled", labelled.text_column,
                                labelled.label_column, labelled.label_kind, labelled.rows + [0] * len(extra),
                                labelled.fingerprint)
        # the student keeps the teacher's TF-IDF model when it is not the one a student without it would be
        stacked = student_method != methods.get(meta["method"]).student(False)
        targets = Distillation(soft, np.arange(len(texts)) < len(labelled), temperature, hard_weight, layers,
                               teacher_dir.resolve() if stacked else None, trust_pickle)
        kind = methods.get(student_method).settings  # the teacher's, with its embeddings frozen as they were
        settings = {} if kind is None else {kind.section: {
            **dataclasses.asdict(teacher_config.method_settings(kind)),
            "freeze_embeddings": meta.get("training", {}).get("embeddings_frozen", False)}}
        own = settings.get(kind.section, {}) if kind is not None else {}
        if own.get("rdrop"):  # distillation's loss has no R-Drop term: say so, and record it off
            log.info("the teacher was trained with R-Drop; the student learns without it")
            own["rdrop"] = 0.0
        config = replace(teacher_config, model=str(teacher_dir.resolve()), method=student_method,
                         stack=stacked, epochs=epochs or DISTIL_EPOCHS,
                         batch_size=None, learning_rate=None, report_seeds=1,
                         seed=teacher_config.seed if seed is None else seed, settings=settings, legacy={},
                         extra={**teacher_config.extra, "distilled": {
                             "teacher": str(teacher_dir.resolve()), "teacher_method": meta["method"],
                             "teacher_base_model": meta.get("base_model"),
                             "teacher_layers": teacher_layers, "layers": layers, "temperature": temperature,
                             "hard_weight": hard_weight, "labelled_texts": len(labelled), "unlabelled": read,
                             "parts_kept": stacked,
                             "teacher_macro_f1": (teacher_folder.read_metrics() or {}).get("macro_f1")}})
        return train_parts(combined, evaluation, schema, output, config, resume=resume, callbacks=callbacks,
                           targets=targets)
