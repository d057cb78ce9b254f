"""`samiksha serve`: a JSON API and an offline web page over one shared model, with micro-batched inference."""

from __future__ import annotations

import asyncio
import hmac
import io
import logging
import re
import tempfile
import threading
from collections import deque
from concurrent.futures import Future
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path, PurePosixPath
from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, Depends, FastAPI, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from . import formats
from .errors import DataError, SamikshaError
from .labelstore import LabelStore
from .predict import Classifier
from .web import (
    BodyLimit,
    Cancelled,
    Metrics,
    add_error_handlers,
    add_pages,
    attachment,
    public_name,
    read_metrics,
    run_watched,
)

log = logging.getLogger(__name__)

MAX_TEXTS, MAX_TEXT_CHARS, MAX_UPLOAD_BYTES, MAX_BATCH = 1000, 5000, 10 * 1024 * 1024, 64
MAX_ROWS = 100_000  # rows of an uploaded file, counted as it is decoded (a small Parquet file can hold millions)
SHUTTING_DOWN = "the server is shutting down"
MAX_EXPLAIN_TEXTS = 100  # an explanation costs one model call per word of the text (at most 24, plus one)
FORM_OVERHEAD = 64 * 1024  # multipart boundaries and headers around an uploaded file
MEDIA_TYPES = {suffix: fmt.media_type for suffix, fmt in formats.written().items()}  # of the files written
OUTPUTS = tuple(suffix.lstrip(".") for suffix in MEDIA_TYPES)  # the ?format= of a labelled file
READERS = {suffix: fmt for fmt in formats.FORMATS.values() for suffix in fmt.uploads}  # upload suffix -> its format
UPLOADS = {suffix: fmt.suffixes[0] if fmt.suffixes[0] in MEDIA_TYPES else ".csv"
           for suffix, fmt in READERS.items()}  # accepted upload suffix -> suffix of the labelled file
CONTEXT_COLUMNS = {  # columns of an uploaded file that the page shows beside each review, by normalised name
    "product": ("product", "product_name", "product_title", "item", "item_name", "title", "name"),
    "date": ("date", "review_date", "reviewed_on", "reviewed_at", "created_at", "created", "time", "timestamp"),
    "stars": ("stars", "star", "rating", "ratings", "star_rating", "review_rating", "overall"),
}

