"""End to end: the real server under uvicorn, driven by Debian's Chromium through Playwright (screenshots for the
docs: scripts/screenshots.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from browsing import CHROMIUM, PHONE, chromium, running

REVIEWS = pd.DataFrame({
    "order_id": [f"OD{i:03d}" for i in range(8)],
    "review": ["बहुत अच्छा, zabardast phone", "bakwas quality, toot gaya", "theek thaak hai, chalega",
               "waste of money, never buying again", "mast product, loved it", "ठीक है, कुछ खास नहीं",
               "बेकार, refund nahi mila", "fast delivery, value for money"],
})
# seed words of src/samiksha/aspects.py: delivery (delivery, late, time pe), quality (quality, product),
# packaging (pack*), price (price, sasta); the last speaks of none
ASPECT_REVIEWS = ["delivery late thi par quality achhi hai", "packing bekaar", "price bahut sasta, delivery time pe",
                  "mast product", "theek hai"]
MENTIONS = {"delivery": 2, "packaging": 1, "quality": 2, "price": 1, "seller": 0, "returns": 0, "size": 0}

pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no {CHROMIUM} (apt-get install chromium)")


def label_file(page, url: str, path: Path) -> None:
    page.goto(url)
    page.locator("#model-line", has_text="Model:").wait_for()  # (wait_for_function would need eval: CSP)
    page.set_input_files("#file", str(path))
    page.click("#file-form button[type=submit]")
    page.wait_for_selector("#all:not([hidden]) tbody tr")


def label_pasted(page, url: str, texts: list[str]) -> None:
    page.goto(url)
    page.locator("#model-line", has_text="Model:").wait_for()
    page.fill("#texts", "\n".join(texts))
    page.click("#paste-form button[type=submit]")
    page.wait_for_selector("#all:not([hidden]) tbody tr")


def wait_for_aspects(page) -> None:
    page.wait_for_selector("#aspect-grid .aspect-table")


def shown_rows(page) -> list[dict]:
    """The table's review rows as shown: text, label and aspect chips [(aspect, sentiment), ...]."""
    rows = page.locator("#table tbody tr[data-row]")
    out = []
    for i in range(rows.count()):
        row = rows.nth(i)
        chips = row.locator(".aspect-chip")
        out.append({"text": row.locator("td.text").text_content(), "label": row.get_attribute("data-label"),
                    "aspects": [(chips.nth(j).get_attribute("data-aspect"), chips.nth(j).get_attribute("data-sentiment"))
                                for j in range(chips.count())]})
    return out


