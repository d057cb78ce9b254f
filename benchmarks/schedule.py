"""The small-data fine-tuning schedule, before vs after, over seeds: stalls (the transformer collapsing to one
class) and macro-F1 on rows no model saw.

Each run is the default command (`samiksha train TRAIN -o OUT --seed S`, the split included) with a recipe's
overrides, then `samiksha evaluate OUT FILE` on each test file: the stack, its transformer alone and its TF-IDF
alone. A transformer below chance (macro-F1 < 1/3) on a test file counts as collapsed. Runs append to a
JSON-lines file (``--results``) and are skipped when already there, so a long comparison can be run piecewise;
the table (mean ± std over seeds) is printed from that file.

    python benchmarks/schedule.py --recipes before,after --seeds 42,43,44 --datasets demo
    python benchmarks/schedule.py --recipes before,after --seeds 42,43,44 --datasets sentimix --train-size 600 \
        --model multilingual --results sentimix-e5.jsonl   # SentiMix picks MiniLM, whose schedule is unchanged
    python benchmarks/schedule.py --recipes after,smooth,rdrop,script_view --seeds 42,43,44 --datasets sentimix \
        --results sentimix-minilm.jsonl   # levers against "after" (the default) on the same seeds
    python benchmarks/schedule.py --table-only

Datasets: the demo (train.csv -> test.csv and probe.csv, the probe written after the demo model was frozen);
SentiMix Hinglish tweets (a stratified sample of train, seed 0, -> a stratified sample of dev). Shared data is read
from ../shared/data, never copied into the repository.
"""

from __future__ import annotations

import argparse
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
from sklearn.model_selection import train_test_split  # noqa: E402

from samiksha import TrainConfig, evaluate, train  # noqa: E402
from samiksha.demo import demo_data_dir  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
# TrainConfig overrides of each recipe; "after" is today's defaults (no overrides)
RECIPES: dict[str, dict] = {
    "before": {"epochs": 3, "batch_size": 8, "learning_rate": 1.5e-4,
               "settings": {"finetune": {"warmup": 0.06}}},  # the schedule of issue 10
    "after": {},
    "smooth": {"settings": {"finetune": {"label_smoothing": 0.1}}},  # today's defaults with label smoothing 0.1
    "rdrop": {"settings": {"finetune": {"rdrop": 1.0}}},  # today's defaults with R-Drop, weight 1 (Liang et al.: 0.1-1 on GLUE)
    # today's defaults reading each review in both scripts (texts twice as long: max_length doubled)
    "script_view": {"text_steps": ["unicode", "script_view"], "max_length": 256},
}


def sample(frame: pd.DataFrame, size: int | None, seed: int = 0) -> pd.DataFrame:
    if not size or size >= len(frame):
        return frame
    kept, _ = train_test_split(frame, train_size=size, stratify=frame["label"], random_state=seed)
    return kept


def dataset_files(name: str, args, tmp: Path) -> tuple[Path, dict[str, Path]]:
    """The training file and the test files of a dataset."""
    if name == "demo":
        return demo_data_dir() / "train.csv", {"test": demo_data_dir() / "test.csv",
                                                "probe": demo_data_dir() / "probe.csv"}
    folder = DATA / "sentimix-hinglish"
    train_file, dev_file = tmp / "sentimix-train.csv", tmp / "sentimix-dev.csv"
    sample(pd.read_csv(folder / "train.csv"), args.train_size)[["text", "label"]].to_csv(train_file, index=False)
    sample(pd.read_csv(folder / "dev.csv"), args.eval_size)[["text", "label"]].to_csv(dev_file, index=False)
    return train_file, {"dev": dev_file}


