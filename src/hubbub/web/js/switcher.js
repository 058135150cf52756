// Ctrl+K "Jump to…": open any channel or conversation by typing part of its
// name, with the arrow keys and Enter, without going through the sidebar.

import { h, icon, setChildren } from "./dom.js";

export function openSwitcher(app) {
  if (document.querySelector('dialog[data-testid="switcher"]')) return;
  const me = app.user.username;
  const input = h("input", {
    class: "input",
    testid: "switcher-input",
    placeholder: "Jump to a channel or conversation…",
    autocomplete: "off",
    spellcheck: "false",
    "aria-label": "Channel to open",
  });
  const list = h("ul", { class: "pick-list", role: "listbox" });
  let items = [];
  let selected = 0;
  const choose = (i) => {
    const it = items[i];
    if (!it) return;
    dlg.close();
    app.openChannel(it.name, true);
  };
  const update = () => {
    const q = input.value.trim().toLowerCase().replace(/^[#@]/, "");
    items = [...app.chat.channels.values()]
      .map((c) => ({ name: c.name, label: c.label(me), ch: c }))
      .filter((it) => !q || it.label.toLowerCase().includes(q))
      .sort((a, b) => {
        const pa = a.label.toLowerCase().startsWith(q) ? 0 : 1;
        const pb = b.label.toLowerCase().startsWith(q) ? 0 : 1;
        return pa - pb || (b.ch.unread > 0) - (a.ch.unread > 0) || a.label.localeCompare(b.label);
      });
    selected = Math.min(selected, Math.max(0, items.length - 1));
    setChildren(
      list,
      items.length
        ? items.map((it, i) =>
            h(
              "li",
              {
                class: `pick-item${i === selected ? " selected" : ""}`,
                testid: "switcher-item",
                role: "option",
                "aria-selected": i === selected ? "true" : "false",
                dataset: { channel: it.name },
                onClick: () => choose(i),
              },
              it.ch.isDM ? icon("user", "icon nav-icon") : icon(it.ch.kind === "private" ? "lock" : "hash", "icon nav-icon"),
              h("span", { class: "pick-label" }, it.label),
              it.ch.unread > 0 ? h("span", { class: "badge badge-unread" }, String(it.ch.unread)) : null,
            ),
          )
        : h("li", { class: "pick-empty" }, "No matching channels"),
    );
    const sel = list.children[selected];
    if (sel && sel.scrollIntoView) sel.scrollIntoView({ block: "nearest" });
  };
  input.addEventListener("input", () => {
    selected = 0;
    update();
  });
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "ArrowDown") {
      ev.preventDefault();
      selected = Math.min(items.length - 1, selected + 1);
      update();
    } else if (ev.key === "ArrowUp") {
      ev.preventDefault();
      selected = Math.max(0, selected - 1);
      update();
    } else if (ev.key === "Enter") {
      ev.preventDefault();
      choose(selected);
    }
  });
  const dlg = app.dialog({
    title: "Jump to…",
    testid: "switcher",
    body: [input, list, h("p", { class: "hint" }, "↑↓ to move · Enter to open · Esc to close")],
  });
  update();
  input.focus();
}
