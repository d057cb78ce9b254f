"""`samiksha report`: what customers say, by product and by period, in one HTML file that opens offline.

One streaming pass labels every review and finds its aspects (the model reads each review once, plus the clauses of
reviews whose aspects sit in different clauses) and writes the labelled table beside the report. The tables behind
the charts are small pandas frames computed from a compact copy of each row (`ReportData`), so they can be checked
directly. Charts are Plotly figures with plotly.js inlined once (no CDN, no network); PNG copies for slides are drawn
with matplotlib, as kaleido would need a Chrome of its own.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataError, SamikshaError

log = logging.getLogger(__name__)

# Column names looked for, case-insensitively, in this order (the text column as the loaders find it).
DATE_COLUMNS = ("date", "review_date", "reviewed_at", "reviewed_on", "created_at", "created", "timestamp", "time",
                "posted_at", "day")
PRODUCT_COLUMNS = ("product", "product_name", "product_title", "item", "item_name", "product_id", "sku", "asin")
RATING_COLUMNS = ("rating", "ratings", "stars", "star_rating", "star", "review_rating", "overall")
ALL = "All products"
MONTHS_FROM_DAYS = 120  # a date span this long or longer is shown by month, a shorter one by week
MIN_REVIEWS = 5  # a product's period needs this many reviews for its change against the previous one to count
MIN_NEGATIVE = 2  # and a rise this many negative mentions
MAX_PRODUCTS = 12  # products with a section of their own (the most reviewed); every row stays in the CSV
COLOURS = {"negative": "#d62728", "neutral": "#9e9e9e", "positive": "#2ca02c"}
ASPECT_COLOURS = ("#1f77b4", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")


@dataclass
class Columns:
    """The input's columns the report reads (None: the file has none)."""

    text: str
    date: str | None = None
    product: str | None = None
    rating: str | None = None


def find_columns(columns: Sequence[str], source: object, text: str | None = None, date: str | None = None,
                 product: str | None = None, rating: str | None = None) -> Columns:
    """The text column as the loaders find it; date, product and rating by name when given (refused when missing),
    else by the usual names, or None."""
    from .data import TEXT_COLUMNS, find_column

    frame = pd.DataFrame(columns=list(columns))

    def optional(wanted: str | None, candidates: tuple[str, ...], role: str) -> str | None:
        if wanted is not None:
            return find_column(frame, wanted, candidates, role, source)
        lowered = {str(c).strip().lower(): c for c in columns}
        return next((lowered[name] for name in candidates if name in lowered), None)

    found = Columns(find_column(frame, text, TEXT_COLUMNS, "text", source),
                    optional(date, DATE_COLUMNS, "date"), optional(product, PRODUCT_COLUMNS, "product"),
                    optional(rating, RATING_COLUMNS, "rating"))
    named = [c for c in (found.text, found.date, found.product, found.rating) if c is not None]
    if len(set(named)) < len(named):
        raise SamikshaError(f"{source}: one column is used for two roles ({', '.join(named)}); name them with "
                            "--text-column, --date-column, --product-column and --rating-column")
    return found


def parse_dates(values: pd.Series) -> pd.Series:
    """Dates (no time zone) from strings: ISO 8601 first, then other forms day first (Indian style); NaT if none."""
    values = values.astype(str).str.strip()
    dates = pd.to_datetime(values, errors="coerce", format="ISO8601", utc=True)
    missing = dates.isna() & (values != "")
    if missing.any():
        dates[missing] = pd.to_datetime(values[missing], errors="coerce", format="mixed", dayfirst=True, utc=True)
    return dates.dt.tz_localize(None)


def parse_ratings(values: pd.Series) -> pd.Series:
    """Star ratings 1-5 from strings ("4", "4.0", "4/5", "★★★★"); NaN for anything else."""
    values = values.astype(str)
    number = pd.to_numeric(values.str.extract(r"(\d+(?:\.\d+)?)")[0], errors="coerce")
    stars = values.str.count("[★⭐]").astype(float)
    rating = number.where(number.notna(), stars.where(stars > 0))
    return rating.where(rating.between(1, 5))


