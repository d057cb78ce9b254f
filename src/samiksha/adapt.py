"""Task-adaptive pretraining (`samiksha adapt`): continued masked-language-model training of an encoder on a shop's
unlabelled reviews, so that it reads their words before any labelled training (Gururangan et al. 2020, "Don't Stop
Pretraining").

The embedded encoders come without a masked-language-model head: one is built from the encoder's config
(`AutoModelForMaskedLM`, its decoder tied to the input embeddings) and learned along with the encoder. Only the
hidden states at masked positions reach the decoder (a forward pre-hook picks them), so e5's 250k-word vocabulary
costs logits for ~15% of the tokens instead of all of them. Whole words are masked (transformers'
`DataCollatorForLanguageModeling(whole_word_mask=True)`). Training runs in `Trainer`, with checkpoints in
``DIR.checkpoints`` for ``--resume`` like `train`, and the folder is published by `ModelFolder` (a killed run never
loses the previous folder).

The output is an encoder folder without the MLM head: the encoder's weights (the original pooler kept), its
tokenizer, any sentence-transformers files of the original (so `--method setfit` takes it), ``samiksha.json``
(what it was adapted from, on what and for how long) and a card. `train --model DIR` fine-tunes it like the model it
came from (e5's ``query: `` prefix included, see `adapted_from`).
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .data import fingerprint, normalise_text
from .errors import DataError, SamikshaError, first_line
from .hf_logging import no_progress_bars, quiet_transformers
from .modelfolder import META, ModelFolder, adapted_from
from .models import check_max_length, resolve_model
from .normalise import DEFAULT_STEPS, normaliser
from .storage import write_json

log = logging.getLogger(__name__)

MLM_PROBABILITY = 0.15  # of the words (whole-word masking), as in BERT
# Timed on SentiMix tweets (47 tokens on average; 2 shared cores): MiniLM 0.17 CPU-seconds per text and epoch, so one
# epoch over 14k tweets is ~40 CPU-minutes, 20-40 minutes on 2 idle cores: one epoch keeps within an hour. The
# multilingual e5 (12 layers, embeddings frozen) took 0.34: 39-78 minutes for that epoch.
ADAPT_EPOCHS = 1.0
LEARNING_RATE = 5e-5
BATCH_SIZE = 32
MAX_LENGTH = 128
SAVE_EVERY = 200  # optimizer steps between checkpoints (and at least once per epoch)
# sentence-transformers files of the original, copied so that the adapted folder pools (and SetFit reads it) the same
SENTENCE_FILES = ("modules.json", "sentence_bert_config.json", "config_sentence_transformers.json", "1_Pooling")


@dataclass
class AdaptResult:
    """What an adaptation produced: the encoder folder and its samiksha.json."""

    output_dir: Path
    meta: dict


def adaptation_texts(files: Sequence[str | Path], exclude: Sequence[str | Path] = (), text_column: str | None = None,
                     steps: Sequence[str] = DEFAULT_STEPS) -> tuple[list[str], dict]:
    """The cleaned texts of ``files`` (any supported format, text column found by name): no duplicates (by
    normalised text) and none of the texts of the ``exclude`` files (evaluation or test data), with a report."""
    from .distill import read_unlabelled
    from .suggest import read_pool

    clean = normaliser(steps)

    def key(text: str) -> str:
        return normalise_text(clean(text))

    excluded = {key(t) for file in exclude for t in read_pool(file).texts}
    texts, report = read_unlabelled(list(files), text_column, excluded, set(), None, 0, key)
    left_out = report.pop("evaluation_rows_left_out")
    report.pop("training_rows_left_out")
    report["excluded"] = left_out
    report["exclude_files"] = [str(f) for f in exclude]
    if left_out:
        log.warning("left out %d text(s) that are also in %s: evaluation and test texts must stay unseen, or "
                    "their scores would be optimistic", left_out, ", ".join(map(str, exclude)))
    if report["duplicates"]:
        log.info("dropped %d duplicate text(s)", report["duplicates"])
    if not texts:
        raise DataError(", ".join(map(str, files)), "has no texts left to adapt on (all were duplicates or in "
                                                    "--exclude)")
    for entry in report["files"]:
        entry["sha256"] = fingerprint(entry["source"]) if entry["source"] != "-" else ""
    return [clean(t) for t in texts], report


def adapt(files: Sequence[str | Path], output_dir: str | Path, *, model: str | None = None,
          exclude: Sequence[str | Path] = (), epochs: float | None = None, batch_size: int = BATCH_SIZE,
          learning_rate: float = LEARNING_RATE, max_length: int = MAX_LENGTH, seed: int = 42,
          text_column: str | None = None, freeze_embeddings: bool | None = None, resume: bool = False,
          offline: bool = False, max_steps: int = -1, callbacks: list | None = None) -> AdaptResult:
    """Continue ``model``'s masked-language-model pretraining on the texts of ``files`` and write the adapted
    encoder to ``output_dir`` (see the module docstring)."""
    folder = ModelFolder(output_dir)
    epochs = ADAPT_EPOCHS if epochs is None else epochs
    if epochs <= 0 or batch_size < 1 or learning_rate <= 0:
        raise SamikshaError("--epochs, --batch-size and --learning-rate must be positive")
    with folder.writing():
        texts, report = adaptation_texts(files, exclude, text_column)
        resolved = resolve_model(model, offline)
        base = adapted_from(resolved.path) or resolved.name
        settings = {"base_model": base, "model": resolved.name, "epochs": epochs, "batch_size": batch_size,
                    "learning_rate": learning_rate, "max_length": max_length, "seed": seed,
                    "mlm_probability": MLM_PROBABILITY, "whole_word_mask": True, "text_steps": list(DEFAULT_STEPS),
                    "input_prefix": _prefix(base), "freeze_embeddings": freeze_embeddings, "max_steps": max_steps}
        trained, training = _train(texts, report, resolved, settings, folder, resume, list(callbacks or []))
        with folder.staging() as staging:
            _save_encoder(trained, resolved, staging)
            meta = ModelFolder(staging).write_meta({"adapted": {**settings, "data": report, **training}})
            (staging / "README.md").write_text(adapted_card(meta["adapted"]), encoding="utf-8")
            folder.publish(staging)
        shutil.rmtree(folder.checkpoints, ignore_errors=True)
    log.info("saved the adapted encoder to %s", output_dir)
    return AdaptResult(Path(output_dir), meta)


def _prefix(base: str) -> str:
    from .methods.finetune import E5_NAME

    return "query: " if E5_NAME.search(Path(base).name) else ""


def masked_lm(resolved, settings: dict):
    """The tokenizer and a masked-language model on the encoder, with its head built when the encoder has none
    (its decoder tied to the input embeddings); logs which weights were new."""
    import torch
    from transformers import AutoConfig, AutoModelForMaskedLM, AutoTokenizer

    from .errors import ModelError

    try:
        with quiet_transformers():  # the new head is reported below, in one line
            tokenizer = AutoTokenizer.from_pretrained(resolved.path, local_files_only=resolved.local_files_only)
            config = AutoConfig.from_pretrained(resolved.path, local_files_only=resolved.local_files_only)
            config.tie_word_embeddings = True
            model, info = AutoModelForMaskedLM.from_pretrained(
                resolved.path, config=config, dtype=torch.float32, output_loading_info=True,
                local_files_only=resolved.local_files_only)
    except (OSError, ValueError) as err:
        first = first_line(err)
        raise ModelError(f"{resolved.name}: cannot load it as a masked-language model: {first}") from None
    if tokenizer.mask_token is None:
        raise ModelError(f"{resolved.name}: its tokenizer has no mask token, so it cannot be adapted by masking")
    if not tokenizer.is_fast:
        raise ModelError(f"{resolved.name}: whole-word masking needs a fast tokenizer (tokenizer.json)")
    decoder, embeddings = model.get_output_embeddings(), model.get_input_embeddings()
    if decoder is None or decoder.weight is not embeddings.weight:
        raise ModelError(f"{resolved.name}: its masked-language-model decoder is not tied to the input embeddings")
    new = sorted(info["missing_keys"])
    if new:
        log.info("%s: no masked-language-model head in its weights (%s); a new one is trained, its decoder tied to "
                 "the input embeddings", resolved.name, ", ".join(new))
    unused = sorted(info["unexpected_keys"])
    if unused:
        log.info("%s: weights the masked-language model does not use (kept in the adapted folder from the "
                 "original): %s", resolved.name, ", ".join(unused))
    check_max_length(settings["max_length"], model.config.to_dict(), f"--max-length for {resolved.name}")
    return tokenizer, model, new


class MaskedPositions:
    """A forward pre-hook on the decoder: it passes on only the hidden states at the positions set before each
    forward pass (the masked ones), so logits over the vocabulary are computed for those alone."""

    def __init__(self):
        self.positions = None

    def __call__(self, module, args):
        if self.positions is None:
            return None
        hidden, *rest = args
        return (hidden[self.positions], *rest)


def _make_trainer_class():
    from torch.nn import functional
    from transformers import Trainer

    class MaskedOnlyTrainer(Trainer):
        """Mean cross-entropy over the masked tokens, with logits computed at those tokens only."""

        def __init__(self, *args, hook: MaskedPositions, **kwargs):
            super().__init__(*args, **kwargs)
            self.hook = hook

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            labels = inputs.pop("labels")
            self.hook.positions = labels != -100
            try:
                outputs = model(**inputs)
            finally:
                self.hook.positions = None
            targets = labels[labels != -100]
            logits = outputs.logits
            if targets.numel() == 0:  # nothing masked in this batch (short texts): no signal, no NaN
                loss = logits.sum() * 0.0
            else:
                loss = functional.cross_entropy(logits.float(), targets)
            return (loss, outputs) if return_outputs else loss

    return MaskedOnlyTrainer


def whole_word_collator(tokenizer, seed: int):
    """transformers' whole-word masking collator, with the offset mapping it reads words from padded to each batch's
    longest row first (``tokenizer.pad`` leaves it ragged, which fails on any batch of unequal lengths)."""
    import warnings

    from transformers import DataCollatorForLanguageModeling

    class WholeWords(DataCollatorForLanguageModeling):
        def torch_call(self, examples):
            longest = max(len(e["input_ids"]) for e in examples)
            padded = []
            for example in examples:
                example = dict(example)
                offsets = [tuple(o) for o in example["offset_mapping"]]
                fill = [(0, 0)] * (longest - len(offsets))
                example["offset_mapping"] = offsets + fill if self.tokenizer.padding_side == "right" else fill + offsets
                padded.append(example)
            return super().torch_call(padded)

    with warnings.catch_warnings():  # "random token replacement is not supported with whole word masking": known
        warnings.simplefilter("ignore", UserWarning)
        return WholeWords(tokenizer, mlm_probability=MLM_PROBABILITY, whole_word_mask=True, mask_replace_prob=1.0,
                          random_replace_prob=0.0, seed=seed)


def _make_progress_class():
    from transformers.trainer_callback import ProgressCallback

    class EpochLines(ProgressCallback):
        """Trainer's progress bar (with its ETA), with one line per epoch giving the masked-word loss."""

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not state.is_world_process_zero or self.training_bar is None or not logs:
                return
            if "loss" in logs:
                self.training_bar.write(f"epoch {logs.get('epoch', state.epoch or 0):.2f}/{args.num_train_epochs:g}: "
                                        f"masked-word loss {float(logs['loss']):.3f}")
            elif "train_runtime" in logs:
                self.training_bar.write(f"adapted in {logs['train_runtime']:.0f} s")

    return EpochLines


