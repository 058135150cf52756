// One WebSocket to /ws with automatic reconnect (exponential backoff with
// jitter) and a heartbeat. It knows nothing about chat: frames go to callbacks.
//
// Authentication is the first frame of every connection (`opts.auth()`), never
// the URL: proxies log URLs, and a token in `?token=` would end up in every
// access log. Nothing else is sent until the server's `hello`.
//
// Most failures are transient (the network, a restart: 1006, 1001, 1012...)
// and are retried for ever, with backoff. Two are not, and retrying them would
// only hide the reason behind "Reconnecting..." for ever:
// - 4001: the token is no longer accepted. Stop, and hand over (log in again).
// - 4010 / 4011: the session was ended (signed out here or everywhere, revoked
//   from another device, a new password), or an admin deactivated the
//   account. The same: stop, and hand over, saying which (`onEnded`).
// - A refused handshake: the server (or a proxy before it) answers HTTP but
//   will not upgrade /ws, which hubbub does when the page's Origin is not one
//   of its --public-url / --allowed-origin origins (a 403). A browser is not
//   told the status of a failed handshake (it sees 1006, as for a network
//   failure), so after each handshake that fails without upgrading the socket
//   asks the server over plain HTTP, same origin: `GET /api/me` with the token
//   (the app's own first request). An answer there means the server is up and
//   reachable from this page, so the handshake was refused, not lost; after
//   REFUSALS_FOR_GOOD of those in a row it stops and reports `refused`. A 401
//   there is the same as a 4001. No answer (offline, a 502 from a proxy whose
//   server is down) is transient: retry.

const AUTH_FAILED = 4001;
export const SESSION_ENDED = 4010;
export const ACCOUNT_DEACTIVATED = 4011;
const TOO_MANY_CONNECTIONS = 4029;
const AUTH_CODES = new Set(["token_invalid", "token_expired", "not_authenticated", "session_ended", "account_deactivated"]);
export const REFUSALS_FOR_GOOD = 3;

export class Socket {
  /**
   * @param {object} opts
   * @param {() => string} opts.url          the URL to connect to (called per attempt); no credentials in it
   * @param {() => object} opts.auth         the first frame of every connection, e.g. {action: "auth", token}
   * @param {(hello: object) => void} opts.onHello
   * @param {(frame: object) => void} opts.onFrame
   * @param {(state: string, info: object) => void} opts.onState
   *     "connecting" | "open" | "reconnecting" | "refused" | "closed"; for "refused",
   *     info.refusal (also `socket.refusal`) is {origin, url}: the server refuses this
   *     page's WebSocket for good, and only `retryRefused()` tries again
   * @param {() => void} opts.onDown         the connection was lost (before any reconnect)
   * @param {(reason: string) => void} opts.onAuthFailed  closed with 4001 (or the probe's
   *     401): log in again; `reason` is the server's ("token expired: log in again")
   * @param {(code: number, reason: string) => void} [opts.onEnded]  closed with 4010
   *     (session ended) or 4011 (account deactivated): never retried
   */
  constructor(opts) {
    this.opts = opts;
    this.ws = null;
    this.open = false; // true between `hello` and close
    this.everOpen = false;
    this.stopped = false;
    this.attempt = 0;
    this.retryTimer = null;
    this.retryAt = 0;
    this.heartbeat = null;
    this.lastRecv = 0;
    this.lastSent = 0;
    this.baseDelay = 500;
    this.maxDelay = 10000;
    this.upgraded = false; // the current attempt got its 101
    this.refusedInARow = 0; // handshakes refused while the server answered HTTP
    this.probing = false;
    this.refusal = null; // set while in state "refused"
    this.state = "idle";
    this._online = () => this.retryNow();
    this._visible = () => {
      if (document.visibilityState === "visible") this.retryNow();
    };
    window.addEventListener("online", this._online);
    document.addEventListener("visibilitychange", this._visible);
  }

