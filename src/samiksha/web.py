"""What `samiksha serve` and `samiksha label` share: host checking, body limits, JSON errors (domain errors become
HTTP statuses here and only here), the page, static files and offline /docs, the model's own evaluation, downloads
and the uvicorn launch (bind first, then announce; SIGTERM stops in-flight work and shuts down within seconds)."""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import socket
import threading
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath
from typing import TypeVar
from urllib.parse import quote

import fastapi_offline
import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp

from .errors import SamikshaError, first_line
from .modelfolder import ModelFolder

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
SWAGGER_UI = Path(fastapi_offline.__file__).parent / "static"  # Swagger UI 5 (renders OpenAPI 3.1), from PyPI
PAGE_HEADERS = {"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; "
                                           "base-uri 'none'; frame-ancestors 'none'",
                "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
ANY_ADDRESS = ("0.0.0.0", "::", "")
GRACEFUL_SECONDS = 3  # after SIGTERM, how long open requests get to finish before they are cancelled
POLL_SECONDS = 0.25  # how often a long request checks whether its client is still there
T = TypeVar("T")


class ClassMetrics(BaseModel):
    precision: float
    recall: float
    f1: float
    support: int


class Interval(BaseModel):
    level: float = Field(description="Coverage of the intervals, such as 0.95.")
    resamples: int
    macro_f1: list[float] = Field(description="Bootstrap interval of macro-F1: [low, high].")
    accuracy: list[float] = Field(description="Bootstrap interval of accuracy: [low, high].")


class Metrics(BaseModel):
    accuracy: float
    macro_f1: float
    weighted_f1: float
    per_class: dict[str, ClassMetrics]
    confusion_matrix: list[list[int]]
    labels: list[str]
    n: int = Field(description="How many labelled texts these figures were measured on.")
    data: str = Field(description="Which data they were measured on.")
    ci: Interval | None = Field(default=None, description="How rough the figures are (folders trained before "
                                                          "intervals were reported have none).")


def public_name(value: object) -> str | None:
    """A name without the folders of this server (a path in metadata shows only its last part)."""
    if value is None:
        return None
    text = str(value)
    return PurePosixPath(text.replace("\\", "/")).name if "/" in text or "\\" in text else text


def read_metrics(model_dir: Path) -> Metrics | None:
    """A model folder's own evaluation, or None when it has none or it is unusable."""
    folder = ModelFolder(model_dir)
    try:
        raw = folder.read_metrics()
        return None if raw is None else Metrics.model_validate({**raw, "data": public_name(raw.get("data", "")) or ""})
    except (SamikshaError, ValueError, TypeError) as err:  # pydantic's ValidationError is a ValueError
        log.warning("%s: unusable (%s); the page shows no metrics", folder.metrics_file, first_line(err))
        return None


class Cancelled(Exception):
    """Work stopped because its client left or the server is shutting down (answered 503)."""


def _header_form(host: str) -> str:
    """A host as a Host header writes it: IPv6 literals in brackets, names in lower case."""
    host = host.strip().lower()
    try:
        return f"[{host}]" if ipaddress.ip_address(host.strip("[]")).version == 6 else host
    except ValueError:
        return host


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def allowed_hosts(bind: str, extra: Sequence[str] = ()) -> list[str]:
    """The Host header values a server bound to ``bind`` answers: the bound host (and every loopback name when it is
    a loopback address) plus ``extra``; ``'*'`` in ``extra`` accepts any. Guards against DNS rebinding."""
    extra = [_header_form(h) for h in extra if h.strip()]
    if "*" in extra:
        return ["*"]
    for pattern in extra:
        if "*" in pattern[1:] or (pattern.startswith("*") and not pattern.startswith("*.")):
            raise SamikshaError(f"--allow-host '{pattern}': a wildcard must look like '*.example.com'")
    if bind in ANY_ADDRESS:
        if not extra:
            raise SamikshaError(f"listening on every address ({bind or 'all'}): name the host names clients will use "
                                "with --allow-host NAME (repeatable), or accept any with --allow-host '*'")
        return sorted(set(extra))
    hosts = {_header_form(bind), *extra}
    if _is_loopback(bind):
        hosts.update(LOOPBACK_NAMES)
    return sorted(hosts)


def check_hosts(app: ASGIApp, hosts: Sequence[str]) -> ASGIApp:
    """``app`` answering only requests whose Host header is one of ``hosts`` (others get 400)."""
    return TrustedHostMiddleware(app, allowed_hosts=list(hosts), www_redirect=False)


def attachment(name: str) -> dict[str, str]:
    """A Content-Disposition header for downloading ``name``: RFC 6266/5987 ``filename*`` for any Unicode name, with
    an ASCII ``filename`` for clients that do not read it."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name)
    if fallback == name:
        return {"Content-Disposition": f'attachment; filename="{name}"'}
    return {"Content-Disposition": f"attachment; filename=\"{fallback}\"; filename*=utf-8''{quote(name, safe='')}"}


def add_pages(app: FastAPI, page: str, docs_title: str) -> None:
    """The parts every app shares: its page ``page`` (from static/) at ``/`` with `PAGE_HEADERS`, the static files,
    and the API docs at ``/docs`` (Swagger UI 5, which renders OpenAPI 3.1, from the fastapi-offline package: offline
    too). Make the app with ``docs_url=None, redoc_url=None``: FastAPI's own pages load from a CDN."""

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / page, headers=PAGE_HEADERS)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url, title=docs_title,
                                   swagger_js_url="/swagger-ui/swagger-ui-bundle.js",
                                   swagger_css_url="/swagger-ui/swagger-ui.css",
                                   swagger_favicon_url="/swagger-ui/favicon.png")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.mount("/swagger-ui", StaticFiles(directory=SWAGGER_UI), name="swagger-ui")


