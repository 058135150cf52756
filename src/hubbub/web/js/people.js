// How a person is drawn wherever they appear (sidebar, header, messages,
// member list), so the same user looks the same everywhere: a coloured initial
// whose colour comes from the username, and an online/offline dot.

import { h } from "./dom.js";

function hue(s) {
  let x = 0;
  for (const c of s) x = (x * 31 + c.codePointAt(0)) >>> 0;
  return x % 360;
}

export function avatar(key, name, cls) {
  const letter = (name || key || "?").trim().charAt(0).toUpperCase() || "?";
  const el = h("span", { class: cls, "aria-hidden": "true" }, letter);
  el.style.setProperty("--avatar-hue", String(hue(key || name || "?")));
  return el;
}

export function presenceDot(status) {
  const s = status === "online" ? "online" : "offline";
  return h("span", { class: "presence", testid: "presence-dot", dataset: { status: s }, title: s === "online" ? "Online" : "Offline" });
}