def _train(texts: list[str], report: dict, resolved, settings: dict, folder: ModelFolder, resume: bool,
           callbacks: list) -> tuple[object, dict]:
    """Masked-language-model training in `Trainer`; returns the trained model and its figures."""
    import math

    import datasets
    import torch
    from transformers import TrainingArguments, set_seed
    from transformers.trainer_callback import ProgressCallback

    from .checkpoints import checkpoint_state, resume_from
    from .methods.finetune import maybe_freeze_embeddings

    work = folder.checkpoints
    run_info = {"settings": settings, "files": [f["sha256"] or f["source"] for f in report["files"]],
                "exclude": report["exclude_files"], "texts": len(texts)}
    resume_point = resume_from(work, resume, run_info)
    resumed_state = checkpoint_state(resume_point) if resume_point is not None else {}
    datasets.disable_progress_bars()
    set_seed(settings["seed"])
    tokenizer, model, new_head = masked_lm(resolved, settings)
    frozen = maybe_freeze_embeddings(model, settings["freeze_embeddings"])
    hook = MaskedPositions()
    model.get_output_embeddings().register_forward_pre_hook(hook)
    prefix = settings["input_prefix"]

    def encode(batch):
        return tokenizer([prefix + t for t in batch["text"]], truncation=True, max_length=settings["max_length"],
                         return_special_tokens_mask=True, return_offsets_mapping=True)

    dataset = datasets.Dataset.from_dict({"text": texts}).map(encode, batched=True, remove_columns=["text"])
    if prefix:  # the prefix is context, never a word to predict
        n = len(tokenizer(prefix, add_special_tokens=False)["input_ids"])
        dataset = dataset.map(lambda row: {"special_tokens_mask": [1] * (n + 1) + row["special_tokens_mask"][n + 1:]})
    collator = whole_word_collator(tokenizer, settings["seed"])
    steps_per_epoch = math.ceil(len(texts) / settings["batch_size"])
    cuda = torch.cuda.is_available()
    bf16 = cuda and torch.cuda.is_bf16_supported()
    args = TrainingArguments(
        output_dir=str(work), num_train_epochs=settings["epochs"], max_steps=settings["max_steps"],
        per_device_train_batch_size=settings["batch_size"], learning_rate=settings["learning_rate"],
        warmup_steps=0.06, weight_decay=0.01, save_strategy="steps", save_steps=min(SAVE_EVERY, steps_per_epoch),
        save_total_limit=1, logging_strategy="steps", logging_steps=steps_per_epoch, seed=settings["seed"],
        data_seed=settings["seed"], train_sampling_strategy="group_by_length", bf16=bf16, fp16=cuda and not bf16,
        report_to="none", disable_tqdm=False, dataloader_pin_memory=cuda, remove_unused_columns=False)
    work.mkdir(parents=True, exist_ok=True)
    write_json(work / META, {"run": run_info})
    trainer = _make_trainer_class()(model=model, args=args, train_dataset=dataset, data_collator=collator,
                                    processing_class=tokenizer, callbacks=callbacks, hook=hook)
    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(_make_progress_class())
    log.info("adapting %s on %d texts: %g epoch(s) of %d steps (batch %d), whole-word masking of %.0f%% of the "
             "words", resolved.name, len(texts), settings["epochs"], steps_per_epoch, settings["batch_size"],
             100 * MLM_PROBABILITY)
    if resume_point is not None:
        log.info("resuming from %s (epoch %.2f, step %d)", resume_point, resumed_state.get("epoch") or 0,
                 resumed_state["global_step"])
    started = time.perf_counter()
    with no_progress_bars():
        trainer.train(resume_from_checkpoint=str(resume_point) if resume_point is not None else None)
    wall = time.perf_counter() - started
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    start_epoch = float(resumed_state.get("epoch") or 0)
    epochs_run = float(trainer.state.epoch or 0)
    figures = {"texts": len(texts), "epochs_run": epochs_run, "steps": int(trainer.state.global_step),
               "wall_seconds": wall, "texts_per_second": (epochs_run - start_epoch) * len(texts) / wall,
               "resumed": resume_point is not None, "new_head_weights": new_head, "embeddings_frozen": frozen,
               "loss_history": losses, "device": "cuda" if cuda else f"cpu ({torch.get_num_threads()} threads)"}
    return model, figures


