// The signed-in app. It puts the screen together from its parts (sidebar,
// header, message list, composer, ...), passes each change of the Chat model on
// to the parts that show it, redrawn at most once per animation frame, and owns
// what spans them all: which channel is open (and the URL hash naming it), the
// global keys, dialogs handing focus back, and signing out. Files dropped
// on the channel go to its composer (upload.js); search (search.js) has its
// box in the header and its results beside the channel, and opens a result
// in its channel (openMessage).

import { Api } from "./api.js";
import { FileLinks } from "./attachments.js";
import { Banner } from "./banner.js";
import { Chat } from "./chat.js";
import { Composer } from "./composer.js";
import { openDialog } from "./dialog.js";
import { h, setChildren } from "./dom.js";
import { Header } from "./header.js";
import { MessageList } from "./messages.js";
import { DesktopNotifier } from "./notifications.js";
import { SearchPanel } from "./search.js";
import { Sidebar } from "./sidebar.js";
import { ACCOUNT_DEACTIVATED, SESSION_ENDED } from "./socket.js";
import { openSwitcher } from "./switcher.js";
import { Toasts } from "./toasts.js";
import { TypingIndicator } from "./typing.js";
import { dropZone } from "./upload.js";

const ALL_PARTS = ["banner", "sidebar", "header", "messages", "typing"];

export function startApp(root, { token, user, onSignedOut }) {
  const app = new App(root, token, user, onSignedOut);
  app.start();
  return app;
}

/** What the sign-in screen says when the server stops accepting the token
 * (close 4001, or a 401): why, in the server's words where they say it. */
function sessionEnded(reason, code = null) {
  if (code === "account_deactivated") return ended(ACCOUNT_DEACTIVATED);
  if (code === "session_ended") return ended(SESSION_ENDED);
  const why = String(reason || "");
  if (/expired/i.test(why)) return "Your session expired. Please sign in again.";
  if (why) return `The server no longer accepts your sign-in (${why.replace(/[:.].*$/, "")}). Please sign in again.`;
  return "Your session has ended. Please sign in again.";
}

/** What it says when the server ended this tab's session (close 4010) or
 * deactivated the account (4011). */
function ended(code) {
  if (code === ACCOUNT_DEACTIVATED) return "Your account was deactivated by an admin. Ask an admin if you think this is a mistake.";
  return "You were signed out: this session was ended (signed out from another device, or the password was changed). Please sign in again.";
}

class App {
  constructor(root, token, user, onSignedOut) {
    this.user = user;
    this.workspace = null; // GET /api/workspace's answer, once it came
    this.onSignedOut = onSignedOut;
    this.signedOut = false;
    this.api = new Api({ token, onUnauthorized: (why, code) => this.signOut(sessionEnded(why, code)) });
    this.fileLinks = new FileLinks(this.api, (text) => this.toasts.show(text, "error"));
    this.chat = new Chat({
      api: this.api,
      token,
      onChange: (what, name) => this.changed(what, name),
      onAuthFailed: (reason) => this.signOut(sessionEnded(reason)),
      onEnded: (code) => this.signOut(ended(code)),
      onNotice: (text) => this.toasts.show(text, "error"),
      onIncoming: (ch, m) => this.notifier.incoming(ch, m),
    });
    this.chat.me = user;
    this.chat.learn(user);
    this.current = null;
    this.dirty = new Set();
    this.frame = 0;
    this.toasts = new Toasts();
    this.banner = new Banner(this.chat);
    this.notifier = new DesktopNotifier(this); // desktop notifications, and the prompt to allow them
    this.sidebar = new Sidebar(this);
    this.search = new SearchPanel(this);
    this.header = new Header(this);
    this.messages = new MessageList(this);
    this.composer = new Composer(this);
    this.typing = new TypingIndicator(this);
    const main = h(
      "main",
      { class: "main", testid: "channel-view" },
      this.banner.el,
      this.notifier.prompt,
      this.header.el,
      this.messages.el,
      h("div", { class: "composer-wrap" }, this.composer.form, this.composer.archivedNotice, this.typing.el),
    );
    dropZone(main, (files) => {
      const ch = this.currentChannel();
      if (ch && !ch.archived) this.composer.addFiles(files);
      else this.toasts.show("Files can't be added here: open a channel you can post in.", "error");
    });
    this.el = h(
      "div",
      { class: "app", testid: "app" },
      this.sidebar.el,
      h("div", { class: "scrim", onClick: () => this.toggleSidebar(false) }),
      main,
      this.toasts.el,
    );
    setChildren(root, this.el);
  }

