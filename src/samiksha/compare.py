"""Comparing methods on one split: a multi-seed leaderboard and learning curves."""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from . import methods as registry
from .config import TrainConfig
from .data import LabelledData
from .errors import SamikshaError
from .labels import LabelSchema
from .models import default_model_for
from .seeds import summarize
from .storage import save_figure, write_json, write_text
from .train import choose_method, prepare_data, train_parts

log = logging.getLogger(__name__)

METHODS = tuple(registry.compared())  # the default set compared
SPEED_TEXTS = 1000  # prediction speed is timed on up to this many evaluation texts


def check_methods(methods: Sequence[str]) -> list[str]:
    """The methods to compare, validated, in the order given, without repeats."""
    chosen = list(dict.fromkeys(m.strip() for m in methods if m.strip()))
    every = registry.names()
    unknown = [m for m in chosen if m not in every]
    if unknown or not chosen:
        raise SamikshaError(f"unknown method(s) {unknown or chosen} (choose from {', '.join(every)})")
    return chosen


def subsample(part: LabelledData, per_class: int, seed: int) -> LabelledData:
    """A seeded sample of at most ``per_class`` texts of each label (every text of a smaller class)."""
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(part.labels):
        by_label.setdefault(label, []).append(i)
    keep = [int(i) for idx in by_label.values() for i in rng.choice(idx, min(per_class, len(idx)), replace=False)]
    return part.subset(sorted(keep))


def prediction_speed(classifier, texts: Sequence[str]) -> float:
    """Texts per second for ``Classifier.predict_proba`` on up to SPEED_TEXTS texts, after a warm-up batch."""
    texts = list(texts)[:SPEED_TEXTS]
    classifier.predict_proba(texts[:8])
    started = time.perf_counter()
    classifier.predict_proba(texts)
    return len(texts) / (time.perf_counter() - started)


def run_once(train_part: LabelledData, eval_part: LabelledData, schema: LabelSchema, config: TrainConfig,
             work: Path, timed: bool = True) -> dict:
    """Train ``config`` in a scratch folder, score it on ``eval_part``, and keep only the figures."""
    from .predict import Classifier

    out = work / f"{config.method}-seed{config.seed}"
    result = train_parts(train_part, eval_part, schema, out, replace(config, report_seeds=1))
    metrics = result.metrics
    run = {"seed": config.seed, "n_train": len(train_part), "macro_f1": metrics["macro_f1"],
           "accuracy": metrics["accuracy"], "per_class_f1": {n: c["f1"] for n, c in metrics["per_class"].items()},
           "train_seconds": result.meta["training"]["wall_seconds"]}
    if timed:
        run["texts_per_second"] = prediction_speed(Classifier.load(out), eval_part.texts)
    shutil.rmtree(out, ignore_errors=True)
    return run


# -- compare: a leaderboard ------------------------------------------------------------------------------------


def compare(data: str | Path, eval_data: str | Path | None = None, *, methods: Sequence[str] = METHODS,
            seeds: int = 3, output: str | Path = "samiksha-compare", config: TrainConfig | None = None) -> dict:
    """Train each method with ``seeds`` seeds on one split; write leaderboard.md/.json/.png to ``output``."""
    config = config or TrainConfig()
    methods = check_methods(methods)
    if seeds < 1:
        raise SamikshaError("--seeds must be at least 1")
    train_part, eval_part, schema = prepare_data(data, eval_data, config)
    result = compare_parts(train_part, eval_part, schema, methods, seeds, config)
    write_leaderboard(result, Path(output))
    return result


def compare_parts(train_part: LabelledData, eval_part: LabelledData, schema: LabelSchema, methods: Sequence[str],
                  seeds: int, config: TrainConfig) -> dict:
    """The leaderboard of ``methods`` on loaded data, each trained with seeds config.seed, config.seed + 1, ..."""
    seed_list = [config.seed + i for i in range(seeds)]
    rows = {}
    with tempfile.TemporaryDirectory(prefix="samiksha-compare-") as work:
        for method in methods:
            log.info("compare: %s, seeds %s", method, seed_list)
            rows[method] = summarize([run_once(train_part, eval_part, schema, replace(config, method=method, seed=s),
                                               Path(work)) for s in seed_list])
    ranking = sorted(rows, key=lambda m: -rows[m]["macro_f1_mean"])
    return {"train": train_part.describe(), "eval": eval_part.describe(), "labels": list(schema.names),
            "seeds": seed_list, "methods": rows, "ranking": ranking}


