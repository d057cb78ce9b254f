"""Does `samiksha suggest` get to a good model with fewer labels, and does `samiksha audit` find wrong labels?

Active learning, simulated on real data with labels revealed only when picked. Pools: 5,000 seeded rows of
SentiMix train (test: all 3,000 SentiMix dev tweets) and Flipkart (a seeded stratified 80/20 split: pool
from the 80, test the 20, natural imbalance kept). Per seed, every arm starts from the same 30 random labels;
the random arm continues uniformly at random, the others with `suggest.acquire` (the code `suggest` runs: cover
while a class has < 5 labels, then by strategy): 'entropy' (least-certain with the near-duplicate
guard), 'mix' (the default: half of each batch at random, the rest least-certain; 'mix-0.25': a quarter) and
'cluster-margin' (smallest margins, round-robin over 100 k-means clusters of the pool, clustered once), in
batches of 25 up to 530 (--last). The in-loop model is the quick one (frozen multilingual-e5 embeddings +
logistic regression); macro-F1 on the test rows at 50, 100, 200, 300 and 500 labels (the first N labels
acquired), mean and spread over paired seeds, each arm's paired difference to random, and the normalised area
under the learning curve (30..530 labels). Then the default recipe (`samiksha train`, no options) is trained on
each arm's first 300 and 500 labels with three seeds (one seed's figure swings by several points at these
sizes), the i-th fine-tune on the labels simulation seed i picked (so the spread counts both the picks and the
training), and scored on the same test rows. The pools' embeddings are kept in --cache (default: a folder in the
temporary directory), so reruns do not embed again.

Audit: 2,000 Flipkart rows with 10% of the labels flipped at random (three seeds): precision and recall of the
top 100 and 200 rows of the audit ranking against a baseline ranking by the model's own loss (the same
logistic regression fitted on all rows, scored on the rows it trained on).

    python benchmarks/active_learning.py                 # everything (about 30 min on 2 cores)
    python benchmarks/active_learning.py --seeds 3 --finetune-seeds 0 --only flipkart
    OMP_NUM_THREADS=1 python benchmarks/active_learning.py --seeds 5 --finetune-seeds 0 --last 330 --threads 1
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from samiksha import TrainConfig, train  # noqa: E402
from samiksha.audit import out_of_fold_proba, rank_issues  # noqa: E402
from samiksha.embeddings import DEFAULT_ENCODER, embed, quick_proba  # noqa: E402
from samiksha.evaluation import evaluate  # noqa: E402
from samiksha.suggest import CLUSTERS_PER_PICK, RANDOM_SHARE, acquire, kmeans  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
NAMES = ["negative", "neutral", "positive"]
START, BATCH, LAST = 30, 25, 530
CHECKPOINTS = (50, 100, 200, 300, 500)
FINETUNE_SIZES = (300, 500)
ARMS = ("random", "entropy", "mix", "cluster-margin")


def pools() -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    sentimix = pd.read_csv(DATA / "sentimix-hinglish" / "train.csv", keep_default_na=False)
    flipkart = pd.read_csv(DATA / "flipkart-reviews" / "train.csv", keep_default_na=False)
    fk_pool, fk_test = train_test_split(flipkart, test_size=0.2, stratify=flipkart["label"], random_state=0)
    return {
        "sentimix": (sentimix.sample(5000, random_state=0).reset_index(drop=True),
                     pd.read_csv(DATA / "sentimix-hinglish" / "dev.csv", keep_default_na=False)),
        "flipkart": (fk_pool.reset_index(drop=True), fk_test.reset_index(drop=True)),
    }


def macro_f1(x: np.ndarray, y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray) -> float:
    proba = quick_proba(x, y, test_x, len(NAMES), balanced=True)
    return float(f1_score(test_y, proba.argmax(1), labels=range(len(NAMES)), average="macro", zero_division=0))


def embedded(texts: list[str], cache: Path | None) -> np.ndarray:
    """`embed(texts)`, kept in ``cache`` (a folder) by the texts' digest, so reruns do not embed again."""
    if cache is None:
        return embed(texts)
    digest = hashlib.sha256("\0".join(texts).encode("utf-8", "surrogatepass")).hexdigest()[:24]
    path = cache / f"{DEFAULT_ENCODER}-{digest}.npy"
    if path.exists():
        return np.load(path)
    vectors = embed(texts)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def run_arm(vectors: np.ndarray, y: np.ndarray, start: np.ndarray, arm: str, seed: int, last: int,
            clusters: np.ndarray) -> list[int]:
    """Indices of the pool in the order the arm acquires labels, up to ``last``: 'random', or a strategy of
    `suggest.acquire` ('mix-0.25': the mix with a quarter at random)."""
    order = list(start)
    rng = np.random.default_rng(1000 + seed)
    strategy, _, share = arm.partition("-0.")
    while len(order) < last:
        left = np.setdiff1d(np.arange(len(vectors)), order)
        take = min(BATCH, last - len(order))
        if arm == "random":
            order += rng.choice(left, take, replace=False).tolist()
        else:
            picks, _, _ = acquire(vectors[left], vectors[order], y[order].tolist(), len(NAMES), take, seed,
                                  strategy, clusters[left], float(f"0.{share}") if share else RANDOM_SHARE)
            order += left[picks].tolist()
    return order


