// The open channel's details, from its header: who is in it (with their
// custom status), what is pinned there and, for a channel (not a DM),
// setting the topic, adding people, its settings (channel-settings.js),
// taking people out (its admins) and leaving (asked first for a private
// channel: coming back takes an invite).

import { seg } from "./api.js";
import { channelSettings } from "./channel-settings.js";
import { confirmDialog } from "./dialog.js";
import { h, setChildren } from "./dom.js";
import { avatar } from "./avatar.js";
import { pinnedList, showPinned } from "./pins.js";
import { statusOfMark } from "./status.js";

export async function openDetails(app) {
  const ch = app.currentChannel();
  if (!ch) return;
  const me = app.user.username;
  const members = h("ul", { class: "member-list", testid: "member-list" }, h("li", { class: "pick-empty" }, "Loading…"));
  const parts = [];
  if (ch.archived) {
    parts.push(h("p", { class: "archived-note", testid: "details-archived" }, "This channel is archived: read-only."));
  }
  if (!ch.isDM && !ch.archived) {
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
  if (!ch.isDM) {
    parts.push(...channelSettings(app, ch, { onRenamed: () => openDetails(app) }));
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
              // A private channel takes an invite to come back: asked first.
              if (ch.kind === "private") {
                const sure = await confirmDialog({
                  title: `Leave #${ch.name}?`,
                  message: `#${ch.name} is private. You will need an invite to come back.`,
                  confirm: "Leave",
                  danger: true,
                  testid: "leave-confirm",
                });
                if (!sure || !dlg.open) return;
              }
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
  let names = [];
  const draw = () => {
    const may = app.mayManage(ch);
    setChildren(
      members,
      names.map((n) => {
        const display = app.chat.displayName(n);
        return h(
          "li",
          { class: "member-item", testid: "member-item", dataset: { username: n } },
          avatar(n, display, "avatar avatar-sm"),
          h("span", { class: "member-name" }, h("span", { testid: "member-name" }, display), display !== n ? h("span", { class: "muted" }, ` @${n}`) : null, statusOfMark(app.chat, n)),
          n === me ? h("span", { class: "muted" }, " (you)") : null,
          may && n !== me
            ? h(
                "button",
                {
                  class: "button secondary small member-remove",
                  type: "button",
                  testid: "member-remove",
                  title: `Remove @${n} from #${ch.name}`,
                  onClick: async (ev) => {
                    ev.currentTarget.disabled = true;
                    try {
                      const body = await app.api.del(`/api/channels/${seg(ch.name)}/members/${seg(n)}`);
                      ch.update(body);
                      app.changed("channels", ch.name);
                      app.toasts.show(`Removed @${n} from #${ch.name}.`);
                      loadMembers();
                    } catch (err) {
                      app.toasts.show(err.message, "error");
                      loadMembers();
                    }
                  },
                },
                "Remove",
              )
            : null,
        );
      }),
    );
  };
  const loadMembers = async () => {
    try {
      ({ members: names } = await app.api.get(`/api/channels/${seg(ch.name)}/members`));
      draw();
      // Their display names and custom statuses (the first 100; each asked once).
      const unknown = names.slice(0, 100).filter((n) => !app.chat.people.has(n) || app.chat.people.get(n).role === undefined);
      if (unknown.length) app.chat.lookUpFull(unknown).then(() => dlg.open && draw());
    } catch (err) {
      setChildren(members, h("li", { class: "pick-empty" }, err.message));
    }
  };
  loadMembers();
  // Whether you are its admin, where the app has not been told yet (a channel
  // joined or made in this tab): asked, and the details redrawn if you are.
  if (!ch.isDM && ch.isAdmin === undefined) {
    app.api
      .get(`/api/channels/${seg(ch.name)}`)
      .then((view) => {
        const was = app.mayManage(ch);
        ch.update({ is_admin: view.is_admin === true });
        if (app.mayManage(ch) !== was && dlg.open) openDetails(app);
      })
      .catch(() => {});
  }
  // Someone joined or left (or was taken out) while it is open: the list follows.
  let again = 0;
  const stop = app.chat.listen((what, name) => {
    if (what !== "members" || name !== ch.name) return;
    clearTimeout(again);
    again = setTimeout(loadMembers, 100);
  });
  dlg.addEventListener("close", () => {
    stop();
    clearTimeout(again);
  });
}
