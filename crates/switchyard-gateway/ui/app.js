// switchyard console: polls the JSON API of docs/console.md once a second, for the visible
// page only (decisions keep streaming in the background), and paused while the tab is hidden.
"use strict";

const $ = (id) => document.getElementById(id);
const PAGES = ["overview", "decisions", "providers", "keys", "config", "try"];
const state = { page: "overview", next: 0, decisions: [], feedback: new Map(), prompts: false, charts: {}, routes: [] };

// ---- helpers -------------------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined) continue;
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c === null || c === undefined ? "–" : String(c)));
  return e;
}
const td = (cls, text) => el("td", { class: cls }, text);
const fill = (tbody, rows) => tbody.replaceChildren(...rows);
const num = (v, d = 0) => (v === null || v === undefined || Number.isNaN(v) ? "–" : Number(v).toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d }));
const usd = (v) => (v === null || v === undefined ? "–" : "$" + (Math.abs(v) < 0.01 ? Number(v).toFixed(6) : Number(v).toFixed(4)));
const time = (ms) => new Date(ms).toLocaleTimeString("en-GB", { hour12: false });

// The fields of a decision shown as the API spells them (JSON.parse's source text, where the
// browser has it): 0.5 stays "0.5", as `switchyard route` prints it.
const RAW = new Set(["score", "similarity"]);
const rawReviver = (k, v, ctx) => (RAW.has(k) && typeof v === "number" && ctx && typeof ctx.source === "string" ? ctx.source : v);

// GETs (polls) throw unless 2xx; POSTs throw only when refused (401/403) and otherwise give
// the status and JSON for the page to show.
async function api(path, body, reviver) {
  const opts = body === undefined ? { cache: "no-store" } : {
    method: "POST", body: JSON.stringify(body),
    headers: { "content-type": "application/json", "x-switchyard-console": "1" },
  };
  const r = await fetch("/ui/api/" + path, opts);
  const text = await r.text();
  let json;
  try { json = JSON.parse(text, reviver); } catch (_) { json = { error: { message: "not JSON (HTTP " + r.status + ")" } }; }
  const message = () => "HTTP " + r.status + (json && json.error && json.error.message ? ": " + json.error.message : "");
  if (r.status === 401 || r.status === 403 || (body === undefined && !r.ok)) throw new Error(message());
  return { status: r.status, json };
}

function apiOk() { $("api-error").hidden = true; }
function apiFailed(e) { const b = $("api-error"); b.textContent = "The gateway's console API did not answer: " + e.message; b.hidden = false; }

// ---- overview ------------------------------------------------------------------------------

// Axis labels with as many decimals as the step between them needs (0.0005, 0.001, 0.0015).
const ticks = (u, splits) => {
  const step = splits.length > 1 ? Math.abs(splits[1] - splits[0]) : 1;
  let d = 0;
  while (d < 8 && Math.abs(step * 10 ** d - Math.round(step * 10 ** d)) > 1e-6 * step * 10 ** d) d++;
  return splits.map((v) => (v === null ? "" : num(v, d)));
};

function chart(id, series, data) {
  const target = $(id);
  const width = Math.max(300, target.clientWidth || 400);
  if (!state.charts[id]) {
    const opts = { width, height: 200, series: [{}].concat(series), axes: [{}, { size: 60, values: ticks }], legend: { live: false } };
    state.charts[id] = new uPlot(opts, data, target);
  } else {
    state.charts[id].setData(data);
  }
}

