"""End to end: the real server under uvicorn, driven by Debian's Chromium through Playwright.

Also a helper to take the README screenshot once:
    .venv/bin/python tests/test_browser.py MODEL_DIR docs/serve.png [PHONE.png]
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
DESKTOP, PHONE = {"width": 1280, "height": 900}, {"width": 390, "height": 844}
SCREENSHOT = {"width": 1280, "height": 1700}
REVIEWS = pd.DataFrame({
    "order_id": [f"OD{i:03d}" for i in range(8)],
    "review": ["बहुत अच्छा, zabardast phone", "bakwas quality, toot gaya", "theek thaak hai, chalega",
               "waste of money, never buying again", "mast product, loved it", "ठीक है, कुछ खास नहीं",
               "बेकार, refund nahi mila", "fast delivery, value for money"],
})

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no {CHROMIUM} (apt-get install chromium)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running(app) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port in a background thread; yields its URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=_free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@contextlib.contextmanager
def chromium(user_dir: Path) -> Iterator:
    """A headless Chromium context with a fresh profile that accepts downloads."""
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(user_dir), executable_path=str(CHROMIUM), headless=True, args=ARGS, accept_downloads=True,
            viewport=DESKTOP)
        try:
            yield context
        finally:
            context.close()


def label_file(page, url: str, path: Path) -> None:
    page.goto(url)
    page.locator("#model-line", has_text="Model:").wait_for()  # (wait_for_function would need eval: CSP)
    page.set_input_files("#file", str(path))
    page.click("#file-form button[type=submit]")
    page.wait_for_selector("#all:not([hidden]) tbody tr")


@pytest.fixture(scope="module")
def server(trained_tiny):
    from samiksha.serve import create_app

    with running(create_app(trained_tiny)) as url:
        yield url


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as context:
        yield context


@pytest.fixture
def page(context, server):
    """A page that must raise no script errors and fetch nothing but this server (it works offline)."""
    page = context.new_page()
    errors: list[str] = []
    elsewhere: list[str] = []
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" and not message.text.startswith("Failed to load resource") else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", lambda request: None if request.url.startswith((server, "data:", "blob:"))
            else elsewhere.append(request.url))
    yield page
    page.close()
    assert errors == [] and elsewhere == []


def test_upload_filter_search_and_download(page, server, tmp_path, trained_tiny):
    import httpx

    source = tmp_path / "reviews.csv"
    REVIEWS.to_csv(source, index=False)
    expected = httpx.post(f"{server}/v1/predict/file", params={"format": "json"},
                          files={"file": ("reviews.csv", source.read_bytes())}).json()
    labels = [row[2] for row in expected["rows"]]

    label_file(page, server, source)
    assert page.locator("#model-line").inner_text().startswith("Model: tiny-model")
    quality = page.locator("#quality").inner_text()
    ci = json.loads((trained_tiny / "metrics.json").read_text())["ci"]["macro_f1"]
    assert "macro-F1" in quality and f"anywhere from {ci[0]:.2f} to {ci[1]:.2f}" in quality  # the interval
    rows = page.locator("#table tbody tr")
    assert rows.count() == len(REVIEWS)
    assert page.locator("#chart svg rect.fill").count() == 3
    assert f"Sentiment of {len(REVIEWS)} reviews" in page.locator("#chart svg title").text_content()
    hindi = page.locator("#table td.text span[lang=hi]")
    assert hindi.count() == 3 and "बहुत अच्छा, zabardast phone" in hindi.all_inner_texts()

    first_labels = [rows.nth(i).get_attribute("data-label") for i in range(rows.count())]
    assert first_labels == sorted(first_labels, key=expected["labels"].index)  # negatives first
    for label in [*expected["labels"], "negative"]:
        page.click(f"#filters [data-filter={label}]")
        assert rows.count() == labels.count(label)
        assert all(rows.nth(i).get_attribute("data-label") == label for i in range(rows.count()))
    assert page.locator("#negative-count").inner_text() == str(labels.count("negative"))

    page.click("#filters [data-filter=all]")
    page.fill("#search", "ZABARDAST")
    assert rows.count() == 1 and "zabardast" in rows.first.inner_text()
    page.fill("#search", "")
    page.click("#table th button[data-sort=score]")
    scores = [float(t.strip("%")) for t in page.locator("#table td.score").all_inner_texts()]
    assert scores == sorted(scores, reverse=True)

    with page.expect_download() as download:
        page.click("#download")
    assert download.value.suggested_filename == "reviews.labelled.csv"
    from samiksha.data import read_table

    download.value.save_as(tmp_path / "labelled.csv")
    labelled = read_table(tmp_path / "labelled.csv")
    assert list(labelled.columns) == ["order_id", "review", "label", "score", "prob_negative", "prob_neutral",
                                      "prob_positive"]
    assert labelled["review"].tolist() == REVIEWS["review"].tolist() and labelled["label"].tolist() == labels

    page.screenshot(path=str(tmp_path / "desktop.png"), full_page=True)
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.screenshot(path=str(tmp_path / "phone.png"), full_page=True)


def test_pasted_reviews_and_errors(page, server):
    page.goto(server)
    page.fill("#texts", "mast product\n\nबेकार\n  bakwas  \n")
    page.click("#paste-form button[type=submit]")
    page.wait_for_selector("#all:not([hidden]) tbody tr")
    assert page.locator("#table tbody tr").count() == 3
    assert page.locator("#status").inner_text() == "Labelled 3 reviews (pasted text)."
    page.click("#file-form button[type=submit]")
    assert page.locator("#status").inner_text() == "Choose a file first."


def test_bad_file_shows_the_server_message(page, server, tmp_path):
    bad = tmp_path / "notes.csv"
    bad.write_text("id,feedback\n1,mast\n", encoding="utf-8")
    page.goto(server)
    page.set_input_files("#file", str(bad))
    page.click("#file-form button[type=submit]")
    page.wait_for_selector("#status.error")
    assert "no text column found" in page.locator("#status").inner_text()
    assert page.locator("#all").is_hidden()
    page.fill("#text-column", "feedback")
    page.click("#file-form button[type=submit]")
    page.wait_for_selector("#all:not([hidden]) tbody tr")


def test_api_key_typed_into_the_page(context, trained_tiny):
    from samiksha.serve import create_app

    with running(create_app(trained_tiny, api_key="s3cret")) as url:
        page = context.new_page()
        page.goto(url)
        page.locator("#model-line", has_text="API key").wait_for()
        assert page.locator("#key-row").is_visible()
        page.fill("#api-key", "s3cret")
        page.dispatch_event("#api-key", "change")
        page.locator("#model-line", has_text="Model:").wait_for()
        page.fill("#texts", "bahut badiya")
        page.click("#paste-form button[type=submit]")
        page.wait_for_selector("#all:not([hidden]) tbody tr")
        page.close()


def take_screenshot(model_dir: str, target: str, phone: str | None = None) -> None:
    """Label the bundled demo test reviews in a real browser; save the page at desktop (and phone) width."""
    from samiksha.serve import create_app

    demo = Path(__file__).resolve().parents[1] / "src" / "samiksha" / "demo_data" / "test.csv"
    with running(create_app(model_dir)) as url, tempfile.TemporaryDirectory() as folder, \
            chromium(Path(folder) / "profile") as context:
        page = context.new_page()
        reviews = Path(folder) / "reviews.csv"
        pd.read_csv(demo).rename(columns={"label": "true_label"}).to_csv(reviews, index=False)
        page.set_viewport_size(SCREENSHOT)
        label_file(page, url, reviews)
        page.wait_for_timeout(1000)  # let the smooth scroll to the results finish, then go back up
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=target, full_page=False)
        if phone:
            page.set_viewport_size(PHONE)
            page.screenshot(path=phone, full_page=True)


if __name__ == "__main__":
    take_screenshot(*sys.argv[1:4])
