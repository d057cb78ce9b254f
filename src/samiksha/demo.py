"""The demo: train on the bundled reviews with the embedded model, evaluate, and label new reviews."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from .config import TrainConfig
from .evaluation import evaluate
from .predict import Classifier
from .train import TrainResult, train

NEW_REVIEWS = [
    "Item bahut zyada pricey hai for such average quality",
    "Absolutely love this product, recommend to everyone!",
    "Not good, not bad, just okay",
    "Arey bahut badiya tha, item waste ho gaya",
    "Delivery ek din pehle aa gayi, packing ekdum mast",
    "Charger 2 hafte mein kharab ho gaya, seller ne return bhi nahi liya",
    "Colour thoda alag hai photo se, baaki theek hai",
]


def demo_data_dir() -> Path:
    """The folder of the bundled demo dataset (train.csv, test.csv, DATACARD.md)."""
    return Path(str(resources.files("samiksha") / "demo_data"))


def run_demo(output_dir: str | Path = "samiksha-demo-model", epochs: float | None = None,
             seed: int = 42) -> tuple[TrainResult, dict, list[tuple[str, str, float]]]:
    """Train, evaluate on the held-out demo test file, and label NEW_REVIEWS."""
    data = demo_data_dir()
    config = TrainConfig(epochs=epochs, seed=seed)  # what `samiksha train` does with no options
    result = train(data / "train.csv", output_dir, config=config)
    classifier = Classifier.load(output_dir)
    test_metrics = evaluate(output_dir, data / "test.csv", classifier=classifier)
    proba = classifier.predict_proba(NEW_REVIEWS)
    predictions = [(text, classifier.labels[row.argmax()], float(row.max())) for text, row in zip(NEW_REVIEWS, proba)]
    return result, test_metrics, predictions
