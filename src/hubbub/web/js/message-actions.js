// What you can do to a message: the inline editor for your own (Enter saves,
// Escape cancels, Shift+Enter breaks the line), the "Delete message?"
// confirmation, reactions (the chips and the picker), pinning, and
// MessageActions, which runs them all for one list of messages: the channel's
// (messages.js) or the open thread's (thread-panel.js), each with an editor of
// its own.

import { openDialog } from "./dialog.js";
import { h } from "./dom.js";
import { openEmojiPicker } from "./emoji-picker.js";
import { formatText } from "./format.js";

/**
 * The actions of the messages of one list. `find(name, seq)`: the message as
 * the list has it (null if it has not); `render()` redraws the list;
 * `container()` is the element holding the messages; `elementOf(seq)` the
 * element of message `seq` if it is shown; `focusHome()` puts the cursor back
 * where you write (the composer of the list).
 */
export class MessageActions {
  constructor({ app, find, render, container, elementOf, focusHome }) {
    this.app = app;
    this.find = find;
    this.render = render;
    this.container = container;
    this.elementOf = elementOf;
    this.focusHome = focusHome;
    this.editor = null; // the inline editor open on one of your messages
  }

  /** The actions of a sent message (`m` as it was when its element was built:
   * each looks the message up again when used). `reply`: "Reply in thread". */
  actionsFor(name, m, { reply = null } = {}) {
    const mine = !!m.author && m.author.username === this.app.user.username;
    return {
      pick: () => this.pickReaction(name, m.seq),
      toggle: (emoji) => this.toggleReaction(name, m.seq, emoji),
      edit: mine ? () => this.startEdit(name, m.seq) : null,
      remove: mine ? () => this.askDelete(name, m.seq) : null,
      pin: () => this.togglePin(name, m.seq),
      pinned: !!m.pinned_by,
      reply,
    };
  }

  /** Message `seq` of channel `name`, if it is yours and not deleted. */
  editable(name, seq) {
    const m = this.find(name, seq);
    return m && !m.deleted && m.author && m.author.username === this.app.user.username ? m : null;
  }

  /** The editor, if it is on message `seq` of `name`. */
  editing(name, seq) {
    const ed = this.editor;
    return ed && ed.seq === seq && ed.channel === name ? ed : null;
  }

