// The thread side panel, right of the channel as in Slack: the thread's first
// message, then its replies (the newest page first, "Load earlier replies"
// while there are more), each drawn as in the channel with its actions
// (react, pin, edit and delete your own: message-actions.js), and a composer
// for replies (composer.js, instantiated a second time) with "Also send to
// #channel". It stays live: new replies, and changes to the root and to the
// replies, show as they happen. Opening it, and each reply that comes while it
// is open and the tab is visible, marks the thread read. The close button and
// Escape close it. It shows a thread of the open channel: switching channels
// closes it (messages.js, which owns it).

import { Composer } from "./composer.js";
import { h, icon, setChildren } from "./dom.js";
import { messageEl, peopleSig, showNodes, startsGroup } from "./message.js";
import { MessageActions } from "./message-actions.js";
import { dropZone } from "./upload.js";

export class ThreadPanel {
  constructor(app) {
    this.app = app;
    this.cache = new Map();
    this.frame = 0;
    this.shown = null; // "channel\nroot" of the thread on screen
    this.forceBottom = false;
    this.prepending = false;
    this.actions = new MessageActions({
      app,
      find: (name, seq) => {
        const t = app.chat.thread;
        return (t && t.channel === name && t.get(seq)) || null;
      },
      render: () => this.render(),
      container: () => this.list,
      elementOf: (seq) => this.cache.get(`s:${seq}`)?.el || null,
      focusHome: () => this.composer.focus(),
    });
    this.where = h("span", { class: "thread-where", testid: "thread-channel" });
    this.list = h("div", {
      class: "thread-messages",
      testid: "thread-messages",
      role: "log",
      "aria-live": "polite",
      tabindex: "0",
    });
    this.composer = new ThreadComposer(app, this);
    this.closedNote = h(
      "p",
      { class: "thread-closed", testid: "thread-closed", hidden: true },
      "The first message of this thread was deleted: it takes no new replies.",
    );
    this.el = h(
      "aside",
      { class: "thread-panel", testid: "thread-panel", "aria-label": "Thread" },
      h(
        "header",
        { class: "thread-head" },
        h("div", { class: "thread-heading" }, h("h2", { class: "thread-title" }, "Thread"), this.where),
        h(
          "button",
          { class: "icon-btn", type: "button", testid: "thread-close", title: "Close (Esc)", "aria-label": "Close thread", onClick: () => this.close() },
          icon("x"),
        ),
      ),
      this.list,
      h("div", { class: "composer-wrap thread-composer-wrap" }, this.closedNote, this.composer.form),
    );
    // Files dropped on the panel go with the next reply.
    dropZone(this.el, (files) => this.composer.addFiles(files), "Drop files to reply with them");
    app.chat.listen((what, name) => this.changed(what, name));
    // Before app.js's own keys (added when the app starts): Escape here closes
    // the panel, not "mark the channel read".
    document.addEventListener("keydown", (ev) => this.onKey(ev));
    document.addEventListener("visibilitychange", () => this.markRead());
  }

  /** Open the thread of message `seq` of channel `name`. */
  open(name, seq) {
    const before = this.app.chat.thread;
    this.forceBottom = true;
    this.app.chat.openThread(name, seq);
    this.schedule();
    // The same thread again: nothing new to draw, but the cursor goes to its box.
    if (before && before === this.app.chat.thread && this.el.isConnected) this.composer.focus();
  }

  close() {
    this.app.chat.closeThread();
    this.render();
  }

