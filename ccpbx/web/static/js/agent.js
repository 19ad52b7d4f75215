// The agent panel: state and controls, the screen pop, call control, dispositions,
// preview, manual dial and help, live from /api/events. The page loads what it needs
// once (and again after the websocket reconnects); everything else arrives as events.

import { api, ApiError, EventStream } from "./api.js";
import { duration, el, stateLabel } from "./format.js";

const $ = (selector) => document.querySelector(selector);
const me = document.body.dataset.agent;
const base = `/api/agents/${encodeURIComponent(me)}`;
const FALLBACK_REASONS = [
  { code: "break", label: "Break" },
  { code: "lunch", label: "Lunch" },
  { code: "meeting", label: "Meeting" },
  { code: "training", label: "Training" },
  { code: "admin", label: "Admin work" },
];

const panel = {
  view: null, // the agent as /api/agents shows it
  pop: null,
  call: null,
  dispositions: [],
  preview: null,
  lastCallId: null,
  offset: 0, // server clock - browser clock, seconds
};

const serverNow = () => Date.now() / 1000 + panel.offset;

// ----- notices ------------------------------------------------------------------------

function notice(text, kind = "info") {
  const box = $("#notice");
  box.textContent = text;
  box.dataset.kind = kind;
  box.hidden = !text;
}

function failed(what, err) {
  const detail = err instanceof ApiError ? err.message : String(err);
  notice(`${what}: ${detail}`, "error");
}

// A person's action: its error replaces the notice, its success clears an old error.
async function act(what, fn) {
  try {
    const result = await fn();
    notice("");
    return result;
  } catch (err) {
    failed(what, err);
    return null;
  }
}

// Work the page does by itself (loads after events): only an error shows.
async function background(what, fn) {
  try {
    return await fn();
  } catch (err) {
    failed(what, err);
    return null;
  }
}

// A GET whose 404 (or 409) means "nothing now", not an error.
async function optional(path) {
  try {
    return await api.get(path);
  } catch (err) {
    if (err instanceof ApiError && (err.status === 404 || err.status === 409)) return null;
    throw err;
  }
}

// ----- state bar ----------------------------------------------------------------------

function renderState() {
  const v = panel.view;
  const state = v ? v.state : "logged_out";
  const badge = $("#agent-state");
  badge.dataset.state = state;
  badge.textContent = stateLabel(state);
  document.body.dataset.agentState = state;
  $("#agent-name").textContent = v && v.name ? v.name : "";
  const loggedIn = state !== "logged_out";
  $("#login-form").hidden = loggedIn;
  $("#working-controls").hidden = !loggedIn;
  $("#pause-button").hidden = state === "paused";
  $("#unpause-button").hidden = state !== "paused" && !(v && v.pending_pause);
  const reason = $("#pause-reason");
  const why = v && (v.pause_reason || v.pending_pause);
  reason.hidden = !why;
  reason.textContent = why ? `reason: ${why}${v.pending_pause ? " (after this call)" : ""}` : "";
  $("#queue-list").textContent = v && v.queues.length ? `queues: ${v.queues.join(", ")}` : "";
  $("#wrapup").hidden = state !== "wrap_up";
  $("#call-panel").hidden = !(v && v.call_id && (state === "on_call" || state === "reserved"));
  const disposable = panel.lastCallId && (state === "wrap_up" || state === "on_call");
  $("#disposition-panel").hidden = !(disposable && panel.dispositions.length);
  tick();
}

function tick() {
  const v = panel.view;
  $("#time-in-state").textContent = v && v.state !== "logged_out" ? duration(serverNow() - v.since) : "–";
  const left = v && v.wrapup_until ? v.wrapup_until - serverNow() : null;
  $("#wrapup-left").textContent = left === null ? "–" : duration(Math.max(0, left));
  // On a call, the agent's state changed to on_call when the call was put through.
  $("#call-time").textContent = v && v.state === "on_call" ? duration(serverNow() - v.since) : "–";
}

// ----- screen pop ---------------------------------------------------------------------

