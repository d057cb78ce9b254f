"""The model folder: only Samiksha's own folders are replaced, publishing survives a crash at every step, one run
writes a folder at a time, killed runs' work is cleared or kept, bad metadata gets one line, files are readable."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import make_reviews
from typer.testing import CliRunner

from samiksha import Classifier, TrainConfig, train
from samiksha.cli import app
from samiksha.errors import ModelError, SamikshaError
from samiksha.modelfolder import FORMAT_VERSION, ModelFolder
from samiksha.storage import normal_mode

QUICK = TrainConfig(method="tfidf", seed=0, report_seeds=1)


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def one_error_line(result) -> str:
    """The one line a refused command prints (and it exited 1 without a traceback)."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "reviews.csv"
    make_reviews(20).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def quick_model(tmp_path_factory, data) -> Path:
    """A TF-IDF model folder (trained in seconds) to copy as an old or a new model."""
    out = tmp_path_factory.mktemp("models") / "quick"
    train(data, out, config=QUICK)
    return out


def tagged(source: Path, folder: Path, tag: str) -> Path:
    shutil.copytree(source, folder)
    (folder / "tag.txt").write_text(tag)
    return folder


def hidden_beside(folder: Path) -> list[str]:
    """What is left beside ``folder`` besides the folder itself and its lock file."""
    return sorted(p.name for p in folder.parent.iterdir()
                  if p.name.startswith(f".{folder.name}.") and p.name != f".{folder.name}.lock")


# -- 1. only Samiksha's folders are replaced -------------------------------------------------------------------


def test_a_folder_samiksha_did_not_write_is_refused_before_training(tmp_path, data):
    """The issue's repro: a config.json made the folder count as a model, and keep.txt was deleted."""
    mine = tmp_path / "p"
    mine.mkdir()
    (mine / "config.json").write_text("{}")
    (mine / "keep.txt").write_text("keep")
    line = one_error_line(invoke("train", data, "-o", mine, "--method", "tfidf"))
    assert "not replaced" in line and str(mine) in line
    assert sorted(p.name for p in mine.iterdir()) == ["config.json", "keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p"]  # nothing made beside it either


def test_dot_as_output_in_a_folder_with_config_json_is_refused(tmp_path, data, monkeypatch):
    (tmp_path / "config.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    assert "not replaced" in one_error_line(invoke("train", data, "-o", ".", "--method", "tfidf"))
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)  # replacing the current folder would pull it from under the shell
    assert "is the current folder" in one_error_line(invoke("train", data, "-o", ".", "--method", "tfidf"))


def test_an_empty_folder_and_a_samiksha_folder_are_replaced(tmp_path, data, quick_model):
    empty = tmp_path / "empty"
    empty.mkdir()
    train(data, empty, config=QUICK)
    old = tagged(quick_model, tmp_path / "old", "old")
    train(data, old, config=QUICK)
    assert not (old / "tag.txt").exists() and Classifier.load(old).labels == ["negative", "neutral", "positive"]


# -- 2. publishing survives a crash at every step -------------------------------------------------------------

KILL_AT_STEP = """
import os, shutil, signal, sys
from pathlib import Path
from samiksha.modelfolder import ModelFolder

target, new, step = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
print(os.getpid(), flush=True)
calls = [0]

def dying(real):
    def wrapper(*args, **kwargs):
        if calls[0] == step:
            os.kill(os.getpid(), signal.SIGKILL)
        calls[0] += 1
        return real(*args, **kwargs)
    return wrapper

folder = ModelFolder(target)
with folder.writing(), folder.staging() as staging:
    shutil.copytree(new, staging, dirs_exist_ok=True)
    real = os.replace, shutil.rmtree, Path.unlink
    os.replace, shutil.rmtree, Path.unlink = (dying(f) for f in real)
    folder.publish(staging)
    os.replace, shutil.rmtree, Path.unlink = real
print("published")
"""
# the file operations of a publish, in order: clear a stale backup, write the journal, old folder aside, new folder
# in, remove the old folder, remove the journal
STEPS = 6