@dataclass
class ReportData:
    """One compact row per review (text, date, product, rating, label, score, aspects) and the report's settings."""

    rows: pd.DataFrame
    labels: list[str]
    columns: Columns
    source: str = "reviews"
    model: str = ""
    unparsed_dates: int = 0

    @property
    def unit(self) -> str:
        """'month' or 'week', by the span of the dates; 'all' (one period) when no row has a date."""
        dates = self.rows["date"].dropna()
        if dates.empty:
            return "all"
        return "month" if (dates.max() - dates.min()).days >= MONTHS_FROM_DAYS else "week"

    def periods(self) -> pd.Series:
        """Each row's period start (NaT for a row without a readable date when others have one)."""
        unit = self.unit
        if unit == "all":
            return pd.Series(pd.Timestamp(0), index=self.rows.index)
        return self.rows["date"].dt.to_period("M" if unit == "month" else "W-SUN").dt.start_time

    @property
    def products(self) -> list[str]:
        """Products with a section of their own: the most reviewed first, at most MAX_PRODUCTS."""
        if self.columns.product is None:
            return []
        return self.rows["product"].value_counts().index[:MAX_PRODUCTS].tolist()


def period_name(start: pd.Timestamp, unit: str) -> str:
    if unit == "all":
        return "all reviews"
    return start.strftime("%b %Y") if unit == "month" else "wk of " + start.strftime("%d %b %Y").lstrip("0")


def sentiment_table(data: ReportData) -> pd.DataFrame:
    """Per product (ALL for every review) and period: reviews, then the count and share of each label."""
    rows = data.rows.assign(period=data.periods()).dropna(subset=["period"])
    frames = [rows.assign(product=ALL)] + ([rows[rows["product"].isin(data.products)]] if data.products else [])
    counts = (pd.concat(frames).groupby(["product", "period", "label"]).size().unstack("label", fill_value=0)
              .reindex(columns=data.labels, fill_value=0))
    counts.columns.name = None
    table = counts.assign(reviews=counts.sum(axis=1))
    for label in data.labels:
        table[f"share_{label}"] = table[label] / table["reviews"]
    return table.reset_index()[["product", "period", "reviews", *data.labels, *(f"share_{x}" for x in data.labels)]]


def _mentions(data: ReportData) -> pd.DataFrame:
    """One row per aspect mention: product, period, aspect, sentiment."""
    rows = data.rows.assign(period=data.periods())
    exploded = rows[["product", "period", "aspects"]].explode("aspects").dropna(subset=["aspects"])
    if exploded.empty:
        return pd.DataFrame(columns=["product", "period", "aspect", "sentiment"])
    pairs = pd.DataFrame(exploded["aspects"].tolist(), columns=["aspect", "sentiment"], index=exploded.index)
    return pd.concat([exploded[["product", "period"]], pairs], axis=1)


def aspect_table(data: ReportData) -> pd.DataFrame:
    """Per product and aspect, over the whole file: mentions, negative mentions and their share of the mentions."""
    mentions = _mentions(data)
    mentions = mentions[mentions["product"].isin(data.products)] if data.products else mentions.assign(product=ALL)
    table = mentions.groupby(["product", "aspect"]).agg(
        mentions=("sentiment", "size"), negative=("sentiment", lambda s: int((s == "negative").sum())))
    table["negative_share"] = table["negative"] / table["mentions"]
    return table.reset_index().sort_values(["product", "negative_share", "mentions"], ascending=[True, False, False])


def aspect_trend(data: ReportData, aspects: Sequence[str]) -> pd.DataFrame:
    """Per product, period and aspect: the product's reviews that period, the aspect's negative mentions, their rate
    per review, and the change of that rate against the product's previous period (NaN where either period has
    fewer than MIN_REVIEWS reviews)."""
    rows = data.rows.assign(period=data.periods()).dropna(subset=["period"])
    rows = rows[rows["product"].isin(data.products)] if data.products else rows.assign(product=ALL)
    reviews = rows.groupby(["product", "period"]).size().rename("reviews")
    mentions = _mentions(data).dropna(subset=["period"])
    mentions = mentions[mentions["product"].isin(data.products)] if data.products else mentions.assign(product=ALL)
    negative = (mentions[mentions["sentiment"] == "negative"].groupby(["product", "period", "aspect"]).size()
                .rename("negative"))
    grid = pd.MultiIndex.from_tuples([(p, t, a) for p, t in reviews.index for a in aspects],
                                     names=["product", "period", "aspect"])
    table = pd.DataFrame(index=grid).join(reviews, on=["product", "period"]).join(negative).fillna({"negative": 0})
    table["negative"] = table["negative"].astype(int)
    table["rate"] = table["negative"] / table["reviews"]
    table = table.reset_index().sort_values(["product", "aspect", "period"])
    previous = table.groupby(["product", "aspect"])[["rate", "reviews"]].shift()
    enough = (table["reviews"] >= MIN_REVIEWS) & (previous["reviews"] >= MIN_REVIEWS)
    table["previous_rate"] = previous["rate"]
    table["change"] = (table["rate"] - previous["rate"]).where(enough)
    return table.reset_index(drop=True)