def leaderboard_markdown(result: dict) -> str:
    """The leaderboard as a Markdown page."""
    names = result["labels"]
    lines = ["# Method comparison", "", _data_line(result), "",
             "| rank | method | macro-F1 (mean ± std) | accuracy | " + " | ".join(f"F1 {n}" for n in names)
             + " | train s | texts/s |", "|---" * (6 + len(names)) + "|"]
    for rank, method in enumerate(result["ranking"], 1):
        row = result["methods"][method]
        lines.append(f"| {rank} | {method} | {row['macro_f1_mean']:.3f} ± {row['macro_f1_std']:.3f} | "
                     f"{row['accuracy_mean']:.3f} | " + " | ".join(f"{row['per_class_f1_mean'][n]:.3f}" for n in names)
                     + f" | {row['train_seconds_mean']:.1f} | {row['texts_per_second_mean']:.0f} |")
    lines += ["", f"Means over seeds {', '.join(map(str, result['seeds']))}; std is the sample standard deviation. "
              "train s: training wall time; texts/s: prediction speed on up to "
              f"{SPEED_TEXTS} evaluation texts. Scores are each training report's: where the evaluation data also "
              "chose the best epoch (the fine-tuning methods), that choice is cross-fitted.", ""]
    return "\n".join(lines)


def _data_line(result: dict) -> str:
    train, evaluation = result["train"], result["eval"]
    counts = ", ".join(f"{k}={v}" for k, v in train["label_counts"].items())
    held_out = "a held-out split of the same file" if evaluation["source"] == train["source"] else f"`{evaluation['source']}`"
    return (f"Training data: `{train['source']}`, {train['rows']} texts ({counts}); "
            f"evaluation: {held_out}, {evaluation['rows']} texts.")


def write_leaderboard(result: dict, output: Path) -> None:
    """leaderboard.md, leaderboard.json and leaderboard.png in ``output``."""
    output.mkdir(parents=True, exist_ok=True)
    write_json(output / "leaderboard.json", result)
    write_text(output / "leaderboard.md", leaderboard_markdown(result))
    plt = _pyplot()
    methods = result["ranking"]
    fig, ax = plt.subplots(figsize=(1.5 + 1.3 * len(methods), 3.6), dpi=120)
    means = [result["methods"][m]["macro_f1_mean"] for m in methods]
    stds = [result["methods"][m]["macro_f1_std"] for m in methods]
    ax.bar(range(len(methods)), means, yerr=stds, capsize=6, color="#8fb3d9")
    for i, method in enumerate(methods):
        values = [r["macro_f1"] for r in result["methods"][method]["runs"]]
        ax.plot([i] * len(values), values, "o", color="#1f3b73", markersize=4)
    ax.set_xticks(range(len(methods)), methods)
    ax.set_ylim(0, 1)
    ax.set_ylabel("macro-F1")
    ax.set_title(f"macro-F1 on {result['eval']['rows']} texts, {len(result['seeds'])} seed(s)", fontsize=9)
    fig.tight_layout()
    save_figure(fig, output / "leaderboard.png")
    plt.close(fig)


# -- curve: macro-F1 against labelled examples per class -------------------------------------------------------


def learning_curve(data: str | Path, eval_data: str | Path | None = None, *, sizes: Sequence[int | None] = (8, 16, 32,
                   64, 128), methods: Sequence[str] = METHODS, seeds: int = 3, output: str | Path = "samiksha-curve",
                   config: TrainConfig | None = None) -> dict:
    """Macro-F1 of each method on seeded samples of ``sizes`` examples per class (None: all); writes curve.*."""
    config = config or TrainConfig()
    methods = check_methods(methods)
    if seeds < 1:
        raise SamikshaError("--seeds must be at least 1")
    if any(s is not None and s < 1 for s in sizes) or not sizes:
        raise SamikshaError("--sizes must be positive numbers of examples per class (or 'all')")
    train_part, eval_part, schema = prepare_data(data, eval_data, config)
    result = curve_parts(train_part, eval_part, schema, sizes, methods, seeds, config)
    write_curve(result, Path(output))
    return result


def parse_sizes(text: str) -> list[int | None]:
    """'8,16,32,all' -> [8, 16, 32, None]."""
    sizes: list[int | None] = []
    for part in (p.strip().lower() for p in text.split(",") if p.strip()):
        if part == "all":
            sizes.append(None)
        elif part.isdigit() and int(part) > 0:
            sizes.append(int(part))
        else:
            raise SamikshaError(f"--sizes: '{part}' is not a positive number of examples per class or 'all'")
    if not sizes:
        raise SamikshaError("--sizes: give at least one size, such as 8,16,32,all")
    return sizes


