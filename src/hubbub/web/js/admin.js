// "Administration" (owners and admins, from your menu): a large dialog with
// three tabs.
// - Members: everyone, searched as you type; each one's role, and
//   deactivating (or reactivating) them, asked twice. What the server refuses
//   (the last owner, an admin changing an owner...) is a toast in its words.
// - Invites: a new invite link (role, how many uses, how long, which channels
//   it joins), shown once with Copy; the invites made so far, with Revoke.
// - Audit log: who did what and when, the newest first, a page at a time.
// Its invite form also serves members where the workspace lets them invite
// ("Invite people" in your menu: openInvite).

import { ApiError, seg } from "./api.js";
import { h, setChildren } from "./dom.js";
import { showOnce } from "./once.js";
import { whenLabel } from "./message.js";
import { avatar } from "./avatar.js";
import { statusMark } from "./status.js";

const params = new URLSearchParams(location.search);
/** Entries per page of the audit log (a test may ask for fewer). */
const AUDIT_PAGE = Math.max(1, Math.min(200, Number(params.get("audit_page")) || 50));
const MEMBER_PAGE = 50;
const ROLES = [
  ["owner", "Owner"],
  ["admin", "Admin"],
  ["member", "Member"],
  ["guest", "Guest"],
];
const EXPIRY = [
  [3600, "1 hour"],
  [86400, "1 day"],
  [7 * 86400, "7 days"],
  [30 * 86400, "30 days"],
  [90 * 86400, "90 days"],
];
const MAX_INVITE_USES = 10000;
const MAX_INVITE_CHANNELS = 20;

/** What a refusal says, in words (the server's where they say more). */
export function refusal(err) {
  if (!(err instanceof ApiError)) return String(err.message || err);
  switch (err.code) {
    case "last_owner":
      return "The workspace needs an active owner: make someone else an owner first.";
    case "forbidden":
      return `Not allowed: ${err.message}.`;
    default:
      return err.message;
  }
}

export function openAdmin(app) {
  if (!app.isAdmin()) return;
  const tabs = [
    ["members", "Members", membersTab],
    ["invites", "Invites", invitesTab],
    ["audit", "Audit log", auditTab],
  ];
  const panel = h("div", { class: "admin-panel", testid: "admin-panel", role: "tabpanel" });
  const buttons = tabs.map(([key, label]) =>
    h(
      "button",
      {
        class: "admin-tab",
        type: "button",
        role: "tab",
        testid: `admin-tab-${key}`,
        dataset: { tab: key },
        onClick: () => show(key),
      },
      label,
    ),
  );
  const show = (key) => {
    for (const b of buttons) {
      const on = b.dataset.tab === key;
      b.classList.toggle("active", on);
      b.setAttribute("aria-selected", String(on));
    }
    panel.dataset.tab = key;
    const [, , build] = tabs.find(([k]) => k === key);
    setChildren(panel, build(app));
  };
  const dlg = app.dialog({
    title: "Administration",
    testid: "admin-dialog",
    body: [h("div", { class: "admin-tabs", role: "tablist" }, buttons), panel],
  });
  dlg.classList.add("dialog-large");
  show("members");
  return dlg;
}

// --- members ------------------------------------------------------------------------

function membersTab(app) {
  const search = h("input", {
    class: "input",
    testid: "admin-search",
    type: "search",
    placeholder: "Search people by name or username",
    autocomplete: "off",
    "aria-label": "Search people",
  });
  const list = h("ul", { class: "admin-list", testid: "admin-members" }, h("li", { class: "pick-empty" }, "Loading…"));
  const more = h("button", { class: "button secondary", type: "button", testid: "admin-members-more", hidden: true }, "Load more");
  let asked = 0;
  let next = null;
  const load = async (append) => {
    const mine = ++asked;
    const q = search.value.trim();
    const after = append && next ? `&after=${encodeURIComponent(next)}` : "";
    try {
      const { data, next: following } = await app.api.page(`/api/users?q=${encodeURIComponent(q)}&limit=${MEMBER_PAGE}${after}`);
      if (mine !== asked) return;
      next = following;
      more.hidden = !following;
      for (const u of data) app.chat.learn(u);
      const rows = data.map((u) => memberRow(app, u));
      if (append) list.append(...rows);
      else setChildren(list, rows.length ? rows : h("li", { class: "pick-empty" }, q ? "No one matches." : "No one here yet."));
    } catch (err) {
      if (mine === asked) setChildren(list, h("li", { class: "pick-empty" }, err.message));
    }
  };
  let timer = 0;
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => load(false), 200);
  });
  more.addEventListener("click", () => load(true));
  load(false);
  queueMicrotask(() => search.focus());
  return [search, list, more];
}

