"""What serve and label share (`samiksha.web`): host checking, downloads, bind-first launch, and a real uvicorn
process that stops work when its client leaves and shuts down on SIGTERM. Loopback addresses only."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import Response
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from samiksha import web
from samiksha.errors import SamikshaError

SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.mark.parametrize("bind, extra, expected", [
    ("127.0.0.1", [], ["127.0.0.1", "[::1]", "localhost"]),
    ("localhost", ["Reviews.Local"], ["127.0.0.1", "[::1]", "localhost", "reviews.local"]),
    ("::1", [], ["127.0.0.1", "[::1]", "localhost"]),
    ("192.168.1.5", ["::1"], ["192.168.1.5", "[::1]"]),
    ("0.0.0.0", ["reviews.local", "*.example.in"], ["*.example.in", "reviews.local"]),
    ("0.0.0.0", ["*"], ["*"]),
])
def test_allowed_hosts(bind, extra, expected):
    assert web.allowed_hosts(bind, extra) == expected


def test_every_address_needs_named_hosts_and_wildcards_must_be_domains():
    with pytest.raises(SamikshaError, match="--allow-host"):
        web.allowed_hosts("0.0.0.0")
    with pytest.raises(SamikshaError, match=r"\*\.example\.com"):
        web.allowed_hosts("127.0.0.1", ["rev*.local"])


def _tiny_app() -> FastAPI:
    app = FastAPI()

    @app.get("/")
    async def root() -> Response:
        return Response("ok")

    return app


@pytest.mark.parametrize("host, status", [("127.0.0.1:8000", 200), ("localhost:8000", 200), ("[::1]:8000", 200),
                                          ("LOCALHOST", 200), ("attacker.example", 400),
                                          ("attacker.example:8000", 400), ("127.0.0.1.attacker.example", 400)])
def test_a_dns_rebinding_host_is_refused(host, status):
    app = web.check_hosts(_tiny_app(), web.allowed_hosts("127.0.0.1"))
    with TestClient(app, base_url="http://127.0.0.1:8000") as client:
        assert client.get("/", headers={"Host": host}).status_code == status


@pytest.mark.parametrize("name, header", [
    ("pool-labels.csv", 'attachment; filename="pool-labels.csv"'),
    ("समीक्षा-labels.csv", "attachment; filename=\"_______-labels.csv\"; "
                          "filename*=utf-8''%E0%A4%B8%E0%A4%AE%E0%A5%80%E0%A4%95%E0%A5%8D%E0%A4%B7%E0%A4%BE"
                          "-labels.csv"),
    ('a"b\\c;.csv', "attachment; filename=\"a_b_c;.csv\"; filename*=utf-8''a%22b%5Cc%3B.csv"),
])
def test_attachment_names_any_file_in_a_latin1_header(name, header):
    value = web.attachment(name)["Content-Disposition"]
    assert value == header
    value.encode("latin-1")  # what Starlette does with every header


def _busy_port() -> tuple[socket.socket, int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock, sock.getsockname()[1]


def test_a_busy_port_is_one_line_before_anything_is_announced(trained_tiny, tmp_path):
    from samiksha.cli import app as cli

    pool = tmp_path / "pool.csv"
    pool.write_text("text\nmast product\nbakwas\n", encoding="utf-8")
    sock, port = _busy_port()
    with sock:
        for args in (["serve", str(trained_tiny)], ["label", str(pool), "--encoder", "minilm"]):
            result = CliRunner().invoke(cli, [*args, "--port", str(port)])
            assert result.exit_code == 1, result.output
            lines = result.output.strip().splitlines()
            assert len(lines) == 1 and "serving" not in result.output and "labelling" not in result.output
            assert lines[0].startswith(f"error: cannot listen on 127.0.0.1:{port}: Address already in use")


def test_listening_on_every_address_needs_allow_host(trained_tiny):
    from samiksha.cli import app as cli

    result = CliRunner().invoke(cli, ["serve", str(trained_tiny), "--host", "0.0.0.0", "--api-key", "k"])
    assert result.exit_code == 1 and "--allow-host" in result.output and "Traceback" not in result.output


SERVER = """
import sys, time
from samiksha.serve import create_app
from samiksha.web import run_server

