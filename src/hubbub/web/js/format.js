// Safe message formatting: the text is tokenized into DOM text nodes and a few
// elements (strong, em, code, a, span.mention). Nothing is ever parsed as HTML.
//
// Supported: `code`, *bold*, _italic_, http(s) links, @mentions (highlighted).

import { h } from "./dom.js";

const CODE_RE = /`([^`\n]+)`/g;
const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;
// *bold* and _italic_ need a non-word character (or the edge) outside the
// markers and a non-space just inside, so snake_case and 2*3*4 stay as they are.
const INLINE_RE =
  /(?<![\p{L}\p{N}_*])\*(?=\S)([^*\n]*?\S)\*(?![\p{L}\p{N}_*])|(?<![\p{L}\p{N}_])_(?=\S)([^_\n]*?\S)_(?![\p{L}\p{N}_])|(?<![\p{L}\p{N}_@.-])@([a-z0-9](?:[a-z0-9_.-]{0,30}[a-z0-9_])?)/gu;

/** The message text as an array of DOM nodes. `me` highlights mentions of you. */
export function formatText(text, me = null) {
  const out = [];
  let last = 0;
  for (const m of text.matchAll(CODE_RE)) {
    if (m.index > last) out.push(...links(text.slice(last, m.index), me));
    out.push(h("code", { class: "inline-code" }, m[1]));
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(...links(text.slice(last), me));
  return out;
}

/** A link's href, only for http(s) URLs; null otherwise. */
export function safeHref(raw) {
  try {
    const url = new URL(raw);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

function trimUrl(url) {
  // Trailing punctuation belongs to the sentence, not the URL, except a
  // closing parenthesis that balances one inside the URL (Wikipedia links).
  let end = url.length;
  while (end > 0) {
    const c = url[end - 1];
    if (".,;:!?'\"]}".includes(c)) {
      end--;
    } else if (c === ")") {
      const body = url.slice(0, end);
      const opens = body.split("(").length - 1;
      const closes = body.split(")").length - 1;
      if (closes > opens) end--;
      else break;
    } else {
      break;
    }
  }
  return url.slice(0, end);
}

function links(text, me) {
  const out = [];
  let last = 0;
  for (const m of text.matchAll(URL_RE)) {
    const url = trimUrl(m[0]);
    const href = safeHref(url);
    if (!url || !href) continue;
    if (m.index > last) out.push(...inline(text.slice(last, m.index), me));
    out.push(h("a", { href, target: "_blank", rel: "noopener noreferrer" }, url));
    last = m.index + url.length;
  }
  if (last < text.length) out.push(...inline(text.slice(last), me));
  return out;
}

function inline(text, me) {
  const out = [];
  let last = 0;
  for (const m of text.matchAll(INLINE_RE)) {
    if (m.index > last) out.push(document.createTextNode(text.slice(last, m.index)));
    if (m[1] !== undefined) {
      out.push(h("strong", null, inline(m[1], me)));
    } else if (m[2] !== undefined) {
      out.push(h("em", null, inline(m[2], me)));
    } else {
      const mine = me !== null && m[3] === me;
      out.push(h("span", { class: mine ? "mention mention-me" : "mention" }, `@${m[3]}`));
    }
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(document.createTextNode(text.slice(last)));
  return out;
}

/** Does `text` mention `@username`? `@ann` mentions ann, but `@anna` and `@ann.b` do not: the same rule as the
// server's mention counts (hubbub.core.mentions), so every device agrees. */
export function mentions(text, username) {
  if (!username) return false;
  const escaped = username.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`@${escaped}(?![a-z0-9_-]|\\.[a-z0-9_-])`).test(text);
}
