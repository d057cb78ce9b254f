"""Self-training on unlabelled reviews (issue 24 item 4): does a student that keeps all of the teacher's layers and
learns the teacher's probabilities on the shop's unlabelled reviews beat the teacher, by more than the seed spread?

Per seed: the teacher is the default recipe (`samiksha train`) on ``--labelled`` SentiMix train tweets (a
stratified sample, seed 0); then `samiksha distill` with every layer kept, (a) on the teacher's own training
texts alone (the control: more epochs on the same texts) and (b) with ``--unlabelled`` other train tweets (the
lever). All three are scored on a stratified sample of SentiMix dev that nothing trained on. The student is stacked
with the teacher's TF-IDF, as distill does by default, so the three are the same kind of model.

    python benchmarks/self_training.py --seeds 42,43,44 --results self-training.jsonl

Runs append to ``--results`` and are skipped when there, so it can be run piecewise. Data is read from
../shared/data, never copied into the repository.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from results import read_rows, record  # noqa: E402  (the script folder is on sys.path)

from samiksha import TrainConfig, evaluate, train  # noqa: E402
from samiksha.distill import distill  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sentimix-hinglish"


def files(work: Path, labelled: int, unlabelled: int, dev: int) -> dict[str, Path]:
    """The labelled sample, an unlabelled pool of other train tweets, and a dev sample (all seeded)."""
    from sklearn.model_selection import train_test_split

    frame = pd.read_csv(DATA / "train.csv")[["text", "label"]]
    kept, rest = train_test_split(frame, train_size=labelled, stratify=frame["label"], random_state=0)
    pool = rest.sample(unlabelled, random_state=0)[["text"]]
    dev_frame = pd.read_csv(DATA / "dev.csv")[["text", "label"]]
    dev_frame, _ = train_test_split(dev_frame, train_size=dev, stratify=dev_frame["label"], random_state=0)
    out = {"train": work / "train.csv", "unlabelled": work / "unlabelled.csv", "dev": work / "dev.csv"}
    kept.to_csv(out["train"], index=False)
    pool.to_csv(out["unlabelled"], index=False)
    dev_frame.to_csv(out["dev"], index=False)
    return out


def scores(folder: Path, dev: Path) -> dict:
    metrics = evaluate(folder, dev)
    return {"macro_f1": metrics["macro_f1"],
            **{part: value["macro_f1"] for part, value in metrics.get("parts", {}).items()}}


def run_seed(seed: int, data: dict[str, Path], work: Path) -> list[dict]:
    teacher = work / f"teacher-{seed}"
    started = time.perf_counter()
    result = train(data["train"], teacher, config=TrainConfig(seed=seed, report_seeds=1))
    layers = json.loads((teacher / "config.json").read_text())["num_hidden_layers"]
    rows = [{"arm": "teacher", "seed": seed, "model": result.meta["base_model"], "train_s": time.perf_counter() - started,
             "dev": scores(teacher, data["dev"])}]
    for arm, pool in (("own texts", []), ("self-training", [data["unlabelled"]])):
        student = work / f"{arm.replace(' ', '-')}-{seed}"
        started = time.perf_counter()
        done = distill(teacher, student, unlabelled=pool, layers=layers, seed=seed)
        read = done.meta["config"]["extra"]["distilled"]["unlabelled"]
        rows.append({"arm": arm, "seed": seed, "train_s": time.perf_counter() - started,
                     "unlabelled_used": read["used"], "dev": scores(student, data["dev"])})
    return rows


def table(rows: list[dict]) -> None:
    print(f"\n{'arm':<15}{'seeds':>6}{'dev macro-F1':>18}{'transformer':>18}{'gain vs teacher':>18}{'train s':>9}")
    teacher = {r["seed"]: r["dev"]["macro_f1"] for r in rows if r["arm"] == "teacher"}
    for arm in ("teacher", "own texts", "self-training"):
        mine = [r for r in rows if r["arm"] == arm]
        if not mine:
            continue
        f1 = [r["dev"]["macro_f1"] for r in mine]
        trans = [r["dev"].get("transformer", np.nan) for r in mine]
        gain = [r["dev"]["macro_f1"] - teacher[r["seed"]] for r in mine if r["seed"] in teacher]
        print(f"{arm:<15}{len(mine):>6}{np.mean(f1):>11.3f} ± {np.std(f1, ddof=1) if len(f1) > 1 else 0:.3f}"
              f"{np.mean(trans):>11.3f} ± {np.std(trans, ddof=1) if len(trans) > 1 else 0:.3f}"
              f"{np.mean(gain):>+11.3f} ± {np.std(gain, ddof=1) if len(gain) > 1 else 0:.3f}"
              f"{np.mean([r['train_s'] for r in mine]):>9.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="42,43,44")
    parser.add_argument("--labelled", type=int, default=600)
    parser.add_argument("--unlabelled", type=int, default=3000)
    parser.add_argument("--dev", type=int, default=1500)
    parser.add_argument("--results", type=Path, default=Path("self-training.jsonl"))
    parser.add_argument("--table-only", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    done = read_rows(args.results)
    if not args.table_only:
        with tempfile.TemporaryDirectory() as tmp:
            data = files(Path(tmp), args.labelled, args.unlabelled, args.dev)
            for seed in (int(s) for s in args.seeds.split(",")):
                if any(r["seed"] == seed for r in done):
                    continue
                for row in run_seed(seed, data, Path(tmp)):
                    record(args.results, row, done)
    table(done)


if __name__ == "__main__":
    main()
