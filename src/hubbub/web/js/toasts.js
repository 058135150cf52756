// Short-lived notices in a corner of the screen, for errors and confirmations
// that belong to no one part of it (or to a dialog that has already closed).

import { h } from "./dom.js";

export class Toasts {
  constructor() {
    this.el = h("div", { class: "toasts", testid: "toasts", "aria-live": "assertive" });
  }

  show(text, kind = "info") {
    const t = h("div", { class: `toast toast-${kind}`, testid: "toast", role: kind === "error" ? "alert" : "status" }, text);
    this.el.append(t);
    setTimeout(() => t.remove(), 6000);
  }
}
