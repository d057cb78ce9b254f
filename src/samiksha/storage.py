"""Atomic writes: a finished model or output file is either complete or not there at all."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from .errors import SamikshaError

MODEL_META = "samiksha.json"


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | Path, value: object) -> None:
    text = json.dumps(value, indent=2, ensure_ascii=False) + "\n"
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_table(frame: pd.DataFrame, path: str | Path) -> None:
    """Write CSV, TSV, JSONL, Parquet or Excel by suffix, atomically."""
    suffix = Path(path).suffix.lower()
    writers: dict[str, Callable[[Path], None]] = {
        ".csv": lambda tmp: frame.to_csv(tmp, index=False),
        ".tsv": lambda tmp: frame.to_csv(tmp, index=False, sep="\t"),
        ".jsonl": lambda tmp: frame.to_json(tmp, orient="records", lines=True, force_ascii=False),
        ".parquet": lambda tmp: frame.to_parquet(tmp, index=False),
        ".xlsx": lambda tmp: frame.to_excel(tmp, index=False, engine="openpyxl"),
    }
    if suffix not in writers:
        raise SamikshaError(f"{path}: cannot write '{suffix}' files (use {', '.join(writers)})")
    atomic_write(path, writers[suffix])


def is_model_dir(path: Path) -> bool:
    return (path / "config.json").exists()


def check_output_dir(output: Path) -> None:
    """Refuse to replace a folder that holds something other than a model."""
    if output.exists() and (not output.is_dir() or (any(output.iterdir()) and not is_model_dir(output))):
        raise SamikshaError(f"{output}: exists and is not a model folder; choose another --output")


def publish_dir(staging: Path, output: Path) -> None:
    """Move a fully written ``staging`` folder to ``output``, replacing an older model only at the end."""
    check_output_dir(output)
    old = output.with_name(f".{output.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if output.exists():
        os.replace(output, old)
    os.replace(staging, output)
    if old.exists():
        shutil.rmtree(old)
