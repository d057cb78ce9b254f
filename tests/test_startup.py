"""Start-up stays light: `import samiksha`, the command line, --help and --version load none of the heavy libraries
(PyTorch, transformers, pandas, scikit-learn, ONNX Runtime, ...); each command imports what it needs when it runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import samiksha

HEAVY = ("torch", "transformers", "pandas", "sklearn", "scipy", "datasets", "huggingface_hub", "onnxruntime", "fastapi",
         "matplotlib", "plotly", "ray")


def heavy_modules_after(code: str) -> list[str]:
    """The heavy libraries a fresh Python has loaded after running ``code``."""
    check = f"\nimport sys\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    env = {**os.environ, "PYTHONPATH": str(Path(samiksha.__file__).parents[1])}  # the code under test
    done = subprocess.run([sys.executable, "-c", code + check], capture_output=True, text=True, check=True, env=env)
    return done.stdout.splitlines()[-1].split()


def cli(*args: str) -> str:
    """Python that runs `samiksha ARGS` in the process (a failing command fails the check)."""
    return (f"from samiksha.cli import app\ntry:\n    app({list(args)!r})\n"
            "except SystemExit as end:\n    assert not end.code, end.code")


@pytest.mark.parametrize("code", ["import samiksha", "import samiksha.cli", cli("--version"), cli("--help"),
                                  cli("predict", "--help")],
                         ids=["import samiksha", "import samiksha.cli", "--version", "--help", "predict --help"])
def test_start_up_loads_no_heavy_library(code):
    assert heavy_modules_after(code) == []


def test_public_names_load_on_first_use():
    code = ("import samiksha\nassert callable(samiksha.methods.preset)  # a submodule, as the eager imports left it\n"
            "import samiksha.train, samiksha.audit, samiksha.distill, samiksha.suggest\n"
            "from samiksha import Classifier, DataError, TrainConfig, TrainResult, evaluate, methods, train\n"
            "import types\n"
            "assert all(isinstance(getattr(samiksha, n), types.FunctionType) for n in "
            "('train', 'audit', 'distill', 'suggest', 'evaluate')), 'a public function became its module'\n"
            "assert train is samiksha.train and Classifier.__name__ == 'Classifier' and methods.names()\n"
            "assert set(samiksha.__all__) <= set(dir(samiksha))\n"
            "assert not hasattr(samiksha, 'no_such_name')")
    heavy_modules_after(code)  # fails when an assertion in the code does
