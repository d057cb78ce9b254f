"""Why some seeds stall: the first steps of the real training run, watched from inside.

Runs `samiksha.train` on the demo training file with the default recipe (batch 8, warmup 6%, 3 epochs planned)
at a given peak learning rate and seed, and stops after ``--steps`` optimizer steps. Every 15 steps it prints, on
48 fixed demo test texts: the spread of the final [CLS] vectors across texts (mean distance to their centroid over
their mean norm; a stalled model has drawn them together), the spread of the logits, the predicted classes, and
the mean training loss of the last 10 steps (ln 3 = 1.099 is a model that tells the classes apart no better than
a constant). Cheap next to full runs: the collapse shows within the first 45 steps.

    python benchmarks/stall_probe.py --lr 1.5e-4 --seed 42
    python benchmarks/stall_probe.py --lr 5e-5 --seed 42
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pandas as pd  # noqa: E402
import torch  # noqa: E402
from transformers import TrainerCallback  # noqa: E402

import samiksha.methods.finetune as finetune  # noqa: E402
from samiksha import TrainConfig, train  # noqa: E402
from samiksha.demo import demo_data_dir  # noqa: E402


class Done(Exception):
    """Raised after the probe's last step, so no time goes on saving and scoring a model."""


class Probe(TrainerCallback):
    """Prints the probe's figures every 15 steps and ends the run after ``steps``."""

    def __init__(self, texts: list[str], steps: int, prefix: str):
        self.texts, self.steps, self.prefix, self.losses, self.tokenizer = texts, steps, prefix, [], None

    def on_train_begin(self, args, state, control, model=None, processing_class=None, **kwargs):
        self.tokenizer = processing_class
        self.report(model, 0)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if state.global_step % 15 == 0:
            self.report(model, state.global_step)
        if state.global_step >= self.steps:
            raise Done

    def report(self, model, step: int) -> None:
        training = model.training
        model.eval()
        with torch.no_grad():
            encoded = self.tokenizer([self.prefix + t for t in self.texts], padding=True, truncation=True,
                                     max_length=128, return_tensors="pt")
            cls = model.base_model(**encoded).last_hidden_state[:, 0]
            logits = model(**encoded).logits
        model.train(training)
        spread = float((cls - cls.mean(0)).norm(dim=1).mean() / cls.norm(dim=1).mean())
        recent = self.losses[-10:]
        print(json.dumps({"step": step, "cls_spread": round(spread, 3), "logit_std": round(float(logits.std(0).mean()), 4),
                          "predicted": torch.bincount(logits.argmax(1), minlength=logits.shape[1]).tolist(),
                          "loss": round(sum(recent) / len(recent), 3) if recent else None}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lr", type=float, default=1.5e-4)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--steps", type=int, default=45)
    parser.add_argument("--model", default="multilingual")
    args = parser.parse_args()
    config = TrainConfig(model=args.model, seed=args.seed, epochs=3, batch_size=8, learning_rate=args.lr,
                         settings={"finetune": {"early_stopping_patience": None}}, stack=False, report_seeds=1)
    texts = pd.read_csv(demo_data_dir() / "test.csv")["text"].astype(str).tolist()[:48]
    probe = Probe(texts, args.steps, finetune.input_prefix(config))  # as training reads them (e5: "query: ")
    make_trainer_class = finetune._make_trainer_class

    def recording_losses():  # the training loss of every step, for the probe's running mean
        class Recording(make_trainer_class()):
            def compute_loss(self, *a, **k):
                loss = super().compute_loss(*a, **k)
                probe.losses.append(float((loss[0] if isinstance(loss, tuple) else loss).detach()))
                return loss
        return Recording

    finetune._make_trainer_class = recording_losses
    with tempfile.TemporaryDirectory() as tmp:
        try:
            train(demo_data_dir() / "train.csv", Path(tmp) / "m", config=config, callbacks=[probe])
        except Done:
            pass


if __name__ == "__main__":
    main()