function renderOverview(o) {
  const s = o.samples;
  const last = s.slice(-10);
  const req10 = last.reduce((a, x) => a + x.requests, 0), err10 = last.reduce((a, x) => a + x.errors, 0);
  $("card-rps").textContent = last.length ? num(req10 / last.length, 1) : "–";
  $("card-errors").textContent = req10 ? num((100 * err10) / req10, 1) + " %" : "–";
  const own = (v) => (v === null || v === undefined ? "–" : v === Infinity ? "> 10 ms" : num(v, v < 10 ? 1 : 0));
  $("card-own").textContent = own(o.totals.own_p50_us) + " / " + own(o.totals.own_p99_us) + " µs";
  $("card-tokens").textContent = num(o.totals.prompt_tokens) + " / " + num(o.totals.completion_tokens);
  $("card-cost").textContent = usd(o.totals.cost_usd);
  $("card-savings").textContent = usd(o.totals.savings_usd);
  const t = s.map((x) => x.t_ms / 1000);
  chart("chart-rps", [{ label: "requests/s", stroke: "#0b5cad" }, { label: "errors/s", stroke: "#b42318" }], [t, s.map((x) => x.requests), s.map((x) => x.errors)]);
  chart("chart-own", [{ label: "p50 µs", stroke: "#1a7f37" }, { label: "p99 µs", stroke: "#9a6700" }],
    [t, s.map((x) => x.own_p50_us), s.map((x) => (x.own_p99_us === Infinity ? null : x.own_p99_us))]);
  let c = 0, v = 0;
  chart("chart-cost", [{ label: "cost", stroke: "#b42318" }, { label: "saved", stroke: "#1a7f37" }],
    [t, s.map((x) => (c += x.cost_usd)), s.map((x) => (v += x.savings_usd))]);
  fill($("table-routes").tBodies[0], o.by_route.map((r) => el("tr", { "data-route": r.route }, td("col-route", r.route), td("", num(r.requests)), td("", num(r.errors)))));
  fill($("table-models").tBodies[0], o.by_model.map((m) => el("tr", { "data-model": m.model }, td("col-model", m.model), td("", m.provider), td("", num(m.requests)), td("", num(m.errors)),
    td("", num(m.prompt_tokens) + " / " + num(m.completion_tokens)), td("", usd(m.cost_usd)), td("", usd(m.savings_usd)))));
}

// ---- decisions -----------------------------------------------------------------------------

// The score's cut points: `threshold` in docs/console.md, `thresholds` in the decision log.
const cuts = (d) => (Array.isArray(d.thresholds) ? d.thresholds : Array.isArray(d.threshold) ? d.threshold : null);

function why(d) {
  const parts = [d.strategy || (d.cache === "hit" ? "cache" : "refused")];
  if (d.matched) parts.push(d.matched + (d.similarity !== null && d.similarity !== undefined ? " (similarity " + num(d.similarity, 3) + ")" : ""));
  if (d.score !== null && d.score !== undefined) parts.push("score " + num(d.score, 3) + (cuts(d) ? " vs " + cuts(d).join(", ") : ""));
  if (d.cache_similarity) parts.push("near-duplicate " + num(d.cache_similarity, 3));
  if (d.error && !d.model) parts.push(d.error);
  return parts.join(": ");
}

function decisionRow(d) {
  const tried = (d.attempts || []).slice(0, -1).map((a) => a.model + " (" + a.outcome + ")").join(", ");
  const fb = state.feedback.get(d.request_id);
  const row = el("tr", { "data-request-id": d.request_id, class: d.status >= 500 || d.status === 429 ? "error" : null },
    td("col-time", time(d.ts_ms)), td("col-route", d.route || "–"), td("col-strategy", why(d)), td("col-tier", d.tier),
    td("col-model", d.model), td("col-fallbacks", tried || "–"), td("col-cache", d.cache || "–"), td("col-status", d.status),
    td("col-latency", d.latency_ms === undefined ? "–" : num(d.latency_ms, 1) + " ms"), td("col-cost", usd(d.cost_usd)),
    td("col-feedback", fb ? String(fb.rating) + (fb.comment ? ": " + fb.comment : "") : "–"));
  if (state.prompts) row.append(td("col-prompt", d.prompt || ""));
  return row;
}

function renderDecisions() {
  const text = $("filter-text").value.trim().toLowerCase();
  const errorsOnly = $("filter-status").value === "errors", hitsOnly = $("filter-cache").checked;
  const rows = [];
  for (let i = state.decisions.length - 1; i >= 0; i--) {
    const d = state.decisions[i];
    if (errorsOnly && !(d.status >= 500 || d.status === 429)) continue;
    if (hitsOnly && d.cache !== "hit") continue;
    if (text && ![d.route, d.model, d.strategy, d.matched, d.tier, d.provider].some((f) => f && String(f).toLowerCase().includes(text))) continue;
    rows.push(decisionRow(d));
  }
  fill($("table-decisions").tBodies[0], rows);
  document.querySelector(".col-prompt-head").hidden = !state.prompts;
  $("decisions-empty").hidden = state.decisions.length > 0;
  $("decision-count").textContent = rows.length + " of " + state.decisions.length + " shown";
}

