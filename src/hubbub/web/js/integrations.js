// "Integrations" (from your menu): your API tokens, for scripts and CI, and
// your bots (an admin sees every bot), each with its own tokens. A token is
// shown once, when made (only its hash is kept); lists show its name, its
// scopes and when it was last used. Managing these needs a sign-in, so the
// page works in the web app (a session) and never with an API token.
//
// And your webhooks (an admin sees every one). Incoming: a URL that posts
// Slack's incoming-webhook JSON into one channel, as you or as one of your
// bots; its URL is shown once too (only its secret's hash is kept), with a
// curl line to try it. Outgoing: a channel's messages POSTed to a URL, with
// where its deliveries stand and its signing secret. An admin also manages
// the custom slash commands here.

import { refusal } from "./admin.js";
import { seg } from "./api.js";
import { h, setChildren } from "./dom.js";
import { whenLabel } from "./message.js";
import { copyRow, showOnce } from "./once.js";

const SCOPES = [
  ["read", "Read", "Read messages, channels and people"],
  ["write", "Write", "Send, edit, react, join: everything else"],
  ["admin", "Admin", "The administration routes (your role allows them)"],
];

export function openIntegrations(app) {
  const err = h("p", { class: "form-error", testid: "integrations-error", role: "alert" });
  const mine = tokenSection(app, null, err);
  const hooks = hookSection(app, err);
  const outgoing = outgoingSection(app, err);
  const commands = app.isAdmin() ? commandSection(app, err) : null;
  const bots = h("ul", { class: "session-list", testid: "bot-list" }, h("li", { class: "pick-empty" }, "Loading…"));
  const loadBots = async () => {
    try {
      const list = await app.api.get("/api/bots");
      setChildren(bots, list.length ? list.map((b) => botItem(app, b, loadBots, err)) : h("li", { class: "pick-empty" }, "No bots yet."));
      hooks.setBots(list);
      outgoing.setBots(list);
    } catch (e) {
      setChildren(bots, h("li", { class: "pick-empty" }, refusal(e)));
      hooks.setBots([]);
      outgoing.setBots([]);
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
      h("h3", { class: "subhead" }, app.isAdmin() ? "Outgoing webhooks (every hook: you are an admin)" : "Outgoing webhooks"),
      h(
        "p",
        { class: "hint" },
        "A channel's messages, or those starting with a trigger word, POSTed to a URL as Slack's outgoing-webhook payload, signed, in order, retried until delivered; a JSON answer with ",
        h("code", null, "text"),
        " is posted back.",
      ),
      outgoing.el,
      ...(commands
        ? [
            h("h3", { class: "subhead" }, "Slash commands (you are an admin)"),
            h(
              "p",
              { class: "hint" },
              "A custom command runs for everyone: typing ",
              h("code", null, "/name text"),
              " POSTs Slack's slash-command payload to its URL, signed; its answer is shown to the user or posted in the channel.",
            ),
            commands.el,
          ]
        : []),
      err,
    ],
  });
  mine.load();
  loadBots();
  hooks.load();
  outgoing.load();
  commands?.load();
}

/** A choice of the channels a hook can be made for (not DMs, not archived),
 * the open one first chosen; `rooms` is how many there are. */
function channelPick(app, testid) {
  const rooms = [...app.chat.channels.values()].filter((c) => !c.isDM && !c.archived).sort((a, b) => a.name.localeCompare(b.name));
  const open = app.currentChannel();
  const pick = h(
    "select",
    { class: "input select", testid, required: true, disabled: !rooms.length, "aria-label": "Channel" },
    rooms.length ? rooms.map((c) => h("option", { value: c.name }, `#${c.name}`)) : h("option", { value: "" }, "No channel to post in"),
  );
  if (open && rooms.includes(open)) pick.value = open.name;
  return { el: pick, rooms: rooms.length };
}

/** A choice of who a hook acts as: you, or one of your bots (`setBots` fills
 * it from `GET /api/bots`, keeping the choice if it is still there). */