  start() {
    this._keys = (ev) => this.onKey(ev);
    this._hash = () => this.openFromHash();
    this._visible = () => this.messages.maybeMarkRead();
    // A file dropped where no drop zone takes it must not replace the app with itself.
    this._noDrop = (ev) => {
      if (ev.dataTransfer && [...ev.dataTransfer.types].includes("Files")) ev.preventDefault();
    };
    window.addEventListener("dragover", this._noDrop);
    window.addEventListener("drop", this._noDrop);
    document.addEventListener("keydown", this._keys);
    window.addEventListener("hashchange", this._hash);
    document.addEventListener("visibilitychange", this._visible);
    window.addEventListener("focus", this._visible);
    this.banner.start();
    this.renderAll();
    this.chat.start();
    this.loadWorkspace();
  }

  /** What the workspace allows (`GET /api/workspace`: whether members may
   * invite...), read again each time it is asked; `this.workspace` keeps the
   * last answer (null until one came). */
  async loadWorkspace() {
    try {
      this.workspace = await this.api.get("/api/workspace");
    } catch {
      // unknown: what depends on it stays as it was
    }
    return this.workspace;
  }

  destroy() {
    this.chat.stop();
    this.banner.stop();
    document.removeEventListener("keydown", this._keys);
    window.removeEventListener("dragover", this._noDrop);
    window.removeEventListener("drop", this._noDrop);
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

  /** Sign out on purpose: this tab at once, and its session on the server
   * (its token is refused from now on, everywhere). */
  logout() {
    const api = this.api;
    this.signOut(null);
    api.post("/api/auth/logout").catch(() => {});
  }

  /** An owner or admin of the workspace (as far as the server last said)? */
  isAdmin() {
    return this.user.role === "owner" || this.user.role === "admin";
  }

  /** May you make invite links: a workspace admin, or a member where the
   * workspace lets members invite (as far as it last said). */
  mayInvite() {
    if (this.isAdmin()) return true;
    return this.user.role === "member" && !!(this.workspace && this.workspace.members_may_invite);
  }

  /** May you rename, archive or take people out of `ch`: a workspace admin,
   * or its own admin where the server says so. */
  mayManage(ch) {
    return !!ch && !ch.isDM && (this.isAdmin() || ch.isAdmin === true);
  }

  /** The open channel, or a falsy value when none is. */
  currentChannel() {
    return this.current && this.chat.channels.get(this.current);
  }

  /** A dialog that hands the cursor back to the composer when it closes. */
  dialog(opts) {
    return openDialog({ ...opts, onClose: () => this.composer.focus() });
  }

  // --- change handling -----------------------------------------------------------

  changed(what, name) {
    switch (what) {
      case "connection":
        this.el.dataset.connection = this.chat.connection;
        this.dirty.add("banner").add("sidebar");
        break;
      case "ready":
        this.el.dataset.ready = "true";
        if (!this.current || !this.chat.channels.has(this.current)) this.openFromHash();
        this.dirty.add("sidebar").add("header").add("messages");
        break;
      case "notify":
        // Your do-not-disturb (its mark by your name) or a channel's level or mute.
        this.dirty.add("sidebar").add("header");
        break;
      case "channels":
      case "presence":
        this.dirty.add("sidebar").add("header");
        break;
      case "people":
        // A name or custom status changed: wherever names are shown.
        this.dirty.add("sidebar").add("header").add("messages");
        break;
      case "me":
        this.user = { ...this.user, ...this.chat.me };
        if (this.user.deactivated) {
          this.signOut(ended(ACCOUNT_DEACTIVATED));
          return;
        }
        this.dirty.add("sidebar").add("header").add("messages");
        break;
      case "renamed":
        this.renamed(name);
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
          this.messages.reset();
          this.chat.loadLatest(name).catch((err) => this.toasts.show(err.message, "error"));
          this.dirty.add("messages");
        }
        break;
      case "typing":
        if (!name || name === this.current) this.dirty.add("typing");
        break;
      case "left":
        this.toasts.show(`You are no longer in ${this.labelOf(name)}.`);
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
      this.render(d);
    });
  }

  renderAll() {
    this.render(new Set(ALL_PARTS));
  }

  /** Redraw the named parts ("prepend" with "messages": older ones went in above). */
  render(parts) {
    if (parts.has("banner")) this.banner.render();
    if (parts.has("sidebar")) this.sidebar.render();
    if (parts.has("header")) {
      this.header.render();
      this.composer.render(); // its placeholder names the channel too
    }
    if (parts.has("messages")) this.messages.render(parts.has("prepend"));
    if (parts.has("typing")) this.typing.render();
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
    if (this.current && this.current !== name) this.composer.saveDraft(this.current);
    const switching = name !== this.current;
    // Left while opened at an older message: it opens at its newest next time.
    const left = switching && this.currentChannel();
    if (left && left.hasNewer) left.clearMessages();
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
      this.messages.switchTo(this.currentChannel());
      this.composer.loadDraft(name);
    }
    if (name) {
      this.chat.loadLatest(name).catch((err) => this.toasts.show(`Could not load messages: ${err.message}`, "error"));
    }
    this.renderAll();
    if (name) this.composer.focus();
  }

  /** Open message `m` (a search result) in its channel, at that message. */
  openMessage(m) {
    if (!this.chat.channels.has(m.channel)) {
      this.toasts.show(`You are not in #${m.channel}: join it to see this message in its place.`, "error");
      return;
    }
    if (m.channel !== this.current) this.openChannel(m.channel, true);
    // On a phone the results cover the channel: out of the way.
    if (!window.matchMedia("(min-width: 700px)").matches) this.search.close(false);
    this.messages.jumpTo(m);
  }

  /** Channel `name` was renamed (its old name is `formerName`): the open one
   * stays open, with its history, draft and place in the URL. */
  renamed(name) {
    const ch = this.chat.channels.get(name);
    if (!ch || !ch.formerName) return;
    this.composer.renamed(ch.formerName, name);
    if (this.current === ch.formerName) {
      this.current = name;
      const hash = `#/c/${encodeURIComponent(name)}`;
      if (location.hash !== hash) history.replaceState(null, "", hash);
    }
    this.dirty.add("sidebar").add("header").add("messages");
  }

  labelOf(name) {
    const ch = this.chat.channels.get(name);
    if (ch) return ch.isDM ? ch.label(this.user.username) : `#${name}`;
    return name.startsWith("dm:") ? "that conversation" : `#${name}`;
  }

  toggleSidebar(open) {
    const want = open ?? !this.el.classList.contains("sidebar-open");
    this.el.classList.toggle("sidebar-open", want);
  }

  // --- keyboard --------------------------------------------------------------------

  onKey(ev) {
    if ((ev.ctrlKey || ev.metaKey) && !ev.altKey && ev.key.toLowerCase() === "k") {
      ev.preventDefault();
      openSwitcher(this);
      return;
    }
    // Ctrl+F / Cmd+F: the app's search, not the browser's find in the page.
    if ((ev.ctrlKey || ev.metaKey) && !ev.altKey && !ev.shiftKey && ev.key.toLowerCase() === "f" && !document.querySelector("dialog[open]")) {
      ev.preventDefault();
      this.search.focus();
      return;
    }
    if (ev.key === "Escape") {
      if (document.querySelector("dialog[open]")) return; // the dialog closes itself
      if (this.el.classList.contains("sidebar-open")) {
        this.toggleSidebar(false);
        return;
      }
      if (this.current) {
        this.chat.markRead(this.current, null, true);
        this.messages.jump.hidden = true;
      }
    }
  }
}
