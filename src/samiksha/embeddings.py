"""Sentence embeddings from the embedded encoders, cached on disk by content, and a quick classifier on them.

`suggest`, `audit` and the labelling page use these: a frozen encoder plus logistic regression labels
thousands of reviews in seconds on 2 cores, which is what a loop of "label a few, refit" needs.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from .hf_logging import quiet_transformers
from .models import resolve_model
from .storage import atomic_write

log = logging.getLogger("samiksha")

BATCH = 64
MAX_TOKENS = 128  # reviews are short; longer ones are cut for the embedding only


DEFAULT_ENCODER = "multilingual"  # e5-small reads all three scripts; measured on Flipkart flips it also found
# more of them than MiniLM (precision at 200: 0.67 against 0.62; benchmarks/active_learning.py)


def _identity(name: str) -> tuple[str, str, bool, str]:
    """Where the encoder loads from, its name, whether only local files may be used, and the prefix it wants."""
    from .methods.finetune import E5_NAME

    resolved = resolve_model(name)
    prefix = "query: " if E5_NAME.search(Path(resolved.name).name) else ""
    return resolved.path, resolved.name, resolved.local_files_only, prefix


@lru_cache(maxsize=2)
def _load(path: str, local_files_only: bool):
    from sentence_transformers import SentenceTransformer

    with quiet_transformers():
        model = SentenceTransformer(path, device="cpu", local_files_only=local_files_only)
    model.max_seq_length = min(model.max_seq_length or MAX_TOKENS, MAX_TOKENS)
    return model


def _cache_file(model_name: str, prefix: str, texts: Sequence[str]) -> Path:
    from .multilingual import cache_dir

    digest = hashlib.sha256(f"{model_name}\0{prefix}\0{MAX_TOKENS}".encode())
    for text in texts:
        digest.update(text.encode("utf-8", "surrogatepass") + b"\0")
    return cache_dir() / "embeddings" / f"{digest.hexdigest()[:32]}.npy"


def embed(texts: Sequence[str], name: str | None = None, cache: bool = True) -> np.ndarray:
    """L2-normalised embeddings of ``texts`` (one row each) by the encoder ``name`` (default: the embedded
    multilingual one), read from the cache when these exact texts were embedded by this encoder before."""
    name = name or DEFAULT_ENCODER
    source, model_name, local_only, prefix = _identity(name)
    path = _cache_file(model_name, prefix, texts)
    if cache and path.exists():
        try:
            cached = np.load(path)
            if cached.shape[0] == len(texts):
                return cached
        except (OSError, ValueError):
            log.warning("%s: unreadable embedding cache; embedding again", path)
    if len(texts) > 1000:
        log.info("embedding %d texts with %s (cached for the next call)", len(texts), model_name)
    vectors = _load(source, local_only).encode([prefix + t for t in texts], batch_size=BATCH, convert_to_numpy=True,
                           normalize_embeddings=True, show_progress_bar=False).astype(np.float32)
    if cache:
        def write(tmp: Path) -> None:
            with open(tmp, "wb") as handle:
                np.save(handle, vectors)

        atomic_write(path, write)
    return vectors


def quick_proba(train_x: np.ndarray, train_y: Sequence[int], score_x: np.ndarray, n_labels: int,
                seed: int = 0, balanced: bool = False) -> np.ndarray:
    """Probabilities for ``score_x`` from a logistic regression fitted on ``train_x`` (``balanced``: classes
    weighted equally, for macro-F1; unweighted probabilities are better calibrated), one column per label even
    when some label is missing from ``train_y`` (its column is 0)."""
    from sklearn.linear_model import LogisticRegression

    train_y = np.asarray(train_y)
    seen = np.unique(train_y)
    out = np.zeros((len(score_x), n_labels))
    if len(seen) == 1:
        out[:, seen[0]] = 1.0
        return out
    model = LogisticRegression(max_iter=2000, class_weight="balanced" if balanced else None, random_state=seed)
    model.fit(train_x, train_y)
    out[:, model.classes_] = model.predict_proba(score_x)
    return out