function memberRow(app, user) {
  const li = h("li", { class: "admin-member", testid: "admin-member", dataset: { username: user.username } });
  const draw = (u, confirming = false) => {
    li.dataset.role = u.role;
    li.dataset.deactivated = String(u.deactivated === true);
    li.classList.toggle("deactivated", u.deactivated === true);
    const me = u.username === app.user.username;
    const role = h(
      "select",
      { class: "input select role-select", testid: "role-select", "aria-label": `Role of ${u.username}`, disabled: u.deactivated === true },
      ROLES.map(([value, label]) => h("option", { value, selected: value === u.role }, label)),
    );
    role.value = u.role;
    role.addEventListener("change", async () => {
      const want = role.value;
      role.disabled = true;
      try {
        const updated = await app.api.put(`/api/users/${seg(u.username)}/role`, { role: want });
        app.chat.userUpdated(updated);
        app.toasts.show(`${updated.display_name} is now ${article(updated.role)} ${updated.role}.`);
        draw(updated);
      } catch (err) {
        app.toasts.show(refusal(err), "error");
        role.value = u.role;
        role.disabled = false;
      }
    });
    const active = u.deactivated !== true;
    const act = async () => {
      try {
        const updated = await app.api.put(`/api/users/${seg(u.username)}/active`, { active: !active });
        app.chat.userUpdated(updated);
        app.toasts.show(active ? `${updated.display_name} was deactivated and signed out everywhere.` : `${updated.display_name} was reactivated.`);
        draw(updated);
      } catch (err) {
        app.toasts.show(refusal(err), "error");
        draw(u);
      }
    };
    let controls;
    if (confirming) {
      controls = h(
        "div",
        { class: "admin-confirm", testid: "admin-confirm", role: "alert" },
        h(
          "span",
          null,
          active ? `Deactivate @${u.username}? They are signed out everywhere at once; their messages stay.` : `Reactivate @${u.username}? They can sign in again.`,
        ),
        h("button", { class: active ? "button button-danger small" : "button small", type: "button", testid: "confirm-yes", onClick: act }, active ? "Deactivate" : "Reactivate"),
        h("button", { class: "button secondary small", type: "button", testid: "confirm-no", onClick: () => draw(u) }, "Cancel"),
      );
    } else {
      controls = h(
        "div",
        { class: "admin-controls" },
        role,
        me
          ? h("span", { class: "muted admin-you" }, "(you)")
          : h(
              "button",
              {
                class: active ? "button danger small" : "button secondary small",
                type: "button",
                testid: active ? "deactivate-button" : "reactivate-button",
                onClick: () => draw(u, true),
              },
              active ? "Deactivate" : "Reactivate",
            ),
      );
    }
    setChildren(
      li,
      avatar(u.username, u.display_name, "avatar avatar-sm"),
      h(
        "div",
        { class: "admin-who" },
        h("div", { class: "admin-name" }, h("span", { testid: "admin-member-name" }, u.display_name), statusMark(u.custom_status)),
        h("div", { class: "admin-meta" }, `@${u.username}`, u.deactivated ? h("span", { class: "admin-flag", testid: "deactivated-flag" }, "Deactivated") : null),
      ),
      controls,
    );
  };
  draw(user);
  return li;
}

function article(word) {
  return /^[aeiou]/.test(word) ? "an" : "a";
}

// --- invites ------------------------------------------------------------------------

function invitesTab(app) {
  const list = h("ul", { class: "admin-list", testid: "invite-list" }, h("li", { class: "pick-empty" }, "Loading…"));
  const load = async () => {
    try {
      const invites = await app.api.get("/api/invites");
      setChildren(list, invites.length ? invites.map((i) => inviteRow(app, i, load)) : h("li", { class: "pick-empty" }, "No invites yet."));
    } catch (e) {
      setChildren(list, h("li", { class: "pick-empty" }, e.message));
    }
  };
  load();
  return [...inviteForm(app, { onCreated: load }), h("h3", { class: "subhead" }, "Invites"), list];
}

