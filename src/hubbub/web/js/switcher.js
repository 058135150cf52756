// Ctrl+K "Jump to…": open any channel or conversation by typing part of its
// name, with the arrow keys and Enter, without going through the sidebar.
// Besides yours, it finds the public channels you are not in (choosing one
// joins it) and people (choosing one opens your DM with them), as Slack's does.

import { seg } from "./api.js";
import { h, icon, setChildren } from "./dom.js";
import { avatar } from "./avatar.js";

const MAX_SHOWN = 50;
// With nothing typed, a few of the channels and people you could reach too.
const EMPTY_EXTRAS = 5;

export function openSwitcher(app) {
  if (document.querySelector('dialog[data-testid="switcher"]')) return;
  const { chat } = app;
  const me = app.user.username;
  const input = h("input", {
    class: "input",
    testid: "switcher-input",
    placeholder: "Jump to a channel, conversation or person…",
    autocomplete: "off",
    spellcheck: "false",
    role: "combobox",
    "aria-expanded": "true",
    "aria-controls": "switcher-list",
    "aria-label": "Channel, conversation or person to open",
  });
  const list = h("ul", { class: "pick-list", role: "listbox", id: "switcher-list" });
  const status = h("p", { class: "hint switcher-status", testid: "switcher-status" }, "Looking for more channels and people…");
  let others = []; // public channels you are not in: bodies from GET /api/channels
  let people = []; // usernames
  let items = [];
  let selected = 0;
  let busy = false;

  const choose = async (i) => {
    const it = items[i];
    if (!it || busy) return;
    if (it.kind === "mine") {
      dlg.close();
      app.openChannel(it.name, true);
      return;
    }
    busy = true;
    try {
      const body =
        it.kind === "join"
          ? await app.api.post(`/api/channels/${seg(it.name)}/join`)
          : await app.api.post("/api/dms", { usernames: [it.username] });
      chat.addChannel(body);
      dlg.close();
      app.openChannel(body.name, true);
    } catch (err) {
      busy = false;
      app.toasts.show(err.message, "error");
    }
  };

  const candidates = (q) => {
    const mine = [...chat.channels.values()].map((c) => ({
      kind: "mine",
      name: c.name,
      label: c.label(me),
      keys: c.isDM ? [c.label(me), ...c.partners(me)] : [c.name],
      ch: c,
      group: 0,
    }));
    // People you already have a DM with are found as that DM.
    const dmWith = new Set([...chat.channels.values()].filter((c) => c.isDM && c.partners(me).length === 1).map((c) => c.partners(me)[0]));
    const persons = people
      .filter((u) => u !== me && !dmWith.has(u))
      .map((u) => ({ kind: "person", username: u, label: chat.displayName(u), keys: [chat.displayName(u), u], group: 1 }));
    const joinable = others
      .filter((c) => !chat.channels.has(c.name))
      .map((c) => ({ kind: "join", name: c.name, label: c.name, keys: [c.name], body: c, group: 2 }));
    if (!q) return [...mine, ...persons.slice(0, EMPTY_EXTRAS), ...joinable.slice(0, EMPTY_EXTRAS)];
    return [...mine, ...persons, ...joinable];
  };

  const update = () => {
    const q = input.value.trim().toLowerCase().replace(/^[#@]/, "");
    const rank = (it) => (it.keys.some((k) => k.toLowerCase().startsWith(q)) ? 0 : 1);
    items = candidates(q)
      .filter((it) => !q || it.keys.some((k) => k.toLowerCase().includes(q)))
      .sort((a, b) => {
        const unread = (x) => (x.ch && x.ch.unread > 0 ? 0 : 1);
        return rank(a) - rank(b) || a.group - b.group || unread(a) - unread(b) || a.label.localeCompare(b.label);
      })
      .slice(0, MAX_SHOWN);
    selected = Math.min(selected, Math.max(0, items.length - 1));
    setChildren(
      list,
      items.length ? items.map((it, i) => row(it, i)) : h("li", { class: "pick-empty" }, busy ? "Opening…" : "Nothing matches"),
    );
    const sel = list.children[selected];
    if (sel && sel.scrollIntoView) sel.scrollIntoView({ block: "nearest" });
  };

  const row = (it, i) => {
    let lead;
    let extra = null;
    if (it.kind === "person") {
      lead = avatar(it.username, it.label, "avatar avatar-xs");
      extra = h("span", { class: "pick-meta" }, `@${it.username}`);
    } else if (it.kind === "join") {
      lead = icon("hash", "icon nav-icon");
      extra = h("span", { class: "pick-meta pick-join" }, "Join");
    } else {
      lead = it.ch.isDM ? icon("user", "icon nav-icon") : icon(it.ch.kind === "private" ? "lock" : "hash", "icon nav-icon");
      if (it.ch.unread > 0) extra = h("span", { class: "badge badge-unread" }, String(it.ch.unread));
    }
    return h(
      "li",
      {
        class: `pick-item${i === selected ? " selected" : ""}`,
        testid: "switcher-item",
        role: "option",
        "aria-selected": i === selected ? "true" : "false",
        dataset: { kind: it.kind, channel: it.name, username: it.username },
        onClick: () => choose(i),
      },
      lead,
      h("span", { class: "pick-label" }, it.label),
      extra,
    );
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
    body: [input, list, status, h("p", { class: "hint" }, "↑↓ to move · Enter to open · Esc to close")],
  });
  update();
  input.focus();

  // What is not in the sidebar comes from the server, while you type.
  Promise.allSettled([chat.channelDirectory(), chat.peopleDirectory()]).then(([chans, folks]) => {
    if (!dlg.isConnected) return;
    if (chans.status === "fulfilled") others = chans.value.filter((c) => !c.is_member && c.kind === "public");
    if (folks.status === "fulfilled") {
      people = folks.value;
      chat.lookUp(people.slice(0, 100)).then(() => dlg.isConnected && update());
    }
    status.hidden = chans.status === "fulfilled" && folks.status === "fulfilled";
    if (!status.hidden) status.textContent = "Could not load every channel and person.";
    dlg.dataset.loaded = "true";
    update();
  });
}
