"""Samiksha: fine-tune transformers to label Indian e-commerce reviews as negative, neutral or positive.

The public names and submodules load on first use (PEP 562), so that `import samiksha` and the `samiksha` command
start without pandas, scikit-learn or PyTorch; `from samiksha import Classifier, train` works as before.
"""

from __future__ import annotations

import sys
import types
from importlib import import_module
from importlib.util import find_spec

_PUBLIC = {"Classifier": "predict", "DataError": "errors", "ModelError": "errors", "SamikshaError": "errors",
           "TrainConfig": "config", "TrainResult": "train", "audit": "audit", "distill": "distill",
           "evaluate": "evaluation", "suggest": "suggest", "train": "train"}  # name -> the module defining it

__all__ = ["Classifier", "DataError", "ModelError", "SamikshaError", "TrainConfig", "TrainResult", "audit",
           "distill", "evaluate", "suggest", "train"]


def __getattr__(name: str) -> object:
    """A public name, or a submodule (`samiksha.methods` after a bare `import samiksha`), imported on first use."""
    if name in _PUBLIC:
        value = getattr(import_module(f".{_PUBLIC[name]}", __name__), name)
    elif not name.startswith("_") and find_spec(f"{__name__}.{name}") is not None:
        value = import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
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