@pytest.mark.parametrize("step", range(STEPS + 1))
def test_kill_at_each_publish_step_leaves_a_model_and_the_next_load_finishes_the_swap(tmp_path, quick_model, step,
                                                                                       caplog):
    out = tagged(quick_model, tmp_path / "m", "old")
    new = tagged(quick_model, tmp_path / "new", "new")
    run = subprocess.run([sys.executable, "-c", KILL_AT_STEP, str(out), str(new), str(step)],
                         capture_output=True, text=True, timeout=120)
    pid = int(run.stdout.split()[0])
    if step < STEPS:
        assert run.returncode == -signal.SIGKILL, run.stderr
    else:
        assert run.returncode == 0 and "published" in run.stdout, run.stderr
    journal_written = step >= 2
    caplog.clear()
    classifier = Classifier.load(out)  # the old or the new model, whole
    assert classifier.predict(["bahut badiya"])[0] in classifier.labels
    assert (out / "tag.txt").read_text() == ("new" if journal_written else "old")
    recovered = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    if journal_written and step < STEPS:
        assert len(recovered) == 1 and str(out) in recovered[0], recovered
        assert "finished" in recovered[0]
    else:
        assert not recovered
    caplog.clear()
    with ModelFolder(out).writing():  # the next run into the folder
        pass
    kept = tmp_path / f"m.unpublished-{pid}"
    if not journal_written:  # killed before the swap began: the complete new model is kept, and said where
        assert (kept / "tag.txt").read_text() == "new" and str(kept) in caplog.text
        assert Classifier.load(kept).labels == classifier.labels
    else:
        assert not kept.exists()
    assert hidden_beside(out) == []


@pytest.mark.parametrize("which", ["old folder aside", "new folder in"])
def test_a_failed_rename_in_publish_is_one_line_and_the_next_load_finishes_it(tmp_path, data, monkeypatch, caplog,
                                                                               which):
    out = tmp_path / "m"
    train(data, out, config=QUICK)
    real_replace = os.replace

    def failing(src, dst, **kwargs):
        end = src if which == "old folder aside" else dst
        if os.path.realpath(end) == os.path.realpath(out):
            raise OSError(5, "Input/output error")
        return real_replace(src, dst, **kwargs)

    monkeypatch.setattr(os, "replace", failing)
    with pytest.raises(SamikshaError, match="stopped half way.*the next train, load or export of it finishes"):
        train(data, out, config=TrainConfig(method="tfidf", seed=7, report_seeds=1))
    monkeypatch.setattr(os, "replace", real_replace)
    caplog.clear()
    classifier = Classifier.load(out)
    assert classifier.meta["config"]["seed"] == 7  # the new model, finished by the load
    assert "finished publishing the new model" in caplog.text
    assert hidden_beside(out) == []
    train(data, out, config=QUICK)  # and the folder trains as usual again
    assert Classifier.load(out).meta["config"]["seed"] == 0


def test_a_backup_left_by_an_older_samiksha_is_put_back(tmp_path, quick_model, caplog):
    """Samiksha before the journal renamed the model to .m.old, then the new one in; killed in between."""
    tagged(quick_model, tmp_path / ".m.old", "old")
    out = tmp_path / "m"
    assert Classifier.load(out).labels == ["negative", "neutral", "positive"]
    assert (out / "tag.txt").read_text() == "old" and "put the previous model back" in caplog.text
    assert hidden_beside(out) == []


# -- 3. one run writes a folder at a time ---------------------------------------------------------------------

HOLD = """
import sys
from samiksha.modelfolder import ModelFolder

with ModelFolder(sys.argv[1]).writing():
    print("held", flush=True)
    sys.stdin.read()
"""


@pytest.fixture
def held(tmp_path):
    """The folder tmp_path/m, written by another run (a process holding its lock) until the test ends."""
    out = tmp_path / "m"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    assert holder.stdout.readline().strip() == "held"
    yield out, holder.pid
    holder.stdin.close()
    holder.wait(timeout=60)


