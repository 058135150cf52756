// Where you write: Enter sends and Shift+Enter breaks the line, the box grows
// with the text, each channel keeps its own unsent draft, and typing is
// announced often enough to keep the others' indicator up while you type.

import { h, icon } from "./dom.js";

const TYPING_EVERY = 3000;

export class Composer {
  constructor(app) {
    this.app = app;
    this.drafts = new Map();
    this.lastTypingSent = 0;
    this.input = h("textarea", {
      class: "composer-input",
      testid: "composer",
      rows: "1",
      "aria-label": "Message",
    });
    this.input.addEventListener("keydown", (ev) => this.onKey(ev));
    this.input.addEventListener("input", () => this.onInput());
    this.form = h(
      "form",
      {
        class: "composer",
        onSubmit: (ev) => {
          ev.preventDefault();
          this.submit();
        },
      },
      this.input,
      h(
        "div",
        { class: "composer-bar" },
        h("span", { class: "composer-hint" }, "Enter to send · Shift+Enter for a new line"),
        h(
          "button",
          { class: "send-button", testid: "send-button", type: "submit", title: "Send (Enter)", "aria-label": "Send" },
          icon("send"),
        ),
      ),
    );
  }

  render() {
    const ch = this.app.currentChannel();
    this.form.hidden = !ch;
    if (ch) this.input.placeholder = ch.isDM ? `Message ${ch.label(this.app.user.username)}` : `Message #${ch.name}`;
  }

  /** On wide screens only: on a phone, focusing would pop the keyboard up over the messages. */
  focus() {
    if (window.matchMedia("(min-width: 700px)").matches) this.input.focus({ preventScroll: true });
  }

  saveDraft(name) {
    this.drafts.set(name, this.input.value);
  }

  loadDraft(name) {
    this.input.value = (name && this.drafts.get(name)) || "";
    this.autosize();
  }

  onKey(ev) {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing && !ev.altKey) {
      ev.preventDefault();
      this.submit();
    }
  }

  onInput() {
    this.autosize();
    const now = Date.now();
    if (!this.input.value.trim()) {
      this.lastTypingSent = 0; // cleared: the next keystroke starts a new burst
      return;
    }
    const { chat, current } = this.app;
    // Re-announce well within typing_ttl so the indicator stays up while typing.
    const every = Math.min(TYPING_EVERY, (Number(chat.limits.typing_ttl) || 6) * 500);
    if (current && now - this.lastTypingSent > every) {
      this.lastTypingSent = now;
      chat.sendTyping(current);
    }
  }

  autosize() {
    const c = this.input;
    c.style.height = "auto";
    c.style.height = `${Math.min(c.scrollHeight, 240)}px`;
  }

  submit() {
    const { chat, current } = this.app;
    const text = this.input.value;
    if (!current || !text.trim()) return;
    const max = Number(chat.limits.max_message_chars) || 10000;
    if (text.length > max) {
      this.app.toasts.show(`Messages can be at most ${max} characters.`, "error");
      return;
    }
    chat.send(current, text);
    this.input.value = "";
    this.drafts.delete(current);
    this.lastTypingSent = 0;
    this.autosize();
    this.app.messages.stickToBottom();
    this.app.schedule();
  }
}