def _save_encoder(model, resolved, staging: Path) -> None:
    """The adapted encoder without the MLM head, in the original's architecture (its pooler kept), its tokenizer
    and the original's sentence-transformers files."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    with quiet_transformers():
        encoder = AutoModel.from_pretrained(resolved.path, dtype=torch.float32,
                                            local_files_only=resolved.local_files_only)
        result = encoder.load_state_dict(model.base_model.state_dict(), strict=False)
        if result.unexpected_keys:
            raise SamikshaError(f"{resolved.name}: the adapted weights do not fit its encoder "
                                f"({', '.join(result.unexpected_keys[:3])})")
        encoder.save_pretrained(staging)
        tokenizer = AutoTokenizer.from_pretrained(resolved.path, local_files_only=resolved.local_files_only)
        tokenizer.save_pretrained(staging)
    source = Path(resolved.path)
    for name in SENTENCE_FILES:
        if (source / name).is_dir():
            shutil.copytree(source / name, staging / name)
        elif (source / name).is_file():
            shutil.copy(source / name, staging / name)


def adapted_card(adapted: dict) -> str:
    """The adapted encoder's README.md: what it was adapted from and on, for how long, and how to use it."""
    data = adapted["data"]
    files = "\n".join(f"- `{f['source']}`: {f['rows']} rows" for f in data["files"])
    minutes = adapted["wall_seconds"] / 60
    resumed = " (resumed)" if adapted["resumed"] else ""
    head = "new (the original had none)" if adapted["new_head_weights"] else "the original one"
    losses = adapted["loss_history"]
    loss = f"{losses[0]:.3f} in the first epoch, {losses[-1]:.3f} in the last" if losses else "not logged"
    excluded = (f"{data['excluded']} text(s) that also appear in {', '.join(data['exclude_files'])} were left out."
                if data["exclude_files"] else "No evaluation or test file was given to exclude (`--exclude`).")
    return f"""---
library_name: transformers
base_model: {adapted['base_model']}
tags:
- samiksha
- task-adaptive-pretraining
---

# Encoder adapted to unlabelled reviews

`{adapted['base_model']}`, with continued masked-language-model pretraining (task-adaptive pretraining) on
{data['used']} unlabelled texts by `samiksha adapt`. This folder is an encoder, not a classifier: train one with
`samiksha train DATA --model THIS_FOLDER -o MODEL`.

## Adapted on

{files}

{data['duplicates']} duplicate text(s) were dropped. {excluded}

## For how long

{adapted['epochs_run']:g} epoch(s), {adapted['steps']} steps of {adapted['batch_size']} texts, learning rate
{adapted['learning_rate']:g}, whole-word masking of {100 * adapted['mlm_probability']:.0f}% of the words, texts cut
at {adapted['max_length']} tokens; {minutes:.1f} minutes on {adapted['device']}{resumed}.
Masked-word loss: {loss}. The masked-language-model head was {head} and is not saved: only the encoder is.
"""
