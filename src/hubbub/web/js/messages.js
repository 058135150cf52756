// The open channel's history as a scrolling list: day and "New" dividers,
// messages grouped by author, your pending and failed sends at the end, older
// pages fetched on the way up, and the read cursor moved once you see the
// bottom. Message elements are cached and reused, so a re-render keeps the
// scroll position and does not rebuild what has not changed.

import { openBrowse } from "./browse.js";
import { h, icon, setChildren } from "./dom.js";
import { channelIntro, messageEl } from "./message.js";
import { dayKey, dayLabel } from "./time.js";

const GROUP_GAP = 5 * 60 * 1000; // messages closer than this join the author's group

export class MessageList {
  constructor(app) {
    this.app = app;
    this.cache = new Map();
    this.newMark = null; // the seq after which messages are new (unread on opening)
    this.forceBottom = false;
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
    this.stickToBottom();
  }

  /** Another channel is open: start over, with "New" above its first unread message. */
  switchTo(ch) {
    this.reset();
    this.newMark = ch && ch.unread > 0 ? ch.lastRead : null;
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
      nodes.push(
        this.cached(key, sig, () =>
          messageEl(m, {
            me,
            groupStart,
            state,
            retry: () => chat.retry(ch.name, m.client_id),
            discard: () => chat.discard(ch.name, m.client_id),
          }),
        ),
      );
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

  /** Seeing the bottom of a channel means having read it. */
  maybeMarkRead() {
    const ch = this.app.currentChannel();
    if (!ch || !ch.loaded || ch.unread === 0) return;
    if (document.visibilityState !== "visible" || !this.isAtBottom()) return;
    this.app.chat.markRead(ch.name);
  }
}
