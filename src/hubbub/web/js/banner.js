// The strip above the channel while the connection is down, with when the next
// attempt is and a way to try at once, so an outage never passes for a quiet
// channel. When the server refuses this page's connection for good (socket.js,
// state "refused") it says so and why, and stays until the user tries again.

import { h, setChildren } from "./dom.js";

export class Banner {
  constructor(chat) {
    this.chat = chat;
    this.timer = null;
    this.el = h("div", { class: "banner", testid: "connection-banner", role: "status", hidden: true });
  }

  /** Tick the "retrying in Ns" countdown while reconnecting. */
  start() {
    this.timer = setInterval(() => {
      if (this.chat.connection === "reconnecting") this.render();
    }, 1000);
  }

  stop() {
    clearInterval(this.timer);
  }

  render() {
    const b = this.el;
    const state = this.chat.connection;
    b.setAttribute("role", state === "refused" ? "alert" : "status");
    if (state === "refused") {
      const origin = (this.chat.socket.refusal || {}).origin || location.origin;
      setChildren(
        b,
        h("span", { testid: "connection-refused" }, "Can't connect: the server refuses connections from this page's address."),
        h(
          "span",
          { class: "banner-detail", testid: "connection-refused-detail" },
          `Origin not allowed: the server's --public-url does not match this page's origin, ${origin}. `,
          "Whoever runs the server should start it with ",
          h("code", null, `--public-url ${origin}`),
          ". (Behind a proxy, check too that the proxy passes WebSocket upgrades.)",
        ),
        h("button", { class: "banner-button", type: "button", testid: "connection-retry", onClick: () => this.chat.socket.retryRefused() }, "Try again"),
      );
      b.dataset.state = "refused";
      b.hidden = false;
    } else if (state === "reconnecting") {
      const secs = Math.max(0, Math.ceil((this.chat.retryAt - Date.now()) / 1000));
      setChildren(
        b,
        h("span", { class: "spinner", "aria-hidden": "true" }),
        h("span", null, "Reconnecting…"),
        this.chat.socket.ws ? null : h("span", { class: "banner-detail" }, secs > 0 ? `retrying in ${secs}s` : "retrying"),
        h("button", { class: "banner-button", type: "button", onClick: () => this.chat.socket.retryNow() }, "Retry now"),
      );
      b.dataset.state = "reconnecting";
      b.hidden = false;
    } else if (state === "connecting" && !this.chat.ready) {
      setChildren(b, h("span", { class: "spinner", "aria-hidden": "true" }), h("span", null, "Connecting…"));
      b.dataset.state = "connecting";
      b.hidden = false;
    } else {
      b.hidden = true;
      b.dataset.state = state;
    }
  }
}
