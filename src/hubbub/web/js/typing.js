// The line under the composer naming who is typing in the open channel, so you
// can tell a reply is on its way.

import { h } from "./dom.js";

export class TypingIndicator {
  constructor(app) {
    this.app = app;
    this.el = h("div", { class: "typing", testid: "typing-indicator", "aria-live": "polite" });
  }

  render() {
    const ch = this.app.currentChannel();
    // Display names, as everywhere else (the username until it is known).
    const who = ch ? [...ch.typing.keys()].map((u) => this.app.chat.displayName(u)) : [];
    let text = "";
    if (who.length === 1) text = `${who[0]} is typing…`;
    else if (who.length === 2) text = `${who[0]} and ${who[1]} are typing…`;
    else if (who.length > 2) text = "Several people are typing…";
    this.el.textContent = text;
    this.el.classList.toggle("active", Boolean(text));
  }
}
