"""Fine-tuning a transformer with `transformers.Trainer`: class-weighted loss, early stopping, resumable checkpoints.

Every epoch's probabilities on the evaluation rows are kept, so the report can cross-fit the choice of the best
epoch (see `crossfit`) instead of scoring the saved model on the rows that chose it.
"""

from __future__ import annotations

import logging
import math
import re
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from ..backends import Backend, OnnxBackend, TorchBackend, onnx_model_file, softmax
from ..checkpoints import checkpoint_state, resume_from
from ..config import FREEZE_EMBEDDINGS_ABOVE, SETFIT_BELOW, TrainConfig
from ..crossfit import best_candidate, cross_fit
from ..distributed import BatchPlan, batch_plan, launch
from ..errors import ModelError, SamikshaError, first_line
from ..hf_logging import no_progress_bars, quiet_transformers
from ..labels import LabelSchema
from ..metrics import compute_metrics
from ..modelfolder import META, ModelFolder, adapted_from
from ..models import EMBEDDED, ResolvedModel, check_max_length, resolve_model
from ..normalise import saved_steps
from ..progress import trainer_bar
from ..storage import write_json
from .base import FitJob, Fitted, Method, Targets, stored_safely

if TYPE_CHECKING:  # pandas (under data) loads with the first data read, not with the command line
    from ..data import LabelledData

log = logging.getLogger(__name__)
EPOCH_PROBA = "eval-proba.npz"  # in the checkpoint folder: each evaluation's probabilities, kept for --resume
# The e5 family (multilingual-e5, e5-*-v2) was trained with "query: " before texts to classify; measured with it on
# IIT-P Hindi reviews (README), so fine-tuning keeps it. Matched on the model's Hub or folder name.
E5_NAME = re.compile(r"(^|[/_-])e5-(small|base|large)", re.IGNORECASE)


@dataclass
class FineTuneSettings:
    """Fine-tuning's own settings (``--set finetune.NAME=VALUE``), shared by the stack."""

    section: ClassVar[str] = "finetune"
    padding: str = "dynamic"  # or "max_length", as in the classic recipe
    group_by_length: bool = True
    warmup: float = 0.06  # a fraction of the steps (< 1) or a number of steps (>= 1)
    weight_decay: float = 0.01
    early_stopping_patience: int | None = 2
    best_metric: str = "macro_f1"
    freeze_embeddings: bool | None = None  # keep token embeddings fixed; None: when they are most of the model
    input_prefix: str | None = None  # put before every text the transformer reads; None: by model (saved concrete)
    label_smoothing: float = 0.0  # the cross-entropy's target: 1 - s on the label, s spread over all classes
    # R-Drop's weight (Liang et al. 2021): each batch goes twice through dropout (twice the compute and activation
    # memory per step) and the two outputs are pulled together; not used by distill, whose loss is its own
    rdrop: float = 0.0

    def __post_init__(self) -> None:
        if self.padding not in ("dynamic", "max_length"):
            raise SamikshaError(f"padding must be 'dynamic' or 'max_length', not '{self.padding}'")
        if self.warmup < 0:
            raise SamikshaError("warmup must not be negative")
        if not 0 <= self.label_smoothing < 1:
            raise SamikshaError(f"label_smoothing must be at least 0 and below 1, not {self.label_smoothing}")
        if self.rdrop < 0:
            raise SamikshaError(f"rdrop must not be negative, not {self.rdrop}")


def tuning(config: TrainConfig) -> FineTuneSettings:
    """The fine-tune settings in ``config``."""
    return config.method_settings(FineTuneSettings)


def saved_prefix(meta: dict) -> str:
    """The input prefix a saved folder was trained with ('' for folders from before prefixes, or plain ones)."""
    return tuning(TrainConfig.from_dict(meta.get("config", {}))).input_prefix or ""


@dataclass
class FineTuned:
    """A fine-tune written to its folder, with what the evaluation rows saw at each epoch."""

    base_model: str
    training: dict
    epoch_proba: list[np.ndarray]  # probabilities on the evaluation rows after each evaluated epoch, in row order
    best: int  # the index in ``epoch_proba`` of the saved checkpoint


