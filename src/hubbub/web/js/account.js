// "Profile and account" (from your menu): your display name and custom
// status (an emoji, a line of text, and when it clears itself), a new
// password (which signs your other sessions out), the sessions that stand
// (one per sign-in: this device marked, any other revoked), and signing out.

import { seg } from "./api.js";
import { avatar } from "./avatar.js";
import { h, setChildren } from "./dom.js";
import { whenLabel } from "./message.js";
import { CLEAR_AFTER, clearAt } from "./status.js";

/** Statuses one click away: [emoji, text, clear after]. */
const PRESETS = [
  ["📅", "In a meeting", "hour"],
  ["🚌", "Commuting", "hour"],
  ["🤒", "Out sick", "today"],
  ["🌴", "On holiday", "never"],
  ["🏠", "Working remotely", "today"],
];

export function openAccount(app) {
  const { chat } = app;
  const me = app.user;
  const current = chat.statusOf(me.username);

  // --- profile and status --------------------------------------------------------
  const name = h("input", {
    class: "input",
    testid: "account-display-name",
    value: me.display_name,
    maxlength: "80",
    autocomplete: "name",
    "aria-label": "Display name",
  });
  const emoji = h("input", {
    class: "input status-emoji-input",
    testid: "status-emoji-input",
    value: current ? current.emoji : "",
    maxlength: "16",
    placeholder: "🙂",
    autocomplete: "off",
    "aria-label": "Status emoji",
  });
  const text = h("input", {
    class: "input",
    testid: "status-text",
    value: current ? current.text : "",
    maxlength: "100",
    placeholder: "What's your status?",
    autocomplete: "off",
    "aria-label": "Status text",
  });
  const clearAfter = h(
    "select",
    { class: "input select", testid: "status-clear-after", "aria-label": "Clear after" },
    CLEAR_AFTER.map(([value, label]) => h("option", { value }, label)),
  );
  const presets = h(
    "div",
    { class: "status-presets" },
    PRESETS.map(([e, t, after]) =>
      h(
        "button",
        {
          class: "status-preset",
          type: "button",
          testid: "status-preset",
          onClick: () => {
            emoji.value = e;
            text.value = t;
            clearAfter.value = after;
            text.focus();
          },
        },
        `${e} ${t}`,
      ),
    ),
  );
  // Your generated avatar, as others see it (following the name as you type it).
  const face = h("span", { class: "account-avatar", testid: "account-avatar" });
  const who = h("span", { class: "account-who-name", testid: "account-who-name" });
  const drawFace = () => {
    const display = name.value.trim() || app.user.display_name || me.username;
    setChildren(face, avatar(me.username, display, "avatar avatar-lg"));
    setChildren(who, h("strong", null, display), h("span", { class: "muted" }, ` @${me.username}`));
  };
  name.addEventListener("input", drawFace);
  drawFace();
  const profileErr = h("p", { class: "form-error", testid: "profile-error", role: "alert" });
  const save = h("button", { class: "button", type: "submit", testid: "profile-save" }, "Save");
  const saveProfile = async (body, what) => {
    profileErr.textContent = "";
    save.disabled = true;
    try {
      const user = await app.api.patch("/api/me", body);
      chat.userUpdated(user);
      app.toasts.show(what);
    } catch (err) {
      profileErr.textContent = err.message;
    } finally {
      save.disabled = false;
    }
  };
  const profile = h(
    "form",
    {
      class: "form",
      testid: "profile-form",
      onSubmit: (ev) => {
        ev.preventDefault();
        const body = {};
        const display = name.value.trim();
        if (display && display !== app.user.display_name) body.display_name = display;
        const e = emoji.value.trim();
        const t = text.value.trim();
        const was = chat.statusOf(app.user.username);
        const wasKey = was ? `${was.emoji}|${was.text}` : "|";
        if (`${e}|${t}` !== wasKey || (e || t)) {
          body.custom_status = e || t ? { emoji: e, text: t, until: clearAt(clearAfter.value) } : {};
        }
        if (!Object.keys(body).length) return;
        saveProfile(body, "Profile saved.");
      },
    },
    h("label", { class: "field" }, h("span", null, "Display name"), name),
    h(
      "div",
      { class: "field" },
      h("span", null, "Status"),
      h("div", { class: "row" }, emoji, text),
      presets,
      h("label", { class: "row status-clear-row" }, h("span", { class: "muted" }, "Clear after"), clearAfter),
    ),
    profileErr,
    h(
      "div",
      { class: "dialog-actions" },
      h(
        "button",
        {
          class: "button secondary",
          type: "button",
          testid: "status-clear",
          onClick: () => {
            emoji.value = "";
            text.value = "";
            saveProfile({ custom_status: {} }, "Status cleared.");
          },
        },
        "Clear status",
      ),
      save,
    ),
  );

  // --- password --------------------------------------------------------------------
  const oldPw = h("input", {
    class: "input",
    type: "password",
    testid: "password-current",
    autocomplete: "current-password",
    required: true,
    "aria-label": "Current password",
  });
  const newPw = h("input", {
    class: "input",
    type: "password",
    testid: "password-new",
    autocomplete: "new-password",
    required: true,
    minlength: "8",
    "aria-label": "New password",
  });
  const pwErr = h("p", { class: "form-error", testid: "password-error", role: "alert" });
  const pwDone = h("p", { class: "hint form-ok", testid: "password-done", role: "status", hidden: true });
  const pwSave = h("button", { class: "button secondary", type: "submit", testid: "password-save" }, "Change password");
  const password = h(
    "form",
    {
      class: "form",
      testid: "password-form",
      onSubmit: async (ev) => {
        ev.preventDefault();
        pwErr.textContent = "";
        pwDone.hidden = true;
        pwSave.disabled = true;
        try {
          await app.api.put("/api/me/password", { current_password: oldPw.value, new_password: newPw.value });
          oldPw.value = newPw.value = "";
          pwDone.textContent = "Password changed. Your other sessions were signed out; this one stays signed in.";
          pwDone.hidden = false;
          loadSessions();
        } catch (err) {
          pwErr.textContent =
            err.code === "bad_credentials"
              ? "That is not your current password."
              : err.code === "weak_password"
                ? "Use a new password of 8 to 256 characters."
                : err.message;
        } finally {
          pwSave.disabled = false;
        }
      },
    },
    h("label", { class: "field" }, h("span", null, "Current password"), oldPw),
    h("label", { class: "field" }, h("span", null, "New password"), newPw),
    pwErr,
    pwDone,
    h("div", { class: "dialog-actions" }, pwSave),
  );

  // --- sessions --------------------------------------------------------------------
  const sessions = h("ul", { class: "session-list", testid: "session-list" }, h("li", { class: "pick-empty" }, "Loading…"));
  const sessionsErr = h("p", { class: "form-error", role: "alert" });
  const others = h(
    "button",
    {
      class: "button secondary",
      type: "button",
      testid: "sessions-revoke-others",
      onClick: async () => {
        sessionsErr.textContent = "";
        try {
          await app.api.del("/api/sessions?keep_current=true");
          app.toasts.show("Signed out everywhere else.");
          loadSessions();
        } catch (err) {
          sessionsErr.textContent = err.message;
        }
      },
    },
    "Sign out everywhere else",
  );
  let loading = 0;
  const loadSessions = async () => {
    const mine = ++loading;
    try {
      const list = await app.api.get("/api/sessions");
      if (mine !== loading) return;
      others.disabled = !list.some((s) => !s.current);
      setChildren(sessions, list.map((s) => sessionItem(app, s, loadSessions, sessionsErr)));
    } catch (err) {
      if (mine === loading) setChildren(sessions, h("li", { class: "pick-empty" }, err.message));
    }
  };

  const dlg = app.dialog({
    title: "Your account",
    testid: "account-dialog",
    body: [
      h("h3", { class: "subhead" }, "Profile"),
      h("div", { class: "account-who" }, face, who),
      profile,
      h("h3", { class: "subhead" }, "Password"),
      password,
      h("h3", { class: "subhead" }, "Your sessions"),
      h("p", { class: "hint" }, "Every device or browser you are signed in on. Revoking one signs it out at once."),
      sessions,
      sessionsErr,
      h(
        "div",
        { class: "dialog-actions" },
        others,
        h("button", { class: "button danger", type: "button", testid: "account-signout", onClick: () => app.logout() }, "Sign out"),
      ),
    ],
  });
  // Sessions ended elsewhere (another device signed out everywhere): the list follows.
  const stop = chat.listen((what) => {
    if (what === "sessions") loadSessions();
  });
  dlg.addEventListener("close", stop);
  loadSessions();
  name.focus();
}

