"""Does `samiksha audit` find planted label flips on a small file, before and after choosing the quick model's C?

Per data set and seed: 250 seeded rows of SentiMix train or Flipkart, 25 of them (10%) given another label at
random. `audit_data` ranks them with the quick model at the old fixed C=1 and with C chosen by cross-validation
(the default now). Reported: planted flips in the top 15 and top 25 of the ranking, cleanlab's flags (how many,
how many of them planted), and the quick model's out-of-fold macro-F1 on the flipped labels with its chance level.

    python benchmarks/audit_small.py                 # 2 data sets x 3 seeds (a few minutes on 2 cores)
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from samiksha.audit import audit_data  # noqa: E402
from samiksha.data import LabelledData  # noqa: E402
from samiksha.embeddings import quick_proba  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
SETS = {"sentimix": "sentimix-hinglish/train.csv", "flipkart": "flipkart-reviews/train.csv"}
NAMES = ["negative", "neutral", "positive"]


def planted(frame: pd.DataFrame, rows: int, flips: int, seed: int) -> tuple[LabelledData, set[int]]:
    """``rows`` seeded rows with ``flips`` labels changed to another label; the flipped rows' numbers."""
    rng = np.random.default_rng(seed)
    sample = frame.sample(rows, random_state=seed).reset_index(drop=True)
    labels = sample["label"].tolist()
    flipped = set(rng.choice(rows, flips, replace=False).tolist())
    for i in flipped:
        labels[i] = rng.choice([n for n in NAMES if n != labels[i]])
    data = LabelledData(sample["text"].tolist(), labels, "sample", "text", "label", "sentiment", list(range(rows)))
    return data, flipped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--rows", type=int, default=250)
    parser.add_argument("--flips", type=int, default=25)
    args = parser.parse_args()
    learners = {"C=1 (before)": lambda tx, ty, sx, k: quick_proba(tx, ty, sx, k, c=1.0), "C by CV (now)": None}
    lines = []
    for name, path in SETS.items():
        frame = pd.read_csv(DATA / path)
        for seed in range(args.seeds):
            data, flipped = planted(frame, args.rows, args.flips, seed)
            for arm, learner in learners.items():
                ranking = audit_data(data, learner=learner, seed=seed)
                rows = ranking["row"].tolist()
                flagged = set(ranking.loc[ranking["flagged"], "row"])
                lines.append({"data": name, "seed": seed, "arm": arm, "top15": len(flipped & set(rows[:15])),
                              "top25": len(flipped & set(rows[:25])), "flagged": len(flagged),
                              "flagged_planted": len(flagged & flipped),
                              "oof_macro_f1": ranking.attrs["skill"].macro_f1,
                              "chance": ranking.attrs["skill"].chance})
                print(lines[-1], flush=True)
    table = pd.DataFrame(lines).groupby(["data", "arm"])[["top15", "top25", "flagged", "flagged_planted",
                                                           "oof_macro_f1", "chance"]].mean().round(2)
    print(f"\nmeans over {args.seeds} seeds; {args.flips} planted flips in {args.rows} rows")
    print(table.to_string())


if __name__ == "__main__":
    main()
