// Mention autocomplete for the composer: "@" and a letter or more just before
// the cursor lists the people whose username or name matches (from
// GET /api/users?q=, asked once typing pauses; an answer to an older question
// is dropped), then @here and @channel in a channel. Up and Down move, Enter or
// Tab puts "@username " in place of what was typed, Escape closes the list.
// While the list shows, Enter picks and does not send: the composer asks
// onKey() first.

import { h, setChildren } from "./dom.js";
import { avatar } from "./avatar.js";

const DEBOUNCE_MS = 150;
const MAX_SHOWN = 8;
const MAX_CACHED = 50;
// "@an" at the cursor, not inside a word or an address (a@b.test).
const TYPED_RE = /(?:^|[^\p{L}\p{N}_@.-])@([a-z0-9][a-z0-9_.-]{0,31})$/iu;
const BROADCASTS = [
  { username: "here", display_name: "Everyone here", broadcast: true },
  { username: "channel", display_name: "Everyone in the channel", broadcast: true },
];

export class MentionAutocomplete {
  /**
   * `input`: the composer's textarea; `api`: the app's Api; `me()`: your
   * username (not offered); `inChannel()`: true outside DMs (@here, @channel offered).
   */
  constructor({ input, api, me, inChannel }) {
    this.input = input;
    this.api = api;
    this.me = me;
    this.inChannel = inChannel;
    this.query = null; // the letters after "@", lower case, while the list is wanted
    this.start = 0; // where the "@" is
    this.options = [];
    this.active = 0;
    this.timer = 0;
    this.asked = 0; // numbers the questions: only the newest one's answer is shown
    this.answers = new Map(); // query -> users, newest last
    this.el = h("ul", {
      class: "pick-list mention-list",
      role: "listbox",
      id: "mention-options",
      testid: "mention-options",
      "aria-label": "People to mention",
      hidden: true,
    });
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", "mention-options");
    input.addEventListener("input", () => this.update());
    input.addEventListener("click", () => this.update()); // the cursor moved
    input.addEventListener("keyup", (ev) => {
      if (ev.key === "ArrowLeft" || ev.key === "ArrowRight" || ev.key === "Home" || ev.key === "End") this.update();
    });
    input.addEventListener("blur", () => this.close());
  }

  get isOpen() {
    return !this.el.hidden;
  }

  /** Keys for the list while it shows: true when the key was handled here. */
  onKey(ev) {
    if (!this.isOpen || ev.isComposing || ev.altKey || ev.ctrlKey || ev.metaKey) return false;
    if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
      const n = this.options.length;
      this.active = (this.active + (ev.key === "ArrowDown" ? 1 : n - 1)) % n;
      this.render();
    } else if ((ev.key === "Enter" || ev.key === "Tab") && !ev.shiftKey) {
      this.pick(this.options[this.active]);
    } else if (ev.key === "Escape") {
      ev.stopPropagation(); // closes the list, nothing else
      this.close();
    } else {
      return false;
    }
    ev.preventDefault();
    return true;
  }

  /** Look at what is typed before the cursor: show, narrow or close the list. */
  update() {
    const { value, selectionStart, selectionEnd } = this.input;
    const m = selectionStart === selectionEnd ? TYPED_RE.exec(value.slice(0, selectionStart)) : null;
    if (!m) {
      this.close();
      return;
    }
    const q = m[1].toLowerCase();
    if (q !== this.query) this.active = 0;
    this.query = q;
    this.start = selectionStart - m[1].length - 1;
    this.show(); // what is known already, at once
    if (!this.answers.has(q)) this.ask(q);
  }

  ask(q) {
    clearTimeout(this.timer);
    const ticket = ++this.asked;
    this.timer = setTimeout(async () => {
      let users;
      try {
        users = await this.api.searchUsers(q, MAX_SHOWN + 1); // +1: you may be among them
      } catch {
        return; // offline or refused: the list keeps what it has
      }
      this.answers.delete(q);
      this.answers.set(q, users);
      if (this.answers.size > MAX_CACHED) this.answers.delete(this.answers.keys().next().value);
      if (ticket === this.asked && this.query === q) this.show();
    }, DEBOUNCE_MS);
  }

  /** The users for `q`: its answer, or while it is on its way, those of a
   * shorter query that still match. */
  known(q) {
    if (this.answers.has(q)) return this.answers.get(q);
    for (let n = q.length - 1; n > 0; n--) {
      const shorter = this.answers.get(q.slice(0, n));
      if (shorter) return shorter.filter((u) => u.username.includes(q) || (u.display_name || "").toLowerCase().includes(q));
    }
    return [];
  }

  show() {
    const q = this.query;
    const me = this.me();
    const starts = (u) => (u.username.startsWith(q) || (u.display_name || "").toLowerCase().startsWith(q) ? 0 : 1);
    const users = this.known(q)
      .filter((u) => u.username !== me)
      .sort((a, b) => starts(a) - starts(b) || a.username.localeCompare(b.username))
      .slice(0, MAX_SHOWN);
    const taken = new Set(users.map((u) => u.username));
    const broadcasts = this.inChannel() ? BROADCASTS.filter((b) => b.username.startsWith(q) && !taken.has(b.username)) : [];
    this.options = [...users, ...broadcasts];
    if (!this.options.length) {
      this.hide();
      return;
    }
    this.active = Math.min(this.active, this.options.length - 1);
    this.render();
  }

  render() {
    setChildren(
      this.el,
      this.options.map((u, i) =>
        h(
          "li",
          {
            class: `pick-item${i === this.active ? " selected" : ""}`,
            role: "option",
            id: `mention-option-${i}`,
            testid: "mention-option",
            "aria-selected": i === this.active ? "true" : "false",
            dataset: { username: u.username },
            // mousedown: picked before the composer loses focus
            onMousedown: (ev) => {
              ev.preventDefault();
              this.pick(u);
            },
          },
          u.broadcast ? h("span", { class: "avatar avatar-xs", "aria-hidden": "true" }, "@") : avatar(u.username, u.display_name, "avatar avatar-xs"),
          h("span", { class: "pick-label" }, u.broadcast ? `@${u.username}` : u.display_name || u.username),
          h("span", { class: "pick-meta" }, u.broadcast ? u.display_name : `@${u.username}`),
        ),
      ),
    );
    this.el.hidden = false;
    this.input.setAttribute("aria-activedescendant", `mention-option-${this.active}`);
    const sel = this.el.children[this.active];
    if (sel && sel.scrollIntoView) sel.scrollIntoView({ block: "nearest" });
  }

  /** Put "@username " in place of the "@..." typed, the cursor after it. */
  pick(user) {
    if (!user) return;
    const input = this.input;
    const end = input.selectionStart;
    const space = input.value.slice(end).startsWith(" ") ? "" : " ";
    input.setRangeText(`@${user.username}${space}`, this.start, end, "end");
    if (!space) input.setSelectionRange(input.selectionStart + 1, input.selectionStart + 1);
    this.close();
    input.dispatchEvent(new Event("input", { bubbles: true })); // the box grows, typing is announced
  }

  hide() {
    this.el.hidden = true;
    this.options = [];
    this.input.removeAttribute("aria-activedescendant");
  }

  close() {
    clearTimeout(this.timer);
    this.asked++; // an answer on its way is not shown
    this.query = null;
    this.hide();
  }
}
