// "Integrations" (from your menu): your API tokens, for scripts and CI, and
// your bots (an admin sees every bot), each with its own tokens. A token is
// shown once, when made (only its hash is kept); lists show its name, its
// scopes and when it was last used. Managing these needs a sign-in, so the
// page works in the web app (a session) and never with an API token.
//
// And your incoming webhooks (an admin sees every one): a URL that posts
// Slack's incoming-webhook JSON into one channel, as you or as one of your
// bots. Its URL is shown once too (only its secret's hash is kept), with a
// curl line to try it.

import { refusal } from "./admin.js";
import { seg } from "./api.js";
import { h, setChildren } from "./dom.js";
import { whenLabel } from "./message.js";
import { showOnce } from "./once.js";

const SCOPES = [
  ["read", "Read", "Read messages, channels and people"],
  ["write", "Write", "Send, edit, react, join: everything else"],
  ["admin", "Admin", "The administration routes (your role allows them)"],
];

export function openIntegrations(app) {
  const err = h("p", { class: "form-error", testid: "integrations-error", role: "alert" });
  const mine = tokenSection(app, null, err);
  const hooks = hookSection(app, err);
  const bots = h("ul", { class: "session-list", testid: "bot-list" }, h("li", { class: "pick-empty" }, "Loading…"));
  const loadBots = async () => {
    try {
      const list = await app.api.get("/api/bots");
      setChildren(bots, list.length ? list.map((b) => botItem(app, b, loadBots, err)) : h("li", { class: "pick-empty" }, "No bots yet."));
      hooks.setBots(list);
    } catch (e) {
      setChildren(bots, h("li", { class: "pick-empty" }, refusal(e)));
      hooks.setBots([]);
    }
  };
  const botName = h("input", { class: "input", testid: "bot-username", placeholder: "ci-bot", maxlength: "32", required: true, "aria-label": "Bot username" });
  const botDisplay = h("input", { class: "input", testid: "bot-display-name", placeholder: "CI", maxlength: "80", "aria-label": "Bot display name" });
  const newBot = h(
    "form",
    {
      class: "form row",
      testid: "bot-form",
      onSubmit: async (ev) => {
        ev.preventDefault();
        err.textContent = "";
        try {
          await app.api.post("/api/bots", { username: botName.value.trim(), display_name: botDisplay.value.trim() });
          app.toasts.show(`Bot ${botName.value.trim()} created: give it a token.`);
          botName.value = botDisplay.value = "";
          loadBots();
        } catch (e) {
          err.textContent = refusal(e);
        }
      },
    },
    botName,
    botDisplay,
    h("button", { class: "button", type: "submit", testid: "bot-create" }, "Create bot"),
  );
  app.dialog({
    title: "Integrations",
    testid: "integrations-dialog",
    body: [
      h("h3", { class: "subhead" }, "Your API tokens"),
      h(
        "p",
        { class: "hint" },
        "For scripts and CI: send ",
        h("code", null, "Authorization: Bearer <token>"),
        ", or set HUBBUB_TOKEN for the hubbub command. A token acts as you, within its scopes; it does not expire, and signing out everywhere leaves it: revoke it here.",
      ),
      mine.el,
      h("h3", { class: "subhead" }, app.isAdmin() ? "Bots (every bot: you are an admin)" : "Your bots"),
      h("p", { class: "hint" }, "A bot is an account without a password, shown as a bot, that you own. Invite it to channels; it acts through its tokens."),
      bots,
      newBot,
      h("h3", { class: "subhead" }, app.isAdmin() ? "Incoming webhooks (every hook: you are an admin)" : "Incoming webhooks"),
      h(
        "p",
        { class: "hint" },
        "A URL that posts into one channel, taking Slack's incoming-webhook JSON (",
        h("code", null, "text"),
        ", and ",
        h("code", null, "username"),
        " for the name shown, marked with the account that posted): a script written for Slack works with its URL changed. Whoever has the URL can post: delete the hook to end it.",
      ),
      hooks.el,
      err,
    ],
  });
  mine.load();
  loadBots();
  hooks.load();
}

/** Your incoming webhooks (an admin: every one): the list, and a form that
 * makes one (into a channel you are in, as you or as one of your bots) and
 * shows its URL once, with a curl line to try it. `setBots(list)` fills the
 * "Post as" choice from `GET /api/bots`. */
