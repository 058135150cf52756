// The open channel's history as a scrolling list: day and "New" dividers,
// messages grouped by author, "X joined" / "X left" lines, the answers of
// your slash commands that only you see ("Only visible to you", with a
// dismiss ×; chat.js keeps them beside the messages, never among them), your pending and
// failed sends at the end, older pages fetched on the way up, and the read
// cursor moved once you see the bottom. A channel opened with unread messages
// shows its "New" divider at the top (older pages are fetched until it is
// loaded); one with none, its newest messages. Message elements are cached
// and reused, so a re-render keeps the scroll position and does not rebuild
// what has not changed (nor loses the keyboard focus inside the list).
//
// What you do to a message runs here too (message-actions.js): reactions,
// pins, editing and deleting your own (Up in an empty composer edits your last
// message), and "Reply in thread", which opens the thread panel
// (thread-panel.js, owned by this list). Replies kept in their thread are not
// in this list; the root of a thread shows its summary, and a reply also sent
// to the channel shows "replied to a thread".
//
// Opened at a message far back (a search result: jumpTo), the list shows the
// page around it, fetches newer pages on the way down as it does older ones
// on the way up, and offers "Jump to recent messages"; it is not at the
// channel's present, so it moves no read cursor and shows nothing live until
// it gets there (chat.js keeps those aside), or until you send.

import { openBrowse } from "./browse.js";
import { inChannel } from "./chat.js";
import { h, icon, setChildren } from "./dom.js";
import { statusOfMark, statusSig } from "./status.js";
import { channelIntro, ephemeralEl, excerpt, memberEventEl, messageEl, peopleSig, showNodes, startsGroup } from "./message.js";
import { MessageActions } from "./message-actions.js";
import { ThreadPanel } from "./thread-panel.js";
import { dayKey, dayLabel } from "./time.js";

// Pages of older history fetched, at most, to reach the first unread message
// (or a pinned message to show).
const MAX_ANCHOR_PAGES = 10;

