"""Samiksha: fine-tune transformers to label Indian e-commerce reviews as negative, neutral or positive.

The public names load on first use (PEP 562), so that `import samiksha` and the `samiksha` command start without
pandas, scikit-learn or PyTorch; `from samiksha import Classifier, train` works as before.
"""

from __future__ import annotations

import sys
import types
from importlib import import_module

_PUBLIC = {"Classifier": "predict", "DataError": "errors", "ModelError": "errors", "SamikshaError": "errors",
           "TrainConfig": "config", "TrainResult": "train", "audit": "audit", "distill": "distill",
           "evaluate": "evaluation", "suggest": "suggest", "train": "train"}  # name -> the module defining it

__all__ = ["Classifier", "DataError", "ModelError", "SamikshaError", "TrainConfig", "TrainResult", "audit",
           "distill", "evaluate", "suggest", "train"]


def __getattr__(name: str) -> object:
    if name not in _PUBLIC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{_PUBLIC[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _Package(types.ModuleType):
    """Importing a submodule binds it on its package, but `samiksha.train` (audit, distill, suggest) stays the
    function of that name, as the eager imports left it."""

    def __setattr__(self, name: str, value: object) -> None:
        if isinstance(value, types.ModuleType) and _PUBLIC.get(name) == name:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