  get isOpen() {
    return this.open && this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  connect() {
    if (this.stopped || this.ws || this.probing || this.refusal) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this._setState(this.everOpen ? "reconnecting" : "connecting");
    let ws;
    try {
      ws = new WebSocket(this.opts.url());
    } catch {
      this._schedule();
      return;
    }
    this.ws = ws;
    this.upgraded = false;
    ws.onopen = () => this._opened(ws);
    ws.onmessage = (ev) => this._receive(ws, ev);
    ws.onclose = (ev) => this._closed(ws, ev.code, ev.reason);
    ws.onerror = () => {}; // a close event always follows
  }

  /** Send a frame; false (and nothing sent) when not connected. */
  send(frame) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(frame));
    this.lastSent = Date.now();
    return true;
  }

  /** Skip the backoff wait (the network came back, the tab became visible). */
  retryNow() {
    if (!this.stopped && !this.ws && !this.probing && !this.refusal && this.everOpen) {
      this.attempt = Math.max(0, this.attempt - 1);
      this.connect();
    }
  }

  /** After `refused`: the user asks to try again (the server may be fixed). */
  retryRefused() {
    if (this.stopped || !this.refusal) return;
    this.refusal = null;
    this.refusedInARow = 0;
    this.attempt = 0;
    this.connect();
  }

  /** Close for good (log out). */
  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this._stopHeartbeat();
    window.removeEventListener("online", this._online);
    document.removeEventListener("visibilitychange", this._visible);
    const ws = this.ws;
    this.ws = null;
    this.open = false;
    if (ws) {
      ws.onclose = null;
      ws.close(1000);
    }
    this._setState("closed");
  }

  _opened(ws) {
    if (ws !== this.ws) return;
    this.upgraded = true;
    this.refusedInARow = 0;
    // The one frame allowed before `hello` (send() refuses until then).
    ws.send(JSON.stringify(this.opts.auth()));
    this.lastSent = Date.now();
  }

  _receive(ws, ev) {
    if (ws !== this.ws) return;
    this.lastRecv = Date.now();
    let frame;
    try {
      frame = JSON.parse(ev.data);
    } catch {
      return;
    }
    if (frame && frame.type === "hello") {
      this.open = true;
      this.everOpen = true;
      this.attempt = 0;
      this._startHeartbeat(frame.limits || {});
      this._setState("open");
      this.opts.onHello(frame);
    } else if (frame && frame.type !== "pong") {
      this.opts.onFrame(frame);
    }
  }

  _closed(ws, code, reason) {
    if (ws !== this.ws) return;
    ws.onopen = ws.onmessage = ws.onclose = null;
    this.ws = null;
    const wasOpen = this.open;
    this.open = false;
    this._stopHeartbeat();
    if (wasOpen) this.opts.onDown();
    if (this.stopped) return;
    if (code === AUTH_FAILED) {
      this._authFailed(reason);
      return;
    }
    if (code === SESSION_ENDED || code === ACCOUNT_DEACTIVATED) {
      this._ended(code, reason);
      return;
    }
    if (!this.upgraded) {
      this._probe(code);
      return;
    }
    this._schedule(code);
  }

  _authFailed(reason) {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this._setState("closed");
    this.opts.onAuthFailed(reason || "Your session has ended.");
  }

  _ended(code, reason) {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this._setState("closed");
    if (this.opts.onEnded) this.opts.onEnded(code, reason || "");
    else this.opts.onAuthFailed(reason || "Your session has ended.");
  }

  /** The handshake failed without a 101: refused, or lost on the way? Ask over HTTP. */
  async _probe(code) {
    this.probing = true;
    this._setState("reconnecting", { retryAt: 0, code });
    let answer = "lost";
    try {
      const res = await this._ask();
      if (res.ok) {
        answer = "refused";
      } else if (res.status === 401) {
        const body = await res.json().catch(() => null);
        const err = (body && body.error) || {};
        if (AUTH_CODES.has(err.code)) answer = err.message || "Your session has ended.";
      }
    } catch {
      answer = "lost"; // offline, or the server is down: a network failure
    }
    this.probing = false;
    if (this.stopped) return;
    if (answer === "lost") {
      this.refusedInARow = 0;
      this._schedule(code);
    } else if (answer === "refused") {
      this.refusedInARow += 1;
      if (this.refusedInARow >= REFUSALS_FOR_GOOD) this._refused();
      else this._schedule(code);
    } else {
      this._authFailed(answer);
    }
  }

  /** `GET /api/me` on the WebSocket's own origin, with the token of the `auth` frame. */
  _ask() {
    const url = new URL("/api/me", this.opts.url().replace(/^ws/, "http"));
    const token = (this.opts.auth() || {}).token;
    const headers = { Accept: "application/json" };
    if (token) headers.Authorization = `Bearer ${token}`;
    return fetch(url, { headers, cache: "no-store", credentials: "omit" });
  }

  _refused() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.refusal = { origin: location.origin, url: this.opts.url() };
    this._setState("refused", { refusal: this.refusal });
  }

  _schedule(code) {
    // Exponential backoff with "equal jitter": half fixed, half random, so a
    // restarted server is not hit by every client at the same instant.
    const base = code === TOO_MANY_CONNECTIONS ? 5000 : this.baseDelay;
    const cap = Math.min(this.maxDelay * (code === TOO_MANY_CONNECTIONS ? 3 : 1), base * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 16);
    const delay = cap / 2 + Math.random() * (cap / 2);
    this.retryAt = Date.now() + delay;
    this._setState("reconnecting", { retryAt: this.retryAt, code });
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  _startHeartbeat(limits) {
    this._stopHeartbeat();
    const every = Math.max(1, Number(limits.heartbeat_interval) || 30) * 1000;
    this.lastRecv = this.lastSent = Date.now();
    this.heartbeat = setInterval(() => {
      const now = Date.now();
      if (now - this.lastRecv > 2 * every + 5000) {
        // Nothing (not even a pong) for two intervals: the link is dead even
        // if the browser has not noticed. Drop it and reconnect.
        const ws = this.ws;
        if (ws) {
          this._closed(ws, 4000, "heartbeat");
          try {
            ws.close();
          } catch {
            /* already closing */
          }
        }
        return;
      }
      if (now - this.lastSent >= every * 0.9) this.send({ action: "ping" });
    }, every / 2);
  }

  _stopHeartbeat() {
    clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  _setState(state, info = {}) {
    this.state = state;
    this.opts.onState(state, info);
  }
}
