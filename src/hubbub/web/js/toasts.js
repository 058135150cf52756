// Short-lived notices in a corner of the screen, for errors and confirmations
// that belong to no one part of it (or to a dialog that has already closed).
// While a dialog is open they show in it: a modal dialog covers the rest of
// the page, notices included.

import { h } from "./dom.js";

export class Toasts {
  constructor() {
    this.el = h("div", { class: "toasts", testid: "toasts", "aria-live": "assertive" });
    this.home = null; // where they live with no dialog open (set on first show)
  }

  show(text, kind = "info") {
    if (!this.home && this.el.parentNode && this.el.parentNode.tagName !== "DIALOG") this.home = this.el.parentNode;
    const host = document.querySelector("dialog[open]") || this.home;
    if (host && this.el.parentNode !== host) {
      host.append(this.el);
      if (host !== this.home) host.addEventListener("close", () => this.home && this.home.append(this.el), { once: true });
    }
    const t = h("div", { class: `toast toast-${kind}`, testid: "toast", role: kind === "error" ? "alert" : "status" }, text);
    this.el.append(t);
    setTimeout(() => t.remove(), 6000);
  }
}
