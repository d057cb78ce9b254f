"""How the TF-IDF model is stored: joblib (a pickle, what older versions wrote) against JSON + safetensors (no pickle).

Fits the TF-IDF pipeline of `samiksha.methods.tfidf` once on SentiMix train, saves it both ways into a temporary
folder, then loads each ``--repeats`` times (alternating, so drift on a shared machine hits both) and prints the
median load time, as a ratio against joblib's in the same run, the size on disk, and the largest absolute difference
of predict_proba on SentiMix dev (held out) between the fitted pipeline and each loaded one.

    python benchmarks/parts_storage.py [--rows 14000] [--repeats 7]

Skips (exit 0) when the shared data is absent. Timings on a shared machine are noisy: compare the ratios.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "sentimix-hinglish"
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=None, help="Train on this many SentiMix train rows (default: all).")
    parser.add_argument("--repeats", type=int, default=7, help="Loads of each format; the median is reported.")
    args = parser.parse_args()
    if not (DATA / "train.csv").exists():
        print(f"skipped: {DATA} is absent")
        return
    import joblib
    from accuracy import machine

    from samiksha.labels import SENTIMENT
    from samiksha.methods.tfidf import LEGACY_FILE, PART, build_pipeline
    from samiksha.sklearn_parts import files, load_tfidf, save_tfidf

    print(f"machine: {machine()}")
    train, held_out = pd.read_csv(DATA / "train.csv"), pd.read_csv(DATA / "dev.csv")
    if args.rows:
        train = train.sample(n=min(args.rows, len(train)), random_state=0)
    ids = {name: i for i, name in enumerate(SENTIMENT)}
    started = time.perf_counter()
    pipeline = build_pipeline(0).fit(train["text"].astype(str).tolist(), train["label"].map(ids).tolist())
    print(f"fitted on {len(train)} SentiMix train rows in {time.perf_counter() - started:.0f} s; "
          f"{len(pipeline.classes_)} classes, {pipeline.steps[-1][1].coef_.shape[1]} features")
    texts = held_out["text"].astype(str).tolist()
    reference = pipeline.predict_proba(texts)
    with tempfile.TemporaryDirectory(prefix="parts-storage-") as work:
        folder = Path(work)
        joblib.dump(pipeline, folder / LEGACY_FILE)  # as older versions saved it
        save_tfidf(pipeline, folder, PART)
        loaders = {"joblib (pickle)": lambda: joblib.load(folder / LEGACY_FILE),
                   "json + safetensors": lambda: load_tfidf(folder, PART, LEGACY_FILE)}
        sizes = {"joblib (pickle)": (folder / LEGACY_FILE).stat().st_size,
                 "json + safetensors": sum((folder / f).stat().st_size for f in files(PART))}
        seconds: dict[str, list[float]] = {name: [] for name in loaders}
        loaded = {}
        for _ in range(args.repeats):
            for name, load in loaders.items():
                started = time.perf_counter()
                loaded[name] = load()
                seconds[name].append(time.perf_counter() - started)
        base = float(np.median(seconds["joblib (pickle)"]))
        print(f"\n{'format':<20}{'load s (median)':>16}{'x joblib':>10}{'MB':>8}{'max |proba diff|':>18}")
        for name in loaders:
            median = float(np.median(seconds[name]))
            diff = float(np.abs(loaded[name].predict_proba(texts) - reference).max())
            print(f"{name:<20}{median:>16.3f}{median / base:>10.2f}{sizes[name] / 1e6:>8.1f}{diff:>18.1e}")
    print(f"\n{args.repeats} loads of each, alternating; probabilities on {len(texts)} SentiMix dev rows (held out). "
          "The load of json + safetensors includes rebuilding the scikit-learn objects and one check prediction.")


if __name__ == "__main__":
    main()
