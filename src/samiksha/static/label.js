// The labelling page: one review at a time; number keys label, s skips, Backspace undoes. Every answer from the
// server carries the next reviews, so the page moves on as soon as a label is saved.
(() => {
  "use strict";
  const KNOWN = ["negative", "neutral", "positive"];
  const $ = (id) => document.getElementById(id);
  const labelClass = (label) => `label-${KNOWN.includes(label) ? label : "other"}`;
  const hasDevanagari = (text) => /[\u0900-\u097F]/.test(text);
  let state = null;
  let busy = false;
  let polling = null;
  // This tab's own id, sent with every change: Backspace undoes this tab's labels only, never another tab's.
  const session = Array.from(crypto.getRandomValues(new Uint8Array(16)),
    (byte) => byte.toString(16).padStart(2, "0")).join("");

  async function call(path, options = {}) {
    const response = await fetch(`/label/api/${path}`, {
      headers: { "Content-Type": "application/json" }, ...options,
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error || `the server answered ${response.status}`);
    return body;
  }

  function say(message, kind = "") {
    const status = $("status");
    status.textContent = message;
    status.className = `status ${kind}`;
  }

  function current() {
    return state && state.next.length ? state.next[0] : null;
  }

  function renderChoices() {
    const choices = $("choices");
    if (choices.childElementCount === state.labels.length) return;
    choices.replaceChildren(...state.labels.map((label, i) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = labelClass(label);
      button.dataset.label = label;
      const key = document.createElement("kbd");
      key.textContent = String(i + 1);
      button.append(key, ` ${label}`);
      button.addEventListener("click", () => give(label));
      return button;
    }));
    const keys = state.labels.map((label, i) => `${i + 1} = ${label}`).join(" · ");
    $("legend").textContent = `Keys: ${keys} · s = skip · Backspace = undo`;
  }

  function renderReview() {
    const review = current();
    const box = $("review");
    for (const button of $("choices").children) {
      button.classList.toggle("guessed", Boolean(review && review.guess === button.dataset.label));
      button.disabled = !review;
    }
    $("skip").disabled = !review;
    if (!review) {
      box.textContent = state.labelled ? "Every review in the pool is labelled. Download the labels or train a model." : "The pool is empty.";
      box.removeAttribute("lang");
      $("guess").textContent = "";
      box.dataset.rowId = "";
      return;
    }
    box.textContent = review.text;
    box.dataset.rowId = review.row_id;
    if (hasDevanagari(review.text)) box.setAttribute("lang", "hi"); else box.removeAttribute("lang");
    $("guess").textContent = review.guess
      ? `Model's guess: ${review.guess} (${Math.round(review.score * 100)}%) · ${review.reason}`
      : `Why this one: ${review.reason}`;
  }

  function renderProgress() {
    const done = state.labelled;
    const share = Math.min(1, done / state.target);
    $("goal-text").textContent = `${done} of ${state.target} labels (target) · ${state.total} reviews in the pool` +
      (state.skipped ? ` · ${state.skipped} skipped` : "");
    $("goal-fill").style.width = `${share * 100}%`;
    $("goal-bar").setAttribute("aria-valuemax", String(state.target));
    $("goal-bar").setAttribute("aria-valuenow", String(done));
    $("counts").replaceChildren(...state.labels.map((label) => {
      const figure = document.createElement("div");
      figure.className = "figure";
      figure.dataset.label = label;
      const strong = document.createElement("strong");
      strong.textContent = String(state.counts[label] || 0);
      const name = document.createElement("span");
      name.textContent = label;
      figure.append(strong, name);
      return figure;
    }));
  }

  function renderModel() {
    const quality = $("quality");
    const metrics = state.metrics;
    if (!metrics) {
      quality.replaceChildren(Object.assign(document.createElement("p"), {
        className: "muted",
        textContent: state.model === "quick model"
          ? "No trained model yet; a quick model on your labels picks and guesses. Train one to see how good it is."
          : "No model trained yet.",
      }));
    } else {
      const line = document.createElement("p");
      const interval = metrics.ci ? ` (95% interval ${metrics.ci.macro_f1[0].toFixed(2)}–${metrics.ci.macro_f1[1].toFixed(2)})` : "";
      line.id = "model-score";
      line.textContent = `${state.model}: macro-F1 ${metrics.macro_f1.toFixed(3)}${interval}, accuracy ` +
        `${Math.round(metrics.accuracy * 100)}%, on ${metrics.n} labelled reviews it did not train on.`;
      quality.replaceChildren(line);
    }
    const training = state.training;
    const running = training.state === "running";
    $("train").disabled = running;
    $("training").hidden = training.state === "idle";
    $("train-fill").style.width = `${Math.round((training.progress || 0) * 100)}%`;
    $("train-bar").setAttribute("aria-valuenow", String(Math.round((training.progress || 0) * 100)));
    $("train-text").textContent = `${training.state}: ${training.message} (${Math.round(training.seconds)} s)`;
    if (running && !polling) polling = setInterval(refresh, 1000);
    if (!running && polling) { clearInterval(polling); polling = null; }
  }

  function render(next) {
    state = next;
    renderChoices();
    renderReview();
    renderProgress();
    renderModel();
  }

  async function act(path, body) {
    if (busy) return;
    busy = true;
    try {
      const answer = await call(path, { method: "POST", body: body ? JSON.stringify(body) : undefined });
      render(answer.state || answer);
      return answer;
    } catch (error) {
      say(error.message, "error");
    } finally {
      busy = false;
    }
  }

  async function give(label) {
    const review = current();
    if (!review) return;
    if (await act("label", { row_id: review.row_id, label, session })) say(`saved: ${label}`, "ok");
  }

  async function skip() {
    const review = current();
    if (review && await act("skip", { row_id: review.row_id, session })) say("skipped; it comes back at the end");
  }

  async function undo() {
    const answer = await act("undo", { session });
    if (!answer) return;
    if (!answer.undone) say("nothing to undo");
    else say(answer.restored ? `undone: back to ${answer.restored}` : "undone: label it again");
  }

  async function refresh() {
    try { render(await call("state")); } catch (error) { say(error.message, "error"); }
  }

  async function trainNow() {
    try {
      await call("train", { method: "POST" });
      say("training in the background; keep labelling");
      await refresh();
    } catch (error) { say(error.message, "error"); }
  }

  async function audit() {
    const list = $("suspects");
    $("audit").disabled = true;
    say("checking your labels…");
    try {
      const suspects = await call("audit");
      list.replaceChildren(...suspects.map((s) => {
        const item = document.createElement("li");
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = `${s.text} — you said ${s.label}; looks ${s.suggested} (${Math.round(s.confidence * 100)}%)`;
        if (hasDevanagari(s.text)) button.setAttribute("lang", "hi");
        button.addEventListener("click", async () => {
          try { render(await call(`review/${encodeURIComponent(s.row_id)}`)); say("label it again"); }
          catch (error) { say(error.message, "error"); }
        });
        item.append(button);
        return item;
      }));
      say(suspects.length ? "most likely mistakes first" : "no label looks wrong", "ok");
    } catch (error) { say(error.message, "error"); } finally { $("audit").disabled = false; }
  }

  document.addEventListener("keydown", (event) => {
    if (!state || event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA")) return;
    const index = Number.parseInt(event.key, 10);
    if (index >= 1 && index <= state.labels.length) { event.preventDefault(); give(state.labels[index - 1]); }
    else if (event.key === "s" || event.key === "S") { event.preventDefault(); skip(); }
    else if (event.key === "Backspace") { event.preventDefault(); undo(); }
  });
  $("skip").addEventListener("click", skip);
  $("undo").addEventListener("click", undo);
  $("train").addEventListener("click", trainNow);
  $("audit").addEventListener("click", audit);
  refresh();
})();
