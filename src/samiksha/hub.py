"""Pushing a model folder to the Hugging Face Hub with ``huggingface_hub``'s own upload.

`check_push` runs before any training (offline, no token, a read-only token or no network: one line, nothing
trained); `push_folder` runs after the folder is published. The upload leaves out pickles, checkpoints, lock and
hidden files, and the evaluation rows (``eval.csv`` holds the user's reviews) unless asked.
"""

from __future__ import annotations

import logging
from pathlib import Path

from . import methods
from .config import TrainConfig
from .errors import SamikshaError, first_line
from .models import offline_requested

log = logging.getLogger(__name__)
NOT_UPLOADED = ["*.pkl", "*.pickle", "*.joblib", "*.bin", "*.pt", "*.pth", "checkpoint-*", ".*", "*/.*", "*.lock"]
EVAL_ROWS = "eval.csv"
BEFORE = "before any training or export"


def check_push(repo: str, offline: bool = False) -> str:
    """Refuse in one line, before any training, a push that cannot happen; returns the account's name."""
    from huggingface_hub import HfApi, constants
    from huggingface_hub.errors import HFValidationError, LocalTokenNotFoundError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(repo)
    except HFValidationError:
        raise SamikshaError(f"--push-to-hub {repo}: not a Hub repository name (NAME or OWNER/NAME: letters, digits, "
                            "'-', '_' and '.')") from None
    if offline_requested(offline) or constants.HF_HUB_OFFLINE:
        raise SamikshaError(f"--push-to-hub {repo}: offline mode is on (--offline or HF_HUB_OFFLINE=1), so nothing "
                            f"can be uploaded (stopped {BEFORE})")
    try:
        account = HfApi().whoami()
    except LocalTokenNotFoundError:
        raise SamikshaError(f"--push-to-hub {repo}: not logged in to the Hugging Face Hub; log in with `hf auth "
                            f"login` or set HF_TOKEN (stopped {BEFORE})") from None
    except Exception as err:  # a rejected token, no network: huggingface_hub and httpx errors alike
        raise SamikshaError(f"--push-to-hub {repo}: cannot reach the Hugging Face Hub as a logged-in user "
                            f"({first_line(err)}); check the network and `hf auth whoami` (stopped {BEFORE})") from None
    role = account.get("auth", {}).get("accessToken", {}).get("role")
    if role == "read":
        raise SamikshaError(f"--push-to-hub {repo}: the Hugging Face token of {account.get('name')} is read-only; use "
                            f"a token with write access (stopped {BEFORE})")
    return str(account.get("name"))


def method_to_push(method: str | None, stack: bool, repo: str) -> str:
    """The method ``train --push-to-hub`` trains: one whose folder ``pipeline("text-classification")`` loads.

    ``auto`` fine-tunes (it would pick SetFit on few labels); tfidf, setfit and ensemble are refused in one line."""
    if method in (None, methods.AUTO):  # what auto picks for a plain transformer with plenty of labels
        method, _ = methods.choose(TrainConfig(method=methods.AUTO, stack=stack), {"every class": 10**9}, False)
        log.info("--push-to-hub: method auto fine-tunes (%s), since the pushed folder must load in "
                 "pipeline('text-classification')", method)
    if not methods.get(method).fine_tunes:
        raise SamikshaError(f"--push-to-hub {repo}: a {method} folder is not a transformers classifier, so "
                            "pipeline('text-classification') could not load it from the Hub; train with "
                            f"{' or '.join(f'--method {m.name}' for m in methods.all_methods() if m.fine_tunes)} to push")
    return method


def ignored(eval_data: bool = False) -> list[str]:
    """The patterns ``upload_folder`` leaves out."""
    return NOT_UPLOADED if eval_data else [*NOT_UPLOADED, EVAL_ROWS]


def push_folder(folder: str | Path, repo: str, *, private: bool = False, eval_data: bool = False,
                message: str = "Upload a Samiksha model") -> str:
    """Create ``repo`` (if new) and upload ``folder`` to it; returns the repository's address."""
    from huggingface_hub import HfApi

    api = HfApi()
    try:
        url = api.create_repo(repo, private=True if private else None, exist_ok=True)
        api.upload_folder(repo_id=url.repo_id, folder_path=folder, commit_message=message,
                          ignore_patterns=ignored(eval_data))
    except Exception as err:  # network, permission, quota: the model is saved, say how to push it later
        raise SamikshaError(f"{folder}: saved, but pushing it to {repo} failed ({first_line(err)}); push it later with "
                            f"`hf upload {repo} {folder} --exclude '{EVAL_ROWS}' --exclude '*.pkl'`") from None
    log.info("pushed %s to %s", folder, url)
    return str(url)