def test_a_second_run_into_the_same_folder_is_refused_at_once(held, data, caplog):
    out, pid = held
    line = one_error_line(invoke("train", data, "-o", out, "--method", "tfidf", "--report-seeds", 1))
    assert f"is being written by another run (pid {pid}); wait for it or choose another --output" in line
    assert "held out" not in caplog.text  # refused before reading the data
    assert not out.exists()


def test_other_torchrun_ranks_do_not_take_the_lock(held, data, monkeypatch):
    """Only rank 0 writes (and locks); rank 1 trains in a throwaway folder and never waits for the lock."""
    out, _ = held
    for name, value in {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1", "MASTER_ADDR": "127.0.0.1",
                        "MASTER_PORT": "29999"}.items():
        monkeypatch.setenv(name, value)
    result = train(data, out, config=QUICK)
    assert result.metrics == {} and not out.exists()


def test_the_lock_is_taken_again_by_the_same_run_and_released_after(tmp_path):
    folder = ModelFolder(tmp_path / "m")
    with folder.writing(), folder.writing():  # train -> train_parts
        pass
    with folder.writing():  # released
        pass


# -- 4. killed runs' work is cleared, a complete model is kept --------------------------------------------------


def test_a_run_clears_what_killed_runs_left_and_keeps_a_complete_model(tmp_path, data, quick_model, caplog):
    out = tmp_path / "m"
    tagged(quick_model, tmp_path / ".m.staging-4242", "killed during the seed runs")
    (tmp_path / ".m.staging-4243").mkdir()
    (tmp_path / ".m.staging-4243" / "model.safetensors").write_bytes(b"half")
    (tmp_path / ".m.seeds-4244" / "seed43").mkdir(parents=True)
    train(data, out, config=QUICK)
    kept = tmp_path / "m.unpublished-4242"
    assert (kept / "tag.txt").read_text() == "killed during the seed runs"
    assert Classifier.load(kept).labels == ["negative", "neutral", "positive"]
    assert f"kept it as {tmp_path.resolve() / kept.name}" in caplog.text
    assert "removed the unfinished work of runs that were stopped: .m.seeds-4244, .m.staging-4243" in caplog.text
    assert hidden_beside(out) == []
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == ["m", "m.unpublished-4242"]


def test_an_export_clears_a_killed_exports_staging_inside_the_model(tmp_path, quick_model):
    out = tagged(quick_model, tmp_path / "m", "model")
    (out / ".onnx.staging-4245").mkdir()
    (out / ".onnx.staging-4245" / "model.onnx").write_bytes(b"half")
    with ModelFolder(out).writing(replacing=False):  # as `samiksha export` does before exporting into onnx/
        pass
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []


def test_a_killed_run_during_the_seed_runs_leaves_a_loadable_staging_folder(tmp_path, data, monkeypatch):
    """samiksha.json is written right after fitting, so what a kill leaves is a model, not a fragment."""
    import importlib

    train_module = importlib.import_module("samiksha.train")

    def killed(*args, **kwargs):
        raise SystemExit("killed")  # stands in for kill -9: nothing after this line runs

    from samiksha import methods

    monkeypatch.setattr(methods.get("tfidf"), "deterministic", False)  # seed runs as for a fine-tune, in seconds
    monkeypatch.setattr(train_module, "other_seed_runs", killed)
    monkeypatch.setattr(shutil, "rmtree", lambda *args, **kwargs: None)  # no clean-up either, as after kill -9
    with pytest.raises(SystemExit):
        train(data, tmp_path / "m", config=TrainConfig(method="tfidf", seed=0, report_seeds=2))
    monkeypatch.undo()
    [staging] = [p for p in tmp_path.iterdir() if p.name.startswith(".m.staging-")]
    assert Classifier.load(staging).labels == ["negative", "neutral", "positive"]


# -- 5. bad samiksha.json: one line ---------------------------------------------------------------------------