# The page shows a report (which has inline scripts: plotly.js and its charts) in a frame of its own: the page posts
# the report's HTML to this stub, which writes it into itself. Its policy lets inline scripts run and nothing load
# (no network), and sandboxes it (an origin of its own: it cannot reach the page, its API key or this server's API;
# it may save files, as the charts' own "download as PNG" button does).
REPORT_FRAME = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Report</title></head><body>
<script>
"use strict";
window.addEventListener("message", (event) => {
  if (event.source !== window.parent || event.origin !== location.origin || typeof event.data !== "string") return;
  document.open();
  document.write(event.data);
  document.close();
}, { once: true });
</script></body></html>"""
REPORT_FRAME_HEADERS = {"Content-Security-Policy": "default-src 'none'; script-src 'unsafe-inline'; "
                                                   "style-src 'unsafe-inline'; img-src data: blob:; font-src data:; "
                                                   "base-uri 'none'; form-action 'none'; frame-ancestors 'self'; "
                                                   "sandbox allow-scripts allow-downloads",
                        "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


@dataclass(frozen=True)
class Limits:
    """What one request may hold."""

    max_texts: int = MAX_TEXTS
    max_text_chars: int = MAX_TEXT_CHARS
    max_upload_bytes: int = MAX_UPLOAD_BYTES
    max_explain_texts: int = MAX_EXPLAIN_TEXTS
    max_rows: int = MAX_ROWS

    @property
    def json_body_bytes(self) -> int:
        """Room for ``max_texts`` texts of ``max_text_chars`` characters even when every one is \\u-escaped."""
        return self.max_texts * (6 * self.max_text_chars + 16) + FORM_OVERHEAD


def cut_text(text: str, max_chars: int) -> str:
    """``text`` cut to ``max_chars`` characters, lone surrogates replaced (no model or JSON answer can encode them)."""
    return text[:max_chars].encode("utf-8", "replace").decode("utf-8")


class Batcher:
    """Runs the model in one thread; texts from concurrent requests share model calls of up to ``max_batch``.

    The thread takes whatever is waiting the moment it is free, so an idle server adds no delay and a busy
    one fills its batches. Texts are cut to ``max_chars`` characters before the model sees them.
    """

    def __init__(self, classifier: Classifier, max_chars: int = MAX_TEXT_CHARS, max_batch: int = MAX_BATCH):
        self.classifier, self.labels = classifier, classifier.labels
        self.max_chars, self.max_batch = max_chars, max_batch
        self._jobs: deque[tuple[list[str], Future]] = deque()
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def submit(self, texts: list[str]) -> Future:
        """Queue texts for the model; the future's result is their probabilities, in order."""
        future: Future = Future()
        cleaned = [cut_text(t, self.max_chars) for t in texts]
        with self._ready:
            if self._closed:
                raise Cancelled(SHUTTING_DOWN)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="samiksha-model", daemon=True)
                self._thread.start()
            self._jobs.append((cleaned, future))
            self._ready.notify()
        return future

    async def predict(self, texts: list[str]) -> np.ndarray:
        """Probabilities for ``texts``, sent in chunks so that other requests can share each model call."""
        return self._stack([await asyncio.wrap_future(self.submit(chunk)) for chunk in self._chunks(texts)])

    def predict_proba(self, texts: list[str], batch_size: int | None = None, progress=None,
                      cancel: threading.Event | None = None) -> np.ndarray:
        """Blocking `predict` for worker threads; the `Classifier.predict_proba` signature, for `label_frame`.
        Between model calls it raises `Cancelled` once ``cancel`` is set or the batcher is stopped."""
        parts = []
        for chunk in self._chunks(texts):
            if cancel is not None and cancel.is_set():
                raise Cancelled("the client left")
            parts.append(self.submit(chunk).result())
        return self._stack(parts)

    def watched(self, cancel: threading.Event) -> _Watched:
        """This batcher as `label_frame` sees it for one request that ``cancel`` can stop."""
        return _Watched(self, cancel)

    def _chunks(self, texts: list[str]) -> list[list[str]]:
        return [texts[i:i + self.max_batch] for i in range(0, len(texts), self.max_batch)]

    def _stack(self, parts: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(parts) if parts else np.zeros((0, len(self.labels)), dtype=np.float32)

    def stop(self) -> None:
        """Refuse new work and fail the queued work with `Cancelled` at once (safe in a signal handler: no waiting)."""
        with self._ready:
            self._closed = True
            while self._jobs:
                _, future = self._jobs.popleft()
                if future.set_running_or_notify_cancel():
                    future.set_exception(Cancelled(SHUTTING_DOWN))
            self._ready.notify_all()

    def close(self) -> None:
        """`stop`, then wait for the model thread to finish its current call."""
        self.stop()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _take(self) -> list[tuple[list[str], Future]]:
        with self._ready:
            while not self._jobs and not self._closed:
                self._ready.wait()
            jobs, total = [], 0
            while self._jobs and total < self.max_batch:
                texts, future = self._jobs.popleft()
                if future.set_running_or_notify_cancel():  # skip requests whose client gave up
                    jobs.append((texts, future))
                    total += len(texts)
            return jobs

    def _run(self) -> None:
        while True:
            jobs = self._take()
            if not jobs:
                if self._closed and not self._jobs:
                    return
                continue
            try:
                proba = self.classifier.predict_proba([t for texts, _ in jobs for t in texts], self.max_batch)
            except Exception as error:  # reported to each waiting request, which answers 500
                log.exception("model call failed")
                for _, future in jobs:
                    future.set_exception(error)
                continue
            start = 0
            for texts, future in jobs:
                future.set_result(proba[start:start + len(texts)])
                start += len(texts)


@dataclass(frozen=True)
class _Watched:
    batcher: Batcher
    cancel: threading.Event

    @property
    def labels(self) -> list[str]:
        return self.batcher.labels

    def predict_proba(self, texts: list[str], batch_size: int | None = None, progress=None) -> np.ndarray:
        return self.batcher.predict_proba(texts, cancel=self.cancel)


class ErrorBody(BaseModel):
    error: str = Field(description="What was wrong, in one line.")


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"texts": ["bahut badiya product, paisa vasool", "बेकार क्वालिटी, पैसे बर्बाद",
                                "Delivery was late but the phone works fine"]}]})
    texts: list[str] = Field(description="Reviews to label (Hinglish, Hindi or English), at most the server's "
                                         "max_texts; longer texts than max_text_chars are cut.")


