// The supervisor wallboard: queues, agents, help requests and campaigns, live from
// /api/events. Each ACD event updates its agent's row at once and triggers a (coalesced)
// reload of /api/queues and /api/agents, which hold the figures; help requests and
// campaign figures arrive as events of their own; a reconnect's snapshot resets all,
// and a slow resync (30 s) catches anything missed.

import { api, EventStream } from "./api.js";
import { WaitChart } from "./chart.js";
import { duration, el, percent, seconds, stateLabel } from "./format.js";

const queues = new Map();
const agents = new Map();
const helps = new Map(); // open help requests by id
const campaigns = new Map();
const RESYNC_MS = 30_000;
let supervisorPauseReason = "supervisor"; // or the first configured reason, if none is

async function loadPauseReasons() {
  try {
    const { reasons } = await api.get("/api/pause-reasons");
    const codes = reasons.map((r) => r.code);
    if (codes.length && !codes.includes("supervisor")) supervisorPauseReason = codes[0];
  } catch (err) {
    notice(`Could not load the pause reasons: ${err.message}`, "error");
  }
}
let offset = 0; // server clock - browser clock, seconds
let chart = null;

const $ = (selector) => document.querySelector(selector);
const serverNow = () => Date.now() / 1000 + offset;

// ----- notices ------------------------------------------------------------------------

function notice(text, kind = "info") {
  const box = $("#notice");
  box.textContent = text;
  box.dataset.kind = kind;
  box.hidden = !text;
}

// ----- queues -------------------------------------------------------------------------

function longestWait(q) {
  if (!q.waiting) return 0;
  return q.longest_wait_s + Math.max(0, serverNow() - q.at);
}

function agentSummary(byState) {
  const parts = Object.entries(byState || {})
    .filter(([, n]) => n)
    .map(([state, n]) => `${n} ${stateLabel(state)}`);
  return parts.length ? parts.join(", ") : "none";
}

function queueRow(q) {
  const total = q.total || {};
  const today = q.today || {};
  const recent = q.last_30m || {};
  const abandonRate = total.offered ? total.abandoned / total.offered : null;
  const num = (field, text) => el("td", { "data-field": field, class: "num", text });
  return el(
    "tr",
    { "data-queue": q.queue, "data-waiting": String(q.waiting) },
    el("th", { scope: "row", text: q.queue }),
    el("td", { "data-field": "waiting", class: q.waiting ? "num hot" : "num", text: String(q.waiting) }),
    num("longest-wait", duration(longestWait(q))),
    num("sl-today", percent(today.service_level)),
    num("sl-30m", percent(recent.service_level)),
    num("asa-today", seconds(today.asa_s)),
    num("asa-30m", seconds(recent.asa_s)),
    num("abandon-today", percent(today.abandon_rate)),
    num("abandon-30m", percent(recent.abandon_rate)),
    num("sl-total", percent(total.service_level)),
    num("abandoned", percent(abandonRate)),
    el("td", { "data-field": "offered", class: "num", text: String(total.offered ?? 0) }),
    el("td", { "data-field": "agents", text: agentSummary(q.agents) }),
  );
}

function renderQueues() {
  const body = $("#queues tbody");
  const rows = [...queues.values()].sort((a, b) => a.queue.localeCompare(b.queue)).map(queueRow);
  body.replaceChildren(...rows);
  $("#queues-empty").hidden = rows.length > 0;
}

function sampleChart() {
  if (!chart) return;
  let waiting = 0;
  let answered = 0;
  let inSl = 0;
  for (const q of queues.values()) {
    waiting += q.waiting;
    const i = q.interval || {};
    answered += (i.answered || 0) + (i.abandoned || 0);
    inSl += i.answered_in_sl || 0;
  }
  chart.add(serverNow(), waiting, answered ? inSl / answered : null);
}

// ----- agents -------------------------------------------------------------------------

const ACTIONS = [
  ["listen", "Listen"],
  ["whisper", "Whisper"],
  ["barge", "Barge"],
];

