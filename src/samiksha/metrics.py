"""Honest metrics: macro-F1, per-class report, confusion matrix (text and PNG), most confident mistakes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

# the names of a blend's parts in metrics["parts"] (metrics.json), as the stack reports them
BLEND_PART, TFIDF_PART = "stack", "tfidf"


def compute_metrics(y_true: Sequence[str], y_pred: Sequence[str], names: Sequence[str]) -> dict:
    """Accuracy, macro/weighted F1, per-class precision/recall/F1/support and the confusion matrix."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    names = list(names)
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=names, zero_division=0)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=names, average="macro", zero_division=0)),
        "weighted_f1": float(f1_score(y_true, y_pred, labels=names, average="weighted", zero_division=0)),
        "per_class": {n: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
                      for n, p, r, f, s in zip(names, precision, recall, f1, support)},
        "labels": names,
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=names).tolist(),
        "n": len(y_true),
    }


def bootstrap_interval(y_true: Sequence[str], y_pred: Sequence[str], names: Sequence[str], resamples: int = 1000,
                       level: float = 0.95, seed: int = 0) -> dict:
    """Percentile bootstrap interval of macro-F1 and accuracy: how far the figures could move on another sample
    of the same size. Resamples the rows with replacement; seeded, so a report reads the same each time."""
    names = list(names)
    index = {n: i for i, n in enumerate(names)}
    k, n = len(names), len(y_true)
    true = np.array([index[t] for t in y_true])
    pred = np.array([index.get(p, -1) for p in y_pred])
    rng = np.random.default_rng(seed)
    f1s, accuracies = np.empty(resamples), np.empty(resamples)
    for r in range(resamples):
        pick = rng.integers(0, n, n)
        t, p = true[pick], pred[pick]
        ok = p >= 0
        cm = np.bincount(t[ok] * k + p[ok], minlength=k * k).reshape(k, k)
        tp = np.diag(cm).astype(float)
        support, predicted = np.bincount(t, minlength=k), cm.sum(axis=0)
        denominator = support + predicted
        f1 = np.divide(2 * tp, denominator, out=np.zeros(k), where=denominator > 0)
        f1s[r], accuracies[r] = f1.mean(), tp.sum() / n
    tail = 100 * (1 - level) / 2
    return {"level": level, "resamples": resamples,
            "macro_f1": [float(np.percentile(f1s, tail)), float(np.percentile(f1s, 100 - tail))],
            "accuracy": [float(np.percentile(accuracies, tail)), float(np.percentile(accuracies, 100 - tail))]}


def interval_text(metrics: dict, key: str) -> str:
    """'0.712 (95% CI 0.650-0.771)' for a figure with a bootstrap interval, else just the figure."""
    ci = metrics.get("ci")
    if not ci or key not in ci:
        return f"{metrics[key]:.3f}"
    low, high = ci[key]
    return f"{metrics[key]:.3f} ({100 * ci['level']:.0f}% CI {low:.3f}-{high:.3f})"


def score_proba(y_true: Sequence[str], proba: np.ndarray, names: Sequence[str]) -> dict:
    """`compute_metrics` of the most likely label in each row of ``proba`` (columns in ``names`` order), with a
    bootstrap interval of macro-F1 and accuracy under ``ci``."""
    predicted = [names[i] for i in proba.argmax(axis=1)]
    metrics = compute_metrics(y_true, predicted, names)
    metrics["ci"] = bootstrap_interval(y_true, predicted, names)
    return metrics


def parts_metrics(y_true: Sequence[str], parts: dict[str, np.ndarray], names: Sequence[str]) -> dict:
    """Macro-F1, accuracy and their intervals for each part of a blended model, scored on the same rows."""
    return {name: {k: v for k, v in score_proba(y_true, proba, names).items() if k in ("macro_f1", "accuracy", "ci")}
            for name, proba in parts.items()}


MIN_SCORED_ROWS = 30  # fewer evaluation rows than this say little about a model
NEAR_CHANCE = 0.05  # macro-F1 within this of chance (1 / number of labels) is no evidence of learning


