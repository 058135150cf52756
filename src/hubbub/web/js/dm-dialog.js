// "New message": start a direct message with one person or a group
// conversation with several, by username.

import { h } from "./dom.js";

export function openDM(app) {
  const input = h("input", {
    class: "input",
    testid: "dm-usernames",
    placeholder: "usernames, e.g. alice, bob",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    "aria-label": "Usernames",
  });
  const error = h("p", { class: "form-error", testid: "dm-error", role: "alert" });
  const submit = h("button", { class: "button", type: "submit", testid: "dm-submit" }, "Start conversation");
  const form = h(
    "form",
    {
      class: "form",
      onSubmit: async (ev) => {
        ev.preventDefault();
        const names = [...new Set(input.value.split(/[\s,]+/).map((s) => s.trim().replace(/^@/, "").toLowerCase()).filter(Boolean))];
        if (!names.length) {
          error.textContent = "Enter at least one username.";
          return;
        }
        submit.disabled = true;
        try {
          const body = await app.api.post("/api/dms", { usernames: names });
          app.chat.addChannel(body);
          dlg.close();
          app.openChannel(body.name, true);
        } catch (err) {
          error.textContent = err.message;
          submit.disabled = false;
        }
      },
    },
    h("label", { class: "field" }, h("span", null, "To"), input),
    h("p", { class: "hint" }, "One username for a direct message, several for a group (up to 8)."),
    error,
    h("div", { class: "dialog-actions" }, submit),
  );
  const dlg = app.dialog({ title: "New message", testid: "dm-dialog", body: form });
  input.focus();
}