function definitions(target, entries, highlight = false) {
  const items = [];
  for (const [name, value] of entries) {
    items.push(el("dt", { text: name }), el("dd", { "data-field": name, class: highlight ? "hot" : null, text: String(value ?? "") }));
  }
  target.replaceChildren(...items);
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "–";
}

function renderPop() {
  const pop = panel.pop;
  $("#pop-panel").hidden = !pop;
  if (!pop) return;
  $("#pop-direction").textContent = pop.direction;
  $("#pop-number").textContent = pop.caller.number || "unknown";
  // The contact store's name first: the caller ID's name is whatever the network sent.
  $("#pop-name").textContent = (pop.contact && pop.contact.name) || pop.caller.name || "unknown";
  $("#pop-cid-name").textContent = pop.caller.name || "–";
  $("#pop-queue").textContent = pop.queue || "–";
  $("#pop-waited").textContent = pop.waited_s === null ? "–" : duration(pop.waited_s);
  $("#pop-ivr").hidden = !pop.ivr;
  if (pop.ivr) {
    $("#pop-flow").textContent = `${pop.ivr.flow} v${pop.ivr.version}`;
    definitions($("#pop-inputs"), Object.entries(pop.ivr.inputs), true);
    $("#pop-path").textContent = "Path: " + pop.ivr.path.map((s) => (s.digits ? `${s.node} (${s.digits})` : s.node)).join(" → ");
  }
  $("#pop-contact").hidden = !pop.contact;
  if (pop.contact) {
    $("#pop-contact-list").textContent = `list ${pop.contact.list}, ${pop.contact.time_zones.join(", ")}`;
    definitions($("#pop-contact-fields"), [["name", pop.contact.name], ...Object.entries(pop.contact.fields)]);
  }
  $("#pop-campaign").hidden = !pop.campaign;
  if (pop.campaign) {
    $("#pop-campaign-name").textContent = pop.campaign.name;
    $("#pop-attempts tbody").replaceChildren(
      ...pop.campaign.attempts.map((a) =>
        el("tr", {}, el("td", { text: when(a.at) }), el("td", { text: a.outcome || "in progress" }), el("td", { text: a.disposition || "–" })),
      ),
    );
  }
  const rows = pop.history.map((h) =>
    el(
      "tr",
      {},
      el("td", { text: when(h.at) }),
      el("td", { text: h.direction }),
      el("td", { text: h.queue || "–" }),
      el("td", { text: h.agent || "–" }),
      el("td", { text: stateLabel(h.outcome) }),
      el("td", { class: "num", text: duration(h.duration_s) }),
    ),
  );
  $("#pop-history tbody").replaceChildren(...rows);
  $("#pop-history").hidden = rows.length === 0;
  $("#pop-history-empty").hidden = rows.length > 0;
  renderCallbackZone();
  renderDispositions();
}

// ----- call control -------------------------------------------------------------------

function renderCall() {
  const c = panel.call;
  const consulting = Boolean(c && c.consult);
  $("#transfer-complete").hidden = !consulting;
  $("#transfer-cancel").hidden = !consulting;
  $("#call-status").textContent = c ? [c.held ? "on hold" : "", c.muted ? "muted" : "", consulting ? "consulting" : ""].filter(Boolean).join(", ") : "";
}

function target() {
  const kind = $("#transfer-kind").value;
  const value = $("#transfer-target").value.trim();
  return kind === "number" ? value : `${kind}:${value}`;
}

async function callAction(path, body) {
  const result = await act(path.replaceAll("/", " ").trim(), () => api.post(`${base}/call/${path}`, body));
  if (result) {
    panel.call = result;
    renderCall();
  }
  return result;
}

function buildPad() {
  const pad = $("#dtmf-pad");
  for (const key of "123456789*0#") {
    const button = el("button", { type: "button", "aria-label": `key ${key}`, text: key });
    button.addEventListener("click", () => callAction("dtmf", { digits: key }));
    pad.append(button);
  }
}

// ----- dispositions and callbacks -----------------------------------------------------

function contactZone() {
  const zones = panel.pop && panel.pop.contact && panel.pop.contact.time_zones;
  return (zones && zones[0]) || Intl.DateTimeFormat().resolvedOptions().timeZone;
}

