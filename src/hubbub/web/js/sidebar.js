// The left column: "Threads" (the threads you follow, with how many have
// unread replies), every channel and conversation you are in, with their
// unread and mention badges (and a DM partner's presence), the ways to find,
// create or start more, and who you are signed in as (with your custom
// status), which opens your menu: your account, the workspace's
// administration for its owners and admins, signing out.

import { openBrowse } from "./browse.js";
import { openCreate } from "./create-channel.js";
import { openDM } from "./dm-dialog.js";
import { dndLabel } from "./notifications.js";
import { h, icon, setChildren } from "./dom.js";
import { moreIcon } from "./message.js";
import { avatar } from "./avatar.js";
import { presenceDot } from "./people.js";
import { statusOfMark, statusSig } from "./status.js";
import { openSwitcher } from "./switcher.js";
import { openThreadsView } from "./threads-view.js";
import { openUserMenu } from "./user-menu.js";

export class Sidebar {
  constructor(app) {
    this.app = app;
    const user = app.user;
    this.channelList = h("ul", { class: "nav-list", testid: "channel-list" });
    this.dmList = h("ul", { class: "nav-list", testid: "dm-list" });
    this.meStatus = h("span", { class: "presence me-presence", testid: "me-status", dataset: { status: "offline" } });
    this.threadsBadge = h("span", { class: "badge badge-unread", testid: "threads-badge", title: "Threads with unread replies", hidden: true });
    this.threads = h(
      "button",
      { class: "nav-action nav-threads", testid: "threads-nav", type: "button", onClick: () => openThreadsView(app) },
      moreIcon("thread"),
      h("span", { class: "nav-label" }, "Threads"),
      this.threadsBadge,
    );
    this.meAvatar = h("span", { class: "me-avatar" }, avatar(user.username, user.display_name, "avatar avatar-sm"));
    this.meName = h("span", { class: "me-name-text", testid: "me-name" }, user.display_name);
    this.meMark = h("span", { class: "me-status" });
    // While do-not-disturb is on (snoozed or your schedule): "z" by your name.
    this.dndMark = h("span", { class: "dnd-mark", testid: "dnd-indicator", hidden: true }, "z");
    this.meSig = null;
    this.meButton = h(
      "button",
      {
        class: "me-button",
        testid: "user-menu",
        type: "button",
        title: "Your account",
        "aria-haspopup": "menu",
        onClick: () => openUserMenu(app, this.footer),
      },
      this.meAvatar,
      h(
        "span",
        { class: "me-text" },
        h("span", { class: "me-name" }, this.meName, this.meMark, this.dndMark),
        h("span", { class: "me-handle" }, this.meStatus, h("span", { testid: "me-username" }, `@${user.username}`)),
      ),
    );
    this.footer = h(
      "footer",
      { class: "me", testid: "me" },
      this.meButton,
      h(
        "button",
        {
          class: "icon-btn",
          testid: "logout",
          type: "button",
          title: "Sign out",
          "aria-label": "Sign out",
          onClick: () => app.logout(),
        },
        icon("logout"),
      ),
    );
    this.el = h(
      "aside",
      { class: "sidebar", testid: "sidebar", "aria-label": "Channels" },
      h(
        "header",
        { class: "workspace" },
        h("div", { class: "workspace-name" }, "hubbub"),
        h(
          "button",
          {
            class: "jump-button",
            testid: "open-switcher",
            type: "button",
            title: "Jump to a channel (Ctrl+K)",
            onClick: () => openSwitcher(app),
          },
          icon("search"),
          h("span", null, "Jump to…"),
          h("kbd", null, navigator.platform.startsWith("Mac") ? "⌘K" : "Ctrl K"),
        ),
      ),
      h(
        "nav",
        { class: "nav" },
        this.threads,
        h(
          "button",
          { class: "nav-action", testid: "browse-channels", type: "button", onClick: () => openBrowse(app) },
          icon("compass"),
          h("span", null, "Browse channels"),
        ),
        h(
          "div",
          { class: "nav-section" },
          h("span", { class: "nav-heading" }, "Channels"),
          h(
            "button",
            {
              class: "icon-btn nav-add",
              testid: "create-channel",
              type: "button",
              title: "Create a channel",
              "aria-label": "Create a channel",
              onClick: () => openCreate(app),
            },
            icon("plus"),
          ),
        ),
        this.channelList,
        h(
          "div",
          { class: "nav-section" },
          h("span", { class: "nav-heading" }, "Direct messages"),
          h(
            "button",
            {
              class: "icon-btn nav-add",
              testid: "new-dm",
              type: "button",
              title: "New direct message",
              "aria-label": "New direct message",
              onClick: () => openDM(app),
            },
            icon("plus"),
          ),
        ),
        this.dmList,
      ),
      this.footer,
    );
  }