function hookSection(app, err) {
  const list = h("ul", { class: "session-list", testid: "hook-list" }, h("li", { class: "pick-empty" }, "Loading…"));
  const load = async () => {
    try {
      const hooks = await app.api.get("/api/hooks");
      setChildren(list, hooks.length ? hooks.map((k) => hookItem(app, k, load, err)) : h("li", { class: "pick-empty" }, "No webhooks."));
    } catch (e) {
      setChildren(list, h("li", { class: "pick-empty" }, refusal(e)));
    }
  };
  const rooms = [...app.chat.channels.values()].filter((c) => !c.isDM && !c.archived).sort((a, b) => a.name.localeCompare(b.name));
  const open = app.currentChannel();
  const channel = h(
    "select",
    { class: "input select", testid: "hook-channel", required: true, disabled: !rooms.length, "aria-label": "Channel" },
    rooms.length ? rooms.map((c) => h("option", { value: c.name }, `#${c.name}`)) : h("option", { value: "" }, "No channel to post in"),
  );
  if (open && rooms.includes(open)) channel.value = open.name;
  const name = h("input", { class: "input", testid: "hook-name", placeholder: "What it is for (e.g. CI)", maxlength: "80", required: true, "aria-label": "Webhook name" });
  const me = app.user.username;
  const bot = h("select", { class: "input select", testid: "hook-bot", "aria-label": "Post as" }, h("option", { value: "" }, `me (@${me})`));
  const setBots = (bots) => {
    const was = bot.value;
    const usable = bots.filter((b) => !b.deactivated);
    setChildren(bot, h("option", { value: "" }, `me (@${me})`), ...usable.map((b) => h("option", { value: b.username }, `${b.display_name} (@${b.username})`)));
    bot.value = usable.some((b) => b.username === was) ? was : "";
  };
  const shown = h("div", { class: "invite-result", testid: "hook-result", hidden: true });
  const create = h("button", { class: "button", type: "submit", testid: "hook-create", disabled: !rooms.length }, "Create webhook");
  const form = h(
    "form",
    {
      class: "form row hook-form",
      testid: "hook-form",
      onSubmit: async (ev) => {
        ev.preventDefault();
        err.textContent = "";
        create.disabled = true;
        try {
          const made = await app.api.post("/api/hooks", { channel: channel.value, name: name.value.trim(), ...(bot.value ? { bot: bot.value } : {}) });
          const as = made.poster === me ? "you" : `@${made.poster}`;
          showOnce(shown, made.url, {
            testid: "hook",
            label: "Webhook URL",
            hint: `It is shown only this once: copy it now into your script's secrets. Whoever has it can post in #${made.channel} as ${as}.`,
          });
          const curl = `curl -X POST -H 'Content-Type: application/json' -d '{"text":"Hello"}' ${made.url}`;
          shown.append(h("p", { class: "hint" }, `Try it from a terminal (it posts "Hello" in #${made.channel}):`), copyRow(curl, "hook-curl", "curl command"));
          name.value = "";
          bot.value = "";
          load();
        } catch (e) {
          err.textContent = refusal(e);
        } finally {
          create.disabled = !rooms.length;
        }
      },
    },
    h("label", { class: "check hook-as" }, h("span", null, "Channel"), channel),
    name,
    h("label", { class: "check hook-as" }, h("span", null, "Post as"), bot),
    create,
  );
  return { el: h("div", { class: "token-section" }, list, form, shown), load, setBots };
}

function hookItem(app, k, reload, err) {
  const where = k.channel ? `#${k.channel}` : "a channel that is gone";
  return h(
    "li",
    { class: "session-item", testid: "hook-item", dataset: { hook: k.id } },
    h(
      "div",
      { class: "session-text" },
      h("div", { class: "session-device" }, k.name),
      h("div", { class: "session-meta" }, `${where} · posts as @${k.poster} · made by @${k.created_by} ${whenLabel(k.created_at)}`),
    ),
    h(
      "button",
      {
        class: "button secondary small",
        type: "button",
        testid: "hook-delete",
        onClick: async (ev) => {
          ev.currentTarget.disabled = true;
          err.textContent = "";
          try {
            await app.api.del(`/api/hooks/${seg(k.id)}`);
            app.toasts.show(`Webhook "${k.name}" deleted: its URL no longer posts.`);
          } catch (e) {
            err.textContent = refusal(e);
          }
          reload();
        },
      },
      "Delete",
    ),
  );
}

/** A read-only field holding `value` (selected when focused) with Copy; testids
 * `${testid}`, `${testid}-copy`, `${testid}-copied`. */
function copyRow(value, testid, label) {
  const input = h("input", { class: "input invite-link", testid, readonly: true, value, "aria-label": label, onFocus: (ev) => ev.currentTarget.select() });
  const copied = h("span", { class: "hint", testid: `${testid}-copied`, role: "status" });
  const copy = h(
    "button",
    {
      class: "button secondary",
      type: "button",
      testid: `${testid}-copy`,
      onClick: async () => {
        input.select();
        let ok = false;
        try {
          await navigator.clipboard.writeText(value);
          ok = true;
        } catch {
          try {
            ok = document.execCommand("copy");
          } catch {
            ok = false;
          }
        }
        copied.textContent = ok ? "Copied." : "Select it and copy it.";
      },
    },
    "Copy",
  );
  return h("div", null, h("div", { class: "row" }, input, copy), copied);
}

