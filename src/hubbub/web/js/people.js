// How a person's presence is drawn wherever they appear (sidebar, header,
// member list): an online/offline dot. Their avatar is avatar.js's.

import { h } from "./dom.js";

export function presenceDot(status) {
  const s = status === "online" ? "online" : "offline";
  return h("span", { class: "presence", testid: "presence-dot", dataset: { status: s }, title: s === "online" ? "Online" : "Offline" });
}
