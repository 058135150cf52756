// The signed-in app: sidebar, channel view, composer, dialogs and keyboard.
// Rendering is batched per animation frame from the Chat model's change events.

import { Api, seg } from "./api.js";
import { Chat } from "./chat.js";
import { h, icon, setChildren } from "./dom.js";
import { formatText, mentions } from "./format.js";
import { dayKey, dayLabel, fullLabel, timeLabel } from "./time.js";

const GROUP_GAP = 5 * 60 * 1000; // messages closer than this join the author's group
const TYPING_EVERY = 3000;
const NAME_RE = /^[a-z0-9][a-z0-9_-]{0,79}$/;

export function startApp(root, { token, user, onSignedOut }) {
  const app = new App(root, token, user, onSignedOut);
  app.start();
  return app;
}

class App {
  constructor(root, token, user, onSignedOut) {
    this.root = root;
    this.user = user;
    this.onSignedOut = onSignedOut;
    this.api = new Api({ token, onUnauthorized: (why) => this.signOut(why) });
    this.chat = new Chat({
      api: this.api,
      token,
      onChange: (what, name) => this.changed(what, name),
      onAuthFailed: () => this.signOut("Your session has ended. Please sign in again."),
      onNotice: (text) => this.toast(text, "error"),
    });
    this.chat.me = user;
    this.current = null;
    this.dirty = new Set();
    this.frame = 0;
    this.msgCache = new Map();
    this.newMark = null;
    this.forceBottom = false;
    this.drafts = new Map();
    this.lastTypingSent = 0;
    this.bannerTimer = null;
    this.build();
  }

  // --- skeleton ------------------------------------------------------------------

  build() {
    const e = (this.els = {});
    e.channelList = h("ul", { class: "nav-list", testid: "channel-list" });
    e.dmList = h("ul", { class: "nav-list", testid: "dm-list" });
    e.meStatus = h("span", { class: "presence me-presence", testid: "me-status", dataset: { status: "offline" } });
    e.sidebar = h(
      "aside",
      { class: "sidebar", testid: "sidebar", "aria-label": "Channels" },
      h(
        "header",
        { class: "workspace" },
        h("div", { class: "workspace-name" }, "hubbub"),
        h(
          "button",
          {
            class: "jump-button",
            testid: "open-switcher",
            type: "button",
            title: "Jump to a channel (Ctrl+K)",
            onClick: () => this.openSwitcher(),
          },
          icon("search"),
          h("span", null, "Jump to…"),
          h("kbd", null, navigator.platform.startsWith("Mac") ? "⌘K" : "Ctrl K"),
        ),
      ),
      h(
        "nav",
        { class: "nav" },
        h(
          "button",
          { class: "nav-action", testid: "browse-channels", type: "button", onClick: () => this.openBrowse() },
          icon("compass"),
          h("span", null, "Browse channels"),
        ),
        h(
          "div",
          { class: "nav-section" },
          h("span", { class: "nav-heading" }, "Channels"),
          h(
            "button",
            {
              class: "icon-btn nav-add",
              testid: "create-channel",
              type: "button",
              title: "Create a channel",
              "aria-label": "Create a channel",
              onClick: () => this.openCreate(),
            },
            icon("plus"),
          ),
        ),
        e.channelList,
        h(
          "div",
          { class: "nav-section" },
          h("span", { class: "nav-heading" }, "Direct messages"),
          h(
            "button",
            {
              class: "icon-btn nav-add",
              testid: "new-dm",
              type: "button",
              title: "New direct message",
              "aria-label": "New direct message",
              onClick: () => this.openDM(),
            },
            icon("plus"),
          ),
        ),
        e.dmList,
      ),
      h(
        "footer",
        { class: "me", testid: "me" },
        avatar(this.user.username, this.user.display_name, "avatar avatar-sm"),
        h(
          "div",
          { class: "me-text" },
          h("div", { class: "me-name", testid: "me-name" }, this.user.display_name),
          h("div", { class: "me-handle" }, e.meStatus, h("span", { testid: "me-username" }, `@${this.user.username}`)),
        ),
        h(
          "button",
          {
            class: "icon-btn",
            testid: "logout",
            type: "button",
            title: "Sign out",
            "aria-label": "Sign out",
            onClick: () => this.signOut(null),
          },
          icon("logout"),
        ),
      ),
    );

    e.banner = h("div", { class: "banner", testid: "connection-banner", role: "status", hidden: true });
    e.title = h("h1", { class: "channel-title", testid: "channel-title" });
    e.topic = h("button", {
      class: "channel-topic",
      testid: "channel-topic",
      type: "button",
      onClick: () => this.openDetails(),
    });
    e.memberCount = h("button", {
      class: "member-count",
      testid: "member-count",
      type: "button",
      title: "Members",
      onClick: () => this.openDetails(),
    });
    e.header = h(
      "header",
      { class: "channel-header" },
      h(
        "button",
        {
          class: "icon-btn sidebar-toggle",
          testid: "sidebar-toggle",
          type: "button",
          "aria-label": "Show channels",
          onClick: () => this.toggleSidebar(),
        },
        icon("menu"),
      ),
      h("div", { class: "channel-heading" }, e.title, e.topic),
      e.memberCount,
    );
    e.messages = h("div", {
      class: "messages",
      testid: "message-list",
      role: "log",
      "aria-live": "polite",
      tabindex: "0",
    });
    e.messages.addEventListener("scroll", () => this.onScroll(), { passive: true });
    e.jump = h(
      "button",
      { class: "jump-latest", testid: "jump-latest", type: "button", hidden: true, onClick: () => this.scrollToBottom() },
      icon("down"),
      "New messages",
    );
    e.composer = h("textarea", {
      class: "composer-input",
      testid: "composer",
      rows: "1",
      "aria-label": "Message",
    });
    e.composer.addEventListener("keydown", (ev) => this.onComposerKey(ev));
    e.composer.addEventListener("input", () => this.onComposerInput());
    e.send = h(
      "button",
      { class: "send-button", testid: "send-button", type: "submit", title: "Send (Enter)", "aria-label": "Send" },
      icon("send"),
    );
    e.typing = h("div", { class: "typing", testid: "typing-indicator", "aria-live": "polite" });
    e.form = h(
      "form",
      {
        class: "composer",
        onSubmit: (ev) => {
          ev.preventDefault();
          this.submit();
        },
      },
      e.composer,
      h("div", { class: "composer-bar" }, h("span", { class: "composer-hint" }, "Enter to send · Shift+Enter for a new line"), e.send),
    );
    e.main = h(
      "main",
      { class: "main", testid: "channel-view" },
      e.banner,
      e.header,
      h("div", { class: "messages-wrap" }, e.messages, e.jump),
      h("div", { class: "composer-wrap" }, e.form, e.typing),
    );
    e.scrim = h("div", { class: "scrim", onClick: () => this.toggleSidebar(false) });
    e.toasts = h("div", { class: "toasts", testid: "toasts", "aria-live": "assertive" });
    e.app = h("div", { class: "app", testid: "app" }, e.sidebar, e.scrim, e.main, e.toasts);
    setChildren(this.root, e.app);
  }