def run(dataset: str, recipe: str, seed: int, train_file: Path, tests: dict[str, Path], out: Path,
        model: str | None) -> dict:
    folder = out / f"{dataset}-{recipe}-{seed}"
    started = time.perf_counter()
    result = train(train_file, folder, config=TrainConfig(seed=seed, model=model, report_seeds=1, **RECIPES[recipe]))  # the seeds are this script's
    training, config = result.meta["training"], result.meta["config"]
    row = {"dataset": dataset, "recipe": recipe, "seed": seed, "model": config["model"], "train_s": round(time.perf_counter() - started, 1),
           "epochs_run": training.get("epochs_run"), "schedule": training.get("schedule"),
           "settings": {**{k: config[k] for k in ("epochs", "batch_size", "learning_rate")},
                        "warmup": config.get("settings", {}).get("finetune", {}).get("warmup")},
           "report_macro_f1": result.metrics["macro_f1"],
           "train_loss": [round(h["loss"], 3) for h in training.get("history", []) if "loss" in h],
           "eval_macro_f1": [round(h["eval_macro_f1"], 3) for h in training.get("history", [])
                             if "eval_macro_f1" in h]}
    for name, path in tests.items():
        metrics = evaluate(folder, path)
        parts = metrics.get("parts", {})
        row[name] = {"stack": metrics["macro_f1"], **{p: parts[p]["macro_f1"] for p in ("transformer", "tfidf")
                                                      if p in parts}}
        if "transformer" in parts:  # a one-class transformer scores about 0.2; chance is 1/3
            row[name]["collapsed"] = parts["transformer"]["macro_f1"] < 1 / 3
    return row


def table(rows: list[dict]) -> None:
    """mean ± std over seeds of each test file's macro-F1 (stack, transformer alone), by dataset and recipe."""
    spread = lambda v: f"{np.mean(v):.3f} ± {np.std(v, ddof=1):.3f}" if len(v) > 1 else f"{np.mean(v):.3f}"  # noqa: E731
    print(f"\n{'dataset':<10}{'recipe':<12}{'file':<7}{'seeds':>6}{'stack':>16}{'transformer':>16}{'tfidf':>8}"
          f"{'collapsed':>10}{'epochs':>8}{'train s':>9}")
    for (dataset, recipe), _ in pd.DataFrame(rows).groupby(["dataset", "recipe"], sort=False):
        mine = [r for r in rows if r["dataset"] == dataset and r["recipe"] == recipe]
        for name in [k for k in ("test", "probe", "dev") if k in mine[0]]:
            stack = [r[name]["stack"] for r in mine]
            trans = [r[name]["transformer"] for r in mine]
            tfidf = [r[name]["tfidf"] for r in mine]
            collapsed = sum(r[name]["collapsed"] for r in mine)
            print(f"{dataset:<10}{recipe:<12}{name:<7}{len(mine):>6}{spread(stack):>16}{spread(trans):>16}"
                  f"{np.mean(tfidf):>8.3f}{collapsed:>7}/{len(mine):<2}"
                  f"{np.mean([r['epochs_run'] for r in mine]):>8.1f}{np.mean([r['train_s'] for r in mine]):>9.0f}")
        print("  seeds " + ", ".join(f"{r['seed']}: stack {r[next(k for k in ('test', 'dev') if k in r)]['stack']:.3f}"
                                     f" loss {r['train_loss']} eval F1 {r['eval_macro_f1']}" for r in mine))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipes", default="before,after", help=f"comma-separated, from {', '.join(RECIPES)}")
    parser.add_argument("--seeds", default="42,43,44")
    parser.add_argument("--datasets", default="demo,sentimix")
    parser.add_argument("--train-size", type=int, default=600, help="SentiMix training rows (stratified sample)")
    parser.add_argument("--eval-size", type=int, default=1500, help="SentiMix dev rows scored (stratified sample)")
    parser.add_argument("--model", default=None, help="as train --model (default: by the data, as train picks)")
    parser.add_argument("--results", type=Path, default=Path("schedule-results.jsonl"))
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep the model folders here (DATASET-RECIPE-SEED; benchmarks/two_encoders.py reads them)")
    parser.add_argument("--table-only", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    done = read_rows(args.results)
    if not args.table_only:
        with tempfile.TemporaryDirectory() as tmp:
            for dataset in args.datasets.split(","):
                train_file, tests = dataset_files(dataset, args, Path(tmp))
                for seed in (int(s) for s in args.seeds.split(",")):
                    for recipe in args.recipes.split(","):
                        if any((r["dataset"], r["recipe"], r["seed"]) == (dataset, recipe, seed) for r in done):
                            continue
                        record(args.results, run(dataset, recipe, seed, train_file, tests, args.keep or Path(tmp),
                                                 args.model), done)
    table(done)


if __name__ == "__main__":
    main()
