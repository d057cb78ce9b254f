"""`samiksha label`: a page to label a pool of reviews one at a time, in suggested order, saved as you go.

Labels go straight into the pool's SQLite store (`labelstore`). The order comes from `suggest`: covering the
pool while some label is rare, then `suggest`'s mix (half at random, half the least certain reviews of a quick
model on the labels so far; re-ranked every ``RERANK_EVERY`` labels), or the least certain of the model trained from
the page ("train now" runs the default recipe in a background thread and re-ranks with it when it finishes).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import numpy as np
from fastapi import APIRouter, FastAPI
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from .data import LabelledData, count_rows, file_format, read_bounded
from .errors import DataError, SamikshaError, first_line
from .formats import TooManyRows
from .labels import SENTIMENT
from .labelstore import Event, LabelStore, default_db
from .modelfolder import ModelFolder
from .serve import MEDIA_TYPES
from .suggest import candidates, guess_and_reason, least_certain_first, needs_cover, pick_next, read_pool
from .web import BodyLimit, Cancelled, Metrics, add_error_handlers, add_pages, attachment, read_metrics

if TYPE_CHECKING:
    from .config import TrainConfig

log = logging.getLogger(__name__)

RERANK_EVERY = 25  # labels between re-rankings by the quick model
SHOWN_AHEAD = 3  # reviews each answer carries, so the page can move on without waiting
GUARDED = 200  # the first reviews of a ranking get the near-duplicate guard; the rest follow by entropy
AUDIT_SHOWN = 20
MAX_POOL_ROWS = 100_000  # every review of the pool is embedded and ranked, and stays in memory
MAX_BODY = 4096  # bytes of a JSON request body (a row id and a label)


class UnknownReview(SamikshaError):
    """A row id that is not a review of the pool (the page answers 404)."""


class AlreadyTraining(SamikshaError):
    """A second training run asked for while one runs (the page answers 409)."""


class Review(BaseModel):
    row_id: str
    text: str
    guess: str | None = Field(description="The current model's label, if there is a model yet.")
    score: float | None
    reason: str


class Training(BaseModel):
    state: Literal["idle", "running", "done", "failed"]
    message: str
    progress: float | None = Field(description="Share of the current training run done, 0-1, when known.")
    seconds: float


class State(BaseModel):
    labels: list[str]
    counts: dict[str, int]
    labelled: int
    skipped: int
    total: int = Field(description="Distinct reviews in the pool.")
    target: int
    next: list[Review]
    model: str | None = Field(description="The model ranking the reviews: a folder name, or the quick model.")
    metrics: Metrics | None = Field(description="The trained model's own evaluation, once there is one.")
    training: Training


SessionId = Annotated[str, Field(max_length=64, pattern=r"^[A-Za-z0-9_-]*$",
                                  description="The page's own id (one per tab): undo takes back only the changes "
                                              "made with this id. Left out: one id for this server's other clients.")]


class LabelRequest(BaseModel):
    row_id: str = Field(min_length=1, max_length=64)
    label: str = Field(min_length=1, max_length=64)
    session: SessionId = ""


class RowRequest(BaseModel):
    row_id: str = Field(min_length=1, max_length=64)
    session: SessionId = ""


class UndoRequest(BaseModel):
    session: SessionId = ""


class UndoAnswer(BaseModel):
    undone: str | None = Field(description="The review whose label or skip was taken back (null: nothing to undo).")
    restored: str | None = Field(description="Its label now: the one it had before, or null when it has none.")
    state: State


class Suspect(BaseModel):
    row_id: str
    text: str
    label: str
    suggested: str
    confidence: float
    flagged: bool


@dataclass
class TrainingStatus:
    state: str = "idle"
    message: str = "not trained yet"
    progress: float | None = None
    started: float = 0.0
    finished: float = 0.0

    def public(self) -> Training:
        end = self.finished if self.state in ("done", "failed") else time.time()
        return Training(state=self.state, message=self.message, progress=self.progress,
                        seconds=round(end - self.started, 1) if self.started else 0.0)


@dataclass
class Ranking:
    """Review ids in the order to ask them, with the guess and reason for each."""

    order: list[str] = field(default_factory=list)
    guess: dict[str, tuple[str, float]] = field(default_factory=dict)
    reason: dict[str, str] = field(default_factory=dict)
    labelled_at: int = -1


class Session:
    """The pool, its labels, the current ranking and the background training of one labelling page."""

    def __init__(self, pool: str | Path, *, db: str | Path | None, labels_out: str | Path | None,
                 model_dir: str | Path | None, output: str | Path, base_model: str | None, target: int,
                 encoder: str | None, text_column: str | None, seed: int, trust_pickle: bool = False):
        self.pool = read_pool(pool, text_column)
        self.store = LabelStore(db or default_db(pool), self.pool)
        self.labels_out = Path(labels_out) if labels_out else None
        self.output, self.base_model = Path(output), base_model
        self.target, self.encoder, self.seed = target, encoder, seed
        self.trust_pickle = trust_pickle  # for the model named at start; the page's own models hold no pickle
        texts = self.pool.texts
        self.rows = candidates(texts, set())  # one position per distinct review
        self.ids = [self.pool.ids[i] for i in self.rows]
        self.text = {rid: texts[i] for rid, i in zip(self.ids, self.rows)}
        if model_dir is None and ModelFolder(self.output).is_model():
            model_dir = self.output  # trained from this page before
        self.model_dir = Path(model_dir) if model_dir else None
        self.classifier, self.metrics = None, None
        self.names = list(SENTIMENT)
        if self.model_dir is not None:
            self._use_model(self.model_dir)
        self.lock = threading.RLock()
        self.ranking = Ranking()
        self.training = TrainingStatus()
        self.trainer: threading.Thread | None = None
        self.stopping = threading.Event()
        self.export_lock = threading.Lock()
        self.anonymous = f"server-{uuid.uuid4().hex[:12]}"  # the session of requests that name none
        self.rerank()

    def _use_model(self, model_dir: Path) -> None:
        from .predict import Classifier

        classifier = Classifier.load(model_dir, trust_pickle=self.trust_pickle)
        self.classifier, self.model_dir, self.names = classifier, model_dir, list(classifier.labels)
        self.metrics = read_metrics(model_dir)

    def _vectors(self) -> np.ndarray:
        from .embeddings import embed

        return embed([self.text[rid] for rid in self.ids], self.encoder)

    def rerank(self) -> None:
        """Order the unlabelled reviews: by the trained model's uncertainty, else by `suggest.pick_next`."""
        labels = self.store.labels()
        left = [i for i, rid in enumerate(self.ids) if rid not in labels]  # skipped ones too: `state` puts them last
        ranking = Ranking(labelled_at=len(labels))
        vectors, proba, picks = self._vectors(), None, []
        if left and self.classifier is not None:
            proba = self.classifier.predict_proba([self.text[self.ids[i]] for i in left])
            picks = least_certain_first(proba, lambda rows: vectors[[left[i] for i in rows]], GUARDED)
            source = f"the model in {self.model_dir.name}"
        elif left:
            index = {name: k for k, name in enumerate(self.names)}
            known = [i for i, rid in enumerate(self.ids) if labels.get(rid) in index]
            known_y = [index[labels[self.ids[i]]] for i in known]
            ahead = (min(2 * RERANK_EVERY, -(-len(left) // 3)) if needs_cover(known_y, len(self.names))
                     else min(GUARDED, len(left)))  # a few groups to cover before the next re-ranking
            picks, proba, why = pick_next(vectors[left], vectors[known], known_y, len(self.names), ahead, self.seed)
            chosen = set(picks)
            picks = list(picks) + [i for i in range(len(left)) if i not in chosen]
            ranking.reason = {self.ids[left[i]]: text for i, text in why.items()}
            source = f"a quick model trained on your {len(known)} labels"
        for i in picks:
            rid = self.ids[left[i]]
            ranking.order.append(rid)
            if proba is not None:
                label, score, reason = guess_and_reason(proba[i], self.names, source)
                ranking.guess[rid] = (label, score)
                ranking.reason.setdefault(rid, reason)
        ranked = set(ranking.order)  # then the rest, so a review whose label is undone later is asked again
        ranking.order += [rid for rid in self.ids if rid not in ranked]
        with self.lock:
            self.ranking = ranking

    def state(self, first: str | None = None) -> State:
        labels = self.store.labels()
        if self.classifier is None and len(labels) - self.ranking.labelled_at >= RERANK_EVERY:
            self.rerank()
        ranking, skipped = self.ranking, self.store.skipped()
        order = [rid for rid in ranking.order if rid not in labels and rid not in skipped and rid != first]
        order += [rid for rid in ranking.order if rid in skipped and rid != first]  # skipped ones come back last
        shown = ([first] if first in self.text else []) + order[:SHOWN_AHEAD]
        counts = {name: 0 for name in self.names}
        for label in labels.values():
            counts[label] = counts.get(label, 0) + 1
        return State(
            labels=self.names, counts=counts, labelled=len(labels), skipped=len(skipped),
            total=len(self.ids), target=self.target,
            next=[Review(row_id=rid, text=self.text[rid], guess=ranking.guess.get(rid, (None, None))[0],
                         score=ranking.guess.get(rid, (None, None))[1], reason=ranking.reason.get(rid, "in pool order"))
                  for rid in shown[:SHOWN_AHEAD + 1]],
            model=self.model_dir.name if self.model_dir else "quick model" if ranking.guess else None,
            metrics=self.metrics, training=self.training.public())

    def check_row(self, row_id: str) -> None:
        if row_id not in self.text:
            raise UnknownReview(f"no review with id '{row_id}' in {Path(self.pool.source).name}")

    def label(self, row_id: str, label: str, session: str = "") -> None:
        self.check_row(row_id)
        if label not in self.names:
            raise SamikshaError(f"unknown label '{label}' (expected {', '.join(self.names)})")
        self.store.set(row_id, label, session or self.anonymous)
        self.write_labels_out()

    def skip(self, row_id: str, session: str = "") -> None:
        self.check_row(row_id)
        self.store.skip(row_id, session or self.anonymous)

    def undo(self, session: str = "") -> Event | None:
        """Take back this session's latest label or skip (`LabelStore.undo`)."""
        undone = self.store.undo(session or self.anonymous)
        if undone is not None:
            self.write_labels_out()
        return undone

    def write_labels_out(self) -> None:
        if self.labels_out is not None:
            with self.export_lock:
                self.store.export(self.labels_out)

    def suspects(self) -> list[Suspect]:
        """The labels cleanlab flags as likely wrong, likeliest first (`audit` on the labels collected); refused
        with how many labels are missing while some label has too few, or while the quick model is no better
        than chance on held-out folds (its doubts would be noise)."""
        from .audit import audit_data, too_few_labels

        labels = self.store.labels()
        ids = [rid for rid in labels if rid in self.text]
        if len(set(labels[rid] for rid in ids)) < 2:
            raise SamikshaError("label at least two different labels before checking them")
        missing = too_few_labels([labels[rid] for rid in ids])
        if missing:
            raise SamikshaError(missing)
        data = LabelledData([self.text[rid] for rid in ids], [labels[rid] for rid in ids], self.store.path.name,
                            "text", "label", "sentiment", list(range(len(ids))))
        ranking = audit_data(data, encoder=self.encoder, seed=self.seed)
        judged = ranking.attrs["skill"]
        if not judged.better_than_chance:
            raise SamikshaError(f"nothing to go on yet: a quick model is no better than chance on your labels "
                                f"({judged.describe()}); label more and check again")
        ranking = ranking[ranking["flagged"]].head(AUDIT_SHOWN)
        return [Suspect(row_id=ids[row], text=r.text, label=r.label, suggested=r.suggested,
                        confidence=float(r.confidence), flagged=bool(r.flagged))
                for row, r in zip(ranking["row"], ranking.itertuples())]

    def start_training(self) -> None:
        """Train on the labels so far in a background thread, once they are known to make a training set: a
        problem with them (one class, too few to hold some out) is raised here, as the answer, not as a failed run."""
        import shutil
        import tempfile

        from .config import TrainConfig
        from .train import prepare_data

        with self.lock:
            if self.training.state == "running":
                raise AlreadyTraining("a training run is already going")
            config = TrainConfig(model=self.base_model, seed=self.seed)
            folder = Path(tempfile.mkdtemp(prefix="samiksha-label-"))
            try:
                data = folder / "labels.csv"
                rows = self.store.export(data)  # the review under `text`: what `train` reads as is
                prepare_data(data, None, config)
            except BaseException as err:
                shutil.rmtree(folder, ignore_errors=True)
                if isinstance(err, DataError):  # said without the temporary file's name
                    raise SamikshaError(f"cannot train on these labels yet: {str(err).split(': ', 1)[-1]}") from None
                raise
            self.training = TrainingStatus("running", f"training on {rows} labels", None, time.time())
            self.trainer = threading.Thread(target=self._train, args=(folder, data, rows, config),
                                            name="samiksha-label-train", daemon=True)
            self.trainer.start()

    def stop(self) -> None:
        """Ask a training run to stop at its next step (safe in a signal handler: no waiting)."""
        self.stopping.set()

    def close(self, timeout: float = 10) -> None:
        """`stop`, wait for the training thread (its temporary folder goes with it), write --labels-out."""
        self.stop()
        if self.trainer is not None:
            self.trainer.join(timeout)
        self.write_labels_out()

    def _train(self, folder: Path, data: Path, rows: int, config: TrainConfig) -> None:
        """Train on the exported labels ``data`` (in the temporary ``folder``, removed after), then re-rank."""
        import shutil

        from .train import train

        status = self.training
        handler = _StatusLog(status)
        logging.getLogger("samiksha").addHandler(handler)
        try:
            try:
                train(data, self.output, config=config, callbacks=[_progress_callback(status, self.stopping)])
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            status.message, status.progress = "ranking the pool with the new model", None
            self._use_model(self.output)
            self.rerank()
            status.state, status.message = "done", f"trained on {rows} labels; model in {self.output.name}"
        except Exception as err:  # the page shows it; the server keeps running
            log.error("training from the labelling page failed: %s", err)
            status.state, status.message = "failed", first_line(err)
        finally:
            status.finished = time.time()
            logging.getLogger("samiksha").removeHandler(handler)


class _StatusLog(logging.Handler):
    """Shows the training's latest log line on the page."""

    def __init__(self, status: TrainingStatus):
        super().__init__(logging.INFO)
        self.status = status

    def emit(self, record: logging.LogRecord) -> None:
        self.status.message = record.getMessage()[:200]


def _progress_callback(status: TrainingStatus, stopping: threading.Event):
    from transformers import TrainerCallback

    class Progress(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if stopping.is_set():
                raise Cancelled("stopped: the server is shutting down")
            if state.max_steps:
                status.progress = round(state.global_step / state.max_steps, 3)

    return Progress()


def check_pool_size(pool: str | Path, max_rows: int) -> None:
    """Refuse a pool of more than ``max_rows`` rows before reading it whole (one line naming --max-rows)."""
    path = Path(pool)
    if not path.is_file():
        return  # a datasets folder is memory-mapped; `read_pool` reports a missing file
    try:
        rows = count_rows(path)  # Parquet's own count, or a line count: at least the rows of a text file
        if rows is not None and rows <= max_rows:
            return
        with open(path, "rb") as stream:
            read_bounded(stream, file_format(path), max_rows, path)
    except TooManyRows as err:
        raise SamikshaError(f"{err}; label a part of it, or raise --max-rows") from None


def create_label_app(pool: str | Path, *, db: str | Path | None = None, labels_out: str | Path | None = None,
                     model_dir: str | Path | None = None, output: str | Path | None = None,
                     base_model: str | None = None, target: int = 300, encoder: str | None = None,
                     text_column: str | None = None, seed: int = 0, max_rows: int = MAX_POOL_ROWS,
                     trust_pickle: bool = False) -> FastAPI:
    """The labelling page and its JSON API for one pool of at most ``max_rows`` rows (raises DataError for an
    unusable pool or store). ``app.state.session.stop`` stops a training run (`web.run_server` calls it on
    SIGTERM)."""
    if target < 1:
        raise SamikshaError(f"target must be at least 1 (got {target})")
    if max_rows < 1:
        raise SamikshaError(f"max_rows must be at least 1 (got {max_rows})")
    check_pool_size(pool, max_rows)
    pool_path = Path(pool)
    session = Session(pool, db=db, labels_out=labels_out, model_dir=model_dir,
                      output=output or pool_path.with_name(f"{pool_path.stem}.model"), base_model=base_model,
                      target=target, encoder=encoder, text_column=text_column, seed=seed, trust_pickle=trust_pickle)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        await run_in_threadpool(session.close)

    app = FastAPI(title="Samiksha labelling", version=version("samiksha"), lifespan=lifespan, docs_url=None,
                  redoc_url=None, description=f"Label the reviews of {pool_path.name}, saved as you go.")
    app.state.session = session
    add_error_handlers(app, {UnknownReview: 404, AlreadyTraining: 409})
    app.add_middleware(BodyLimit, limits={}, default=MAX_BODY)
    api = APIRouter(prefix="/label/api", tags=["labelling"])

    @api.get("/state", response_model=State)
    async def state() -> State:
        """Progress, the next reviews to label (suggested order), the model and its training."""
        return await run_in_threadpool(session.state)

    @api.post("/label", response_model=State)
    async def label(body: LabelRequest) -> State:
        """Save a label at once (labelling a review again replaces its label)."""
        await run_in_threadpool(session.label, body.row_id, body.label, body.session)
        return await run_in_threadpool(session.state)

    @api.post("/skip", response_model=State)
    async def skip(body: RowRequest) -> State:
        """Put a review aside until every other one is done."""
        await run_in_threadpool(session.skip, body.row_id, body.session)
        return await run_in_threadpool(session.state)

    @api.post("/undo", response_model=UndoAnswer)
    async def undo(body: UndoRequest | None = None) -> UndoAnswer:
        """Take back this session's latest label or skip (its earlier label comes back); that review is shown first."""
        undone = await run_in_threadpool(session.undo, body.session if body else "")
        row = undone.row_id if undone else None
        return UndoAnswer(undone=row, restored=undone.label if undone else None,
                          state=await run_in_threadpool(session.state, row))

    @api.get("/review/{row_id}", response_model=State)
    async def review(row_id: str) -> State:
        """The state with this review first (to relabel it)."""
        session.check_row(row_id)
        return await run_in_threadpool(session.state, row_id)

    @api.get("/export")
    async def export(format: Literal["csv", "jsonl", "parquet", "label-studio"] = "csv") -> Response:
        """The labelled reviews with every original column, `label`, `annotator` and `labelled_at`: a `samiksha
        train` input (label-studio: Label Studio's task JSON, the labels as annotations)."""
        import tempfile

        studio = format == "label-studio"
        suffix = "json" if studio else format
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"labels.{suffix}"
            await run_in_threadpool(session.store.export, path, "label-studio" if studio else "table")
            content = path.read_bytes()
        return Response(content, media_type="application/json" if studio else MEDIA_TYPES[f".{format}"],
                        headers=attachment(f"{pool_path.stem}-labels.{suffix}"))

    @api.post("/train", response_model=Training, status_code=202)
    async def train_now() -> Training:
        """Train the default recipe on the labels so far, in the background; /state reports its progress."""
        if len(set(session.store.labels().values())) < 2:
            raise SamikshaError("label at least two different labels before training")
        session.start_training()
        return session.training.public()

    @api.get("/audit", response_model=list[Suspect])
    async def audit() -> list[Suspect]:
        """The labels most likely wrong so far, by out-of-fold probabilities ranked with cleanlab."""
        return await run_in_threadpool(session.suspects)

    app.include_router(api)

    add_pages(app, "label.html", "Samiksha labelling API")
    return app

