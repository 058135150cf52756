// The open channel's history as a scrolling list: day and "New" dividers,
// messages grouped by author, "X joined" / "X left" lines, your pending and
// failed sends at the end, older pages fetched on the way up, and the read
// cursor moved once you see the bottom. A channel opened with unread messages
// shows its "New" divider at the top (older pages are fetched until it is
// loaded); one with none, its newest messages. Message elements are cached
// and reused, so a re-render keeps the scroll position and does not rebuild
// what has not changed (nor loses the keyboard focus inside the list).
//
// What you do to a message runs here too: reactions (the chips and the
// picker), and editing and deleting your own (the inline editor, Up in an
// empty composer to edit your last message, the delete confirmation).

import { openBrowse } from "./browse.js";
import { h, icon, setChildren } from "./dom.js";
import { openEmojiPicker } from "./emoji-picker.js";
import { channelIntro, memberEventEl, messageEl } from "./message.js";
import { confirmDelete, Editor } from "./message-actions.js";
import { dayKey, dayLabel } from "./time.js";

const GROUP_GAP = 5 * 60 * 1000; // messages closer than this join the author's group
// Pages of older history fetched, at most, to reach the first unread message.
const MAX_ANCHOR_PAGES = 10;

export class MessageList {
  constructor(app) {
    this.app = app;
    this.cache = new Map();
    this.newMark = null; // the seq after which messages are new (unread on opening)
    this.forceBottom = false;
    this.anchor = false; // the next loaded render scrolls the "New" divider to the top
    this.anchorPages = 0;
    this.editor = null; // the inline editor open on one of your messages
    this.list = h("div", {
      class: "messages",
      testid: "message-list",
      role: "log",
      "aria-live": "polite",
      tabindex: "0",
    });
    this.list.addEventListener("scroll", () => this.onScroll(), { passive: true });
    this.jump = h(
      "button",
      { class: "jump-latest", testid: "jump-latest", type: "button", hidden: true, onClick: () => this.scrollToBottom() },
      icon("down"),
      "New messages",
    );
    this.el = h("div", { class: "messages-wrap" }, this.list, this.jump);
  }

  /** The next render lands at the bottom (the channel just opened, or you sent). */
  stickToBottom() {
    this.forceBottom = true;
  }

  /** Build everything anew (the history was reloaded). */
  reset() {
    this.cache.clear();
    this.anchor = false;
    this.stickToBottom();
  }

