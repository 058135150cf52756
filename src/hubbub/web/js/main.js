// Entry point: the sign-in / sign-up screen, then the app. The token lives in
// sessionStorage: it is kept for this tab only and dropped on sign-out.

import { Api, ApiError } from "./api.js";
import { startApp } from "./app.js";
import { h, setChildren } from "./dom.js";
import { watchEmojiFont } from "./emoji.js";

const TOKEN_KEY = "hubbub.token";
const root = document.getElementById("root");
let app = null;

/** What the server lets a visitor do (`GET /api/workspace`): who may sign up,
 * and whether it has an owner yet; null if it could not be read. */
let workspace = null;
let authShown = 0; // which showAuth() is the latest (an older one's fetch is dropped)

async function loadWorkspace() {
  try {
    workspace = await new Api().get("/api/workspace");
  } catch {
    workspace = null; // unknown: offer both, and let the server say no
  }
  return workspace;
}

/** The code of an invite link (`#/invite/<code>`), or null. */
function inviteCode() {
  const m = location.hash.match(/^#\/invite\/([^/?#]+)$/);
  if (!m) return null;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return null;
  }
}

/** The sign-in screen (`message`: why you are here, e.g. signed out by an
 * admin); `mode` "register" for the sign-up form where sign-up is allowed:
 * open registration, a new workspace (its first account is the owner's), or
 * an invite link. `refresh`: read the workspace's rules again. */
async function showAuth(message = null, mode = null, refresh = true) {
  app = null;
  const shown = ++authShown;
  document.title = "Sign in · hubbub";
  if (refresh || !workspace) {
    if (!root.querySelector("[data-testid=auth]")) {
      setChildren(root, h("div", { class: "boot" }, h("span", { class: "spinner" }), "Loading…"));
    }
    await loadWorkspace();
    if (shown !== authShown || app) return;
  }
  const invite = inviteCode();
  const setup = !!(workspace && workspace.setup);
  const registration = workspace ? workspace.registration : "open";
  const mayRegister = !!invite || setup || registration === "open";
  if (mode === null) mode = invite ? "register" : "login";
  if (!mayRegister) mode = "login";
  const register = mode === "register";
  const username = h("input", {
    class: "input",
    testid: "auth-username",
    name: "username",
    autocomplete: "username",
    autocapitalize: "none",
    spellcheck: "false",
    required: true,
    "aria-label": "Username",
  });
  const display = h("input", {
    class: "input",
    testid: "auth-display-name",
    name: "display_name",
    autocomplete: "name",
    maxlength: "80",
    "aria-label": "Display name",
  });
  const password = h("input", {
    class: "input",
    testid: "auth-password",
    type: "password",
    name: "password",
    autocomplete: register ? "new-password" : "current-password",
    required: true,
    minlength: register ? "8" : null,
    "aria-label": "Password",
  });
  const error = h("p", { class: "form-error", testid: "auth-error", role: "alert" }, message || "");
  const submit = h("button", { class: "button button-wide", type: "submit", testid: "auth-submit" }, register ? "Create account" : "Sign in");
  const form = h(
    "form",
    {
      class: "form auth-form",
      testid: "auth-form",
      dataset: { mode },
      onSubmit: async (ev) => {
        ev.preventDefault();
        error.textContent = "";
        submit.disabled = true;
        const body = { username: username.value.trim().toLowerCase(), password: password.value };
        if (register && display.value.trim()) body.display_name = display.value.trim();
        if (register && invite) body.invite = invite;
        try {
          const res = await new Api().post(register ? "/api/auth/register" : "/api/auth/login", body);
          sessionStorage.setItem(TOKEN_KEY, res.token);
          if (inviteCode() !== null) history.replaceState(null, "", location.pathname + location.search);
          enter(res.token, res.user);
        } catch (err) {
          submit.disabled = false;
          error.textContent = friendly(err, register);
        }
      },
    },
    h("label", { class: "field" }, h("span", null, "Username"), username),
    register ? h("label", { class: "field" }, h("span", null, "Display name ", h("small", null, "(optional)")), display) : null,
    h("label", { class: "field" }, h("span", null, "Password"), password),
    error,
    submit,
  );
  let heading = "Sign in to hubbub";
  let lead = "Welcome back. Chat is waiting.";
  if (register && setup) {
    heading = "Set up your workspace";
    lead = "You are setting up this workspace: the first account is its owner's. Pick a username: lowercase letters, digits, '.', '_' or '-'.";
  } else if (register && invite) {
    heading = "You were invited";
    lead = "Create your account to join. Pick a username: lowercase letters, digits, '.', '_' or '-'.";
  } else if (register) {
    heading = "Create your account";
    lead = "Pick a username: lowercase letters, digits, '.', '_' or '-'.";
  }
  let footer;
  if (mayRegister) {
    footer = h(
      "p",
      { class: "auth-switch" },
      register ? "Already have an account? " : setup ? "No one has signed up yet. " : "New here? ",
      h(
        "button",
        {
          class: "link-button",
          type: "button",
          testid: "auth-toggle",
          onClick: () => showAuth(null, register ? "login" : "register", false),
        },
        register ? "Sign in" : setup ? "Set up this workspace" : invite ? "Accept your invite" : "Create an account",
      ),
    );
  } else {
    footer = h(
      "p",
      { class: "auth-switch", testid: "auth-no-signup", dataset: { registration } },
      registration === "invite"
        ? "Sign-up here is by invitation: open the invite link an admin sent you."
        : "Accounts here are made by an admin: ask one for an account.",
    );
  }
  setChildren(
    root,
    h(
      "div",
      { class: "auth", testid: "auth", dataset: { registration, setup: String(setup), invited: invite ? "true" : null } },
      h(
        "div",
        { class: "auth-card" },
        h("div", { class: "auth-logo" }, h("span", { class: "logo-mark" }, "h"), h("span", null, "hubbub")),
        h("h1", null, heading),
        h("p", { class: "muted", testid: "auth-lead" }, lead),
        form,
        footer,
      ),
    ),
  );
  username.focus();
}