/** "Invite people" (your menu) for a member where the workspace lets members
 * invite (`members_may_invite`): the same form as the administration's, for a
 * member or a guest, and its link shown once. */
export function openInvite(app) {
  return app.dialog({
    title: "Invite people",
    testid: "invite-dialog",
    body: [h("p", { class: "hint" }, "A link that signs someone up to this workspace. Send it to who you invite."), ...inviteForm(app)],
  });
}

/** The form making an invite link (role, how many uses, how long, which of
 * your channels it joins), and where its link shows once made: [form, result].
 * Owners may invite any role; admins and members, members and guests. */
function inviteForm(app, { onCreated = () => {} } = {}) {
  const owner = app.user.role === "owner";
  const role = h(
    "select",
    { class: "input select", testid: "invite-role", "aria-label": "Role" },
    ROLES.filter(([r]) => owner || r === "member" || r === "guest").map(([value, label]) => h("option", { value, selected: value === "member" }, label)),
  );
  role.value = "member";
  const uses = h("input", {
    class: "input",
    type: "number",
    testid: "invite-max-uses",
    min: "1",
    max: String(MAX_INVITE_USES),
    value: "1",
    required: true,
    "aria-label": "Uses",
  });
  const expiry = h(
    "select",
    { class: "input select", testid: "invite-expiry", "aria-label": "Expires after" },
    EXPIRY.map(([secs, label]) => h("option", { value: String(secs), selected: secs === 7 * 86400 }, label)),
  );
  expiry.value = String(7 * 86400);
  const rooms = [...app.chat.channels.values()].filter((c) => !c.isDM && !c.archived).sort((a, b) => a.name.localeCompare(b.name));
  const picks = rooms.map((c) =>
    h(
      "label",
      { class: "check invite-channel" },
      h("input", { type: "checkbox", value: c.name, testid: "invite-channel", dataset: { channel: c.name } }),
      h("span", null, `#${c.name}`),
    ),
  );
  const err = h("p", { class: "form-error", testid: "invite-error", role: "alert" });
  const result = h("div", { class: "invite-result", testid: "invite-result", hidden: true });
  const create = h("button", { class: "button", type: "submit", testid: "invite-create" }, "Create invite link");
  const form = h(
    "form",
    {
      class: "form invite-form",
      testid: "invite-form",
      onSubmit: async (ev) => {
        ev.preventDefault();
        err.textContent = "";
        const channels = picks.map((p) => p.querySelector("input")).filter((i) => i.checked).map((i) => i.value);
        if (channels.length > MAX_INVITE_CHANNELS) {
          err.textContent = `An invite joins at most ${MAX_INVITE_CHANNELS} channels.`;
          return;
        }
        if (role.value === "guest" && !channels.length) {
          err.textContent = "A guest sees only the channels they are invited to: pick at least one.";
          return;
        }
        create.disabled = true;
        try {
          const inv = await app.api.post("/api/invites", {
            role: role.value,
            max_uses: Math.max(1, Math.min(MAX_INVITE_USES, Math.floor(Number(uses.value) || 1))),
            expires_in: Number(expiry.value),
            channels,
          });
          showOnce(result, location.origin + inv.path, {
            testid: "invite",
            label: "Invite link",
            hint: "It is shown only this once: copy it now and send it to who you invite.",
          });
          onCreated(inv);
        } catch (e) {
          err.textContent = refusal(e);
        } finally {
          create.disabled = false;
        }
      },
    },
    h(
      "div",
      { class: "invite-fields" },
      h("label", { class: "field" }, h("span", null, "Role"), role),
      h("label", { class: "field" }, h("span", null, "Uses"), uses),
      h("label", { class: "field" }, h("span", null, "Expires after"), expiry),
    ),
    rooms.length
      ? h("fieldset", { class: "field invite-channels" }, h("legend", null, "Joins these channels ", h("small", null, "(besides the default ones)")), picks)
      : null,
    err,
    h("div", { class: "dialog-actions" }, create),
  );
  return [form, result];
}

const STATES = { active: "Active", used_up: "Used up", expired: "Expired", revoked: "Revoked" };