@pytest.fixture(scope="module")
def labels_db(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("store") / "shop.labels.sqlite"


@pytest.fixture(scope="module")
def server(trained_tiny, labels_db):
    from samiksha.serve import create_app

    with running(create_app(trained_tiny, labels_db=labels_db)) as url:
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

    wait_for_aspects(page)
    found = httpx.post(f"{server}/v1/aspects", json={"texts": REVIEWS["review"].tolist()}).json()["results"]
    with page.expect_download() as download:
        page.click("#download")
    assert download.value.suggested_filename == "reviews.predictions.csv"
    from samiksha.data import read_table

    download.value.save_as(tmp_path / "labelled.csv")
    labelled = read_table(tmp_path / "labelled.csv")
    assert list(labelled.columns) == ["order_id", "review", "label", "score", "prob_negative", "prob_neutral",
                                      "prob_positive", "aspects"]
    assert labelled["review"].tolist() == REVIEWS["review"].tolist() and labelled["label"].tolist() == labels
    assert [json.loads(cell) for cell in labelled["aspects"]] == [row["aspects"] for row in found]  # as the CLI writes
    assert "delivery" in [a["aspect"] for a in json.loads(labelled["aspects"].iloc[-1])]  # "fast delivery, value..."

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
    assert page.locator("#status").inner_text() == "Predicted 3 reviews (pasted text)."
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


def test_explain_a_review(page, server):
    label_pasted(page, server, ["bakwas quality, toot gaya", "mast  product, loved it!", "theek hai"])
    rows = page.locator("#table tbody tr[data-row]")
    first = rows.first.locator(".review-toggle")
    text = rows.first.locator("td.text").text_content()
    with page.expect_response("**/v1/explain") as response:
        first.click()
    result = response.value.json()["results"][0]
    assert response.value.request.post_data_json == {"texts": [text]}
    panel = page.locator("#table tr.explain")
    panel.locator(".explained").wait_for()
    assert first.get_attribute("aria-expanded") == "true"
    assert panel.get_attribute("id") == first.get_attribute("aria-controls")
    assert rows.first.evaluate("row => row.nextElementSibling.classList.contains('explain')")  # right below it

    explained = panel.locator(".explained")
    assert explained.text_content() == text  # the original text, spaces and punctuation kept
    top = max(abs(w) for _, w in result["words"])
    strong = [(word, w) for word, w in result["words"] if top > 0 and abs(w) >= 0.2 * top and w != 0]
    marks = explained.locator("mark.word")
    assert top > 0 and marks.count() == len(strong) >= 1
    for i, (word, weight) in enumerate(strong):
        assert marks.nth(i).text_content() == word
        assert ("supports" if weight > 0 else "against") in marks.nth(i).get_attribute("class").split()
    legend = panel.locator(".legend")
    assert legend.is_visible()
    assert f"supports {result['label']}" in legend.inner_text() and "speaks against it" in legend.inner_text()
    assert legend.locator(".word.supports").count() == 1 and legend.locator(".word.against").count() == 1
    assert result["label"] in panel.locator(".explain-head").inner_text()
    # the styles differ by more than hue: bold + solid underline against italic + dashed underline
    styles = legend.locator(".word").evaluate_all(
        "els => els.map(e => [getComputedStyle(e).fontWeight, getComputedStyle(e).textDecorationStyle])")
    assert styles[0] == ["700", "solid"] and styles[1][1] == "dashed"

    first.click()  # a second click closes it
    assert page.locator("#table tr.explain").count() == 0 and first.get_attribute("aria-expanded") == "false"

    # the keyboard: Enter on a review opens its explanation (the one open before closes), Enter again closes it
    first.click()
    panel.locator(".explained").wait_for()
    second = rows.nth(1).locator(".review-toggle")
    second.focus()
    second.press("Enter")
    page.locator(f"#{second.get_attribute('aria-controls')} .explained").wait_for()
    assert page.locator("#table tr.explain").count() == 1 and first.get_attribute("aria-expanded") == "false"
    assert page.locator("#table tr.explain .explained").text_content() == rows.nth(1).locator("td.text").text_content()
    second.press("Enter")
    assert page.locator("#table tr.explain").count() == 0

    # an error from the API goes to the status line, and nothing stays open
    page.route("**/v1/explain", lambda route: route.fulfill(status=503, json={"error": "the model is busy"}))
    rows.nth(2).locator(".review-toggle").click()
    page.wait_for_selector("#status.error")
    assert "the model is busy" in page.locator("#status").inner_text()
    assert page.locator("#table tr.explain").count() == 0

    page.set_viewport_size(PHONE)
    second.click()  # the answer for this row was kept: no second request
    page.locator("#table tr.explain .explained").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_aspect_breakdown_filters_the_table(page, server):
    import httpx

    expected = httpx.post(f"{server}/v1/aspects", json={"texts": ASPECT_REVIEWS}).json()
    label_pasted(page, server, ASPECT_REVIEWS)
    wait_for_aspects(page)
    assert page.locator("#status").inner_text() == f"Predicted {len(ASPECT_REVIEWS)} reviews (pasted text)."

    # the chips: each row's aspects as the server found them, with the sentiment in text, not colour alone
    by_text = {text: [(a["aspect"], a["sentiment"]) for a in result["aspects"]]
               for text, result in zip(ASPECT_REVIEWS, expected["results"])}
    table = shown_rows(page)
    assert len(table) == len(ASPECT_REVIEWS) and all(row["aspects"] == by_text[row["text"]] for row in table)
    chip = page.locator("#table .aspect-chip[data-aspect=delivery]").first
    assert re.fullmatch(r"delivery [−~+] ?\((negative|neutral|positive)\)", chip.text_content().replace("\xa0", " "))

    # the breakdown: one row per aspect, counts by sentiment summing to the reviews that mention it
    grid = page.locator("#aspect-grid tbody tr")
    assert sorted(grid.nth(i).get_attribute("data-aspect") for i in range(grid.count())) == sorted(MENTIONS)
    for i in range(grid.count()):
        row = grid.nth(i)
        aspect = row.get_attribute("data-aspect")
        counts = {b.get_attribute("data-sentiment"): int(b.inner_text())
                  for b in row.locator("button.aspect-count").all()}
        want = {}
        for pairs in by_text.values():
            for name, sentiment in pairs:
                if name == aspect:
                    want[sentiment] = want.get(sentiment, 0) + 1
        assert counts == want and sum(counts.values()) == int(row.locator("td.total").inner_text()) == MENTIONS[aspect]
        assert ("unmentioned" in (row.get_attribute("class") or "")) == (MENTIONS[aspect] == 0)
    names = [grid.nth(i).get_attribute("data-aspect") for i in range(grid.count())]
    assert [n for n in names if MENTIONS[n]] == names[:4]  # mentioned aspects first

    # a count filters the table to the reviews with that aspect and sentiment
    button = page.locator("#aspect-grid button.aspect-count[data-aspect=delivery]").first
    sentiment, count = button.get_attribute("data-sentiment"), int(button.inner_text())
    assert re.fullmatch(rf"delivery: {count} {sentiment}", button.get_attribute("aria-label"))
    button.click()
    assert button.get_attribute("aria-pressed") == "true"
    assert page.locator("#aspect-filter").is_visible() and "delivery" in page.locator("#aspect-filter").inner_text()
    table = shown_rows(page)
    assert len(table) == count and all(("delivery", sentiment) in row["aspects"] for row in table)
    assert page.locator("#table-note").inner_text() == f"{count} of {len(ASPECT_REVIEWS)} reviews shown."

    # it combines with the label filter (whose counts follow the aspect filter) and the search
    assert page.locator("#filters [data-filter=all]").inner_text() == f"All {count}"
    label = table[0]["label"]
    page.click(f"#filters [data-filter={label}]")
    table = shown_rows(page)
    assert table and all(row["label"] == label and ("delivery", sentiment) in row["aspects"] for row in table)
    page.click("#filters [data-filter=all]")

    # an aspect's name: every review that mentions it
    page.click("#aspect-grid button.aspect-name[data-aspect=delivery]")
    table = shown_rows(page)
    assert len(table) == MENTIONS["delivery"] and all("delivery" in dict(row["aspects"]) for row in table)
    page.fill("#search", "packing")
    assert shown_rows(page) == []
    page.fill("#search", "")

    # sorting keeps each row's chips
    page.click("#table th button[data-sort=text]")
    assert all(row["aspects"] == by_text[row["text"]] for row in shown_rows(page))

    page.click("#aspect-filter-clear")
    assert page.locator("#aspect-filter").is_hidden() and page.locator("#aspect-clear").is_hidden()
    assert len(shown_rows(page)) == len(ASPECT_REVIEWS)
    assert page.locator("#aspect-grid [aria-pressed=true]").count() == 0
    assert page.locator("#filters [data-filter=all]").inner_text() == f"All {len(ASPECT_REVIEWS)}"

    # the other clear control, in the breakdown itself
    page.click("#aspect-grid button.aspect-name[data-aspect=packaging]")
    assert len(shown_rows(page)) == 1
    page.click("#aspect-clear")
    assert len(shown_rows(page)) == len(ASPECT_REVIEWS)

    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.locator("#aspect-grid .aspect-table").is_visible()


def test_api_docs_render_every_operation_offline(page, server):
    import httpx

    spec = httpx.get(f"{server}/openapi.json").json()
    assert spec["openapi"].startswith("3.1")  # which Swagger UI 4 cannot render
    page.goto(server + "/docs")
    page.wait_for_selector(".opblock")
    shown = page.locator(".opblock-summary-path").evaluate_all("els => els.map(e => e.dataset.path)")
    assert sorted(set(shown)) == sorted(spec["paths"])  # one block per operation
    assert len(shown) == sum(len(methods) for methods in spec["paths"].values())
    assert page.locator(".errors-wrapper").count() == 0 and "Unable to render" not in page.content()


def predicted(server: str, texts: list[str]) -> list[str]:
    import httpx

    return [r["label"] for r in httpx.post(f"{server}/v1/predict", json={"texts": texts}).json()["results"]]


def test_the_files_own_columns_show_and_stars_that_contradict_the_prediction_are_flagged(page, server, tmp_path):
    texts = REVIEWS["review"].tolist()
    labels = predicted(server, texts)
    stars = {"negative": 5, "positive": 1, "neutral": 3}  # every negative or positive prediction is contradicted
    export = pd.DataFrame({"Product Name": [f"Phone {i}" for i in range(len(texts))], "review": texts,
                           "Review Date": [f"2024-05-{i + 1:02d}" for i in range(len(texts))],
                           "Rating": [stars[label] for label in labels]})
    source = tmp_path / "flipkart.csv"
    export.to_csv(source, index=False)
    label_file(page, server, source)
    rows = page.locator("#table tbody tr[data-row]")
    for i in range(rows.count()):
        row = rows.nth(i)
        n = int(row.get_attribute("data-row"))
        context = row.locator("p.context")
        assert context.locator("[data-context=product]").inner_text() == f"Phone {n}"
        assert context.locator("[data-context=date]").inner_text() == f"2024-05-{n + 1:02d}"
        assert context.locator("[data-context=stars]").inner_text() == f"{export['Rating'][n]} ★"
        flag = row.locator(".stars-flag")
        disagree = labels[n] != "neutral"
        assert flag.count() == int(disagree) and ("disagree" in (row.get_attribute("class") or "")) == disagree
        if disagree:
            stars = "1 star" if export["Rating"][n] == 1 else f"{export['Rating'][n]} stars"
            assert flag.text_content() == f"⚠ {stars}, yet predicted {labels[n]}"  # the last part for screen readers
            assert flag.get_attribute("title") == f"{stars}, yet predicted {labels[n]}: check it"
    contradicted = sum(label != "neutral" for label in labels)
    button = page.locator("#filters [data-filter=disagree]")
    assert button.inner_text() == f"stars disagree {contradicted}"
    button.click()
    assert rows.count() == contradicted and page.locator("#table .stars-flag").count() == contradicted
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_250_reviews_come_in_pages(page, server):
    texts = [f"{word} product number {i}" for i, word in zip(range(250), ["mast", "bakwas", "theek"] * 84)]
    label_pasted(page, server, texts)
    rows = page.locator("#table tbody tr[data-row]")
    assert rows.count() == 25 and page.locator("#table-note").inner_text() == "Reviews 1–25 of 250."
    assert page.evaluate("document.documentElement.scrollHeight") < 5000  # not 13,400 px
    assert page.locator("#page-of").inner_text() == "Page 1 of 10" and page.locator("#page-prev").is_disabled()
    page.click("#table th button[data-sort=row]")
    first_page = [rows.nth(i).get_attribute("data-row") for i in range(rows.count())]
    page.click("#page-next")
    assert page.locator("#page-of").inner_text() == "Page 2 of 10"
    assert [rows.nth(i).get_attribute("data-row") for i in range(rows.count())] == [str(i) for i in range(25, 50)]
    assert first_page == [str(i) for i in range(25)]
    for _ in range(8):
        page.click("#page-next")
    assert page.locator("#page-next").is_disabled() and page.locator("#table-note").inner_text() == (
        "Reviews 226–250 of 250.")
    page.fill("#search", "number 7")  # 7 and 70-79: a new search starts at its first page
    assert page.locator("#page-of").inner_text() == "Page 1 of 1" or page.locator("#pager").is_hidden()
    assert rows.count() == 11 and page.locator("#table-note").inner_text() == "11 of 250 reviews shown."


def test_excel_in_gives_excel_back_with_your_corrections_kept_for_training(page, server, tmp_path, labels_db):
    from openpyxl import load_workbook

    from samiksha.labelstore import LabelStore

    source = tmp_path / "reviews.xlsx"
    REVIEWS.to_excel(source, index=False)
    label_file(page, server, source)
    assert page.locator("#download").inner_text() == "Download predictions (Excel)"
    assert "shop.labels.sqlite" in page.locator("#labels-help").inner_text()
    row = page.locator("#table tbody tr[data-row='2']")
    text, prediction = REVIEWS["review"][2], row.get_attribute("data-label")
    yours = next(label for label in ("negative", "neutral", "positive") if label != prediction)
    with page.expect_response("**/v1/labels") as answer:
        row.locator("select.your-label").select_option(yours)
    assert answer.value.ok
    page.wait_for_selector("#status.ok")
    assert page.locator("#status").inner_text().startswith(f"Saved your label “{yours}” for review #3 in "
                                                           "shop.labels.sqlite")
    assert row.locator(".your .saved").inner_text() == "✓ saved"  # said beside it, too
    assert LabelStore(labels_db).labelled_frame().query("text == @text")["label"].tolist() == [yours]

    wait_for_aspects(page)
    with page.expect_download() as download:
        page.click("#download")
    assert download.value.suggested_filename == "reviews.predictions.xlsx"
    download.value.save_as(tmp_path / "back.xlsx")
    sheet = load_workbook(tmp_path / "back.xlsx").active
    table = [[cell.value for cell in line] for line in sheet.iter_rows()]
    header = table[0]
    assert header[:5] == ["order_id", "review", "label", "score", "prob_negative"]
    assert header[-2:] == ["your_label", "aspects"]
    assert [line[1] for line in table[1:]] == REVIEWS["review"].tolist()
    assert [line[header.index("your_label")] for line in table[1:]] == [None, None, yours] + [None] * 5

    row.locator("select.your-label").select_option("")  # taken back
    page.locator("#status", has_text="unlabelled").wait_for()
    assert text not in LabelStore(labels_db).labelled_frame()["text"].tolist()


def test_the_report_of_an_uploaded_file_draws_its_charts_in_a_frame_that_loads_nothing(page, server, tmp_path):
    """Upload the demo shop file, build its report: the page posts it into a sandboxed frame whose own policy runs
    plotly.js inlined and fetches nothing (the `page` fixture fails on any request that leaves this server)."""
    from samiksha.demo import demo_data_dir

    kurti = "Indigo Cotton Kurti"
    label_file(page, server, demo_data_dir() / "shop.csv")
    assert page.locator("#report-where").is_visible() and page.locator("#report-frame").is_hidden()
    assert page.locator("#report-title").inner_text() == "Report of shop.csv: by product and month"
    page.click("#report-build")
    page.locator("#report-status.ok", has_text="The report of shop.csv is shown below").wait_for(timeout=60_000)
    report = page.frame_locator("#report-frame")
    charts = report.locator(".js-plotly-plot")
    charts.last.locator(".main-svg").first.wait_for()
    assert charts.count() == 10  # overall, sentiment and aspects of each of the 4 products, ratings
    assert report.locator("#chart-overall .barlayer .point").count() == 36  # 12 months x 3 labels
    assert report.locator("h1").inner_text() == "What customers say: shop.csv"
    sections = report.locator("section.product")
    assert sections.count() == 4
    report.locator("#product-filter").select_option(kurti)  # the report's own filter works in the frame
    shown = [sections.nth(i).get_attribute("data-product") for i in range(4) if sections.nth(i).is_visible()]
    assert shown == [kurti]
    report.locator("#chart-overall").hover()
    buttons = report.locator("#chart-overall .modebar-btn")
    assert "Share chart..." not in buttons.evaluate_all("all => all.map(b => b.dataset.title)")  # to Plotly Cloud
    with page.expect_download() as download:  # the charts' own button may save a PNG from the sandbox
        report.locator("#chart-overall .modebar-btn[data-title='Download plot as a PNG']").click()
    assert download.value.suggested_filename.endswith(".png")
    with page.expect_download() as download:
        page.click("#report-download")
    assert download.value.suggested_filename == "shop.report.html"
    download.value.save_as(tmp_path / "report.html")
    assert (tmp_path / "report.html").read_text(encoding="utf-8").count('class="plotly-graph-div"') == 10

    label_pasted(page, server, ["mast product"])  # pasted text has no file to report on
    assert page.locator("#report").is_hidden() and page.locator("#report-where").is_hidden()