def load_base(resolved: ResolvedModel, schema: LabelSchema):
    """Tokenizer and a fresh classification head on the base model, with label names set."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    try:
        with quiet_transformers():  # "newly initialized classifier" is expected here
            tokenizer = AutoTokenizer.from_pretrained(resolved.path, local_files_only=resolved.local_files_only)
            model = AutoModelForSequenceClassification.from_pretrained(
                resolved.path, num_labels=len(schema), id2label=schema.id2label, label2id=schema.label2id,
                dtype=torch.float32, ignore_mismatched_sizes=True, local_files_only=resolved.local_files_only)
    except (OSError, ValueError) as err:
        first = first_line(err)
        where = "the Hugging Face Hub (is there a network?)" if not resolved.local_files_only else "its folder"
        raise ModelError(f"{resolved.name}: cannot load a text-classification model from {where}: {first}") from None
    return tokenizer, model


def _datasets(tokenizer, schema: LabelSchema, config: TrainConfig, train: LabelledData, evaluation: LabelledData,
              targets: Targets | None = None):
    """Tokenized train and eval datasets, and the eval rows' order (sorted by length, for little padding). The
    training rows' columns are what ``targets`` makes of them (true labels by default)."""
    import datasets

    padding = "max_length" if tuning(config).padding == "max_length" else False
    prefix = tuning(config).input_prefix or ""

    def encode(batch):
        return tokenizer([prefix + t for t in batch["text"]], truncation=True, max_length=config.max_length,
                         padding=padding)

    out = []
    for part in (train, evaluation):
        columns = {"text": part.texts, "labels": [schema.label2id[n] for n in part.labels]}
        if part is train and targets is not None:
            columns = targets.columns(columns)
        ds = datasets.Dataset.from_dict(columns)
        out.append(ds.map(encode, batched=True, remove_columns=["text"]))
    order = np.argsort([len(ids) for ids in out[1]["input_ids"]], kind="stable")
    return out[0], out[1].select(order), order


def maybe_freeze_embeddings(model, freeze: bool | None) -> bool:
    """Keep the token embeddings fixed if asked, or (``None``) when they are most of the model; True if frozen."""
    embeddings = model.get_input_embeddings().weight
    share = embeddings.numel() / sum(p.numel() for p in model.parameters())
    if freeze is None:
        freeze = share > FREEZE_EMBEDDINGS_ABOVE
    if freeze:
        embeddings.requires_grad_(False)
        log.info("token embeddings frozen (%.0f%% of the parameters; --train-embeddings to tune them too)",
                 100 * share)
    return freeze


def keep_layers(model, k: int) -> list[int]:
    """Cut ``model`` down to ``k`` of its transformer layers, evenly spaced from the first to the last (as
    DistilBERT kept every other layer of BERT); returns the indices kept."""
    import torch

    n = model.config.num_hidden_layers
    if not 1 <= k <= n:
        raise SamikshaError(f"--layers must be between 1 and the model's {n} layers, not {k}")
    found = [(name, m) for name, m in model.base_model.named_modules()
             if isinstance(m, torch.nn.ModuleList) and len(m) == n]
    if not found:
        raise ModelError(f"{model.config.model_type}: cannot find its {n} transformer layers to keep {k} of them")
    name, layers = found[0]
    kept = sorted({round(i * (n - 1) / (k - 1)) for i in range(k)}) if k > 1 else [0]
    parent, _, attribute = name.rpartition(".")
    setattr(model.base_model.get_submodule(parent), attribute, torch.nn.ModuleList(layers[i] for i in kept))
    model.config.num_hidden_layers = k
    return kept


