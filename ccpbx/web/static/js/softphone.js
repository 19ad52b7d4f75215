// The agent's browser phone: SIP over secure websockets to Asterisk, WebRTC audio.
//
// Interface (for any page that embeds it; /phone is one):
//
//   import { Softphone, loadCredentials } from "/static/js/softphone.js";
//   const creds = await loadCredentials(agent);      // GET /api/agents/{agent}/softphone
//   const phone = new Softphone(creds, { sip: sipModule, audio: audioElement });
//   phone.on("registered" | "unregistered" | "incoming" | "connected" | "ended" | "error",
//            (detail) => ...);
//   await phone.register();            // starts the websocket, then REGISTER
//   await phone.unregister();          // un-REGISTER, then closes the websocket
//   await phone.answer();              // the ringing call ("incoming" came first)
//   await phone.reject();              // the ringing call, 486 Busy Here
//   await phone.hangup();              // ringing (reject), dialing (cancel) or talking (BYE)
//   await phone.call("1234");          // an outgoing call to an extension or number
//   phone.mute(true | false);          // stop / resume sending the microphone
//   phone.dtmf("5");                   // RFC 4733 key presses on the call
//   await phone.inboundPackets();      // RTP packets received so far (getStats)
//   phone.state                        // "idle" | "ringing" | "dialing" | "talking"
//   phone.registered                   // true while Asterisk has our contact
//
// Event details: incoming {from, name, session: true when it is the ACD's session call
// (persistent mode)}; connected {from, name, direction}; ended {reason}; error {message}.
// The ACD calls a persistent agent's phone once at login with caller ID
// "ccpbx agent <agent>" <agent>: with { autoAnswerSession: true } that call is
// answered at once (no "incoming" ringing, "connected" fires).
//
// `sip` is SIP.js's module (vendored; the page passes the import of its lib/index.js so
// that the versioned URL comes from the server). The password lives only in memory.

import { api } from "./api.js";

export async function loadCredentials(agent) {
  return api.get(`/api/agents/${encodeURIComponent(agent)}/softphone`);
}

const SESSION_NAME = /^ccpbx agent (\d+)$/;

export class Softphone {
  constructor(creds, { sip, audio, autoAnswerSession = false }) {
    this.creds = creds;
    this.sip = sip;
    this.audio = audio;
    this.autoAnswerSession = autoAnswerSession;
    this.listeners = {};
    this.session = null;
    this.state = "idle";
    this.registered = false;
    this.ua = null;
    this.registerer = null;
  }

  on(event, fn) {
    (this.listeners[event] ||= []).push(fn);
    return this;
  }

  emit(event, detail = {}) {
    for (const fn of this.listeners[event] || []) {
      try {
        fn(detail);
      } catch (exc) {
        console.error(exc);
      }
    }
  }

  fail(message) {
    this.emit("error", { message: String(message) });
  }

  async register() {
    const { UserAgent, Registerer, RegistererState } = this.sip;
    const c = this.creds;
    this.ua = new UserAgent({
      uri: UserAgent.makeURI(c.uri),
      displayName: c.display_name,
      authorizationUsername: c.user,
      authorizationPassword: c.password,
      transportOptions: { server: c.ws_url },
      // No STUN server unless ccpbx names one: nothing leaves for another host.
      sessionDescriptionHandlerFactoryOptions: {
        peerConnectionConfiguration: { iceServers: c.ice_servers || [] },
        iceGatheringTimeout: 2000,
      },
      logLevel: "warn",
      logBuiltinEnabled: false,
      delegate: {
        onInvite: (invitation) => this.onInvite(invitation),
        onDisconnect: (error) => {
          if (error) this.fail(`connection to the PBX lost: ${error.message}`);
          this.setRegistered(false);
        },
      },
    });
    await this.ua.start();
    this.registerer = new Registerer(this.ua, { expires: 300 });
    this.registerer.stateChange.addListener((state) => {
      this.setRegistered(state === RegistererState.Registered);
    });
    await this.registerer.register({
      requestDelegate: {
        onReject: (response) => {
          this.fail(`registration refused: ${response.message.statusCode} ${response.message.reasonPhrase}`);
        },
      },
    });
  }

