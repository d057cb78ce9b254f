"""Learning curves of finetune, setfit and tfidf on real data, and how far `--method auto` lands from the best.

SentiMix Hinglish (seeded samples of train, scored on a seeded sample of dev) and Flipkart reviews (a seeded,
stratified 80/20 split), at 8, 16, 32, 64, 256 and all labelled examples per class, 3 seeds each. Prints the
table per dataset, auto's choice at each size and its gap to the best method; writes curve.md/.json/.png per
dataset under --output. Re-measure after changing a method or a default model, and revisit the `auto`
threshold in src/samiksha/config.py (SETFIT_BELOW) with what it prints.

    python benchmarks/learning_curve.py                        # everything: many hours on a 2-core CPU
    python benchmarks/learning_curve.py --sizes 8,32 --seeds 2 --dev-size 300 --threads 1    # a smoke run
    python benchmarks/learning_curve.py --only flipkart --methods setfit,tfidf --max-per-class 64

Data is read from ../shared/data (never copied into the repository).
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from samiksha import TrainConfig  # noqa: E402
from samiksha.compare import METHODS, check_methods, curve_parts, curve_table, parse_sizes, write_curve  # noqa: E402
from samiksha.data import LabelledData, load_labelled, stratified_split  # noqa: E402
from samiksha.labels import LabelSchema  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def sample(part: LabelledData, size: int, seed: int) -> LabelledData:
    """A seeded, stratified sample of ``size`` texts (all of them when ``size`` is 0 or too large)."""
    if not size or size >= len(part):
        return part
    from sklearn.model_selection import train_test_split

    keep, _ = train_test_split(list(range(len(part))), train_size=size, stratify=part.labels, random_state=seed)
    return part.subset(sorted(keep))


def datasets(args) -> dict[str, tuple[LabelledData, LabelledData]]:
    """Training and evaluation parts per dataset."""
    out = {}
    if args.only in (None, "sentimix"):
        folder = DATA / "sentimix-hinglish"
        out["sentimix"] = (load_labelled(folder / "train.csv"), sample(load_labelled(folder / "dev.csv"),
                                                                         args.dev_size, args.seed))
    if args.only in (None, "flipkart"):
        train, held_out = stratified_split(load_labelled(DATA / "flipkart-reviews" / "train.csv"), 0.2, args.seed)
        out["flipkart"] = (train, sample(held_out, args.dev_size, args.seed))
    return out


def report(name: str, result: dict, seconds: float) -> None:
    """The table, auto's choice at each size and its gap to the best method."""
    methods = result["methods"]
    print(f"\n## {name}: {result['train']['rows']} training texts available, {result['eval']['rows']} evaluation "
          f"texts, seeds {result['seeds']}, {seconds / 60:.1f} min")
    print(f"{'per class':>9} {'texts':>6} " + " ".join(f"{m:>15}" for m in methods) + f" {'best':>9} {'auto':>9} gap")
    for row in curve_table(result):
        scores = " ".join(f"{row['scores'][m][0]:>7.3f} ± {row['scores'][m][1]:.3f}" for m in methods)
        auto = row["scores"].get(row["auto"])
        gap = f"{row['scores'][row['best']][0] - auto[0]:.3f}" if auto else "not measured"
        print(f"{row['size']!s:>9} {row['texts']:>6} {scores} {row['best']:>9} {row['auto']:>9} {gap}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="8,16,32,64,256,all", help="examples per class, 'all' for every text")
    parser.add_argument("--max-per-class", type=int, default=None, help="drop sizes above this (and 'all')")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42, help="seed of splits, samples and the first run")
    parser.add_argument("--dev-size", type=int, default=1000, help="evaluation texts per dataset (0: all)")
    parser.add_argument("--only", choices=["sentimix", "flipkart"], default=None)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--output", type=Path, default=Path(__file__).parent / "results" / "learning-curve")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("samiksha").setLevel(logging.INFO)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    sizes = parse_sizes(args.sizes)
    if args.max_per_class:
        sizes = [s for s in sizes if s is not None and s <= args.max_per_class]
    methods = check_methods(args.methods.split(","))
    for name, (train, evaluation) in datasets(args).items():
        started = time.perf_counter()
        result = curve_parts(train, evaluation, LabelSchema.from_labels(train.labels), sizes, methods, args.seeds,
                             TrainConfig(seed=args.seed))
        write_curve(result, args.output / name)
        report(name, result, time.perf_counter() - started)
    print(f"\ncurve.md, curve.json and curve.png per dataset in {args.output}")


if __name__ == "__main__":
    main()
