"""Cluster labelling on Ray Data (`samiksha predict --engine ray`): files are read by Samiksha's own reader on the
cluster, each row tagged with its file and row number, labelled by a pool of actors that load the model once each,
and written as Parquet or CSV part files."""

from __future__ import annotations

import glob
import logging
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from . import formats
from .backends import usable_cores
from .data import TEXT_COLUMNS, find_column, read_chunks
from .errors import DataError, SamikshaError, first_line

try:
    import ray
    import ray.data
    from ray.data.datasource import FileBasedDatasource
except ImportError:  # the extra is not installed; label_files says what to install
    ray = None
    FileBasedDatasource = object

SOURCE_FILE, SOURCE_ROW = "source_file", "source_row"
OUTPUT_FORMATS = ("parquet", "csv")
MISSING_EXTRA = "--engine ray needs Ray Data: pip install 'samiksha[ray]'"


def _format(path: str) -> formats.Format | None:
    """The reader for a file name, when it streams (CSV, TSV, JSONL, text lines, Parquet: `formats.FORMATS`)."""
    fmt = formats.by_suffix(os.path.splitext(path)[1])
    return fmt if fmt is not None and fmt.streams else None


def _streamed() -> str:
    """The suffixes Ray can label, for messages."""
    return ", ".join(s for f in formats.FORMATS.values() if f.streams and not f.folder for s in f.suffixes)


def input_paths(pattern: str) -> list[str]:
    """The files a `--input` names: a file, a folder (every readable file under it, hidden ones and names starting
    with '_' left out) or, on this machine, a glob.
    A URI (s3://, gs://, hdfs://) is listed through its pyarrow filesystem."""
    import pyarrow.fs

    if "://" not in pattern and glob.has_magic(pattern):
        paths = sorted(glob.glob(pattern, recursive=True))
        if not paths:
            raise DataError(pattern, "matches no file")
    else:
        if "://" not in pattern:
            pattern = str(Path(pattern).resolve())
        try:
            filesystem, where = pyarrow.fs.FileSystem.from_uri(pattern)
            info = filesystem.get_file_info(where)
            if info.type == pyarrow.fs.FileType.Directory:
                found = filesystem.get_file_info(pyarrow.fs.FileSelector(where, recursive=True))
                paths = sorted(f.path for f in found if f.type == pyarrow.fs.FileType.File and _format(f.path)
                               and not f.base_name.startswith((".", "_")))  # hidden and _SUCCESS-style files
                if not paths:
                    raise DataError(pattern, f"has no file to label (looked for {_streamed()})")
            elif info.type == pyarrow.fs.FileType.File:
                paths = [where]
            else:
                raise DataError(pattern, "no such file or folder")
        except (OSError, ValueError) as error:
            raise DataError(pattern, f"cannot be listed: {first_line(error)}") from None
        if "://" in pattern:
            scheme = pattern.split("://", 1)[0]
            paths = [f"{scheme}://{path}" for path in paths]
    for path in paths:
        if _format(path) is None:
            raise DataError(path, f"cannot be labelled with --engine ray (use {_streamed()})")
    return [path if "://" in path else str(Path(path).resolve()) for path in paths]


class ReviewFiles(FileBasedDatasource):
    """Files of a streaming format (CSV, TSV, JSONL, text lines, Parquet) read with `samiksha predict`'s own reader
    (the same strings, quoted newlines included), each row tagged with its file and 0-based row within that file, so
    the output joins back."""

    def __init__(self, paths: list[str], chunk_rows: int):
        super().__init__(paths)
        self.chunk_rows = chunk_rows

    def _open_input_source(self, filesystem, path: str, **open_args):
        if _format(path).random_access:  # Parquet needs random access, not a stream
            return filesystem.open_input_file(path)
        return super()._open_input_source(filesystem, path, **open_args)

    def _read_stream(self, f, path: str):
        start = 0
        for chunk in read_chunks(f, _format(path).name, self.chunk_rows, path):
            for name in (SOURCE_FILE, SOURCE_ROW):
                if name in chunk.columns:
                    raise DataError(path, f"already has a '{name}' column, which --engine ray adds; rename it",
                                    column=name)
            chunk.insert(0, SOURCE_ROW, np.arange(start, start + len(chunk), dtype=np.int64))
            chunk.insert(0, SOURCE_FILE, path)
            start += len(chunk)
            yield chunk


class LabelActor:
    """One actor of the pool: loads the model once, then labels chunks of rows (every column kept)."""

    def __init__(self, model_dir: str, backend: str, text_column: str | None, batch_size: int,
                 trust_pickle: bool = False):
        from .hf_logging import quiet_transformers
        from .predict import Classifier

        with quiet_transformers():
            self.classifier = Classifier.load(model_dir, backend=backend, trust_pickle=trust_pickle)
        self.text_column, self.batch_size = text_column, batch_size

    def __call__(self, batch):
        from .predict import label_frame

        source = batch[SOURCE_FILE].iat[0] if len(batch) else "input"
        return label_frame(self.classifier, batch, self.text_column, source, self.batch_size, decimals=None)


def _peek_text_column(path: str, text_column: str | None) -> str:
    """The text column of the first file, checked before the cluster starts work."""
    import pyarrow.fs

    filesystem, where = pyarrow.fs.FileSystem.from_uri(path if "://" in path else str(Path(path).resolve()))
    fmt = _format(path)
    opened = filesystem.open_input_file(where) if fmt.random_access else filesystem.open_input_stream(where)
    with opened as stream:
        first = next(read_chunks(stream, fmt.name, 5, path), None)
    if first is None:
        raise DataError(path, "is empty")
    return find_column(first, text_column, TEXT_COLUMNS, "text", path)


