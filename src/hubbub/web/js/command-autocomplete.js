// Command autocomplete for the composer: "/" at the start of the box (and the
// letters of a command after it, no space yet) lists the commands you can run
// (GET /api/commands: the built-ins and the workspace's custom ones, asked
// again each time the list opens), each with its usage and what it does. Up
// and Down move, Tab or Enter puts "/command " in the box, Escape closes the
// list. Enter on a command typed in full ("/help") sends it as it is. The
// composer asks onKey() first, as for mentions (mention-autocomplete.js).

import { h, setChildren } from "./dom.js";

// "/" and the start of a command's name: the whole box, the cursor at its end.
const TYPED_RE = /^\/([a-z0-9_-]{0,32})$/i;

export class CommandAutocomplete {
  /** `input`: the composer's textarea; `api`: the app's Api; `id`: the list's id. */
  constructor({ input, api, id = "command-options" }) {
    this.input = input;
    this.api = api;
    this.query = null; // the letters after "/", lower case, while the list is wanted
    this.commands = null; // the last answer of GET /api/commands
    this.options = [];
    this.active = 0;
    this.asked = 0; // numbers the questions: an answer after close() is not shown
    this.el = h("ul", {
      class: "pick-list command-list",
      role: "listbox",
      id,
      testid: "command-options",
      "aria-label": "Commands",
      hidden: true,
    });
    input.addEventListener("input", () => this.update());
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
      const c = this.options[this.active];
      if (ev.key === "Enter" && c && c.command === `/${this.query}`) {
        this.close(); // typed in full: Enter runs it
        return false;
      }
      this.pick(c);
    } else if (ev.key === "Escape") {
      ev.stopPropagation(); // closes the list, nothing else
      this.close();
    } else {
      return false;
    }
    ev.preventDefault();
    return true;
  }

  /** Look at the box: show, narrow or close the list. */
  update() {
    const { value, selectionStart, selectionEnd } = this.input;
    const m = selectionStart === selectionEnd && selectionEnd === value.length ? TYPED_RE.exec(value) : null;
    if (!m) {
      this.close();
      return;
    }
    const q = m[1].toLowerCase();
    const opening = this.query === null;
    if (q !== this.query) this.active = 0;
    this.query = q;
    this.show(); // what is known already, at once
    if (opening) this.ask();
  }

  async ask() {
    const ticket = ++this.asked;
    let list;
    try {
      list = await this.api.get("/api/commands");
    } catch {
      return; // offline or refused: the list keeps what it has
    }
    if (!Array.isArray(list)) return;
    this.commands = list;
    if (ticket === this.asked && this.query !== null) this.update(); // the box may have changed meanwhile
  }

  show() {
    const q = this.query;
    this.options = (this.commands || []).filter((c) => typeof c.command === "string" && c.command.slice(1).startsWith(q));
    if (!this.options.length) {
      this.hide();
      return;
    }
    this.active = Math.min(this.active, this.options.length - 1);
    this.render();
  }

  render() {
    const id = this.el.id;
    setChildren(
      this.el,
      this.options.map((c, i) =>
        h(
          "li",
          {
            class: `pick-item${i === this.active ? " selected" : ""}`,
            role: "option",
            id: `${id}-${i}`,
            testid: "command-option",
            "aria-selected": i === this.active ? "true" : "false",
            dataset: { command: c.command },
            // mousedown: picked before the composer loses focus
            onMousedown: (ev) => {
              ev.preventDefault();
              this.pick(c);
            },
          },
          h("span", { class: "pick-label command-usage", testid: "command-usage" }, c.usage || c.command),
          h("span", { class: "pick-meta", testid: "command-description" }, c.description || ""),
        ),
      ),
    );
    this.el.hidden = false;
    this.input.setAttribute("aria-activedescendant", `${id}-${this.active}`);
    const sel = this.el.children[this.active];
    if (sel && sel.scrollIntoView) sel.scrollIntoView({ block: "nearest" });
  }

  /** Put "/command " in the box, the cursor after it. */
  pick(c) {
    if (!c) return;
    this.input.value = `${c.command} `;
    this.input.setSelectionRange(this.input.value.length, this.input.value.length);
    this.close();
    this.input.dispatchEvent(new Event("input", { bubbles: true })); // the box grows, typing is announced
  }

  hide() {
    if (!this.el.hidden) this.input.removeAttribute("aria-activedescendant");
    this.el.hidden = true;
    this.options = [];
  }

  close() {
    this.asked++; // an answer on its way is not shown
    this.query = null;
    this.hide();
  }
}