async function pollDecisions() {
  const { json } = await api("decisions?after=" + state.next);
  state.next = json.next;
  state.prompts = json.prompts;
  for (const r of json.records) {
    if (r.type === "feedback") state.feedback.set(r.request_id, r);
    else if (r.type === "request") state.decisions.push(r);
  }
  if (state.decisions.length > 500) state.decisions.splice(0, state.decisions.length - 500);
  if (json.records.length && state.page === "decisions") renderDecisions();
}

// ---- providers, keys, config ---------------------------------------------------------------

function renderProviders(p) {
  fill($("table-providers").tBodies[0], p.models.map((m) => el("tr", { "data-model": m.model, class: m.cooling ? "cooling" : null },
    td("col-model", m.model), td("", m.provider), td("", num(m.inflight)), td("", num(m.latency_ms, 1) + " ms"), td("", num(100 * m.error_rate, 1) + " %"),
    td("col-cooldown", m.cooling ? "cooling, " + num(m.cooldown_left_ms / 1000, 1) + " s left" : "–"),
    td("", num(m.attempts)), td("", num(m.failures)), td("", num(m.cooldowns)), td("", m.input_price + " / " + m.output_price))));
}

function budgetCell(spent, budget) {
  const cell = el("td", { class: budget !== null && spent >= budget ? "over" : null }, usd(spent) + (budget === null ? "" : " / " + usd(budget)));
  if (budget) cell.append(" ", el("progress", { max: String(budget), value: String(Math.min(spent, budget)), "aria-label": "share of the budget spent" }));
  return cell;
}

function renderKeys(k) {
  $("keys-note").textContent = [k.open ? "No client keys are configured: the API is open to anyone who reaches it." : "",
    k.fleet ? "Fleet mode: spend and counts are fleet-wide (this replica's view of the shared counters)." : ""].filter(Boolean).join(" ");
  const minute = (used, limit) => (limit === null ? num(used) + " (no limit)" : num(used) + " / " + num(limit) + " (" + num(limit - used) + " left)");
  fill($("table-keys").tBodies[0], k.keys.map((x) => el("tr", { "data-key": x.name }, td("col-key", x.name), budgetCell(x.spend_day_usd, x.budget_day_usd),
    budgetCell(x.spend_month_usd, x.budget_month_usd), td("", minute(x.rpm_used, x.rpm)), td("", minute(x.tpm_used, x.tpm)),
    td("", num(x.admitted)), td("", num(x.rate_limited)), td("", num(x.over_budget)), td("", num(x.forbidden)))));
}

function renderConfig(c) {
  $("config-hash").textContent = "config " + c.hash.slice(0, 12);
  $("config-hash-full").textContent = c.hash;
  fill($("table-reloads").tBodies[0], c.reloads.slice().reverse().map((r) => el("tr", { class: r.ok ? null : "error" },
    td("", time(r.t_ms)), td("col-status", r.ok ? "loaded" : "failed"), td("", r.ok ? r.hash : r.error), td("", r.field || "–"))));
  $("routes").replaceChildren(...c.routes.map((r) => el("div", { class: "route", "data-route": r.name },
    el("h4", {}, r.name + " (" + r.balance + ", default tier " + r.default_tier + ", baseline " + r.baseline + ")"),
    el("div", {}, "tiers: " + r.tiers.map((t) => t.name + " [" + t.models.join(", ") + "]").join(" → ") + (r.thresholds.length ? "; cut points " + r.thresholds.join(", ") : "")),
    el("ul", {}, ...r.layers.map((l) => el("li", {}, l.kind + " " + l.name + ": " + l.detail)),
      ...(r.cascade ? [el("li", {}, "cascade: cheapest tier first, climbing on failed checks")] : []),
      ...(r.consensus ? [el("li", {}, "consensus: models asked at once, the answer by vote")] : []),
      ...(r.cache ? [el("li", {}, "response cache on")] : [])))));
  fill($("table-config-models").tBodies[0], c.models.map((m) => el("tr", {}, td("", m.name), td("", m.provider), td("", m.input_price + " / " + m.output_price), td("", m.fallbacks.join(", ") || "–"))));
  const select = $("try-route");
  if (state.routes.join() !== c.routes.map((r) => r.name).join()) {
    state.routes = c.routes.map((r) => r.name);
    select.replaceChildren(el("option", { value: "" }, "every route"), ...state.routes.map((n) => el("option", { value: n }, n)));
  }
}

