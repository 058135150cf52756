// The bar above the messages: which channel or conversation is open, its topic
// (or the partner's presence) and member count, both of which open its details,
// its pinned messages, the search box (search.js), and the menu button that shows the sidebar on narrow
// screens. It also keeps the tab's title, with your mention total, in step
// with the open channel.

import { openDetails } from "./details.js";
import { openChannelNotifications } from "./notifications.js";
import { h, icon, setChildren } from "./dom.js";
import { moreIcon } from "./message.js";
import { presenceDot } from "./people.js";
import { statusOfMark } from "./status.js";
import { openPins } from "./pins.js";

export class Header {
  constructor(app) {
    this.app = app;
    this.title = h("h1", { class: "channel-title", testid: "channel-title" });
    this.topic = h("button", {
      class: "channel-topic",
      testid: "channel-topic",
      type: "button",
      onClick: () => openDetails(app),
    });
    this.pins = h(
      "button",
      {
        class: "member-count pins-button",
        testid: "pins-button",
        type: "button",
        title: "Pinned messages",
        "aria-label": "Pinned messages",
        onClick: () => openPins(app),
      },
      moreIcon("pin"),
    );
    // Your notification level and mute for the open channel.
    this.notify = h(
      "button",
      {
        class: "member-count notify-button",
        testid: "channel-notify-button",
        type: "button",
        title: "Notifications",
        "aria-label": "Notification settings",
        onClick: () => {
          const ch = app.currentChannel();
          if (ch) openChannelNotifications(app, ch);
        },
      },
    );
    this.memberCount = h("button", {
      class: "member-count",
      testid: "member-count",
      type: "button",
      title: "Members",
      onClick: () => openDetails(app),
    });
    this.el = h(
      "header",
      { class: "channel-header" },
      h(
        "button",
        {
          class: "icon-btn sidebar-toggle",
          testid: "sidebar-toggle",
          type: "button",
          "aria-label": "Show channels",
          onClick: () => app.toggleSidebar(),
        },
        icon("menu"),
      ),
      h("div", { class: "channel-heading" }, this.title, this.topic),
      app.search.box,
      this.pins,
      this.notify,
      this.memberCount,
    );
  }

  render() {
    const { chat, user } = this.app;
    const ch = this.app.currentChannel();
    if (!ch) {
      setChildren(this.title, chat.ready ? "No channel" : "hubbub");
      setChildren(this.topic);
      this.topic.hidden = true;
      this.memberCount.hidden = true;
      this.pins.hidden = true;
      this.notify.hidden = true;
      document.title = "hubbub";
      return;
    }
    const me = user.username;
    if (ch.isDM) {
      const partners = ch.partners(me);
      setChildren(
        this.title,
        partners.length === 1 ? presenceDot(chat.presence.get(partners[0])) : null,
        h("span", null, ch.label(me)),
        partners.length === 1 ? statusOfMark(chat, partners[0]) : null,
      );
      const status =
        partners.length === 1
          ? chat.presence.get(partners[0]) === "online"
            ? "Active now"
            : "Away"
          : `Group conversation with ${partners.length} people`;
      setChildren(this.topic, status);
      this.topic.classList.remove("placeholder");
    } else {
      setChildren(
        this.title,
        icon(ch.kind === "private" ? "lock" : "hash", "icon title-icon"),
        h("span", null, ch.name),
        ch.archived ? h("span", { class: "archived-tag", testid: "archived-tag" }, "archived") : null,
      );
      if (ch.topic) {
        setChildren(this.topic, ch.topic);
        this.topic.classList.remove("placeholder");
      } else {
        setChildren(this.topic, "Add a topic");
        this.topic.classList.add("placeholder");
      }
    }
    this.topic.hidden = false;
    this.memberCount.hidden = false;
    this.pins.hidden = false;
    this.notify.hidden = false;
    setChildren(this.notify, icon(ch.muted || ch.notify === "nothing" ? "bell-off" : "bell"));
    this.notify.dataset.muted = String(ch.muted);
    this.notify.dataset.level = ch.notify;
    this.notify.title = ch.muted ? "Muted: notifications" : `Notifications: ${ch.notify === "all" ? "all messages" : ch.notify}`;
    setChildren(
      this.memberCount,
      icon("user"),
      h("span", { testid: "member-count-value" }, String(ch.memberCount)),
      h("span", { class: "sr-only" }, ch.memberCount === 1 ? " member" : " members"),
    );
    this.memberCount.title = `${ch.memberCount} ${ch.memberCount === 1 ? "member" : "members"}`;
    const total = [...chat.channels.values()].reduce((n, c) => n + (c.mentions || 0), 0);
    document.title = `${total ? `(${total}) ` : ""}${ch.isDM ? ch.label(me) : `#${ch.name}`} · hubbub`;
  }
}