  render() {
    const { chat, user } = this.app;
    const online = chat.connection === "open";
    const sig = `${user.display_name}|${statusSig(chat, user.username)}`;
    if (sig !== this.meSig) {
      this.meSig = sig;
      this.meName.textContent = user.display_name;
      this.meAvatar.replaceChildren(avatar(user.username, user.display_name, "avatar avatar-sm"));
      this.meMark.replaceChildren(...[statusOfMark(chat, user.username)].filter(Boolean));
    }
    const dnd = dndLabel(chat.notifySettings);
    this.dndMark.hidden = !dnd;
    this.dndMark.title = dnd;
    this.meStatus.dataset.status = online ? "online" : "offline";
    this.meStatus.title = online ? "Connected" : "Not connected";
    const unreadThreads = chat.unreadThreads();
    this.threadsBadge.textContent = String(unreadThreads);
    this.threadsBadge.hidden = unreadThreads === 0;
    this.threads.classList.toggle("unread", unreadThreads > 0);
    this.threads.dataset.unread = String(unreadThreads);
    const me = user.username;
    const chans = [...chat.channels.values()];
    const rooms = chans.filter((c) => !c.isDM).sort((a, b) => a.name.localeCompare(b.name));
    const dms = chans.filter((c) => c.isDM).sort((a, b) => a.label(me).localeCompare(b.label(me)));
    setChildren(this.channelList, rooms.map((c) => this.navItem(c)));
    setChildren(
      this.dmList,
      dms.length ? dms.map((c) => this.navItem(c)) : h("li", { class: "nav-empty" }, "No conversations yet"),
    );
    if (chat.ready && !rooms.length) {
      this.channelList.append(h("li", { class: "nav-empty" }, "Not in any channel yet"));
    }
  }

  navItem(ch) {
    const { chat, user } = this.app;
    const me = user.username;
    const active = ch.name === this.app.current;
    const unread = ch.unread;
    let lead;
    let mark = null;
    if (ch.isDM) {
      const partners = ch.partners(me);
      lead =
        partners.length === 1
          ? presenceDot(partners[0] === me ? (chat.connection === "open" ? "online" : "offline") : chat.presence.get(partners[0]))
          : h("span", { class: "group-count" }, String(partners.length));
      if (partners.length === 1) mark = statusOfMark(chat, partners[0]);
    } else {
      lead = icon(ch.kind === "private" ? "lock" : "hash", "icon nav-icon");
    }
    const a = h(
      "a",
      {
        class: `nav-item${active ? " active" : ""}${unread > 0 ? " unread" : ""}${ch.archived ? " archived" : ""}${ch.muted ? " muted" : ""}`,
        href: `#/c/${encodeURIComponent(ch.name)}`,
        testid: "channel-item",
        dataset: { channel: ch.name, kind: ch.kind, unread, serverRead: ch.serverRead, archived: ch.archived ? "true" : null, muted: ch.muted ? "true" : null },
        title: ch.archived ? "Archived" : ch.muted ? "Muted" : null,
        "aria-current": active ? "page" : null,
        onClick: (ev) => {
          ev.preventDefault();
          this.app.openChannel(ch.name, true);
        },
      },
      lead,
      h("span", { class: "nav-label", testid: "channel-name" }, ch.label(me)),
      mark,
      ch.mentions > 0
        ? h("span", { class: "badge badge-mention", testid: "mention-badge", title: "Mentions" }, ch.isDM ? String(ch.mentions) : `@${ch.mentions}`)
        : null,
      // In a DM every unread message is for you: the red badge says it all.
      unread > 0 && !(ch.isDM && ch.mentions > 0)
        ? h("span", { class: "badge badge-unread", testid: "unread-badge", title: "Unread" }, String(unread))
        : null,
    );
    return h("li", null, a);
  }
}