function agentRow(a) {
  const paused = a.state === "paused";
  const loggedOut = a.state === "logged_out";
  const state = stateLabel(a.state) + (paused && a.pause_reason ? ` (${a.pause_reason})` : "");
  const buttons = el("div", { class: "actions" });
  if (!loggedOut) {
    for (const [how, label] of ACTIONS) {
      buttons.append(el("button", { type: "button", "data-action": "spy", "data-how": how, text: label }));
    }
    buttons.append(paused
      ? el("button", { type: "button", "data-action": "unpause", text: "Unpause" })
      : el("button", { type: "button", "data-action": "pause", text: "Pause" }));
    buttons.append(el("button", { type: "button", "data-action": "logout", class: "danger", text: "Log out" }));
  }
  return el(
    "tr",
    { "data-agent": a.agent, "data-state": a.state },
    el("th", { scope: "row", text: a.agent }),
    el("td", { text: a.name || "" }),
    el("td", { "data-field": "state" }, el("span", { class: `state state-${a.state}`, text: state })),
    el("td", { "data-field": "in-state", class: "num", text: duration(serverNow() - a.since) }),
    el("td", { text: (a.queues || []).join(", ") }),
    el("td", { class: "num", text: String(a.calls_taken ?? 0) }),
    el("td", {}, buttons),
  );
}

function renderAgents() {
  const body = $("#agents tbody");
  const list = [...agents.values()].sort((a, b) => a.agent.localeCompare(b.agent));
  const existing = new Map([...body.children].map((tr) => [tr.dataset.agent, tr]));
  const rows = list.map((a) => {
    const old = existing.get(a.agent);
    const row = agentRow(a);
    if (old && old.dataset.state === row.dataset.state && old.dataset.since === String(a.since)) {
      // Same state: keep the row (and its focus); only the figures change.
      old.replaceChildren(...row.children);
      return old;
    }
    row.dataset.since = String(a.since);
    return row;
  });
  body.replaceChildren(...rows);
  $("#agents-empty").hidden = list.length > 0;
  const counts = {};
  for (const a of list) counts[a.state] = (counts[a.state] || 0) + 1;
  $("#agent-counts").textContent = list.length ? agentSummary(counts) : "";
}

function tick() {
  for (const cell of document.querySelectorAll("#agents tr[data-agent] [data-field=in-state]")) {
    const a = agents.get(cell.parentElement.dataset.agent);
    if (a) cell.textContent = duration(serverNow() - a.since);
  }
  for (const row of document.querySelectorAll("#queues tr[data-queue]")) {
    const q = queues.get(row.dataset.queue);
    if (q) row.querySelector("[data-field=longest-wait]").textContent = duration(longestWait(q));
  }
  for (const row of document.querySelectorAll("#help tr[data-help]")) {
    const h = helps.get(Number(row.dataset.help));
    if (h) row.querySelector("[data-field=waiting]").textContent = duration(serverNow() - h.at);
  }
}

// ----- help requests ------------------------------------------------------------------

function helpRow(h) {
  const buttons = el("div", { class: "actions" });
  for (const [how, label] of ACTIONS) {
    buttons.append(el("button", { type: "button", "data-action": "answer", "data-how": how, text: label }));
  }
  buttons.append(el("button", { type: "button", "data-action": "close", text: "Close" }));
  const answered = h.answered_by ? `${h.answered_by} (${h.answered_how})` : "–";
  return el(
    "tr",
    { "data-help": String(h.id), "data-agent": h.agent, "data-answered": h.answered_by ? "" : null },
    el("th", { scope: "row", text: h.agent }),
    el("td", { "data-field": "queue", text: h.queue || "–" }),
    el("td", { "data-field": "note", class: "note", text: h.note || "" }),
    el("td", { "data-field": "waiting", class: "num", text: duration(serverNow() - h.at) }),
    el("td", { "data-field": "answered", text: answered }),
    el("td", {}, buttons),
  );
}

function renderHelp() {
  const list = [...helps.values()].sort((a, b) => b.at - a.at || b.id - a.id); // newest first
  $("#help tbody").replaceChildren(...list.map(helpRow));
  $("#help-empty").hidden = list.length > 0;
  $("#help-count").textContent = list.length ? String(list.length) : "";
}