def rises(trend: pd.DataFrame, n: int = 5) -> pd.DataFrame:
    """The biggest rises of an aspect's negative mentions per review from one period to the next (each product's
    aspect once, at its biggest rise; the latest first among equal rises)."""
    risen = trend[(trend["change"] > 0) & (trend["negative"] >= MIN_NEGATIVE)]
    risen = risen.sort_values(["change", "period"], ascending=False).drop_duplicates(["product", "aspect"])
    return risen.head(n).reset_index(drop=True)


def rating_table(data: ReportData) -> pd.DataFrame:
    """Reviews by star rating (rows 1-5) and label (columns)."""
    rows = data.rows.dropna(subset=["rating"])
    table = pd.crosstab(rows["rating"].round().astype(int), rows["label"]).reindex(
        index=range(1, 6), columns=data.labels, fill_value=0)
    table.index.name, table.columns.name = "stars", None
    return table


def rating_mismatches(data: ReportData) -> dict[str, pd.DataFrame]:
    """4-5 stars with negative text and 1-2 stars with positive text, most confident first."""
    rows = data.rows.dropna(subset=["rating"]).sort_values("score", ascending=False)
    return {"high stars, negative text": rows[(rows["rating"] >= 4) & (rows["label"] == "negative")],
            "low stars, positive text": rows[(rows["rating"] <= 2) & (rows["label"] == "positive")]}


# --- labelling -------------------------------------------------------------------------------------------------

def label_reviews(finder, source: str | Path, csv_path: str | Path, columns: dict[str, str | None] | None = None,
                  batch_size: int = 64, chunk_rows: int = 10_000,
                  progress: Callable[[float], None] | None = None) -> ReportData:
    """Label every review of the file ``source`` and find its aspects, chunk by chunk, writing the labelled table
    (every input column, label, score, probabilities, aspects) to ``csv_path``; returns the compact rows."""
    from .data import iter_table
    from .storage import TableWriter

    with TableWriter(csv_path) as writer:  # a failure leaves no labelled table behind
        return label_chunks(finder, iter_table(source, chunk_rows), source, columns, batch_size, progress, writer.write)


def label_chunks(finder, chunks: Iterable[pd.DataFrame], source: object, columns: dict[str, str | None] | None = None,
                 batch_size: int = 64, progress: Callable[[float], None] | None = None,
                 write: Callable[[pd.DataFrame], None] | None = None) -> ReportData:
    """Label the reviews of ``chunks`` (the tables of one file, ``source``) and find their aspects; ``write`` gets
    each chunk's labelled table (every input column, label, score, probabilities, aspects). Returns the compact
    rows; a file without rows is refused."""
    from .predict import label_frame

    classifier = finder.classifier
    found: Columns | None = None
    compact: list[pd.DataFrame] = []
    unparsed = 0
    for chunk in chunks:
        if found is None:
            found = find_columns(list(chunk.columns), source, **(columns or {}))
        texts = chunk[found.text].astype(str).tolist()
        aspects, proba = finder.find_with_proba(texts, batch_size, progress)
        if write is not None:
            out = label_frame(classifier, chunk, found.text, source, proba=proba)
            name = "predicted_aspects" if "aspects" in out.columns else "aspects"
            out[name] = [json.dumps([a.to_dict() for a in row], ensure_ascii=False) for row in aspects]
            write(out)
        best = proba.argmax(axis=1)
        dates = parse_dates(chunk[found.date]) if found.date else pd.Series(pd.NaT, index=chunk.index)
        if found.date:
            unparsed += int(dates.isna().sum())
        compact.append(pd.DataFrame({
            "text": texts,
            "date": dates.to_numpy(),
            "product": chunk[found.product].astype(str).str.strip().replace("", "(no product)").to_numpy()
            if found.product else ALL,
            "rating": parse_ratings(chunk[found.rating]).to_numpy() if found.rating else np.nan,
            "label": [classifier.labels[i] for i in best],
            "score": proba[np.arange(len(best)), best],
            "aspects": [[(a.aspect, a.sentiment) for a in row] for row in aspects],
        }))
    if not sum(map(len, compact)):
        raise DataError(source, "has no reviews")
    rows = pd.concat(compact, ignore_index=True)
    rows["date"] = pd.to_datetime(rows["date"])
    return ReportData(rows, list(classifier.labels), found, Path(str(source)).name, unparsed_dates=unparsed)