def _make_trainer_class():
    import torch
    from torch.utils.data import SequentialSampler
    from transformers import Trainer
    from transformers.trainer_pt_utils import LengthGroupedSampler

    class WeightedLossTrainer(Trainer):
        """Cross-entropy with per-class weights (a weighted mean over each optimizer step's rows, over all the
        processes), optionally label-smoothed and with R-Drop; evaluation rows in dataset order. Rows labelled -100
        (no true label) add no cross-entropy."""

        def __init__(self, *args, class_weights: list[float] | None = None, label_smoothing: float = 0.0,
                     rdrop: float = 0.0, **kwargs):
            super().__init__(*args, **kwargs)
            self.class_weights, self.label_smoothing, self.rdrop = class_weights, label_smoothing, rdrop
            self.loss_is_scaled_for_ga = False

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            if self.class_weights is None and not self.label_smoothing and not self.rdrop:
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            labels = inputs.pop("labels")
            if self.rdrop and model.training:
                # R-Drop: every row twice in one batch, so two dropout masks; R-Drop's loss halved (the mean of the
                # two cross-entropies), so the learning rate means what it means without it
                outputs = model(**{name: torch.cat([value, value]) for name, value in inputs.items()})
                both = outputs.logits.float()
                first, second = both.chunk(2)
                loss = self.hard_loss(both, torch.cat([labels, labels])) \
                    + self.rdrop / 2 * self.symmetric_kl(first, second)
                outputs.logits = first
            else:
                outputs = model(**inputs)
                loss = self.hard_loss(outputs.logits.float(), labels)
            return (loss, outputs) if return_outputs else loss

        def symmetric_kl(self, first, second):
            """(KL(p1 || p2) + KL(p2 || p1)) / 2, the mean over the step's rows, of two sets of logits."""
            p, q = torch.log_softmax(first, dim=-1), torch.log_softmax(second, dim=-1)
            kl = torch.nn.functional.kl_div
            both = kl(p, q, reduction="sum", log_target=True) + kl(q, p, reduction="sum", log_target=True)
            return self._step_mean(both / 2, torch.tensor(float(len(first)), device=first.device))

        def hard_loss(self, logits, labels):
            """The class-weighted cross-entropy of ``logits`` on the rows with a true label (labels >= 0)."""
            functional = torch.nn.functional
            weight = None if self.class_weights is None else torch.tensor(self.class_weights, device=logits.device)
            labelled = labels >= 0
            row_weight = labelled.float() if weight is None else weight[labels.clamp_min(0)] * labelled
            smoothing = self.label_smoothing if torch.is_grad_enabled() else 0.0  # evaluation: the plain loss
            return self._step_mean(functional.cross_entropy(logits, labels, weight=weight, reduction="sum",
                                                            label_smoothing=smoothing), row_weight.sum())

        def _step_mean(self, total, weight):
            """``total / weight`` over the optimizer step's whole batch. Under torchrun each process holds a share
            of the rows and DDP averages the processes' losses, so each divides its sum by the mean weight: the
            same weighted mean as one process taking all the rows (a mean per process would weigh a process
            holding rows of rare classes like one holding common ones). Evaluation (no gradient) keeps each
            process's mean."""
            if torch.is_grad_enabled() and self.args.world_size > 1:
                weight = self.accelerator.reduce(weight.detach(), reduction="mean")
            return total / weight.clamp_min(1e-12)

        def _get_train_sampler(self, train_dataset=None):
            if self.args.world_size == 1 or self.args.train_sampling_strategy != "group_by_length":
                return super()._get_train_sampler(train_dataset)
            # group rows of similar length by the global batch, as one process does with the same batch: the
            # processes' consecutive shares of one group then make up one optimizer step
            return LengthGroupedSampler(self.args.train_batch_size * self.args.world_size,
                                        dataset=self.train_dataset if train_dataset is None else train_dataset,
                                        model_input_name="input_ids")

        def _get_eval_sampler(self, eval_dataset):
            # Trainer groups evaluation batches by length too, which reorders the predictions; the evaluation
            # set is already sorted by length, so its own order pads little and keeps rows matched to texts.
            # Under torchrun, accelerate shards this sampler's batches and gathers them back in this order.
            return SequentialSampler(eval_dataset)

    return WeightedLossTrainer