function friendly(err, register) {
  if (!(err instanceof ApiError)) return String(err.message || err);
  switch (err.code) {
    case "bad_credentials":
      return "Wrong username or password.";
    case "conflict":
      return "That username is taken.";
    case "weak_password":
      return "Use a password of at least 8 characters.";
    case "invalid_name":
      return "Usernames are 2-32 characters: lowercase letters, digits, '.', '_' or '-'.";
    case "login_throttled":
      return "Too many failed attempts. Wait a few minutes and try again.";
    case "account_deactivated":
      return "This account was deactivated by an admin.";
    case "invite_invalid":
      return `This invite link can't be used: ${err.message}.`;
    case "registration_closed":
      return `You can't sign up here: ${err.message}.`;
    default:
      return err.message || (register ? "Could not create the account." : "Could not sign in.");
  }
}

function enter(token, user) {
  app = startApp(root, {
    token,
    user,
    onSignedOut: (reason) => {
      sessionStorage.removeItem(TOKEN_KEY);
      app = null;
      history.replaceState(null, "", location.pathname + location.search);
      showAuth(reason);
    },
  });
}

async function boot() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) {
    showAuth();
    return;
  }
  setChildren(root, h("div", { class: "boot" }, h("span", { class: "spinner" }), "Loading hubbub…"));
  for (let attempt = 0; ; attempt++) {
    try {
      const user = await new Api({ token }).get("/api/me");
      enter(token, user);
      return;
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        sessionStorage.removeItem(TOKEN_KEY);
        showAuth("Your session has ended. Please sign in again.");
        return;
      }
      // The server is unreachable: keep trying, with backoff.
      setChildren(root, h("div", { class: "boot" }, h("span", { class: "spinner" }), "Cannot reach the server. Retrying…"));
      await new Promise((r) => setTimeout(r, Math.min(10000, 500 * 2 ** attempt) * (0.5 + Math.random() / 2)));
    }
  }
}

// An invite link opened in this tab while it shows the sign-in screen.
window.addEventListener("hashchange", () => {
  if (!app && inviteCode() !== null) showAuth(null, "register", false);
});

watchEmojiFont();
boot();