# --- examples and their explanations ----------------------------------------------------------------------------

def pick_examples(data: ReportData, trend: pd.DataFrame, n: int = 3) -> dict[str, list[int]]:
    """Row numbers of a few reviews per chart: the most confident of each label in the latest period (overall and
    per product), the reviews behind each product's biggest aspect rise, and rating mismatches."""
    rows = data.rows.assign(period=data.periods())
    picked: dict[str, list[int]] = {}

    def latest(frame: pd.DataFrame, labels: Sequence[str]) -> list[int]:
        if frame["period"].notna().any():
            frame = frame[frame["period"] == frame["period"].max()]
        best = frame.sort_values("score", ascending=False)
        return [int(i) for label in labels for i in best.index[best["label"] == label][:1]][:n]

    picked["overall"] = latest(rows, ["negative", "positive", "neutral"] if "neutral" in data.labels else data.labels)
    for product in data.products:
        mine = rows[rows["product"] == product]
        picked[f"sentiment:{product}"] = latest(mine, ["negative", "positive"])
        top = rises(trend[trend["product"] == product], 1)
        if not top.empty:
            aspect, period = top.loc[0, "aspect"], top.loc[0, "period"]
            negative = [(aspect, "negative") in found for found in mine["aspects"]]
            hit = mine[(mine["period"] == period) & np.array(negative, dtype=bool)]
            picked[f"aspects:{product}"] = [int(i) for i in hit.sort_values("score", ascending=False).index[:n]]
    for kind, frame in rating_mismatches(data).items():
        picked[kind] = [int(i) for i in frame.index[:n]]
    return picked


def explain_rows(explain: Callable[[list[str]], list], data: ReportData,
                 rows: Sequence[int]) -> dict[int, list[tuple[str, float]]]:
    """Each row's words and their weight toward its label; ``explain`` is `Classifier.explain` (occlusion, as
    `samiksha explain`) or the same over another model runner."""
    unique = sorted(set(rows))
    explanations = explain(data.rows.loc[unique, "text"].tolist()) if unique else []
    return {row: e.words for row, e in zip(unique, explanations)}


def highlighted(words: Sequence[tuple[str, float]], text: str, label: str) -> str:
    """The review as HTML, the words that drove its label (a quarter of the strongest weight or more) marked."""
    from .explain import word_spans

    spans = word_spans(text)
    scale = max((w for _, w in words), default=0.0)
    parts, last = [], 0
    for (start, end), (_, weight) in zip(spans, words):
        parts.append(html.escape(text[last:start]))
        piece = html.escape(text[start:end])
        if scale > 0 and weight >= 0.25 * scale:
            piece = f'<mark class="{html.escape(label)}" title="+{weight:.2f}">{piece}</mark>'
        parts.append(piece)
        last = end
    parts.append(html.escape(text[last:]))
    return "".join(parts)


# --- charts -----------------------------------------------------------------------------------------------------

def _colour(label: str, k: int) -> str:
    return COLOURS.get(label, ASPECT_COLOURS[k % len(ASPECT_COLOURS)])


def sentiment_figure(table: pd.DataFrame, labels: Sequence[str], unit: str, title: str):
    """Stacked bars: each label's share of a period's reviews, the review count under each bar."""
    import plotly.graph_objects as go

    ticks = [f"{period_name(p, unit)}<br>n={n}" for p, n in zip(table["period"], table["reviews"])]
    figure = go.Figure()
    for k, label in enumerate(labels):
        figure.add_bar(x=ticks, y=100 * table[f"share_{label}"], name=label, marker_color=_colour(label, k),
                       customdata=np.stack([table[label], table["reviews"]], axis=1),
                       hovertemplate=f"{label}: %{{y:.0f}}% (%{{customdata[0]}} of %{{customdata[1]}})<extra></extra>")
    figure.update_layout(barmode="relative", title=title, yaxis_title="% of reviews", yaxis_range=[0, 100],
                         template="plotly_white", height=360, margin={"t": 50, "b": 60, "l": 50, "r": 20},
                         legend={"orientation": "h", "y": 1.12, "x": 1, "xanchor": "right"})
    return figure


