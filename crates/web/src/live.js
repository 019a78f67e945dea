// tickerwatch web UI: live updates. Every page works without this file. With it, alerts that
// fire while the alerts page is open appear at the top of its history (server-sent events from
// /api/alerts/stream, resumed after the newest alert the page shows), and the jobs page's runs
// table follows new and finishing runs (GET /api/jobs/runs every 2 s while a run is active,
// every 10 s otherwise). On a symbol page, moving the pointer over the price chart draws a
// crosshair at the nearest candle and shows its values above the chart (the chart carries them in
// data- attributes; the table below it is the fallback). Text is set with textContent only, never
// as markup. A run's page follows the run (its status, per-symbol results and an analysis crew's
// steps as they happen): it fetches itself every second while the run is active and swaps in the
// new content when the server's fingerprint of it changed.
"use strict";
(function liveRuns() {
  const table = document.querySelector("table[data-live-runs]");
  if (!table || !window.fetch) return;
  const body = table.querySelector("tbody");
  const active = (status) => status === "queued" || status === "running";
  const statusClass = (status) =>
    status === "succeeded" ? "up" : status === "failed" || status === "interrupted" ? "down" : "warn";
  const when = (at) => (at ? at.slice(0, 19).replace("T", " ") : "—");
  const cell = (text, className) => {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    return td;
  };
  const link = (href, text) => {
    const a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    return a;
  };
  const row = (run) => {
    const tr = document.createElement("tr");
    tr.dataset.runId = String(run.id);
    const id = cell("");
    id.appendChild(link("/jobs/runs/" + run.id, "#" + run.id));
    tr.appendChild(id);
    tr.appendChild(cell(run.job, "text"));
    const status = cell(run.status, "text " + statusClass(run.status));
    status.dataset.field = "status";
    tr.appendChild(status);
    tr.appendChild(cell(run.trigger, "hide-narrow"));
    tr.appendChild(cell(when(run.queued_at)));
    const finished = cell(when(run.finished_at), "hide-narrow");
    finished.dataset.field = "finished";
    tr.appendChild(finished);
    tr.appendChild(cell("", "text"));
    return tr;
  };
  const update = (tr, run) => {
    const status = tr.querySelector('[data-field="status"]');
    if (status.textContent !== run.status) {
      status.textContent = run.status;
      status.className = "text " + statusClass(run.status);
    }
    tr.querySelector('[data-field="finished"]').textContent = when(run.finished_at);
    const exportCell = tr.lastElementChild;
    if (run.export_id && !exportCell.querySelector("a")) {
      exportCell.textContent = "";
      exportCell.appendChild(link("/api/exports/" + run.export_id + "/download", "download"));
    }
  };
  let busy = Array.from(table.querySelectorAll('[data-field="status"]')).some((td) => active(td.textContent));
  const poll = async () => {
    try {
      const response = await fetch("/api/jobs/runs?limit=50", { headers: { accept: "application/json" } });
      if (!response.ok) throw new Error("status " + response.status);
      const runs = await response.json();
      for (const run of runs.slice().reverse()) {
        const existing = body.querySelector('tr[data-run-id="' + run.id + '"]');
        if (existing) update(existing, run);
        else body.insertBefore(row(run), body.firstChild);
      }
      const empty = document.getElementById("no-runs");
      if (runs.length) {
        table.closest(".panel").hidden = false;
        if (empty) empty.hidden = true;
      }
      busy = runs.some((run) => active(run.status));
      setTimeout(poll, busy ? 2000 : 10000);
    } catch (error) {
      // Signed out (with protect_reads) or the server restarting: reload while something runs.
      if (busy) setTimeout(() => location.reload(), 3000);
    }
  };
  setTimeout(poll, 2000);
})();
(function liveAlerts() {
  const table = document.querySelector("table[data-live-alerts]");
  if (!table || !window.EventSource) return;
  const body = table.querySelector("tbody");
  const empty = document.getElementById("no-alerts");
  const lastId = Number(table.dataset.lastId || "0");
  const money = (value) =>
    value === null || value === undefined ? "—" : Math.abs(value) < 1 ? value.toFixed(4) : value.toFixed(2);
  const cell = (text, className) => {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    return td;
  };
  const source = new EventSource("/api/alerts/stream?since_id=" + lastId);
  source.addEventListener("alert", (event) => {
    const alert = JSON.parse(event.data);
    const row = document.createElement("tr");
    row.className = "unread fresh";
    row.dataset.alertId = String(alert.id);
    row.appendChild(cell(alert.fired_at.slice(0, 16).replace("T", " ")));
    const symbol = cell("", "text");
    const link = document.createElement("a");
    link.href = "/symbols/" + encodeURIComponent(alert.symbol);
    link.textContent = alert.symbol;
    symbol.appendChild(link);
    row.appendChild(symbol);
    row.appendChild(cell(alert.rule, "text"));
    row.appendChild(cell(money(alert.observed)));
    row.appendChild(cell(money(alert.threshold), "hide-narrow"));
    row.appendChild(cell(money(alert.previous), "hide-narrow"));
    row.appendChild(cell(alert.provider || "—", "text hide-narrow"));
    row.appendChild(cell("new — reload to acknowledge", "text warn"));
    body.insertBefore(row, body.firstChild);
    table.closest(".panel").hidden = false;
    if (empty) empty.hidden = true;
  });
})();
(function crosshair() {
  const svg = document.querySelector("svg[data-candles]");
  if (!svg || !svg.createSVGPoint) return;
  const rows = svg.dataset.candles.split(";").map((row) => row.split(","));
  const xs = rows.map((row) => Number(row[0]));
  const [, top, , bottom] = svg.dataset.plot.split(",").map(Number);
  const ns = "http://www.w3.org/2000/svg";
  const line = document.createElementNS(ns, "line");
  for (const [name, value] of [["y1", top], ["y2", bottom], ["stroke", "#4b5563"], ["stroke-width", "1"],
    ["stroke-dasharray", "4 3"], ["visibility", "hidden"], ["pointer-events", "none"]]) {
    line.setAttribute(name, String(value));
  }
  line.classList.add("crosshair");
  svg.appendChild(line);
  const readout = document.createElement("p");
  readout.className = "chart-readout";
  readout.setAttribute("aria-live", "polite");
  readout.textContent = "Point at a candle to read its values.";
  svg.parentNode.insertBefore(readout, svg);
  const volume = (text) => (text ? Number(text).toLocaleString("en-US") : "—");
  const part = (label, value) => (value ? label + " " + value : "");
  const nearest = (x) => {
    let lo = 0;
    let hi = xs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (xs[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    return lo > 0 && x - xs[lo - 1] < xs[lo] - x ? lo - 1 : lo;
  };
  const show = (event) => {
    const matrix = svg.getScreenCTM();
    if (!matrix) return;
    const point = svg.createSVGPoint();
    point.x = event.clientX;
    point.y = event.clientY;
    const x = point.matrixTransform(matrix.inverse()).x;
    const index = nearest(x);
    const [cx, date, open, high, low, close, vol, sma20, sma50, sma200, rsi, macd, signal] = rows[index];
    line.setAttribute("x1", cx);
    line.setAttribute("x2", cx);
    line.setAttribute("visibility", "visible");
    readout.dataset.date = date;
    readout.textContent = [
      date,
      "O " + open + "  H " + high + "  L " + low + "  C " + close,
      "Vol " + volume(vol),
      part("SMA 20", sma20),
      part("SMA 50", sma50),
      part("SMA 200", sma200),
      part("RSI", rsi),
      macd ? "MACD " + macd + (signal ? " / " + signal : "") : "",
    ].filter(Boolean).join(" · ");
  };
  svg.addEventListener("pointermove", show);
  svg.addEventListener("pointerdown", show);
  svg.addEventListener("pointerleave", () => line.setAttribute("visibility", "hidden"));
})();
(function liveRun() {
  let root = document.querySelector("[data-live-run]");
  if (!root || !window.fetch || !window.DOMParser) return;
  const poll = async () => {
    if (root.dataset.active !== "true") return;
    try {
      const response = await fetch(location.href, { headers: { accept: "text/html" } });
      if (!response.ok) throw new Error("status " + response.status);
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const next = page.querySelector("[data-live-run]");
      if (next && next.dataset.fingerprint !== root.dataset.fingerprint) {
        const fresh = document.importNode(next, true);
        root.replaceWith(fresh);
        root = fresh;
      }
    } catch (error) {
      // Signed out or the server is restarting: try again on the next tick.
    }
    setTimeout(poll, 1000);
  };
  setTimeout(poll, 1000);
})();