// Offset (ms) of `zone` from UTC at instant `ms`.
function zoneOffset(zone, ms) {
  const parts = {};
  const fmt = new Intl.DateTimeFormat("en-US", { timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
  for (const p of fmt.formatToParts(new Date(ms))) parts[p.type] = p.value;
  const local = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute, +parts.second);
  return local - ms;
}

// A "YYYY-MM-DDTHH:MM" wall-clock time in `zone` as an ISO instant (UTC).
function zonedToIso(text, zone) {
  const [d, t] = text.split("T");
  const [y, mo, da] = d.split("-").map(Number);
  const [h, mi] = t.split(":").map(Number);
  const wall = Date.UTC(y, mo - 1, da, h, mi);
  let instant = wall - zoneOffset(zone, wall);
  instant = wall - zoneOffset(zone, instant);
  return new Date(instant).toISOString();
}

function renderCallbackZone() {
  $("#callback-zone").textContent = `time in ${contactZone()} (the contact's zone)`;
}

// An inbound call has no campaign to call back from: its codes are those without callback.
function renderDispositions() {
  const select = $("#disposition-code");
  const inbound = panel.pop && panel.pop.direction === "inbound";
  const codes = panel.dispositions.filter((d) => !(inbound && d.callback));
  const chosen = select.value;
  select.replaceChildren(...codes.map((d) => el("option", { value: d.code, text: d.label || d.code })));
  if (codes.some((d) => d.code === chosen)) select.value = chosen;
  onDispositionChange();
}

function onDispositionChange() {
  const d = panel.dispositions.find((x) => x.code === $("#disposition-code").value);
  $("#callback-fields").hidden = !(d && d.callback);
}

async function saveDisposition(event) {
  event.preventDefault();
  const code = $("#disposition-code").value;
  const body = { code, note: $("#disposition-note").value };
  const d = panel.dispositions.find((x) => x.code === code);
  if (d && d.callback) {
    const at = $("#callback-at").value;
    if (at) body.callback_at = zonedToIso(at, contactZone());
    body.callback_for = document.querySelector('input[name="callback-for"]:checked').value;
  }
  const result = await act("disposition", () => api.post(`${base}/disposition`, body));
  if (result) {
    notice(`Disposition ${code} saved.`);
    $("#disposition-note").value = "";
    panel.lastCallId = null;
    renderState();
  }
}

// ----- preview ------------------------------------------------------------------------

function renderPreview() {
  const p = panel.preview;
  $("#preview-panel").hidden = !p;
  if (!p) return;
  const entries = Object.entries(p).filter(([, v]) => v === null || typeof v !== "object");
  definitions($("#preview-fields"), entries);
}

async function previewAction(action) {
  const result = await act(`preview ${action}`, () => api.post(`${base}/preview`, { action }));
  if (result) {
    panel.preview = null;
    renderPreview();
  }
}

// ----- loading and live events --------------------------------------------------------

async function loadAgent() {
  const data = await api.get("/api/agents");
  panel.view = data.agents.find((a) => a.agent === me) || null;
  const callId = panel.view && panel.view.call_id;
  if (callId) panel.lastCallId = callId;
  renderState();
  if (callId && (!panel.pop || panel.pop.call_id !== callId)) await loadCall();
}

async function loadCall() {
  panel.pop = await optional(`${base}/screen-pop`);
  panel.call = await optional(`${base}/call`);
  renderPop();
  renderCall();
}

async function resync() {
  await background("loading", async () => {
    await loadAgent();
    await loadCall();
    panel.preview = await optional(`${base}/preview`);
    renderPreview();
  });
}

let agentReload = null;
function reloadAgentSoon() {
  if (agentReload) return;
  agentReload = setTimeout(async () => {
    agentReload = null;
    await background("refreshing", loadAgent);
  }, 50);
}

function onEvent(item) {
  if (item.type === "snapshot") {
    const mine = item.agents.find((a) => a.agent === me);
    panel.view = mine || null;
    renderState();
    resync();
    return;
  }
  if (item.type === "screen_pop" && item.agent === me) {
    panel.pop = item.pop;
    panel.lastCallId = item.pop.call_id;
    renderPop();
    return;
  }
  if (item.type === "call_control" && item.agent === me) {
    background("call", async () => {
      panel.call = await optional(`${base}/call`);
      renderCall();
    });
    return;
  }
  if (item.type === "acd" && item.agent_id === me) {
    if (typeof item.at === "number") panel.offset = item.at - Date.now() / 1000;
    if (item.kind === "call_offered" || item.kind === "call_answered") {
      panel.lastCallId = item.call_id;
      if (!panel.pop || panel.pop.call_id !== item.call_id) background("screen pop", loadCall);
    }
    if (item.kind === "wrapup_ended" || item.kind === "agent_logged_out") {
      panel.pop = null;
      panel.call = null;
      renderPop();
      renderCall();
    }
    reloadAgentSoon();
  }
}

function onStatus(state, detail) {
  const box = $("#connection");
  box.dataset.state = state;
  box.textContent = detail ? `${state} (${detail})` : state;
}

// ----- wiring -------------------------------------------------------------------------

function wire() {
  $("#login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { endpoint: $("#login-endpoint").value.trim() };
    if ($("#login-mode").value) body.mode = $("#login-mode").value;
    const view = await act("log in", () => api.post(`${base}/login`, body));
    if (view) {
      panel.view = view;
      renderState();
    }
  });
  const simple = [
    ["#logout-button", "logout", "log out", undefined],
    ["#unpause-button", "unpause", "unpause", undefined],
    ["#wrapup-done", "wrapup-done", "ready", undefined],
    ["#wrapup-extend", "wrapup-extend", "extend wrap-up", { seconds: 30 }],
  ];
  for (const [selector, path, what, body] of simple) {
    $(selector).addEventListener("click", async () => {
      const view = await act(what, () => api.post(`${base}/${path}`, body));
      if (view) {
        panel.view = view;
        renderState();
      }
    });
  }
  $("#pause-button").addEventListener("click", async () => {
    const reason = $("#pause-reason-select").value;
    const view = await act("pause", () => api.post(`${base}/pause`, { reason }));
    if (view) {
      panel.view = view;
      renderState();
    }
  });
  for (const button of document.querySelectorAll("[data-call]")) {
    button.addEventListener("click", () => callAction(button.dataset.call));
  }
  $("#transfer-button").addEventListener("click", () => callAction("transfer", { to: target(), mode: $("#transfer-mode").value }));
  $("#transfer-complete").addEventListener("click", () => callAction("transfer/complete"));
  $("#transfer-cancel").addEventListener("click", () => callAction("transfer/cancel"));
  $("#conference-button").addEventListener("click", () => callAction("conference", { to: target() }));
  $("#disposition-code").addEventListener("change", onDispositionChange);
  $("#disposition-form").addEventListener("submit", saveDisposition);
  $("#preview-dial").addEventListener("click", () => previewAction("dial"));
  $("#preview-skip").addEventListener("click", () => previewAction("skip"));
  $("#dial-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const number = $("#dial-number").value.trim();
    const result = await act("call", () => api.post(`${base}/call/dial`, { number }));
    if (result) notice(`Calling ${number}…`);
  });
  $("#help-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const note = $("#help-note").value;
    const result = await act("help", () => api.post(`${base}/help`, { note }));
    if (result) {
      notice("Help requested: a supervisor has been told.");
      $("#help-note").value = "";
    }
  });
  buildPad();
}

async function loadLists() {
  let reasons = FALLBACK_REASONS;
  try {
    const data = await optional("/api/pause-reasons");
    if (data && data.reasons && data.reasons.length) reasons = data.reasons;
  } catch {
    // keep the fixed list
  }
  $("#pause-reason-select").replaceChildren(...reasons.map((r) => el("option", { value: r.code, text: r.label || r.code })));
  try {
    const data = await optional("/api/dispositions");
    panel.dispositions = (data && data.dispositions) || [];
  } catch {
    panel.dispositions = [];
  }
  renderDispositions();
}

async function main() {
  wire();
  renderState();
  await loadLists();
  new EventStream({ onMessage: onEvent, onStatus }).open();
  setInterval(tick, 1000);
}

main();