def simulate(name: str, pool: pd.DataFrame, test: pd.DataFrame, seeds: int, finetune_seeds: list[int],
             arms: list[str], last: int, finetune_sizes: list[int], cache: Path | None) -> None:
    t0 = time.perf_counter()
    vectors, test_vectors = embedded(pool["text"].tolist(), cache), embedded(test["text"].tolist(), cache)
    y = pool["label"].map(NAMES.index).to_numpy()
    test_y = test["label"].map(NAMES.index).to_numpy()
    clusters, _ = kmeans(vectors, CLUSTERS_PER_PICK * BATCH, seed=0)  # cluster-margin clusters the pool once
    print(f"\n== {name}: pool {len(pool)} {pool['label'].value_counts().to_dict()}, test {len(test)} "
          f"(embedded and clustered in {time.perf_counter() - t0:.0f} s)", flush=True)
    curve_points = list(range(START, last + 1, BATCH))
    checkpoints = [n for n in CHECKPOINTS if n <= last]
    scores = {arm: {n: [] for n in checkpoints} for arm in arms}
    areas: dict[str, list[float]] = {arm: [] for arm in arms}
    orders: dict[str, list[np.ndarray]] = {arm: [] for arm in arms}  # by seed
    t0 = time.perf_counter()
    for seed in range(seeds):
        start = np.random.default_rng(seed).choice(len(pool), START, replace=False)
        for arm in arms:
            order = run_arm(vectors, y, start, arm, seed, last, clusters)
            orders[arm].append(order)
            for n in checkpoints:
                scores[arm][n].append(macro_f1(vectors[order[:n]], y[order[:n]], test_vectors, test_y))
            curve = [macro_f1(vectors[order[:n]], y[order[:n]], test_vectors, test_y) for n in curve_points]
            areas[arm].append(float(np.trapezoid(curve, curve_points) / (curve_points[-1] - curve_points[0])))
        print(f"  seed {seed} done ({time.perf_counter() - t0:.0f} s)", flush=True)
    print(f"simulation: {seeds} paired seeds in {time.perf_counter() - t0:.0f} s; quick model's macro-F1 on the "
          f"{len(test)} test rows, mean ± std over seeds; 'vs random': the paired difference, mean ± std, and on how "
          f"many seeds the arm is ahead", flush=True)
    print(f"{'labels':>8} " + " ".join(f"{arm:>15}" for arm in arms))
    rows = [(str(n), scores_at) for n, scores_at in ((n, {a: scores[a][n] for a in arms}) for n in checkpoints)]
    rows.append((f"AULC {START}-{last}", areas))
    for label, values in rows:
        print(f"{label:>8} " + " ".join(f"{np.mean(values[a]):>7.3f} ± {np.std(values[a]):.3f}" for a in arms))
        if "random" in arms:
            base = np.array(values["random"])
            print(f"{'vs random':>8} " + " ".join(
                f"{np.mean(d):>+7.3f} ± {np.std(d):.3f} {int((d > 0).sum())}/{seeds}" if a != "random" else f"{'':>15}"
                for a in arms for d in [np.array(values[a]) - base]), flush=True)
    if not finetune_seeds:
        return
    print(f"default recipe (`samiksha train`) on each arm's first N labels, fine-tuned with seeds "
          f"{', '.join(map(str, finetune_seeds))} (the i-th on simulation seed i's labels, i modulo {seeds}), "
          f"scored on the {len(test)} test rows:")
    with tempfile.TemporaryDirectory() as tmp:
        test_file = Path(tmp) / "test.csv"
        test[["text", "label"]].to_csv(test_file, index=False)
        for n in finetune_sizes:
            row = []
            for arm in arms:
                f1s, seconds = [], []
                for i, seed in enumerate(finetune_seeds):  # report_seeds=1: the saved (scored) model is
                    # the same either way
                    train_file = Path(tmp) / f"{arm}{n}-{i % seeds}.csv"
                    pool.iloc[orders[arm][i % seeds][:n]][["text", "label"]].to_csv(train_file, index=False)
                    t1 = time.perf_counter()
                    train(train_file, Path(tmp) / f"model-{arm}{n}-{seed}", config=TrainConfig(seed=seed, report_seeds=1))
                    seconds.append(time.perf_counter() - t1)
                    f1s.append(evaluate(Path(tmp) / f"model-{arm}{n}-{seed}", test_file)["macro_f1"])
                row.append(f"{arm} {np.mean(f1s):.3f} ± {np.std(f1s):.3f} ({' '.join(f'{f:.3f}' for f in f1s)}; "
                           f"{np.mean(seconds):.0f} s)")
                print(f"{n:>8} labels: {row[-1]}", flush=True)