def aspect_figure(trend: pd.DataFrame, unit: str, title: str):
    """Lines: each aspect's negative mentions per 100 reviews of the product, by period."""
    import plotly.graph_objects as go

    figure = go.Figure()
    shown = trend.groupby("aspect")["negative"].sum()
    for k, aspect in enumerate(a for a in shown.index if shown[a] > 0):
        part = trend[trend["aspect"] == aspect]
        figure.add_scatter(x=[period_name(p, unit) for p in part["period"]], y=100 * part["rate"], name=aspect,
                           mode="lines+markers", line_color=ASPECT_COLOURS[k % len(ASPECT_COLOURS)],
                           customdata=np.stack([part["negative"], part["reviews"]], axis=1),
                           hovertemplate=f"{aspect}: %{{customdata[0]}} negative in %{{customdata[1]}} reviews"
                                         "<extra></extra>")
    figure.update_layout(title=title, yaxis_title="negative mentions per 100 reviews", template="plotly_white",
                         height=340, margin={"t": 50, "b": 40, "l": 50, "r": 20}, yaxis_rangemode="tozero")
    return figure


def rating_figure(table: pd.DataFrame, labels: Sequence[str]):
    """Stacked bars: the labels of the text at each star rating."""
    import plotly.graph_objects as go

    figure = go.Figure()
    totals = table.sum(axis=1).replace(0, 1)
    ticks = [f"{'★' * s}<br>n={int(table.loc[s].sum())}" for s in table.index]
    for k, label in enumerate(labels):
        figure.add_bar(x=ticks, y=100 * table[label] / totals, name=label, marker_color=_colour(label, k),
                       customdata=table[label], hovertemplate=f"{label} text: %{{customdata}} reviews<extra></extra>")
    figure.update_layout(barmode="relative", title="What the text says at each star rating", yaxis_title="% of reviews",
                         template="plotly_white", height=340, margin={"t": 50, "b": 60, "l": 50, "r": 20})
    return figure


def save_png(figure, path: Path) -> None:
    """A matplotlib copy of a Plotly bar or line figure, for slides (kaleido would need a Chrome of its own)."""
    import warnings

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .storage import save_figure

    fig, ax = plt.subplots(figsize=(9, 3.6), dpi=120)
    bottom = None
    for trace in figure.data:
        x = [str(t).replace("<br>", "\n") for t in trace.x]
        y = np.asarray(trace.y, dtype=float)
        if trace.type == "bar":
            ax.bar(x, y, bottom=bottom, label=trace.name, color=trace.marker.color)
            bottom = y if bottom is None else bottom + y
        else:
            ax.plot(x, y, marker="o", label=trace.name, color=trace.line.color)
    layout = figure.layout
    ax.set_title(layout.title.text or "", loc="left")
    ax.set_ylabel(layout.yaxis.title.text or "")
    ax.tick_params(axis="x", labelsize=7)
    ax.spines[["top", "right"]].set_visible(False)
    if figure.data:
        ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1, 1))
    fig.tight_layout()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # glyphs the default font lacks (Devanagari product names) are drawn as boxes
        save_figure(fig, path)
    plt.close(fig)


