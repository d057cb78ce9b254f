"""Which reviews to label next: cover the pool while labels are few, then the ones the model is least sure of.

Cold start (no model, or a class with fewer than ``MIN_PER_CLASS`` labels): k-means on sentence embeddings,
one review per cluster (the one nearest its centre), largest clusters first. Afterwards: the highest entropy
of the predicted label distribution, skipping any review too similar to one already picked in the batch, so
"good product" and "good product!!" are not both asked. Entropy, not the smallest gap between the two top
labels: on held-out splits of SentiMix and Flipkart (10 seeds, benchmarks/active_learning.py's protocol) the gap
fell behind random picking on SentiMix from 300 labels on, entropy did not. `acquire` also has two other
strategies for after the cold start, to measure against entropy (issue 25): 'mix' (part of each batch at random)
and 'cluster-margin' (smallest margins spread over k-means clusters of the pool).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from .data import TEXT_COLUMNS, find_column, iter_table, load_labelled, normalise_text, read_table
from .errors import DataError
from .labels import SENTIMENT, column_key

log = logging.getLogger(__name__)
Seed = int | Sequence[int] | np.random.Generator  # what numpy's default_rng takes

MIN_PER_CLASS = 5  # below this many labels in some class, the model's uncertainty is not worth following
SIMILAR = 0.9  # cosine similarity above which two reviews count as near-duplicates in one batch
KMEANS_MAX_ROWS = 20_000  # k-means runs on a seeded sample of larger pools; every row is then assigned
STRATEGIES = ("entropy", "mix", "cluster-margin")  # how `acquire` picks once every label has MIN_PER_CLASS
# The default, mix: the default recipe fine-tuned on 300 SentiMix labels picked by each (benchmarks/active_learning.py,
# 3 seeds) scored random 0.526, mix 0.522, cluster-margin 0.499, entropy 0.464 (below random on every seed); on
# Flipkart (one seed) random 0.572, mix 0.611, cluster-margin 0.596, entropy 0.558
DEFAULT_STRATEGY = "mix"
RANDOM_SHARE = 0.5  # mix: the share of each batch picked uniformly at random. With the quick model in the loop
# (benchmarks/active_learning.py, 5 seeds, 30..330 labels) shares of 0.25, 0.5 and 0.75 were within the seed spread
# of each other on SentiMix and Flipkart; fine-tuned on SentiMix's first 300, more random picks did better
RANDOM_REASON = (f"picked at random ({RANDOM_SHARE:.0%} of each batch is, so that your labels stay a fair sample of "
                 "the pool)")
MARGIN_CANDIDATES = 10  # cluster-margin: the shortlist of smallest margins, per pick (the paper's 10)
CLUSTERS_PER_PICK = 4  # cluster-margin: k-means clusters of the pool per pick asked for


def row_id(text: str) -> str:
    """A stable id for a review: the same text (ignoring case and spacing) always gets the same id."""
    return hashlib.sha256(normalise_text(text).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def near_key(text: str) -> str:
    """Words only, lower-cased: "Good product!!" and "good product" share a key."""
    return " ".join(re.sub(r"[\W_]+", " ", text.casefold()).split())


@dataclass
class Pool:
    """Unlabelled reviews read from one file: every original column, the text column, one id per row."""

    frame: pd.DataFrame
    text_column: str
    source: str

    @cached_property
    def texts(self) -> list[str]:
        return self.frame[self.text_column].tolist()

    @cached_property
    def ids(self) -> list[str]:
        return [row_id(t) for t in self.texts]

    @cached_property
    def first_position(self) -> dict[str, int]:
        """Each review id's first row (duplicates of a text share one id)."""
        first: dict[str, int] = {}
        for position, rid in enumerate(self.ids):
            first.setdefault(rid, position)
        return first


