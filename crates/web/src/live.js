// tickerwatch web UI: live updates. Every page works without this file. With it, alerts that
// fire while the alerts page is open appear at the top of its history (server-sent events from
// /api/alerts/stream, resumed after the newest alert the page shows), and the jobs page's runs
// table follows new and finishing runs (GET /api/jobs/runs every 2 s while a run is active,
// every 10 s otherwise). Text is set with textContent only, never as markup.
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
      // Reads need a token here (protect_reads): fall back to reloading while something runs.
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
