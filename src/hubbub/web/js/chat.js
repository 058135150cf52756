// The chat model: channels, messages, pending sends, unread and mention counts,
// typing and presence, kept in sync over the WebSocket (and REST for lists and
// history). The UI reads this state and re-renders on `onChange(what, name)`.

import { seg } from "./api.js";
import { mentions } from "./format.js";
import { Socket } from "./socket.js";

const params = new URLSearchParams(location.search);
/** How long a send waits for its ack before offering Retry (ms). */
export const ACK_TIMEOUT = Number(params.get("ack_timeout")) || 10000;
export const PAGE = 50;
/** The public channel every new account joins (hubbub.core.hub.DEFAULT_CHANNEL). */
export const DEFAULT_CHANNEL = "general";
/** Joined/left lines kept per channel (they are live only: not in history). */
const MAX_EVENTS = 200;

export function newClientId() {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes); // works on plain http too, unlike randomUUID
  return "w-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class Channel {
  /** `names`: a username's display name (the username until it is known). */
  constructor(body, names = null) {
    this.names = names;
    this.name = body.name;
    this.kind = body.kind;
    this.topic = "";
    this.memberCount = 0;
    this.members = null;
    this.lastSeq = 0; // newest seq the server has told us about
    this.lastRead = Number(body.last_read ?? 0);
    this.serverRead = this.lastRead; // the cursor as the server last confirmed it
    this.mentions = Number(body.mentions ?? 0);
    this.countedUpTo = Number(body.last_seq ?? 0); // mentions are counted up to here
    this.seen = Number(body.last_seq ?? 0); // resume point: `since` on (re)subscribe
    this.msgs = new Map(); // seq -> message (confirmed)
    this.pending = new Map(); // client_id -> pending send
    this.typing = new Map(); // username -> expiry timer
    this.events = []; // "joined" / "left" lines seen live: {kind, user, after (seq), at, id}
    this.loaded = false; // the newest page of history has been fetched
    this.hasMore = true; // older history may exist
    this.loading = null; // the history fetch in flight
    this.subscribed = false;
    this.refreshing = null;
    this._sorted = null;
    this.update(body);
  }

  update(body) {
    if (body.kind) this.kind = body.kind;
    if (typeof body.topic === "string") this.topic = body.topic;
    if (typeof body.member_count === "number") this.memberCount = body.member_count;
    if (Array.isArray(body.members)) this.members = body.members;
    if (typeof body.last_seq === "number") this.lastSeq = Math.max(this.lastSeq, body.last_seq);
  }

  get unread() {
    return Math.max(0, this.lastSeq - this.lastRead);
  }

  get isDM() {
    return this.kind === "dm";
  }

  /** Confirmed messages, oldest first. */
  sorted() {
    if (!this._sorted) this._sorted = [...this.msgs.values()].sort((a, b) => a.seq - b.seq);
    return this._sorted;
  }

  oldestSeq() {
    const s = this.sorted();
    return s.length ? s[0].seq : null;
  }

  newestSeq() {
    const s = this.sorted();
    return s.length ? s[s.length - 1].seq : 0;
  }

  /** Add a confirmed message; false if this seq is already here (dedupe). */
  add(m) {
    if (this.msgs.has(m.seq)) return false;
    this.msgs.set(m.seq, {
      seq: m.seq,
      channel: m.channel,
      author: m.author,
      text: m.text,
      client_id: m.client_id ?? null,
      created_at: m.created_at,
    });
    this._sorted = null;
    return true;
  }

  clearMessages() {
    this.msgs.clear();
    this._sorted = null;
    this.loaded = false;
    this.hasMore = true;
  }

  /** The other people in a DM (all of them for a DM with yourself). */
  partners(me) {
    const members = this.members || this.name.replace(/^dm:/, "").split(",");
    const others = members.filter((u) => u !== me);
    return others.length ? others : members;
  }

  label(me) {
    if (!this.isDM) return this.name;
    return this.partners(me)
      .map((u) => (this.names ? this.names(u) : u))
      .join(", ");
  }

  /** Someone joined or left: a line in the list after the newest message delivered so far. */
  addEvent(kind, user) {
    this.events.push({ kind, user, after: this.seen, at: Date.now(), id: `${kind}:${user}:${++eventIds}` });
    if (this.events.length > MAX_EVENTS) this.events.splice(0, this.events.length - MAX_EVENTS);
  }
}