def read_pool(path: str | Path, text_column: str | None = None) -> Pool:
    """Read a pool of reviews; rows with an empty text are dropped (with a warning)."""
    frame = read_table(path)
    if frame.empty:
        raise DataError(path, "has no data rows; the pool needs reviews to pick from")
    column = find_column(frame, text_column, TEXT_COLUMNS, "text", path)
    empty = frame[column].map(lambda t: not str(t).strip())
    if empty.all():
        raise DataError(path, f"has no text in column '{column}'", column=column)
    if empty.any():
        log.warning("%s: skipped %d row(s) with an empty '%s'", path, int(empty.sum()), column)
    return Pool(frame[~empty].reset_index(drop=True), column, str(path))


def candidates(texts: Sequence[str], exclude: set[str]) -> list[int]:
    """Row positions worth asking about: not labelled yet (by id) and the first of each near-duplicate group."""
    seen: set[str] = set()
    keep = []
    for i, text in enumerate(texts):
        key = near_key(text) or normalise_text(text)
        if row_id(text) in exclude or key in seen:
            continue
        seen.add(key)
        keep.append(i)
    return keep


def kmeans(embeddings: np.ndarray, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Every row's k-means cluster (``k`` clusters) and its squared distance to the centre; k-means is fitted on a
    seeded sample of ``KMEANS_MAX_ROWS`` rows of a larger pool."""
    from sklearn.cluster import KMeans

    rng = np.random.default_rng(seed)
    fit_rows = (rng.choice(len(embeddings), KMEANS_MAX_ROWS, replace=False) if len(embeddings) > KMEANS_MAX_ROWS
                else np.arange(len(embeddings)))
    model = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(embeddings[fit_rows])
    assigned = model.predict(embeddings)
    return assigned, ((embeddings - model.cluster_centers_[assigned]) ** 2).sum(axis=1)


def cover(embeddings: np.ndarray, n: int, seed: int = 0) -> list[tuple[int, int, int]]:
    """``(row, cluster, cluster size)`` for the row nearest each of ``n`` k-means centres, largest cluster first."""
    n = min(n, len(embeddings))
    if n == 0:
        return []
    assigned, distance = kmeans(embeddings, n, seed)
    sizes = Counter(assigned.tolist())
    picks = []
    for cluster, size in sizes.most_common():
        members = np.flatnonzero(assigned == cluster)
        picks.append((int(members[distance[members].argmin()]), int(cluster), size))
    return picks


def uncertainty(proba: np.ndarray) -> np.ndarray:
    """The entropy of each row's label distribution (higher: less certain)."""
    return -(proba * np.log(np.clip(proba, 1e-12, 1.0))).sum(axis=1)


def least_certain(proba: np.ndarray, embeddings: np.ndarray | None, n: int,
                  similar: float = SIMILAR) -> list[int]:
    """Up to ``n`` rows by highest entropy, skipping rows whose embedding is within ``similar`` cosine similarity
    of one already picked (embeddings are L2-normalised)."""
    picked: list[int] = []
    for i in np.argsort(-uncertainty(proba), kind="stable"):
        if len(picked) == n:
            break
        if _near_duplicate(embeddings, picked, i, similar):
            continue
        picked.append(int(i))
    return picked


def least_certain_first(proba: np.ndarray, embed_rows: Callable[[np.ndarray], np.ndarray], n: int) -> list[int]:
    """Every row, in the order to ask a model's doubts: the ``n`` least certain first, skipping near-duplicates of
    a row already picked (looking among the ``10 n`` least certain, so only those are embedded, by
    ``embed_rows(rows)``), then the rest by entropy. The one ranking rule of `suggest` and the label page."""
    by_doubt = np.argsort(-uncertainty(proba), kind="stable")
    head = by_doubt[:10 * n]
    first = head[least_certain(proba[head], embed_rows(head), n)].tolist()
    chosen = set(first)
    return first + [int(i) for i in by_doubt if i not in chosen]


def margin(proba: np.ndarray) -> np.ndarray:
    """The gap between each row's two most likely labels (smaller: less certain)."""
    top = np.sort(proba, axis=1)
    return top[:, -1] - top[:, -2]


def _near_duplicate(embeddings: np.ndarray | None, picked: list[int], row: int, similar: float = SIMILAR) -> bool:
    return embeddings is not None and bool(picked) and float((embeddings[picked] @ embeddings[row]).max()) > similar


def mixed(proba: np.ndarray, embeddings: np.ndarray | None, n: int, seed: Seed = 0,
          share: float = RANDOM_SHARE) -> tuple[list[int], set[int]]:
    """Up to ``n`` rows: ``share`` of them uniformly at random, the rest by `least_certain` among the others,
    interleaved so that every prefix of the batch holds about that share of random rows; and the random ones."""
    n = min(n, len(proba))
    rng = np.random.default_rng(seed)
    chance = rng.choice(len(proba), round(share * n), replace=False)
    rest = np.setdiff1d(np.arange(len(proba)), chance)
    doubt = rest[least_certain(proba[rest], None if embeddings is None else embeddings[rest], n - len(chance))]
    place = [((i + 0.5) / len(doubt), int(row)) for i, row in enumerate(doubt)]
    place += [((i + 0.5) / len(chance), int(row)) for i, row in enumerate(chance)]
    return [row for _, row in sorted(place)], {int(row) for row in chance}


def cluster_margin(proba: np.ndarray, clusters: np.ndarray, n: int, seed: Seed = 0,
                   embeddings: np.ndarray | None = None) -> list[int]:
    """Up to ``n`` rows by cluster-margin (Citovsky et al. 2021, "Batch Active Learning at Scale"): among the
    ``MARGIN_CANDIDATES * n`` rows with the smallest `margin`, one at a time from each of their clusters in turn,
    the clusters with fewest candidates first, each cluster's rows in a seeded random order; near-duplicates of a
    row already picked are skipped."""
    rng = np.random.default_rng(seed)
    shortlist = np.argsort(margin(proba), kind="stable")[:MARGIN_CANDIDATES * n]
    groups = [rng.permutation(shortlist[clusters[shortlist] == c]).tolist() for c in np.unique(clusters[shortlist])]
    groups.sort(key=len)  # stable: equal sizes keep the cluster order
    picked: list[int] = []
    while len(picked) < n and any(groups):
        for group in groups:
            while group and len(picked) < n:
                row = group.pop(0)
                if not _near_duplicate(embeddings, picked, row):
                    picked.append(int(row))
                    break
    return picked


def guess_and_reason(proba: np.ndarray, names: Sequence[str], source: str) -> tuple[str, float, str]:
    """The most likely label of one row, its probability, and why the row counts as uncertain."""
    top = np.argsort(proba)[::-1]
    return (names[top[0]], float(proba[top[0]]),
            f"hard to call for {source}: {names[top[0]]} {proba[top[0]]:.0%} or {names[top[1]]} {proba[top[1]]:.0%}")


def cover_reason(size: int) -> str:
    """Why a review that stands for ``size`` similar ones (itself included) is asked early, in plain words."""
    if size <= 1:
        return "unlike any other review in the pool"
    others = "1 other in the pool reads" if size == 2 else f"{size - 1} others in the pool read"
    return f"a typical review: {others} much like it"


def _labels_so_far(labelled: str | Path | None, text_column: str | None,
                   pool_text_column: str | None = None) -> tuple[list[str], list[str]]:
    """The labelled file's texts and labels: its text column is ``text_column``, else the pool's when the file has
    one of that name (a file of picked rows, labelled), else found by name (a label export calls it ``text``)."""
    if labelled is None:
        return [], []
    if text_column is None and pool_text_column is not None and str(labelled) != "-":
        header = next(iter_table(labelled, chunk_rows=1), pd.DataFrame()).columns
        if any(column_key(c) == column_key(pool_text_column) for c in header):
            text_column = pool_text_column
    data = load_labelled(labelled, text_column=text_column)
    return data.texts, data.labels


def _names(labels: Sequence[str]) -> list[str]:
    """Label names to expect: the three sentiment names when the labels are sentiment names, else those seen."""
    seen = sorted(set(labels))
    return list(SENTIMENT) if set(seen) <= set(SENTIMENT) else seen


def needs_cover(label_ids: Sequence[int], n_labels: int) -> bool:
    """True while some label has fewer than ``MIN_PER_CLASS`` examples."""
    counts = Counter(label_ids)
    return any(counts[i] < MIN_PER_CLASS for i in range(n_labels))


def _known(strategy: str) -> None:
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")


def acquire(vectors: np.ndarray, known_vectors: np.ndarray, known_y: Sequence[int], n_labels: int, n: int,
            seed: int = 0, strategy: str = DEFAULT_STRATEGY, clusters: np.ndarray | None = None,
            share: float = RANDOM_SHARE) -> tuple[list[int], np.ndarray | None, dict[int, str]]:
    """The next ``n`` rows of ``vectors`` to label, given embeddings and label ids of the rows labelled so far:
    cover the pool while some label is rare, else by ``strategy`` on a quick model's probabilities: 'entropy'
    (`least_certain`), 'mix' (`mixed`, ``share`` of them at random) or 'cluster-margin' (`cluster_margin` over
    ``clusters``, each row's cluster, by default k-means on ``vectors``). Returns the picks, the quick model's
    probabilities for every row (None when covering) and why each covering or random pick was made. Random draws
    are seeded by ``seed`` and the number of labels, so each round draws afresh."""
    _known(strategy)
    from .embeddings import quick_proba

    if needs_cover(known_y, n_labels):
        picks = cover(vectors, n, seed)
        reasons = {row: cover_reason(size) for row, _, size in picks}
        return [row for row, _, _ in picks], None, reasons
    proba = quick_proba(known_vectors, known_y, vectors, n_labels, seed, balanced=True)
    picks, at_random = choose(proba, vectors, n, strategy, [seed, len(known_y)], clusters, share)
    return picks, proba, dict.fromkeys(at_random, RANDOM_REASON)


def choose(proba: np.ndarray, vectors: np.ndarray, n: int, strategy: str = DEFAULT_STRATEGY,
           seed: Seed = 0, clusters: np.ndarray | None = None,
           share: float = RANDOM_SHARE) -> tuple[list[int], set[int]]:
    """Up to ``n`` rows to ask about, by ``strategy`` (see `acquire`) on a model's probabilities ``proba``, and
    those of them picked at random."""
    _known(strategy)
    rng = np.random.default_rng(seed)
    if strategy == "mix":
        return mixed(proba, vectors, n, rng, share)
    if strategy == "cluster-margin":
        if clusters is None:
            clusters, _ = kmeans(vectors, min(len(vectors), CLUSTERS_PER_PICK * n), int(rng.integers(2**31)))
        return cluster_margin(proba, clusters, n, rng, vectors), set()
    return least_certain_first(proba, lambda rows: vectors[rows], n)[:n], set()


def pick_next(vectors: np.ndarray, known_vectors: np.ndarray, known_y: Sequence[int], n_labels: int, n: int,
              seed: int = 0, strategy: str = DEFAULT_STRATEGY) -> tuple[list[int], np.ndarray | None, dict[int, str]]:
    """`acquire`'s picks, probabilities and reasons, with the probabilities None (and a reason for each pick
    saying so) when the quick model is no better than chance on held-out folds, so its guesses mean nothing yet."""
    from .embeddings import quick_skill

    picks, proba, reasons = acquire(vectors, known_vectors, known_y, n_labels, n, seed, strategy)
    if proba is None:
        return picks, proba, reasons
    judged = quick_skill(known_vectors, known_y, n_labels, seed)
    if judged.better_than_chance:
        return picks, proba, reasons
    log.info("guesses hidden: the quick model is no better than chance yet (%s)", judged.describe())
    why = f"unsure; no guess yet: a quick model is no better than chance on your labels so far ({judged.describe()})"
    return picks, None, {row: reasons.get(row, why) for row in picks}  # a random pick stays one


def suggest(pool: str | Path, n: int = 50, *, labelled: str | Path | None = None, model_dir: str | Path | None = None,
            text_column: str | None = None, labelled_text_column: str | None = None, encoder: str | None = None,
            seed: int = 0, trust_pickle: bool = False, strategy: str = DEFAULT_STRATEGY) -> pd.DataFrame:
    """The ``n`` reviews of ``pool`` worth labelling next, with every original column plus ``row_id``, ``guess``
    (the current model's label, empty before there is one), ``guess_score`` and ``reason``. ``text_column`` names
    the pool's text column, ``labelled_text_column`` the labelled file's (default: the pool's if it has one of that
    name, else found by name). ``strategy``: how to pick once there is a model (see `acquire`)."""
    from .embeddings import embed

    _known(strategy)
    if n < 1:
        raise DataError(pool, f"asked for {n} suggestions; ask for at least 1")
    data = read_pool(pool, text_column)
    texts = data.texts
    known_texts, known_labels = _labels_so_far(labelled, labelled_text_column, text_column)
    exclude = {row_id(t) for t in known_texts}
    rows = candidates(texts, exclude)
    if not rows:
        raise DataError(pool, "every review in the pool is labelled already (or a duplicate of one)")
    if known_texts and len(exclude & set(data.ids)) == 0:
        log.warning("%s: none of the %d labelled reviews in %s is in this pool; are they from another pool?",
                    pool, len(known_texts), labelled)
    texts_left = [texts[i] for i in rows]
    guess, score = [""] * len(rows), [np.nan] * len(rows)
    reasons: dict[int, str] = {}
    if model_dir is not None:
        from .predict import Classifier

        classifier = Classifier.load(model_dir, trust_pickle=trust_pickle)
        names, proba = classifier.labels, classifier.predict_proba(texts_left)
        if strategy == "entropy":  # only the least certain are embedded, for the near-duplicate guard
            picked = least_certain_first(proba, lambda rows: embed([texts_left[i] for i in rows], encoder), n)[:n]
        else:
            picked, at_random = choose(proba, embed(texts_left, encoder), n, strategy, seed)
            reasons = dict.fromkeys(at_random, RANDOM_REASON)
        source = f"the model in {model_dir}"
    else:
        names = _names(known_labels)
        index = {name: i for i, name in enumerate(names)}
        known_y = [index[x] for x in known_labels]
        if needs_cover(known_y, len(names)):
            counts = Counter(known_labels)
            log.info("few labels so far (%s; under %d in some class): picking reviews that cover the pool",
                     ", ".join(f"{name} {counts[name]}" for name in names), MIN_PER_CLASS)
        known_vectors = embed(known_texts, encoder) if known_texts else np.zeros((0, 1))
        pool_vectors = embed(texts, encoder)[rows]  # the whole pool, so the cache holds however the labels grow
        picked, proba, reasons = pick_next(pool_vectors, known_vectors, known_y, len(names), n, seed, strategy)
        source = f"a quick model trained on your {len(known_texts)} labels"
    if proba is not None:
        for i in picked:
            guess[i], score[i], why = guess_and_reason(proba[i], names, source)
            reasons.setdefault(i, why)  # a random pick says so, with the model's guess beside it
    added = ["row_id", "guess", "guess_score", "reason"]
    out = data.frame.iloc[[rows[i] for i in picked]].drop(columns=added, errors="ignore")
    out.insert(0, "row_id", [row_id(texts_left[i]) for i in picked])
    out["guess"] = [guess[i] for i in picked]
    out["guess_score"] = [round(score[i], 4) if score[i] == score[i] else None for i in picked]
    out["reason"] = [reasons.get(i, "") for i in picked]
    out = out.reset_index(drop=True)
    out.attrs["text_column"] = data.text_column
    return out