def _user_error(error: BaseException) -> SamikshaError | None:
    """The Samiksha error (a bad row or column) behind a Ray Data failure, if that is what it was. Ray Data passes
    a failed step's exception on as text only, so its last 'samiksha.errors.X: message' line is taken."""
    found = re.findall(r"^samiksha\.errors\.\w+: (.+)$", str(error), flags=re.MULTILINE)
    return SamikshaError(found[-1]) if found else None


def _count_rows(folder: Path, output_format: str) -> int:
    """Rows in the written part files."""
    parts = sorted(folder.glob(f"*.{output_format}"))
    if output_format == "parquet":
        import pyarrow.parquet as pq

        return sum(pq.ParquetFile(p).metadata.num_rows for p in parts)
    rows = 0
    for part in parts:
        with open(part, "rb") as stream:
            rows += sum(len(chunk) for chunk in read_chunks(stream, "csv", 50_000, part))
    return rows


def label_files(model_dir: str | Path, inputs: str, output: str, *, text_column: str | None = None,
                backend: str = "auto", address: str | None = None, workers: int = 1,
                cpus_per_worker: float | None = None, gpus_per_worker: float = 0, batch_size: int = 64,
                chunk_rows: int = 10_000, output_format: str = "parquet", trust_pickle: bool = False) -> int | None:
    """Label every row of ``inputs`` (a file, folder, glob or URI) on Ray Data and write part files to the folder
    ``output``: every original column, ``source_file``/``source_row`` to join back, label, score and ``prob_*``.

    Connects to ``address`` ("auto": the running cluster) or starts Ray on this machine. A local ``output`` appears
    only when complete; a URI is written in place. Returns the number of rows written (None for a URI).
    """
    if ray is None:
        raise SamikshaError(MISSING_EXTRA)
    if output_format not in OUTPUT_FORMATS:
        raise SamikshaError(f"unknown output format '{output_format}' (choose from {', '.join(OUTPUT_FORMATS)})")
    if workers < 1 or chunk_rows < 1 or gpus_per_worker < 0 or (cpus_per_worker is not None and cpus_per_worker <= 0):
        raise SamikshaError("--workers and --chunk-rows must be at least 1, --cpus-per-worker above 0, "
                            "--gpus-per-worker 0 or more")
    if gpus_per_worker and backend == "onnx":
        raise SamikshaError("the ONNX backend runs on CPUs; use --backend torch (or auto) with --gpus-per-worker")
    backend = "torch" if gpus_per_worker and backend == "auto" else backend
    model_dir = Path(model_dir).resolve()
    if not model_dir.is_dir():
        raise SamikshaError(f"{model_dir}: no such model folder")
    paths = input_paths(inputs)
    text_column = _peek_text_column(paths[0], text_column)
    remote = "://" in output
    target = None if remote else Path(output).resolve()
    if target is not None and target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise SamikshaError(f"{target}: already exists; remove it or choose a new output folder")

    started = not ray.is_initialized()
    cores = usable_cores()
    if started:  # Ray started here counts one CPU more than the cores: a slot for the light split tasks
        try:
            ray.init(address=address, num_cpus=None if address else cores + 1, include_dashboard=False,
                     log_to_driver=False, logging_level=logging.ERROR)
        except (ConnectionError, ValueError) as error:
            raise SamikshaError(f"cannot join the Ray cluster at '{address}': {first_line(error)}") from None
    staging = None
    try:
        ray.data.DataContext.get_current().enable_progress_bars = sys.stderr.isatty()
        logging.getLogger("ray.data").setLevel(logging.CRITICAL)  # failures are raised here; no step logs
        if cpus_per_worker is None:  # the cores shared out when Ray runs here; one CPU each on a cluster
            cpus_per_worker = max(1, cores // workers) if started and address is None else 1
        resources = ray.cluster_resources()  # a pool that cannot fit would wait forever
        total, gpus = resources.get("CPU", 0), resources.get("GPU", 0)
        if workers * cpus_per_worker > total - 1:
            raise SamikshaError(f"{workers} workers x {cpus_per_worker:g} CPUs leave none of the cluster's {total:g} "
                                "CPUs for splitting the input; use fewer --workers or --cpus-per-worker")
        if workers * gpus_per_worker > gpus:
            raise SamikshaError(f"{workers} workers x {gpus_per_worker:g} GPUs: the cluster has {gpus:g} GPUs")
        if not remote:
            staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".ray", dir=target.parent))
        # Each file is read in chunks of chunk_rows rows and split back into those chunks after Ray merges them into
        # blocks; each actor call labels one chunk, as `predict` does in one process. So the probabilities match it
        # even for int8 models, whose scores depend on the rows batched together.
        dataset = ray.data.read_datasource(ReviewFiles(paths, chunk_rows), num_cpus=0,
                                           concurrency=min(workers, len(paths)), override_num_blocks=len(paths))
        dataset = dataset.repartition(target_num_rows_per_block=chunk_rows)
        labelled = dataset.map_batches(
            LabelActor, batch_format="pandas", batch_size=None,
            fn_constructor_kwargs={"model_dir": str(model_dir), "backend": backend, "text_column": text_column,
                                   "batch_size": batch_size, "trust_pickle": trust_pickle},
            compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=cpus_per_worker, num_gpus=gpus_per_worker)
        write = labelled.write_parquet if output_format == "parquet" else labelled.write_csv
        write(output if remote else str(staging), ray_remote_args={"num_cpus": 0})
        if remote:
            return None
        rows = _count_rows(staging, output_format)
        if target.exists():
            target.rmdir()  # an empty folder, checked above
        os.replace(staging, target)
        staging = None
        return rows
    except Exception as error:
        user = _user_error(error)
        if user is not None:
            raise user from None
        raise
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        if started:
            ray.shutdown()