def weakness_warning(metrics: dict) -> str | None:
    """One line saying why these figures do not show a model worth using (too few rows scored, macro-F1 near
    chance, a part of a blend near chance, or below the report's own TF-IDF part), or None when none applies."""
    reasons, advice = [], "label more reviews before relying on this model"
    if metrics["n"] < MIN_SCORED_ROWS:
        reasons.append(f"scored on only {metrics['n']} reviews (fewer than {MIN_SCORED_ROWS} say little)")
    chance = 1 / len(metrics["labels"])
    if metrics["macro_f1"] < chance + NEAR_CHANCE:
        reasons.append(f"macro-F1 {metrics['macro_f1']:.3f} is near or below chance ({chance:.3f} for "
                       f"{len(metrics['labels'])} labels)")
    for name, part in metrics.get("parts", {}).items():  # a part that learned nothing leaves the blend to the rest
        if name != BLEND_PART and part["macro_f1"] < chance + NEAR_CHANCE <= metrics["macro_f1"]:
            reasons.append(f"its {name} part alone is near chance (macro-F1 {part['macro_f1']:.3f}), so it "
                           f"learned nothing")
            if len(reasons) == 1:
                advice = "retrain with another --seed"
    tfidf = metrics.get("parts", {}).get(TFIDF_PART)
    if tfidf and metrics["macro_f1"] < tfidf["macro_f1"]:
        reasons.append(f"macro-F1 {metrics['macro_f1']:.3f} is below the TF-IDF part alone ({tfidf['macro_f1']:.3f})")
        if len(reasons) == 1:
            advice = "--method tfidf is as good here, and far faster"
    return f"{'; '.join(reasons)}: {advice}" if reasons else None


def format_report(metrics: dict) -> str:
    """A plain-text per-class report and confusion matrix (rows: true label, columns: predicted)."""
    names = metrics["labels"]
    width = max(12, *(len(n) + 2 for n in names))
    warning = weakness_warning(metrics)
    lines = [f"warning: {warning}", ""] if warning else []
    lines.append(f"{'':{width}}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}")
    for name in names:
        c = metrics["per_class"][name]
        lines.append(f"{name:{width}}{c['precision']:>10.3f}{c['recall']:>10.3f}{c['f1']:>10.3f}{c['support']:>10d}")
    lines += ["", f"{'accuracy':{width}}{metrics['accuracy']:>30.3f}{metrics['n']:>10d}",
              f"{'macro f1':{width}}{metrics['macro_f1']:>30.3f}",
              f"{'weighted f1':{width}}{metrics['weighted_f1']:>30.3f}", ""]
    if metrics.get("ci"):
        ci = metrics["ci"]
        lines += [f"{100 * ci['level']:.0f}% bootstrap intervals ({ci['resamples']} resamples of these "
                  f"{metrics['n']} rows): macro-F1 {ci['macro_f1'][0]:.3f}-{ci['macro_f1'][1]:.3f}, "
                  f"accuracy {ci['accuracy'][0]:.3f}-{ci['accuracy'][1]:.3f}", ""]
    if metrics.get("how"):
        lines += [f"how: {metrics['how']}", ""]
    if metrics.get("parts"):
        lines.append("each part alone and the blend, on the same rows:")
        for name, part in metrics["parts"].items():
            lines.append(f"  {name:<12}macro-F1 {interval_text(part, 'macro_f1')}, accuracy {part['accuracy']:.3f}")
        lines.append("")
    lines += ["confusion matrix (rows: true, columns: predicted)",
              f"{'':{width}}" + "".join(f"{n[:9]:>10}" for n in names)]
    for name, row in zip(names, metrics["confusion_matrix"]):
        lines.append(f"{name:{width}}" + "".join(f"{v:>10d}" for v in row))
    return "\n".join(lines) + "\n"


def save_confusion_png(metrics: dict, path: str | Path, title: str = "Confusion matrix") -> None:
    """Write the confusion matrix as a labelled heat map PNG (atomically)."""
    import matplotlib

    from .storage import save_figure

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = metrics["labels"]
    matrix = np.array(metrics["confusion_matrix"])
    fig, ax = plt.subplots(figsize=(1.6 + 1.1 * len(names), 1.2 + 1.0 * len(names)), dpi=120)
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{title}\naccuracy {metrics['accuracy']:.3f}, macro-F1 {metrics['macro_f1']:.3f}", fontsize=9)
    threshold = matrix.max() / 2 if matrix.size else 0
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(j, i, str(value), ha="center", va="center", color="white" if value > threshold else "black")
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def confident_mistakes(texts: Sequence[str], y_true: Sequence[str], proba: np.ndarray, names: Sequence[str],
                       limit: int = 10) -> list[dict]:
    """The wrong predictions the model was surest of: usually label noise or a real blind spot."""
    predicted = proba.argmax(axis=1)
    wrong = [i for i, p in enumerate(predicted) if names[p] != y_true[i]]
    wrong.sort(key=lambda i: -proba[i, predicted[i]])
    return [{"text": texts[i], "true": y_true[i], "predicted": names[predicted[i]],
             "score": float(proba[i, predicted[i]])} for i in wrong[:limit]]
