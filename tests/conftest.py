"""Shared fixtures: tiny models built from a config (no download), toy review files, one trained tiny model."""

from __future__ import annotations

import logging
import os
import random
from pathlib import Path

import pandas as pd
import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

_WORDS = {
    "positive": ["bahut badiya", "excellent quality", "value for money", "mast product", "loved it",
                 "zabardast", "fast delivery", "superb", "बहुत अच्छा", "worth it"],
    "negative": ["bakwas", "waste of money", "toot gaya", "fake product", "never buying again",
                 "bekaar quality", "late delivery", "refund nahi mila", "बेकार", "pathetic"],
    "neutral": ["theek thaak", "average hai", "okay okay", "as described", "nothing special",
                "chalega", "normal product", "kuch khaas nahi", "ठीक है", "so so"],
}
_ITEMS = ["phone", "earphones", "kurti", "saree", "charger", "mixer", "shoes", "bedsheet", "book", "cooker"]


def make_reviews(n_per_class: int = 12, seed: int = 0, labels=("negative", "neutral", "positive")) -> pd.DataFrame:
    """Distinct toy reviews whose label is carried by the sentiment phrase."""
    rng = random.Random(seed)
    rows = []
    for label in labels:
        for i in range(n_per_class):
            phrase = _WORDS[label][i % len(_WORDS[label])]
            rows.append({"text": f"{_ITEMS[rng.randrange(len(_ITEMS))]} {phrase} #{label[:3]}{i}", "label": label})
    rng.shuffle(rows)
    return pd.DataFrame(rows)


@pytest.fixture(autouse=True)
def _samiksha_logs_propagate():
    """Let caplog see the package's warnings even after the CLI has configured its handler."""
    logger = logging.getLogger("samiksha")
    logger.propagate = True
    logger.setLevel(logging.INFO)
    yield


@pytest.fixture(scope="session")
def minilm_tokenizer_dir(tmp_path_factory) -> Path:
    from transformers import AutoTokenizer

    from samiksha.models import resolve_model

    folder = tmp_path_factory.mktemp("tokenizer")
    AutoTokenizer.from_pretrained(resolve_model("minilm").path).save_pretrained(folder)
    return folder


def _tiny(folder: Path, tokenizer_dir: Path, config) -> Path:
    import shutil

    from transformers import AutoModel

    AutoModel.from_config(config).save_pretrained(folder)
    for file in tokenizer_dir.iterdir():
        shutil.copy(file, folder / file.name)
    return folder


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory, minilm_tokenizer_dir) -> Path:
    """A 2-layer, 32-wide BERT base model (random weights) with a real WordPiece tokenizer."""
    from transformers import BertConfig

    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=256)
    return _tiny(tmp_path_factory.mktemp("tiny-bert"), minilm_tokenizer_dir, config)


@pytest.fixture(scope="session")
def tiny_albert(tmp_path_factory, minilm_tokenizer_dir) -> Path:
    """A tiny ALBERT (the architecture of IndicBERT) with a factorised 16-wide embedding."""
    from transformers import AlbertConfig

    config = AlbertConfig(vocab_size=30522, embedding_size=16, hidden_size=32, num_hidden_layers=2,
                          num_attention_heads=2, intermediate_size=64, max_position_embeddings=256)
    return _tiny(tmp_path_factory.mktemp("tiny-albert"), minilm_tokenizer_dir, config)


@pytest.fixture(scope="session")
def reviews_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "reviews.csv"
    make_reviews(12).to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def trained_tiny(tmp_path_factory, tiny_bert, reviews_csv) -> Path:
    """A tiny BERT trained once on the toy reviews with the defaults (stacked with TF-IDF), shared by
    predict/evaluate/serve/CLI tests."""
    from samiksha import TrainConfig, train

    out = tmp_path_factory.mktemp("models") / "tiny-model"
    train(reviews_csv, out, config=TrainConfig(model=str(tiny_bert), epochs=2, batch_size=8, seed=1))
    return out


@pytest.fixture(scope="session")
def trained_tiny_plain(tmp_path_factory, tiny_bert, reviews_csv) -> Path:
    """The same tiny BERT fine-tuned alone (--no-stack): a plain transformer folder."""
    from samiksha import TrainConfig, train

    out = tmp_path_factory.mktemp("models") / "tiny-plain"
    train(reviews_csv, out, config=TrainConfig(model=str(tiny_bert), epochs=2, batch_size=8, seed=1, stack=False,
                                               report_seeds=1))
    return out
