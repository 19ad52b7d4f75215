// /phone: the agent's browser phone on its own page (see softphone.js for the module).

import { Softphone, loadCredentials } from "./softphone.js";

const $ = (id) => document.getElementById(id);
const agent = document.body.dataset.agent;
let phone = null;
let statsTimer = null;

function notice(text, kind = "info") {
  const el = $("notice");
  el.textContent = text;
  el.dataset.kind = kind;
  el.hidden = !text;
}

function showRegistration(state, text) {
  const el = $("registration");
  el.dataset.state = state;
  el.textContent = text;
}

function showCall(state, peer = "") {
  $("call-state").dataset.state = state;
  $("call-state").textContent = { idle: "no call", ringing: "ringing", dialing: "calling…", talking: "connected" }[state];
  $("peer").textContent = peer;
  $("ringing").hidden = state !== "ringing";
  $("hangup").disabled = state === "idle";
  $("mute").disabled = state !== "talking";
  $("send-dtmf").disabled = state !== "talking";
  $("call").disabled = state !== "idle";
}

function label({ from, name }) {
  return name && name !== from ? `${name} (${from})` : from;
}

function watchAudio() {
  clearInterval(statsTimer);
  statsTimer = setInterval(async () => {
    if (!phone || phone.state !== "talking") return;
    $("audio-in").textContent = String(await phone.inboundPackets());
  }, 500);
}

function act(fn) {
  return () => fn().catch((exc) => notice(exc.message, "error"));
}

async function start() {
  showCall("idle");
  if (!agent) {
    showRegistration("disconnected", "no agent");
    notice("This page is for agents: sign in as an agent user.", "error");
    return;
  }
  let creds;
  let sip;
  try {
    [creds, sip] = await Promise.all([loadCredentials(agent), import(document.body.dataset.sipjs)]);
  } catch (exc) {
    showRegistration("disconnected", "no phone");
    notice(`No browser phone: ${exc.message}`, "error");
    return;
  }
  $("identity").textContent = creds.user;
  phone = new Softphone(creds, { sip, audio: $("remote-audio"), autoAnswerSession: $("auto-answer").checked });
  $("auto-answer").addEventListener("change", (e) => { phone.autoAnswerSession = e.target.checked; });
  phone
    .on("registered", () => showRegistration("live", "registered"))
    .on("unregistered", () => showRegistration("disconnected", "not registered"))
    .on("incoming", (d) => {
      $("caller").textContent = label(d);
      showCall("ringing", label(d));
    })
    .on("connected", (d) => {
      showCall("talking", label(d));
      watchAudio();
    })
    .on("ended", () => {
      showCall("idle");
      clearInterval(statsTimer);
    })
    .on("error", (d) => notice(d.message, "error"));
  $("answer").addEventListener("click", act(() => phone.answer()));
  $("reject").addEventListener("click", act(() => phone.reject()));
  $("hangup").addEventListener("click", act(() => phone.hangup()));
  $("mute").addEventListener("click", () => {
    const on = $("mute").getAttribute("aria-pressed") !== "true";
    phone.mute(on);
    $("mute").setAttribute("aria-pressed", String(on));
    $("mute").textContent = on ? "Unmute" : "Mute";
  });
  $("send-dtmf").addEventListener("click", () => {
    const keys = $("dtmf").value.trim();
    if (keys && !phone.dtmf(keys)) notice("The keys could not be sent on this call.", "error");
    $("dtmf").value = "";
  });
  $("dial-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const target = $("dial").value.trim();
    if (!target) return;
    showCall("dialing", target);
    phone.call(target).catch((exc) => {
      notice(exc.message, "error");
      showCall(phone.state, "");
    });
  });
  window.addEventListener("pagehide", () => { phone.unregister(); });
  showRegistration("connecting", "registering…");
  try {
    await phone.register();
  } catch (exc) {
    showRegistration("disconnected", "not registered");
    notice(`Registration failed: ${exc.message}`, "error");
  }
}

start();
