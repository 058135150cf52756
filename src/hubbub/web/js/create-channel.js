// "Create a channel": checks the name the way the server will before sending
// it (and turns spaces into dashes as you type), then opens the new channel.

import { h } from "./dom.js";

const NAME_RE = /^[a-z0-9][a-z0-9_-]{0,79}$/;

export function openCreate(app) {
  const name = h("input", {
    class: "input",
    testid: "create-name",
    placeholder: "e.g. plan-budget",
    maxlength: "80",
    autocomplete: "off",
    required: true,
    "aria-label": "Name",
  });
  name.addEventListener("input", () => {
    const pos = name.selectionStart;
    name.value = name.value.toLowerCase().replace(/\s/g, "-");
    name.setSelectionRange(pos, pos);
  });
  const topic = h("input", { class: "input", testid: "create-topic", maxlength: "250", placeholder: "What is it about? (optional)", "aria-label": "Topic" });
  const priv = h("input", { type: "checkbox", testid: "create-private" });
  const error = h("p", { class: "form-error", testid: "create-error", role: "alert" });
  const submit = h("button", { class: "button", type: "submit", testid: "create-submit" }, "Create");
  const form = h(
    "form",
    {
      class: "form",
      onSubmit: async (ev) => {
        ev.preventDefault();
        const n = name.value.trim().replace(/^#/, "");
        if (!NAME_RE.test(n)) {
          error.textContent = "Use 1-80 lowercase letters, digits, '-' or '_'.";
          return;
        }
        submit.disabled = true;
        try {
          const body = await app.api.post("/api/channels", { name: n, topic: topic.value.trim(), private: priv.checked });
          // You made it: you are its admin (the answer may not say so).
          app.chat.addChannel(typeof body.is_admin === "boolean" ? body : { ...body, is_admin: true });
          dlg.close();
          app.openChannel(body.name, true);
        } catch (err) {
          error.textContent = err.code === "conflict" ? `#${n} already exists.` : err.message;
          submit.disabled = false;
        }
      },
    },
    h("label", { class: "field" }, h("span", null, "Name"), name),
    h("label", { class: "field" }, h("span", null, "Topic"), topic),
    h(
      "label",
      { class: "check" },
      priv,
      h("span", null, h("strong", null, "Make private"), h("br"), h("small", null, "Only people you invite can see or find it.")),
    ),
    error,
    h("div", { class: "dialog-actions" }, submit),
  );
  const dlg = app.dialog({ title: "Create a channel", testid: "create-dialog", body: form });
  name.focus();
}
