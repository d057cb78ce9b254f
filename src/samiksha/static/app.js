// Samiksha's page: predict the sentiment of pasted or uploaded reviews through this server's API and show the
// results. Words: a "prediction" is the model's; a "label" is a person's (a correction sent to the label store).
// Plain JavaScript, no libraries, nothing loaded from elsewhere.
"use strict";

(() => {
  const PAGE_SIZE = 25;         // table rows on one page; the pager, search and filters reach the rest
  const MAX_NEGATIVES = 10;
  const KNOWN = ["negative", "neutral", "positive"];
  const SIGNS = { negative: "−", neutral: "~", positive: "+" };   // aspect chips: text, not colour alone
  const HIGHLIGHT = 0.2;        // explained words with |weight| under this share of the text's largest stay plain
  const SVG = "http://www.w3.org/2000/svg";

  const $ = (selector) => document.querySelector(selector);
  const state = {
    info: null, labels: [], columns: [], rows: [], textIndex: 0, labelIndex: 0, scoreIndex: 0,
    name: "reviews", suffix: "", filter: "all", query: "", sort: { key: "label", dir: 1 }, page: 0,
    // context: indices of the upload's product, date and stars columns (-1: none); yours: row -> your label
    context: { product: -1, date: -1, stars: -1 }, yours: new Map(),
    session: `page-${Math.random().toString(36).slice(2, 12)}`,   // this tab, in the label store's history
    // aspects: names from /v1/aspects; aspect: the aspect filter ({ aspect, sentiment } with sentiment null for
    // "mentioned at all") or null; aspectsReady: every row's aspects are known (item.aspects; null until then).
    aspectNames: [], aspect: null, aspectsReady: false, aspectsFailed: false, aspectsDone: 0, aspectsTotal: 0,
    // open: the row whose explanation is shown (or null); explained: row -> explanation (or its pending promise)
    open: null, explained: new Map(),
    generation: 0,               // bumped by every new result set, so late answers for an old one are dropped
    // upload: the labelled file and its text column as typed (null for pasted text), sent again for its report;
    // report: the built report ({ blob, name }) or null
    upload: null, report: null,
  };

  // --- talking to the API ---------------------------------------------------

  async function api(path, options = {}) {
    const headers = Object.assign({}, options.headers);
    const key = $("#api-key").value.trim();
    if (key) headers["X-API-Key"] = key;
    const response = await fetch(path, Object.assign({}, options, { headers }));
    let body = null;
    try { body = await response.json(); } catch (_) { body = null; }
    if (!response.ok) {
      const error = new Error((body && body.error) || `${response.status} ${response.statusText}`);
      error.status = response.status;
      throw error;
    }
    return body;
  }

  async function apiFile(path, options = {}) {
    // Like `api`, for an answer that is a file: its bytes and the name the server gave it.
    const headers = Object.assign({}, options.headers);
    const key = $("#api-key").value.trim();
    if (key) headers["X-API-Key"] = key;
    const response = await fetch(path, Object.assign({}, options, { headers }));
    if (!response.ok) {
      let body = null;
      try { body = await response.json(); } catch (_) { body = null; }
      throw new Error((body && body.error) || `${response.status} ${response.statusText}`);
    }
    const disposition = response.headers.get("Content-Disposition") || "";
    const name = (disposition.match(/filename="([^"]+)"/) || [])[1] || "reviews";
    return { blob: await response.blob(), name, notice: response.headers.get("X-Samiksha-Notice") };
  }

  function setStatus(message, kind = "") {
    const status = $("#status");
    status.textContent = message;
    status.className = `status ${kind}`;
  }

  function setBusy(busy) {
    document.querySelectorAll("form button").forEach((button) => { button.disabled = busy; });
  }

  // --- small helpers --------------------------------------------------------

  function el(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (name === "text") node.textContent = value;
      else node.setAttribute(name, value);
    }
    node.append(...children);
    return node;
  }

  function svg(tag, attributes = {}, text = null) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    if (text !== null) node.textContent = text;
    return node;
  }

  const hasDevanagari = (text) => /[\u0900-\u097F]/.test(text);
  const labelClass = (label) => `label-${KNOWN.includes(label) ? label : "other"}`;
  const percent = (value) => `${Math.round(value * 100)}%`;
  const format = (n) => n.toLocaleString("en-IN");

  function reviewText(text) {
    const span = el("span", { class: "review", text });
    if (hasDevanagari(text)) span.setAttribute("lang", "hi");
    return span;
  }

  function chip(label) {
    return el("span", { class: `chip ${labelClass(label)}`, text: label });
  }

  async function postTexts(path, texts) {
    return api(path, { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ texts }) });
  }

  // --- model and its own evaluation -----------------------------------------

  async function loadModel() {
    try {
      const health = await api("/health");
      $("#key-row").hidden = !health.api_key_required;
      const saved = sessionStorage.getItem("samiksha-key");
      if (saved && !$("#api-key").value) $("#api-key").value = saved;
      state.info = await api("/v1/model");
      state.labels = state.info.labels;
      showModel(state.info);
      $("#labels-help").textContent = state.info.label_store
        ? `Is a prediction wrong? Choose your label beside it: it is saved in ${state.info.label_store} next to ` +
          "the model, which `samiksha label` and its training use, so the next model learns from it."
        : "";
    } catch (error) {
      $("#model-line").textContent = error.status === 401
        ? "Enter the API key to use this server." : `Model unavailable: ${error.message}`;
      $("#quality").replaceChildren(el("p", { class: "muted", text: "Shown once the model can be reached." }));
    }
  }

  function showModel(info) {
    const base = info.base_model ? ` · fine-tuned from ${info.base_model}` : "";
    $("#model-line").textContent = `Model: ${info.name} (${info.backend})${base}`;
    const box = $("#quality");
    const m = info.metrics;
    if (!m) {
      box.replaceChildren(el("p", { text: "This model folder has no evaluation (metrics.json), so its accuracy " +
        "is unknown. Check a sample of its predictions yourself." }));
      return;
    }
    const wrong = Math.round((1 - m.accuracy) * 10);
    const figures = el("div", { class: "figures" },
      el("div", { class: "figure" }, el("strong", { text: m.macro_f1.toFixed(2) }), el("span", { text: "macro-F1" })),
      el("div", { class: "figure" }, el("strong", { text: percent(m.accuracy) }), el("span", { text: "accuracy" })),
      el("div", { class: "figure" }, el("strong", { text: format(m.n) }), el("span", { text: "test reviews" })));
    const perClass = el("table", { class: "per-class" },
      el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "sentiment" }), el("th", { scope: "col", text: "F1" }),
        el("th", { scope: "col", class: "pr", text: "precision" }),
        el("th", { scope: "col", class: "pr", text: "recall" }),
        el("th", { scope: "col", class: "num", text: "reviews" }))));
    const body = el("tbody");
    for (const label of info.labels) {
      const c = m.per_class[label];
      if (!c) continue;
      const bar = el("span", { class: `bar ${labelClass(label)}` });
      bar.style.width = percent(c.f1);
      body.append(el("tr", {},
        el("th", { scope: "row" }, chip(label)),
        el("td", { class: "f1" }, el("span", { class: "track" }, bar), el("span", { text: c.f1.toFixed(2) })),
        el("td", { class: "pr", text: c.precision.toFixed(2) }), el("td", { class: "pr", text: c.recall.toFixed(2) }),
        el("td", { class: "num", text: format(c.support) })));
    }
    perClass.append(body);
    const trained = info.train_rows ? `, after training on ${format(info.train_rows)}` : "";
    const notes = [
      el("p", { class: "small", text:
        `Measured on ${format(m.n)} labelled reviews the model did not train on (${m.data})${trained}. ` +
        `About ${wrong} in 10 of its predictions were wrong there: check the reviews that matter yourself.` }),
      el("p", { class: "muted small",
        text: "Macro-F1 averages the F1 of each sentiment, so a weak one is not hidden by the others." }),
    ];
    if (m.ci) {
      const [low, high] = m.ci.macro_f1;
      notes.push(el("p", { class: "small interval", text:
        `On another ${format(m.n)} reviews like these, macro-F1 could be anywhere from ${low.toFixed(2)} to ` +
        `${high.toFixed(2)} (${Math.round(m.ci.level * 100)}% bootstrap interval); accuracy from ` +
        `${percent(m.ci.accuracy[0])} to ${percent(m.ci.accuracy[1])}.` }));
    }
    if (m.n < 100) {
      notes.push(el("p", { class: "warning small", text: `Only ${m.n} test reviews: treat these figures as rough.` }));
    }
    box.replaceChildren(figures, perClass, ...notes);
  }

  // --- predicting -----------------------------------------------------------

  async function predictPasted(event) {
    event.preventDefault();
    const texts = $("#texts").value.split(/\r?\n/).map((t) => t.trim()).filter(Boolean);
    if (!texts.length) { setStatus("Paste at least one review, one per line.", "error"); return; }
    const size = (state.info && state.info.limits.max_texts) || 1000;
    setBusy(true);
    try {
      const rows = [];
      const notices = [];
      for (let start = 0; start < texts.length; start += size) {
        setStatus(`Predicting ${format(texts.length)} reviews…`);
        const chunk = texts.slice(start, start + size);
        const body = await api("/v1/predict", {
          method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ texts: chunk }),
        });
        state.labels = body.labels;
        body.results.forEach((r, i) => {
          rows.push([chunk[i], r.label, r.score, ...body.labels.map((l) => r.probabilities[l])]);
        });
        notices.push(...body.notices);
      }
      const columns = ["text", "label", "score", ...state.labels.map((l) => `prob_${l}`)];
      showResults({ name: "reviews", suffix: "", columns, rows, textColumn: "text", notices, source: "pasted text",
        context: {}, upload: null });
    } catch (error) {
      setStatus(error.message, "error");
    } finally {
      setBusy(false);
    }
  }

  async function predictFile(event) {
    event.preventDefault();
    const file = $("#file").files[0];
    if (!file) { setStatus("Choose a file first.", "error"); return; }
    const limit = state.info && state.info.limits.max_upload_bytes;
    if (limit && file.size > limit) {
      const mb = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;
      setStatus(`${file.name} is ${mb(file.size)}; this server accepts up to ${mb(limit)}.`, "error");
      return;
    }
    const form = new FormData();
    form.append("file", file);
    const column = $("#text-column").value.trim();
    if (column) form.append("text_column", column);
    setBusy(true);
    setStatus(`Predicting ${file.name}…`);
    try {
      const table = await api("/v1/predict/file?format=json", { method: "POST", body: form });
      state.labels = table.labels;
      showResults({ name: table.file.replace(/\.[^.]+$/, ""), suffix: (table.file.match(/\.[^.]+$/) || [""])[0],
        columns: table.columns, rows: table.rows, textColumn: table.text_column, notices: table.notices,
        source: `${table.file}, column ${table.text_column}`, context: table.context,
        upload: { file, column, name: table.file } });
    } catch (error) {
      setStatus(error.message, "error");
    } finally {
      setBusy(false);
    }
  }

  function showResults({ name, suffix, columns, rows, textColumn, notices, source, context, upload }) {
    // The server adds label, score and one prob_ column per label at the end (prefixed if the file had them).
    state.name = name;
    state.suffix = suffix;
    state.context = Object.fromEntries(["product", "date", "stars"].map((role) =>
      [role, context[role] ? columns.indexOf(context[role]) : -1]));
    state.yours = new Map();
    state.page = 0;
    state.columns = columns;
    state.rows = rows.map((values, row) => ({ row, values }));
    state.textIndex = columns.indexOf(textColumn);
    state.labelIndex = columns.length - 2 - state.labels.length;
    state.scoreIndex = state.labelIndex + 1;
    state.filter = "all";
    state.query = "";
    state.sort = { key: "label", dir: 1 };
    state.generation += 1;
    state.aspect = null;
    state.aspectsReady = false;
    state.aspectsFailed = false;
    state.open = null;
    state.explained = new Map();
    $("#search").value = "";
    setStatus(`Predicted ${format(rows.length)} reviews (${source}).`, "ok");
    $("#download").textContent = `Download predictions (${downloadFormat().name})`;
    $("#notices").replaceChildren(...notices.map((n) => el("li", { text: n })));
    ["#negatives", "#summary", "#aspects", "#all"].forEach((id) => { $(id).hidden = false; });
    resetReport(upload);
    drawChart();
    drawNegatives();
    drawFilters();
    drawTable();
    $("#negatives").scrollIntoView({ behavior: "smooth", block: "start" });
    loadAspects();
  }

  const textOf = (item) => String(item.values[state.textIndex] ?? "");
  const labelOf = (item) => item.values[state.labelIndex];
  const scoreOf = (item) => Number(item.values[state.scoreIndex]);
  const contextOf = (item, role) => state.context[role] < 0 ? null : item.values[state.context[role]];

  function starsOf(item) {
    // The first number of the stars cell ("4", 4.0, "4 out of 5", "★★★★ 4"), or null.
    const match = String(contextOf(item, "stars") ?? "").match(/\d+(\.\d+)?/);
    return match ? Number(match[0]) : null;
  }

  function starsDisagree(item) {
    // Stars that contradict the prediction: 4-5 stars predicted negative, 1-2 stars predicted positive.
    const stars = starsOf(item);
    if (stars === null) return false;
    return (stars >= 4 && stars <= 5 && labelOf(item) === "negative") ||
      (stars >= 1 && stars <= 2 && labelOf(item) === "positive");
  }

  function counts() {
    const result = Object.fromEntries(state.labels.map((l) => [l, 0]));
    for (const item of state.rows) result[labelOf(item)] = (result[labelOf(item)] || 0) + 1;
    return result;
  }

  // --- chart: one horizontal bar per label, drawn as inline SVG -------------

  function drawChart() {
    const total = state.rows.length;
    const tally = counts();
    const width = 360, rowHeight = 34, left = 76, right = 86;
    const height = state.labels.length * rowHeight + 6;
    const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", class: "bars" });
    const described = state.labels.map((l) => `${l} ${tally[l]} (${percent(tally[l] / total)})`).join(", ");
    chart.append(svg("title", {}, `Sentiment of ${total} reviews: ${described}`));
    state.labels.forEach((label, i) => {
      const y = i * rowHeight + 6;
      const share = total ? tally[label] / total : 0;
      chart.append(svg("text", { x: left - 8, y: y + 17, "text-anchor": "end", class: "axis" }, label));
      chart.append(svg("rect", { x: left, y, width: width - left - right, height: 24, rx: 4, class: "lane" }));
      const length = Math.max((width - left - right) * share, share ? 2 : 0);
      chart.append(svg("rect", { x: left, y, width: length, height: 24, rx: 4, class: `fill ${labelClass(label)}` }));
      const value = `${format(tally[label])} · ${percent(share)}`;
      chart.append(svg("text", { x: width - right + 8, y: y + 17, class: "value" }, value));
    });
    $("#chart").replaceChildren(chart);
    $("#summary-count").textContent = `${format(total)} review${total === 1 ? "" : "s"}`;
  }

  // --- negative reviews first -----------------------------------------------

  function drawNegatives() {
    const negatives = state.rows.filter((item) => labelOf(item) === "negative").sort((a, b) => scoreOf(b) - scoreOf(a));
    $("#negative-count").textContent = format(negatives.length);
    const list = $("#negative-list");
    if (!negatives.length) {
      list.replaceChildren(el("li", { class: "none", text: "None: no review was predicted negative." }));
    } else {
      list.replaceChildren(...negatives.slice(0, MAX_NEGATIVES).map((item) =>
        el("li", {}, reviewText(textOf(item)),
          el("span", { class: "confidence", text: `${percent(scoreOf(item))} sure · #${item.row + 1}` }))));
    }
    $("#negative-more").hidden = negatives.length <= MAX_NEGATIVES;
    $("#negative-more").textContent = `Show all ${format(negatives.length)} negative reviews`;
  }

  // --- table: filter by label, search, sort ---------------------------------

  function drawFilters() {
    const within = state.rows.filter(inAspect);   // the label counts follow the aspect filter
    const tally = Object.fromEntries(state.labels.map((l) => [l, 0]));
    for (const item of within) tally[labelOf(item)] = (tally[labelOf(item)] || 0) + 1;
    const options = [["all", `All ${format(within.length)}`],
      ...state.labels.map((l) => [l, `${l} ${format(tally[l])}`])];
    if (state.context.stars >= 0) {
      options.push(["disagree", `stars disagree ${format(within.filter(starsDisagree).length)}`]);
    }
    $("#filters").replaceChildren(...options.map(([value, text]) => {
      const button = el("button", { type: "button", "data-filter": value,
        "aria-pressed": String(state.filter === value), class: `filter ${value === "all" ? "" : labelClass(value)}`,
        text });
      button.addEventListener("click", () => { state.filter = value; state.page = 0; drawFilters(); drawTable(); });
      return button;
    }));
  }

  function compare(a, b) {
    const { key, dir } = state.sort;
    const order = (item) => state.labels.indexOf(labelOf(item));
    let result = 0;
    if (key === "row") result = a.row - b.row;
    else if (key === "text") result = textOf(a).localeCompare(textOf(b));
    else if (key === "score") result = scoreOf(a) - scoreOf(b);
    else result = order(a) - order(b) || scoreOf(b) - scoreOf(a);   // by label, most confident first
    return dir * result || a.row - b.row;
  }

  function inAspect(item) {
    const want = state.aspect;
    return !want || (item.aspects || []).some((a) => a.aspect === want.aspect &&
      (want.sentiment === null || a.sentiment === want.sentiment));
  }

  function visibleRows() {
    const query = state.query.toLocaleLowerCase();
    return state.rows
      .filter(inAspect)
      .filter((item) => state.filter === "all" || (state.filter === "disagree" ? starsDisagree(item)
        : labelOf(item) === state.filter))
      .filter((item) => !query || textOf(item).toLocaleLowerCase().includes(query))
      .sort(compare);
  }

  function aspectChips(item) {
    if (item.aspects === null || item.aspects === undefined) {
      return state.aspectsFailed ? [] : [el("span", { class: "muted pending", title: "Finding aspects…", text: "…" })];
    }
    return item.aspects.map(({ aspect, sentiment }) => el("span", {
      class: `aspect-chip ${labelClass(sentiment)}`, "data-aspect": aspect, "data-sentiment": sentiment,
      title: `${aspect}: ${sentiment}` },
    `${aspect} `, el("span", { "aria-hidden": "true", text: SIGNS[sentiment] || sentiment }),
    el("span", { class: "visually-hidden", text: `(${sentiment})` })));
  }

  function reviewRow(item) {
    const score = scoreOf(item);
    const meter = el("span", { class: `bar ${labelClass(labelOf(item))}` });
    meter.style.width = percent(score);
    const probabilities = state.labels
      .map((l, j) => `${l} ${percent(item.values[state.scoreIndex + 1 + j])}`).join(", ");
    const text = textOf(item);
    let review = reviewText(text);
    if (text.trim()) {   // a button: clicked, or Enter/Space on it, shows which words led to the prediction
      review = el("button", { type: "button", class: "review-toggle", "aria-expanded": String(state.open === item.row),
        "aria-controls": `explain-${item.row}`, title: "Show which words led to this prediction" }, review);
      review.addEventListener("click", () => toggleExplain(item));
    }
    const prediction = el("td", { class: "prediction", "data-name": "Prediction" }, chip(labelOf(item)));
    if (starsDisagree(item)) {
      const stars = `${starsOf(item)} star${starsOf(item) === 1 ? "" : "s"}`;
      prediction.append(el("span", { class: "stars-flag", title: `${stars}, yet predicted ${labelOf(item)}: check it` },
        `⚠ ${stars}`, el("span", { class: "visually-hidden", text: `, yet predicted ${labelOf(item)}` })));
    }
    if (state.info && state.info.label_store && text.trim()) prediction.append(yourLabel(item));
    const row = el("tr", { "data-label": labelOf(item), "data-row": String(item.row) },
      el("td", { class: "num", "data-name": "#", text: String(item.row + 1) }),
      el("td", { class: "text", "data-name": "Review" }, review, ...contextLine(item)),
      prediction,
      el("td", { class: "score", "data-name": "Confidence", title: probabilities },
        el("span", { class: "track" }, meter), el("span", { text: percent(score) })),
      el("td", { class: "aspects", "data-name": "Aspects" }, ...aspectChips(item)));
    if (starsDisagree(item)) row.classList.add("disagree");
    return row;
  }

  function contextLine(item) {
    // The upload's own product, date and stars for this review, as one muted line under it.
    const parts = ["product", "date", "stars"].filter((role) => state.context[role] >= 0)
      .map((role) => [role, contextOf(item, role)]).filter(([, value]) => value !== null && String(value).trim())
      .map(([role, value]) => el("span", { class: `context-${role}`, "data-context": role,
        text: role === "stars" ? `${value} ★` : String(value) }));
    return parts.length ? [el("p", { class: "context muted small" }, ...parts)] : [];
  }

  // --- your label: a correction of the prediction, kept in the label store for the next training --------

  function yourLabel(item) {
    const select = el("select", { class: "your-label", "aria-label": `Your label for review #${item.row + 1}`,
      title: "Correct the prediction: your label is saved for the next training" },
    el("option", { value: "", text: "your label…" }),
    ...state.labels.map((label) => el("option", { value: label, text: label })));
    select.value = state.yours.get(item.row) || "";
    const mark = el("span", { class: "saved", role: "status", text: state.yours.has(item.row) ? "✓ saved" : "" });
    select.addEventListener("change", () => sendLabel(item, select, mark));
    return el("span", { class: "your" }, select, mark);
  }

  async function sendLabel(item, select, mark) {
    const label = select.value || null;
    select.disabled = true;
    try {
      const saved = await api("/v1/labels", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ text: textOf(item), label, session: state.session }) });
      if (label) state.yours.set(item.row, label); else state.yours.delete(item.row);
      mark.textContent = label ? "✓ saved" : "";
      const what = label ? `your label “${label}” for review #${item.row + 1}` : `review #${item.row + 1} unlabelled`;
      setStatus(`Saved ${what} in ${saved.store} (${format(saved.labelled)} labels kept for the next training).`,
        "ok");
    } catch (error) {
      select.value = state.yours.get(item.row) || "";
      setStatus(`Could not save your label: ${error.message}`, "error");
    } finally {
      select.disabled = false;
    }
  }

  function drawTable() {
    const rows = visibleRows();
    const pages = Math.max(1, Math.ceil(rows.length / PAGE_SIZE));
    state.page = Math.min(state.page, pages - 1);
    const first = state.page * PAGE_SIZE;
    const shown = rows.slice(first, first + PAGE_SIZE);
    const body = document.querySelector("#table tbody");
    body.replaceChildren(...shown.flatMap((item) =>
      state.open === item.row ? [reviewRow(item), explainRow(item)] : [reviewRow(item)]));
    document.querySelectorAll("#table th button").forEach((button) => {
      const active = button.dataset.sort === state.sort.key;
      const direction = state.sort.dir > 0 ? "ascending" : "descending";
      button.parentElement.setAttribute("aria-sort", active ? direction : "none");
    });
    const of = rows.length === state.rows.length ? "" : ` of ${format(state.rows.length)}`;
    $("#table-note").textContent = rows.length > PAGE_SIZE
      ? `Reviews ${format(first + 1)}–${format(first + shown.length)} of ${format(rows.length)}${of ? " matching" : ""}.`
      : `${format(rows.length)}${of} reviews shown.`;
    $("#pager").hidden = pages === 1;
    $("#page-of").textContent = `Page ${format(state.page + 1)} of ${format(pages)}`;
    $("#page-prev").disabled = state.page === 0;
    $("#page-next").disabled = state.page === pages - 1;
    drawAspectFilter();
  }

  // --- why a label: the review's words, marked by how much each led to it -----

  function toggleExplain(item) {
    const wasOpen = state.open === item.row;
    document.querySelectorAll("#table tr.explain").forEach((row) => row.remove());
    document.querySelectorAll("#table .review-toggle[aria-expanded=true]")
      .forEach((button) => button.setAttribute("aria-expanded", "false"));
    if (wasOpen) { state.open = null; return; }
    state.open = item.row;
    const row = document.querySelector(`#table tbody tr[data-row="${item.row}"]`);
    if (!row) return;
    row.querySelector(".review-toggle").setAttribute("aria-expanded", "true");
    row.after(explainRow(item));
    if (!state.explained.has(item.row)) fetchExplanation(item);
  }

  async function fetchExplanation(item) {
    const generation = state.generation;
    const pending = postTexts("/v1/explain", [textOf(item)]);
    state.explained.set(item.row, pending);
    let result;
    try {
      result = (await pending).results[0];
    } catch (error) {
      if (generation !== state.generation) return;
      state.explained.delete(item.row);
      setStatus(`Could not explain review #${item.row + 1}: ${error.message}`, "error");
      if (state.open === item.row) toggleExplain(item);   // closes it
      return;
    }
    if (generation !== state.generation) return;
    state.explained.set(item.row, result);
    const panel = document.querySelector(`#explain-${item.row} .explain-panel`);
    if (panel && state.open === item.row) fillPanel(panel, item);   // the live region stays: it is announced
  }

  function explainRow(item) {
    const panel = el("div", { class: "explain-panel", role: "region", "aria-live": "polite",
      "aria-label": `Why review #${item.row + 1} got its prediction` });
    fillPanel(panel, item);
    return el("tr", { class: "explain", id: `explain-${item.row}` }, el("td", { colspan: "5" }, panel));
  }

  function fillPanel(panel, item) {
    const result = state.explained.get(item.row);
    if (!result || typeof result.then === "function") {
      panel.replaceChildren(el("p", { class: "muted", text: "Finding the words that led to this prediction…" }));
      return;
    }
    const label = result.label;
    const weights = result.words.map(([, weight]) => Math.abs(weight));
    const top = Math.max(0, ...weights);
    panel.replaceChildren(
      el("p", { class: "explain-head" }, el("span", { text: "Predicted " }), chip(label),
        el("span", { class: "muted", text: ` · ${percent(result.score)} sure` })),
      highlighted(textOf(item), result.words, top, label),
      el("p", { class: "legend small" },
        el("span", { class: "legend-item" }, el("span", { class: `word supports level-3 ${labelClass(label)}`,
          text: "word" }), el("span", { text: ` supports ${label}` })),
        el("span", { class: "legend-item" }, el("span", { class: "word against level-3", text: "word" }),
          el("span", { text: " speaks against it" })),
        el("span", { class: "legend-item muted", text: "Stronger shading: a stronger effect." })),
      el("p", { class: "muted small", text: top > 0
        ? "Each word was left out in turn: the more the prediction's probability fell, the more the word supports it; " +
          "if it rose, the word speaks against it. Words with little effect are left plain."
        : "Leaving out any one word did not change the prediction's probability." }));
  }

  function highlighted(text, words, top, label) {
    // The words come without the spaces between them: find each in the original text after the previous one,
    // so the text keeps its own spacing and punctuation.
    const paragraph = el("p", { class: `explained ${labelClass(label)}` });
    if (hasDevanagari(text)) paragraph.setAttribute("lang", "hi");
    let cursor = 0;
    for (const [word, weight] of words) {
      const at = word ? text.indexOf(word, cursor) : -1;
      if (at < 0) continue;
      if (at > cursor) paragraph.append(text.slice(cursor, at));
      const share = top > 0 ? Math.abs(weight) / top : 0;
      if (share >= HIGHLIGHT && weight !== 0) {
        const level = share >= 0.7 ? 3 : share >= 0.4 ? 2 : 1;
        const kind = weight > 0 ? "supports" : "against";
        paragraph.append(el("mark", { class: `word ${kind} level-${level} ${labelClass(label)}`,
          "data-weight": String(weight),
          title: `${weight > 0 ? `supports ${label}` : "speaks against it"} (${weight > 0 ? "+" : ""}${weight})`,
          text: word }));
      } else {
        paragraph.append(word);
      }
      cursor = at + word.length;
    }
    if (cursor < text.length) paragraph.append(text.slice(cursor));
    return paragraph;
  }

  // --- aspects: what each review speaks of, and the sentiment toward it -------

  async function loadAspects() {
    const generation = state.generation;
    const size = chunkSize();
    const items = state.rows.filter((item) => textOf(item).trim());   // an empty review speaks of nothing
    state.rows.forEach((item) => { item.aspects = textOf(item).trim() ? null : []; });
    state.aspectsDone = 0;
    state.aspectsTotal = items.length;
    drawAspects();
    try {
      for (let start = 0; start < items.length; start += size) {   // one chunk after another
        const chunk = items.slice(start, start + size);
        const body = await postTexts("/v1/aspects", chunk.map(textOf));
        if (generation !== state.generation) return;
        state.aspectNames = body.aspects;
        body.results.forEach((result, i) => { chunk[i].aspects = result.aspects; });
        state.aspectsDone = start + chunk.length;
        drawAspects();
        drawAspectCells();
      }
      state.aspectsReady = true;
    } catch (error) {
      if (generation !== state.generation) return;
      state.aspectsFailed = true;
      setStatus(`Could not find the reviews' aspects: ${error.message}`, "error");
      drawAspectCells();
    }
    drawAspects();
  }

  function drawAspectCells() {
    document.querySelectorAll("#table tbody tr[data-row]").forEach((row) => {
      row.querySelector("td.aspects").replaceChildren(...aspectChips(state.rows[Number(row.dataset.row)]));
    });
  }

  function setAspectFilter(filter) {
    state.aspect = filter;
    state.page = 0;
    drawFilters();
    drawTable();
    drawAspects();
    if (filter) $("#all").scrollIntoView({ behavior: "smooth", block: "start" });
  }

  function drawAspects() {
    const grid = $("#aspect-grid");
    $("#aspect-clear").hidden = !state.aspect;
    if (state.aspectsFailed) {
      grid.replaceChildren(el("p", { class: "muted", text: "The aspects could not be found." }));
      return;
    }
    if (!state.aspectsReady) {
      const { aspectsDone: done, aspectsTotal: total } = state;
      const progress = total > chunkSize() ? ` (${format(done)} of ${format(total)} reviews)` : "";
      grid.replaceChildren(el("p", { class: "muted", text: `Finding aspects…${progress}` }));
      return;
    }
    const tally = Object.fromEntries(state.aspectNames.map((name) => [name, {}]));
    for (const item of state.rows) {
      for (const { aspect, sentiment } of item.aspects || []) {
        tally[aspect] = tally[aspect] || {};
        tally[aspect][sentiment] = (tally[aspect][sentiment] || 0) + 1;
      }
    }
    const sentiments = [...state.labels];
    for (const counts of Object.values(tally)) {
      for (const s of Object.keys(counts)) if (!sentiments.includes(s)) sentiments.push(s);
    }
    const totalOf = (name) => Object.values(tally[name]).reduce((a, b) => a + b, 0);
    const names = Object.keys(tally);
    names.sort((a, b) => (totalOf(b) > 0) - (totalOf(a) > 0));   // mentioned first, each in the server's order
    const pressed = (aspect, sentiment) => String(!!state.aspect && state.aspect.aspect === aspect &&
      state.aspect.sentiment === sentiment);
    const table = el("table", { class: "aspect-table" },
      el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "Aspect" }),
        ...sentiments.map((s) => el("th", { scope: "col", class: "num", text: s })),
        el("th", { scope: "col", class: "num", text: "reviews" }))));
    const body = el("tbody");
    for (const name of names) {
      const total = totalOf(name);
      const row = el("tr", { "data-aspect": name, class: total ? "" : "unmentioned" });
      if (total) {
        const button = el("button", { type: "button", class: "aspect-name", "data-aspect": name,
          "aria-pressed": pressed(name, null), "aria-label": `${name}: all ${total} reviews that mention it`,
          text: name });
        button.addEventListener("click", () => setAspectFilter({ aspect: name, sentiment: null }));
        row.append(el("th", { scope: "row" }, button));
      } else {
        row.append(el("th", { scope: "row", title: "No review mentions it", text: name }));
      }
      for (const sentiment of sentiments) {
        const count = tally[name][sentiment] || 0;
        const cell = el("td", { class: "num" });
        if (count) {
          const button = el("button", { type: "button", class: `aspect-count ${labelClass(sentiment)}`,
            "data-aspect": name, "data-sentiment": sentiment, "aria-pressed": pressed(name, sentiment),
            "aria-label": `${name}: ${format(count)} ${sentiment}`, title: `${name}: ${format(count)} ${sentiment}`,
            text: format(count) });
          button.addEventListener("click", () => setAspectFilter({ aspect: name, sentiment }));
          cell.append(button);
        } else {
          cell.append(el("span", { class: "zero", text: "0" }));
        }
        row.append(cell);
      }
      row.append(el("td", { class: "num total", text: format(total) }));
      body.append(row);
    }
    table.append(body);
    grid.replaceChildren(table);
  }

  function chunkSize() {
    return (state.info && state.info.limits.max_texts) || 1000;
  }

  function drawAspectFilter() {
    const want = state.aspect;
    $("#aspect-filter").hidden = !want;
    $("#aspect-clear").hidden = !want;
    if (want) {
      $("#aspect-filter-text").textContent = want.sentiment === null
        ? `Only reviews that mention ${want.aspect}.`
        : `Only reviews whose ${want.aspect} is ${want.sentiment}.`;
    }
  }

  function sortBy(key) {
    state.sort = { key, dir: state.sort.key === key ? -state.sort.dir : (key === "score" ? -1 : 1) };
    state.page = 0;
    drawTable();
  }

  // --- download: every original column plus label, score and probabilities --

  // This file is for spreadsheets, so it follows OWASP's advice on CSV injection: a cell that a spreadsheet could
  // run as a formula (starting with = + - @ tab or carriage return, and not a plain number) gets a leading ' so it
  // opens as text. The model saw the text as written; the API's CSV (/v1/predict/file) stays exact, for machines.
  function csvCell(value) {
    let text = value === null || value === undefined ? "" : String(value);
    if (/^[=+\-@\t\r]/.test(text) && !/^[+-]?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(text)) text = `'${text}`;
    return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  }

  function downloadFormat() {
    // Excel in gives Excel back (as do TSV, JSONL and Parquet, written by the server); pasted text and CSV give CSV.
    const formats = { ".xlsx": ["xlsx", "Excel"], ".tsv": ["tsv", "TSV"], ".jsonl": ["jsonl", "JSONL"],
      ".ndjson": ["jsonl", "JSONL"], ".parquet": ["parquet", "Parquet"] };
    const [suffix, name] = formats[state.suffix] || ["csv", "CSV"];
    return { suffix, name };
  }

  function downloadTable() {
    // Every original column, the prediction (label, score, prob_), then your labels and the aspects when known.
    // The aspects go in as one column of JSON, [{"aspect": "delivery", "sentiment": "negative"}, ...].
    const free = (name) => { while (state.columns.includes(name)) name = `predicted_${name}`; return name; };
    const withAspects = state.aspectsReady;
    const withYours = state.yours.size > 0;
    const aspectCell = (item) => JSON.stringify((item.aspects || []).map(({ aspect, sentiment }) => ({ aspect, sentiment })));
    const header = [...state.columns, ...(withYours ? [free("your_label")] : []), ...(withAspects ? [free("aspects")] : [])];
    const rows = state.rows.map((item) => [...item.values, ...(withYours ? [state.yours.get(item.row) ?? null] : []),
      ...(withAspects ? [aspectCell(item)] : [])]);
    if (!withAspects) {
      setStatus(state.aspectsFailed ? "Downloaded without aspects: they could not be found."
        : "Downloaded without aspects: they are still being found; download again when they are shown.");
    }
    return { header, rows };
  }

  async function download() {
    const { header, rows } = downloadTable();
    const { suffix } = downloadFormat();
    let blob, name;
    if (suffix === "csv") {
      const lines = [header, ...rows].map((row) => row.map(csvCell).join(","));
      // The byte-order mark makes Excel read the file as UTF-8 (Hindi stays Hindi).
      blob = new Blob(["\uFEFF" + lines.join("\r\n") + "\r\n"], { type: "text/csv;charset=utf-8" });
      name = `${state.name}.predictions.csv`;
    } else {
      try {
        ({ blob, name } = await apiFile(`/v1/table?format=${suffix}`, { method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ name: `${state.name}.predictions`, columns: header, rows }) }));
      } catch (error) {
        setStatus(`Could not write the file: ${error.message}`, "error");
        return;
      }
    }
    save(blob, name);
  }

  function save(blob, name) {
    const link = el("a", { href: URL.createObjectURL(blob), download: name });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  }

  // --- the report: `samiksha report` for the uploaded file, built by the server -------------------------------
  // The report is one HTML page with inline scripts (plotly.js and its charts), which this page's policy does not
  // run. It is shown in a sandboxed frame served with a policy of its own (inline scripts, nothing loaded from
  // anywhere): the frame loads /report-frame, then this page posts the report's HTML to it.

  function resetReport(upload) {
    state.upload = upload;
    state.report = null;
    $("#report").hidden = !upload;
    $("#report-where").hidden = !upload;
    $("#report-file").textContent = upload ? upload.name : "the file";
    $("#report-build").textContent = "Build the report";
    $("#report-build").disabled = false;
    $("#report-download").hidden = true;
    $("#report-status").textContent = "";
    $("#report-status").className = "status";
    const frame = $("#report-frame");
    frame.hidden = true;
    frame.removeAttribute("src");
  }

  function reportStatus(message, kind = "") {
    $("#report-status").textContent = message;
    $("#report-status").className = `status ${kind}`;
  }

  async function buildReport() {
    const { upload, generation } = state;
    if (!upload) return;
    const form = new FormData();
    form.append("file", upload.file);
    if (upload.column) form.append("text_column", upload.column);
    $("#report-build").disabled = true;
    reportStatus(`Building the report of ${upload.name}…`);
    let report;
    try {
      report = await apiFile("/v1/report", { method: "POST", body: form });
    } catch (error) {
      if (generation === state.generation) {
        reportStatus(`Could not build the report: ${error.message}`, "error");
        $("#report-build").disabled = false;
      }
      return;
    }
    if (generation !== state.generation) return;
    state.report = report;
    await showReport(await report.blob.text());
    if (generation !== state.generation) return;
    $("#report-build").textContent = "Build it again";
    $("#report-build").disabled = false;
    $("#report-download").hidden = false;
    reportStatus(`The report of ${upload.name} is shown below; download it to keep it (${report.name}, one ` +
      "file that opens offline in any browser)." + (report.notice ? ` ${report.notice}.` : ""), "ok");
  }

  function showReport(html) {
    const frame = $("#report-frame");
    return new Promise((resolve) => {
      frame.addEventListener("load", () => {
        frame.contentWindow.postMessage(html, "*");   // the sandboxed frame's origin is opaque: "*" is the only way
        resolve();
      }, { once: true });
      frame.hidden = false;
      frame.src = "/report-frame";
    });
  }

  function downloadReport() {
    if (state.report) save(state.report.blob, state.report.name);
  }

  // --- wiring -----------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", () => {
    $("#paste-form").addEventListener("submit", predictPasted);
    $("#file-form").addEventListener("submit", predictFile);
    $("#download").addEventListener("click", download);
    $("#report-build").addEventListener("click", buildReport);
    $("#report-download").addEventListener("click", downloadReport);
    $("#negative-more").addEventListener("click", () => {
      state.filter = "negative";
      state.page = 0;
      state.aspect = null;
      drawAspects();
      drawFilters();
      drawTable();
      $("#all").scrollIntoView({ behavior: "smooth", block: "start" });
    });
    $("#search").addEventListener("input", (event) => {
      state.query = event.target.value;
      state.page = 0;
      drawTable();
    });
    const turn = (step) => {
      state.page += step;
      drawTable();
      $("#all").scrollIntoView({ block: "start" });
    };
    $("#page-prev").addEventListener("click", () => turn(-1));
    $("#page-next").addEventListener("click", () => turn(1));
    $("#aspect-clear").addEventListener("click", () => setAspectFilter(null));
    $("#aspect-filter-clear").addEventListener("click", () => setAspectFilter(null));
    document.querySelectorAll("#table th button").forEach((button) => {
      button.addEventListener("click", () => sortBy(button.dataset.sort));
    });
    $("#api-key").addEventListener("change", (event) => {
      sessionStorage.setItem("samiksha-key", event.target.value.trim());
      loadModel();
    });
    loadModel();
  });
})();