def audit_benchmark(seeds: int = 3, rows: int = 2000, noise: float = 0.1) -> None:
    flipkart = pd.read_csv(DATA / "flipkart-reviews" / "train.csv", keep_default_na=False)
    print(f"\n== audit: {rows} Flipkart rows, {noise:.0%} of labels flipped at random; precision / recall of the top k")
    results: dict[str, list[list[float]]] = {"audit (out-of-fold + cleanlab)": [], "own-loss baseline": []}
    flagged_stats = []
    for seed in range(100, 100 + seeds):
        frame = flipkart.sample(rows, random_state=seed).reset_index(drop=True)
        rng = np.random.default_rng(seed)
        y = frame["label"].map(NAMES.index).to_numpy().copy()
        flipped = rng.choice(rows, int(rows * noise), replace=False)
        for i in flipped:
            y[i] = rng.choice([k for k in range(len(NAMES)) if k != y[i]])
        truth = set(flipped.tolist())
        t0 = time.perf_counter()
        vectors = embed(frame["text"].tolist())
        proba = out_of_fold_proba(vectors, y, len(NAMES))
        quality, flags = rank_issues(y, proba)
        seconds = time.perf_counter() - t0
        own = quick_proba(vectors, y, vectors, len(NAMES))
        own_quality = own[np.arange(rows), y]  # low probability of the given label = high own loss
        for name, q in (("audit (out-of-fold + cleanlab)", quality), ("own-loss baseline", own_quality)):
            ranked = np.argsort(q, kind="stable")
            hits = [len(set(ranked[:k].tolist()) & truth) for k in (100, 200)]
            results[name].append([hits[0] / 100, hits[1] / 200, hits[0] / len(truth), hits[1] / len(truth)])
        caught = len(set(np.flatnonzero(flags).tolist()) & truth)
        flagged_stats.append((int(flags.sum()), caught / max(1, flags.sum()), caught / len(truth), seconds))
    print(f"{'ranking':<32} {'P@100':>7} {'P@200':>7} {'R@100':>7} {'R@200':>7}   (mean ± std over {seeds} seeds)")
    for name, values in results.items():
        v = np.array(values)
        print(f"{name:<32} " + " ".join(f"{m:.2f}±{s:.2f}" for m, s in zip(v.mean(0), v.std(0))))
    f = np.array(flagged_stats)
    print(f"cleanlab's own flag: {f[:, 0].mean():.0f} rows flagged, precision {f[:, 1].mean():.2f}, recall "
          f"{f[:, 2].mean():.2f}; audit took {f[:, 3].mean():.1f} s per run (embeddings cached after the first)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--only", default="sentimix,flipkart,audit")
    parser.add_argument("--finetune-seeds", type=int, default=3, help="fine-tunes per labelled set (0: none)")
    parser.add_argument("--finetune-sizes", default=",".join(map(str, FINETUNE_SIZES)))
    parser.add_argument("--finetune-first-seed", type=int, default=42, help="fine-tune seeds count up from this")
    parser.add_argument("--arms", default=",".join(ARMS), help="random and strategies of suggest.acquire "
                        "('mix-0.25': the mix with a quarter at random)")
    parser.add_argument("--last", type=int, default=LAST, help="labels acquired per arm")
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "samiksha-active-learning"),
                        help="folder for the pools' embeddings ('': none)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if not DATA.exists():
        sys.exit(f"no data at {DATA}")
    wanted = args.only.split(",")
    for name, (pool, test) in pools().items():
        if name in wanted:
            simulate(name, pool, test, args.seeds, [args.finetune_first_seed + i for i in range(args.finetune_seeds)],
                     args.arms.split(","), args.last, [int(n) for n in args.finetune_sizes.split(",")],
                     Path(args.cache) if args.cache else None)
    if "audit" in wanted:
        audit_benchmark()


if __name__ == "__main__":
    main()
