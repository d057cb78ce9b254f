"""Mean and spread over seeds: the small-data report and the comparisons share these."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def summarize(runs: list[dict]) -> dict:
    """Mean and spread of a method's runs over seeds, with the runs themselves."""
    f1_mean, f1_std = mean_std([r["macro_f1"] for r in runs])
    summary = {"runs": runs, "macro_f1_mean": f1_mean, "macro_f1_std": f1_std,
               "accuracy_mean": mean_std([r["accuracy"] for r in runs])[0]}
    if "per_class_f1" in runs[0]:
        summary["per_class_f1_mean"] = {n: mean_std([r["per_class_f1"][n] for r in runs])[0]
                                        for n in runs[0]["per_class_f1"]}
    for key in ("n_train", "train_seconds", "texts_per_second"):
        if key in runs[0]:
            summary[f"{key}_mean"] = mean_std([r[key] for r in runs])[0]
    return summary


def seed_summary(runs: list[dict]) -> dict:
    """What the report says about several seeds: the runs, mean and spread; the first run is the saved model."""
    summary = summarize(runs)
    values = [r["macro_f1"] for r in runs]
    summary.update(macro_f1_min=min(values), macro_f1_max=max(values),
                   note=f"the same training repeated with seeds {', '.join(str(r['seed']) for r in runs)} on the "
                        f"same data and evaluation split; the saved model is seed {runs[0]['seed']}'s; "
                        "std is the sample standard deviation")
    return summary


def format_seed_summary(summary: dict) -> str:
    """The line report.txt adds about the seeds."""
    seeds = ", ".join(str(r["seed"]) for r in summary["runs"])
    return (f"\nmacro-F1 over {len(summary['runs'])} seeds ({seeds}; same data and split): "
            f"{summary['macro_f1_mean']:.3f} ± {summary['macro_f1_std']:.3f} "
            f"(min {summary['macro_f1_min']:.3f}, max {summary['macro_f1_max']:.3f}); "
            f"the saved model is seed {summary['runs'][0]['seed']}'s, scored above\n")