  /** Close an editor whose message went (deleted, another channel open). */
  dropStale() {
    if (this.editor && !this.editable(this.editor.channel, this.editor.seq)) this.editor = null;
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

  /** Pin the message to its channel, or unpin it if it is pinned. */
  togglePin(name, seq) {
    const { chat, toasts } = this.app;
    const m = this.find(name, seq);
    if (!m) return;
    const pinning = !m.pinned_by;
    (pinning ? chat.pin(name, seq) : chat.unpin(name, seq)).catch((err) =>
      toasts.show(`${pinning ? "Not pinned" : "Not unpinned"}: ${err.message}`, "error"),
    );
  }

  /** Where the focus goes when a dialog about a message closes: the control
   * that opened it (or the same one of the rebuilt message), else the editor
   * or where you write. */
  focusBack(fallbackKey) {
    const opener = document.activeElement;
    const key = (opener && opener.dataset && opener.dataset.focusKey) || fallbackKey;
    const list = this.container();
    const fromList = opener && list.contains(opener);
    return () => {
      const el = fromList ? (opener.isConnected ? opener : list.querySelector(`[data-focus-key="${CSS.escape(key)}"]`)) : null;
      if (el) el.focus({ preventScroll: true });
      else if (this.editor) this.editor.focus();
      else this.focusHome();
    };
  }

  /** Open the inline editor on your message `seq`; false if it is not editable. */
  startEdit(name, seq) {
    const m = this.editable(name, seq);
    if (!m) return false;
    if (!this.editing(name, seq)) {
      this.editor = new Editor({ channel: name, seq, text: m.text, onSave: () => this.saveEdit(), onCancel: () => this.stopEdit() });
    }
    this.render();
    this.editor.focus();
    const el = this.elementOf(seq);
    if (el && el.isConnected) el.scrollIntoView({ block: "nearest" });
    return true;
  }

  /** Edit the newest of `msgs` (oldest first) that is yours; false if none is. */
  editLast(name, msgs) {
    for (let i = msgs.length - 1; i >= 0; i--) {
      if (this.editable(name, msgs[i].seq)) return this.startEdit(name, msgs[i].seq);
    }
    return false;
  }

  stopEdit() {
    this.editor = null;
    this.render();
    this.focusHome();
  }

  saveEdit() {
    const ed = this.editor;
    if (!ed || ed.saving) return;
    const { chat, toasts } = this.app;
    const m = this.editable(ed.channel, ed.seq);
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
    const m = this.editable(name, seq);
    if (!m) return;
    confirmDelete({
      message: m,
      me: user.username,
      onDelete: () =>
        chat.delete(name, seq).then(
          () => {
            if (this.editing(name, seq)) this.editor = null;
          },
          (err) => toasts.show(`Not deleted: ${err.message}`, "error"),
        ),
      onClose: () => {
        if (this.editor) this.editor.focus();
        else this.focusHome();
      },
    });
  }
}

export class Editor {
  /** An editor for message `seq` of `channel`, holding `text` to start with. */
  constructor({ channel, seq, text, onSave, onCancel }) {
    this.channel = channel;
    this.seq = seq;
    this.saving = false;
    this.input = h("textarea", { class: "msg-edit-input", testid: "edit-input", rows: "1", "aria-label": "Edit message" });
    this.input.value = text;
    this.input.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing && !ev.altKey) {
        ev.preventDefault();
        onSave();
      } else if (ev.key === "Escape") {
        ev.preventDefault();
        ev.stopPropagation(); // not also "mark the channel read" (app.js)
        onCancel();
      }
    });
    this.input.addEventListener("input", () => this.autosize());
    this.cancel = h("button", { class: "button secondary small", type: "button", testid: "edit-cancel", onClick: onCancel }, "Cancel");
    this.save = h("button", { class: "button small", type: "button", testid: "edit-save", onClick: onSave }, "Save");
    this.el = h(
      "div",
      { class: "msg-editor", testid: "message-editor" },
      this.input,
      h("div", { class: "msg-editor-bar" }, h("span", { class: "msg-editor-hint" }, "Escape to cancel · Enter to save"), this.cancel, this.save),
    );
  }

  autosize() {
    const c = this.input;
    c.style.height = "auto";
    c.style.height = `${Math.min(c.scrollHeight + 2, 320)}px`;
  }

  /** Focus the text, with the cursor at its end. */
  focus() {
    const n = this.input.value.length;
    this.input.focus({ preventScroll: true });
    this.input.setSelectionRange(n, n);
    this.autosize();
  }

  busy(on) {
    this.saving = on;
    this.input.readOnly = on;
    this.save.disabled = on;
    this.cancel.disabled = on;
  }
}

/** "Delete message?": `onDelete()` returns the promise of the delete; the
 * dialog closes when it settles (a failure is the caller's to show). */
export function confirmDelete({ message, me, onDelete, onClose }) {
  const cancel = h("button", { class: "button secondary", type: "button", testid: "delete-cancel", onClick: () => dlg.close() }, "Cancel");
  const del = h(
    "button",
    {
      class: "button button-danger",
      type: "button",
      testid: "delete-confirm",
      onClick: () => {
        del.disabled = true;
        cancel.disabled = true;
        onDelete().finally(() => dlg.close());
      },
    },
    "Delete",
  );
  const preview = h(
    "div",
    { class: "delete-preview", testid: "delete-preview" },
    h("div", { class: "msg-author" }, message.author ? message.author.display_name : ""),
    h("div", { class: "msg-text" }, formatText(message.text, me)),
  );
  const dlg = openDialog({
    title: "Delete message",
    testid: "delete-dialog",
    body: [h("p", { class: "delete-question" }, "Are you sure you want to delete this message? This cannot be undone."), preview, h("div", { class: "dialog-actions" }, cancel, del)],
    onClose,
  });
  del.focus();
  return dlg;
}
