"""Quieting the Hugging Face libraries' own logging while Samiksha loads or saves with them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' load/save chatter and progress bars (training keeps its own bar)."""
    import transformers

    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    try:
        yield
    finally:
        transformers.logging.set_verbosity(verbosity)
        transformers.logging.enable_progress_bar()


@contextmanager
def no_progress_bars() -> Iterator[None]:
    """No tqdm bars from transformers (a checkpoint's "Writing model shards"): Samiksha draws its own."""
    import transformers

    transformers.logging.disable_progress_bar()
    try:
        yield
    finally:
        transformers.logging.enable_progress_bar()
