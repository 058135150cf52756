// The frame every dialog shares, so they all behave alike: one open at a time,
// a title and a close button, closed by Esc or a click outside, and gone from
// the page once closed.

import { h, icon } from "./dom.js";

export function openDialog({ title, testid, body, onClose }) {
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
    onClose();
  });
  dlg.addEventListener("click", (ev) => {
    if (ev.target === dlg) dlg.close();
  });
  document.body.append(dlg);
  dlg.showModal();
  return dlg;
}

/** Ask before something that cannot simply be undone, in the app's own
 * dialog (not `window.confirm`): resolves true on `confirm`, false on Cancel,
 * Esc or a click outside. It opens over any dialog already open (which stays
 * open beneath it). */
export function confirmDialog({ title, message, confirm = "OK", danger = false, testid = "confirm-dialog" }) {
  return new Promise((resolve) => {
    let answer = false;
    const dlg = h(
      "dialog",
      { class: "dialog dialog-confirm", testid, "aria-label": title, role: "alertdialog" },
      h(
        "div",
        { class: "dialog-inner" },
        h("div", { class: "dialog-head" }, h("h2", null, title)),
        h(
          "div",
          { class: "dialog-body" },
          h("p", { testid: "confirm-message" }, message),
          h(
            "div",
            { class: "dialog-actions" },
            h("button", { class: "button secondary", type: "button", testid: "confirm-cancel", onClick: () => dlg.close() }, "Cancel"),
            h(
              "button",
              {
                class: danger ? "button danger" : "button",
                type: "button",
                testid: "confirm-ok",
                onClick: () => {
                  answer = true;
                  dlg.close();
                },
              },
              confirm,
            ),
          ),
        ),
      ),
    );
    dlg.addEventListener("close", () => {
      dlg.remove();
      resolve(answer);
    });
    dlg.addEventListener("click", (ev) => {
      if (ev.target === dlg) dlg.close();
    });
    // Esc closes this one only, not the dialog beneath.
    dlg.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape") ev.stopPropagation();
    });
    document.body.append(dlg);
    dlg.showModal();
    dlg.querySelector("[data-testid=confirm-cancel]")?.focus();
  });
}