async function loadHelp() {
  try {
    const { requests } = await api.get("/api/help");
    helps.clear();
    for (const h of requests) helps.set(h.id, h);
    renderHelp();
  } catch (err) {
    notice(`Could not load the help requests: ${err.message}`, "error");
  }
}

function onHelp(item) {
  if (item.type === "help_closed") helps.delete(item.id);
  else helps.set(item.id, item);
  renderHelp();
}

async function helpAction(button) {
  const row = button.closest("tr[data-help]");
  const id = row.dataset.help;
  const agent = row.dataset.agent;
  try {
    if (button.dataset.action === "answer") {
      const endpoint = $("#my-phone").value.trim();
      if (!endpoint) {
        notice("Type your own phone (My phone) first: ccpbx calls it to answer the request.", "error");
        $("#my-phone").focus();
        return;
      }
      const answered = await api.post(`/api/help/${id}/answer`, { endpoint, how: button.dataset.how });
      onHelp({ type: "help_answered", ...answered });
      notice(`Calling ${endpoint} to ${button.dataset.how} on agent ${agent}.`);
    } else if (button.dataset.action === "close") {
      await api.post(`/api/help/${id}/close`);
      onHelp({ type: "help_closed", id: Number(id) });
    }
  } catch (err) {
    notice(`Help request of agent ${agent}: ${err.message}`, "error");
  }
}

async function agentAction(button) {
  const row = button.closest("tr[data-agent]");
  const agent = row.dataset.agent;
  const base = `/api/agents/${encodeURIComponent(agent)}`;
  const action = button.dataset.action;
  try {
    if (action === "spy") {
      const endpoint = $("#my-phone").value.trim();
      if (!endpoint) {
        notice("Type your own phone (My phone) first: ccpbx calls it to listen in.", "error");
        $("#my-phone").focus();
        return;
      }
      await api.post(`${base}/spy`, { endpoint, how: button.dataset.how });
      notice(`Calling ${endpoint} to ${button.dataset.how} on agent ${agent}.`);
    } else if (action === "pause") {
      await api.post(`${base}/pause`, { reason: supervisorPauseReason });
    } else if (action === "unpause") {
      await api.post(`${base}/unpause`);
    } else if (action === "logout") {
      if (!window.confirm(`Log agent ${agent} out?`)) return;
      await api.post(`${base}/logout`);
    }
  } catch (err) {
    notice(`Agent ${agent}: ${err.message}`, "error");
  }
}

// ----- loading and live events --------------------------------------------------------

let loading = null;
let again = false;

async function reload() {
  if (loading) {
    again = true;
    return loading;
  }
  loading = (async () => {
    let stale = 0;
    do {
      again = false;
      try {
        const [q, a] = await Promise.all([api.get("/api/queues"), api.get("/api/agents")]);
        // An event came in meanwhile: these figures may predate it (and would undo
        // what the event just showed), so fetch again; under a steady stream, show
        // every third answer all the same.
        if (again && ++stale % 3 !== 0) continue;
        applyQueues(q.queues);
        applyAgents(a.agents);
      } catch (err) {
        notice(`Could not load the figures: ${err.message}`, "error");
      }
    } while (again);
    loading = null;
  })();
  return loading;
}

function applyQueues(list) {
  queues.clear();
  for (const q of list) {
    queues.set(q.queue, q);
    offset = q.at - Date.now() / 1000;
  }
  renderQueues();
  sampleChart();
}

function applyAgents(list) {
  const before = new Map(agents);
  agents.clear();
  for (const a of list) {
    const shown = before.get(a.agent);
    if (shown && shown.since > a.since) {
      // An event newer than these figures already moved this agent on: keep its state.
      Object.assign(a, { state: shown.state, since: shown.since, pause_reason: shown.pause_reason });
    }
    agents.set(a.agent, a);
  }
  renderAgents();
}

