// "New message": start a direct message with one person or a group
// conversation with several. People are picked from a list you search by name
// or username (arrow keys and Enter, or a click), shown as chips (Backspace
// takes the last one back): first the people of your channels, then whoever
// the user directory (`GET /api/users?q=`) finds as you type. Usernames typed
// or pasted ("alice, bob") count as picked when you start the conversation.

import { h, icon, setChildren } from "./dom.js";
import { avatar } from "./avatar.js";

const MAX_OTHERS = 8; // a DM holds at most 9 people, you included
const MAX_SHOWN = 20;
const SEARCH_AFTER = 150; // ms of no typing before the directory is asked

export function openDM(app) {
  const { chat } = app;
  const me = app.user.username;
  const picked = []; // usernames, in the order chosen
  let everyone = []; // usernames of the people you can reach
  let options = [];
  let active = 0;
  let browsing = false; // the arrow keys moved through the list since the last pick

  const chips = h("div", { class: "chips", testid: "dm-chips" });
  const input = h("input", {
    class: "chips-input",
    testid: "dm-usernames",
    placeholder: "Type a name or @username",
    autocomplete: "off",
    spellcheck: "false",
    role: "combobox",
    "aria-expanded": "true",
    "aria-controls": "dm-options",
    "aria-autocomplete": "list",
    "aria-labelledby": "dm-to",
  });
  const box = h("div", { class: "chips-box input", onClick: () => input.focus() }, chips, input);
  const list = h("ul", { class: "pick-list dm-options", role: "listbox", id: "dm-options", testid: "dm-options" });
  const error = h("p", { class: "form-error", testid: "dm-error", role: "alert" });
  const submit = h("button", { class: "button", type: "submit", testid: "dm-submit" }, "Start conversation");

  /** Usernames typed but not picked: "alice, @bob". */
  const typed = () =>
    input.value
      .split(/[\s,]+/)
      .map((s) => s.trim().replace(/^@/, "").toLowerCase())
      .filter(Boolean);

  const pick = (username) => {
    if (!username || picked.includes(username)) return;
    if (picked.length >= MAX_OTHERS) {
      error.textContent = `A conversation has at most ${MAX_OTHERS + 1} people, you included.`;
      return;
    }
    picked.push(username);
    input.value = "";
    active = 0;
    browsing = false;
    error.textContent = "";
    render();
  };

  const unpick = (username) => {
    const i = picked.indexOf(username);
    if (i >= 0) picked.splice(i, 1);
    render();
    input.focus();
  };

  const render = () => {
    setChildren(
      chips,
      picked.map((u) =>
        h(
          "span",
          { class: "chip", testid: "dm-chip", dataset: { username: u } },
          avatar(u, chat.displayName(u), "avatar avatar-xs"),
          h("span", null, chat.displayName(u)),
          h(
            "button",
            {
              class: "chip-remove",
              type: "button",
              testid: "dm-chip-remove",
              title: `Remove ${chat.displayName(u)}`,
              "aria-label": `Remove ${chat.displayName(u)}`,
              onClick: (ev) => {
                ev.stopPropagation();
                unpick(u);
              },
            },
            icon("x", "icon chip-icon"),
          ),
        ),
      ),
    );
    input.placeholder = picked.length ? "Add someone else…" : "Type a name or @username";
    const q = input.value.trim().toLowerCase().replace(/^@/, "");
    const matches = (u) => !q || u.includes(q) || chat.displayName(u).toLowerCase().includes(q);
    const starts = (u) => (u.startsWith(q) || chat.displayName(u).toLowerCase().startsWith(q) ? 0 : 1);
    const highlight = Boolean(q) || browsing; // what Enter would pick, if anything
    options = everyone
      .filter((u) => u !== me && !picked.includes(u) && matches(u))
      .sort((a, b) => starts(a) - starts(b) || chat.displayName(a).localeCompare(chat.displayName(b)))
      .slice(0, MAX_SHOWN);
    active = Math.min(active, Math.max(0, options.length - 1));
    setChildren(
      list,
      options.length
        ? options.map((u, i) =>
            h(
              "li",
              {
                class: `pick-item${i === active && highlight ? " selected" : ""}`,
                testid: "dm-option",
                role: "option",
                id: `dm-option-${i}`,
                "aria-selected": i === active && highlight ? "true" : "false",
                dataset: { username: u },
                // mousedown: picked before the input loses focus
                onMousedown: (ev) => {
                  ev.preventDefault();
                  pick(u);
                  input.focus();
                },
              },
              avatar(u, chat.displayName(u), "avatar avatar-xs"),
              h("span", { class: "pick-label" }, chat.displayName(u)),
              h("span", { class: "pick-meta" }, `@${u}`),
            ),
          )
        : h("li", { class: "pick-empty" }, q ? "Nobody by that name" : everyone.length ? "Everyone is picked" : "Loading people…"),
    );
    if (options.length && highlight) input.setAttribute("aria-activedescendant", `dm-option-${active}`);
    else input.removeAttribute("aria-activedescendant");
    const sel = list.children[active];
    if (sel && sel.scrollIntoView) sel.scrollIntoView({ block: "nearest" });
  };

  // The directory, for people in none of your channels: asked once typing
  // pauses; an answer to an older query than the last one is dropped.
  let timer = null;
  let asked = 0;
  input.addEventListener("input", () => {
    active = 0;
    error.textContent = "";
    render();
    const q = input.value.trim().toLowerCase().replace(/^@/, "");
    clearTimeout(timer);
    if (!q || /[\s,]/.test(q)) return;
    const mine = ++asked;
    timer = setTimeout(() => {
      app.api
        .searchUsers(q, MAX_SHOWN)
        .then((found) => {
          if (mine !== asked || !dlg.isConnected) return;
          const fresh = found.filter((u) => chat.learn(u) || !everyone.includes(u.username));
          const names = found.map((u) => u.username).filter((u) => !everyone.includes(u));
          if (names.length) everyone = [...everyone, ...names].sort();
          if (fresh.length || names.length) render();
        })
        .catch(() => {}); // the list keeps what it has
    }, SEARCH_AFTER);
  });
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "ArrowDown") {
      ev.preventDefault();
      browsing = true;
      active = Math.min(options.length - 1, active + 1);
      render();
    } else if (ev.key === "ArrowUp") {
      ev.preventDefault();
      browsing = true;
      active = Math.max(0, active - 1);
      render();
    } else if (ev.key === "Enter") {
      // Enter picks the highlighted person (once you typed a name or moved to
      // one); otherwise it starts the conversation with those picked.
      const q = input.value.trim();
      if (options.length && ((q && !/[\s,]/.test(q)) || (!q && browsing))) {
        ev.preventDefault();
        pick(options[active]);
      }
    } else if (ev.key === "Backspace" && !input.value && picked.length) {
      ev.preventDefault();
      unpick(picked[picked.length - 1]);
    }
  });

  const form = h(
    "form",
    {
      class: "form",
      onSubmit: async (ev) => {
        ev.preventDefault();
        // What is still typed: the one person it matches, or usernames as written.
        const extra = input.value.trim() && options.length === 1 ? [options[0]] : typed();
        const names = [...new Set([...picked, ...extra])];
        if (!names.length) {
          error.textContent = "Pick at least one person.";
          input.focus();
          return;
        }
        submit.disabled = true;
        try {
          const body = await app.api.post("/api/dms", { usernames: names });
          app.chat.addChannel(body);
          dlg.close();
          app.openChannel(body.name, true);
        } catch (err) {
          error.textContent = err.code === "not_found" ? `${err.message}.` : err.message;
          submit.disabled = false;
        }
      },
    },
    // Not a <label>: it would hand its clicks to the first chip's remove button.
    h("div", { class: "field" }, h("span", { id: "dm-to" }, "To"), box),
    list,
    h("p", { class: "hint" }, `One person for a direct message, several for a group (up to ${MAX_OTHERS}).`),
    error,
    h("div", { class: "dialog-actions" }, submit),
  );
  const dlg = app.dialog({ title: "New message", testid: "dm-dialog", body: form });
  render();
  input.focus();

  chat
    .peopleDirectory()
    .then((names) => {
      everyone = names;
      render();
      return chat.lookUp(names.slice(0, 100));
    })
    .then(() => dlg.isConnected && render())
    .catch((err) => {
      error.textContent = `Could not load people: ${err.message}`;
    });
}