class Prediction(BaseModel):
    label: str = Field(description="The most likely label.")
    score: float = Field(description="The model's probability for that label (its confidence, not a guarantee).")
    probabilities: dict[str, float] = Field(description="One probability per label, in the model's label order.")
    truncated: bool = Field(description="True when the text was cut to max_text_chars before labelling.")


class PredictResponse(BaseModel):
    labels: list[str] = Field(description="The model's labels, in order.")
    results: list[Prediction] = Field(description="One result per text, in the order sent.")
    notices: list[str] = Field(description="Things to know about this answer, such as cut texts.")


class ExplainRequest(PredictRequest):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"texts": ["delivery fast thi par quality bekaar", "बहुत अच्छा प्रोडक्ट, पैसा वसूल"]}]})
    texts: list[str] = Field(description="Reviews to explain, at most the server's max_explain_texts (each costs "
                                         "one model call per word, at most 25); longer texts than max_text_chars "
                                         "are cut.")


class Explained(BaseModel):
    text: str = Field(description="The text explained (cut to max_text_chars if it was longer).")
    label: str = Field(description="The predicted label.")
    score: float = Field(description="The label's probability.")
    words: list[tuple[str, float]] = Field(description="[word, weight] in the text's order: how much the label's "
                                                       "probability falls when the word is deleted (negative: the "
                                                       "word speaks against the label). Texts of more than 24 words "
                                                       "are deleted in runs of neighbours, each word of a run "
                                                       "getting an equal share of its fall.")


class ExplainResponse(BaseModel):
    results: list[Explained]
    notices: list[str]


class AspectItem(BaseModel):
    aspect: str = Field(description="delivery, packaging, quality, price, seller, returns, size (or the server's own).")
    sentiment: str = Field(description="The sentiment toward this aspect: one of the model's labels.")


class AspectResult(BaseModel):
    aspects: list[AspectItem] = Field(description="The aspects the review speaks of, in order of mention.")


class AspectsResponse(BaseModel):
    aspects: list[str] = Field(description="The aspects this server looks for.")
    results: list[AspectResult] = Field(description="One result per text, in the order sent.")
    notices: list[str]


class Context(BaseModel):
    product: str | None = Field(description="The file's product column, if it has one (found by name).")
    date: str | None = Field(description="The file's date column, if it has one.")
    stars: str | None = Field(description="The file's star-rating column, if it has one.")


class FileTable(BaseModel):
    file: str = Field(description="The uploaded file's name, made safe.")
    text_column: str = Field(description="The column that was labelled.")
    labels: list[str]
    columns: list[str] = Field(description="The original columns, then label, score and prob_<label>.")
    rows: list[list[str | float | None]]
    notices: list[str]
    context: Context = Field(description="Original columns that tell about each review: product, date, stars.")


class TableRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field("reviews", max_length=200, description="The file's name without its suffix (made safe).")
    columns: list[str] = Field(min_length=1, max_length=1000)
    rows: list[list[str | float | int | bool | None]]


class LabelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"text": "theek hai, kuch khaas nahi", "label": "neutral", "session": "page-1"}]})
    text: str = Field(min_length=1, description="The review, as sent for a prediction.")
    label: str | None = Field(description="Your label for it (one of the model's labels); null takes yours back.")
    session: str = Field("", max_length=64, pattern=r"^[A-Za-z0-9_-]*$", description="Who labels (a page tab).")


class LabelSaved(BaseModel):
    row_id: str = Field(description="The review's id in the label store (the same text always has the same id).")
    label: str | None
    labelled: int = Field(description="Reviews the label store now holds a label for.")
    store: str = Field(description="The label store's file name.")


class LimitsInfo(BaseModel):
    max_texts: int
    max_text_chars: int
    max_upload_bytes: int
    max_explain_texts: int
    max_rows: int = Field(description="Rows of an uploaded file.")


class ModelInfo(BaseModel):
    name: str = Field(description="The model folder's name.")
    base_model: str | None
    method: str | None
    labels: list[str] = Field(description="Label order of every probability list and prob_ column.")
    backend: str = Field(description="What runs it: torch, onnx or tfidf.")
    max_length: int = Field(description="Tokens per text the model reads; the rest is ignored.")
    train_rows: int | None = Field(description="Labelled texts it was trained on.")
    metrics: Metrics | None = Field(description="Its evaluation when trained; null when the folder has none.")
    limits: LimitsInfo
    label_store: str | None = Field(None, description="The file (name only) where labels sent to /v1/labels are "
                                                      "kept for the next training; null when this server keeps none.")


