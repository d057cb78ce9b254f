"""Training under torchrun: two CPU processes (gloo) train one model, and only rank 0 publishes it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from samiksha.distributed import Launch, launch
from samiksha.errors import SamikshaError
from samiksha.predict import Classifier

TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def test_two_processes_train_one_model(tmp_path, tiny_bert, reviews_csv):
    out = tmp_path / "model"
    run = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "samiksha",
         "train", str(reviews_csv), "--output", str(out), "--model", str(tiny_bert), "--epochs", "2",
         "--batch-size", "8", "--seed", "1", "--report-seeds", "2"],
        capture_output=True, text=True, timeout=600, env=_torchrun_env(), cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    meta = json.loads((out / "samiksha.json").read_text(encoding="utf-8"))
    assert meta["training"]["processes"] == 2 and meta["method"] == "stack"
    # no staging, seed or checkpoint folders left (the empty lock file stays: removing it would race another run)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".model.lock", "model"]
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert len(metrics["seeds"]["runs"]) == 2  # the second seed's run was distributed too
    # printed once, by rank 0
    assert run.stdout.count("model, report (report.txt)") == 1 and run.stderr.count("only 36 labelled rows") == 1
    classifier = Classifier.load(out)
    assert classifier.predict(["bahut badiya", "bakwas"])[0] in classifier.labels


def _torchrun_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in TORCHRUN_VARIABLES}
    # COLUMNS: Rich wraps log lines at 80 columns otherwise, splitting the messages the tests count
    env.update(HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS="1", COLUMNS="400")
    return env


@pytest.mark.slow
def test_an_interrupted_two_process_run_resumes(tmp_path, tiny_bert):
    from conftest import make_reviews

    make_reviews(40).to_csv(tmp_path / "reviews.csv", index=False)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m",
               "samiksha", "train", str(tmp_path / "reviews.csv"), "--output", str(tmp_path / "model"), "--model",
               str(tiny_bert), "--epochs", "30", "--batch-size", "4", "--report-seeds", "1", "--no-stack"]
    first = subprocess.Popen(command, env=_torchrun_env(), cwd=tmp_path, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    checkpoints = tmp_path / "model.checkpoints"
    while first.poll() is None and not any(checkpoints.glob("checkpoint-*/trainer_state.json")):
        time.sleep(0.1)
    time.sleep(0.5)
    os.killpg(first.pid, signal.SIGINT)  # Ctrl-C on the launcher and both ranks, after the first epoch's save
    first.wait(timeout=120)
    assert not (tmp_path / "model").exists() and any(checkpoints.glob("checkpoint-*"))
    resumed = subprocess.run(command + ["--resume"], env=_torchrun_env(), cwd=tmp_path, capture_output=True,
                             text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    training = json.loads((tmp_path / "model" / "samiksha.json").read_text(encoding="utf-8"))["training"]
    assert training["resumed"] is True and training["processes"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [".model.lock", "model", "reviews.csv"]  # checkpoints cleared
    assert Classifier.load(tmp_path / "model").predict(["bahut badiya"])[0] in ("negative", "neutral", "positive")


@pytest.mark.parametrize("env, words", [
    ({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"}, "MASTER_ADDR, MASTER_PORT not set"),
    ({"RANK": "2", "WORLD_SIZE": "2", "LOCAL_RANK": "0", "MASTER_ADDR": "x", "MASTER_PORT": "1"}, "inconsistent"),
    ({"RANK": "a", "WORLD_SIZE": "2", "LOCAL_RANK": "0", "MASTER_ADDR": "x", "MASTER_PORT": "1"}, "whole numbers"),
])
def test_an_inconsistent_launch_is_one_clear_error(monkeypatch, env, words):
    for name in TORCHRUN_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert launch() == Launch()  # not launched by torchrun: rank 0 of 1
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SamikshaError, match=words):
        launch()