function posterPick(me, testid, label) {
  const pick = h("select", { class: "input select", testid, "aria-label": label }, h("option", { value: "" }, `me (@${me})`));
  const setBots = (bots) => {
    const was = pick.value;
    const usable = bots.filter((b) => !b.deactivated);
    setChildren(pick, h("option", { value: "" }, `me (@${me})`), ...usable.map((b) => h("option", { value: b.username }, `${b.display_name} (@${b.username})`)));
    pick.value = usable.some((b) => b.username === was) ? was : "";
  };
  return { el: pick, setBots };
}

/** What `GET path` lists, each drawn by `item(entry, reload)`. */
function hookList(app, path, testid, item, empty = "No webhooks.") {
  const list = h("ul", { class: "session-list", testid }, h("li", { class: "pick-empty" }, "Loading…"));
  const load = async () => {
    try {
      const hooks = await app.api.get(path);
      setChildren(list, hooks.length ? hooks.map((k) => item(k, load)) : h("li", { class: "pick-empty" }, empty));
    } catch (e) {
      setChildren(list, h("li", { class: "pick-empty" }, refusal(e)));
    }
  };
  return { el: list, load };
}

/** A hook's form (testid `${kind}-form`): `submit()` runs with `create`
 * disabled meanwhile, and a refusal is shown in `err`. */
function hookForm(kind, create, err, submit, ...fields) {
  const usable = !create.disabled;
  return h(
    "form",
    {
      class: "form row hook-form",
      testid: `${kind}-form`,
      onSubmit: async (ev) => {
        ev.preventDefault();
        err.textContent = "";
        create.disabled = true;
        try {
          await submit();
        } catch (e) {
          err.textContent = refusal(e);
        } finally {
          create.disabled = !usable;
        }
      },
    },
    ...fields,
    create,
  );
}

/** Your incoming webhooks (an admin: every one): the list, and a form that
 * makes one (into a channel you are in, as you or as one of your bots) and
 * shows its URL once, with a curl line to try it. `setBots(list)` fills the
 * "Post as" choice from `GET /api/bots`. */
function hookSection(app, err) {
  const list = hookList(app, "/api/hooks", "hook-list", (k, reload) => hookItem(app, k, reload, err));
  const channel = channelPick(app, "hook-channel");
  const name = h("input", { class: "input", testid: "hook-name", placeholder: "What it is for (e.g. CI)", maxlength: "80", required: true, "aria-label": "Webhook name" });
  const me = app.user.username;
  const bot = posterPick(me, "hook-bot", "Post as");
  const shown = h("div", { class: "invite-result", testid: "hook-result", hidden: true });
  const create = h("button", { class: "button", type: "submit", testid: "hook-create", disabled: !channel.rooms }, "Create webhook");
  const form = hookForm(
    "hook",
    create,
    err,
    async () => {
      const made = await app.api.post("/api/hooks", { channel: channel.el.value, name: name.value.trim(), ...(bot.el.value ? { bot: bot.el.value } : {}) });
      const as = made.poster === me ? "you" : `@${made.poster}`;
      showOnce(shown, made.url, {
        testid: "hook",
        label: "Webhook URL",
        hint: `It is shown only this once: copy it now into your script's secrets. Whoever has it can post in #${made.channel} as ${as}.`,
      });
      const curl = `curl -X POST -H 'Content-Type: application/json' -d '{"text":"Hello"}' ${made.url}`;
      shown.append(h("p", { class: "hint" }, `Try it from a terminal (it posts "Hello" in #${made.channel}):`), copyRow(curl, { testid: "hook-curl", label: "curl command" }).el);
      name.value = "";
      bot.el.value = "";
      list.load();
    },
    h("label", { class: "check hook-as" }, h("span", null, "Channel"), channel.el),
    name,
    h("label", { class: "check hook-as" }, h("span", null, "Post as"), bot.el),
  );
  return { el: h("div", { class: "token-section" }, list.el, form, shown), load: list.load, setBots: bot.setBots };
}

/** A hook's (or command's) row (testid `${kind}-item`): its `title` (its
 * name), `meta` under it, `extra` below, and Delete (`${kind}-delete`:
 * DELETE `path`, then `gone` as a toast). */
