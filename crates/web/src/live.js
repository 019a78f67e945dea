// tickerwatch web UI: live alert history. The page works without this file; with it, alerts
// that fire while the page is open appear at the top of the history (server-sent events from
// /api/alerts/stream, resumed after the newest alert the page already shows). Text is set with
// textContent only, never as markup.
"use strict";
(function () {
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
