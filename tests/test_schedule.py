"""The fine-tuning schedule: training stops when held-out macro-F1 stops improving, and samiksha.json records the
schedule the run followed."""

from __future__ import annotations

import json

from samiksha import TrainConfig, train


def test_training_stops_when_held_out_macro_f1_stops_improving(tmp_path, reviews_csv, tiny_bert):
    """At a learning rate too small to change a prediction, held-out macro-F1 never improves after the first
    epoch, so a run capped at 20 epochs stops after 1 + patience, and samiksha.json says so."""
    out = tmp_path / "m"
    train(reviews_csv, out, config=TrainConfig(model=str(tiny_bert), epochs=20, batch_size=8, learning_rate=1e-12,
                                               settings={"finetune": {"early_stopping_patience": 2}}, stack=False,
                                               report_seeds=1, seed=3))
    schedule = json.loads((out / "samiksha.json").read_text())["training"]["schedule"]
    assert (schedule["max_epochs"], schedule["epochs_run"], schedule["best_epoch"]) == (20, 3, 1)
    assert schedule["stopped_early"] and schedule["patience"] == 2
    assert schedule["peak_learning_rate"] == 1e-12 and schedule["warmup_steps"] >= 1
