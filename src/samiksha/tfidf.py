"""The classical baseline: word and character n-gram TF-IDF with a class-balanced logistic regression."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

MODEL_FILE = "tfidf.joblib"
DESCRIPTION = "tfidf: word 1-2-grams + char 2-5-grams, logistic regression"


def build_pipeline(seed: int, class_weight: dict[int, float] | None = None):
    """Word 1-2-grams and character 2-5-grams (within word boundaries) feeding a logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    features = FeatureUnion([
        ("words", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, min_df=1,
                                  token_pattern=r"(?u)\b\w+\b")),
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)),
    ])
    classifier = LogisticRegression(C=4.0, max_iter=2000, class_weight=class_weight,
                                    random_state=seed)
    return Pipeline([("features", features), ("classifier", classifier)])


def fit_tfidf(texts: list[str], label_ids: list[int], folder: Path, seed: int,
              class_weight: dict[int, float] | None = None) -> dict:
    """Fit on ``texts`` and save to ``folder``; returns training figures for samiksha.json."""
    import joblib

    started = time.perf_counter()
    pipeline = build_pipeline(seed, class_weight).fit(texts, label_ids)
    wall = time.perf_counter() - started
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(pipeline, folder / MODEL_FILE)
    return {"epochs_run": 1.0, "steps": 1, "best_checkpoint": None, "wall_seconds": wall,
            "examples_per_second": len(texts) / wall, "resumed": False, "history": []}


class TfidfBackend:
    """Runs a saved TF-IDF pipeline; its 'logits' are log-probabilities, so softmax gives them back."""

    name = "tfidf"

    def __init__(self, path: Path):
        import joblib

        self.pipeline = joblib.load(Path(path) / MODEL_FILE)  # a pickle: load only folders you trust

    def logits(self, texts: list[str], max_length: int) -> np.ndarray:
        return np.log(np.clip(self.pipeline.predict_proba(texts), 1e-12, 1.0))