def _training_arguments(config: TrainConfig, work: Path, epochs: float, plan: BatchPlan, extra_columns: bool = False):
    import torch
    from transformers import TrainingArguments

    cuda = torch.cuda.is_available()
    # under torchrun on CPUs, Trainer joins the other processes only with use_cpu and gloo; without them every
    # rank would silently train alone on all the data
    on_cpus = plan.processes > 1 and not cuda
    bf16 = cuda and torch.cuda.is_bf16_supported()
    settings = tuning(config)
    warmup = int(settings.warmup) if settings.warmup >= 1 else float(settings.warmup)
    return TrainingArguments(
        output_dir=str(work),
        num_train_epochs=epochs,
        max_steps=config.max_steps,
        per_device_train_batch_size=plan.per_device,
        per_device_eval_batch_size=max(config.batch_size, 64),
        learning_rate=config.learning_rate,
        warmup_steps=warmup,
        weight_decay=settings.weight_decay,
        eval_strategy="epoch",
        save_strategy="epoch",
        logging_strategy="epoch",
        load_best_model_at_end=True,
        metric_for_best_model=settings.best_metric,
        greater_is_better=settings.best_metric != "loss",
        save_total_limit=2,
        seed=config.seed,
        data_seed=config.seed,
        train_sampling_strategy="group_by_length" if settings.group_by_length else "random",
        bf16=bf16,
        fp16=cuda and not bf16,
        report_to="none",
        disable_tqdm=False,
        dataloader_pin_memory=cuda,
        remove_unused_columns=not extra_columns,  # such as a teacher's probabilities: no model input
        use_cpu=on_cpus,
        ddp_backend="gloo" if on_cpus else None,
    )


def _log_batch_plan(plan: BatchPlan, n_train: int, epochs: float, config: TrainConfig) -> None:
    """One line: how the rows of each optimizer step split over the processes, and how many steps the run takes."""
    per_epoch = plan.steps_per_epoch(n_train)
    steps = config.max_steps if config.max_steps > 0 else math.ceil(epochs * per_epoch)
    line = (f"batch plan: {plan.processes} process{'es' if plan.processes > 1 else ''} x {plan.per_device} rows x 1 "
            f"accumulation step = global batch {plan.global_batch}, {per_epoch} optimizer steps per epoch, "
            f"{'at most ' if tuning(config).early_stopping_patience else ''}{steps} in all")
    if plan.exact:
        log.info(line)
    else:
        log.warning("%s (--batch-size %d does not split evenly over %d processes; gradient accumulation cannot "
                    "make the global batch %d, a multiple of the processes)", line, plan.asked, plan.processes,
                    plan.asked)


class _EpochProba:
    """Each evaluation's probabilities on the evaluation rows, by training step, saved beside the checkpoints."""

    def __init__(self, work: Path, n_rows: int, order: np.ndarray, resumed_step: int | None):
        self.file, self.order, self.n_rows = work / EPOCH_PROBA, order, n_rows
        self.by_step: dict[int, np.ndarray] = {}
        if resumed_step is not None and self.file.exists():
            # evaluations after the checkpoint resumed from are run again
            with np.load(self.file) as saved:
                self.by_step = {int(k): saved[k] for k in saved.files if int(k) <= resumed_step}
        else:  # a fresh run never reuses another run's evaluations
            self.file.unlink(missing_ok=True)

    def record(self, step: int, logits: np.ndarray) -> None:
        proba = np.empty((self.n_rows, logits.shape[1]))
        proba[self.order] = softmax(np.asarray(logits, dtype=np.float64))
        self.by_step[step] = proba
        tmp = self.file.with_name(f".{self.file.name}.tmp.npz")
        if launch().main:  # every rank records the same gathered evaluation; one writes it
            np.savez(tmp, **{str(k): v for k, v in self.by_step.items()})
            tmp.replace(self.file)


