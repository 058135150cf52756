// Custom statuses ("🌴 On holiday until Monday"): the emoji shown beside a
// person's name wherever names are shown, with the text as its tooltip, and
// the "clear after" choices of the account dialog.

import { h } from "./dom.js";

/** The emoji of `status` ({emoji, text, until} or null) as a small mark
 * beside a name, its text in the tooltip; null when there is nothing to show. */
export function statusMark(status) {
  if (!status || (!status.emoji && !status.text)) return null;
  const title = status.text || status.emoji;
  return h(
    "span",
    { class: "status-mark", testid: "status-emoji", title, "aria-label": `Status: ${title}`, role: "img" },
    status.emoji || "💬",
  );
}

/** `chat.statusOf(username)`'s mark (null when they have none). */
export function statusOfMark(chat, username) {
  return username ? statusMark(chat.statusOf(username)) : null;
}

/** A signature of a person's status, for parts that redraw when it changes. */
export function statusSig(chat, username) {
  const s = username ? chat.statusOf(username) : null;
  return s ? `${s.emoji}|${s.text}` : "";
}

/** The "clear after" choices: value -> label. */
export const CLEAR_AFTER = [
  ["never", "Don't clear"],
  ["hour", "1 hour"],
  ["today", "Today"],
];

/** When a status set now with choice `value` clears itself (ms since the epoch; null: never). */
export function clearAt(value, now = Date.now()) {
  if (value === "hour") return now + 3600 * 1000;
  if (value === "today") {
    const end = new Date(now);
    end.setHours(23, 59, 59, 999);
    return end.getTime();
  }
  return null;
}