  changed(what, name) {
    const t = this.app.chat.thread;
    if (what === "thread" || (t && name === t.channel && (what === "messages" || what === "channels"))) this.schedule();
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  stickToBottom() {
    this.forceBottom = true;
  }

  isAtBottom() {
    const l = this.list;
    return l.scrollHeight - l.scrollTop - l.clientHeight < 40;
  }

  cached(key, sig, build) {
    const hit = this.cache.get(key);
    if (hit && hit.sig === sig) return hit.el;
    const el = build();
    this.cache.set(key, { sig, el });
    return el;
  }

  /** Up in the empty reply box: edit your newest reply (or the root, if yours and nothing else is). */
  editLast() {
    const t = this.app.chat.thread;
    if (!t) return false;
    return this.actions.editLast(t.channel, [t.rootMsg, ...t.sorted()].filter(Boolean));
  }

  render() {
    const { chat, user } = this.app;
    const t = chat.thread;
    const ch = t && chat.channels.get(t.channel);
    if (!t || !ch) {
      this.detach();
      return;
    }
    const key = `${t.channel}\n${t.root}`;
    const fresh = key !== this.shown;
    if (fresh) {
      this.cache.clear();
      this.actions.editor = null;
      this.forceBottom = true;
      this.shown = key;
      this.composer.reset();
    }
    this.attach();
    const me = user.username;
    this.actions.dropStale();
    setChildren(this.where, ch.isDM ? ch.label(me) : `#${ch.name}`);
    const list = this.list;
    const stick = this.forceBottom || this.isAtBottom();
    const fromBottom = list.scrollHeight - list.scrollTop;
    const prevTop = list.scrollTop;
    const nodes = [];
    const root = t.rootMsg;
    if (root) {
      nodes.push(
        this.cached("root", this.sig(ch, root, true), () => h("div", { class: "thread-root", testid: "thread-root" }, this.messageEl(ch, root, true))),
      );
      const n = root.reply_count;
      nodes.push(
        this.cached("count", String(n), () =>
          h(
            "div",
            { class: "thread-divider", testid: "thread-reply-divider" },
            h("span", { testid: "thread-divider-count" }, n ? `${n} ${n === 1 ? "reply" : "replies"}` : "No replies yet"),
          ),
        ),
      );
    }
    if (t.error && !t.loaded) {
      nodes.push(
        h(
          "div",
          { class: "list-status", testid: "thread-error", role: "alert" },
          `Could not load the thread: ${t.error}`,
          h("button", { class: "link-button", type: "button", onClick: () => this.open(t.channel, t.root) }, "Retry"),
        ),
      );
    } else if (!t.loaded) {
      nodes.push(
        this.cached("loading", "loading", () =>
          h("div", { class: "list-status", testid: "thread-loading" }, h("span", { class: "spinner", "aria-hidden": "true" }), "Loading replies…"),
        ),
      );
    } else if (t.hasMore) {
      nodes.push(
        this.cached("more", t.loading ? "busy" : "idle", () =>
          h(
            "button",
            {
              class: "link-button thread-more",
              type: "button",
              testid: "thread-load-earlier",
              disabled: !!t.loading,
              onClick: () => {
                this.prepending = true;
                chat.loadOlderReplies();
                this.schedule();
              },
            },
            t.loading ? "Loading earlier replies…" : "Load earlier replies",
          ),
        ),
      );
    }
    const pending = [...ch.pending.values()].filter((p) => p.thread_root === t.root).sort((a, b) => a.created_at - b.created_at);
    let prev = null;
    for (const m of [...t.sorted(), ...pending]) {
      const groupStart = startsGroup(prev, m);
      const key = m.seq ? `s:${m.seq}` : `p:${m.client_id}`;
      nodes.push(this.cached(key, `${groupStart}|${this.sig(ch, m, false)}`, () => this.messageEl(ch, m, groupStart)));
      prev = m;
    }
    showNodes(list, nodes);
    if (stick) list.scrollTop = list.scrollHeight;
    else if (this.prepending) list.scrollTop = list.scrollHeight - fromBottom;
    else list.scrollTop = prevTop;
    if (t.loaded) this.forceBottom = false;
    if (!t.loading) this.prepending = false;
    this.composer.render();
    if (fresh) this.composer.focus();
    this.markRead();
  }

  sig(ch, m, isRoot) {
    const state = m.seq ? "sent" : m.state;
    const editing = m.seq && this.actions.editing(ch.name, m.seq) ? "editing" : "";
    return `${isRoot}|${state}|${m.error || ""}|${m.rev || 0}|${editing}|${peopleSig(m, this.app.chat.names)}`;
  }

  messageEl(ch, m, groupStart) {
    const { chat, user } = this.app;
    const state = m.seq ? "sent" : m.state;
    const editor = m.seq ? this.actions.editing(ch.name, m.seq) : null;
    return messageEl(m, {
      me: user.username,
      groupStart,
      state,
      retry: () => chat.retry(ch.name, m.client_id),
      discard: () => chat.discard(ch.name, m.client_id),
      // No "Reply in thread" here: this box replies to the thread already.
      actions: m.seq && !m.deleted ? this.actions.actionsFor(ch.name, m) : null,
      editor: editor ? editor.el : null,
      names: chat.names,
      inThread: true,
      links: this.app.fileLinks,
    });
  }

  /** Seen: the thread is read up to its newest reply. */
  markRead() {
    if (!this.el.isConnected || document.visibilityState !== "visible") return;
    this.app.chat.markThreadRead();
  }

  attach() {
    if (this.el.isConnected) return;
    const { el, messages } = this.app;
    const bottom = messages.isAtBottom();
    const main = el.querySelector(".main");
    if (main) main.after(this.el);
    else el.append(this.el);
    el.classList.add("thread-open");
    if (bottom) messages.list.scrollTop = messages.list.scrollHeight; // narrower now: stay at the bottom
  }

  detach() {
    if (!this.el.isConnected && this.shown === null) return;
    const { el, messages } = this.app;
    const hadFocus = this.el.contains(document.activeElement);
    const bottom = messages.isAtBottom();
    this.el.remove();
    el.classList.remove("thread-open");
    if (bottom) messages.list.scrollTop = messages.list.scrollHeight;
    this.cache.clear();
    this.shown = null;
    this.actions.editor = null;
    if (hadFocus) this.app.composer.focus();
  }

  onKey(ev) {
    if (ev.key !== "Escape" || ev.defaultPrevented || !this.el.isConnected) return;
    if (document.querySelector("dialog[open]")) return; // the dialog closes itself
    const active = document.activeElement;
    if (active && active !== document.body && !this.el.contains(active)) return; // the channel's own Escape
    ev.preventDefault();
    ev.stopImmediatePropagation();
    this.close();
  }
}

/** What the reply box's Composer sees as "the app": the real one, but for the
 * open thread's channel, and edits and scrolling in the panel. */
function composerHost(app, panel) {
  return {
    api: app.api,
    chat: app.chat,
    user: app.user,
    toasts: app.toasts,
    get current() {
      return app.chat.thread ? app.chat.thread.channel : null;
    },
    currentChannel: () => (app.chat.thread ? app.chat.channels.get(app.chat.thread.channel) : null),
    messages: { editLast: () => panel.editLast(), stickToBottom: () => panel.stickToBottom() },
    openChannel: (name, push) => app.openChannel(name, push),
    schedule: () => panel.schedule(),
  };
}

/** The composer, for replies: the same keys, mentions and commands, its own
 * test ids, an "Also send to #channel" box, and no typing announced (it
 * would show in the channel). */
class ThreadComposer extends Composer {
  constructor(app, panel) {
    super(composerHost(app, panel));
    this.panel = panel;
    this.input.dataset.testid = "thread-composer";
    this.input.setAttribute("aria-label", "Reply");
    this.mention.el.id = "thread-mention-options";
    this.mention.el.dataset.testid = "thread-mention-options";
    this.commands.el.id = "thread-command-options";
    this.commands.el.dataset.testid = "thread-command-options";
    this.input.setAttribute("aria-controls", "thread-mention-options thread-command-options");
    const send = this.form.querySelector('[data-testid="send-button"]');
    send.dataset.testid = "thread-send";
    send.title = "Reply (Enter)";
    send.setAttribute("aria-label", "Reply");
    this.picker.dataset.testid = "thread-file-input";
    this.form.querySelector('[data-testid="attach-button"]').dataset.testid = "thread-attach-button";
    this.files.el.dataset.testid = "thread-pending-files";
    this.broadcast = h("input", { type: "checkbox", testid: "thread-broadcast" });
    this.broadcastText = h("span", { testid: "thread-broadcast-label" });
    this.form.querySelector(".composer-hint").replaceWith(h("label", { class: "thread-broadcast" }, this.broadcast, this.broadcastText));
  }