def fine_tune(job: FitJob) -> FineTuned:
    """Fine-tune ``job.config.model`` with `Trainer` (checkpoints in DIR.checkpoints) and save the best epoch's
    model to ``job.folder``."""
    import datasets
    from transformers import DataCollatorWithPadding, EarlyStoppingCallback, set_seed
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    config, schema = job.config, job.schema
    resolved = resolve_model(config.model, config.offline)
    work = ModelFolder(job.output).checkpoints
    epochs = config.epochs_for(len(job.train))
    run_info = {"config": config.to_dict(), "train": job.train.describe(), "eval": job.evaluation.describe()}
    resume_point = resume_from(work, job.resume, run_info)
    resuming = resume_point is not None
    resumed_state = checkpoint_state(resume_point) if resuming else {}

    datasets.disable_progress_bars()
    set_seed(config.seed)
    tokenizer, model = load_base(resolved, schema)
    check_max_length(config.max_length, model.config.to_dict(), f"--max-length for {resolved.name}")
    prepared = job.targets.prepare(model)
    frozen = maybe_freeze_embeddings(model, tuning(config).freeze_embeddings)
    train_ds, eval_ds, order = _datasets(tokenizer, schema, config, job.train, job.evaluation, job.targets)
    if job.class_weights:
        log.info("class weights: %s", ", ".join(f"{n}={w:.2f}" for n, w in zip(schema.names, job.class_weights)))
    work.mkdir(parents=True, exist_ok=True)
    if launch().main:
        write_json(work / META, {"run": run_info})
    epoch_proba = _EpochProba(work, len(job.evaluation), order, resumed_state.get("global_step"))
    trainer = None

    def trainer_metrics(prediction) -> dict:
        logits = np.asarray(prediction.predictions)
        epoch_proba.record(trainer.state.global_step, logits)
        names = list(schema.names)
        result = compute_metrics([names[i] for i in prediction.label_ids], [names[i] for i in logits.argmax(1)], names)
        return {k: result[k] for k in ("macro_f1", "accuracy", "weighted_f1")}

    plan = batch_plan(config.batch_size, launch().world_size)
    _log_batch_plan(plan, len(job.train), epochs, config)
    callbacks = list(job.callbacks)
    patience = tuning(config).early_stopping_patience
    if patience:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=patience))
    trainer = job.targets.trainer_class(_make_trainer_class())(
        model=model, args=_training_arguments(config, work, epochs, plan, job.targets.extra_columns),
        train_dataset=train_ds, eval_dataset=eval_ds, processing_class=tokenizer, data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=trainer_metrics, callbacks=callbacks, class_weights=job.class_weights,
        label_smoothing=tuning(config).label_smoothing, rdrop=tuning(config).rdrop)
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(trainer_bar("training", epoch_lines=True))
    log.info("training %s on %d texts, evaluating on %d, %g epoch%s (%s preset)",
             resolved.name, len(job.train), len(job.evaluation), epochs, "" if epochs == 1 else "s", config.preset)
    if resuming:
        log.info("resuming from %s, the last complete checkpoint (epoch %g, step %d)", resume_point,
                 resumed_state.get("epoch") or 0, resumed_state["global_step"])
    start_epoch = float(resumed_state.get("epoch") or 0)
    started = time.perf_counter()
    with no_progress_bars():
        trainer.train(resume_from_checkpoint=str(resume_point) if resuming else None)
    wall = time.perf_counter() - started
    with quiet_transformers():
        trainer.save_model(str(job.folder))
    (job.folder / "training_args.bin").unlink(missing_ok=True)  # a pickle; the settings are in samiksha.json
    steps = sorted(epoch_proba.by_step)
    best_name = Path(trainer.state.best_model_checkpoint or "").name
    best_step = int(best_name.rsplit("-", 1)[1]) if best_name.startswith("checkpoint-") else None
    if best_step not in epoch_proba.by_step:  # no evaluation ran (max_steps inside the first epoch)
        epoch_proba.record(trainer.state.global_step, trainer.predict(eval_ds).predictions)
        steps, best_step = [trainer.state.global_step], trainer.state.global_step
    epochs_run = float(trainer.state.epoch or 0)
    schedule = _schedule(trainer, epochs, steps.index(best_step) + 1 if best_step in steps else None)
    # measured over this process's run, per-epoch evaluation included (Trainer's own figure counts
    # planned epochs, which overstates speed when early stopping ends the run)
    training = {"epochs_run": epochs_run, "steps": int(trainer.state.global_step), "best_checkpoint": best_name or None,
                "wall_seconds": wall, "examples_per_second": (epochs_run - start_epoch) * len(job.train) / wall,
                "resumed": resuming, "embeddings_frozen": frozen, "processes": trainer.args.world_size,
                "global_batch": plan.global_batch, "schedule": schedule,
                **prepared,
                "history": [h for h in trainer.state.log_history if "eval_loss" in h or "loss" in h]}
    return FineTuned(resolved.name, training, [epoch_proba.by_step[s] for s in steps], steps.index(best_step))