function inviteRow(app, inv, reload) {
  const chans = inv.channels.length ? inv.channels.map((c) => `#${c}`).join(", ") : "default channels";
  return h(
    "li",
    { class: `invite-item state-${inv.state}`, testid: "invite-item", dataset: { invite: inv.id, state: inv.state } },
    h(
      "div",
      { class: "admin-who" },
      h("div", { class: "admin-name" }, `${inv.role[0].toUpperCase()}${inv.role.slice(1)} invite`, h("span", { class: "invite-state", testid: "invite-state" }, STATES[inv.state] || inv.state)),
      h(
        "div",
        { class: "admin-meta" },
        `${inv.uses} of ${inv.max_uses} ${inv.max_uses === 1 ? "use" : "uses"} · ${chans} · `,
        inv.state === "expired" ? `expired ${whenLabel(inv.expires_at)}` : `expires ${whenLabel(inv.expires_at)}`,
      ),
    ),
    inv.state === "active"
      ? h(
          "button",
          {
            class: "button danger small",
            type: "button",
            testid: "invite-revoke",
            onClick: async (ev) => {
              ev.currentTarget.disabled = true;
              try {
                await app.api.del(`/api/invites/${seg(inv.id)}`);
                app.toasts.show("Invite revoked: its link signs no one up any more.");
              } catch (err) {
                app.toasts.show(refusal(err), "error");
              }
              reload();
            },
          },
          "Revoke",
        )
      : null,
  );
}

// --- audit log ----------------------------------------------------------------------

function auditTab(app) {
  const list = h("ol", { class: "admin-list audit-list", testid: "audit-list" }, h("li", { class: "pick-empty" }, "Loading…"));
  const more = h("button", { class: "button secondary", type: "button", testid: "audit-more", hidden: true }, "Load more");
  let oldest = null;
  let first = true;
  const load = async () => {
    more.disabled = true;
    try {
      const before = oldest === null ? "" : `&before=${oldest}`;
      const entries = await app.api.get(`/api/audit?limit=${AUDIT_PAGE}${before}`);
      if (first) {
        first = false;
        setChildren(list, entries.length ? [] : h("li", { class: "pick-empty" }, "Nothing yet: what admins do shows up here."));
      }
      list.append(...entries.map(auditRow));
      if (entries.length) oldest = entries[entries.length - 1].id;
      more.hidden = entries.length < AUDIT_PAGE;
    } catch (err) {
      app.toasts.show(err.message, "error");
    } finally {
      more.disabled = false;
    }
  };
  more.addEventListener("click", load);
  load();
  return [list, more];
}

function auditRow(e) {
  return h(
    "li",
    { class: "audit-item", testid: "audit-item", dataset: { action: e.action, id: e.id } },
    h("time", { class: "audit-time", datetime: new Date(e.at).toISOString() }, whenLabel(e.at)),
    h("span", { class: "audit-text", testid: "audit-text" }, describe(e)),
  );
}

function authorOf(a) {
  const name = typeof a === "string" ? a : a && a.username;
  return name ? `@${name}` : "someone";
}

/** One entry in words: "ann made @bob an admin (was a member)". */
export function describe(e) {
  const who = e.actor ? e.actor : "The operator";
  const d = e.detail || {};
  switch (e.action) {
    case "user.role":
      return `${who} made ${e.target} ${article(d.new || "")} ${d.new}${d.old ? ` (was ${article(d.old)} ${d.old})` : ""}`;
    case "user.deactivate":
      return `${who} deactivated ${e.target}`;
    case "user.activate":
      return `${who} reactivated ${e.target}`;
    case "user.password":
      return `${who} reset the password of ${e.target}`;
    case "invite.create":
      return `${who} created an invite for ${d.role || "member"}s (${d.max_uses} ${d.max_uses === 1 ? "use" : "uses"})`;
    case "invite.revoke":
      return `${who} revoked ${e.target}`;
    case "channel.rename":
      return `${who} renamed #${d.old} to ${e.target}`;
    case "channel.archive":
      return `${who} archived ${e.target}`;
    case "channel.unarchive":
      return `${who} unarchived ${e.target}`;
    case "channel.default":
      return d.default ? `${who} made ${e.target} a default channel` : `${who} made ${e.target} no longer a default channel`;
    case "channel.remove":
      return `${who} removed @${d.user} from ${e.target}`;
    case "message.delete":
      return `${who} deleted a message by ${authorOf(d.author)} in ${e.target.split(" ")[0]}`;
    default:
      return `${who}: ${e.action} ${e.target}`;
  }
}