def plan_sizes(sizes: Sequence[int | None], counts: dict[str, int]) -> list[int | None]:
    """Sizes in increasing order; one that would take every text becomes None ('all'); no repeats."""
    largest = max(counts.values())
    planned = {None if s is None or s >= largest else int(s) for s in sizes}
    return sorted(planned, key=lambda s: float("inf") if s is None else s)


def curve_parts(train_part: LabelledData, eval_part: LabelledData, schema: LabelSchema,
                sizes: Sequence[int | None], methods: Sequence[str], seeds: int, config: TrainConfig) -> dict:
    """The learning curve on loaded data: seed i samples the training data and trains with config.seed + i."""
    seed_list = [config.seed + i for i in range(seeds)]
    points, auto = [], []
    with tempfile.TemporaryDirectory(prefix="samiksha-curve-") as work:
        for size in plan_sizes(sizes, train_part.counts()):
            parts = {s: train_part if size is None else subsample(train_part, size, s) for s in seed_list}
            first = parts[seed_list[0]]  # what `train --method auto` would do with it (model chosen by script too)
            method, reason = choose_method(replace(config, method=registry.AUTO, model=config.model or default_model_for(
                first.texts)), first.counts())
            auto.append({"size": size or "all", "method": method, "reason": reason})
            for method in methods:
                log.info("curve: %s at %s per class, seeds %s", method, size or "all", seed_list)
                runs = [run_once(parts[s], eval_part, schema, replace(config, method=method, seed=s), Path(work),
                                 timed=False) for s in seed_list]
                points.append({"method": method, "size": size or "all",
                               "per_class": len(parts[seed_list[0]]) / len(schema), **summarize(runs)})
                log.info("curve: %s at %s per class: macro-F1 %.3f ± %.3f", method, size or "all",
                         points[-1]["macro_f1_mean"], points[-1]["macro_f1_std"])
    return {"train": train_part.describe(), "eval": eval_part.describe(), "labels": list(schema.names),
            "seeds": seed_list, "methods": list(methods), "points": points, "auto": auto}


def curve_table(result: dict) -> list[dict]:
    """One row per size: texts, each method's mean ± std, the best method and auto's choice."""
    rows = []
    for choice in result["auto"]:
        at_size = {p["method"]: p for p in result["points"] if p["size"] == choice["size"]}
        best = max(at_size, key=lambda m: at_size[m]["macro_f1_mean"])
        rows.append({"size": choice["size"], "texts": round(next(iter(at_size.values()))["n_train_mean"]),
                     "scores": {m: (p["macro_f1_mean"], p["macro_f1_std"]) for m, p in at_size.items()},
                     "best": best, "auto": choice["method"]})
    return rows


def curve_markdown(result: dict) -> str:
    """The learning curve as a Markdown page."""
    methods = result["methods"]
    lines = ["# Learning curve: macro-F1 against labelled examples per class", "", _data_line(result), "",
             "| per class | texts | " + " | ".join(methods) + " | best | auto picks |", "|---" * (4 + len(methods)) + "|"]
    for row in curve_table(result):
        cells = [f"{row['scores'][m][0]:.3f} ± {row['scores'][m][1]:.3f}" for m in methods]
        lines.append(f"| {row['size']} | {row['texts']} | " + " | ".join(cells) + f" | {row['best']} | {row['auto']} |")
    lines += ["", f"Each cell: mean ± sample std of macro-F1 over seeds {', '.join(map(str, result['seeds']))}; seed i "
              "draws its own stratified sample of the training data. Where the best method's score stops rising "
              "from one size to the next, more labels of the same kind are not worth much; label the classes "
              "with the lowest F1 first.", ""]
    return "\n".join(lines)


def write_curve(result: dict, output: Path) -> None:
    """curve.md, curve.json and curve.png in ``output``."""
    output.mkdir(parents=True, exist_ok=True)
    write_json(output / "curve.json", result)
    write_text(output / "curve.md", curve_markdown(result))
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    for method in result["methods"]:
        points = [p for p in result["points"] if p["method"] == method]
        ax.errorbar([p["per_class"] for p in points], [p["macro_f1_mean"] for p in points],
                    yerr=[p["macro_f1_std"] for p in points], marker="o", capsize=4, label=method)
    ticks = {p["per_class"]: str(p["size"]) for p in result["points"]}
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(ticks), list(ticks.values()))
    ax.minorticks_off()
    ax.set_xlabel("labelled examples per class")
    ax.set_ylabel("macro-F1")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(f"macro-F1 on {result['eval']['rows']} evaluation texts, mean ± std over "
                 f"{len(result['seeds'])} seed(s)", fontsize=9)
    fig.tight_layout()
    save_figure(fig, output / "curve.png")
    plt.close(fig)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