class Health(BaseModel):
    status: str
    api_key_required: bool


ERRORS = {code: {"model": ErrorBody} for code in (400, 401, 413, 415, 422, 503)}
FILE_TYPES = {media_type.split(";")[0]: {} for media_type in MEDIA_TYPES.values()}


def model_info(model_dir: Path, classifier: Classifier, limits: Limits) -> ModelInfo:
    """What GET /v1/model answers: the model, its label order, its own evaluation and the limits."""
    meta = classifier.meta
    return ModelInfo(name=model_dir.resolve().name, base_model=public_name(meta.get("base_model")),
                     method=meta.get("method"), labels=classifier.labels, backend=classifier.backend.name,
                     max_length=classifier.max_length, train_rows=meta.get("data", {}).get("train", {}).get("rows"),
                     metrics=read_metrics(model_dir), limits=LimitsInfo(**asdict(limits)))


def cut_notices(cut: int, max_chars: int) -> list[str]:
    """The notice for texts that were longer than ``max_chars`` (none when nothing was cut)."""
    return [f"{cut} text(s) longer than {max_chars:,} characters: only their first {max_chars:,} were labelled"
            ] if cut else []


def predictions(texts: list[str], proba: np.ndarray, labels: list[str], max_chars: int) -> dict:
    """The body of a /v1/predict answer."""
    cut = [len(t) > max_chars for t in texts]
    results = [{"label": labels[int(row.argmax())], "score": round(float(row.max()), 4),
                "probabilities": {name: round(float(p), 4) for name, p in zip(labels, row, strict=True)},
                "truncated": c} for row, c in zip(proba, cut, strict=True)]
    return {"labels": labels, "results": results, "notices": cut_notices(sum(cut), max_chars)}


def _header_key(name: object) -> str:
    """A column name as compared with known names: "Product Name" and "product_name" are one."""
    return re.sub(r"[\s_-]+", "_", str(name).strip().lower())


def context_columns(columns: list[str], text_column: str) -> dict[str, str | None]:
    """The original columns that tell about each review (product, date, stars), found by name; None where absent."""
    keyed = {_header_key(c): c for c in reversed(columns) if c != text_column}
    return {role: next((keyed[n] for n in names if n in keyed), None) for role, names in CONTEXT_COLUMNS.items()}


def safe_filename(name: str | None) -> tuple[str, str]:
    """(stem, suffix) of an uploaded file's name, reduced to safe characters; never used as a path."""
    base = PurePosixPath((name or "").replace("\\", "/")).name
    suffix = PurePosixPath(base).suffix.lower()
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", base[:len(base) - len(suffix)]).strip("_")[:80]
    return stem or "reviews", suffix


def read_upload(raw: bytes, name: str, suffix: str, max_rows: int):
    """An uploaded file as a table of string cells: at most ``max_rows`` rows are decoded (413 beyond)."""
    from .data import read_bounded
    from .formats import TooManyRows

    try:
        return read_bounded(io.BytesIO(raw), READERS[suffix].name, max_rows, name)
    except TooManyRows as err:
        raise HTTPException(413, f"{err}; this server labels at most {max_rows:,} rows per file") from None


def form_fields(message: str) -> str:
    """The command-line options an error names ('--text-column') as the upload form's fields ('the text_column
    field', or 'text_column, date_column, ...' for several)."""
    several = len(re.findall(r"--\w+-column", message)) > 1
    return re.sub(r"--(\w+)-column", r"\1_column" if several else r"the \1_column field", message)


def label_upload(batcher: Batcher, raw: bytes, name: str, suffix: str, text_column: str | None,
                 out_suffix: str | None, max_rows: int, *, cancel: threading.Event):
    """Label an uploaded file: (labelled frame, text column, cut texts, labelled file bytes or None).

    At most ``max_rows`` rows are decoded (413 beyond); labelling stops with `Cancelled` once ``cancel`` is set.
    """
    from .data import TEXT_COLUMNS, find_column
    from .predict import label_frame
    from .storage import write_table

    frame = read_upload(raw, name, suffix, max_rows)
    try:
        column = find_column(frame, text_column or None, TEXT_COLUMNS, "text", name)
    except SamikshaError as err:
        raise HTTPException(422, form_fields(str(err))) from None
    if frame.empty:
        raise HTTPException(422, f"{name}: has no rows to label")
    cut = int(frame[column].astype(str).str.len().gt(batcher.max_chars).sum())
    labelled = label_frame(batcher.watched(cancel), frame, column, name)
    if out_suffix is None:
        return labelled, column, cut, None
    with tempfile.TemporaryDirectory(prefix="samiksha-serve-") as folder:
        target = Path(folder) / f"labelled{out_suffix}"
        write_table(labelled, target)
        return labelled, column, cut, target.read_bytes()


