// A channel's settings, in its details: its purpose (any member), its name
// and whether it is archived (its admins and workspace admins), and whether
// new accounts join it (workspace admins, public channels). A rename keeps
// the channel open with its history: the app moves what it keeps under the
// old name (chat.renamed), as it does when someone else renames it.

import { seg } from "./api.js";
import { h } from "./dom.js";

const NAME_RE = /^[a-z0-9][a-z0-9_-]{0,79}$/;
const MAX_PURPOSE = 250;

/** The settings of `ch` as nodes for the details dialog; `onRenamed(name)`
 * after a rename of yours. */
export function channelSettings(app, ch, { onRenamed }) {
  const parts = [];
  const apply = (body) => {
    ch.update(body);
    app.changed("channels", ch.name);
    app.changed("members", ch.name);
  };
  const patch = (body) => app.api.patch(`/api/channels/${seg(ch.name)}`, body);

  // --- purpose -------------------------------------------------------------------
  if (!ch.archived) {
    const purpose = h("input", {
      class: "input",
      testid: "purpose-input",
      value: ch.purpose,
      maxlength: String(MAX_PURPOSE),
      placeholder: "What is this channel for?",
      "aria-label": "Purpose",
    });
    const err = h("p", { class: "form-error", testid: "purpose-error", role: "alert" });
    parts.push(
      h(
        "form",
        {
          class: "form inline-form",
          onSubmit: async (ev) => {
            ev.preventDefault();
            err.textContent = "";
            try {
              apply(await patch({ purpose: purpose.value.trim() }));
              app.toasts.show("Purpose updated.");
            } catch (e) {
              err.textContent = e.message;
            }
          },
        },
        h("label", { class: "field" }, h("span", null, "Purpose"), h("div", { class: "row" }, purpose, h("button", { class: "button secondary", type: "submit", testid: "purpose-save" }, "Save"))),
        err,
      ),
    );
  } else if (ch.purpose) {
    parts.push(h("div", { class: "field" }, h("span", null, "Purpose"), h("p", { class: "muted", testid: "purpose-text" }, ch.purpose)));
  }

  // Its admins' (the server says `is_admin`) and workspace admins' part only.
  if (!app.mayManage(ch)) return parts;

  parts.push(h("h3", { class: "subhead" }, "Settings"));

  // --- rename --------------------------------------------------------------------
  const name = h("input", {
    class: "input",
    testid: "rename-input",
    value: ch.name,
    maxlength: "80",
    autocomplete: "off",
    spellcheck: "false",
    "aria-label": "Channel name",
  });
  name.addEventListener("input", () => {
    const pos = name.selectionStart;
    name.value = name.value.toLowerCase().replace(/\s/g, "-");
    name.setSelectionRange(pos, pos);
  });
  const renameErr = h("p", { class: "form-error", testid: "rename-error", role: "alert" });
  parts.push(
    h(
      "form",
      {
        class: "form inline-form",
        testid: "rename-form",
        onSubmit: async (ev) => {
          ev.preventDefault();
          renameErr.textContent = "";
          const want = name.value.trim().replace(/^#/, "");
          if (want === ch.name) return;
          if (!NAME_RE.test(want)) {
            renameErr.textContent = "Use 1-80 lowercase letters, digits, '-' or '_'.";
            return;
          }
          const old = ch.name;
          try {
            const body = await patch({ name: want });
            app.chat.renamed(old, body.name);
            apply(body);
            app.toasts.show(`#${old} is now #${body.name}.`);
            onRenamed(body.name);
          } catch (e) {
            renameErr.textContent =
              e.code === "conflict"
                ? `#${want} is taken: another channel has (or had) that name.`
                : e.code === "invalid_name"
                  ? "Use 1-80 lowercase letters, digits, '-' or '_'."
                  : e.message;
          }
        },
      },
      h("label", { class: "field" }, h("span", null, "Name"), h("div", { class: "row" }, name, h("button", { class: "button secondary", type: "submit", testid: "rename-save" }, "Rename"))),
      renameErr,
    ),
  );

  // --- default ---------------------------------------------------------------------
  if (app.isAdmin() && ch.kind === "public") {
    const box = h("input", { type: "checkbox", testid: "channel-default", checked: ch.isDefault });
    box.addEventListener("change", async () => {
      box.disabled = true;
      try {
        apply(await patch({ default: box.checked }));
        app.toasts.show(box.checked ? `New members join #${ch.name}.` : `New members no longer join #${ch.name}.`);
      } catch (e) {
        box.checked = !box.checked;
        app.toasts.show(e.message, "error");
      } finally {
        box.disabled = false;
      }
    });
    parts.push(
      h(
        "label",
        { class: "check" },
        box,
        h("span", null, h("strong", null, "New members join this channel"), h("br"), h("small", null, "Every account made from now on starts in it.")),
      ),
    );
  }

  // --- archive -----------------------------------------------------------------------
  const archive = h(
    "button",
    {
      class: ch.archived ? "button secondary" : "button danger",
      type: "button",
      testid: ch.archived ? "unarchive-channel" : "archive-channel",
      onClick: async () => {
        archive.disabled = true;
        try {
          const body = await patch({ archived: !ch.archived });
          apply(body);
          app.toasts.show(body.archived ? `#${ch.name} is archived: read-only from now on.` : `#${ch.name} is no longer archived.`);
          onRenamed(ch.name); // redraw the details as they are now
        } catch (e) {
          archive.disabled = false;
          app.toasts.show(e.message, "error");
        }
      },
    },
    ch.archived ? "Unarchive channel" : "Archive channel",
  );
  parts.push(
    h(
      "div",
      { class: "settings-row" },
      h("span", { class: "hint" }, ch.archived ? "Archived: read-only, and hidden from the channel list." : "Archiving makes it read-only; its history stays."),
      archive,
    ),
  );
  return parts;
}