export class MessageList {
  constructor(app) {
    this.app = app;
    this.cache = new Map();
    this.newMark = null; // the seq after which messages are new (unread on opening)
    this.forceBottom = false;
    this.holdTop = false; // newer messages are going in below: keep the place
    this.anchor = false; // the next loaded render scrolls the "New" divider to the top
    this.anchorPages = 0;
    this.actions = new MessageActions({
      app,
      find: (name, seq) => {
        const ch = this.app.currentChannel();
        return (ch && ch.name === name && ch.msgs.get(seq)) || null;
      },
      render: () => this.render(false),
      container: () => this.list,
      elementOf: (seq) => this.cache.get(`s:${seq}`)?.el || null,
      focusHome: () => this.app.composer.focus(),
    });
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
      h("span", { testid: "jump-latest-text" }, "New messages"),
    );
    this.el = h("div", { class: "messages-wrap" }, this.list, this.jump);
    this.thread = new ThreadPanel(app);
  }

  /** The inline editor open on one of your messages here, if any. */
  get editor() {
    return this.actions.editor;
  }

  /** Open the thread of message `seq` of channel `name` in the side panel. */
  openThread(name, seq) {
    this.thread.open(name, seq);
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
    this.actions.editor = null;
    // The thread panel shows a thread of the open channel (as in Slack).
    const t = this.app.chat.thread;
    if (t && (!ch || t.channel !== ch.name)) this.app.chat.closeThread();
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
    this.actions.dropStale();
    // Short of the newest (opened at an older message): the bottom is not the present.
    const stick = !this.holdTop && !ch.hasNewer && (this.forceBottom || this.isAtBottom());
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
    // A reply waiting for its ack shows in its thread (and here only if it is also sent to the channel).
    const pending = [...ch.pending.values()].filter(inChannel).sort((a, b) => a.created_at - b.created_at);
    // Joined/left lines and ephemeral answers go after the newest message delivered when they came.
    const events = [...ch.events].sort((a, b) => a.after - b.after);
    let next = 0;
    const eventsBefore = (seq) => {
      const start = next;
      while (next < events.length && (seq === null || events[next].after < seq)) {
        const ev = events[next++];
        if (ev.kind === "ephemeral") {
          nodes.push(this.cached(`e:${ev.id}`, "", () => ephemeralEl(ev, { me, dismiss: () => this.dismiss(ch, ev.id) })));
          continue;
        }
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
      if (this.newMark !== null && m.seq && m.seq > this.newMark && (!prev || !prev.seq || prev.seq <= this.newMark) && m.author?.username !== me) {
        nodes.push(this.cached("new", "new", () => h("div", { class: "new-divider", testid: "new-divider" }, h("span", null, "New"))));
        divided = true;
      }
      const groupStart = divided || startsGroup(prev, m);
      const state = m.seq ? "sent" : m.state;
      const key = m.seq ? `s:${m.seq}` : `p:${m.client_id}`;
      const editor = m.seq ? this.actions.editing(ch.name, m.seq) : null;
      const reply = m.seq && m.thread_root !== null && m.thread_root !== undefined;
      // A reply shown here names its thread's first message (asked for if not loaded).
      const replyTo = reply ? excerpt(chat.rootOf(ch.name, m.thread_root), 80) : null;
      const who = groupStart && m.author ? m.author.username : null;
      const sig = `${groupStart}|${state}|${m.error || ""}|${m.rev || 0}|${editor ? "editing" : ""}|${peopleSig(m, chat.names)}|${replyTo ?? ""}|${statusSig(chat, who)}`;
      const thread = m.seq ? (reply ? m.thread_root : m.seq) : null;
      nodes.push(
        this.cached(key, sig, () =>
          messageEl(m, {
            me,
            groupStart,
            state,
            retry: () => chat.retry(ch.name, m.client_id),
            discard: () => chat.discard(ch.name, m.client_id),
            actions: m.seq && !m.deleted ? this.actions.actionsFor(ch.name, m, { reply: () => this.openThread(ch.name, thread) }) : null,
            editor: editor ? editor.el : null,
            names: chat.names,
            onThread: thread ? () => this.openThread(ch.name, thread) : null,
            replyTo,
            status: statusOfMark(chat, who),
            links: this.app.fileLinks,
          }),
        ),
      );
      prev = m;
    }
    eventsBefore(null);
    if (ch.hasNewer) {
      nodes.push(
        this.cached("newer", "newer", () =>
          h(
            "div",
            { class: "list-status", testid: "history-loading-newer" },
            h("span", { class: "spinner", "aria-hidden": "true" }),
            "Loading newer messages…",
          ),
        ),
      );
    }
    // Putting the nodes back takes the focus off whatever in the list had it
    // (the editor, a reaction chip, an action): showNodes gives it back, to
    // the same control of a message that was rebuilt.
    showNodes(list, nodes);
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
    if (!ch.loading) this.holdTop = false;
    this.updateJump();
    this.maybeMarkRead();
    // Not enough history to scroll? Fetch older pages until there is.
    if (ch.loaded && ch.hasMore && !ch.loading && list.scrollHeight <= list.clientHeight + 50) this.loadOlder();
    else if (this.nearBottom()) this.loadNewer();
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

  /** Take away the "Only visible to you" line `id` of channel `ch`. */
  dismiss(ch, id) {
    if (!ch.removeEvent(id)) return;
    this.cache.delete(`e:${id}`);
    this.render(false);
    this.app.composer.focus();
  }

  // --- what you do to a message (message-actions.js) ----------------------------------

  /** Open the inline editor on your message `seq`; false if it is not editable. */
  startEdit(name, seq) {
    return this.actions.startEdit(name, seq);
  }

  /** Up in an empty composer: edit your newest message here (as in Slack). */
  editLast() {
    const ch = this.app.currentChannel();
    return ch ? this.actions.editLast(ch.name, ch.sorted()) : false;
  }

  stopEdit() {
    this.actions.stopEdit();
  }

  /** Show message `seq` of the open channel (a pinned one, picked from the
   * list): older pages are fetched (a few at most) until it is loaded, then it
   * is scrolled to and highlighted. A reply kept in its thread opens there. */
  async showMessage(m) {
    const { chat, toasts } = this.app;
    const ch = this.app.currentChannel();
    if (!ch || ch.name !== m.channel) return;
    if (!inChannel(m)) {
      this.openThread(ch.name, m.thread_root);
      return;
    }
    try {
      await chat.loadLatest(ch.name);
      for (let pages = 0; !ch.msgs.has(m.seq) && ch.hasMore && pages < MAX_ANCHOR_PAGES; pages++) {
        if ((await chat.loadOlder(ch.name)) === 0 && !ch.hasMore) break;
      }
    } catch (err) {
      toasts.show(`Could not load older messages: ${err.message}`, "error");
      return;
    }
    if (this.app.currentChannel() !== ch) return;
    this.render(false); // the pages just loaded, before scrolling to one of them
    const el = this.cache.get(`s:${m.seq}`)?.el;
    if (!ch.msgs.has(m.seq) || !el || !el.isConnected) {
      toasts.show("That message is too far back to show.", "error");
      return;
    }
    el.scrollIntoView({ block: "center" });
    el.classList.remove("flash");
    void el.offsetWidth; // restart the highlight
    el.classList.add("flash");
    el.focus({ preventScroll: true });
  }

  /** Open message `m` (a search result) in its channel, the open one: at
   * once if it is loaded, else the page around it (however far back), then
   * scrolled to and highlighted. A reply kept in its thread opens there, over
   * its root. */
  async jumpTo(m) {
    const { chat, toasts } = this.app;
    const ch = this.app.currentChannel();
    if (!ch || ch.name !== m.channel) return;
    const inList = inChannel(m);
    const seq = inList ? m.seq : m.thread_root;
    this.anchor = false;
    this.forceBottom = false;
    if (!ch.msgs.has(seq)) {
      try {
        await chat.loadAround(ch.name, seq);
      } catch (err) {
        toasts.show(`Could not load that message: ${err.message}`, "error");
        return;
      }
      if (this.app.currentChannel() !== ch) return;
    }
    this.render(false);
    const el = this.cache.get(`s:${seq}`)?.el;
    if (!el || !el.isConnected) {
      toasts.show("That message is not there any more.", "error");
      return;
    }
    this.highlight(el);
    if (!inList) this.openThread(ch.name, m.thread_root);
  }

  /** Scroll `el` (a message) into the middle of the list and mark it. */
  highlight(el) {
    for (const old of this.list.querySelectorAll(".msg.jumped")) old.classList.remove("jumped");
    el.scrollIntoView({ block: "center" });
    el.classList.remove("flash");
    void el.offsetWidth; // restart the highlight
    el.classList.add("flash", "jumped");
    el.focus({ preventScroll: true });
  }

  updateJump() {
    const ch = this.app.currentChannel();
    const back = !!ch && ch.hasNewer;
    this.jump.hidden = !ch || (!back && (this.isAtBottom() || ch.unread === 0));
    this.jump.dataset.mode = back ? "recent" : "new";
    const text = back ? "Jump to recent messages" : "New messages";
    const label = this.jump.querySelector("[data-testid=jump-latest-text]");
    if (label.textContent !== text) label.textContent = text;
  }

  nearBottom() {
    const l = this.list;
    return l.scrollHeight - l.scrollTop - l.clientHeight < 400;
  }

  /** Opened at an older message: the page after the newest loaded, keeping the place. */
  loadNewer() {
    const ch = this.app.currentChannel();
    if (!ch || !ch.loaded || !ch.hasNewer || ch.loading) return;
    this.holdTop = true;
    this.app.chat.loadNewer(ch.name).catch((err) => this.app.toasts.show(`Could not load newer messages: ${err.message}`, "error"));
  }

  onScroll() {
    if (this.list.scrollTop < 400) this.loadOlder();
    if (this.nearBottom()) this.loadNewer();
    this.updateJump();
    this.maybeMarkRead();
  }

  loadOlder() {
    const ch = this.app.currentChannel();
    if (!ch || !ch.loaded || !ch.hasMore || ch.loading) return;
    this.app.chat.loadOlder(ch.name).catch((err) => this.app.toasts.show(`Could not load older messages: ${err.message}`, "error"));
  }

  scrollToBottom() {
    const ch = this.app.currentChannel();
    if (ch && ch.hasNewer) {
      // The newest page in place of the older run shown, at its bottom.
      this.reset();
      this.app.chat.backToLatest(ch.name).catch((err) => this.app.toasts.show(`Could not load messages: ${err.message}`, "error"));
      return;
    }
    this.list.scrollTop = this.list.scrollHeight;
    this.maybeMarkRead();
  }

  /** Seeing the bottom of a channel means having read it (not while the list
   * is still on its way back to the first unread message). */
  maybeMarkRead() {
    const ch = this.app.currentChannel();
    if (!ch || !ch.loaded || ch.unread === 0 || this.anchor || ch.hasNewer) return;
    if (document.visibilityState !== "visible" || !this.isAtBottom()) return;
    this.app.chat.markRead(ch.name);
  }
}