  setRegistered(now) {
    if (now === this.registered) return;
    this.registered = now;
    this.emit(now ? "registered" : "unregistered");
  }

  async unregister() {
    if (this.session) await this.hangup();
    if (this.registerer) {
      try {
        await this.registerer.unregister();
      } catch (exc) {
        this.fail(exc.message);
      }
    }
    if (this.ua) await this.ua.stop();
    this.setRegistered(false);
  }

  who(session) {
    const id = session.remoteIdentity;
    return { from: id.uri.user || "", name: id.displayName || "" };
  }

  isSessionCall(session) {
    const { from, name } = this.who(session);
    const m = SESSION_NAME.exec(name);
    return m !== null && m[1] === from && from === String(this.creds.agent);
  }

  onInvite(invitation) {
    if (this.session) {
      invitation.reject({ statusCode: 486 }).catch(() => {});
      return;
    }
    this.track(invitation, "inbound");
    const session = this.isSessionCall(invitation);
    if (session && this.autoAnswerSession) {
      this.answer().catch((exc) => this.fail(exc.message));
      return;
    }
    this.state = "ringing";
    this.emit("incoming", { ...this.who(invitation), session });
  }

  track(session, direction) {
    const { SessionState } = this.sip;
    this.session = session;
    session.stateChange.addListener((state) => {
      if (state === SessionState.Established) {
        this.state = "talking";
        this.attachAudio(session);
        this.emit("connected", { ...this.who(session), direction });
      } else if (state === SessionState.Terminated) {
        if (this.session === session) {
          this.session = null;
          this.state = "idle";
          if (this.audio) this.audio.srcObject = null;
          this.emit("ended", { reason: "ended" });
        }
      }
    });
  }

  attachAudio(session) {
    const sdh = session.sessionDescriptionHandler;
    if (!this.audio || !sdh) return;
    this.audio.srcObject = sdh.remoteMediaStream;
    this.audio.play().catch((exc) => this.fail(`cannot play the call's audio: ${exc.message}`));
  }

  mediaOptions() {
    return { sessionDescriptionHandlerOptions: { constraints: { audio: true, video: false } } };
  }

  async answer() {
    if (!this.session || this.state === "talking") return;
    await this.session.accept(this.mediaOptions());
  }

  async reject() {
    if (!this.session || this.state !== "ringing") return;
    await this.session.reject({ statusCode: 486 });
  }

  async hangup() {
    const { SessionState, Inviter } = this.sip;
    const s = this.session;
    if (!s) return;
    if (s.state === SessionState.Established) await s.bye();
    else if (s instanceof Inviter) await s.cancel();
    else await s.reject({ statusCode: 486 });
  }

  async call(target) {
    const { Inviter, UserAgent } = this.sip;
    if (this.session) throw new Error("a call is already up");
    const host = new URL(this.creds.ws_url).hostname;
    const uri = UserAgent.makeURI(`sip:${encodeURIComponent(target)}@${host}`);
    if (!uri) throw new Error(`not a number to call: ${target}`);
    const inviter = new Inviter(this.ua, uri, this.mediaOptions());
    this.track(inviter, "outbound");
    this.state = "dialing";
    await inviter.invite();
  }

  peerConnection() {
    const sdh = this.session && this.session.sessionDescriptionHandler;
    return sdh ? sdh.peerConnection : null;
  }

  mute(on) {
    const pc = this.peerConnection();
    if (!pc) return;
    for (const sender of pc.getSenders()) {
      if (sender.track) sender.track.enabled = !on;
    }
  }

  dtmf(tones) {
    const sdh = this.session && this.session.sessionDescriptionHandler;
    return sdh ? sdh.sendDtmf(tones) : false;
  }

  async inboundPackets() {
    const pc = this.peerConnection();
    if (!pc) return 0;
    let packets = 0;
    (await pc.getStats()).forEach((report) => {
      if (report.type === "inbound-rtp" && report.kind === "audio") packets += report.packetsReceived || 0;
    });
    return packets;
  }
}