def error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    """The one error shape of both apps: ``{"error": "one line"}``."""
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class BodyLimit:
    """Answers 413 when a request body is larger than its path allows, before or while it is read."""

    def __init__(self, app, limits: dict[str, int], default: int):
        self.app, self.limits, self.default = app, limits, default

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limits.get(scope["path"], self.default)
        declared = Headers(scope=scope).get("content-length", "")
        message = f"request body is larger than this server accepts here ({limit:,} bytes)"
        if declared.isdigit() and int(declared) > limit:
            return await error(413, message, {"Connection": "close"})(scope, receive, send)
        seen = 0

        async def limited_receive():
            nonlocal seen
            event = await receive()
            seen += len(event.get("body", b""))
            if seen > limit:
                raise HTTPException(413, message)
            return event

        return await self.app(scope, limited_receive, send)


def add_error_handlers(app: FastAPI, statuses: dict[type[SamikshaError], int] | None = None) -> None:
    """Every error as one JSON line: HTTP errors, bad bodies (400/422), user errors (400, or the status ``statuses``
    gives their class), stopped work (503) and anything unexpected (500, details only in the server log).
    Domain code raises `SamikshaError`s; only this layer turns them into HTTP statuses."""

    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = (exc.errors() or [{}])[0]
        if first.get("type") == "json_invalid":
            return error(400, f"the body is not valid JSON ({first.get('ctx', {}).get('error', 'decode error')})")
        where = ".".join(str(part) for part in first.get("loc", ())[1:]) or "body"
        return error(422, f"{where}: {first.get('msg', 'invalid')}")

    async def user_error(request: Request, exc: SamikshaError) -> JSONResponse:
        return error(next((status for kind, status in (statuses or {}).items() if isinstance(exc, kind)), 400),
                     str(exc))

    async def cancelled(request: Request, exc: Cancelled) -> JSONResponse:
        return error(503, str(exc) or "the work was stopped", {"Connection": "close"})

    async def server_error(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s failed: %s", request.method, request.url.path, exc, exc_info=exc)
        return error(500, "internal error; the server log has the details")

    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(SamikshaError, user_error)
    app.add_exception_handler(Cancelled, cancelled)
    app.add_exception_handler(Exception, server_error)


async def run_watched(request: Request, work: Callable[..., T], *args) -> T:
    """``work(*args, cancel=event)`` in a worker thread; ``event`` is set when the client disconnects or this request
    is cancelled (server shutdown), and ``work`` checks it between chunks and raises `Cancelled`."""
    cancel = threading.Event()
    task = asyncio.ensure_future(run_in_threadpool(functools.partial(work, *args, cancel=cancel)))
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=POLL_SECONDS)
            if not task.done() and await request.is_disconnected():
                log.info("%s %s: the client left; stopping its work", request.method, request.url.path)
                cancel.set()
        return task.result()
    finally:
        cancel.set()


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to ``host``:``port`` (one line for a busy port or an unknown address)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: a restart need not wait
        sock.bind((host.strip("[]"), port))
    except OSError as err:
        sock.close()
        reason = err.strerror or str(err)
        hint = "; stop the other server or choose another --port" if err.errno in (98, 48, 10048) else ""
        raise SamikshaError(f"cannot listen on {host}:{port}: {reason}{hint}") from None
    sock.set_inheritable(True)
    return sock


class _Server(uvicorn.Server):
    """uvicorn's server, which on SIGINT/SIGTERM also calls ``stop`` so that in-flight work ends at once."""

    def __init__(self, config: uvicorn.Config, stop: Callable[[], None]):
        super().__init__(config)
        self.stop = stop

    def handle_exit(self, sig, frame) -> None:
        self.stop()
        super().handle_exit(sig, frame)


def run_server(app: ASGIApp, host: str, port: int, *, allow_hosts: Sequence[str] = (),
               stop: Callable[[], None] = lambda: None, ready: Callable[[str], None] = lambda url: None) -> None:
    """Serve ``app`` until SIGINT/SIGTERM: check hosts, bind (a busy port raises SamikshaError before anything is
    announced), call ``ready(url)``, and on a signal call ``stop`` (non-blocking), give open requests
    GRACEFUL_SECONDS, then shut the app down."""
    guarded = check_hosts(app, allowed_hosts(host, allow_hosts))
    sock = bind(host, port)
    config = uvicorn.Config(guarded, host=host, port=sock.getsockname()[1], log_level="warning",
                            timeout_graceful_shutdown=GRACEFUL_SECONDS)
    ready(f"http://{_header_form(host)}:{config.port}/")
    try:
        _Server(config, stop).run(sockets=[sock])
    finally:
        sock.close()