let eventIds = 0;

export class Chat {
  constructor({ api, token, onChange, onAuthFailed, onNotice }) {
    this.api = api;
    this.token = token;
    this.onChange = onChange;
    this.onAuthFailed = onAuthFailed;
    this.onNotice = onNotice || (() => {});
    this.me = null;
    this.limits = { typing_ttl: 6, max_message_chars: 10000 };
    this.channels = new Map();
    this.presence = new Map();
    this.people = new Map(); // username -> {username, display_name}, as far as known
    this.lookups = new Map(); // username -> the /api/users lookup in flight
    this.names = (u) => this.displayName(u);
    this.connection = "connecting";
    this.retryAt = 0;
    this.ready = false; // the first hello has been handled
    this.generation = 0;
    this.nextId = 0;
    this.requests = new Map(); // frame id -> what it was
    this.watched = "";
    this.socket = new Socket({
      url: () => {
        const proto = location.protocol === "https:" ? "wss:" : "ws:";
        return `${proto}//${location.host}/ws`; // the token goes in the auth frame, not the URL
      },
      auth: () => ({ action: "auth", token: this.token }),
      onHello: (hello) => this._hello(hello),
      onFrame: (frame) => this._frame(frame),
      onState: (state, info) => {
        this.connection = state;
        this.retryAt = info.retryAt || 0;
        this.onChange("connection");
      },
      onDown: () => this._down(),
      onAuthFailed: (reason) => this.onAuthFailed(reason),
    });
  }

  start() {
    this.socket.connect();
  }

  stop() {
    this.socket.stop();
    for (const ch of this.channels.values()) {
      for (const p of ch.pending.values()) clearTimeout(p.timer);
      for (const t of ch.typing.values()) clearTimeout(t);
    }
  }

  memberChannels() {
    return [...this.channels.values()];
  }

  // --- connection lifecycle -----------------------------------------------------

  async _hello(hello) {
    const gen = ++this.generation;
    this.me = hello.user;
    this.learn(hello.user);
    this.limits = { ...this.limits, ...hello.limits };
    for (const ch of this.channels.values()) ch.subscribed = false;
    try {
      await this.syncChannels();
    } catch (err) {
      if (gen !== this.generation) return;
      this.onNotice(`Could not load your channels: ${err.message}`);
    }
    if (gen !== this.generation || !this.socket.isOpen) return;
    // Resume every channel from the last seq we saw: the server replays what we
    // missed (or says it can't, and we reload that channel's history).
    for (const ch of this.channels.values()) this._subscribe(ch);
    this.watchPresence(true);
    // Sends that never got an ack go again, with the same client_id: the server
    // returns the original message for one it already stored.
    for (const ch of this.channels.values()) {
      for (const p of ch.pending.values()) if (p.state === "pending") this._transmit(ch, p);
    }
    this.ready = true;
    this.onChange("ready");
  }

  _down() {
    this.generation++;
    this.requests.clear();
    this.watched = "";
    for (const ch of this.channels.values()) {
      ch.subscribed = false;
      for (const p of ch.pending.values()) {
        clearTimeout(p.timer); // re-sent after the reconnect
        p.timer = null;
      }
      for (const t of ch.typing.values()) clearTimeout(t);
      ch.typing.clear();
    }
    this.onChange("typing");
  }

  /** Refresh the channel list from the server (the truth for read cursors). */
  async syncChannels() {
    const list = await this.api.get("/api/channels");
    const mine = new Set();
    for (const body of list) {
      if (!body.is_member) continue;
      mine.add(body.name);
      let ch = this.channels.get(body.name);
      if (!ch) {
        ch = new Channel(body, this.names);
        this.channels.set(ch.name, ch);
      } else {
        ch.update(body);
        ch.lastRead = Math.max(ch.lastRead, body.last_read);
      }
      ch.serverRead = Math.max(ch.serverRead, body.last_read);
      ch.countedUpTo = Math.max(ch.countedUpTo, body.last_seq);
      ch.mentions = ch.lastRead >= ch.lastSeq ? 0 : body.mentions;
      if (ch.isDM) ch.mentions = Math.max(ch.mentions, Math.max(0, body.last_seq - ch.lastRead));
    }
    for (const name of [...this.channels.keys()]) {
      if (!mine.has(name)) this._forget(name, false);
    }
    this.lookUpPartners();
    this.onChange("channels");
    return list;
  }

