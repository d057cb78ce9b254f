"""Does a second script view help the frozen multilingual encoder read Hinglish? (issue 24, item 2)

A probe, not a fine-tune: the embedded multilingual e5 embeds a seeded, stratified sample of SentiMix train rows
(1,000 by default) and a fixed stratified sample of dev rows (1,000); logistic regression on the embeddings is
scored on dev (macro-F1). Four inputs, for each seed of the training sample:

- roman: the text as written (after the default ``unicode`` clean-up);
- devanagari: its Devanagari view (`samiksha.scriptview`; the text itself where the step adds none);
- concat: both embeddings side by side;
- joined: the text the ``script_view`` step gives (text | view), the form a fine-tune would see.

    OMP_NUM_THREADS=1 python benchmarks/script_view.py                  # 3 seeds, about 20 minutes on 1 core
    python benchmarks/script_view.py --seeds 0 --train-size 300 --dev-size 300

Measured (2026-12-05, 2 shared CPU cores, OMP_NUM_THREADS=1, about 20 minutes; 82% of dev texts got a view):

| input | macro-F1 (mean) | seeds 0, 1, 2 |
|---|---|---|
| roman | 0.530 | 0.523 0.523 0.543 |
| devanagari | 0.567 | 0.555 0.572 0.575 |
| concat | 0.574 | 0.564 0.582 0.576 |
| joined | 0.569 | 0.547 0.573 0.586 |

Embeddings and views are cached under --cache (default /tmp/samiksha-script-view), so a rerun is fast.
Data is read from --data (never copied into the repository). Needs the ``script`` extra.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from samiksha.embeddings import embed  # noqa: E402
from samiksha.normalise import normaliser  # noqa: E402
from samiksha.scriptview import SEPARATOR  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
FORMS = ("roman", "devanagari", "concat", "joined")


def sample(frame: pd.DataFrame, size: int, seed: int) -> pd.DataFrame:
    """A seeded, stratified sample of ``size`` rows."""
    if size >= len(frame):
        return frame
    picked, _ = train_test_split(frame, train_size=size, stratify=frame["label"], random_state=seed)
    return picked


def cached(cache: Path, kind: str, texts: list[str], compute) -> np.ndarray:
    """``compute(texts)``, stored under ``cache`` by the texts' digest."""
    digest = hashlib.sha256("\0".join([kind, *texts]).encode("utf-8", "surrogatepass")).hexdigest()[:24]
    path = cache / f"{kind}-{digest}.npy"
    if path.exists():
        return np.load(path, allow_pickle=False)
    values = compute(texts)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, values, allow_pickle=False)
    return values


def views(texts: list[str], cache: Path) -> tuple[list[str], list[str], list[str]]:
    """(roman, devanagari, joined) forms of ``texts``; devanagari is the view, or the text where there is none."""
    plain, joined = normaliser(["unicode"]), normaliser(["unicode", "script_view"])
    roman = [plain(t) for t in texts]
    both = cached(cache, "joined", roman, lambda ts: np.array([joined(t) for t in ts])).tolist()
    other = [j[len(r) + len(SEPARATOR):] if j != r else r for r, j in zip(roman, both)]
    return roman, other, both


def features(texts: list[str], cache: Path) -> dict[str, np.ndarray]:
    roman, other, both = views(texts, cache)
    vectors = {name: cached(cache, f"e5-{name}", forms, lambda ts: embed(ts, "multilingual", cache=False))
               for name, forms in (("roman", roman), ("devanagari", other), ("joined", both))}
    vectors["concat"] = np.hstack([vectors["roman"], vectors["devanagari"]])
    return vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA / "sentimix-hinglish")
    parser.add_argument("--train-size", type=int, default=1000)
    parser.add_argument("--dev-size", type=int, default=1000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--cache", type=Path, default=Path("/tmp/samiksha-script-view"))
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    train = pd.read_csv(args.data / "train.csv").dropna(subset=["text", "label"])
    dev = sample(pd.read_csv(args.data / "dev.csv").dropna(subset=["text", "label"]), args.dev_size, 0)
    start = time.perf_counter()
    dev_x = features(dev["text"].astype(str).tolist(), args.cache)
    roman, _, joined = views(dev["text"].astype(str).tolist(), args.cache)
    with_view = np.mean([j != r for r, j in zip(roman, joined)])
    scores: dict[str, list[float]] = {form: [] for form in FORMS}
    for seed in args.seeds:
        rows = sample(train, args.train_size, seed)
        train_x = features(rows["text"].astype(str).tolist(), args.cache)
        for form in FORMS:
            probe = LogisticRegression(max_iter=2000).fit(train_x[form], rows["label"])
            scores[form].append(f1_score(dev["label"], probe.predict(dev_x[form]), average="macro"))
        print(f"seed {seed}: " + ", ".join(f"{form} {scores[form][-1]:.3f}" for form in FORMS), flush=True)
    print(f"\n{args.train_size} train rows -> {len(dev)} dev rows, seeds {args.seeds}; "
          f"{with_view:.0%} of dev texts got a view; {time.perf_counter() - start:.0f} s")
    print("| input | macro-F1 (mean) | per seed |\n|---|---|---|")
    for form in FORMS:
        print(f"| {form} | {np.mean(scores[form]):.3f} | {' '.join(f'{s:.3f}' for s in scores[form])} |")
    print(json.dumps({form: [round(s, 4) for s in scores[form]] for form in FORMS}))


if __name__ == "__main__":
    main()