function onMessage(item) {
  if (item.type === "snapshot") {
    applyQueues(item.queues);
    applyAgents(item.agents);
    reload(); // the snapshot has no per-agent counts: fetch them too
    loadHelp(); // nor the help requests, nor the campaigns
    loadCampaigns();
    return;
  }
  if (item.type === "help_requested" || item.type === "help_answered" || item.type === "help_closed") {
    onHelp(item);
    return;
  }
  if (item.type === "campaign") {
    campaigns.set(item.name, item);
    renderCampaigns();
    return;
  }
  if (item.type !== "acd") return;
  const known = item.agent_id && agents.get(item.agent_id);
  if (known && item.state) {
    known.state = item.state;
    known.since = item.at;
    if (item.kind === "agent_paused") known.pause_reason = item.reason || null;
    renderAgents();
  }
  reload();
}

function onStatus(state, detail) {
  const badge = $("#connection");
  badge.dataset.state = state;
  badge.textContent = state === "live" ? "live" : state === "connecting" ? "connecting…" : `disconnected — ${detail}`;
  document.body.classList.toggle("stale", state === "disconnected");
}

// ----- campaigns (pushed as "campaign" events when their figures change) --------------

function campaignRow(c) {
  const rate = c.abandon_rate || {};
  const over = (v) => (v !== null && v !== undefined && rate.target !== undefined && v > rate.target ? "num hot" : "num");
  return el(
    "tr",
    { "data-campaign": c.name },
    el("th", { scope: "row", text: c.name }),
    el("td", { text: c.mode }),
    el("td", { text: c.dialing ? "yes" : c.blocked ? `no (${stateLabel(c.blocked)})` : "no" }),
    el("td", { class: "num", text: String(c.in_flight ?? 0) }),
    el("td", { "data-field": "leads-left", class: "num", text: c.leads_left === null || c.leads_left === undefined ? "–" : String(c.leads_left) }),
    el("td", { class: "num", text: String(c.placed ?? 0) }),
    el("td", { class: "num", text: String(c.connected ?? 0) }),
    el("td", { class: over(rate.today), text: percent(rate.today) }),
    el("td", { class: over(rate.last_24h), text: percent(rate.last_24h) }),
    el("td", { class: over(rate.last_30d), text: percent(rate.last_30d) }),
    el("td", { class: "num", text: percent(rate.target) }),
  );
}

let dialer = true; // false once /api/campaigns says there is no dialer here

function renderCampaigns() {
  const list = [...campaigns.values()].sort((a, b) => a.name.localeCompare(b.name));
  $("#campaigns-panel").hidden = false;
  $("#campaigns tbody").replaceChildren(...list.map(campaignRow));
  $("#campaigns-empty").hidden = list.length > 0;
}

async function loadCampaigns() {
  if (!dialer) return;
  try {
    const { campaigns: list } = await api.get("/api/campaigns");
    campaigns.clear();
    for (const c of list) campaigns.set(c.name, c);
    renderCampaigns();
  } catch (err) {
    if (err.status === 404 || err.status === 403) dialer = false; // no dialer here, or not ours
  }
}

// ----- start --------------------------------------------------------------------------

async function start() {
  const phone = $("#my-phone");
  phone.value = localStorage.getItem("ccpbx.myPhone") || "";
  phone.addEventListener("change", () => localStorage.setItem("ccpbx.myPhone", phone.value.trim()));
  $("#agents tbody").addEventListener("click", (ev) => {
    const button = ev.target.closest("button[data-action]");
    if (button) agentAction(button);
  });
  $("#help tbody").addEventListener("click", (ev) => {
    const button = ev.target.closest("button[data-action]");
    if (button) helpAction(button);
  });
  try {
    const { default: UPlot } = await import(document.body.dataset.uplot);
    chart = new WaitChart($("#chart"), UPlot);
  } catch (err) {
    notice(`The chart could not start: ${err.message}`, "error");
  }
  loadPauseReasons();
  new EventStream({ onMessage, onStatus }).open();
  setInterval(tick, 1000);
  setInterval(sampleChart, 5000);
  setInterval(() => {
    loadHelp();
    loadCampaigns();
  }, RESYNC_MS);
}

start();