  _request(info) {
    const id = ++this.nextId;
    this.requests.set(id, info);
    return id;
  }

  _subscribe(ch) {
    if (ch.subscribed || !this.socket.isOpen) return;
    ch.subscribed = true;
    const id = this._request({ kind: "subscribe", channel: ch.name });
    this.socket.send({ action: "subscribe", id, channel: ch.name, since: ch.seen });
  }

  // --- frames from the server ---------------------------------------------------

  _frame(f) {
    switch (f.type) {
      case "message":
        return this._message(f);
      case "ack":
        return this._ack(f);
      case "subscribed":
        return this._subscribed(f);
      case "error":
        return this._error(f);
      case "read":
        return this._read(f);
      case "typing":
        return this._typing(f);
      case "presence":
        this.presence.set(f.user, f.status);
        return this.onChange("presence");
      case "presence_state":
        this.requests.delete(f.id);
        for (const [u, s] of Object.entries(f.users || {})) this.presence.set(u, s);
        return this.onChange("presence");
      case "channel_joined":
        return this.addChannel(f.channel);
      case "channel_left":
        return this._forget(f.channel.name, true);
      case "channel_updated": {
        const ch = this.channels.get(f.channel.name);
        if (ch) {
          ch.update(f.channel);
          this.onChange("channels", ch.name);
        }
        return;
      }
      case "member_joined":
      case "member_left": {
        // The event has no count; a +1 here could double-count a join we also
        // saw in a REST answer, so fetch the channel's own (absolute) count.
        const ch = this.channels.get(f.channel);
        if (ch) {
          this.refreshChannel(ch.name);
          ch.addEvent(f.type === "member_joined" ? "joined" : "left", f.user);
          this.onChange("messages", ch.name);
          this.lookUp([f.user]).then(() => this.onChange("messages", ch.name)); // the line names them
        }
        return;
      }
      case "skipped": {
        // Seqs that will never hold a message (only on the Lambda deployment):
        // delivered as far as resuming goes, and nothing to show.
        const ch = this.channels.get(f.channel);
        if (ch) {
          ch.seen = Math.max(ch.seen, f.last);
          ch.lastSeq = Math.max(ch.lastSeq, f.last);
        }
        return;
      }
      case "ok":
      case "unsubscribed":
        this.requests.delete(f.id);
        return;
      default:
        return;
    }
  }

  _message(m) {
    const ch = this.channels.get(m.channel);
    if (!ch) return;
    if (this.learn(m.author)) this._namesChanged();
    const mine = this.me && m.author && m.author.username === this.me.username;
    if (mine && m.client_id && ch.pending.has(m.client_id)) this._confirm(ch, m.client_id);
    ch.add(m);
    // Subscriptions deliver each channel in order without gaps: this is the
    // point to resume from.
    ch.seen = Math.max(ch.seen, m.seq);
    ch.lastSeq = Math.max(ch.lastSeq, m.seq);
    if (m.seq > ch.countedUpTo) {
      ch.countedUpTo = m.seq;
      if (!mine && m.seq > ch.lastRead && (ch.isDM || mentions(m.text, this.me?.username))) {
        ch.mentions++;
      }
    }
    // Your own message is never unread, whichever client sent it (this tab,
    // another device, a script): the server moved your cursor to it when it
    // stored it, so every device moves its own here, with no `read` frame.
    if (mine) this._readUpTo(ch, m.seq);
    if (m.author && m.author.username && ch.typing.has(m.author.username)) {
      clearTimeout(ch.typing.get(m.author.username));
      ch.typing.delete(m.author.username);
      this.onChange("typing", ch.name);
    }
    this.onChange("messages", ch.name);
    this.onChange("channels", ch.name);
  }

  _ack(f) {
    this.requests.delete(f.id);
    const ch = this.channels.get(f.channel);
    if (!ch) return;
    if (ch.pending.has(f.client_id)) this._confirm(ch, f.client_id);
    this.learn(f.message.author);
    ch.add(f.message);
    ch.lastSeq = Math.max(ch.lastSeq, f.seq);
    this._readUpTo(ch, f.seq); // stored as you: read, here and on the server
    this.onChange("messages", ch.name);
    this.onChange("channels", ch.name);
  }

