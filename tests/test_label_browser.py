"""The labelling page end to end in Debian's Chromium: keys, undo, skip, refresh, download, train now, audit."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from browsing import DESKTOP, PHONE, chromium, running
from conftest import make_reviews
from test_browser import pytestmark  # noqa: F401 (skips without Playwright or Chromium)

KEYS = {"negative": "1", "neutral": "2", "positive": "3"}


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SAMIKSHA_CACHE_DIR", str(tmp_path / "cache"))


def test_label_with_the_keyboard_undo_refresh_download_and_train(tmp_path, tiny_bert):
    from samiksha.data import load_labelled
    from samiksha.labelpage import create_label_app

    truth = make_reviews(5, seed=8)
    pool = tmp_path / "pool.csv"
    truth[["text"]].assign(order_id=range(len(truth))).to_csv(pool, index=False)
    label_of = dict(zip(truth["text"], truth["label"]))
    app = create_label_app(pool, encoder="minilm", base_model=str(tiny_bert), target=12)
    with running(app) as url, chromium(tmp_path / "profile") as context:
        page = context.new_page()
        errors, elsewhere = [], []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("request", lambda r: None if r.url.startswith((url, "data:", "blob:")) else elsewhere.append(r.url))
        page.goto(url)
        review = page.locator("#review")
        page.locator("#goal-text", has_text="0 of 12 labels").wait_for()
        assert "1 = negative · 2 = neutral · 3 = positive · s = skip · Backspace = undo" in page.inner_text("#legend")

        def label_current(expected_done: int) -> str:
            text = review.inner_text()
            if re.search("[\u0900-\u097f]", text):
                assert review.get_attribute("lang") == "hi"
            page.keyboard.press(KEYS[label_of[text]])
            page.locator("#goal-text", has_text=re.compile(rf"^{expected_done} of 12 labels")).wait_for()
            assert review.inner_text() != text  # moved on by itself
            return text

        done = [label_current(i + 1) for i in range(5)]
        page.keyboard.press("Backspace")  # undo: the last review comes back, one label fewer
        page.locator("#goal-text", has_text=re.compile("^4 of 12 labels")).wait_for()
        assert review.inner_text() == done[-1]
        label_current(5)
        skipped = review.inner_text()
        page.keyboard.press("s")
        page.locator("#goal-text", has_text="1 skipped").wait_for()
        assert review.inner_text() != skipped

        page.reload()  # nothing is lost and nothing is asked twice
        page.locator("#goal-text", has_text=re.compile("^5 of 12 labels")).wait_for()
        assert review.inner_text() not in done
        counts = pd.Series([label_of[t] for t in done]).value_counts()
        assert page.inner_text("#counts [data-label=negative] strong") == str(counts.get("negative", 0))

        while True:  # label until every class has 4, enough for a held-out split
            labelled = load_labelled_texts(tmp_path, page, url)
            have = pd.Series([label_of[t] for t in labelled]).value_counts()
            if all(have.get(name, 0) >= 4 for name in KEYS):
                break
            text = review.inner_text()
            if have.get(label_of[text], 0) >= 4:
                page.keyboard.press("s")
                page.locator("#review").filter(has_not_text=text).wait_for()
            else:
                label_current(len(labelled) + 1)

        with page.expect_download() as download:
            page.click("#export-csv")
        download.value.save_as(tmp_path / "got.csv")
        got = load_labelled(tmp_path / "got.csv")
        assert got.labels == [label_of[t] for t in got.texts] and len(got) == len(labelled)
        assert list(pd.read_csv(tmp_path / "got.csv").columns) == ["text", "order_id", "label", "annotator", "labelled_at"]

        page.click("#train")
        page.locator("#train-text", has_text="done:").wait_for(timeout=240_000)
        assert "macro-F1" in page.inner_text("#model-score") and "pool.model" in page.inner_text("#model-score")
        assert (tmp_path / "pool.model" / "metrics.json").exists()
        page.locator("#guess", has_text="Model's guess").wait_for()
        assert re.fullmatch(r"Model's guess: \w+ \(\d+%\) · hard to call for the model in pool.model: \w+ \d+% or "
                            r"\w+ \d+%", page.inner_text("#guess")), page.inner_text("#guess")

        page.click("#audit")  # 4 labels of each: too few to tell a wrong label from noise, and it says so
        page.locator("#status", has_text="an audit needs at least 8 of each label").wait_for()
        assert page.locator("#suspects li").count() == 0

        page.set_viewport_size(PHONE)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert page.locator("#choices button").first.bounding_box()["height"] >= 44  # a finger-sized target
        page.set_viewport_size(DESKTOP)
        refused = [e for e in errors if "status of 400" in e]  # the audit's answer above, shown on the page
        assert len(refused) <= 1 and [e for e in errors if e not in refused] == [] and elsewhere == []


def test_backspace_undoes_this_tabs_label_only(tmp_path):
    from samiksha.labelpage import create_label_app

    pool = tmp_path / "pool.csv"
    make_reviews(2, seed=4)[["text"]].to_csv(pool, index=False)
    app = create_label_app(pool, encoder="minilm", target=5)
    with running(app) as url, chromium(tmp_path / "profile") as context:
        one, two = context.new_page(), context.new_page()
        for tab in (one, two):
            tab.goto(url)
            tab.locator("#goal-text", has_text="0 of 5 labels").wait_for()
        first = one.inner_text("#review")
        why = one.inner_text("#guess")  # the reason in plain words, not "cover: ... (group 25 of 50)"
        assert re.fullmatch(r"Why this one: (a typical review: (1 other in the pool reads|\d+ others in the pool "
                            r"read) much like it|unlike any other review in the pool)", why), why
        one.keyboard.press("1")
        one.locator("#goal-text", has_text=re.compile("^1 of 5 labels")).wait_for()
        two.reload()
        two.locator("#goal-text", has_text=re.compile("^1 of 5 labels")).wait_for()
        second = two.inner_text("#review")
        two.keyboard.press("3")
        two.locator("#goal-text", has_text=re.compile("^2 of 5 labels")).wait_for()
        one.keyboard.press("Backspace")  # tab 1's label comes back; tab 2's newer one stays
        one.locator("#status", has_text="undone: label it again").wait_for()
        assert one.inner_text("#review") == first and one.inner_text("#goal-text").startswith("1 of 5 labels")
        one.keyboard.press("Backspace")
        one.locator("#status", has_text="nothing to undo").wait_for()
        two.keyboard.press("Backspace")
        two.locator("#status", has_text="undone: label it again").wait_for()
        assert two.inner_text("#review") == second and two.inner_text("#goal-text").startswith("0 of 5 labels")


def load_labelled_texts(tmp_path, page, url) -> list[str]:
    """The texts labelled so far, as the server's export has them."""
    import httpx

    answer = httpx.get(f"{url}/label/api/export", params={"format": "csv"})
    path = tmp_path / "now.csv"
    path.write_bytes(answer.content)
    frame = pd.read_csv(path, keep_default_na=False)
    return frame["text"].tolist()
