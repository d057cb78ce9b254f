"""Screenshots of `samiksha serve` and its report for docs/img/, taken in headless Chromium through Playwright.

    python scripts/screenshots.py MODEL_DIR [--reviews FILE] [--out docs/img]

Serves MODEL_DIR on a free loopback port (it keeps no corrections, so nothing is written beside the model), uploads
the reviews (the demo shop file by default) on the page, builds the file's report there, and saves:

    serve-predictions.png   the page with the file's predictions and aspects
    serve-report.png        the page's report view
    report-overview.png     the report on its own: the summary and sentiment by month, down to its product filter
    report-product.png      the report filtered to the most reviewed product (the demo's kurti and its sizing drift)

Rerun it whenever the page, the report or the demo data change. Hindi is drawn in boxes without a Devanagari font
(Debian: apt-get install fonts-noto-core).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from browsing import CHROMIUM, chromium, running  # noqa: E402  (the helpers of the Chromium tests)

VIEWPORT = {"width": 1280, "height": 1000}
REPORT_HEIGHT = 1200  # of report-overview.png when the file has no products
MAX_BYTES = 300_000
REPORT_SECONDS = 600  # a MiniLM-sized model labels and explains the demo shop's 192 reviews in about a minute on 2 cores


def saved(path: Path) -> Path:
    size = path.stat().st_size
    print(f"{path} ({size / 1000:.0f} KB){'  over 300 KB: crop it' if size > MAX_BYTES else ''}")
    return path


def take(model_dir: Path, reviews: Path, out: Path) -> list[Path]:
    """Upload ``reviews`` to a server of ``model_dir`` in Chromium, build the report, save the screenshots in
    ``out``."""
    from samiksha.serve import create_app

    out.mkdir(parents=True, exist_ok=True)
    shots = []
    with running(create_app(model_dir)) as url, tempfile.TemporaryDirectory() as folder, \
            chromium(Path(folder) / "profile", viewport=VIEWPORT) as context:
        page = context.new_page()
        outside: list[str] = []
        page.on("request", lambda request: None if request.url.startswith((url, "data:", "blob:"))
                else outside.append(request.url))
        page.goto(url)
        page.locator("#model-line", has_text="Model:").wait_for()
        page.set_input_files("#file", str(reviews))
        page.click("#file-form button[type=submit]")
        page.wait_for_selector("#all:not([hidden]) tbody tr", timeout=REPORT_SECONDS * 1000)
        page.wait_for_selector("#aspect-grid .aspect-table", timeout=REPORT_SECONDS * 1000)
        page.wait_for_timeout(800)  # the smooth scroll to the results ends; then back to the top
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=out / "serve-predictions.png")
        shots.append(saved(out / "serve-predictions.png"))

        page.click("#report-build")
        page.locator("#report-status.ok").wait_for(timeout=REPORT_SECONDS * 1000)
        report = page.frame_locator("#report-frame")
        report.locator(".js-plotly-plot .main-svg").first.wait_for()
        page.locator("#report").scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        page.locator("#report").screenshot(path=out / "serve-report.png")
        shots.append(saved(out / "serve-report.png"))

        with page.expect_download() as download:
            page.click("#report-download")
        local = Path(folder) / download.value.suggested_filename
        download.value.save_as(local)
        alone = context.new_page()
        alone.goto(local.as_uri())
        alone.locator(".js-plotly-plot .main-svg").first.wait_for()
        alone.wait_for_timeout(500)
        products = alone.locator("section.product")
        picker = alone.locator(".filter")  # sticky: shot in full-page mode, it stays above the first product
        width = VIEWPORT["width"]
        height = picker.bounding_box()["y"] + 50 if picker.count() else REPORT_HEIGHT  # down to the filter
        alone.screenshot(path=out / "report-overview.png", full_page=True,
                         clip={"x": 0, "y": 0, "width": width, "height": height})
        shots.append(saved(out / "report-overview.png"))
        if products.count():
            alone.select_option("#product-filter", products.first.get_attribute("data-product"))
            alone.wait_for_timeout(500)
            alone.evaluate("window.scrollTo(0, 0)")
            top, box = picker.bounding_box(), products.first.bounding_box()
            alone.screenshot(path=out / "report-product.png", full_page=True, clip={
                "x": box["x"] - 10, "y": top["y"], "width": box["width"] + 20,
                "height": box["y"] + box["height"] + 10 - top["y"]})
            shots.append(saved(out / "report-product.png"))
        if outside:
            raise SystemExit(f"the page fetched from elsewhere: {outside}")
    return shots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir", type=Path, help="A model folder written by `samiksha train` (read only).")
    parser.add_argument("--reviews", type=Path, default=ROOT / "src" / "samiksha" / "demo_data" / "shop.csv",
                        help="The file to upload (default: the demo shop's reviews).")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img", help="Where the PNGs go.")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        raise SystemExit(f"no {CHROMIUM} (apt-get install chromium)")
    take(args.model_dir, args.reviews, args.out)


if __name__ == "__main__":
    main()
