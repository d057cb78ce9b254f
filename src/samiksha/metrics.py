"""Honest metrics: macro-F1, per-class report, confusion matrix (text and PNG), most confident mistakes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


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


def format_report(metrics: dict) -> str:
    """A plain-text per-class report and confusion matrix (rows: true label, columns: predicted)."""
    names = metrics["labels"]
    width = max(12, *(len(n) + 2 for n in names))
    lines = [f"{'':{width}}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}"]
    for name in names:
        c = metrics["per_class"][name]
        lines.append(f"{name:{width}}{c['precision']:>10.3f}{c['recall']:>10.3f}{c['f1']:>10.3f}{c['support']:>10d}")
    lines += ["", f"{'accuracy':{width}}{metrics['accuracy']:>30.3f}{metrics['n']:>10d}",
              f"{'macro f1':{width}}{metrics['macro_f1']:>30.3f}",
              f"{'weighted f1':{width}}{metrics['weighted_f1']:>30.3f}", "",
              "confusion matrix (rows: true, columns: predicted)",
              f"{'':{width}}" + "".join(f"{n[:9]:>10}" for n in names)]
    for name, row in zip(names, metrics["confusion_matrix"]):
        lines.append(f"{name:{width}}" + "".join(f"{v:>10d}" for v in row))
    return "\n".join(lines) + "\n"


def save_confusion_png(metrics: dict, path: str | Path, title: str = "Confusion matrix") -> None:
    """Write the confusion matrix as a labelled heat map PNG."""
    import matplotlib

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
    fig.savefig(path)
    plt.close(fig)


def confident_mistakes(texts: Sequence[str], y_true: Sequence[str], proba: np.ndarray, names: Sequence[str],
                       limit: int = 10) -> list[dict]:
    """The wrong predictions the model was surest of: usually label noise or a real blind spot."""
    predicted = proba.argmax(axis=1)
    wrong = [i for i, p in enumerate(predicted) if names[p] != y_true[i]]
    wrong.sort(key=lambda i: -proba[i, predicted[i]])
    return [{"text": texts[i], "true": y_true[i], "predicted": names[predicted[i]],
             "score": float(proba[i, predicted[i]])} for i in wrong[:limit]]