def report_upload(batcher: Batcher, aspects: list, model: str, raw: bytes, name: str, suffix: str,
                  columns: dict[str, str | None], max_rows: int, *, cancel: threading.Event) -> tuple[str, int]:
    """`samiksha report`'s page for an uploaded file, built in memory (no PNGs, no files): (the page, cut texts).

    Columns are found as the report finds them (``columns`` names them); texts are cut to the server's
    max_text_chars; at most ``max_rows`` rows (413 beyond); stops with `Cancelled` once ``cancel`` is set."""
    from .aspects import AspectFinder
    from .explain import occlusion
    from .report import compose, find_columns, label_chunks

    frame = read_upload(raw, name, suffix, max_rows)
    try:
        found = find_columns(list(frame.columns), name, **columns)
    except SamikshaError as err:
        raise HTTPException(422, form_fields(str(err))) from None
    if frame.empty:
        raise HTTPException(422, f"{name}: has no rows to label")
    texts = frame[found.text].astype(str)
    cut = int(texts.str.len().gt(batcher.max_chars).sum())
    frame[found.text] = [cut_text(t, batcher.max_chars) for t in texts]
    model_runner = batcher.watched(cancel)
    finder = AspectFinder(model_runner, aspects)
    data = label_chunks(finder, [frame], name, asdict(found), batcher.max_batch)
    data.model = model
    return compose(data, lambda rows: occlusion(model_runner, rows, batcher.max_batch), finder.names).page, cut


def _json_rows(frame) -> list[list]:
    """Rows as JSON-ready lists: numbers as plain 4-decimal floats, missing cells as null."""
    frame = frame.copy()
    for column in frame.select_dtypes("number").columns:
        frame[column] = frame[column].astype("float64").round(4)
    return frame.astype(object).where(frame.notna(), None).values.tolist()


def _key_check(api_key: str):
    header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The key given to `samiksha serve`.")

    def check(given: str | None = Depends(header)) -> None:  # a default, as the header object is local
        if given is None or not hmac.compare_digest(given.encode(), api_key.encode()):
            raise HTTPException(401, "missing or wrong API key: send it in the X-API-Key header",
                                headers={"WWW-Authenticate": "ApiKey"})

    return check


def write_rows(body: TableRequest, suffix: str, max_rows: int) -> bytes:
    """A JSON table (the page's results) as a file of format ``suffix``."""
    import pandas as pd

    from .storage import write_table

    if len(body.rows) > max_rows:
        raise SamikshaError(f"{len(body.rows):,} rows; this server writes at most {max_rows:,}")
    width = len(body.columns)
    bad = next((i for i, row in enumerate(body.rows) if len(row) != width), None)
    if bad is not None:
        raise SamikshaError(f"rows[{bad}] has {len(body.rows[bad])} cells for {width} columns")
    if len(set(body.columns)) != width:
        raise SamikshaError("columns: every column needs its own name")
    frame = pd.DataFrame(body.rows, columns=body.columns, dtype=object) if body.rows else pd.DataFrame(
        columns=body.columns)
    with tempfile.TemporaryDirectory(prefix="samiksha-serve-") as folder:
        target = Path(folder) / f"table{suffix}"
        write_table(frame, target)
        return target.read_bytes()