  _confirm(ch, clientId) {
    const p = ch.pending.get(clientId);
    clearTimeout(p.timer);
    ch.pending.delete(clientId);
  }

  _subscribed(f) {
    this.requests.delete(f.id);
    const ch = this.channels.get(f.channel);
    if (!ch) return;
    ch.lastSeq = Math.max(ch.lastSeq, f.last_seq);
    if (f.recovered) {
      ch.seen = Math.max(ch.seen, f.last_seq);
    } else {
      // Too far behind to replay: page the history again instead of showing a hole.
      ch.seen = f.last_seq;
      ch.clearMessages();
      this.onChange("reload", ch.name);
    }
    this.onChange("channels", ch.name);
    this.onChange("messages", ch.name);
  }

  _error(f) {
    const req = f.id != null ? this.requests.get(f.id) : null;
    if (f.id != null) this.requests.delete(f.id);
    if (!req) {
      if (f.code !== "rate_limited") this.onNotice(f.message || f.code);
      return;
    }
    const ch = this.channels.get(req.channel);
    if (req.kind === "send" && ch) {
      const p = ch.pending.get(req.client_id);
      if (!p) return;
      clearTimeout(p.timer);
      if (f.code === "rate_limited" && f.retry_after != null && !p.rateLimited) {
        p.rateLimited = true;
        p.timer = setTimeout(() => this._transmit(ch, p), Math.max(100, f.retry_after * 1000));
        return;
      }
      this._fail(ch, p, f.message || f.code);
    } else if (req.kind === "subscribe" && ch) {
      ch.subscribed = false;
      if (f.code === "not_found" || f.code === "not_a_member") this._forget(ch.name, true);
    }
  }

  _read(f) {
    const ch = this.channels.get(f.channel);
    if (!ch) return;
    this._readUpTo(ch, f.seq);
    this.onChange("channels", ch.name);
  }

  /** The server's cursor for `ch` is at `seq` or past it: a `read` event, or
   * your own message (storing it moved the cursor). Forward only. */
  _readUpTo(ch, seq) {
    if (seq > ch.lastRead) ch.lastRead = seq;
    ch.serverRead = Math.max(ch.serverRead, seq);
    if (ch.lastRead >= ch.lastSeq) ch.mentions = 0;
    else ch.mentions = Math.min(ch.mentions, ch.unread);
  }

  _typing(f) {
    const ch = this.channels.get(f.channel);
    if (!ch || (this.me && f.user === this.me.username)) return;
    this.lookUp([f.user]);
    clearTimeout(ch.typing.get(f.user));
    const ttl = Math.max(1, Number(this.limits.typing_ttl) || 6) * 1000;
    ch.typing.set(
      f.user,
      setTimeout(() => {
        ch.typing.delete(f.user);
        this.onChange("typing", ch.name);
      }, ttl),
    );
    this.onChange("typing", ch.name);
  }

  // --- channels -----------------------------------------------------------------

  /** A channel you are now in (created, joined, invited to, a DM opened). */
  addChannel(body) {
    let ch = this.channels.get(body.name);
    if (ch) {
      ch.update(body);
    } else {
      ch = new Channel({ ...body, last_read: 0, mentions: 0 }, this.names);
      ch.update(body);
      this.channels.set(ch.name, ch);
      if (ch.isDM) {
        this.watchPresence();
        if (this.me) this.lookUp(ch.partners(this.me.username));
      }
    }
    this._subscribe(ch);
    this.onChange("channels", ch.name);
    return ch;
  }

  /** Re-read one channel's details (member count, topic), coalescing bursts. */
  refreshChannel(name) {
    const ch = this.channels.get(name);
    if (!ch || ch.refreshing) return;
    ch.refreshing = setTimeout(async () => {
      try {
        const body = await this.api.get(`/api/channels/${seg(name)}`);
        const now = this.channels.get(name);
        if (now) {
          now.update({ ...body, last_seq: undefined });
          this.onChange("members", name);
          this.onChange("channels", name);
        }
      } catch {
        /* not visible any more: channel_left will follow */
      } finally {
        ch.refreshing = null;
      }
    }, 150);
  }

