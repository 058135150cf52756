// Entry point: the sign-in / sign-up screen, then the app. The token lives in
// sessionStorage: it is kept for this tab only and dropped on sign-out.

import { Api, ApiError } from "./api.js";
import { startApp } from "./app.js";
import { h, setChildren } from "./dom.js";
import { watchEmojiFont } from "./emoji.js";

const TOKEN_KEY = "hubbub.token";
const root = document.getElementById("root");
let app = null;

function showAuth(message = null, mode = "login") {
  if (app) {
    app = null;
  }
  document.title = "Sign in · hubbub";
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
        try {
          const res = await new Api().post(register ? "/api/auth/register" : "/api/auth/login", body);
          sessionStorage.setItem(TOKEN_KEY, res.token);
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
  setChildren(
    root,
    h(
      "div",
      { class: "auth", testid: "auth" },
      h(
        "div",
        { class: "auth-card" },
        h("div", { class: "auth-logo" }, h("span", { class: "logo-mark" }, "h"), h("span", null, "hubbub")),
        h("h1", null, register ? "Create your account" : "Sign in to hubbub"),
        h("p", { class: "muted" }, register ? "Pick a username: lowercase letters, digits, '.', '_' or '-'." : "Welcome back. Chat is waiting."),
        form,
        h(
          "p",
          { class: "auth-switch" },
          register ? "Already have an account? " : "New here? ",
          h(
            "button",
            {
              class: "link-button",
              type: "button",
              testid: "auth-toggle",
              onClick: () => showAuth(null, register ? "login" : "register"),
            },
            register ? "Sign in" : "Create an account",
          ),
        ),
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

watchEmojiFont();
boot();