function sessionItem(app, s, reload, errEl) {
  const revoke = s.current
    ? h("span", { class: "session-here", testid: "session-current" }, "This device")
    : h(
        "button",
        {
          class: "button secondary small",
          type: "button",
          testid: "session-revoke",
          onClick: async (ev) => {
            ev.currentTarget.disabled = true;
            errEl.textContent = "";
            try {
              await app.api.del(`/api/sessions/${seg(s.id)}`);
              app.toasts.show("Session revoked: that device is signed out.");
            } catch (err) {
              errEl.textContent = err.message;
            }
            reload();
          },
        },
        "Revoke",
      );
  return h(
    "li",
    { class: `session-item${s.current ? " current" : ""}`, testid: "session-item", dataset: { session: s.id, current: String(s.current) } },
    h(
      "div",
      { class: "session-text" },
      h("div", { class: "session-device", title: s.device }, deviceLabel(s.device)),
      h("div", { class: "session-meta" }, `${s.address || "unknown address"} · last used ${ago(s.last_used_at)}`),
    ),
    revoke,
  );
}

/** "Chrome on Linux" from a User-Agent (the whole of it in the tooltip). */
export function deviceLabel(ua) {
  const s = String(ua || "");
  if (!s) return "Unknown device";
  const browser = /Edg\//.test(s)
    ? "Edge"
    : /Firefox\//.test(s)
      ? "Firefox"
      : /Chrom(e|ium)\//.test(s)
        ? "Chrome"
        : /Safari\//.test(s)
          ? "Safari"
          : s.split(/[\s/]/)[0];
  const os = /Android/.test(s)
    ? "Android"
    : /iPhone|iPad/.test(s)
      ? "iOS"
      : /Windows/.test(s)
        ? "Windows"
        : /Mac OS X|Macintosh/.test(s)
          ? "macOS"
          : /Linux|X11/.test(s)
            ? "Linux"
            : "";
  return os ? `${browser} on ${os}` : browser;
}

function ago(ms) {
  const d = Date.now() - ms;
  if (d < 90 * 1000) return "just now";
  if (d < 3600 * 1000) return `${Math.round(d / 60000)} minutes ago`;
  return whenLabel(ms);
}