class Corrections:
    """Where the page's corrections go: the label store at ``path``, opened (and its file created) by the first
    correction, so that serving alone writes nothing beside the model. A file that exists is checked at start."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._store = LabelStore(self.path) if self.path.exists() else None
        self._lock = threading.Lock()

    def store(self) -> LabelStore:
        with self._lock:
            if self._store is None:
                self._store = LabelStore(self.path)
            return self._store


def _api(batcher: Batcher, info: ModelInfo, limits: Limits, api_key: str | None, finder,
         store: Corrections | None) -> APIRouter:
    from .report import describe_model

    api = APIRouter(prefix="/v1", tags=["api"], dependencies=[Depends(_key_check(api_key))] if api_key else [])
    labelled_by = describe_model(info.name, info.base_model or info.method)  # who labelled, as the report says it

    def checked(texts: list[str], most: int) -> list[str]:
        """The request's texts as the model reads them; 422 for none, 413 for more than ``most``."""
        if not texts:
            raise HTTPException(422, "texts is empty: send at least one review")
        if len(texts) > most:
            raise HTTPException(413, f"{len(texts):,} texts in one request; at most {most:,}")
        return [cut_text(t, limits.max_text_chars) for t in texts]

    def notices(texts: list[str]) -> list[str]:
        return cut_notices(sum(len(t) > limits.max_text_chars for t in texts), limits.max_text_chars)

    async def uploaded(file: UploadFile) -> tuple[str, str, bytes]:
        """(stem, suffix, bytes) of an uploaded file; 415 for a type no reader takes, 413 when too large."""
        stem, suffix = safe_filename(file.filename)
        if suffix not in UPLOADS:
            raise HTTPException(415, f"unsupported file type '{suffix or 'none'}': upload one of "
                                     f"{', '.join(UPLOADS)}")
        raw = await file.read()  # at most max_upload_bytes + FORM_OVERHEAD: BodyLimit saw to that
        if len(raw) > limits.max_upload_bytes:
            raise HTTPException(413, f"the file is larger than {limits.max_upload_bytes:,} bytes")
        return stem, suffix, raw

    @api.post("/predict", response_model=PredictResponse, responses=ERRORS)
    async def predict(body: PredictRequest) -> JSONResponse:
        """Label reviews: a label, its score and every label's probability for each text, in the order sent."""
        checked(body.texts, limits.max_texts)
        proba = await batcher.predict(body.texts)
        return JSONResponse(predictions(body.texts, proba, batcher.labels, limits.max_text_chars))

    @api.post("/predict/file", response_class=Response, responses={
        **ERRORS, 200: {"model": FileTable, "content": FILE_TYPES,
                        "description": "The labelled file (same format as the upload unless `format` says "
                                       "otherwise), or with format=json the table as JSON."}})
    async def predict_file(
        request: Request,
        file: Annotated[UploadFile, File(description=f"A table of reviews: {', '.join(UPLOADS)} (text in UTF-8).")],
        text_column: Annotated[str | None, Form(description="Column to label (default: found by name).")] = None,
        output: Annotated[Literal[("same", *OUTPUTS, "json")], Query(
            alias="format", description="Format of the answer: the upload's own (same), another file format, "
                                        "or json (the table as JSON, used by the web page).")] = "same",
    ) -> Response:
        """Label every row of a file (at most the server's max_rows); all original columns are kept and label,
        score, prob_<label> added. Labelling stops when the client disconnects."""
        stem, suffix, raw = await uploaded(file)
        out_suffix = None if output == "json" else UPLOADS[suffix] if output == "same" else f".{output}"
        frame, column, cut, data = await run_watched(
            request, label_upload, batcher, raw, f"{stem}{suffix}", suffix, text_column, out_suffix, limits.max_rows)
        notices = cut_notices(cut, limits.max_text_chars)
        if data is None:
            rows = await run_in_threadpool(_json_rows, frame)
            columns = [str(c) for c in frame.columns]
            original = columns[:len(columns) - 2 - len(batcher.labels)]  # before label, score and prob_<label>
            return JSONResponse({"file": f"{stem}{suffix}", "text_column": column, "labels": batcher.labels,
                                 "columns": columns, "rows": rows, "notices": notices,
                                 "context": context_columns(original, column)})
        headers = attachment(f"{stem}.labelled{out_suffix}")
        if notices:
            headers["X-Samiksha-Notice"] = notices[0]
        return Response(data, media_type=MEDIA_TYPES[out_suffix], headers=headers)

    @api.post("/report", response_class=Response, responses={
        **ERRORS, 200: {"content": {"text/html": {}}, "description": "The report: one HTML file that opens offline "
                                                                     "(plotly.js inlined)."}})
    async def report(
        request: Request,
        file: Annotated[UploadFile, File(description=f"A table of reviews: {', '.join(UPLOADS)} (text in UTF-8).")],
        text_column: Annotated[str | None, Form(description="Review text column (default: found by name).")] = None,
        date_column: Annotated[str | None, Form(description="Date column (default: found by name: date, "
                                                            "review_date, created_at, ...).")] = None,
        product_column: Annotated[str | None, Form(description="Product column (default: found by name: product, "
                                                               "product_name, item, sku, ...).")] = None,
        rating_column: Annotated[str | None, Form(description="Star rating column, 1-5 (default: found by name: "
                                                              "rating, stars, ...).")] = None,
    ) -> Response:
        """`samiksha report` for a file (at most the server's max_rows rows): sentiment by period and product,
        aspects and what rose most, example reviews with the words that drove their label, and star ratings against
        the text, as one self-contained HTML page. Building it stops when the client disconnects."""
        stem, suffix, raw = await uploaded(file)
        columns = {"text": text_column or None, "date": date_column or None, "product": product_column or None,
                   "rating": rating_column or None}
        page, cut = await run_watched(request, report_upload, batcher, finder.aspects, labelled_by, raw,
                                      f"{stem}{suffix}", suffix, columns, limits.max_rows)
        headers = {**attachment(f"{stem}.report.html"), "X-Content-Type-Options": "nosniff"}
        if cut:
            headers["X-Samiksha-Notice"] = cut_notices(cut, limits.max_text_chars)[0]
        return Response(page, media_type="text/html; charset=utf-8", headers=headers)

    @api.post("/explain", response_model=ExplainResponse, responses=ERRORS)
    async def explain(body: ExplainRequest) -> JSONResponse:
        """Which words drove each label: every word's contribution toward the predicted label (word occlusion)."""
        from .explain import occlusion

        texts = checked(body.texts, limits.max_explain_texts)
        explained = await run_in_threadpool(occlusion, batcher, texts, batcher.max_batch)
        return JSONResponse({"results": [e.to_dict() for e in explained], "notices": notices(body.texts)})

    @api.post("/aspects", response_model=AspectsResponse, responses=ERRORS)
    async def aspects(body: PredictRequest) -> JSONResponse:
        """What each review is about (delivery, packaging, quality, price, seller, returns, size) and the
        sentiment toward each aspect."""
        texts = checked(body.texts, limits.max_texts)
        found = await run_in_threadpool(finder.find, texts, batcher.max_batch)
        return JSONResponse({"aspects": finder.names, "notices": notices(body.texts),
                             "results": [{"aspects": [a.to_dict() for a in row]} for row in found]})

    @api.post("/table", response_class=Response, responses={
        **ERRORS, 200: {"content": FILE_TYPES, "description": "The table as a file."}})
    async def table(body: TableRequest, output: Annotated[Literal[OUTPUTS], Query(
            alias="format", description="The file format.")] = "csv") -> Response:
        """Write a table as a file: the web page's results (with your labels and the aspects) go back in the
        uploaded file's own format, Excel included."""
        suffix = f".{output}"
        data = await run_in_threadpool(write_rows, body, suffix, limits.max_rows)
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", PurePosixPath(body.name.replace("\\", "/")).name).strip("._")
        return Response(data, media_type=MEDIA_TYPES[suffix], headers=attachment(f"{stem[:120] or 'reviews'}{suffix}"))

    def kept() -> LabelStore:
        if store is None:
            raise HTTPException(404, "this server keeps no labels: start it with --labels-db FILE")
        return store.store()

    @api.post("/labels", response_model=LabelSaved, responses=ERRORS)
    async def label(body: LabelRequest) -> LabelSaved:
        """Your label for a review (say, a wrong prediction corrected), saved at once in the label store that
        `samiksha label` uses, so the next training learns from it. A null label takes yours back."""
        labels = kept()
        if body.label is not None and body.label not in batcher.labels:
            raise SamikshaError(f"unknown label '{body.label}' (expected {', '.join(batcher.labels)})")
        rid = await run_in_threadpool(labels.add, body.text, body.label, body.session or "serve")
        count = len(await run_in_threadpool(labels.labels))
        return LabelSaved(row_id=rid, label=body.label, labelled=count, store=labels.path.name)

    @api.get("/labels", response_class=Response, responses={
        **ERRORS, 200: {"content": FILE_TYPES, "description": "Every labelled review: text and label."}})
    async def labelled(output: Annotated[Literal["csv", "jsonl", "xlsx", "parquet"], Query(
            alias="format", description="The file format.")] = "csv") -> Response:
        """The label store's reviews and labels as a file: a `samiksha train` input."""
        labels, suffix = kept(), f".{output}"
        with tempfile.TemporaryDirectory(prefix="samiksha-serve-") as folder:
            target = Path(folder) / f"labels{suffix}"
            await run_in_threadpool(labels.export, target)
            data = target.read_bytes()
        return Response(data, media_type=MEDIA_TYPES[suffix], headers=attachment(f"{labels.path.stem}{suffix}"))

    @api.get("/model", response_model=ModelInfo, responses={401: {"model": ErrorBody}})
    async def model() -> ModelInfo:
        """The model: name, label order, backend, its own evaluation (macro-F1, per class) and this server's limits."""
        return info

    return api


