"""Sentence embeddings from the embedded encoders, cached on disk by content, and a quick classifier on them.

`suggest`, `audit` and the labelling page use these: a frozen encoder plus logistic regression labels
thousands of reviews in seconds on 2 cores, which is what a loop of "label a few, refit" needs.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .hf_logging import quiet_transformers
from .models import resolve_model
from .progress import progress_bar
from .storage import atomic_write

log = logging.getLogger(__name__)

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
    parts = []
    with progress_bar(len(texts), f"embedding {len(texts)} reviews") as advance:  # the model's loading included
        model = _load(source, local_only)
        for start in range(0, max(len(texts), 1), 4 * BATCH):
            chunk = [prefix + t for t in texts[start:start + 4 * BATCH]]
            parts.append(model.encode(chunk, batch_size=BATCH, convert_to_numpy=True, normalize_embeddings=True,
                                      show_progress_bar=False).astype(np.float32))
            advance(len(chunk))
    vectors = np.concatenate(parts)
    if cache:
        def write(tmp: Path) -> None:
            with open(tmp, "wb") as handle:
                np.save(handle, vectors)

        atomic_write(path, write)
    return vectors


C_GRID = (0.1, 1.0, 10.0, 100.0, 1000.0)  # the quick model's inverse regularisation strengths tried by cross-validation
SKILL_PERMUTATIONS = 200  # label shuffles that give chance level for `quick_skill`


def quick_proba(train_x: np.ndarray, train_y: Sequence[int], score_x: np.ndarray, n_labels: int,
                seed: int = 0, balanced: bool = False, c: float | None = None) -> np.ndarray:
    """Probabilities for ``score_x`` from a logistic regression fitted on ``train_x`` (``balanced``: classes
    weighted equally, for macro-F1; unweighted probabilities are better calibrated), one column per label even
    when some label is missing from ``train_y`` (its column is 0). Its C is chosen from ``C_GRID`` by
    cross-validated log-loss on the training rows (``c``: this C instead): on unit-length embeddings the default
    C=1 leaves every probability near 1/3 (issue 26: on 250 SentiMix/Flipkart rows, cleanlab then found 2 of 25
    planted flips in its top 15)."""
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    train_y = np.asarray(train_y)
    seen, counts = np.unique(train_y, return_counts=True)
    out = np.zeros((len(score_x), n_labels))
    if len(seen) == 1:
        out[:, seen[0]] = 1.0
        return out
    model = LogisticRegression(C=c or 1.0, max_iter=2000, class_weight="balanced" if balanced else None,
                               random_state=seed)
    folds = min(5, int(counts.min()))
    if c is None and folds >= 2:
        from sklearn.model_selection import GridSearchCV, StratifiedKFold

        model = GridSearchCV(model, {"C": list(C_GRID)}, scoring="neg_log_loss",
                             cv=StratifiedKFold(folds, shuffle=True, random_state=seed))
    with threadpool_limits(1):  # a few hundred rows: threads only wait on each other (60x slower on a busy CPU)
        model.fit(train_x, train_y)
        out[:, model.classes_] = model.predict_proba(score_x)
    return out


@dataclass
class Skill:
    """How the quick model does on rows it never saw: out-of-fold macro-F1 against chance level."""

    macro_f1: float
    chance: float  # the mean macro-F1 with the labels shuffled
    threshold: float  # the 95th percentile of that: a score above it is better than chance (p < 0.05)
    labels: int

    @property
    def better_than_chance(self) -> bool:
        return self.macro_f1 > self.threshold

    def describe(self) -> str:
        return (f"cross-validated macro-F1 {self.macro_f1:.2f} on your {self.labels} labels, chance "
                f"{self.chance:.2f}")


def skill(y: Sequence[int], proba: np.ndarray, seed: int = 0) -> Skill:
    """Out-of-fold probabilities ``proba`` scored against labels ``y`` and against shuffles of ``y`` (a permutation
    test: shuffled labels keep the class sizes and the predictions, and lose any link between them)."""
    y, predicted, k = np.asarray(y), proba.argmax(axis=1), proba.shape[1]
    rng = np.random.default_rng(seed)
    null = np.array([_macro_f1(rng.permutation(y), predicted, k) for _ in range(SKILL_PERMUTATIONS)])
    return Skill(_macro_f1(y, predicted, k), float(null.mean()), float(np.quantile(null, 0.95)), len(y))


def _macro_f1(y: np.ndarray, predicted: np.ndarray, k: int) -> float:
    """Macro-F1 over all ``k`` labels (0 for a label neither given nor predicted), as scikit-learn's with
    zero_division=0, fast enough to run hundreds of times."""
    confusion = np.bincount(k * y + predicted, minlength=k * k).reshape(k, k)
    together = confusion.sum(axis=0) + confusion.sum(axis=1)
    f1 = np.divide(2 * np.diag(confusion), together, out=np.zeros(k), where=together > 0)
    return float(f1.mean())


def quick_skill(x: np.ndarray, y: Sequence[int], n_labels: int, seed: int = 0, balanced: bool = True) -> Skill:
    """`skill` of the quick model, each row scored by a model fitted on the other folds (`crossfit.cross_fit`)."""
    from .crossfit import cross_fit

    y = np.asarray(y)
    proba = cross_fit(y, lambda choose, score: quick_proba(x[choose], y[choose], x[score], n_labels, seed, balanced),
                      n_labels, seed=seed)
    return skill(y, proba, seed)
