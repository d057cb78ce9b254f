"""Pushing to the Hugging Face Hub: refused in one line before any work when it cannot happen; the upload is
huggingface_hub's own, faked only at its client boundary (HfApi.whoami, create_repo, upload_folder)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import huggingface_hub
import pytest
import yaml
from huggingface_hub import HfApi, RepoUrl
from huggingface_hub.utils import filter_repo_objects
from typer.testing import CliRunner

from samiksha.cli import app

runner = CliRunner()


def invoke(*args, env=None):
    return runner.invoke(app, [str(a) for a in args], env=env)


def front_matter(card: str) -> dict:
    assert card.startswith("---\n"), card[:80]
    return yaml.safe_load(card[4:].split("\n---\n", 1)[0])


@pytest.fixture(scope="module")
def tiny_stack(tmp_path_factory, tiny_bert, reviews_csv) -> Path:
    from samiksha import TrainConfig, train

    out = tmp_path_factory.mktemp("hub") / "stack"
    train(reviews_csv, out, config=TrainConfig(model=str(tiny_bert), method="stack", epochs=1, batch_size=8, seed=1,
                                               report_seeds=1))
    return out


@pytest.fixture
def hub(monkeypatch, tmp_path) -> dict:
    """An online, logged-in Hub whose repositories are folders under tmp_path/hub: what upload_folder would send
    (its own filter over the folder's files) is copied there."""
    calls: dict = {}
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)

    def whoami(self, token=None, **kwargs):
        return {"name": "asha", "auth": {"accessToken": {"role": "write"}}}

    def create_repo(self, repo_id, **kwargs):
        calls["create_repo"] = (repo_id, kwargs)
        return RepoUrl(f"https://huggingface.co/{repo_id}")

    def upload_folder(self, *, repo_id, folder_path, allow_patterns=None, ignore_patterns=None, **kwargs):
        files = [p.relative_to(folder_path).as_posix() for p in Path(folder_path).rglob("*") if p.is_file()]
        sent = sorted(filter_repo_objects(files, allow_patterns=allow_patterns, ignore_patterns=ignore_patterns))
        calls["uploaded"] = sent
        for name in sent:
            (tmp_path / "hub" / repo_id / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(Path(folder_path) / name, tmp_path / "hub" / repo_id / name)

    monkeypatch.setattr(HfApi, "whoami", whoami)
    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    calls["repos"] = tmp_path / "hub"
    return calls


def test_card_front_matter_carries_the_held_out_scores(tiny_stack):
    meta = front_matter((tiny_stack / "README.md").read_text(encoding="utf-8"))
    metrics = json.loads((tiny_stack / "metrics.json").read_text())
    assert meta["pipeline_tag"] == "text-classification" and meta["language"] == ["hi", "en"]
    assert meta["library_name"] == "transformers" and "samiksha" in meta["tags"]
    assert "base_model" not in meta  # a local folder is no Hub model id
    assert [w["text"] for w in meta["widget"]]
    (result,) = meta["model-index"][0]["results"]
    assert result["task"]["type"] == "text-classification" and "held-out" in result["dataset"]["name"]
    scores = {m["name"]: (m["type"], m["value"]) for m in result["metrics"]}
    transformer = metrics["parts"]["transformer"]
    assert scores == {
        "macro-F1 on held-out reviews, the whole model (samiksha predict)": ("f1", metrics["macro_f1"]),
        "accuracy on held-out reviews, the whole model (samiksha predict)": ("accuracy", metrics["accuracy"]),
        "macro-F1 on held-out reviews, the transformer alone (pipeline)": ("f1", transformer["macro_f1"]),
        "accuracy on held-out reviews, the transformer alone (pipeline)": ("accuracy", transformer["accuracy"])}


def test_train_push_to_hub_uploads_a_folder_that_pipeline_loads(tmp_path, reviews_csv, tiny_bert, hub):
    from transformers import pipeline

    out = tmp_path / "m"
    result = invoke("train", reviews_csv, "-o", out, "--model", tiny_bert, "--epochs", 1, "--batch-size", 8,
                    "--report-seeds", 1, "--push-to-hub", "asha/tiny-sentiment", "--private")
    assert result.exit_code == 0, result.output
    assert hub["create_repo"] == ("asha/tiny-sentiment", {"private": True, "exist_ok": True})
    uploaded = hub["uploaded"]
    assert {"README.md", "config.json", "model.safetensors", "samiksha.json", "metrics.json", "tfidf.json",
            "tfidf.safetensors"} <= set(uploaded)
    assert "eval.csv" not in uploaded and not any(name.endswith((".pkl", ".bin", ".lock")) for name in uploaded)
    assert json.loads((out / "samiksha.json").read_text())["method"] == "stack"  # auto fine-tunes when pushing
    repo = hub["repos"] / "asha/tiny-sentiment"
    classify = pipeline("text-classification", model=str(repo))
    assert classify("bahut badiya product")[0]["label"] in ("negative", "neutral", "positive")
    assert "pushed" in result.stdout and 'pipeline("text-classification", model="asha/tiny-sentiment")' in result.stdout


def test_push_folder_leaves_out_pickles_and_the_users_reviews(tmp_path, tiny_stack, hub):
    from samiksha.hub import push_folder

    folder = tmp_path / "m"
    shutil.copytree(tiny_stack, folder)
    (folder / "tfidf.joblib").write_bytes(b"an older folder's pickle")
    push_folder(folder, "asha/m")
    assert "eval.csv" not in hub["uploaded"] and "tfidf.joblib" not in hub["uploaded"]
    assert hub["create_repo"] == ("asha/m", {"private": None, "exist_ok": True})
    push_folder(folder, "asha/m", eval_data=True)
    assert "eval.csv" in hub["uploaded"]


def _refused_in_one_line(result, *needles: str) -> None:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and all(n in lines[0] for n in needles), result.stderr


def test_push_refused_offline_before_training(tmp_path, reviews_csv, tiny_bert, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = tmp_path / "m"
    result = invoke("train", reviews_csv, "-o", out, "--model", tiny_bert, "--push-to-hub", "asha/m")
    _refused_in_one_line(result, "--push-to-hub asha/m", "offline mode is on", "before any training")
    assert not out.exists()
    offline_flag = invoke("train", reviews_csv, "-o", out, "--model", tiny_bert, "--offline", "--push-to-hub", "asha/m",
                          env={"HF_HUB_OFFLINE": "0"})
    _refused_in_one_line(offline_flag, "offline mode is on")
    assert not out.exists()


def test_push_refused_without_a_token_before_training(tmp_path, reviews_csv, tiny_bert, monkeypatch):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_STORED_TOKENS_PATH", str(tmp_path / "no-tokens"))
    out = tmp_path / "m"
    result = invoke("train", reviews_csv, "-o", out, "--model", tiny_bert, "--push-to-hub", "asha/m")
    _refused_in_one_line(result, "not logged in", "hf auth login")
    assert not out.exists()


def test_push_refuses_methods_pipeline_cannot_load(tmp_path, reviews_csv, hub):
    out = tmp_path / "m"
    result = invoke("train", reviews_csv, "-o", out, "--method", "tfidf", "--push-to-hub", "asha/m")
    _refused_in_one_line(result, "not a transformers classifier", "--method finetune")
    assert not out.exists() and "uploaded" not in hub


def test_distill_and_export_refuse_offline_before_working(tmp_path, tiny_stack, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    student = tmp_path / "student"
    _refused_in_one_line(invoke("distill", tiny_stack, "-o", student, "--push-to-hub", "asha/s"), "offline mode")
    assert not student.exists()
    _refused_in_one_line(invoke("export", tiny_stack, "--push-to-hub", "asha/s"), "offline mode")
    assert not (tiny_stack / "onnx").exists()
    _refused_in_one_line(invoke("export", tiny_stack, "-o", tmp_path / "serve", "--push-to-hub", "asha/s"),
                         "leave --output out")


@pytest.mark.parametrize("answer, needle", [
    (httpx.ConnectError("[Errno -3] Temporary failure in name resolution"), "cannot reach the Hugging Face Hub"),
    ({"name": "asha", "auth": {"accessToken": {"role": "read"}}}, "read-only")])
def test_push_refused_without_network_or_write_access_before_training(tmp_path, reviews_csv, tiny_bert, hub,
                                                                     monkeypatch, answer, needle):
    def whoami(self, token=None, **kwargs):
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(HfApi, "whoami", whoami)
    out = tmp_path / "m"
    result = invoke("train", reviews_csv, "-o", out, "--model", tiny_bert, "--push-to-hub", "asha/m")
    _refused_in_one_line(result, needle, "before any training")
    assert not out.exists() and "uploaded" not in hub


def test_distill_and_export_push_their_folders(tmp_path, tiny_stack, hub):
    student = tmp_path / "student"
    distilled = invoke("distill", tiny_stack, "-o", student, "--layers", 1, "--epochs", 1, "--push-to-hub", "asha/s")
    assert distilled.exit_code == 0, distilled.output
    assert {"README.md", "model.safetensors", "config.json"} <= set(hub["uploaded"])
    assert "eval.csv" not in hub["uploaded"]
    model = tmp_path / "model"
    shutil.copytree(tiny_stack, model)
    exported = invoke("export", model, "--quantize", "none", "--push-to-hub", "asha/m", "--push-eval-data")
    assert exported.exit_code == 0, exported.output
    assert {"onnx/model.onnx", "model.safetensors", "eval.csv"} <= set(hub["uploaded"])