/** The tokens of you (`bot` null) or of a bot: the list, and a form that
 * makes one and shows it once. */
function tokenSection(app, bot, err) {
  const q = bot ? `?bot=${encodeURIComponent(bot)}` : "";
  const list = h("ul", { class: "session-list", testid: "token-list", dataset: { bot: bot || "" } }, h("li", { class: "pick-empty" }, "Loading…"));
  const load = async () => {
    try {
      const tokens = await app.api.get(`/api/tokens${q}`);
      setChildren(list, tokens.length ? tokens.map((t) => tokenItem(app, t, q, load, err)) : h("li", { class: "pick-empty" }, "No tokens."));
    } catch (e) {
      setChildren(list, h("li", { class: "pick-empty" }, refusal(e)));
    }
  };
  const name = h("input", { class: "input", testid: "token-name", placeholder: "What it is for (e.g. CI)", maxlength: "80", required: true, "aria-label": "Token name" });
  const picks = SCOPES.filter(([s]) => s !== "admin" || (!bot && app.isAdmin())).map(([value, label, what]) =>
    h(
      "label",
      { class: "check", title: what },
      h("input", { type: "checkbox", value, checked: value !== "admin", testid: "token-scope", dataset: { scope: value } }),
      h("span", null, label),
    ),
  );
  const shown = h("div", { class: "invite-result", testid: "token-result", hidden: true });
  const form = h(
    "form",
    {
      class: "form row",
      testid: "token-form",
      onSubmit: async (ev) => {
        ev.preventDefault();
        err.textContent = "";
        const scopes = picks.map((p) => p.querySelector("input")).filter((i) => i.checked).map((i) => i.value);
        if (!scopes.length) {
          err.textContent = "Pick at least one scope.";
          return;
        }
        try {
          const made = await app.api.post("/api/tokens", { name: name.value.trim(), scopes, ...(bot ? { bot } : {}) });
          showOnce(shown, made.token, { testid: "token", label: "API token", hint: "It is shown only this once: copy it now into your script's secrets." });
          name.value = "";
          load();
        } catch (e) {
          err.textContent = refusal(e);
        }
      },
    },
    name,
    ...picks,
    h("button", { class: "button", type: "submit", testid: "token-create" }, "Create token"),
  );
  return { el: h("div", { class: "token-section" }, list, form, shown), load };
}

function tokenItem(app, t, q, reload, err) {
  const used = t.last_used_at == null ? "never used" : `last used ${whenLabel(t.last_used_at)}${t.last_address ? ` from ${t.last_address}` : ""}`;
  return h(
    "li",
    { class: "session-item", testid: "token-item", dataset: { token: t.id } },
    h(
      "div",
      { class: "session-text" },
      h("div", { class: "session-device" }, t.name),
      h("div", { class: "session-meta" }, `${t.scopes.join(", ")} · made ${whenLabel(t.created_at)} · ${used}`),
    ),
    h(
      "button",
      {
        class: "button secondary small",
        type: "button",
        testid: "token-revoke",
        onClick: async (ev) => {
          ev.currentTarget.disabled = true;
          err.textContent = "";
          try {
            await app.api.del(`/api/tokens/${seg(t.id)}${q}`);
            app.toasts.show(`Token "${t.name}" revoked.`);
          } catch (e) {
            err.textContent = refusal(e);
          }
          reload();
        },
      },
      "Revoke",
    ),
  );
}

function botItem(app, b, reload, err) {
  const tokens = b.deactivated ? null : tokenSection(app, b.username, err);
  const toggle = h(
    "button",
    {
      class: `button small ${b.deactivated ? "secondary" : "danger"}`,
      type: "button",
      testid: "bot-toggle",
      onClick: async () => {
        err.textContent = "";
        try {
          await app.api.put(`/api/bots/${seg(b.username)}/active`, { active: Boolean(b.deactivated) });
          app.toasts.show(b.deactivated ? `Bot ${b.username} is back (make it a new token).` : `Bot ${b.username} deactivated: its tokens ended.`);
        } catch (e) {
          err.textContent = refusal(e);
        }
        reload();
      },
    },
    b.deactivated ? "Reactivate" : "Deactivate",
  );
  const item = h(
    "li",
    { class: "bot-item", testid: "bot-item", dataset: { bot: b.username } },
    h(
      "div",
      { class: "session-text" },
      h("div", { class: "session-device" }, `${b.display_name} `, h("span", { class: "bot-badge" }, "BOT"), ` @${b.username}`),
      h("div", { class: "session-meta" }, `owner ${b.owner ? `@${b.owner}` : "gone"}${b.deactivated ? " · deactivated" : ""}`),
    ),
    toggle,
    tokens ? tokens.el : null,
  );
  if (tokens) tokens.load();
  return item;
}
