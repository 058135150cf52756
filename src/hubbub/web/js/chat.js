// The chat model: channels, messages, pending sends, unread and mention counts,
// typing and presence, the open thread and the threads you follow, kept in sync
// over the WebSocket (and REST for lists and history). The UI reads this state
// and re-renders on `onChange(what, name)`.
//
// Threads: a reply (`thread_root` set) lives in its thread, not in the
// channel's list, unless it was sent with `broadcast` ("also send to the
// channel"); it is never unread in the channel then, as on the server. The
// open thread (`chat.thread`, one at a time) keeps its root and replies in
// step with the channel's events; `followed` is the server's list of the
// threads you follow with their unread replies (`GET /api/threads`).
//
// A channel's loaded messages are one unbroken run of its history: the newest
// page and older ones, or, opened at a message far back (a search result:
// `loadAround`), the page around it and pages either side of that. While such
// a run does not reach the newest message (`hasNewer`), messages that come
// live are kept aside (`ahead`), not shown below it out of place; they join
// once paging forward (`loadNewer`) reaches them, or `backToLatest` loads the
// newest page again.
//
// Slash commands run on the server (`runCommand`, REST). What a command
// answers for you only (an "ephemeral" answer, now or later through the
// socket's `ephemeral` event) is a line in its channel's `events`, beside the
// joined/left lines: never a message of the model (not stored, not unread,
// not editable), gone on a reload. One for a channel that is not open waits
// there until it is opened.

import { seg } from "./api.js";
import { mentions } from "./format.js";
import { Socket } from "./socket.js";

const params = new URLSearchParams(location.search);
/** How long a send waits for its ack before offering Retry (ms). */
export const ACK_TIMEOUT = Number(params.get("ack_timeout")) || 10000;
export const PAGE = 50;
/** The public channel every new account joins (hubbub.core.hub.DEFAULT_CHANNEL). */
export const DEFAULT_CHANNEL = "general";
/** Joined/left and "Only visible to you" lines kept per channel (they are live only: not in history). */
const MAX_EVENTS = 200;
/** Changes kept for messages not loaded (yet): applied if a history page brings them. */
const MAX_STASH = 500;

/** What a failed edit, delete or reaction says, by error code. */
const CHANGE_ERRORS = {
  forbidden: "You can only edit or delete your own messages.",
  not_a_member: "You are not in that conversation any more.",
  message_deleted: "That message was deleted.",
  too_many_reactions: "That message already has as many different reactions as it can have.",
  not_found: "That message is not there any more.",
  rate_limited: "You are doing that too often: wait a moment and try again.",
  unavailable: "The server could not save that: try again.",
};

export function newClientId() {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes); // works on plain http too, unlike randomUUID
  return "w-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Confirmed messages by seq, as the model keeps them: a channel's list, or
 * the replies of the open thread. */
class MessageSet {
  constructor() {
    this.msgs = new Map(); // seq -> message (confirmed)
    this.stash = new Map(); // message seq -> {message, at}: changes to messages not loaded
    this._sorted = null;
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

  /** Add a confirmed message; false if this seq is already here (dedupe). A
   * change seen for it before it was loaded wins over a history page's copy. */
  add(m) {
    if (this.msgs.has(m.seq)) return false;
    const stashed = this.stash.get(m.seq);
    if (stashed) this.stash.delete(m.seq);
    this.msgs.set(m.seq, entry(stashed ? stashed.message : m, stashed ? stashed.at : 0, 0));
    this._sorted = null;
    return true;
  }

  /** A message's state now (`at`: the seq of the change that made it); false
   * if the message is not here, or what is here is newer. */
  replace(m, at) {
    const prev = this.msgs.get(m.seq);
    if (!prev || at < prev.at) return false;
    this.msgs.set(m.seq, entry(m, at, prev.rev + 1));
    this._sorted = null;
    return true;
  }

  /** A change to a message that is not loaded: kept in case a history page in
   * flight (older than the change) brings it. */
  remember(m, at) {
    this.stash.delete(m.seq);
    this.stash.set(m.seq, { message: m, at });
    if (this.stash.size > MAX_STASH) this.stash.delete(this.stash.keys().next().value);
  }
}

/** The open thread: its root (`rootMsg`, once known) and the pages of its
 * replies loaded so far, oldest first. */
export class Thread extends MessageSet {
  constructor(channel, root) {
    super();
    this.channel = channel;
    this.root = root;
    this.rootMsg = null;
    this.loaded = false; // the newest page of replies has been fetched
    this.hasMore = false; // older replies may exist
    this.loading = null;
    this.error = null;
    this.readUpTo = 0; // the last seq sent in a `read_thread`
  }

  /** The root's state now (`at` as in replace); a copy older than the one here is ignored. */
  setRoot(m, at) {
    const prev = this.rootMsg;
    if (prev && at < prev.at) return false;
    this.rootMsg = entry(m, at, prev ? prev.rev + 1 : 0);
    return true;
  }

