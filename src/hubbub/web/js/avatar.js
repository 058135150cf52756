// Generated avatars (until file uploads exist): a person's initials, from
// their display name, on a colour picked from their username, so the same
// user looks the same everywhere (messages, member lists, the administration,
// your account) and on every device and reload.

import { h } from "./dom.js";

/** Background colours, each with white text at a contrast of at least 4.5:1,
 * and dark enough to stand apart on the light theme, light enough (with the
 * ring app.css gives them there) on the dark one. */
export const AVATAR_COLORS = [
  "#1264a3", // blue
  "#007a5a", // green
  "#8e44ad", // purple
  "#c0392b", // red
  "#a35200", // orange
  "#7a6400", // olive
  "#ad1457", // pink
  "#455a64", // slate
  "#6d4c41", // brown
  "#3949ab", // indigo
];

const segmenter = typeof Intl !== "undefined" && Intl.Segmenter ? new Intl.Segmenter(undefined, { granularity: "grapheme" }) : null;
const LETTER = /[\p{L}\p{N}]/u;

/** The first letter (a whole grapheme: "É" with its accent, one emoji-free
 * character of any script) of `word`, skipping leading punctuation; "" if none. */
function firstLetter(word) {
  const parts = segmenter ? Array.from(segmenter.segment(word), (s) => s.segment) : Array.from(word);
  const g = parts.find((p) => LETTER.test(p));
  return g ? g.toLocaleUpperCase() : "";
}

/** 1-2 initials of `name`: the first and last words' first letters ("Bob
 * Martin" -> "BM", "José María Núñez" -> "JN"), one for a one-word name
 * ("alice" -> "A"); "?" when there is no letter at all. */
export function initials(name) {
  const words = String(name || "")
    .trim()
    .split(/[\s\u3000]+/u)
    .map(firstLetter)
    .filter(Boolean);
  if (!words.length) return "?";
  if (words.length === 1) return words[0];
  return words[0] + words[words.length - 1];
}

/** The index in AVATAR_COLORS for `username` (FNV-1a of its code points). */
export function avatarColorIndex(username) {
  let x = 0x811c9dc5;
  for (const c of String(username || "").toLowerCase()) {
    x ^= c.codePointAt(0);
    x = Math.imul(x, 0x01000193) >>> 0;
  }
  return x % AVATAR_COLORS.length;
}

/** The avatar of `username` (the colour's key) named `name` (the display
 * name, for its initials), with class `cls` ("avatar", "avatar avatar-sm"...). */
export function avatar(username, name, cls = "avatar") {
  const text = initials(name || username);
  const color = avatarColorIndex(username || name);
  const el = h(
    "span",
    {
      class: cls,
      testid: "avatar",
      "aria-hidden": "true",
      dataset: { initials: text, color: String(color), len: String(Array.from(segmenter ? segmenter.segment(text) : text).length) },
    },
    text,
  );
  el.style.setProperty("--avatar-bg", AVATAR_COLORS[color]);
  return el;
}