app = create_app(sys.argv[1])
classifier = app.state.batcher.classifier
real, calls = classifier.predict_proba, open(sys.argv[2], "a", buffering=1)

def slow(texts, batch_size=64, progress=None):  # a model call as slow as a big model's
    calls.write(f"{len(texts)}\\n")
    time.sleep(0.05)
    return real(texts, batch_size)

classifier.predict_proba = slow
run_server(app, "127.0.0.1", 0, stop=app.state.batcher.stop, ready=lambda url: print(url, flush=True))
"""
ROWS = 20_000  # 313 model calls of 64: over 15 s of work at 0.05 s each


@pytest.fixture
def real_server(trained_tiny, tmp_path):
    """A real uvicorn process (`web.run_server`) on a free loopback port, with a slow model; yields
    (url, process, calls file, its temporary folder)."""
    temp, calls = tmp_path / "tmp", tmp_path / "calls.txt"
    temp.mkdir()
    env = {**os.environ, "PYTHONPATH": str(SRC), "TMPDIR": str(temp), "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen([sys.executable, "-c", SERVER, str(trained_tiny), str(calls)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), process.stderr.read() if process.poll() is not None else url
        yield url, process, calls, temp
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def _calls(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def _upload(url: str, timeout: float):
    content = "text\n" + "".join(f"mast product {i}\n" for i in range(ROWS))
    return httpx.post(url + "v1/predict/file", files={"file": ("big.csv", content.encode())}, timeout=timeout)


def _wait_for_calls(calls: Path) -> None:
    deadline = time.monotonic() + 60
    while _calls(calls) == 0:
        assert time.monotonic() < deadline, "the model was never called"
        time.sleep(0.1)


@pytest.mark.slow
def test_real_server_checks_hosts_and_stops_work_when_the_client_leaves(real_server):
    url, process, calls, temp = real_server
    assert httpx.get(url + "health").status_code == 200
    port = url.rsplit(":", 1)[1].strip("/")
    assert httpx.get(url + "health", headers={"Host": f"localhost:{port}"}).status_code == 200
    assert httpx.get(url + "health", headers={"Host": "attacker.example"}).status_code == 400
    with pytest.raises(httpx.TimeoutException):
        _upload(url, timeout=3)  # the client gives up (and closes its connection) while labelling runs
    _wait_for_calls(calls)
    seen, stable_since, deadline = _calls(calls), time.monotonic(), time.monotonic() + 60
    while time.monotonic() - stable_since < 2 and time.monotonic() < deadline:  # until no call for 2 s
        time.sleep(0.2)
        if _calls(calls) != seen:
            seen, stable_since = _calls(calls), time.monotonic()
    assert seen < ROWS // 64 // 2, f"{seen} model calls after the client left"
    assert httpx.get(url + "health").status_code == 200  # and the server still serves
    assert list(temp.iterdir()) == []


@pytest.mark.slow
def test_real_server_stops_in_flight_work_on_sigterm_and_cleans_up(real_server):
    url, process, calls, temp = real_server
    answers: list = []
    client = threading.Thread(target=lambda: answers.append(_safe_upload(url)), daemon=True)
    client.start()
    _wait_for_calls(calls)
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)  # the whole upload would take over 15 s more; it stops within the graceful timeout
    client.join(timeout=30)
    assert _calls(calls) < ROWS // 64 // 2
    stderr = process.stderr.read()
    assert "Traceback" not in stderr, stderr
    assert answers and (isinstance(answers[0], Exception) or answers[0].status_code == 503), answers
    assert list(temp.iterdir()) == []


def _safe_upload(url: str):
    try:
        return _upload(url, timeout=60)
    except httpx.HTTPError as err:
        return err
