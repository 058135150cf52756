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