async function reload() {
  const out = $("reload-result"), field = $("reload-field");
  $("reload-button").disabled = true;
  try {
    const { status, json } = await api("reload", {});
    if (status === 200) { out.className = "ok"; out.textContent = "Reloaded: " + json.models + " models, config " + json.hash.slice(0, 12); field.textContent = ""; }
    else { out.className = "bad"; out.textContent = json.error.message; field.textContent = json.error.field || ""; }
    await refresh("config");
  } catch (e) { apiFailed(e); } finally { $("reload-button").disabled = false; }
}

// ---- try it --------------------------------------------------------------------------------

const raw = (v) => (v === null || v === undefined ? "–" : String(v));
// A score or similarity as the API wrote it (a string from rawReviver), else rounded as it rounds.
const shown = (v, digits) => (v === null || v === undefined ? "–" : typeof v === "string" ? v : Number(v).toFixed(digits));
async function decide(ev) {
  ev.preventDefault();
  const body = { prompt: $("try-prompt").value, route: $("try-route").value || null };
  const { status, json } = await api("route", body, rawReviver);
  if (status !== 200) { $("try-answer").className = "bad"; $("try-answer").textContent = json.error.message; return; }
  fill($("try-results").tBodies[0], json.decisions.map((d) => d.error
    ? el("tr", { "data-route": d.route }, td("col-route", d.route), el("td", { colspan: "7", class: "col-error" }, d.error))
    : el("tr", { "data-route": d.route }, td("col-route", d.route), td("col-model", d.model), td("col-provider", d.provider), td("col-strategy", d.strategy),
      td("col-tier", raw(d.tier)), td("col-matched", raw(d.matched)),
      td("col-score", shown(d.score, 6)), td("col-similarity", shown(d.similarity, 4)))));
}

async function send() {
  const route = $("try-route").value || state.routes[0];
  const box = $("try-answer");
  box.className = ""; box.textContent = "Sending to " + route + "…";
  const { status, json } = await api("send", { prompt: $("try-prompt").value, route, key: $("try-key").value || null });
  if (status !== 200) { box.className = "bad"; box.textContent = json.error.message; return; }
  box.className = json.status === 200 ? "" : "bad";
  box.textContent = "HTTP " + json.status + " from " + raw(json.model) + " (" + raw(json.provider) + ") via " + raw(json.route) +
    (json.cache ? ", cache " + json.cache : "") + ", request " + raw(json.request_id) + "\n\n" + json.text;
}

// ---- pages and polling ---------------------------------------------------------------------

const loaders = {
  overview: async () => renderOverview((await api("overview")).json),
  decisions: async () => renderDecisions(),
  providers: async () => renderProviders((await api("providers")).json),
  keys: async () => renderKeys((await api("keys")).json),
  config: async () => renderConfig((await api("config")).json),
  try: async () => {},
};

async function refresh(page) {
  try { await loaders[page](); apiOk(); } catch (e) { apiFailed(e); }
}

function show() {
  const page = PAGES.includes(location.hash.slice(1)) ? location.hash.slice(1) : "overview";
  state.page = page;
  for (const s of document.querySelectorAll("main > section")) s.hidden = s.dataset.page !== page;
  for (const a of document.querySelectorAll("nav a")) {
    if (a.dataset.page === page) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  refresh(page);
}

// One poll a second: the decision stream, then the visible page (the banner shows the first
// failure of the round, and goes once a whole round succeeds).
async function tick() {
  if (!document.hidden) {
    try {
      await pollDecisions();
      if (state.page !== "decisions" && state.page !== "try") await loaders[state.page]();
      apiOk();
    } catch (e) { apiFailed(e); }
  }
  setTimeout(tick, 1000);
}

window.addEventListener("hashchange", show);
window.addEventListener("resize", () => {
  for (const [id, c] of Object.entries(state.charts)) c.setSize({ width: Math.max(300, $(id).clientWidth || 400), height: 200 });
});
document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(state.page); });
$("decision-filters").addEventListener("input", renderDecisions);
$("decision-filters").addEventListener("submit", (e) => e.preventDefault());
$("reload-button").addEventListener("click", reload);
$("try-form").addEventListener("submit", (e) => decide(e).catch(apiFailed));
$("try-send").addEventListener("click", () => send().catch(apiFailed));
refresh("config");
show();
tick();