  _forget(name, notify) {
    const ch = this.channels.get(name);
    if (!ch) return;
    for (const p of ch.pending.values()) clearTimeout(p.timer);
    for (const t of ch.typing.values()) clearTimeout(t);
    clearTimeout(ch.refreshing);
    this.channels.delete(name);
    if (notify) this.onChange("left", name);
    this.onChange("channels", name);
  }

  watchPresence(force = false) {
    if (!this.me || !this.socket.isOpen) return;
    const users = new Set();
    for (const ch of this.channels.values()) {
      if (ch.isDM) for (const u of ch.partners(this.me.username)) users.add(u);
    }
    const list = [...users].sort().slice(0, 500);
    const key = list.join(",");
    if (!force && key === this.watched) return;
    this.watched = key;
    const id = this._request({ kind: "watch_presence" });
    this.socket.send({ action: "watch_presence", id, usernames: list });
  }

  // --- people ---------------------------------------------------------------------

  /** A person's display name, or their username until it is known. */
  displayName(username) {
    const p = this.people.get(username);
    return (p && p.display_name) || username;
  }

  /** Remember a message author's (or a user's) display name; true if it is new. */
  learn(user) {
    if (!user || !user.username || !user.display_name) return false;
    const known = this.people.get(user.username);
    if (known && known.display_name === user.display_name && !known.missing) return false;
    this.people.set(user.username, { username: user.username, display_name: user.display_name });
    return true;
  }

  _namesChanged() {
    this.onChange("channels"); // DM labels: sidebar, header, composer
    this.onChange("typing");
  }

  /** Fetch the display names not known yet (each once); resolves when they are in. */
  lookUp(usernames) {
    const wanted = [...new Set(usernames)].filter((u) => u && !this.people.has(u));
    const waits = wanted.map((u) => {
      if (!this.lookups.has(u)) {
        this.lookups.set(
          u,
          this.api
            .get(`/api/users/${seg(u)}`)
            .then((body) => this.learn(body))
            .catch(() => {
              // No such user (any more): show the username, and ask no more.
              if (!this.people.has(u)) this.people.set(u, { username: u, display_name: u, missing: true });
              return false;
            })
            .finally(() => this.lookups.delete(u)),
        );
      }
      return this.lookups.get(u);
    });
    if (!waits.length) return Promise.resolve();
    return Promise.all(waits).then((learned) => {
      if (learned.some(Boolean)) this._namesChanged();
    });
  }

  lookUpPartners() {
    if (!this.me) return;
    const users = [];
    for (const ch of this.channels.values()) if (ch.isDM) users.push(...ch.partners(this.me.username));
    this.lookUp(users);
  }

  /** Every channel you can see, yours and the public ones you are not in,
   * following the paged list to its end (at most 10 pages of 1000). */
  async channelDirectory() {
    const out = [];
    let after = null;
    for (let i = 0; i < 10; i++) {
      const query = after === null ? "?limit=1000" : `?limit=1000&after=${encodeURIComponent(after)}`;
      const { data, next } = await this.api.page(`/api/channels${query}`);
      out.push(...data);
      if (!next) break;
      after = next;
    }
    return out;
  }

  /** The usernames of the people you can reach. The API has no list of all
   * users: everyone joins #general, so its members, with those of your other
   * channels (at most 20 of them) and your DMs, are everyone you can find. */
  async peopleDirectory() {
    const found = new Set();
    for (const p of this.people.values()) if (!p.missing) found.add(p.username);
    const rooms = new Set([DEFAULT_CHANNEL]);
    for (const ch of this.channels.values()) {
      if (ch.isDM) ch.partners("").forEach((u) => found.add(u));
      else if (rooms.size < 20) rooms.add(ch.name);
    }
    await Promise.all(
      [...rooms].map((name) =>
        this.api
          .get(`/api/channels/${seg(name)}/members`)
          .then((body) => body.members.forEach((u) => found.add(u)))
          .catch(() => {}),
      ),
    );
    return [...found].sort();
  }

  // --- history ------------------------------------------------------------------