# --- the page ---------------------------------------------------------------------------------------------------

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans Devanagari",sans-serif;margin:0;
color:#222;background:#fafafa}
header,main{max-width:1100px;margin:auto;padding:0 20px}
header{padding-top:24px}
h1{font-size:1.6em;margin:0 0 4px}
h2{margin-top:36px;border-bottom:1px solid #ddd;padding-bottom:4px}
.muted{color:#666;font-size:.9em}
.card{background:#fff;border:1px solid #e3e3e3;border-radius:8px;padding:12px 16px;margin:14px 0}
.examples{list-style:none;padding:0;margin:6px 0 0}
.examples li{border-left:4px solid #ccc;padding:4px 10px;margin:8px 0}
.examples li.negative{border-color:#d62728}.examples li.positive{border-color:#2ca02c}
.examples li.neutral{border-color:#9e9e9e}
mark{border-radius:3px;padding:0 2px}
mark.negative{background:#f8c4c4}mark.positive{background:#c4ecc4}mark.neutral{background:#e4e4e4}
table{border-collapse:collapse;font-size:.92em}
th,td{padding:3px 10px;text-align:left;border-bottom:1px solid #eee}
th.n,td.n{text-align:right}
.filter{position:sticky;top:0;background:#fafafa;padding:8px 0;z-index:5}
select{font-size:1em;padding:3px}
.summary li{margin:4px 0}
"""

SCRIPT = """
document.getElementById('product-filter').addEventListener('change', function (event) {
  var wanted = event.target.value;
  document.querySelectorAll('.product').forEach(function (block) {
    var show = wanted === '' || block.dataset.product === wanted;
    block.hidden = !show;
    if (show) block.querySelectorAll('.js-plotly-plot').forEach(function (plot) { Plotly.Plots.resize(plot); });
  });
});
"""


def _percent(value: float) -> str:
    return "-" if pd.isna(value) else f"{100 * value:.0f}%"


def _examples_html(data: ReportData, rows: Sequence[int], words: dict[int, list[tuple[str, float]]],
                   unit: str) -> str:
    if not rows:
        return ""
    items = []
    for row in rows:
        r = data.rows.loc[row]
        facts = [f"{r['label']} {r['score']:.2f}"]
        if data.columns.product:
            facts.append(str(r["product"]))
        if pd.notna(r["date"]):
            facts.append(r["date"].strftime("%d %b %Y"))
        if pd.notna(r["rating"]):
            facts.append(f"{r['rating']:g}★")
        items.append(f'<li class="{html.escape(r["label"])}">{highlighted(words.get(row, []), r["text"], r["label"])}'
                     f'<div class="muted">{html.escape(" · ".join(facts))} · row {row + 1}</div></li>')
    return ('<p class="muted">Examples; the words that drove each label are highlighted.</p>'
            f'<ul class="examples">{"".join(items)}</ul>')


def _table_html(frame: pd.DataFrame) -> str:
    numeric = [bool(pd.api.types.is_numeric_dtype(frame[c]) or frame[c].astype(str).str.fullmatch(r"[\d.]+%|-").all())
               for c in frame.columns]
    head = "".join(f"<th{' class=n' * n}>{html.escape(str(c))}</th>" for c, n in zip(frame.columns, numeric))
    body = "".join("<tr>" + "".join(f"<td{' class=n' * n}>{html.escape(str(v))}</td>" for v, n in zip(row, numeric))
                   + "</tr>" for row in frame.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _slug(text: str, k: int) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40]
    return slug or f"product-{k + 1}"


@dataclass
class Report:
    """The report page, the tables behind its charts, and the files written (none when only the page was made)."""

    page: str
    data: ReportData
    sentiment: pd.DataFrame
    aspects: pd.DataFrame
    trend: pd.DataFrame
    rises: pd.DataFrame
    ratings: pd.DataFrame | None
    pngs: list[Path]
    html: Path | None = None
    csv: Path | None = None


def render(data: ReportData, words: dict[int, list[tuple[str, float]]], picked: dict[str, list[int]],
           sentiment: pd.DataFrame, aspects: pd.DataFrame, trend: pd.DataFrame, top: pd.DataFrame,
           ratings: pd.DataFrame | None, csv_name: str | None, png_dir: Path | None) -> tuple[str, list[Path]]:
    """The report page (one self-contained HTML string) and the PNGs written. ``csv_name``: the labelled table
    beside the page (None: there is none)."""
    from plotly.offline import get_plotlyjs

    unit = data.unit
    by = "" if unit == "all" else f", by {unit}"
    figures: list[tuple[str, object]] = []  # (name, figure) in page order, for the PNGs
    pngs: list[Path] = []
    config = {"displaylogo": False, "responsive": True, "plotlyServerURL": "",  # no "Share chart" upload
              "modeBarButtonsToRemove": ["sendDataToCloud", "sendChartToCloud"]}

    def chart(name: str, figure) -> str:
        figures.append((name, figure))
        return figure.to_html(full_html=False, include_plotlyjs=False, div_id=f"chart-{name}", config=config)

    n = len(data.rows)
    dates = data.rows["date"].dropna()
    span = f"{dates.min():%d %b %Y} to {dates.max():%d %b %Y}{by}" if not dates.empty else "no dates"
    counts = data.rows["label"].value_counts()
    overall = " · ".join(f"{label} {counts.get(label, 0) / n:.0%}" for label in data.labels)
    summary = [f"{n:,} reviews ({span}); {overall}."]
    for r in top.head(3).itertuples():
        where = "" if r.product == ALL else f" about <b>{html.escape(r.product)}</b>"
        summary.append(f"Negative <b>{html.escape(r.aspect)}</b> mentions{where} rose from "
                       f"{_percent(r.previous_rate)} to {_percent(r.rate)} of reviews in {period_name(r.period, unit)}.")
    for kind, frame in rating_mismatches(data).items():
        if len(frame):
            summary.append(f"{len(frame)} reviews with {kind}: see <a href='#ratings'>rating against text</a>.")
    if data.unparsed_dates and unit == "all":
        summary.append(f"No date in the column {html.escape(data.columns.date)} could be read: one period is shown.")
    elif data.unparsed_dates:
        summary.append(f"{data.unparsed_dates} rows have no readable date and are left out of the charts over time.")

    table = "" if csv_name is None else (f" The labelled table: <a href='{html.escape(csv_name)}'>"
                                         f"{html.escape(csv_name)}</a>.")
    body = [f"<header><h1>What customers say: {html.escape(data.source)}</h1>"
            f"<p class='muted'>Labelled by {html.escape(data.model)}.{table}</p>"
            f"<ul class='summary card'>{''.join(f'<li>{s}</li>' for s in summary)}</ul></header><main>"]
    overall_table = sentiment[sentiment["product"] == ALL]
    body.append("<h2 id='overall'>Sentiment over time</h2><div class='card'>"
                + chart("overall", sentiment_figure(overall_table, data.labels, unit, f"All reviews{by}"))
                + _examples_html(data, picked.get("overall", []), words, unit) + "</div>")

    if data.products:
        options = "".join(f"<option value='{html.escape(p)}'>{html.escape(p)}</option>" for p in data.products)
        body.append("<h2 id='products'>By product</h2><div><div class='filter'><label>Product: <select id='product-filter'>"
                    f"<option value=''>all products</option>{options}</select></label></div>")
        more = data.rows["product"].nunique() - len(data.products)
        if more > 0:
            where = "the labelled table" if csv_name is None else html.escape(csv_name)
            body.append(f"<p class='muted'>The {len(data.products)} most reviewed products; {more} more are in "
                        f"{where}.</p>")
        slugs: set[str] = set()
        for k, product in enumerate(data.products):
            slug = _slug(product, k)
            slug = slug if slug not in slugs else f"{slug}-{k + 1}"  # "Kurti!" and "Kurti?" get a chart each
            slugs.add(slug)
            mine = aspects[aspects["product"] == product].head(8).assign(negative_share=lambda f: f[
                "negative_share"].map(_percent))
            body.append(
                f"<section class='product card' data-product='{html.escape(product)}'><h3>{html.escape(product)}</h3>"
                + chart(f"{slug}-sentiment", sentiment_figure(sentiment[sentiment["product"] == product], data.labels,
                                                              unit, f"{product}: sentiment{by}"))
                + _examples_html(data, picked.get(f"sentiment:{product}", []), words, unit)
                + chart(f"{slug}-aspects", aspect_figure(trend[trend["product"] == product], unit,
                                                         f"{product}: what the complaints are about"))
                + "<p class='muted'>Aspects over the whole file: mentions, negative mentions, negative share.</p>"
                + _table_html(mine.drop(columns="product").rename(columns={"negative_share": "negative share"}))
                + _examples_html(data, picked.get(f"aspects:{product}", []), words, unit) + "</section>")
        body.append("</div>")  # the filter stays in view down to the last product only
    else:
        body.append("<h2>Aspects</h2><div class='card'>"
                    + chart("aspects", aspect_figure(trend, unit, "What the complaints are about"))
                    + _table_html(aspects.drop(columns="product").assign(negative_share=lambda f: f[
                        "negative_share"].map(_percent))) + "</div>")

    body.append("<h2 id='rises'>What rose most against the previous period</h2><div class='card'>")
    if top.empty:
        body.append(f"<p>No aspect's negative mentions rose (periods with {MIN_REVIEWS}+ reviews compared).</p>")
    else:
        shown = pd.DataFrame({"product": top["product"], "aspect": top["aspect"],
                              unit: [period_name(p, unit) for p in top["period"]],
                              "before": top["previous_rate"].map(_percent), "now": top["rate"].map(_percent),
                              "negative mentions": top["negative"], "reviews": top["reviews"]})
        body.append("<p class='muted'>Negative mentions of an aspect as a share of the product's reviews, against "
                    f"the {unit} before.</p>" + _table_html(shown))
    body.append("</div>")

    body.append("<h2 id='ratings'>Rating against text</h2><div class='card'>")
    if ratings is None:
        body.append("<p>The file has no rating column (name one with --rating-column).</p>")
    else:
        body.append(chart("rating", rating_figure(ratings, data.labels)))
        for kind, frame in rating_mismatches(data).items():
            body.append(f"<h3>{len(frame)} reviews with {html.escape(kind)}</h3>"
                        + _examples_html(data, picked.get(kind, []), words, unit))
        body.append("<p class='muted'>Sarcasm and mistaken stars hide here; so do model mistakes.</p>")
    body.append("</div></main>")
    script = SCRIPT if data.products else ""
    page = ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>Samiksha report: {html.escape(data.source)}</title><style>{STYLE}</style>"
            f"<script>{get_plotlyjs()}</script></head><body>{''.join(body)}<script>{script}</script></body></html>")
    if png_dir is not None:
        for name, figure in figures:
            path = png_dir / f"{name}.png"
            save_png(figure, path)
            pngs.append(path)
    return page, pngs


def describe_model(name: str, base: str | None) -> str:
    """Who labelled the reviews, as the report's header says it: 'folder (base model or method)'."""
    return " ".join(filter(None, [name, f"({base})" if base and name else base])) or "the model"


def compose(data: ReportData, explain: Callable[[list[str]], list], aspect_names: Sequence[str], examples: int = 3,
            csv_name: str | None = None, png_dir: Path | None = None) -> Report:
    """The report of labelled rows: the tables behind the charts, the example reviews explained by ``explain``
    (`explain_rows`) and the page; with ``png_dir``, a PNG of each chart written there."""
    sentiment = sentiment_table(data)
    aspect_rows = aspect_table(data)
    trend = aspect_trend(data, aspect_names)
    top = rises(trend)
    ratings = rating_table(data) if data.columns.rating else None
    picked = pick_examples(data, trend, examples)
    log.info("explaining %d example reviews", len({r for rows in picked.values() for r in rows}))
    words = explain_rows(explain, data, [r for rows in picked.values() for r in rows])
    log.info("drawing the charts")
    page, pngs = render(data, words, picked, sentiment, aspect_rows, trend, top, ratings, csv_name, png_dir)
    return Report(page, data, sentiment, aspect_rows, trend, top, ratings, pngs)


def build_report(classifier, source: str | Path, output: str | Path, columns: dict[str, str | None] | None = None,
                 examples: int = 3, png: bool = True, batch_size: int = 64, chunk_rows: int = 10_000,
                 progress: Callable[[float], None] | None = None, aspects=None, model_name: str = "") -> Report:
    """Label ``source``, then write ``output`` (HTML), the labelled CSV beside it (same name, .csv) and, with
    ``png``, a PNG of each chart in the folder ``<name>_charts``."""
    from .aspects import DEFAULT_ASPECTS, AspectFinder
    from .storage import refuse_overwriting_inputs, write_text

    output = Path(output)
    if output.suffix.lower() not in (".html", ".htm"):
        raise SamikshaError(f"{output}: the report is an HTML file; name it with .html")
    csv_path = output.with_suffix(".csv")
    png_dir = output.with_name(output.stem + "_charts") if png else None
    refuse_overwriting_inputs([source], [output, csv_path])
    finder = AspectFinder(classifier, aspects or DEFAULT_ASPECTS)
    data = label_reviews(finder, source, csv_path, columns, batch_size, chunk_rows, progress)
    data.model = describe_model(model_name, classifier.meta.get("base_model") or classifier.meta.get("method"))
    report = compose(data, classifier.explain, finder.names, examples, csv_path.name, png_dir)
    write_text(output, report.page)
    report.html, report.csv = output, csv_path
    return report