  render() {
    const ch = this.app.currentChannel();
    const t = this.app.chat.thread;
    this.form.hidden = !ch || !!(t && t.rootMsg && t.rootMsg.deleted);
    this.panel.closedNote.hidden = !ch || !this.form.hidden;
    this.files.render(ch ? ch.name : null);
    if (!ch) return;
    this.input.placeholder = "Reply…";
    this.broadcastText.textContent = ch.isDM ? "Also send as a direct message" : `Also send to #${ch.name}`;
  }

  /** Another thread: an empty box. */
  reset() {
    this.input.value = "";
    this.waiting = null;
    this.files.clearAll();
    this.broadcast.checked = false;
    this.mention.close();
    this.commands.close();
    this.say(null);
    this.autosize();
  }

  onInput() {
    this.autosize();
    if (!this.notice.hidden) this.say(null);
  }

  post(text, files = []) {
    const { chat, toasts } = this.app;
    const max = Number(chat.limits.max_message_chars) || 10000;
    if (text.length > max) {
      toasts.show(`Messages can be at most ${max} characters.`, "error");
      return;
    }
    chat.sendReply(text, this.broadcast.checked, files);
    this.files.clearAll();
    this.clear();
    this.broadcast.checked = false;
    this.panel.stickToBottom();
    this.panel.schedule();
  }
}
