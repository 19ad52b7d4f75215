// The public API and the event websocket, with whichever auth the browser has:
// a session cookie (sent by the browser itself; POSTs carry X-CSRF-Token when
// /api/session exists) or a bearer token given in the page's fragment (#token=...),
// kept in sessionStorage and sent as Authorization (fetch) and ?token= (websocket).

const TOKEN_KEY = "ccpbx.token";

function takeToken() {
  const params = new URLSearchParams(location.hash.slice(1));
  const given = params.get("token");
  if (given) {
    sessionStorage.setItem(TOKEN_KEY, given);
    params.delete("token");
    const rest = params.toString();
    history.replaceState(null, "", location.pathname + location.search + (rest ? "#" + rest : ""));
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

const token = takeToken();
let csrf = null;
let csrfChecked = null;

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

async function request(method, path, body) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (method !== "GET") {
    await sessionChecked();
    if (csrf) headers["X-CSRF-Token"] = csrf;
    if (body !== undefined) headers["Content-Type"] = "application/json";
  }
  const resp = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await resp.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { message: text };
  }
  if (!resp.ok) throw new ApiError(resp.status, data);
  return data;
}

// Sessions with CSRF protection may not exist on this server (404): then none is sent.
function sessionChecked() {
  if (csrfChecked === null) {
    csrfChecked = request("GET", "/api/session").then(
      (s) => { csrf = (s && (s.csrf_token || s.csrf)) || null; },
      () => { csrf = null; },
    );
  }
  return csrfChecked;
}

export const api = {
  get: (path) => request("GET", path),
  post: (path, body) => request("POST", path, body),
};

// The websocket of ACD events, reopened with backoff (0.5 s doubling to 10 s, with
// jitter) whenever it drops. onStatus(state, detail) tells "live" / "disconnected".
export class EventStream {
  constructor({ onMessage, onStatus }) {
    this.onMessage = onMessage;
    this.onStatus = onStatus;
    this.delay = 500;
    this.socket = null;
  }

  url() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const query = token ? `?token=${encodeURIComponent(token)}` : "";
    return `${scheme}//${location.host}/api/events${query}`;
  }

  open() {
    this.onStatus("connecting", "");
    const socket = new WebSocket(this.url());
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.delay = 500;
      this.onStatus("live", "");
    });
    socket.addEventListener("message", (msg) => {
      let item;
      try {
        item = JSON.parse(msg.data);
      } catch {
        return;
      }
      this.onMessage(item);
    });
    socket.addEventListener("close", () => {
      if (this.socket !== socket) return;
      const wait = Math.round(this.delay * (0.8 + Math.random() * 0.4));
      this.delay = Math.min(this.delay * 2, 10000);
      this.onStatus("disconnected", `retrying in ${Math.ceil(wait / 1000)} s`);
      setTimeout(() => this.open(), wait);
    });
  }
}
