"""Training methods, one module each, all behind the interface in `base`: fit texts and labels into a folder,
load a backend from a folder. `train` orchestrates and never names a method."""

from __future__ import annotations

from importlib import import_module

from ..errors import SamikshaError
from .base import Distillation, FitJob, Fitted, Method

NAMES = ("finetune", "stack", "setfit", "tfidf", "ensemble")

__all__ = ["NAMES", "Distillation", "FitJob", "Fitted", "Method", "get"]


def get(name: str) -> Method:
    """The method called ``name``."""
    if name not in NAMES:
        raise SamikshaError(f"unknown method '{name}' (choose from {', '.join(NAMES)})")
    return import_module(f".{name}", __name__).METHOD
