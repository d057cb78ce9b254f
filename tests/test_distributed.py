"""Training under torchrun: two CPU processes (gloo) train one model with the one-process recipe, and only rank 0
publishes it; a run killed while writing a checkpoint resumes from the last complete one."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest

from samiksha.distributed import Launch, batch_plan, launch
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


@pytest.mark.parametrize("batch, processes, per_device, global_batch", [
    (8, 1, 8, 8), (8, 2, 4, 8), (16, 4, 4, 16), (16, 3, 5, 15), (8, 3, 3, 9), (6, 4, 1, 4), (4, 8, 1, 8)])
def test_the_batch_splits_over_the_processes(batch, processes, per_device, global_batch):
    plan = batch_plan(batch, processes)
    assert (plan.per_device, plan.global_batch, plan.exact) == (per_device, global_batch, global_batch == batch)
    for rows in (1, 7, 30, 470, 2551):  # the steps of one process on the same global batch
        assert plan.steps_per_epoch(rows) == math.ceil(rows / global_batch)


@pytest.mark.slow
def test_two_processes_take_the_steps_and_batch_of_one(tmp_path, tiny_bert):
    from conftest import make_reviews

    make_reviews(20).to_csv(tmp_path / "reviews.csv", index=False)
    runs = {}
    for processes in (1, 2):
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"] \
            if processes == 2 else [sys.executable]
        out = tmp_path / f"model-{processes}"
        run = subprocess.run(
            launcher + ["-m", "samiksha", "train", str(tmp_path / "reviews.csv"), "--output", str(out), "--model",
                        str(tiny_bert), "--epochs", "2", "--batch-size", "8", "--report-seeds", "1", "--no-stack"],
            capture_output=True, text=True, timeout=600, env=_torchrun_env(), cwd=tmp_path)
        assert run.returncode == 0, run.stderr[-3000:]
        runs[processes] = json.loads((out / "samiksha.json").read_text(encoding="utf-8"))["training"], run.stderr
    (one, one_log), (two, two_log) = runs[1], runs[2]
    assert two["processes"] == 2 and one["processes"] == 1
    assert (two["steps"], two["global_batch"]) == (one["steps"], one["global_batch"]) == (2 * math.ceil(51 / 8), 8)
    assert "batch plan: 1 process x 8 rows x 1 accumulation step = global batch 8, 7 optimizer steps per epoch" \
        in one_log
    assert "batch plan: 2 processes x 4 rows x 1 accumulation step = global batch 8, 7 optimizer steps per epoch" \
        in two_log


STALL_IN_SECOND_SAVE = """
import sys, time
from pathlib import Path
from transformers import Trainer

marker, save, saves = Path(sys.argv[1]), Trainer._save_optimizer_and_scheduler, []

def stall_in_second_save(self, output_dir):
    saves.append(output_dir)
    if len(saves) == 2:  # the second checkpoint's weights are on disk, its optimizer and state are not
        marker.write_text(output_dir)
        time.sleep(600)
    save(self, output_dir)

Trainer._save_optimizer_and_scheduler = stall_in_second_save
sys.argv = ["samiksha", *sys.argv[2:]]
from samiksha.cli import main
main()
"""


@pytest.mark.slow
def test_a_kill_while_a_checkpoint_is_written_resumes_from_the_last_complete_one(tmp_path, tiny_bert):
    from conftest import make_reviews

    make_reviews(20).to_csv(tmp_path / "reviews.csv", index=False)
    arguments = ["train", str(tmp_path / "reviews.csv"), "--output", str(tmp_path / "model"), "--model",
                 str(tiny_bert), "--epochs", "3", "--batch-size", "8", "--report-seeds", "1", "--no-stack"]
    marker = tmp_path / "stalled"
    child = subprocess.Popen([sys.executable, "-c", STALL_IN_SECOND_SAVE, str(marker), *arguments],
                             env=_torchrun_env(), cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not marker.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marker.exists(), "the run never reached its second checkpoint"
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=60)
    checkpoints = tmp_path / "model.checkpoints"
    first, second = sorted(checkpoints.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    assert (second / "model.safetensors").exists() and not (second / "trainer_state.json").exists()

    resumed = subprocess.run([sys.executable, "-m", "samiksha", *arguments, "--resume"], env=_torchrun_env(),
                             cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming from {first}, the last complete checkpoint" in resumed.stderr
    assert f"{second} is incomplete (no trainer_state.json" in resumed.stderr
    training = json.loads((tmp_path / "model" / "samiksha.json").read_text(encoding="utf-8"))["training"]
    assert training["resumed"] is True and training["epochs_run"] == pytest.approx(3)
    assert not checkpoints.exists()  # cleared once the model is published


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
