"""`samiksha report`: the tables behind the charts (the demo shop's planted drift among them), the files written,
and the page in Chromium: charts drawn, the product filter, and not one request leaving the file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from samiksha.cli import app
from samiksha.demo import demo_data_dir
from samiksha.errors import DataError, SamikshaError
from samiksha.report import ALL, ReportData, build_report, find_columns, parse_dates, parse_ratings

KURTI = "Indigo Cotton Kurti"
SUPPLIER_CHANGE = pd.Timestamp("2025-07-01")  # the demo shop's kurtis run a size small from July (DATACARD.md)
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def shop_model(tmp_path_factory) -> Path:
    """A TF-IDF model trained on the demo reviews (seconds)."""
    from samiksha import TrainConfig, train

    folder = tmp_path_factory.mktemp("shop") / "model"
    train(demo_data_dir() / "train.csv", folder, config=TrainConfig(method="tfidf", seed=0))
    return folder


@pytest.fixture(scope="module")
def shop_report(shop_model, tmp_path_factory):
    from samiksha.predict import Classifier

    output = tmp_path_factory.mktemp("report") / "shop.html"
    return build_report(Classifier.load(shop_model), demo_data_dir() / "shop.csv", output, model_name="tfidf")


def test_the_demo_shop_report_holds_the_planted_sizing_drift(shop_report):
    trend = shop_report.trend
    size = trend[(trend["product"] == KURTI) & (trend["aspect"] == "size")].set_index("period")
    assert len(size) == 12 and (size["reviews"] == 6).all()
    before, after = size[size.index < SUPPLIER_CHANGE], size[size.index >= SUPPLIER_CHANGE]
    assert before["negative"].sum() == 0  # no sizing complaint before the supplier change
    assert after["rate"].mean() > 0.25 and after["negative"].sum() >= 10
    other = trend[(trend["product"] != KURTI) & (trend["aspect"] == "size")]
    assert other.groupby("product")["negative"].sum().max() * 3 < after["negative"].sum()  # the kurti's alone
    top = shop_report.rises.iloc[0]  # what rose most against the previous month
    assert (top["product"], top["aspect"]) == (KURTI, "size") and top["period"] >= SUPPLIER_CHANGE
    sentiment = shop_report.sentiment
    kurti = sentiment[sentiment["product"] == KURTI].set_index("period")["share_negative"]
    assert kurti[kurti.index >= SUPPLIER_CHANGE].mean() > kurti[kurti.index < SUPPLIER_CHANGE].mean() + 0.2
    assert "Negative <b>size</b> mentions about <b>Indigo Cotton Kurti</b> rose" in shop_report.html.read_text()


def test_the_report_counts_every_review_by_month_product_and_rating(shop_report):
    data, sentiment = shop_report.data, shop_report.sentiment
    assert data.unit == "month" and data.columns.text == "review" and data.columns.rating == "rating"
    overall = sentiment[sentiment["product"] == ALL]
    assert len(overall) == 12 and overall["reviews"].sum() == len(data.rows) == 192
    assert (overall[["negative", "neutral", "positive"]].sum(axis=1) == overall["reviews"]).all()
    assert sentiment[sentiment["product"] == KURTI]["reviews"].sum() == 72
    assert shop_report.ratings.to_numpy().sum() == 192
    mismatches = shop_report.ratings.loc[[4, 5], "negative"].sum()
    assert mismatches >= 1  # the sarcastic 5-star reviews planted in the shop file


def test_the_labelled_table_is_written_beside_the_report(shop_report):
    labelled = pd.read_csv(shop_report.csv)
    shop = pd.read_csv(demo_data_dir() / "shop.csv")
    assert shop_report.csv == shop_report.html.with_suffix(".csv")
    assert list(labelled.columns[:5]) == list(shop.columns)  # every input column kept, in order
    assert labelled["review_id"].tolist() == shop["review_id"].tolist()
    assert {"label", "score", "aspects"} <= set(labelled.columns)
    assert labelled["label"].tolist() == shop_report.data.rows["label"].tolist()
    assert len(shop_report.pngs) == 10 and all(p.read_bytes()[:4] == b"\x89PNG" for p in shop_report.pngs)


def test_the_page_is_self_contained(shop_report):
    from plotly.offline import get_plotlyjs

    page = shop_report.html.read_text(encoding="utf-8")
    assert get_plotlyjs() in page  # inlined once; the rest of the page names no other file or site
    rest = page.replace(get_plotlyjs(), "")
    assert "src=" not in rest and "<link" not in rest and "http" not in rest
    assert page.count('class="plotly-graph-div"') == 10
    assert '<mark class="negative"' in page  # example reviews with the words that drove the label


def test_columns_are_found_by_name_or_given():
    columns = find_columns(["Review_Text", "Order Date", "SKU", "Stars"], "f.csv", date="Order Date")
    assert (columns.text, columns.date, columns.product, columns.rating) == ("Review_Text", "Order Date", "SKU", "Stars")
    assert find_columns(["text"], "f.csv").date is None
    with pytest.raises(DataError, match="f.csv: has no product column 'item'"):
        find_columns(["text", "sku"], "f.csv", product="item")
    with pytest.raises(SamikshaError, match="one column is used for two roles"):
        find_columns(["text", "date"], "f.csv", product="date")


def test_dates_and_ratings_are_read_leniently():
    dates = parse_dates(pd.Series(["2025-03-04", "04/03/2025", "2025-03-04T10:00:00+05:30", "kal", ""]))
    assert dates[:3].dt.strftime("%Y-%m-%d").tolist() == ["2025-03-04"] * 3 and dates[3:].isna().all()
    ratings = parse_ratings(pd.Series(["4", "5.0", "3/5", "★★", "9", "great"]))
    assert ratings[:4].tolist() == [4, 5, 3, 2] and ratings[4:].isna().all()


def test_a_short_span_is_shown_by_week_and_a_file_without_dates_as_one_period():
    rows = pd.DataFrame({"date": pd.to_datetime(["2025-03-03", "2025-03-20", "2025-04-02"]), "label": "positive"})
    data = ReportData(rows, ["negative", "positive"], find_columns(["text"], "f"))
    assert data.unit == "week" and data.periods().dt.day_name().eq("Monday").all()
    data.rows["date"] = pd.NaT
    assert data.unit == "all" and data.periods().nunique() == 1


def test_report_command_writes_the_report_and_refuses_to_overwrite_its_input(shop_model, tmp_path):
    reviews = tmp_path / "reviews.csv"
    reviews.write_text("text,date\nbahut badhiya,2025-01-02\nbekaar hai,2025-02-03\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["report", str(reviews), "--model", str(shop_model), "-o",
                                      str(tmp_path / "out.html"), "--no-png"])
    assert result.exit_code == 0, result.output
    assert "report of 2 reviews" in result.output and (tmp_path / "out.csv").exists()
    assert not (tmp_path / "out_charts").exists()
    before = reviews.read_bytes()
    result = CliRunner().invoke(app, ["report", str(reviews), "--model", str(shop_model), "-o",
                                      str(tmp_path / "reviews.html")])
    assert result.exit_code == 1 and "the output would overwrite the input" in result.output
    assert reviews.read_bytes() == before and not (tmp_path / "reviews.html").exists()
    result = CliRunner().invoke(app, ["report", str(reviews), "--model", str(shop_model), "-o", str(tmp_path / "r.pdf")])
    assert result.exit_code == 1 and "name it with .html" in result.output


def test_a_file_without_reviews_or_readable_dates(shop_model, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("text,date,product\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["report", str(empty), "--model", str(shop_model), "-o", str(tmp_path / "e.html")])
    assert result.exit_code == 1 and "empty.csv: has no reviews" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.csv"]  # no half-written table left
    odd = tmp_path / "odd.csv"
    odd.write_text("review,date,product,stars\nbekaar,kal,,5\nmast hai,parso,A,x\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["report", str(odd), "--model", str(shop_model), "-o", str(tmp_path / "o.html"),
                                      "--no-png"])
    assert result.exit_code == 0, result.output
    assert "No date in the column date could be read: one period is shown" in (tmp_path / "o.html").read_text()


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no {CHROMIUM} (apt-get install chromium)")
def test_the_report_renders_offline_in_chromium(shop_report, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    outside: list[str] = []

    def only_files(route):
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.route("**/*", only_files)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(shop_report.html.as_uri())
            page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 10")
            assert page.locator(".js-plotly-plot").count() == 10
            assert page.locator("#chart-overall .barlayer .point").count() == 36  # 12 months x 3 labels
            assert page.locator("#chart-indigo-cotton-kurti-aspects .scatterlayer .trace").count() >= 1
            sections = page.locator("section.product")
            assert sections.count() == 4 and all(sections.nth(i).is_visible() for i in range(4))
            page.select_option("#product-filter", KURTI)
            visible = [sections.nth(i).get_attribute("data-product") for i in range(4) if sections.nth(i).is_visible()]
            assert visible == [KURTI]
            assert page.locator("#chart-indigo-cotton-kurti-sentiment .barlayer .point").count() == 36
            page.select_option("#product-filter", "")
            assert all(sections.nth(i).is_visible() for i in range(4))
            assert outside == [] and errors == []
        finally:
            browser.close()


def test_the_demo_ends_by_writing_the_shop_report(tmp_path, monkeypatch):
    """`samiksha demo`'s own steps, with TF-IDF in place of minutes of MiniLM fine-tuning."""
    import samiksha.demo
    from samiksha import TrainConfig

    monkeypatch.setattr(samiksha.demo, "TrainConfig", lambda epochs, seed: TrainConfig(method="tfidf", seed=seed))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    page = tmp_path / "samiksha-demo-report.html"
    assert page.exists() and (tmp_path / "samiksha-demo-report.csv").exists()
    assert "open samiksha-demo-report.html in a browser" in " ".join(result.output.split())
    assert "Indigo Cotton Kurti" in page.read_text(encoding="utf-8")