def create_app(model_dir: str | Path, *, api_key: str | None = None, max_texts: int = MAX_TEXTS,
               max_text_chars: int = MAX_TEXT_CHARS, max_upload_bytes: int = MAX_UPLOAD_BYTES,
               max_rows: int = MAX_ROWS, backend: str = "auto", max_batch: int = MAX_BATCH,
               threads: int | None = None, aspect_file: str | Path | None = None,
               only_file_aspects: bool = False, trust_pickle: bool = False,
               labels_db: str | Path | None = None) -> FastAPI:
    """The web app for one model folder: loads the model once (raises ModelError for a bad folder).

    ``api_key``: required in the X-API-Key header of /v1/* (None: no key; an empty key is refused).
    ``max_rows``: rows of an uploaded file, counted as it is decoded. ``app.state.batcher.stop`` stops in-flight
    work at once (`web.run_server` calls it on SIGTERM). ``threads`` sets PyTorch's threads for this whole process
    (None leaves them as they are). ``aspect_file``: aspects for /v1/aspects added to the defaults (or instead of
    them, with ``only_file_aspects``). ``labels_db``: the label store (`labelstore`, SQLite) where the page's
    corrections go (None: none are kept; one that cannot be opened is reported and left out).
    """
    from .aspects import AspectFinder, aspect_set

    for name, value in (("max_texts", max_texts), ("max_text_chars", max_text_chars),
                        ("max_upload_bytes", max_upload_bytes), ("max_rows", max_rows), ("max_batch", max_batch),
                        ("threads", 1 if threads is None else threads)):
        if value < 1:
            raise SamikshaError(f"{name} must be at least 1 (got {value})")
    if api_key is not None and not api_key.strip():
        raise SamikshaError("the API key is empty (--api-key or SAMIKSHA_API_KEY): give a key, or none to serve "
                            "without one")
    model_dir = Path(model_dir)
    classifier = Classifier.load(model_dir, backend=backend, trust_pickle=trust_pickle)
    if threads is not None and "torch" in classifier.backend.name.split("+"):
        import torch

        torch.set_num_threads(threads)
    limits = Limits(max_texts, max_text_chars, max_upload_bytes, min(max_texts, MAX_EXPLAIN_TEXTS), max_rows)
    batcher = Batcher(classifier, max_text_chars, max_batch)
    finder = AspectFinder(batcher, aspect_set(aspect_file, only_file_aspects))  # its model calls share the batches
    store = None
    if labels_db is not None:
        try:
            store = Corrections(labels_db)
        except DataError as err:
            log.warning("%s; the page's corrections will not be kept", err)
    info = model_info(model_dir, classifier, limits)
    info.label_store = store.path.name if store is not None else None

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        batcher.close()

    app = FastAPI(title="Samiksha", version=version("samiksha"), lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Label Indian e-commerce reviews (Hinglish, Hindi, English) as "
                              f"{', '.join(classifier.labels)}. The page at / does the same in a browser.")
    app.state.batcher, app.state.label_store = batcher, store
    add_error_handlers(app)
    app.include_router(_api(batcher, info, limits, api_key, finder, store))
    app.add_middleware(BodyLimit, default=FORM_OVERHEAD, limits={
        "/v1/predict": limits.json_body_bytes, "/v1/explain": limits.json_body_bytes,
        "/v1/aspects": limits.json_body_bytes, "/v1/predict/file": max_upload_bytes + FORM_OVERHEAD,
        "/v1/report": max_upload_bytes + FORM_OVERHEAD,
        "/v1/labels": 6 * max_text_chars + FORM_OVERHEAD, "/v1/table": 4 * max_upload_bytes + FORM_OVERHEAD})

    @app.get("/health", response_model=Health, tags=["health"])
    async def health() -> Health:
        """Liveness, and whether /v1/* needs an X-API-Key header."""
        return Health(status="ok", api_key_required=api_key is not None)

    @app.get("/report-frame", include_in_schema=False)
    async def report_frame() -> HTMLResponse:
        return HTMLResponse(REPORT_FRAME, headers=REPORT_FRAME_HEADERS)

    add_pages(app, "index.html", "Samiksha API")
    return app