  /** Message `seq` of the thread: its root or a loaded reply. */
  get(seq) {
    return seq === this.root ? this.rootMsg : this.msgs.get(seq) || null;
  }
}

export class Channel extends MessageSet {
  /** `names`: a username's display name (the username until it is known). */
  constructor(body, names = null) {
    super();
    this.names = names;
    this.name = body.name;
    this.kind = body.kind;
    this.topic = "";
    this.purpose = "";
    this.archived = false;
    this.isDefault = false; // new accounts join it
    this.isAdmin = undefined; // you are its admin (undefined: the server does not say)
    this.formerName = null; // the name it had before its last rename
    this.memberCount = 0;
    this.members = null;
    this.lastSeq = 0; // newest seq the server has told us about
    this.lastRead = Number(body.last_read ?? 0);
    this.serverRead = this.lastRead; // the cursor as the server last confirmed it
    this.mentions = Number(body.mentions ?? 0);
    this.countedUpTo = Number(body.last_seq ?? 0); // mentions are counted up to here
    // Unread messages. Edits, deletes and reactions take seqs too, so a seq
    // difference counts nothing: the count is the server's (`unread`, in a REST
    // channel view at `baseSeq` after `baseRead`), less its messages deleted
    // since (`baseGone`: message seq -> the delete's seq), plus the messages
    // from others delivered live after `baseSeq` (`liveUnread`), each only
    // while it is after `lastRead`.
    this.unreadBase = 0;
    this.baseSeq = 0;
    this.baseRead = 0;
    this.baseGone = new Map();
    this.liveUnread = new Set();
    this.seen = Number(body.last_seq ?? 0); // resume point: `since` on (re)subscribe
    this.roots = new Map(); // seq -> the root of a broadcast reply whose root is not loaded (null: asked)
    this.pending = new Map(); // client_id -> pending send (a reply's has `thread_root`)
    this.typing = new Map(); // username -> expiry timer
    // Lines seen live, never stored: "joined" / "left" {kind, user, after (seq), at, id},
    // and commands' answers for you only {kind: "ephemeral", command, text, after, at, id}.
    this.events = [];
    this.loaded = false; // the newest page of history has been fetched
    this.hasMore = true; // older history may exist
    this.hasNewer = false; // what is loaded stops short of the newest message
    this.ahead = new Map(); // seq -> message that came live while hasNewer
    this.epoch = 0; // counts clearMessages: a page asked for before one is dropped
    this.loading = null; // the history fetch in flight
    this.subscribed = false;
    this.live = false; // its `subscribed` came: what arrives now is new (not a replay)
    // Before `live`: messages after this seq are new all the same (a channel
    // joined just now: its subscribe replays what came since the join).
    this.newAfter = Infinity;
    this.notify = "mentions"; // your notification level here (all, mentions, nothing)
    this.muted = false;
    this.refreshing = null;
    this.update(body);
    this.rebase(body);
  }

  update(body) {
    if (body.kind) this.kind = body.kind;
    if (typeof body.topic === "string") this.topic = body.topic;
    if (typeof body.purpose === "string") this.purpose = body.purpose;
    if (typeof body.archived === "boolean") this.archived = body.archived;
    if (typeof body.default === "boolean") this.isDefault = body.default;
    if (typeof body.is_admin === "boolean") this.isAdmin = body.is_admin;
    if (typeof body.notify === "string") this.notify = body.notify;
    if (typeof body.muted === "boolean") this.muted = body.muted;
    if (typeof body.member_count === "number") this.memberCount = body.member_count;
    if (Array.isArray(body.members)) this.members = body.members;
    if (typeof body.last_seq === "number") this.lastSeq = Math.max(this.lastSeq, body.last_seq);
  }

  get unread() {
    let n = 0;
    if (this.lastRead < this.baseSeq) n = this.unreadBase - this.baseGone.size;
    for (const seq of this.liveUnread) if (seq > this.lastRead) n++;
    return Math.max(0, n);
  }

  /** Take the server's counts from a REST channel view (`unread`, `mentions`,
   * `last_read`, as of its `last_seq`); an older view than the last one is ignored. */
  rebase(body) {
    if (typeof body.unread !== "number") return;
    const upTo = Number(body.last_seq ?? 0);
    if (upTo < this.baseSeq) return;
    this.unreadBase = body.unread;
    this.baseSeq = upTo;
    this.baseRead = Number(body.last_read ?? 0);
    this.lastRead = Math.max(this.lastRead, this.baseRead);
    this.serverRead = Math.max(this.serverRead, this.baseRead);
    for (const [seq, at] of this.baseGone) {
      if (at <= upTo || seq <= this.baseRead || seq > upTo) this.baseGone.delete(seq);
    }
    for (const seq of this.liveUnread) if (seq <= upTo) this.liveUnread.delete(seq);
    // The server counted mentions up to `upTo`; live ones past it stay ours.
    if (this.countedUpTo <= upTo) {
      this.countedUpTo = upTo;
      this.mentions = Number(body.mentions ?? 0);
    }
    this.clampMentions();
  }

  /** Every unread DM is for you; a mention is always an unread message. */
  clampMentions() {
    if (this.isDM) this.mentions = Math.max(this.mentions, this.unread);
    this.mentions = Math.min(this.mentions, this.unread);
  }

  /** Read up to `lastRead`: forget the live unread messages before it. */
  pruneRead() {
    for (const seq of this.liveUnread) if (seq <= this.lastRead) this.liveUnread.delete(seq);
  }

  get isDM() {
    return this.kind === "dm";
  }

  clearMessages() {
    this.msgs.clear();
    this.stash.clear();
    this.roots.clear();
    this.ahead.clear();
    this._sorted = null;
    this.loaded = false;
    this.hasMore = true;
    this.hasNewer = false;
    this.epoch++;
  }

  /** A message that came live: shown, unless what is loaded is further back
   * (then kept aside until paging forward gets to it). */
  addLive(m) {
    if (!this.hasNewer) return this.add(m);
    this.ahead.set(m.seq, m);
    if (this.ahead.size > MAX_STASH) this.ahead.delete(this.ahead.keys().next().value);
    return false;
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
    this.trimEvents();
  }

  /** A command's answer for you only (`command`: "/topic"): a line after the newest message delivered so far. */
  addEphemeral(command, text) {
    this.events.push({ kind: "ephemeral", command, text, after: this.seen, at: Date.now(), id: `ephemeral:${++eventIds}` });
    this.trimEvents();
  }

  /** Forget the line `id` (an ephemeral answer dismissed); false if it is not here. */
  removeEvent(id) {
    const i = this.events.findIndex((ev) => ev.id === id);
    if (i < 0) return false;
    this.events.splice(i, 1);
    return true;
  }

