// What you can do to a message: the inline editor for your own (Enter saves,
// Escape cancels, Shift+Enter breaks the line) and the "Delete message?"
// confirmation. The list (messages.js) decides which message they are for.

import { openDialog } from "./dialog.js";
import { h } from "./dom.js";
import { formatText } from "./format.js";

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