def _schedule(trainer, epochs: float, best_epoch: int | None) -> dict:
    """The schedule the run followed: the epoch cap, the warmup and peak learning rate, and where it stopped."""
    args, state = trainer.args, trainer.state
    patience = next((c.early_stopping_patience for c in trainer.callback_handler.callbacks
                     if hasattr(c, "early_stopping_patience")), None)
    planned = state.max_steps or int(args.max_steps)
    return {"max_epochs": epochs, "epochs_run": float(state.epoch or 0), "best_epoch": best_epoch,
            "patience": patience, "stopped_early": planned > 0 and state.global_step < planned,
            "peak_learning_rate": args.learning_rate, "lr_schedule": str(args.lr_scheduler_type.value),
            "warmup_steps": args.get_warmup_steps(planned) if planned > 0 else None}


def nested_epoch_choice(tuned: FineTuned, job: FitJob) -> np.ndarray | None:
    """Out-of-sample probabilities on the evaluation rows: each fold scored by the epoch that was best on the
    other folds. None when there was no choice to make (one evaluated epoch)."""
    if len(tuned.epoch_proba) < 2:
        return None
    y = np.array(job.label_ids(job.evaluation))

    def choose_and_score(choose: np.ndarray, score: np.ndarray) -> np.ndarray:
        best = best_candidate(tuned.epoch_proba, y, choose, tuning(job.config).best_metric, job.class_weights)
        return tuned.epoch_proba[best][score]

    return cross_fit(y, choose_and_score, len(job.schema), seed=job.config.seed)


def schedule_model(model: str | None) -> str | None:
    """The model whose small-data schedule a fine-tune follows: an encoder written by `samiksha adapt` follows the
    one it was adapted from (by its embedded name, such as ``minilm``, where it was one)."""
    base = adapted_from(model) if model and model not in EMBEDDED else None
    if base is None:
        return model
    return next((alias for alias, (hub_name, _) in EMBEDDED.items() if hub_name == base), base)


def input_prefix(config: TrainConfig) -> str:
    """What goes before every text the transformer reads: as set, or by model (``query: `` for the e5 model)."""
    if tuning(config).input_prefix is not None:
        return tuning(config).input_prefix
    name = EMBEDDED[config.model][0] if config.model in EMBEDDED else (config.model or "")
    if name:  # an encoder written by `samiksha adapt` reads its input as its original did
        name = adapted_from(name) or name
    return "query: " if E5_NAME.search(Path(name).name) else ""


def load_transformer(path: Path, backend: str = "auto", device: str | None = None, prefix: str = "") -> Backend:
    """The runtime for a transformer folder: its ONNX export when it has one (``auto``), else PyTorch."""
    if not (path / "config.json").exists():
        raise ModelError(f"{path}: not a model folder (no config.json)")
    onnx_file = onnx_model_file(path)
    if backend == "onnx" and onnx_file is None:
        raise ModelError(f"{path}: has no ONNX export; run `samiksha export {path}` first")
    try:
        if onnx_file is not None and backend != "torch":
            return OnnxBackend(onnx_file, path, prefix=prefix)
        return TorchBackend(path, device, prefix)
    except (KeyError, ValueError, OSError) as err:
        raise ModelError(f"{path}: not a usable text-classification model ({first_line(err)})") from None


