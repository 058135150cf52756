// The open channel's details, from its header: who is in it, what is pinned
// there and, for a channel (not a DM), setting the topic, adding people and
// leaving.

import { seg } from "./api.js";
import { h, setChildren } from "./dom.js";
import { avatar } from "./people.js";
import { pinnedList, showPinned } from "./pins.js";

export async function openDetails(app) {
  const ch = app.currentChannel();
  if (!ch) return;
  const me = app.user.username;
  const members = h("ul", { class: "member-list", testid: "member-list" }, h("li", { class: "pick-empty" }, "Loading…"));
  const parts = [];
  if (!ch.isDM) {
    const topic = h("input", { class: "input", testid: "topic-input", value: ch.topic, maxlength: "250", "aria-label": "Topic" });
    const topicErr = h("p", { class: "form-error", role: "alert" });
    parts.push(
      h(
        "form",
        {
          class: "form inline-form",
          onSubmit: async (ev) => {
            ev.preventDefault();
            try {
              const body = await app.api.put(`/api/channels/${seg(ch.name)}/topic`, { topic: topic.value.trim() });
              ch.update(body);
              app.changed("channels", ch.name);
              app.toasts.show("Topic updated.");
            } catch (err) {
              topicErr.textContent = err.message;
            }
          },
        },
        h("label", { class: "field" }, h("span", null, "Topic"), h("div", { class: "row" }, topic, h("button", { class: "button secondary", type: "submit", testid: "topic-save" }, "Save"))),
        topicErr,
      ),
    );
    const invite = h("input", { class: "input", testid: "invite-username", placeholder: "username", autocomplete: "off", "aria-label": "Username to add" });
    const inviteErr = h("p", { class: "form-error", role: "alert" });
    parts.push(
      h(
        "form",
        {
          class: "form inline-form",
          onSubmit: async (ev) => {
            ev.preventDefault();
            const who = invite.value.trim().replace(/^@/, "").toLowerCase();
            if (!who) return;
            try {
              const body = await app.api.post(`/api/channels/${seg(ch.name)}/invite`, { username: who });
              ch.update(body);
              app.changed("channels", ch.name);
              invite.value = "";
              inviteErr.textContent = "";
              loadMembers();
            } catch (err) {
              inviteErr.textContent = err.message;
            }
          },
        },
        h("label", { class: "field" }, h("span", null, "Add people"), h("div", { class: "row" }, invite, h("button", { class: "button secondary", type: "submit", testid: "invite-submit" }, "Add"))),
        inviteErr,
      ),
    );
  }
  parts.push(
    h("h3", { class: "subhead" }, "Pinned"),
    pinnedList(app, ch, (m) => {
      dlg.close();
      showPinned(app, m);
    }),
  );
  parts.push(h("h3", { class: "subhead" }, "Members"), members);
  if (!ch.isDM) {
    parts.push(
      h(
        "div",
        { class: "dialog-actions" },
        h(
          "button",
          {
            class: "button danger",
            type: "button",
            testid: "leave-channel",
            onClick: async () => {
              try {
                await app.api.post(`/api/channels/${seg(ch.name)}/leave`);
                dlg.close();
              } catch (err) {
                app.toasts.show(err.message, "error");
              }
            },
          },
          `Leave #${ch.name}`,
        ),
      ),
    );
  }
  const dlg = app.dialog({ title: ch.isDM ? ch.label(me) : `#${ch.name}`, testid: "details-dialog", body: parts });
  const loadMembers = async () => {
    try {
      const { members: names } = await app.api.get(`/api/channels/${seg(ch.name)}/members`);
      setChildren(
        members,
        names.map((n) => h("li", { class: "member-item", testid: "member-item" }, avatar(n, n, "avatar avatar-sm"), h("span", null, n), n === me ? h("span", { class: "muted" }, " (you)") : null)),
      );
    } catch (err) {
      setChildren(members, h("li", { class: "pick-empty" }, err.message));
    }
  };
  loadMembers();
}