@pytest.mark.parametrize(("content", "says"), [
    (b'{"method": "tfidf", ', "cannot be read"),
    (b"\xff\xfe\x00garbage", "cannot be read"),
    (b"[1, 2, 3]", "holds a JSON list, not an object"),
    (b'{"format_version": "2"}', "format_version '2' is not a version"),
    (b'{"format_version": 99}', "written by a newer Samiksha"),
])
def test_a_bad_samiksha_json_is_one_line_naming_the_file(tmp_path, quick_model, content, says):
    folder = tagged(quick_model, tmp_path / "m", "tampered")
    (folder / "samiksha.json").write_bytes(content)
    with pytest.raises(ModelError, match=says):
        Classifier.load(folder)
    line = one_error_line(invoke("predict", folder, "bahut badiya"))
    assert str(folder / "samiksha.json") in line and says in line


def test_a_train_into_a_folder_with_a_corrupt_samiksha_json_is_refused(tmp_path, data, quick_model):
    folder = tagged(quick_model, tmp_path / "m", "tampered")
    (folder / "samiksha.json").write_text("{")
    line = one_error_line(invoke("train", data, "-o", folder, "--method", "tfidf"))
    assert "samiksha.json: cannot be read" in line and "not replaced" in line


def test_a_plain_hugging_face_folder_has_no_metadata_and_is_not_replaced(tiny_bert):
    assert ModelFolder(tiny_bert).read_meta() == {}
    with pytest.raises(SamikshaError, match="not replaced"):
        ModelFolder(tiny_bert).check_replaceable()


# -- 6. older folders load --------------------------------------------------------------------------------------


def test_a_version_2_folder_loads_as_the_current_version(tmp_path, trained_tiny_plain, data):
    """samiksha.json as train.py wrote it up to 687547a: format_version 2, the same fields as today."""
    old = tmp_path / "v2"
    shutil.copytree(trained_tiny_plain, old)
    meta = json.loads((old / "samiksha.json").read_text())
    meta["format_version"] = 2
    (old / "samiksha.json").write_text(json.dumps(meta, indent=2))
    classifier = Classifier.load(old)
    assert classifier.meta["format_version"] == FORMAT_VERSION == 3
    texts = ["bahut badiya", "bakwas", "theek hai"]
    np.testing.assert_allclose(classifier.predict_proba(texts), Classifier.load(trained_tiny_plain).predict_proba(texts))
    assert json.loads((old / "samiksha.json").read_text())["format_version"] == 2  # loading never rewrites it
    assert ModelFolder(old).written_by_samiksha()  # so a new train may replace it


def test_a_version_1_folder_gets_what_version_2_added():
    from samiksha.modelfolder import migrate

    meta = migrate({"format_version": 1, "method": "finetune", "config": {"normalise": True}})
    assert meta["config"]["text_steps"] == ["unicode"] and meta["config"]["stack"] is False
    assert meta["format_version"] == 3


# -- 7. published files are readable by others ------------------------------------------------------------------


def test_published_files_get_the_modes_of_normally_created_files(tmp_path):
    from safetensors.numpy import save_file

    old_umask = os.umask(0o027)
    try:
        folder = ModelFolder(tmp_path / "m")
        with folder.writing(), folder.staging() as staging:
            save_file({"w": np.zeros(2, dtype=np.float32)}, str(staging / "model.safetensors"))  # written 0600
            (staging / "onnx").mkdir(mode=0o700)
            (staging / "samiksha.json").write_text("{}")
            folder.publish(staging)
        modes = {p.name: p.stat().st_mode & 0o777 for p in [folder.path, *folder.path.iterdir()]}
    finally:
        os.umask(old_umask)
    assert modes == {"m": 0o750, "model.safetensors": 0o640, "onnx": 0o750, "samiksha.json": 0o640}


def test_a_fine_tuned_model_is_readable_like_its_other_files(trained_tiny_plain):
    modes = {p.name: p.stat().st_mode & 0o777 for p in trained_tiny_plain.iterdir()}
    assert modes["model.safetensors"] == modes["config.json"] == normal_mode()