function hookRow(app, k, { kind, title = k.name, meta, extra = null, path, gone }, reload, err) {
  return h(
    "li",
    { class: "session-item", testid: `${kind}-item`, dataset: { hook: k.id } },
    h("div", { class: "session-text" }, h("div", { class: "session-device" }, title), h("div", { class: "session-meta" }, meta), extra),
    h(
      "button",
      {
        class: "button secondary small",
        type: "button",
        testid: `${kind}-delete`,
        onClick: async (ev) => {
          ev.currentTarget.disabled = true;
          err.textContent = "";
          try {
            await app.api.del(path);
            app.toasts.show(gone);
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

function hookItem(app, k, reload, err) {
  const where = k.channel ? `#${k.channel}` : "a channel that is gone";
  return hookRow(
    app,
    k,
    {
      kind: "hook",
      meta: `${where} · posts as @${k.poster} · made by @${k.created_by} ${whenLabel(k.created_at)}`,
      path: `/api/hooks/${seg(k.id)}`,
      gone: `Webhook "${k.name}" deleted: its URL no longer posts.`,
    },
    reload,
    err,
  );
}

/** Your outgoing webhooks (an admin: every one), each with where its
 * deliveries stand; and a form that makes one: a channel's messages (those
 * starting with a trigger word, if any) POSTed to a URL, signed, and what the
 * receiver answers posted back as you or one of your bots. */
function outgoingSection(app, err) {
  const list = hookList(app, "/api/outgoing-hooks", "outgoing-list", (k, reload) => outgoingItem(app, k, reload, err));
  const channel = channelPick(app, "outgoing-channel");
  const name = h("input", { class: "input", testid: "outgoing-name", placeholder: "What it is for (e.g. Tickets)", maxlength: "80", required: true, "aria-label": "Outgoing webhook name" });
  const url = h("input", { class: "input", testid: "outgoing-url", type: "url", placeholder: "https://example.com/hubbub", maxlength: "2000", required: true, "aria-label": "URL to POST to" });
  const triggers = h("input", { class: "input", testid: "outgoing-triggers", placeholder: "Trigger words (optional): deploy, ticket", "aria-label": "Trigger words" });
  const bot = posterPick(app.user.username, "outgoing-bot", "Answer as");
  const shown = h("div", { class: "invite-result", testid: "outgoing-result", hidden: true });
  const create = h("button", { class: "button", type: "submit", testid: "outgoing-create", disabled: !channel.rooms }, "Create outgoing webhook");
  const form = hookForm(
    "outgoing",
    create,
    err,
    async () => {
      const words = triggers.value.split(/[\s,]+/).filter(Boolean);
      const made = await app.api.post("/api/outgoing-hooks", {
        channel: channel.el.value,
        name: name.value.trim(),
        url: url.value.trim(),
        triggers: words,
        ...(bot.el.value ? { bot: bot.el.value } : {}),
      });
      const which = made.triggers.length ? ` starting with ${made.triggers.join(", ")}` : "";
      setChildren(
        shown,
        h("p", { class: "hint" }, `#${made.channel}'s messages${which} now go to ${made.url}. Its server checks each request's X-Slack-Signature with this signing secret:`),
        copyRow(made.signing_secret, { testid: "outgoing-secret", label: "Signing secret" }).el,
      );
      shown.hidden = false;
      name.value = url.value = triggers.value = "";
      bot.el.value = "";
      list.load();
    },
    h("label", { class: "check hook-as" }, h("span", null, "Channel"), channel.el),
    name,
    url,
    triggers,
    h("label", { class: "check hook-as" }, h("span", null, "Answer as"), bot.el),
  );
  return { el: h("div", { class: "token-section" }, list.el, form, shown), load: list.load, setBots: bot.setBots };
}

/** A "Signing secret" button (`${kind}-show-secret`) and the secret it
 * shows and hides (`${kind}-item-secret`). */
function secretReveal(value, kind) {
  const secret = h("div", { hidden: true }, copyRow(value, { testid: `${kind}-item-secret`, label: "Signing secret" }).el);
  const reveal = h(
    "button",
    {
      class: "button secondary small",
      type: "button",
      testid: `${kind}-show-secret`,
      onClick: (ev) => {
        secret.hidden = !secret.hidden;
        ev.currentTarget.textContent = secret.hidden ? "Signing secret" : "Hide secret";
      },
    },
    "Signing secret",
  );
  return [reveal, secret];
}

/** The custom slash commands (admins): each with its URL and signing
 * secret, and a form that registers one: running `/name` POSTs Slack's
 * slash-command payload to its URL. */
function commandSection(app, err) {
  const list = hookList(app, "/api/custom-commands", "command-list", (c, reload) => commandItem(app, c, reload, err), "No custom commands.");
  const name = h("input", { class: "input", testid: "command-name", placeholder: "/deploy", maxlength: "33", required: true, "aria-label": "Command" });
  const url = h("input", { class: "input", testid: "command-url", type: "url", placeholder: "https://example.com/slash", maxlength: "2000", required: true, "aria-label": "URL to POST to" });
  const usage = h("input", { class: "input", testid: "command-usage", placeholder: "Usage (optional): [service] [env]", maxlength: "200", "aria-label": "Usage" });
  const description = h("input", { class: "input", testid: "command-description", placeholder: "What it does (optional)", maxlength: "200", "aria-label": "Description" });
  const shown = h("div", { class: "invite-result", testid: "command-result", hidden: true });
  const create = h("button", { class: "button", type: "submit", testid: "command-create" }, "Register command");
  const form = hookForm(
    "command",
    create,
    err,
    async () => {
      const made = await app.api.post("/api/custom-commands", { command: name.value.trim(), url: url.value.trim(), usage: usage.value.trim(), description: description.value.trim() });
      setChildren(
        shown,
        h("p", { class: "hint" }, `${made.command} now POSTs to ${made.url}. Its server checks each request's X-Slack-Signature with this signing secret:`),
        copyRow(made.signing_secret, { testid: "command-secret", label: "Signing secret" }).el,
      );
      shown.hidden = false;
      name.value = url.value = usage.value = description.value = "";
      list.load();
    },
    name,
    url,
    usage,
    description,
  );
  return { el: h("div", { class: "token-section" }, list.el, form, shown), load: list.load };
}

function commandItem(app, c, reload, err) {
  const [reveal, secret] = secretReveal(c.signing_secret, "command");
  return hookRow(
    app,
    c,
    {
      kind: "command",
      title: `${c.command} ${c.usage}`.trim(),
      meta: `${c.description ? c.description + " · " : ""}→ ${c.url} · ${whenLabel(c.created_at)}`,
      extra: h("div", null, reveal, secret),
      path: `/api/custom-commands/${seg(c.command.slice(1))}`,
      gone: `${c.command} removed: it is an unknown command from now on.`,
    },
    reload,
    err,
  );
}

/** Where an outgoing hook's deliveries stand, in words. */
function deliveryState(d) {
  const parts = [`${d.delivered} delivered`];
  if (d.dead) parts.push(`${d.dead} given up on`);
  if (d.attempts) parts.push(`retrying after ${d.attempts} failed: ${d.last_error}`);
  else if (d.last_error) parts.push(d.last_error);
  return parts.join(" · ");
}

function outgoingItem(app, k, reload, err) {
  const where = k.channel ? `#${k.channel}` : "a channel that is gone";
  const which = k.triggers.length ? ` starting with ${k.triggers.join(", ")}` : "";
  const [reveal, secret] = secretReveal(k.signing_secret, "outgoing");
  return hookRow(
    app,
    k,
    {
      kind: "outgoing",
      meta: `${where}${which} → ${k.url} · answers as @${k.poster} · made by @${k.created_by} ${whenLabel(k.created_at)}`,
      extra: h("div", null, h("div", { class: "session-meta", testid: "outgoing-state" }, deliveryState(k.delivery)), reveal, secret),
      path: `/api/outgoing-hooks/${seg(k.id)}`,
      gone: `Outgoing webhook "${k.name}" deleted: nothing more is sent.`,
    },
    reload,
    err,
  );
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
