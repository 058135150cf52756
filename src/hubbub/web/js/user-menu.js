// Your menu, from who you are signed in as (the sidebar's foot): your
// account (profile, status, password, sessions), inviting people (admins,
// and members where the workspace lets them), integrations (API tokens and
// bots; not for guests), the workspace's
// administration for its owners and admins, and signing out. It closes on a
// pick, Esc, or a click anywhere else.

import { openAccount } from "./account.js";
import { openAdmin, openInvite } from "./admin.js";
import { h } from "./dom.js";
import { openIntegrations } from "./integrations.js";
import { openDnd } from "./notifications.js";

let open = null; // the menu showing, if any: {el, close}

export function openUserMenu(app, anchor) {
  if (open) {
    const was = open.el.isConnected;
    open.close();
    if (was) return; // a second click closes it
  }
  const item = (testid, label, run, cls = "") =>
    h(
      "button",
      {
        class: `menu-item${cls}`,
        type: "button",
        role: "menuitem",
        testid,
        onClick: () => {
          close();
          run();
        },
      },
      label,
    );
  const inviteItem = item("menu-invite", "Invite people", () => openInvite(app));
  const el = h(
    "div",
    { class: "user-menu", role: "menu", testid: "user-menu-list", "aria-label": "Your account" },
    item("menu-account", "Profile and account", () => openAccount(app)),
    item("menu-dnd", "Pause notifications…", () => openDnd(app)),
    app.mayInvite() ? inviteItem : null,
    app.user.role !== "guest" ? item("menu-integrations", "Integrations", () => openIntegrations(app)) : null,
    app.isAdmin() ? item("menu-admin", "Administration", () => openAdmin(app)) : null,
    h("div", { class: "menu-sep", role: "separator" }),
    item("menu-signout", "Sign out", () => app.logout(), " danger"),
  );
  const onDown = (ev) => {
    if (!el.contains(ev.target) && !anchor.contains(ev.target)) close();
  };
  const onKey = (ev) => {
    if (ev.key === "Escape") {
      ev.stopPropagation();
      close();
      anchor.querySelector("button")?.focus();
    }
  };
  function close() {
    if (!open || open.el !== el) return;
    open = null;
    el.remove();
    document.removeEventListener("pointerdown", onDown, true);
    document.removeEventListener("keydown", onKey, true);
  }
  anchor.append(el);
  open = { el, close };
  document.addEventListener("pointerdown", onDown, true);
  document.addEventListener("keydown", onKey, true);
  el.querySelector("button")?.focus();
  // Whether members may invite is asked again (an admin may have changed it,
  // or the first answer has not come yet): the item follows.
  if (!app.isAdmin() && app.user.role === "member") {
    app.loadWorkspace().then(() => {
      if (!el.isConnected) return;
      if (app.mayInvite() && !inviteItem.isConnected) el.querySelector("[data-testid=menu-account]").after(inviteItem);
      else if (!app.mayInvite()) inviteItem.remove();
    });
  }
}