LESSON = {"stack": False, "epochs": 5, "batch_size": 4, "learning_rate": 5e-5, "max_length": 128,
          "class_weights": "none", "normalise": False,
          "settings": {"finetune": {"padding": "max_length", "group_by_length": False, "warmup": 10,
                                    "weight_decay": 0.01, "early_stopping_patience": None, "best_metric": "loss",
                                    "freeze_embeddings": False, "input_prefix": ""}}}
# The classic classroom recipe, exactly: pad to 128, batch 4, 5 epochs, warmup 10 steps, weight decay 0.01,
# Trainer's default learning rate, best checkpoint by eval loss, no class weights, no clean-up.

PIPELINE_USAGE = ('```python\nfrom transformers import pipeline\nclassify = pipeline("text-classification", '
                  'model="PATH/TO/THIS/FOLDER")\nclassify("delivery fast thi aur quality bhi badiya")\n```')
TRANSFORMER_FILES = "the transformer in `model.safetensors` with its `config.json` and tokenizer files"


def fine_tune_reason(config: TrainConfig, counts: dict[str, int], sentence_model: bool) -> str | None:
    """Why `auto` fine-tunes for these label counts (None: it does not; SetFit fits better)."""
    if not sentence_model:
        return f"the model {config.model} is not a sentence-transformers model, so it is fine-tuned"
    smallest = min(counts.values())
    if smallest >= SETFIT_BELOW:
        return f"smallest class has {smallest} examples (>= {SETFIT_BELOW}): fine-tuning"
    return None


def pipeline_note(meta: dict) -> str:
    """What to do before a plain `pipeline()` so that it reads texts as the model did in training."""
    config = meta["config"]
    steps, prefix = saved_steps(config), saved_prefix(meta)
    notes = []
    if steps:
        notes.append(f"cleans each text (steps: {', '.join(steps)}; `samiksha.normalise.normaliser({steps!r})`)")
    if prefix:
        notes.append(f"puts `{prefix}` before each text, as the base model was trained to read it")
    if not notes:
        return ""
    return (f"\n\nBefore the transformer sees a text, Samiksha {' and '.join(notes)}; do the same before a plain "
            "`pipeline()` so that the model reads text as it did in training.")


class FineTuning(Method):
    """What the methods that fine-tune a transformer share: settings, schedule, prefix and students."""

    settings = FineTuneSettings
    fine_tunes = True
    onnx = True
    aliases = {"freeze_embeddings": "finetune.freeze_embeddings"}  # --freeze-embeddings/--train-embeddings

    def resolve(self, config: TrainConfig, data: LabelledData) -> TrainConfig:
        config = config.sized_for(len(data), small_schedule=True, schedule_model=schedule_model(config.model))
        settings = {**asdict(tuning(config)), "input_prefix": input_prefix(config)}  # saved concrete
        return replace(config, settings={FineTuneSettings.section: settings})

    def storage(self, meta: dict) -> str:
        return stored_safely(TRANSFORMER_FILES)


class FineTune(FineTuning):
    """The transformer alone (`--method finetune`, or `--no-stack`)."""

    name = "finetune"
    summary = "the transformer alone"
    compared = True
    presets = {"lesson": LESSON}

    def auto(self, config: TrainConfig, counts: dict[str, int], sentence_model: bool) -> str | None:
        why = fine_tune_reason(config, counts, sentence_model)
        return f"{why}, the transformer alone (--no-stack)" if why and not config.stack else None

    def student(self, keep_parts: bool) -> str | None:
        return self.name

    def usage(self, meta: dict) -> str:
        return f"{PIPELINE_USAGE}\n\nor `samiksha predict PATH/TO/THIS/FOLDER \"your review\"`.{pipeline_note(meta)}"

    def fit(self, job: FitJob) -> Fitted:
        tuned = fine_tune(job)
        return Fitted(tuned.base_model, tuned.training, nested_epoch_choice(tuned, job))

    def load(self, path: Path, meta: dict, backend: str, device: str | None, trust_pickle: bool = False) -> Backend:
        return load_transformer(path, backend, device, saved_prefix(meta))  # safetensors and JSON only


METHOD = FineTune()