  trimEvents() {
    if (this.events.length > MAX_EVENTS) this.events.splice(0, this.events.length - MAX_EVENTS);
  }
}

let eventIds = 0;

/** A confirmed message as the model keeps it; `at` is the seq of the last
 * change applied (0: as sent or loaded), `rev` counts local updates (the list
 * redraws a message when it changes). */
function entry(m, at, rev) {
  return {
    seq: m.seq,
    channel: m.channel,
    author: m.author,
    text: m.text,
    client_id: m.client_id ?? null,
    created_at: m.created_at,
    edited_at: m.edited_at ?? null,
    deleted: m.deleted === true,
    reactions: Array.isArray(m.reactions) ? m.reactions : [],
    pinned_by: m.pinned_by ?? null,
    pinned_at: m.pinned_at ?? null,
    thread_root: m.thread_root ?? null,
    broadcast: m.broadcast === true,
    reply_count: Number(m.reply_count ?? 0),
    last_reply_at: m.last_reply_at ?? null,
    reply_users: Array.isArray(m.reply_users) ? m.reply_users : [],
    files: Array.isArray(m.files) ? m.files : [],
    // An incoming webhook's name for its post (shown in place of the author's
    // display name, beside their username): never learnt as the author's name.
    shown_name: typeof m.shown_name === "string" && m.shown_name ? m.shown_name : null,
    at,
    rev,
  };
}

/** Is `m` shown in its channel's list: not a reply, or one also sent to the channel? */
export function inChannel(m) {
  return m.thread_root === null || m.thread_root === undefined || m.broadcast === true;
}

export class Chat {
  constructor({ api, token, onChange, onAuthFailed, onEnded, onNotice, onIncoming }) {
    this.api = api;
    // A message from someone else arrived live (not replayed): (channel, message).
    this.onIncoming = onIncoming || (() => {});
    // Your notification settings, as the server's `notifications` frame says
    // them (null until read): do-not-disturb, its schedule, digests.
    this.notifySettings = null;
    this.token = token;
    this.appChange = onChange;
    this.listeners = new Set(); // more `(what, name)` callbacks (listen())
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
    this.thread = null; // the open thread (a Thread), if any
    this.followed = []; // the threads you follow: {channel, root (a message), lastRead, unread}
    this.followedLoaded = false;
    this.threadsTimer = null;
    this.threadsAsked = 0;
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
      onEnded: (code, reason) => (onEnded ? onEnded(code, reason) : this.onAuthFailed(reason)),
    });
  }

  start() {
    this.socket.connect();
  }

  /** Tell the app about a change, and whoever else listens. */
  onChange(what, name) {
    this.appChange(what, name);
    for (const fn of this.listeners) fn(what, name);
  }

  /** Also call `fn(what, name)` on every change (for the parts app.js does not
   * route: the thread panel, the threads view); returns what stops it. */
  listen(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  stop() {
    clearTimeout(this.threadsTimer);
    clearTimeout(this.dndTimer);
    this.socket.stop();
    for (const req of this.requests.values()) if (req.kind === "change") clearTimeout(req.timer);
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
    this.me = { ...(this.me || {}), ...hello.user };
    // (Its name only: `hello` carries no custom status, which would read as none.)
    this.learn({ username: hello.user.username, display_name: hello.user.display_name });
    this.limits = { ...this.limits, ...hello.limits };
    for (const ch of this.channels.values()) ch.subscribed = ch.live = false;
    this.loadNotifySettings();
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
    this.refreshThreads();
  }

  _down() {
    this.generation++;
    for (const req of this.requests.values()) {
      if (req.kind === "change") this._settle(req, changeError("disconnected", "The connection dropped before the server answered: check the message and try again."));
    }
    this.requests.clear();
    this.watched = "";
    for (const ch of this.channels.values()) {
      ch.subscribed = ch.live = false;
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
    await this._renamedMeanwhile(list);
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
      ch.rebase(body);
      // Read here further than the server had counted (a `read` on its way):
      // its count holds messages read since, so ask it again in a moment.
      if (ch.lastRead > ch.baseRead && ch.lastRead < ch.baseSeq && ch.unreadBase > 0) this.refreshChannel(ch.name);
    }
    for (const name of [...this.channels.keys()]) {
      if (!mine.has(name)) this._forget(name, false);
    }
    this.lookUpPartners();
    this.onChange("channels");
    return list;
  }

  /** Channels of ours missing from the server's list: left, or renamed
   * while this tab was not connected (no `channel_updated` came). A former
   * name still addresses its channel: ask it, and move a renamed one's state
   * to its new name, as a live rename does. */
  async _renamedMeanwhile(list) {
    const listed = new Map(list.filter((b) => b.is_member).map((b) => [b.name, b]));
    const missing = [...this.channels.keys()].filter((n) => !listed.has(n) && !n.startsWith("dm:"));
    await Promise.all(
      missing.slice(0, 20).map(async (old) => {
        try {
          const body = await this.api.get(`/api/channels/${seg(old)}`);
          if (body.is_member && body.name !== old && listed.has(body.name)) this.renamed(old, body.name);
        } catch {
          /* gone, or not yours any more: forgotten below */
        }
      }),
    );
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
      case "message_updated":
        return this._updated(f);
      case "changed":
        return this._changed(f);
      case "ack":
        return this._ack(f);
      case "subscribed":
        return this._subscribed(f);
      case "error":
        return this._error(f);
      case "read":
        return this._read(f);
      case "thread_read":
        return this._threadRead(f);
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
        if (f.renamed_from) this.renamed(f.renamed_from, f.channel.name);
        const ch = this.channels.get(f.channel.name);
        if (ch) {
          ch.update(f.channel);
          this.onChange("channels", ch.name);
          this.onChange("members", ch.name); // the details (purpose, archived) it shows
        }
        return;
      }
      case "user_updated":
        return this.userUpdated(f.user);
      case "session_ended":
        // Sessions of yours ended (this one's connection closes with 4010 right after).
        return this.onChange("sessions");
      case "account_deactivated":
        return; // the close (4011) that follows says it
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
      case "ephemeral": {
        // A command's later answer for you only (through its response_url), on
        // each of your connections: shown in its channel, never stored.
        const ch = this.channels.get(f.channel);
        if (ch && f.text) {
          ch.addEphemeral(f.command || "", String(f.text));
          this.onChange("messages", ch.name);
        }
        return;
      }
      case "skipped": {
        // Places of the log that hold nothing for us (changes a replay folded
        // into a later frame; on Lambda, a send that failed after taking its
        // seq): delivered as far as resuming goes, and nothing to show.
        const ch = this.channels.get(f.channel);
        if (ch) {
          ch.seen = Math.max(ch.seen, f.last);
          ch.lastSeq = Math.max(ch.lastSeq, f.last);
        }
        return;
      }
      case "notifications":
        this.requests.delete(f.id);
        return this.notifySettingsChanged(f);
      case "channel_notifications":
        this.requests.delete(f.id);
        return this.channelPrefs(f);
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
    const shown = inChannel(m);
    if (shown) ch.addLive(m);
    if (m.thread_root != null) this._reply(ch, m, mine);
    this._lookUpReactors(ch, m);
    // Subscriptions deliver each channel in order without gaps: this is the
    // point to resume from.
    ch.seen = Math.max(ch.seen, m.seq);
    ch.lastSeq = Math.max(ch.lastSeq, m.seq);
    // Unread: a message from someone else past the server's count (a replay
    // may bring messages it counted already: those are at or before baseSeq).
    // A replayed message can be a tombstone already: never unread. A reply
    // kept in its thread is never unread in the channel.
    const countable = !mine && m.deleted !== true && shown;
    if (countable && m.seq > ch.baseSeq && m.seq > ch.lastRead) ch.liveUnread.add(m.seq);
    if (m.seq > ch.countedUpTo) {
      ch.countedUpTo = m.seq;
      if (countable && m.seq > ch.lastRead && (ch.isDM || mentions(m.text, this.me?.username))) {
        ch.mentions++;
      }
    }
    // Your own message is never unread, whichever client sent it (this tab,
    // another device, a script): the server moved your cursor to it when it
    // stored it, so every device moves its own here, with no `read` frame
    // (not for a reply kept in its thread: the server leaves the cursor).
    if (mine && shown) this._readUpTo(ch, m.seq);
    // Live and new (a replay after a reconnect is what you missed, not news).
    if (!mine && (ch.live || m.seq > ch.newAfter) && m.deleted !== true) this.onIncoming(ch, m);
    if (m.author && m.author.username && ch.typing.has(m.author.username)) {
      clearTimeout(ch.typing.get(m.author.username));
      ch.typing.delete(m.author.username);
      this.onChange("typing", ch.name);
    }
    this.onChange("messages", ch.name);
    this.onChange("channels", ch.name);
  }

  /** A message changed (edited, deleted, reacted to): `f.seq` is the change's
   * place in the log, `f.message` the message's state now. */
  _updated(f) {
    const ch = this.channels.get(f.channel);
    if (!ch) return;
    const m = f.message;
    if (this.learn(m.author)) this._namesChanged();
    ch.seen = Math.max(ch.seen, f.seq);
    ch.lastSeq = Math.max(ch.lastSeq, f.seq);
    const me = this.me?.username;
    const theirs = !(m.author && m.author.username && m.author.username === me);
    const prev = ch.msgs.get(m.seq);
    const shown = inChannel(m);
    if (theirs && m.deleted === true && shown) {
      // A deleted message is not unread any more. One the server counted
      // (in its view at baseSeq) and deleted after that view comes off it.
      ch.liveUnread.delete(m.seq);
      if (f.seq > ch.baseSeq && m.seq > ch.baseRead && m.seq <= ch.baseSeq) ch.baseGone.set(m.seq, f.seq);
    }
    if (f.seq > ch.countedUpTo) {
      // An edit that newly mentions you in an unread message counts; one that
      // takes the mention out (or a delete) takes it back. Only against the
      // text we had, so nothing counts twice; the server's views agree.
      ch.countedUpTo = f.seq;
      if (theirs && prev && m.seq > ch.lastRead) {
        const counts = (x) => x.deleted !== true && (ch.isDM || mentions(x.text, me));
        const delta = Number(counts(m)) - Number(counts(prev));
        if (delta > 0) ch.mentions++;
        else if (delta < 0) ch.mentions = Math.max(0, ch.mentions - 1);
      }
    }
    ch.clampMentions();
    if (prev) ch.replace(m, f.seq);
    else if (shown) ch.remember(m, f.seq);
    if (ch.roots.get(m.seq)) ch.roots.set(m.seq, entry(m, f.seq, 0));
    this._threadChanged(ch, m, f.seq);
    // A thread you started got a reply, or one you replied in from elsewhere:
    // the list of the threads you follow has it now.
    if (m.thread_root == null && m.reply_count > 0 && !this.follows(ch.name, m.seq)) {
      if (!theirs || (m.reply_users || []).includes(me)) this.refreshThreads();
    }
    this._lookUpReactors(ch, m);
    this.onChange("messages", ch.name);
    this.onChange("channels", ch.name);
  }

  /** The answer to your edit, delete, react or unreact. */
  _changed(f) {
    const req = this.requests.get(f.id);
    this.requests.delete(f.id);
    const ch = this.channels.get(f.channel);
    if (ch && f.message) {
      this.learn(f.message.author);
      // `seq: null`: it changed nothing. Otherwise the state it made, unless
      // a later change is here already (its message_updated came first).
      if (f.seq !== null && f.seq !== undefined) {
        const here = ch.replace(f.message, f.seq);
        const there = this._threadChanged(ch, f.message, f.seq);
        if (here || there) {
          this._lookUpReactors(ch, f.message);
          this.onChange("messages", ch.name);
        }
      }
    }
    if (req && req.kind === "change") this._settle(req, null, f.message);
  }

  _ack(f) {
    this.requests.delete(f.id);
    const ch = this.channels.get(f.channel);
    if (!ch) return;
    if (ch.pending.has(f.client_id)) this._confirm(ch, f.client_id);
    this.learn(f.message.author);
    ch.lastSeq = Math.max(ch.lastSeq, f.seq);
    if (inChannel(f.message)) {
      ch.addLive(f.message);
      this._readUpTo(ch, f.seq); // stored as you: read, here and on the server
    }
    if (f.message.thread_root != null) this._reply(ch, f.message, true);
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
    ch.live = true;
    ch.newAfter = Infinity; // after a reconnect, a replay is what you missed: not news
    ch.lastSeq = Math.max(ch.lastSeq, f.last_seq);
    if (f.recovered) {
      ch.seen = Math.max(ch.seen, f.last_seq);
    } else {
      // Too far behind to replay: page the history again instead of showing a
      // hole (and take the unread count from the server: nothing came live).
      ch.seen = f.last_seq;
      ch.clearMessages();
      this.refreshChannel(ch.name);
      this.onChange("reload", ch.name);
      const t = this.thread;
      if (t && t.channel === ch.name) {
        t.msgs.clear();
        t._sorted = null;
        t.loaded = false;
        this._loadThread(t);
      }
      this.refreshThreads();
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
    if (req.kind === "change") {
      if (f.code === "rate_limited" && f.retry_after != null && !req.retried) {
        req.retried = true;
        clearTimeout(req.timer);
        req.timer = setTimeout(() => this._transmitChange(req), Math.max(100, f.retry_after * 1000));
        return;
      }
      this._settle(req, changeError(f.code, changeMessage(f, req)));
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
    // Read part of what the server counted (another device, behind this one):
    // how many of its messages are left is the server's to say.
    if (ch.lastRead > ch.baseRead && ch.lastRead < ch.baseSeq && ch.unreadBase > 0) this.refreshChannel(ch.name);
    this.onChange("channels", ch.name);
  }

  /** The server's cursor for `ch` is at `seq` or past it: a `read` event, or
   * your own message (storing it moved the cursor). Forward only. */
  _readUpTo(ch, seq) {
    if (seq > ch.lastRead) ch.lastRead = seq;
    ch.serverRead = Math.max(ch.serverRead, seq);
    ch.pruneRead();
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

  // --- notification preferences ------------------------------------------------

  /** Read your notification settings (again: on every hello, so a change made
   * while this tab was offline is seen). */
  async loadNotifySettings() {
    try {
      this.notifySettingsChanged(await this.api.get("/api/notifications"));
    } catch {
      /* unknown for now: the rule then only knows the channels' levels */
    }
  }

  /** Your settings changed (an answer, or another device's change). */
  notifySettingsChanged(body) {
    const { type, id, ...settings } = body;
    this.notifySettings = settings;
    // A snooze ends by itself: the "paused" mark goes then, with no event.
    clearTimeout(this.dndTimer);
    const left = settings.dnd_until != null ? settings.dnd_until - Date.now() : 0;
    if (left > 0) this.dndTimer = setTimeout(() => this.onChange("notify"), Math.min(left + 50, 2 ** 31 - 1));
    this.onChange("notify");
  }

  /** A channel's level or mute changed: `{channel, level, muted}`. */
  channelPrefs(body) {
    const ch = this.channels.get(body.channel);
    if (!ch) return;
    ch.update({ notify: body.level, muted: body.muted });
    this.onChange("channels", ch.name);
    this.onChange("notify", ch.name);
  }

  /** A channel you are now in (created, joined, invited to, a DM opened). */
  addChannel(body) {
    let ch = this.channels.get(body.name);
    if (ch) {
      ch.update(body);
    } else {
      ch = new Channel({ ...body, last_read: 0, mentions: 0 }, this.names);
      ch.update(body);
      ch.newAfter = Number(body.last_seq ?? 0);
      this.channels.set(ch.name, ch);
      if (ch.isDM) {
        this.watchPresence();
        if (this.me) this.lookUpFull(ch.partners(this.me.username));
      }
      // Its unread count and read cursor are the server's (joining reads
      // what was there before, as in Slack).
      this.refreshChannel(ch.name);
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
          now.rebase(body);
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

  /** Channel `from` is called `to` now (its `channel_updated`, or your own
   * rename's answer): everything kept under its name moves, and "renamed"
   * tells the app (which keeps it open). Nothing to do if it moved already. */
  renamed(from, to) {
    const ch = this.channels.get(from);
    if (!ch || from === to || this.channels.has(to)) return false;
    this.channels.delete(from);
    ch.name = to;
    ch.formerName = from;
    this.channels.set(to, ch);
    for (const m of ch.msgs.values()) m.channel = to;
    for (const m of ch.roots.values()) if (m) m.channel = to;
    for (const req of this.requests.values()) if (req.channel === from) req.channel = to;
    const t = this.thread;
    if (t && t.channel === from) {
      t.channel = to;
      if (t.rootMsg) t.rootMsg.channel = to;
      for (const m of t.msgs.values()) m.channel = to;
    }
    for (const f of this.followed) {
      if (f.channel === from) {
        f.channel = to;
        f.root.channel = to;
      }
    }
    this.onChange("renamed", to);
    this.onChange("channels", to);
    if (t && t.channel === to) this.onChange("thread", to);
    return true;
  }

  _forget(name, notify) {
    const ch = this.channels.get(name);
    if (!ch) return;
    for (const p of ch.pending.values()) clearTimeout(p.timer);
    for (const t of ch.typing.values()) clearTimeout(t);
    clearTimeout(ch.refreshing);
    this.channels.delete(name);
    if (this.thread && this.thread.channel === name) this.closeThread();
    this.followed = this.followed.filter((t) => t.channel !== name);
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

  /** Remember a message author's display name, or a user's (from /api/users,
   * `user_updated`: with their role and custom status too); true if it is new. */
  learn(user) {
    if (!user || !user.username || !user.display_name) return false;
    const known = this.people.get(user.username);
    const full = "role" in user; // a UserOut, not a message's author
    const status = full ? user.custom_status || null : known ? known.custom_status || null : null;
    const same =
      known &&
      !known.missing &&
      known.display_name === user.display_name &&
      statusKey(known.custom_status) === statusKey(status) &&
      (!full || (known.role === user.role && known.deactivated === (user.deactivated === true)));
    if (same) return false;
    this.people.set(user.username, {
      username: user.username,
      display_name: user.display_name,
      custom_status: status,
      role: full ? user.role : known ? known.role : undefined,
      deactivated: full ? user.deactivated === true : known ? known.deactivated : undefined,
    });
    return true;
  }

  /** A person's custom status ({emoji, text, until}) while it stands, or null. */
  statusOf(username) {
    const p = this.people.get(username);
    const s = p && p.custom_status;
    if (!s || (!s.emoji && !s.text)) return null;
    if (s.until && s.until <= Date.now()) return null;
    return s;
  }

  /** Someone's name, role, status or active state changed (you, or someone
   * whose presence you watch). */
  userUpdated(user) {
    if (!user || !user.username) return;
    const changed = this.learn(user);
    if (this.me && user.username === this.me.username) {
      // (A frame leaves out a status that is not set, and `deactivated` when false.)
      this.me = { ...this.me, ...user, custom_status: user.custom_status || null, deactivated: user.deactivated === true };
      this.onChange("me");
    }
    if (changed) {
      this._namesChanged();
      this.onChange("people");
    }
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

  /** Fetch the whole of these people (custom status and role too, not just
   * the name a message carries), each once; resolves when they are in. */
  lookUpFull(usernames) {
    this.fullAsked = this.fullAsked || new Set();
    const wanted = [...new Set(usernames)].filter((u) => u && !this.fullAsked.has(u) && (this.people.get(u)?.role === undefined));
    for (const u of wanted) this.fullAsked.add(u);
    const waits = wanted.map((u) =>
      this.api
        .get(`/api/users/${seg(u)}`)
        .then((body) => this.learn(body))
        .catch(() => {
          if (!this.people.has(u)) this.people.set(u, { username: u, display_name: u, missing: true });
          return false;
        }),
    );
    if (!waits.length) return Promise.resolve();
    return Promise.all(waits).then((learned) => {
      if (learned.some(Boolean)) {
        this._namesChanged();
        this.onChange("people");
      }
    });
  }

  lookUpPartners() {
    if (!this.me) return;
    const users = [];
    for (const ch of this.channels.values()) if (ch.isDM) users.push(...ch.partners(this.me.username));
    this.lookUpFull(users); // with their custom status, shown beside their name
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
    const epoch = ch.epoch;
    ch.loading = this.api
      .get(`/api/channels/${seg(name)}/messages?limit=${PAGE}`)
      .then((page) => {
        if (ch.epoch !== epoch) return;
        for (const m of page.messages) {
          this.learn(m.author);
          ch.add(m);
          this._lookUpReactors(ch, m);
        }
        ch.stash.clear(); // changes to messages older than this page: history has them as they are now
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
    const epoch = ch.epoch;
    ch.loading = this.api
      .get(`/api/channels/${seg(name)}/messages?before=${before}&limit=${PAGE}`)
      .then((page) => {
        if (ch.epoch !== epoch) return;
        for (const m of page.messages) {
          this.learn(m.author);
          if (ch.add(m)) added++;
          this._lookUpReactors(ch, m);
        }
        ch.stash.clear();
        ch.hasMore = page.has_more;
      })
      .finally(() => {
        ch.loading = null;
        this.onChange("older", name);
      })
      .then(() => added);
    return ch.loading;
  }

  /** Load channel `name` at message `seq` (a search result far back): the
   * page around it in place of what was loaded, with `hasNewer` until paging
   * forward reaches the newest. Resolves once it is in. */
  async loadAround(name, seq) {
    const ch = this.channels.get(name);
    if (!ch) return;
    while (ch.loading) await ch.loading.catch(() => {});
    ch.clearMessages();
    ch.hasNewer = true; // what comes live meanwhile waits aside
    const epoch = ch.epoch;
    ch.loading = this.api
      .get(`/api/channels/${seg(name)}/messages?around=${seq}&limit=${PAGE}`)
      .then((page) => {
        if (ch.epoch !== epoch) return;
        for (const m of page.messages) {
          this.learn(m.author);
          ch.add(m);
          this._lookUpReactors(ch, m);
        }
        ch.loaded = true;
        // Either end may have more: asking says (an empty page and has_more false).
        ch.hasMore = ch.oldestSeq() === null ? false : ch.oldestSeq() > 1;
        // `has_more`: newer ones exist. None: live from here.
        if (!page.has_more || ch.oldestSeq() === null) this._reachedNewest(ch);
      })
      .finally(() => {
        ch.loading = null;
        this.onChange("messages", name);
      });
    return ch.loading;
  }

  /** The page after the newest message loaded, while that is not the
   * channel's newest; resolves to how many were added. */
  loadNewer(name) {
    const ch = this.channels.get(name);
    if (!ch || !ch.loaded || !ch.hasNewer || ch.loading) return Promise.resolve(0);
    const after = ch.newestSeq();
    const epoch = ch.epoch;
    let added = 0;
    ch.loading = this.api
      .get(`/api/channels/${seg(name)}/messages?after=${after}&limit=${PAGE}`)
      .then((page) => {
        if (ch.epoch !== epoch) return;
        for (const m of page.messages) {
          this.learn(m.author);
          if (ch.add(m)) added++;
          this._lookUpReactors(ch, m);
        }
        if (!page.has_more) this._reachedNewest(ch);
      })
      .finally(() => {
        ch.loading = null;
        this.onChange("messages", name);
        this.onChange("channels", name);
      })
      .then(() => added);
    return ch.loading;
  }

  /** Paging forward got to the newest message: what came live meanwhile joins, and live ones show again. */
  _reachedNewest(ch) {
    const newest = ch.newestSeq();
    for (const m of ch.ahead.values()) if (m.seq > newest) ch.add(m);
    ch.ahead.clear();
    ch.hasNewer = false;
  }

  /** Opened at an older message: load the newest page again (live from then on). */
  backToLatest(name) {
    const ch = this.channels.get(name);
    if (!ch || !ch.hasNewer) return Promise.resolve();
    // At once, so an ack or a live message from now on is shown (a page in
    // flight is for the old run: its epoch drops it).
    ch.clearMessages();
    this.onChange("messages", name);
    return (ch.loading || Promise.resolve()).catch(() => {}).then(() => this.loadLatest(name));
  }

  // --- sending ------------------------------------------------------------------

  /** Run the slash command `text` ("/shrug ok") in channel `name` on the
   * server; its answer (`{command, response_type, text, message}`). Its text
   * for you only shows in the channel (an in-channel post comes as a
   * `message` on the socket, as any other). Throws the server's ApiError. */
  async runCommand(name, text) {
    const body = await this.api.post(`/api/channels/${seg(name)}/commands`, { text, client_id: newClientId() });
    const ch = this.channels.get(name);
    if (ch && body && body.text) {
      ch.addEphemeral(body.command || "", String(body.text));
      this.onChange("messages", name);
    }
    return body;
  }

  /** Send `text` to channel `name`; with `thread_root`, as a reply in that
   * thread (`broadcast`: also shown in the channel). */
  send(name, text, { thread_root = null, broadcast = false, files = [] } = {}) {
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
      thread_root,
      broadcast: thread_root !== null && broadcast === true,
      files, // FileOut of each (uploaded already): shown while it goes
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
      const frame = { action: "send", id, channel: ch.name, text: p.text, client_id: p.client_id };
      if (p.files && p.files.length) frame.files = p.files.map((f) => f.id);
      if (p.thread_root !== null && p.thread_root !== undefined) {
        frame.thread_root = p.thread_root;
        if (p.broadcast) frame.broadcast = true;
      }
      this.socket.send(frame);
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
    ch.pruneRead();
    if (ch.lastRead >= ch.lastSeq) ch.mentions = 0;
    else ch.mentions = Math.min(ch.mentions, ch.unread);
    if (!this.socket.send({ action: "read", channel: name, seq: upTo })) {
      this.api.post(`/api/channels/${seg(name)}/read`, { seq: upTo }).catch(() => {});
    }
    this.onChange("channels", name);
  }

  sendTyping(name) {
    this.socket.send({ action: "typing", channel: name });
  }

  // --- edits, deletes and reactions ------------------------------------------------

  /** Replace the text of your message `seq`; resolves with the message as it
   * is now, or rejects with an Error whose `code` is the server's. */
  edit(name, seq, text) {
    return this._change("edit", name, seq, { text });
  }

  delete(name, seq) {
    return this._change("delete", name, seq, {});
  }

  /** `emoji` as itself or as a `:shortcode:` (the server checks it). */
  react(name, seq, emoji) {
    return this._change("react", name, seq, { emoji });
  }

  unreact(name, seq, emoji) {
    return this._change("unreact", name, seq, { emoji });
  }

  /** Did you react to message `seq` with `emoji` (as far as this tab knows)? */
  reacted(name, seq, emoji) {
    const m = this.findMessage(name, seq);
    const me = this.me?.username;
    return !!m && m.reactions.some((r) => r.emoji === emoji && r.users.includes(me));
  }

  /** react or unreact, whichever takes your reaction `emoji` the other way. */
  toggleReaction(name, seq, emoji) {
    return this.reacted(name, seq, emoji) ? this.unreact(name, seq, emoji) : this.react(name, seq, emoji);
  }

  /** Pin message `seq` to its channel (any member may, as in Slack). */
  pin(name, seq) {
    return this._change("pin", name, seq, {});
  }

  unpin(name, seq) {
    return this._change("unpin", name, seq, {});
  }

  /** Message `seq` of channel `name` wherever this tab has it: the channel's
   * list or the open thread (null if neither has it). */
  findMessage(name, seq) {
    const here = this.channels.get(name)?.msgs.get(seq);
    if (here) return here;
    const t = this.thread;
    return (t && t.channel === name && t.get(seq)) || null;
  }

  _change(action, name, seq, fields) {
    return new Promise((resolve, reject) => {
      if (!this.channels.has(name)) {
        reject(changeError("not_found", "You are not in that conversation any more."));
        return;
      }
      if (!this.socket.isOpen) {
        // Not queued: by the time the connection is back the message may have
        // changed, and a reaction sent twice would toggle the wrong way.
        reject(changeError("offline", "You are offline: try again once the connection is back."));
        return;
      }
      this._transmitChange({ kind: "change", action, channel: name, seq, fields, resolve, reject, timer: null, retried: false });
    });
  }

  _transmitChange(req) {
    if (req.id !== undefined) this.requests.delete(req.id);
    if (!this.socket.isOpen) {
      this._settle(req, changeError("offline", "You are offline: try again once the connection is back."));
      return;
    }
    req.id = ++this.nextId;
    this.requests.set(req.id, req);
    this.socket.send({ action: req.action, id: req.id, channel: req.channel, seq: req.seq, ...req.fields });
    clearTimeout(req.timer);
    req.timer = setTimeout(() => {
      if (this.requests.get(req.id) !== req) return;
      this.requests.delete(req.id);
      this._settle(req, changeError("timeout", "No response from the server: check the message and try again."));
    }, ACK_TIMEOUT);
  }

  _settle(req, err, message = null) {
    clearTimeout(req.timer);
    req.timer = null;
    if (req.settled) return;
    req.settled = true;
    if (err) req.reject(err);
    else req.resolve(message);
  }

  /** Reaction chips name who reacted, a thread's summary who replied, a pin
   * who pinned it: fetch the display names not known yet. */
  _lookUpReactors(ch, m) {
    if (!m) return;
    const users = [];
    for (const r of m.reactions || []) for (const u of r.users) if (!this.people.has(u)) users.push(u);
    for (const u of (m.reply_users || []).slice(0, 3)) if (!this.people.has(u)) users.push(u);
    if (m.pinned_by && !this.people.has(m.pinned_by)) users.push(m.pinned_by);
    if (users.length) this.lookUp(users).then(() => this.onChange("messages", ch.name));
  }

  // --- threads ----------------------------------------------------------------------

  /** Open the thread of message `seq` of channel `name` (its root's seq; a
   * reply's finds its root): the root at once if it is loaded, then the newest
   * page of replies. Resolves when that page is in. */
  openThread(name, seq) {
    const ch = this.channels.get(name);
    if (!ch) return Promise.resolve();
    const known = ch.msgs.get(seq);
    const root = known && known.thread_root !== null ? known.thread_root : seq;
    const open = this.thread;
    if (open && open.channel === name && open.root === root) {
      return open.loading || (open.loaded ? Promise.resolve() : this._loadThread(open));
    }
    const t = new Thread(name, root);
    const rm = ch.msgs.get(root);
    if (rm) t.setRoot(rm, rm.at);
    this.thread = t;
    this.onChange("thread", name);
    return this._loadThread(t);
  }

  closeThread() {
    if (!this.thread) return;
    const name = this.thread.channel;
    this.thread = null;
    this.onChange("thread", name);
  }

  /** The page of replies before the oldest loaded. */
  loadOlderReplies() {
    const t = this.thread;
    if (!t || !t.loaded || !t.hasMore || t.loading) return Promise.resolve();
    return this._loadThread(t, t.oldestSeq());
  }

  _loadThread(t, before = null) {
    if (t.loading) return t.loading;
    const query = before === null ? `limit=${PAGE}` : `before=${before}&limit=${PAGE}`;
    const ch = () => this.channels.get(t.channel);
    t.loading = this.api
      .get(`/api/channels/${seg(t.channel)}/messages/${t.root}/thread?${query}`)
      .then(
        (page) => {
          if (this.thread !== t) return;
          t.root = page.root.seq;
          this.learn(page.root.author);
          if (!t.rootMsg || t.rootMsg.at === 0) t.setRoot(page.root, 0);
          for (const m of page.messages) {
            this.learn(m.author);
            t.add(m);
          }
          t.stash.clear();
          const oldestInPage = page.messages.length ? page.messages[page.messages.length - 1].seq : null;
          t.hasMore = page.has_more || (before === null && oldestInPage !== null && t.oldestSeq() < oldestInPage);
          t.loaded = true;
          t.error = null;
          const c = ch();
          if (c) for (const m of [page.root, ...page.messages]) this._lookUpReactors(c, m);
        },
        (err) => {
          if (this.thread === t) t.error = err.message || String(err);
        },
      )
      .finally(() => {
        t.loading = null;
        if (this.thread === t) this.onChange("thread", t.channel);
      });
    return t.loading;
  }

  /** Send a reply in the open thread (`broadcast`: also to the channel). */
  sendReply(text, broadcast = false, files = []) {
    const t = this.thread;
    if (!t) return null;
    return this.send(t.channel, text, { thread_root: t.root, broadcast, files });
  }

  /** A new reply in channel `ch` (an event, or the ack of yours). */
  _reply(ch, m, mine) {
    const t = this.thread;
    if (t && t.channel === ch.name && m.thread_root === t.root && t.add(m)) this.onChange("thread", ch.name);
    // Your reply makes you follow the thread; one in a thread you follow (or
    // that mentions you) is unread there.
    if (mine || this.follows(ch.name, m.thread_root) || mentions(m.text, this.me?.username)) this.refreshThreads();
  }

  /** A message changed: the open thread's root or one of its replies? True if it took it. */
  _threadChanged(ch, m, at) {
    const t = this.thread;
    if (!t || t.channel !== ch.name) return false;
    let took = false;
    if (m.seq === t.root) {
      took = t.setRoot(m, at);
    } else if (m.thread_root === t.root) {
      took = t.replace(m, at);
      if (!took && !t.msgs.has(m.seq)) t.remember(m, at);
    }
    if (took) this.onChange("thread", ch.name);
    return took;
  }

  /** The root of a broadcast reply's thread, if this tab has it; asked of the
   * server (once) if not, with a change of "messages" when it is in. */
  rootOf(name, seq) {
    const ch = this.channels.get(name);
    if (!ch) return null;
    const found = this.findMessage(name, seq) || ch.roots.get(seq);
    if (found || ch.roots.has(seq)) return found || null;
    ch.roots.set(seq, null);
    this.api
      .get(`/api/channels/${seg(name)}/messages/${seq}/thread?limit=1`)
      .then((page) => {
        this.learn(page.root.author);
        if (this.channels.get(name) === ch && ch.roots.has(seq) && !ch.roots.get(seq)) {
          ch.roots.set(seq, entry(page.root, 0, 0));
          this.onChange("messages", name);
        }
      })
      .catch(() => {});
    return null;
  }

  /** Do you follow the thread of message `root` in `name` (as far as the last list says)? */
  follows(name, root) {
    return this.followed.some((t) => t.channel === name && t.root.seq === root);
  }

  /** How many of the threads you follow have replies you have not read. */
  unreadThreads() {
    return this.followed.filter((t) => t.unread > 0).length;
  }

  /** Ask the server for the threads you follow again (bursts coalesce). */
  refreshThreads() {
    if (this.threadsTimer) return;
    this.threadsTimer = setTimeout(async () => {
      this.threadsTimer = null;
      const asked = ++this.threadsAsked;
      try {
        const body = await this.api.get(`/api/threads?limit=${PAGE}`);
        if (asked !== this.threadsAsked) return; // a newer answer is on its way
        this.followed = body.threads.map((x) => {
          this.learn(x.root.author);
          return { channel: x.channel, root: entry(x.root, 0, 0), lastRead: x.last_read, unread: x.unread };
        });
        this.followedLoaded = true;
        this.onChange("threads");
        this.onChange("channels");
      } catch {
        /* keep the last list; the next reply or connect asks again */
      }
    }, 150);
  }

  /** The open thread is read up to its newest reply, here and on every device. */
  markThreadRead() {
    const t = this.thread;
    if (!t || !t.loaded) return;
    const upTo = t.newestSeq();
    if (!upTo || upTo <= t.readUpTo) return;
    t.readUpTo = upTo;
    const f = this.followed.find((x) => x.channel === t.channel && x.root.seq === t.root);
    if (f && f.unread > 0) {
      f.unread = 0; // the server's `thread_read` (and a fresh list) follow
      this.onChange("threads");
      this.onChange("channels");
    }
    const frame = { action: "read_thread", channel: t.channel, thread_root: t.root, seq: upTo };
    if (!this.socket.send(frame)) {
      this.api.post(`/api/channels/${seg(t.channel)}/messages/${t.root}/thread/read`, { seq: upTo }).catch(() => {});
    }
  }

  /** Your cursor in a thread moved (on this device or another). */
  _threadRead(f) {
    const t = this.thread;
    if (t && t.channel === f.channel && t.root === f.thread_root) t.readUpTo = Math.max(t.readUpTo, f.seq);
    this.refreshThreads();
  }
}

function statusKey(s) {
  return s ? `${s.emoji}|${s.text}|${s.until ?? ""}` : "";
}

function changeError(code, message) {
  const err = new Error(message);
  err.code = code;
  return err;
}

/** An error frame answering an edit, delete or reaction, in words. */
function changeMessage(f, req) {
  if (f.code === "invalid_input" && (f.field === "emoji" || req.fields.emoji !== undefined)) {
    return `“${String(req.fields.emoji ?? "").slice(0, 40)}” is not an emoji.`;
  }
  if (f.code === "message_too_long") return f.message || "That message is too long.";
  if (f.code === "forbidden" && req.action !== "edit" && req.action !== "delete") return f.message || "You can't do that.";
  return CHANGE_ERRORS[f.code] || f.message || f.code;
}