  /** Another channel is open: start over, with "New" above its first unread
   * message, and that message at the top of the list once it is loaded. */
  switchTo(ch) {
    this.editor = null;
    this.reset();
    this.newMark = ch && ch.unread > 0 ? ch.lastRead : null;
    this.anchor = this.newMark !== null;
    this.anchorPages = 0;
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

  render(prepend) {
    const { chat, user } = this.app;
    const list = this.list;
    const ch = this.app.currentChannel();
    if (!ch) {
      setChildren(
        list,
        h(
          "div",
          { class: "empty-state" },
          chat.ready
            ? [
                h("h2", null, "Welcome to hubbub"),
                h("p", null, "Join a channel or start a conversation to get going."),
                h("button", { class: "button", type: "button", onClick: () => openBrowse(this.app) }, "Browse channels"),
              ]
            : h("p", null, "Connecting…"),
        ),
      );
      this.jump.hidden = true;
      return;
    }
    const me = user.username;
    if (this.editor && !this.editable(ch, this.editor.seq, this.editor.channel)) this.editor = null;
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
      nodes.push(this.cached(`intro`, `${ch.topic}|${ch.kind}`, () => channelIntro(ch, me)));
    }
    const pending = [...ch.pending.values()].sort((a, b) => a.created_at - b.created_at);
    // Joined/left lines go after the newest message delivered when they came.
    const events = [...ch.events].sort((a, b) => a.after - b.after);
    let next = 0;
    const eventsBefore = (seq) => {
      const start = next;
      while (next < events.length && (seq === null || events[next].after < seq)) {
        const ev = events[next++];
        const name = chat.displayName(ev.user);
        nodes.push(this.cached(`e:${ev.id}`, name, () => memberEventEl(ev, name, ch)));
      }
      return next > start;
    };
    let prev = null;
    for (const m of [...ch.sorted(), ...pending]) {
      let divided = eventsBefore(m.seq || null);
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
      const editor = m.seq && this.editor && this.editor.seq === m.seq ? this.editor : null;
      // Who reacted is shown by name: a name learnt later redraws the message.
      const reactors = m.reactions && m.reactions.length ? m.reactions.map((r) => r.users.map(chat.names).join(",")).join(";") : "";
      const sig = `${groupStart}|${state}|${m.error || ""}|${m.rev || 0}|${editor ? "editing" : ""}|${reactors}`;
      nodes.push(
        this.cached(key, sig, () =>
          messageEl(m, {
            me,
            groupStart,
            state,
            retry: () => chat.retry(ch.name, m.client_id),
            discard: () => chat.discard(ch.name, m.client_id),
            actions: m.seq && !m.deleted ? this.actionsFor(ch.name, m) : null,
            editor: editor ? editor.el : null,
            names: chat.names,
          }),
        ),
      );
      prev = m;
    }
    eventsBefore(null);
    // Putting the nodes back takes the focus off whatever in the list had it
    // (the editor, a reaction chip, an action): give it back, to the same
    // control of a message that was rebuilt.
    const active = document.activeElement;
    const focused = active && active !== list && list.contains(active) ? active : null;
    const focusKey = focused ? focused.dataset.focusKey : null;
    const selection = focused && typeof focused.selectionStart === "number" ? [focused.selectionStart, focused.selectionEnd] : null;
    list.replaceChildren(...nodes);
    if (focused) {
      const again = focused.isConnected ? focused : focusKey ? list.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`) : null;
      if (again && document.activeElement !== again) {
        again.focus({ preventScroll: true });
        if (selection && typeof again.setSelectionRange === "function") again.setSelectionRange(...selection);
      }
    }
    if (this.anchor && ch.loaded && this.scrollToNew(ch)) {
      // The first unread message is at the top.
    } else if (stick) {
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

  /** Scroll the "New" divider to the top, once the first unread message is
   * loaded (fetching older pages until it is); true when it scrolled. */
  scrollToNew(ch) {
    const oldest = ch.oldestSeq();
    const missing = ch.hasMore && oldest !== null && oldest > this.newMark + 1;
    if (missing && this.anchorPages < MAX_ANCHOR_PAGES) {
      if (!ch.loading) {
        this.anchorPages++;
        this.app.chat.loadOlder(ch.name).catch((err) => {
          this.anchor = false;
          this.app.toasts.show(`Could not load older messages: ${err.message}`, "error");
        });
      }
      return false;
    }
    this.anchor = false;
    const hit = this.cache.get("new");
    const divider = hit && hit.el.isConnected ? hit.el : null;
    if (!divider) return false;
    const list = this.list;
    list.scrollTop += divider.getBoundingClientRect().top - list.getBoundingClientRect().top - 8;
    return true;
  }

  // --- what you do to a message ------------------------------------------------------

  /** The actions of a sent message (`m` as it was when its element was built:
   * each looks the message up again when used). */
  actionsFor(name, m) {
    const mine = !!m.author && m.author.username === this.app.user.username;
    return {
      pick: () => this.pickReaction(name, m.seq),
      toggle: (emoji) => this.toggleReaction(name, m.seq, emoji),
      edit: mine ? () => this.startEdit(name, m.seq) : null,
      remove: mine ? () => this.askDelete(name, m.seq) : null,
    };
  }

  /** Message `seq` of channel `name`, if it is yours and not deleted. */
  editable(ch, seq, name = ch.name) {
    if (!ch || ch.name !== name) return null;
    const m = ch.msgs.get(seq);
    return m && !m.deleted && m.author && m.author.username === this.app.user.username ? m : null;
  }

  toggleReaction(name, seq, emoji) {
    this.app.chat.toggleReaction(name, seq, emoji).catch((err) => this.app.toasts.show(err.message, "error"));
  }

  pickReaction(name, seq) {
    const { chat } = this.app;
    const back = this.focusBack(`${seq}:react`);
    openEmojiPicker({
      // From the palette, an emoji you reacted with already is taken back.
      onPick: (emoji, typed) => (typed ? chat.react(name, seq, emoji) : chat.toggleReaction(name, seq, emoji)),
      onClose: back,
    });
  }

  /** Where the focus goes when a dialog about a message closes: the control
   * that opened it (or the same one of the rebuilt message), else the composer. */
  focusBack(fallbackKey) {
    const opener = document.activeElement;
    const key = (opener && opener.dataset && opener.dataset.focusKey) || fallbackKey;
    const fromList = opener && this.list.contains(opener);
    return () => {
      const el = fromList ? (opener.isConnected ? opener : this.list.querySelector(`[data-focus-key="${CSS.escape(key)}"]`)) : null;
      if (el) el.focus({ preventScroll: true });
      else if (this.editor) this.editor.focus();
      else this.app.composer.focus();
    };
  }

  /** Open the inline editor on your message `seq`; false if it is not editable. */
  startEdit(name, seq) {
    const ch = this.app.currentChannel();
    const m = this.editable(ch, seq, name);
    if (!m) return false;
    if (!this.editor || this.editor.seq !== seq || this.editor.channel !== name) {
      this.editor = new Editor({ channel: name, seq, text: m.text, onSave: () => this.saveEdit(), onCancel: () => this.stopEdit() });
    }
    this.render(false);
    this.editor.focus();
    const hit = this.cache.get(`s:${seq}`);
    if (hit && hit.el.isConnected) hit.el.scrollIntoView({ block: "nearest" });
    return true;
  }

  /** Up in an empty composer: edit your newest message here (as in Slack). */
  editLast() {
    const ch = this.app.currentChannel();
    if (!ch) return false;
    const msgs = ch.sorted();
    for (let i = msgs.length - 1; i >= 0; i--) {
      if (this.editable(ch, msgs[i].seq)) return this.startEdit(ch.name, msgs[i].seq);
    }
    return false;
  }

  stopEdit() {
    this.editor = null;
    this.render(false);
    this.app.composer.focus();
  }

  saveEdit() {
    const ed = this.editor;
    if (!ed || ed.saving) return;
    const { chat, toasts } = this.app;
    const ch = chat.channels.get(ed.channel);
    const m = this.editable(ch, ed.seq, ed.channel);
    if (!m) {
      this.stopEdit();
      return;
    }
    const text = ed.input.value;
    if (!text.trim()) {
      this.askDelete(ed.channel, ed.seq); // an edit that empties a message deletes it (as in Slack), once confirmed
      return;
    }
    if (text === m.text) {
      this.stopEdit();
      return;
    }
    const max = Number(chat.limits.max_message_chars) || 10000;
    if (text.length > max) {
      toasts.show(`Messages can be at most ${max} characters.`, "error");
      return;
    }
    ed.busy(true);
    chat.edit(ed.channel, ed.seq, text).then(
      () => {
        if (this.editor === ed) this.stopEdit();
      },
      (err) => {
        toasts.show(`Not saved: ${err.message}`, "error");
        if (this.editor !== ed) return;
        ed.busy(false);
        ed.focus();
      },
    );
  }

  askDelete(name, seq) {
    const { chat, toasts, user } = this.app;
    const m = this.editable(chat.channels.get(name), seq, name);
    if (!m) return;
    confirmDelete({
      message: m,
      me: user.username,
      onDelete: () =>
        chat.delete(name, seq).then(
          () => {
            if (this.editor && this.editor.seq === seq && this.editor.channel === name) this.editor = null;
          },
          (err) => toasts.show(`Not deleted: ${err.message}`, "error"),
        ),
      onClose: () => {
        if (this.editor) this.editor.focus();
        else this.app.composer.focus();
      },
    });
  }

  updateJump() {
    const ch = this.app.currentChannel();
    this.jump.hidden = !ch || this.isAtBottom() || ch.unread === 0;
  }

  onScroll() {
    if (this.list.scrollTop < 400) this.loadOlder();
    this.updateJump();
    this.maybeMarkRead();
  }

  loadOlder() {
    const ch = this.app.currentChannel();
    if (!ch || !ch.loaded || !ch.hasMore || ch.loading) return;
    this.app.chat.loadOlder(ch.name).catch((err) => this.app.toasts.show(`Could not load older messages: ${err.message}`, "error"));
  }

  scrollToBottom() {
    this.list.scrollTop = this.list.scrollHeight;
    this.maybeMarkRead();
  }

  /** Seeing the bottom of a channel means having read it (not while the list
   * is still on its way back to the first unread message). */
  maybeMarkRead() {
    const ch = this.app.currentChannel();
    if (!ch || !ch.loaded || ch.unread === 0 || this.anchor) return;
    if (document.visibilityState !== "visible" || !this.isAtBottom()) return;
    this.app.chat.markRead(ch.name);
  }
}