  /** The newest page of a channel's history (once, or again after a reload). */
  loadLatest(name) {
    const ch = this.channels.get(name);
    if (!ch) return Promise.resolve();
    if (ch.loaded) return Promise.resolve();
    if (ch.loading) return ch.loading;
    ch.loading = this.api
      .get(`/api/channels/${seg(name)}/messages?limit=${PAGE}`)
      .then((page) => {
        for (const m of page.messages) {
          this.learn(m.author);
          ch.add(m);
        }
        const oldestInPage = page.messages.length ? page.messages[page.messages.length - 1].seq : null;
        ch.hasMore = page.has_more || (oldestInPage !== null && ch.oldestSeq() < oldestInPage);
        ch.loaded = true;
        for (const m of page.messages) ch.lastSeq = Math.max(ch.lastSeq, m.seq);
      })
      .finally(() => {
        ch.loading = null;
        this.onChange("messages", name);
        this.onChange("channels", name);
      });
    return ch.loading;
  }

  /** The page before the oldest message loaded; resolves to how many were added. */
  loadOlder(name) {
    const ch = this.channels.get(name);
    if (!ch || !ch.hasMore || ch.loading) return Promise.resolve(0);
    const before = ch.oldestSeq();
    if (before === null) return this.loadLatest(name).then(() => 0);
    let added = 0;
    ch.loading = this.api
      .get(`/api/channels/${seg(name)}/messages?before=${before}&limit=${PAGE}`)
      .then((page) => {
        for (const m of page.messages) {
          this.learn(m.author);
          if (ch.add(m)) added++;
        }
        ch.hasMore = page.has_more;
      })
      .finally(() => {
        ch.loading = null;
        this.onChange("older", name);
      })
      .then(() => added);
    return ch.loading;
  }

  // --- sending ------------------------------------------------------------------

  send(name, text) {
    const ch = this.channels.get(name);
    if (!ch) return null;
    const p = {
      client_id: newClientId(),
      text,
      state: "pending",
      error: null,
      created_at: Date.now(),
      author: this.me,
      timer: null,
    };
    ch.pending.set(p.client_id, p);
    this._transmit(ch, p);
    return p;
  }

  /** Send a failed message again with the SAME client_id (never a duplicate). */
  retry(name, clientId) {
    const ch = this.channels.get(name);
    const p = ch && ch.pending.get(clientId);
    if (p) this._transmit(ch, p);
  }

  discard(name, clientId) {
    const ch = this.channels.get(name);
    const p = ch && ch.pending.get(clientId);
    if (!p) return;
    clearTimeout(p.timer);
    ch.pending.delete(clientId);
    this.onChange("messages", name);
  }

  _transmit(ch, p) {
    clearTimeout(p.timer);
    p.timer = null;
    p.state = "pending";
    p.error = null;
    if (this.socket.isOpen) {
      const id = this._request({ kind: "send", channel: ch.name, client_id: p.client_id });
      this.socket.send({ action: "send", id, channel: ch.name, text: p.text, client_id: p.client_id });
      p.timer = setTimeout(() => this._fail(ch, p, "No response from the server."), ACK_TIMEOUT);
    } // else: queued, sent when the connection is back
    this.onChange("messages", ch.name);
  }

  _fail(ch, p, why) {
    if (ch.pending.get(p.client_id) !== p) return;
    clearTimeout(p.timer);
    p.timer = null;
    p.state = "failed";
    p.error = why;
    this.onChange("messages", ch.name);
  }

  // --- read cursors and typing ---------------------------------------------------

  /** Mark `name` read up to `seq` (default: its newest) here and on every device. */
  markRead(name, seq = null, force = false) {
    const ch = this.channels.get(name);
    if (!ch) return;
    const upTo = seq ?? ch.lastSeq;
    if (upTo <= 0 || (upTo <= ch.lastRead && !force)) return;
    ch.lastRead = Math.max(ch.lastRead, upTo);
    if (ch.lastRead >= ch.lastSeq) ch.mentions = 0;
    if (!this.socket.send({ action: "read", channel: name, seq: upTo })) {
      this.api.post(`/api/channels/${seg(name)}/read`, { seq: upTo }).catch(() => {});
    }
    this.onChange("channels", name);
  }

  sendTyping(name) {
    this.socket.send({ action: "typing", channel: name });
  }
}