  start() {
    this._keys = (ev) => this.onKey(ev);
    this._hash = () => this.openFromHash();
    this._visible = () => this.maybeMarkRead();
    document.addEventListener("keydown", this._keys);
    window.addEventListener("hashchange", this._hash);
    document.addEventListener("visibilitychange", this._visible);
    window.addEventListener("focus", this._visible);
    this.bannerTimer = setInterval(() => {
      if (this.chat.connection === "reconnecting") this.renderBanner();
    }, 1000);
    this.renderAll();
    this.chat.start();
  }

  destroy() {
    this.chat.stop();
    clearInterval(this.bannerTimer);
    document.removeEventListener("keydown", this._keys);
    window.removeEventListener("hashchange", this._hash);
    document.removeEventListener("visibilitychange", this._visible);
    window.removeEventListener("focus", this._visible);
    for (const d of document.querySelectorAll("dialog")) d.remove();
  }

  signOut(reason) {
    if (this.signedOut) return;
    this.signedOut = true;
    this.destroy();
    this.onSignedOut(reason);
  }

  // --- change handling -----------------------------------------------------------

  changed(what, name) {
    switch (what) {
      case "connection":
        this.els.app.dataset.connection = this.chat.connection;
        this.dirty.add("banner").add("sidebar");
        break;
      case "ready":
        this.els.app.dataset.ready = "true";
        if (!this.current || !this.chat.channels.has(this.current)) this.openFromHash();
        this.dirty.add("sidebar").add("header").add("messages");
        break;
      case "channels":
      case "presence":
        this.dirty.add("sidebar").add("header");
        break;
      case "members":
        if (name === this.current) this.dirty.add("header");
        break;
      case "messages":
        if (name === this.current) this.dirty.add("messages");
        break;
      case "older":
        if (name === this.current) this.dirty.add("messages").add("prepend");
        break;
      case "reload":
        if (name === this.current) {
          this.msgCache.clear();
          this.forceBottom = true;
          this.chat.loadLatest(name).catch((err) => this.toast(err.message, "error"));
          this.dirty.add("messages");
        }
        break;
      case "typing":
        if (!name || name === this.current) this.dirty.add("typing");
        break;
      case "left":
        this.toast(`You are no longer in ${this.labelOf(name)}.`);
        if (name === this.current) {
          this.current = null;
          queueMicrotask(() => this.openChannel(this.defaultChannel()));
        }
        break;
    }
    this.schedule();
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      const d = this.dirty;
      this.dirty = new Set();
      if (d.has("banner")) this.renderBanner();
      if (d.has("sidebar")) this.renderSidebar();
      if (d.has("header")) this.renderHeader();
      if (d.has("messages")) this.renderMessages(d.has("prepend"));
      if (d.has("typing")) this.renderTyping();
    });
  }

  renderAll() {
    this.renderBanner();
    this.renderSidebar();
    this.renderHeader();
    this.renderMessages(false);
    this.renderTyping();
  }

  // --- navigation ----------------------------------------------------------------

  defaultChannel() {
    const chans = [...this.chat.channels.values()];
    if (this.chat.channels.has("general")) return "general";
    const named = chans.filter((c) => !c.isDM).sort((a, b) => a.name.localeCompare(b.name));
    return (named[0] || chans[0] || {}).name || null;
  }

  openFromHash() {
    const m = location.hash.match(/^#\/c\/(.+)$/);
    let name = null;
    if (m) {
      try {
        name = decodeURIComponent(m[1]);
      } catch {
        name = null;
      }
    }
    if (name && this.chat.channels.has(name)) {
      if (name !== this.current) this.openChannel(name);
    } else if (this.chat.ready) {
      this.openChannel(this.current && this.chat.channels.has(this.current) ? this.current : this.defaultChannel());
    }
  }

  openChannel(name, pushHistory = false) {
    if (this.current && this.current !== name) this.drafts.set(this.current, this.els.composer.value);
    const switching = name !== this.current;
    this.current = name;
    this.toggleSidebar(false);
    const hash = name ? `#/c/${encodeURIComponent(name)}` : "";
    if (location.hash !== hash) {
      // A switch the user made goes in the history (Back returns); others replace.
      const url = hash || location.pathname + location.search;
      if (pushHistory) history.pushState(null, "", url);
      else history.replaceState(null, "", url);
    }
    if (switching) {
      this.msgCache.clear();
      this.forceBottom = true;
      const ch = name && this.chat.channels.get(name);
      this.newMark = ch && ch.unread > 0 ? ch.lastRead : null;
      this.els.composer.value = (name && this.drafts.get(name)) || "";
      this.autosize();
    }
    if (name) {
      this.chat.loadLatest(name).catch((err) => this.toast(`Could not load messages: ${err.message}`, "error"));
    }
    this.renderAll();
    if (name && window.matchMedia("(min-width: 700px)").matches) this.els.composer.focus({ preventScroll: true });
  }

  labelOf(name) {
    const ch = this.chat.channels.get(name);
    if (ch) return ch.isDM ? ch.label(this.user.username) : `#${name}`;
    return name.startsWith("dm:") ? "that conversation" : `#${name}`;
  }

  toggleSidebar(open) {
    const want = open ?? !this.els.app.classList.contains("sidebar-open");
    this.els.app.classList.toggle("sidebar-open", want);
  }

  // --- rendering: banner, sidebar, header ------------------------------------------

  renderBanner() {
    const b = this.els.banner;
    const state = this.chat.connection;
    const online = state === "open";
    this.els.meStatus.dataset.status = online ? "online" : "offline";
    this.els.meStatus.title = online ? "Connected" : "Not connected";
    if (state === "reconnecting") {
      const secs = Math.max(0, Math.ceil((this.chat.retryAt - Date.now()) / 1000));
      setChildren(
        b,
        h("span", { class: "spinner", "aria-hidden": "true" }),
        h("span", null, "Reconnecting…"),
        this.chat.socket.ws ? null : h("span", { class: "banner-detail" }, secs > 0 ? `retrying in ${secs}s` : "retrying"),
        h("button", { class: "banner-button", type: "button", onClick: () => this.chat.socket.retryNow() }, "Retry now"),
      );
      b.dataset.state = "reconnecting";
      b.hidden = false;
    } else if (state === "connecting" && !this.chat.ready) {
      setChildren(b, h("span", { class: "spinner", "aria-hidden": "true" }), h("span", null, "Connecting…"));
      b.dataset.state = "connecting";
      b.hidden = false;
    } else {
      b.hidden = true;
      b.dataset.state = state;
    }
  }

  renderSidebar() {
    const me = this.user.username;
    const chans = [...this.chat.channels.values()];
    const rooms = chans.filter((c) => !c.isDM).sort((a, b) => a.name.localeCompare(b.name));
    const dms = chans.filter((c) => c.isDM).sort((a, b) => a.label(me).localeCompare(b.label(me)));
    setChildren(this.els.channelList, rooms.map((c) => this.navItem(c)));
    setChildren(
      this.els.dmList,
      dms.length ? dms.map((c) => this.navItem(c)) : h("li", { class: "nav-empty" }, "No conversations yet"),
    );
    if (this.chat.ready && !rooms.length) {
      this.els.channelList.append(h("li", { class: "nav-empty" }, "Not in any channel yet"));
    }
  }

  navItem(ch) {
    const me = this.user.username;
    const active = ch.name === this.current;
    const unread = ch.unread;
    let lead;
    if (ch.isDM) {
      const partners = ch.partners(me);
      lead =
        partners.length === 1
          ? presenceDot(partners[0] === me ? (this.chat.connection === "open" ? "online" : "offline") : this.chat.presence.get(partners[0]))
          : h("span", { class: "group-count" }, String(partners.length));
    } else {
      lead = icon(ch.kind === "private" ? "lock" : "hash", "icon nav-icon");
    }
    const a = h(
      "a",
      {
        class: `nav-item${active ? " active" : ""}${unread > 0 ? " unread" : ""}`,
        href: `#/c/${encodeURIComponent(ch.name)}`,
        testid: "channel-item",
        dataset: { channel: ch.name, kind: ch.kind, unread, serverRead: ch.serverRead },
        "aria-current": active ? "page" : null,
        onClick: (ev) => {
          ev.preventDefault();
          this.openChannel(ch.name, true);
        },
      },
      lead,
      h("span", { class: "nav-label", testid: "channel-name" }, ch.label(me)),
      ch.mentions > 0
        ? h("span", { class: "badge badge-mention", testid: "mention-badge", title: "Mentions" }, ch.isDM ? String(ch.mentions) : `@${ch.mentions}`)
        : null,
      // In a DM every unread message is for you: the red badge says it all.
      unread > 0 && !(ch.isDM && ch.mentions > 0)
        ? h("span", { class: "badge badge-unread", testid: "unread-badge", title: "Unread" }, String(unread))
        : null,
    );
    return h("li", null, a);
  }

  renderHeader() {
    const ch = this.current && this.chat.channels.get(this.current);
    const e = this.els;
    if (!ch) {
      setChildren(e.title, this.chat.ready ? "No channel" : "hubbub");
      setChildren(e.topic);
      e.topic.hidden = true;
      e.memberCount.hidden = true;
      e.form.hidden = !ch;
      document.title = "hubbub";
      return;
    }
    e.form.hidden = false;
    const me = this.user.username;
    if (ch.isDM) {
      const partners = ch.partners(me);
      setChildren(
        e.title,
        partners.length === 1 ? presenceDot(this.chat.presence.get(partners[0])) : null,
        h("span", null, ch.label(me)),
      );
      const status =
        partners.length === 1
          ? this.chat.presence.get(partners[0]) === "online"
            ? "Active now"
            : "Away"
          : `Group conversation with ${partners.length} people`;
      setChildren(e.topic, status);
      e.topic.classList.remove("placeholder");
      e.composer.placeholder = `Message ${ch.label(me)}`;
    } else {
      setChildren(e.title, icon(ch.kind === "private" ? "lock" : "hash", "icon title-icon"), h("span", null, ch.name));
      if (ch.topic) {
        setChildren(e.topic, ch.topic);
        e.topic.classList.remove("placeholder");
      } else {
        setChildren(e.topic, "Add a topic");
        e.topic.classList.add("placeholder");
      }
      e.composer.placeholder = `Message #${ch.name}`;
    }
    e.topic.hidden = false;
    e.memberCount.hidden = false;
    setChildren(
      e.memberCount,
      icon("user"),
      h("span", { testid: "member-count-value" }, String(ch.memberCount)),
      h("span", { class: "sr-only" }, ch.memberCount === 1 ? " member" : " members"),
    );
    e.memberCount.title = `${ch.memberCount} ${ch.memberCount === 1 ? "member" : "members"}`;
    const total = [...this.chat.channels.values()].reduce((n, c) => n + (c.mentions || 0), 0);
    document.title = `${total ? `(${total}) ` : ""}${ch.isDM ? ch.label(me) : `#${ch.name}`} · hubbub`;
  }

  // --- rendering: messages ---------------------------------------------------------

  isAtBottom() {
    const l = this.els.messages;
    return l.scrollHeight - l.scrollTop - l.clientHeight < 40;
  }

  cached(key, sig, build) {
    const hit = this.msgCache.get(key);
    if (hit && hit.sig === sig) return hit.el;
    const el = build();
    this.msgCache.set(key, { sig, el });
    return el;
  }

  renderMessages(prepend) {
    const list = this.els.messages;
    const ch = this.current && this.chat.channels.get(this.current);
    if (!ch) {
      setChildren(
        list,
        h(
          "div",
          { class: "empty-state" },
          this.chat.ready
            ? [
                h("h2", null, "Welcome to hubbub"),
                h("p", null, "Join a channel or start a conversation to get going."),
                h("button", { class: "button", type: "button", onClick: () => this.openBrowse() }, "Browse channels"),
              ]
            : h("p", null, "Connecting…"),
        ),
      );
      this.els.jump.hidden = true;
      return;
    }
    const me = this.user.username;
    const stick = this.forceBottom || this.isAtBottom();
    const fromBottom = list.scrollHeight - list.scrollTop;
    const prevTop = list.scrollTop;
    const nodes = [];
    if (!ch.loaded || ch.hasMore) {
      nodes.push(
        this.cached("status", ch.loaded ? "more" : "first", () =>
          h(
            "div",
            { class: "list-status", testid: "history-loading" },
            h("span", { class: "spinner", "aria-hidden": "true" }),
            ch.loaded ? "Loading older messages…" : "Loading messages…",
          ),
        ),
      );
    } else {
      nodes.push(this.cached(`intro`, `${ch.topic}|${ch.kind}`, () => this.intro(ch)));
    }
    const pending = [...ch.pending.values()].sort((a, b) => a.created_at - b.created_at);
    let prev = null;
    for (const m of [...ch.sorted(), ...pending]) {
      let divided = false;
      if (!prev || dayKey(prev.created_at) !== dayKey(m.created_at)) {
        const key = dayKey(m.created_at);
        nodes.push(
          this.cached(`d:${key}`, dayLabel(m.created_at), () =>
            h("div", { class: "day-divider", testid: "day-divider" }, h("span", null, dayLabel(m.created_at))),
          ),
        );
        divided = true;
      }
      const authorName = m.author ? m.author.username || `guest:${m.author.display_name}` : "";
      if (this.newMark !== null && m.seq && m.seq > this.newMark && (!prev || !prev.seq || prev.seq <= this.newMark) && m.author?.username !== me) {
        nodes.push(this.cached("new", "new", () => h("div", { class: "new-divider", testid: "new-divider" }, h("span", null, "New"))));
        divided = true;
      }
      const prevAuthor = prev && prev.author ? prev.author.username || `guest:${prev.author.display_name}` : null;
      const groupStart = divided || !prev || prevAuthor !== authorName || m.created_at - prev.created_at > GROUP_GAP;
      const state = m.seq ? "sent" : m.state;
      const key = m.seq ? `s:${m.seq}` : `p:${m.client_id}`;
      const sig = `${groupStart}|${state}|${m.error || ""}`;
      nodes.push(this.cached(key, sig, () => this.messageEl(ch, m, groupStart, state)));
      prev = m;
    }
    list.replaceChildren(...nodes);
    if (stick) {
      list.scrollTop = list.scrollHeight;
    } else if (prepend) {
      list.scrollTop = list.scrollHeight - fromBottom;
    } else {
      list.scrollTop = prevTop;
    }
    if (ch.loaded) this.forceBottom = false;
    this.updateJump();
    this.maybeMarkRead();
    // Not enough history to scroll? Fetch older pages until there is.
    if (ch.loaded && ch.hasMore && !ch.loading && list.scrollHeight <= list.clientHeight + 50) this.loadOlder();
  }

  intro(ch) {
    const me = this.user.username;
    if (ch.isDM) {
      return h(
        "div",
        { class: "intro", testid: "channel-start" },
        h("h2", null, ch.label(me)),
        h("p", null, `This is the very beginning of your direct message history with ${ch.label(me)}.`),
      );
    }
    return h(
      "div",
      { class: "intro", testid: "channel-start" },
      h("h2", null, icon(ch.kind === "private" ? "lock" : "hash", "icon title-icon"), ch.name),
      h(
        "p",
        null,
        `This is the very beginning of the ${ch.kind === "private" ? "private " : ""}#${ch.name} channel.`,
        ch.topic ? ` Topic: ${ch.topic}` : "",
      ),
    );
  }

  messageEl(ch, m, groupStart, state) {
    const me = this.user.username;
    const author = m.author || { username: null, display_name: "unknown" };
    const mine = author.username === me;
    const mentioned = !mine && mentions(m.text, me);
    const el = h("div", {
      class: `msg${groupStart ? " group-start" : ""}${mentioned ? " mentioned" : ""} state-${state}`,
      testid: "message",
      dataset: {
        seq: m.seq || null,
        clientId: m.client_id || null,
        state,
        author: author.username || "",
      },
    });
    const gutter = h("div", { class: "msg-gutter" });
    if (groupStart) {
      gutter.append(avatar(author.username || author.display_name, author.display_name, "avatar"));
    } else {
      gutter.append(h("time", { class: "msg-time-hover", datetime: iso(m.created_at), title: fullLabel(m.created_at) }, timeLabel(m.created_at)));
    }
    const main = h("div", { class: "msg-main" });
    if (groupStart) {
      main.append(
        h(
          "div",
          { class: "msg-meta" },
          h("span", { class: "msg-author", testid: "message-author" }, author.display_name),
          author.username && author.username !== author.display_name
            ? h("span", { class: "msg-handle" }, `@${author.username}`)
            : author.username
              ? null
              : h("span", { class: "msg-handle" }, "guest"),
          h("time", { class: "msg-time", datetime: iso(m.created_at), title: fullLabel(m.created_at) }, timeLabel(m.created_at)),
        ),
      );
    }
    main.append(h("div", { class: "msg-text", testid: "message-text" }, formatText(m.text, me)));
    if (state === "pending") {
      main.append(h("div", { class: "msg-status", testid: "message-status" }, "Sending…"));
    } else if (state === "failed") {
      main.append(
        h(
          "div",
          { class: "msg-status failed", testid: "message-status", role: "alert" },
          h("span", null, `Not sent. ${m.error || ""}`),
          h(
            "button",
            {
              class: "link-button",
              testid: "retry-button",
              type: "button",
              onClick: () => this.chat.retry(ch.name, m.client_id),
            },
            "Retry",
          ),
          h(
            "button",
            {
              class: "link-button muted",
              testid: "discard-button",
              type: "button",
              onClick: () => this.chat.discard(ch.name, m.client_id),
            },
            "Discard",
          ),
        ),
      );
    }
    el.append(gutter, main);
    return el;
  }

  renderTyping() {
    const ch = this.current && this.chat.channels.get(this.current);
    const who = ch ? [...ch.typing.keys()] : [];
    let text = "";
    if (who.length === 1) text = `${who[0]} is typing…`;
    else if (who.length === 2) text = `${who[0]} and ${who[1]} are typing…`;
    else if (who.length > 2) text = "Several people are typing…";
    this.els.typing.textContent = text;
    this.els.typing.classList.toggle("active", Boolean(text));
  }

  updateJump() {
    const ch = this.current && this.chat.channels.get(this.current);
    this.els.jump.hidden = !ch || this.isAtBottom() || ch.unread === 0;
  }

  onScroll() {
    const list = this.els.messages;
    if (list.scrollTop < 400) this.loadOlder();
    this.updateJump();
    this.maybeMarkRead();
  }

  loadOlder() {
    const name = this.current;
    const ch = name && this.chat.channels.get(name);
    if (!ch || !ch.loaded || !ch.hasMore || ch.loading) return;
    this.chat.loadOlder(name).catch((err) => this.toast(`Could not load older messages: ${err.message}`, "error"));
  }

  scrollToBottom() {
    this.els.messages.scrollTop = this.els.messages.scrollHeight;
    this.maybeMarkRead();
  }

  /** Seeing the bottom of a channel means having read it. */
  maybeMarkRead() {
    const ch = this.current && this.chat.channels.get(this.current);
    if (!ch || !ch.loaded || ch.unread === 0) return;
    if (document.visibilityState !== "visible" || !this.isAtBottom()) return;
    this.chat.markRead(ch.name);
  }

  // --- composer --------------------------------------------------------------------

  onComposerKey(ev) {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing && !ev.altKey) {
      ev.preventDefault();
      this.submit();
    }
  }

  onComposerInput() {
    this.autosize();
    const now = Date.now();
    if (!this.els.composer.value.trim()) {
      this.lastTypingSent = 0; // cleared: the next keystroke starts a new burst
      return;
    }
    // Re-announce well within typing_ttl so the indicator stays up while typing.
    const every = Math.min(TYPING_EVERY, (Number(this.chat.limits.typing_ttl) || 6) * 500);
    if (this.current && now - this.lastTypingSent > every) {
      this.lastTypingSent = now;
      this.chat.sendTyping(this.current);
    }
  }

  autosize() {
    const c = this.els.composer;
    c.style.height = "auto";
    c.style.height = `${Math.min(c.scrollHeight, 240)}px`;
  }

  submit() {
    const text = this.els.composer.value;
    if (!this.current || !text.trim()) return;
    const max = Number(this.chat.limits.max_message_chars) || 10000;
    if (text.length > max) {
      this.toast(`Messages can be at most ${max} characters.`, "error");
      return;
    }
    this.chat.send(this.current, text);
    this.els.composer.value = "";
    this.drafts.delete(this.current);
    this.lastTypingSent = 0;
    this.autosize();
    this.forceBottom = true;
    this.schedule();
  }

  // --- keyboard --------------------------------------------------------------------

  onKey(ev) {
    if ((ev.ctrlKey || ev.metaKey) && !ev.altKey && ev.key.toLowerCase() === "k") {
      ev.preventDefault();
      this.openSwitcher();
      return;
    }
    if (ev.key === "Escape") {
      if (document.querySelector("dialog[open]")) return; // the dialog closes itself
      if (this.els.app.classList.contains("sidebar-open")) {
        this.toggleSidebar(false);
        return;
      }
      if (this.current) {
        this.chat.markRead(this.current, null, true);
        this.els.jump.hidden = true;
      }
    }
  }

  // --- dialogs ---------------------------------------------------------------------

  dialog({ title, testid, body, onClose }) {
    for (const d of document.querySelectorAll("dialog[open]")) d.close();
    const dlg = h(
      "dialog",
      { class: "dialog", testid, "aria-label": title },
      h(
        "div",
        { class: "dialog-inner" },
        h(
          "div",
          { class: "dialog-head" },
          h("h2", null, title),
          h(
            "button",
            { class: "icon-btn", type: "button", "aria-label": "Close", testid: "dialog-close", onClick: () => dlg.close() },
            icon("x"),
          ),
        ),
        h("div", { class: "dialog-body" }, body),
      ),
    );
    dlg.addEventListener("close", () => {
      dlg.remove();
      if (onClose) onClose();
      if (window.matchMedia("(min-width: 700px)").matches) this.els.composer.focus({ preventScroll: true });
    });
    dlg.addEventListener("click", (ev) => {
      if (ev.target === dlg) dlg.close();
    });
    document.body.append(dlg);
    dlg.showModal();
    return dlg;
  }

  openSwitcher() {
    if (document.querySelector('dialog[data-testid="switcher"]')) return;
    const me = this.user.username;
    const input = h("input", {
      class: "input",
      testid: "switcher-input",
      placeholder: "Jump to a channel or conversation…",
      autocomplete: "off",
      spellcheck: "false",
      "aria-label": "Channel to open",
    });
    const list = h("ul", { class: "pick-list", role: "listbox" });
    let items = [];
    let selected = 0;
    const choose = (i) => {
      const it = items[i];
      if (!it) return;
      dlg.close();
      this.openChannel(it.name, true);
    };
    const update = () => {
      const q = input.value.trim().toLowerCase().replace(/^[#@]/, "");
      items = [...this.chat.channels.values()]
        .map((c) => ({ name: c.name, label: c.label(me), ch: c }))
        .filter((it) => !q || it.label.toLowerCase().includes(q))
        .sort((a, b) => {
          const pa = a.label.toLowerCase().startsWith(q) ? 0 : 1;
          const pb = b.label.toLowerCase().startsWith(q) ? 0 : 1;
          return pa - pb || (b.ch.unread > 0) - (a.ch.unread > 0) || a.label.localeCompare(b.label);
        });
      selected = Math.min(selected, Math.max(0, items.length - 1));
      setChildren(
        list,
        items.length
          ? items.map((it, i) =>
              h(
                "li",
                {
                  class: `pick-item${i === selected ? " selected" : ""}`,
                  testid: "switcher-item",
                  role: "option",
                  "aria-selected": i === selected ? "true" : "false",
                  dataset: { channel: it.name },
                  onClick: () => choose(i),
                },
                it.ch.isDM ? icon("user", "icon nav-icon") : icon(it.ch.kind === "private" ? "lock" : "hash", "icon nav-icon"),
                h("span", { class: "pick-label" }, it.label),
                it.ch.unread > 0 ? h("span", { class: "badge badge-unread" }, String(it.ch.unread)) : null,
              ),
            )
          : h("li", { class: "pick-empty" }, "No matching channels"),
      );
      const sel = list.children[selected];
      if (sel && sel.scrollIntoView) sel.scrollIntoView({ block: "nearest" });
    };
    input.addEventListener("input", () => {
      selected = 0;
      update();
    });
    input.addEventListener("keydown", (ev) => {
      if (ev.key === "ArrowDown") {
        ev.preventDefault();
        selected = Math.min(items.length - 1, selected + 1);
        update();
      } else if (ev.key === "ArrowUp") {
        ev.preventDefault();
        selected = Math.max(0, selected - 1);
        update();
      } else if (ev.key === "Enter") {
        ev.preventDefault();
        choose(selected);
      }
    });
    const dlg = this.dialog({
      title: "Jump to…",
      testid: "switcher",
      body: [input, list, h("p", { class: "hint" }, "↑↓ to move · Enter to open · Esc to close")],
    });
    update();
    input.focus();
  }

  async openBrowse() {
    const filter = h("input", {
      class: "input",
      testid: "browse-filter",
      placeholder: "Search channels",
      autocomplete: "off",
      "aria-label": "Search channels",
    });
    const list = h("ul", { class: "pick-list browse-list" }, h("li", { class: "pick-empty" }, "Loading…"));
    let all = [];
    const update = () => {
      const q = filter.value.trim().toLowerCase().replace(/^#/, "");
      const shown = all.filter((c) => c.kind !== "dm" && (!q || c.name.includes(q) || c.topic.toLowerCase().includes(q)));
      setChildren(
        list,
        shown.length
          ? shown.map((c) =>
              h(
                "li",
                { class: "browse-item", testid: "browse-item", dataset: { channel: c.name } },
                h(
                  "div",
                  { class: "browse-text" },
                  h(
                    "div",
                    { class: "browse-name" },
                    icon(c.kind === "private" ? "lock" : "hash", "icon nav-icon"),
                    h("span", null, c.name),
                    c.is_member ? h("span", { class: "joined" }, "✓ Joined") : null,
                  ),
                  h(
                    "div",
                    { class: "browse-meta" },
                    `${c.member_count} ${c.member_count === 1 ? "member" : "members"}`,
                    c.topic ? ` · ${c.topic}` : "",
                  ),
                ),
                c.is_member
                  ? h("button", { class: "button secondary", type: "button", onClick: () => { dlg.close(); this.openChannel(c.name, true); } }, "Open")
                  : h(
                      "button",
                      {
                        class: "button",
                        type: "button",
                        testid: "join-button",
                        onClick: async (ev) => {
                          ev.currentTarget.disabled = true;
                          try {
                            const body = await this.api.post(`/api/channels/${seg(c.name)}/join`);
                            this.chat.addChannel(body);
                            dlg.close();
                            this.openChannel(body.name, true);
                          } catch (err) {
                            ev.currentTarget.disabled = false;
                            this.toast(err.message, "error");
                          }
                        },
                      },
                      "Join",
                    ),
              ),
            )
          : h("li", { class: "pick-empty" }, all.length ? "No channels match" : "No channels yet. Create one!"),
      );
    };
    filter.addEventListener("input", update);
    const dlg = this.dialog({
      title: "Browse channels",
      testid: "browse-dialog",
      body: [
        filter,
        list,
        h("div", { class: "dialog-actions" }, h("button", { class: "button secondary", type: "button", onClick: () => { dlg.close(); this.openCreate(); } }, "Create a channel")),
      ],
    });
    filter.focus();
    try {
      all = await this.api.get("/api/channels");
      all.sort((a, b) => a.name.localeCompare(b.name));
      update();
    } catch (err) {
      setChildren(list, h("li", { class: "pick-empty" }, err.message));
    }
  }

  openCreate() {
    const name = h("input", {
      class: "input",
      testid: "create-name",
      placeholder: "e.g. plan-budget",
      maxlength: "80",
      autocomplete: "off",
      required: true,
      "aria-label": "Name",
    });
    name.addEventListener("input", () => {
      const pos = name.selectionStart;
      name.value = name.value.toLowerCase().replace(/\s/g, "-");
      name.setSelectionRange(pos, pos);
    });
    const topic = h("input", { class: "input", testid: "create-topic", maxlength: "250", placeholder: "What is it about? (optional)", "aria-label": "Topic" });
    const priv = h("input", { type: "checkbox", testid: "create-private" });
    const error = h("p", { class: "form-error", testid: "create-error", role: "alert" });
    const submit = h("button", { class: "button", type: "submit", testid: "create-submit" }, "Create");
    const form = h(
      "form",
      {
        class: "form",
        onSubmit: async (ev) => {
          ev.preventDefault();
          const n = name.value.trim().replace(/^#/, "");
          if (!NAME_RE.test(n)) {
            error.textContent = "Use 1-80 lowercase letters, digits, '-' or '_'.";
            return;
          }
          submit.disabled = true;
          try {
            const body = await this.api.post("/api/channels", { name: n, topic: topic.value.trim(), private: priv.checked });
            this.chat.addChannel(body);
            dlg.close();
            this.openChannel(body.name, true);
          } catch (err) {
            error.textContent = err.code === "conflict" ? `#${n} already exists.` : err.message;
            submit.disabled = false;
          }
        },
      },
      h("label", { class: "field" }, h("span", null, "Name"), name),
      h("label", { class: "field" }, h("span", null, "Topic"), topic),
      h(
        "label",
        { class: "check" },
        priv,
        h("span", null, h("strong", null, "Make private"), h("br"), h("small", null, "Only people you invite can see or find it.")),
      ),
      error,
      h("div", { class: "dialog-actions" }, submit),
    );
    const dlg = this.dialog({ title: "Create a channel", testid: "create-dialog", body: form });
    name.focus();
  }

  openDM() {
    const input = h("input", {
      class: "input",
      testid: "dm-usernames",
      placeholder: "usernames, e.g. alice, bob",
      autocomplete: "off",
      spellcheck: "false",
      required: true,
      "aria-label": "Usernames",
    });
    const error = h("p", { class: "form-error", testid: "dm-error", role: "alert" });
    const submit = h("button", { class: "button", type: "submit", testid: "dm-submit" }, "Start conversation");
    const form = h(
      "form",
      {
        class: "form",
        onSubmit: async (ev) => {
          ev.preventDefault();
          const names = [...new Set(input.value.split(/[\s,]+/).map((s) => s.trim().replace(/^@/, "").toLowerCase()).filter(Boolean))];
          if (!names.length) {
            error.textContent = "Enter at least one username.";
            return;
          }
          submit.disabled = true;
          try {
            const body = await this.api.post("/api/dms", { usernames: names });
            this.chat.addChannel(body);
            dlg.close();
            this.openChannel(body.name, true);
          } catch (err) {
            error.textContent = err.message;
            submit.disabled = false;
          }
        },
      },
      h("label", { class: "field" }, h("span", null, "To"), input),
      h("p", { class: "hint" }, "One username for a direct message, several for a group (up to 8)."),
      error,
      h("div", { class: "dialog-actions" }, submit),
    );
    const dlg = this.dialog({ title: "New message", testid: "dm-dialog", body: form });
    input.focus();
  }

  async openDetails() {
    const ch = this.current && this.chat.channels.get(this.current);
    if (!ch) return;
    const me = this.user.username;
    const members = h("ul", { class: "member-list", testid: "member-list" }, h("li", { class: "pick-empty" }, "Loading…"));
    const parts = [];
    if (!ch.isDM) {
      const topic = h("input", { class: "input", testid: "topic-input", value: ch.topic, maxlength: "250", "aria-label": "Topic" });
      const topicErr = h("p", { class: "form-error", role: "alert" });
      parts.push(
        h(
          "form",
          {
            class: "form inline-form",
            onSubmit: async (ev) => {
              ev.preventDefault();
              try {
                const body = await this.api.put(`/api/channels/${seg(ch.name)}/topic`, { topic: topic.value.trim() });
                ch.update(body);
                this.changed("channels", ch.name);
                this.toast("Topic updated.");
              } catch (err) {
                topicErr.textContent = err.message;
              }
            },
          },
          h("label", { class: "field" }, h("span", null, "Topic"), h("div", { class: "row" }, topic, h("button", { class: "button secondary", type: "submit", testid: "topic-save" }, "Save"))),
          topicErr,
        ),
      );
      const invite = h("input", { class: "input", testid: "invite-username", placeholder: "username", autocomplete: "off", "aria-label": "Username to add" });
      const inviteErr = h("p", { class: "form-error", role: "alert" });
      parts.push(
        h(
          "form",
          {
            class: "form inline-form",
            onSubmit: async (ev) => {
              ev.preventDefault();
              const who = invite.value.trim().replace(/^@/, "").toLowerCase();
              if (!who) return;
              try {
                const body = await this.api.post(`/api/channels/${seg(ch.name)}/invite`, { username: who });
                ch.update(body);
                this.changed("channels", ch.name);
                invite.value = "";
                inviteErr.textContent = "";
                loadMembers();
              } catch (err) {
                inviteErr.textContent = err.message;
              }
            },
          },
          h("label", { class: "field" }, h("span", null, "Add people"), h("div", { class: "row" }, invite, h("button", { class: "button secondary", type: "submit", testid: "invite-submit" }, "Add"))),
          inviteErr,
        ),
      );
    }
    parts.push(h("h3", { class: "subhead" }, "Members"), members);
    if (!ch.isDM) {
      parts.push(
        h(
          "div",
          { class: "dialog-actions" },
          h(
            "button",
            {
              class: "button danger",
              type: "button",
              testid: "leave-channel",
              onClick: async () => {
                try {
                  await this.api.post(`/api/channels/${seg(ch.name)}/leave`);
                  dlg.close();
                } catch (err) {
                  this.toast(err.message, "error");
                }
              },
            },
            `Leave #${ch.name}`,
          ),
        ),
      );
    }
    const dlg = this.dialog({ title: ch.isDM ? ch.label(me) : `#${ch.name}`, testid: "details-dialog", body: parts });
    const loadMembers = async () => {
      try {
        const { members: names } = await this.api.get(`/api/channels/${seg(ch.name)}/members`);
        setChildren(
          members,
          names.map((n) => h("li", { class: "member-item", testid: "member-item" }, avatar(n, n, "avatar avatar-sm"), h("span", null, n), n === me ? h("span", { class: "muted" }, " (you)") : null)),
        );
      } catch (err) {
        setChildren(members, h("li", { class: "pick-empty" }, err.message));
      }
    };
    loadMembers();
  }

  // --- toasts ----------------------------------------------------------------------

  toast(text, kind = "info") {
    const t = h("div", { class: `toast toast-${kind}`, testid: "toast", role: kind === "error" ? "alert" : "status" }, text);
    this.els.toasts.append(t);
    setTimeout(() => t.remove(), 6000);
  }
}

// --- small view helpers ------------------------------------------------------------

function iso(ms) {
  return new Date(ms).toISOString();
}

function hue(s) {
  let x = 0;
  for (const c of s) x = (x * 31 + c.codePointAt(0)) >>> 0;
  return x % 360;
}

export function avatar(key, name, cls) {
  const letter = (name || key || "?").trim().charAt(0).toUpperCase() || "?";
  const el = h("span", { class: cls, "aria-hidden": "true" }, letter);
  el.style.setProperty("--avatar-hue", String(hue(key || name || "?")));
  return el;
}

function presenceDot(status) {
  const s = status === "online" ? "online" : "offline";
  return h("span", { class: "presence", testid: "presence-dot", dataset: { status: s }, title: s === "online" ? "Online" : "Offline" });
}

