// Safe message formatting: the text is tokenized into DOM text nodes and a few
// elements built with h(). Nothing is ever parsed as HTML, so "<b>x</b>" or
// "<img onerror=...>" in a message is shown as those characters.
//
// Blocks (at the start of a line):
//   ```lang (optional)      a code block: monospace, scrolls sideways, nothing
//   ...                     inside is formatted; also ```one line``` and the
//   ```                     Slack style ```first line ... last line```
//   > quoted                a quote (its lines are formatted as blocks again)
//   - item, * item          a bulleted list (indent two spaces to nest)
//   1. item, 1) item        a numbered list (it starts at the first number)
// Inline: `code`, *bold* and **bold**, _italic_, ~strike~ and ~~strike~~,
// http(s) links, [text](https://...) links (the URL shows on hover),
// @mentions (yours highlighted) and @here / @channel / @everyone.
// Everything else, line breaks included, is text as typed (.msg-text keeps
// white-space: pre-wrap).
//
// Why hand-written and not a Markdown library (markdown-it was considered): chat
// text is Slack-flavoured, not CommonMark. *x* is bold, ~x~ strikes, 2*3*4 and
// snake_case must stay as typed, and four indented spaces, "# " or "---" are not
// headings or code. A Markdown parser would need most of its rules switched
// off and its emphasis rules changed, which is more code than this small
// tokenizer: one pass over the lines for blocks, one pass over each run of text
// for inline marks (a stack of openers, as CommonMark's delimiter algorithm).

import { h } from "./dom.js";

// --- blocks --------------------------------------------------------------------------

const FENCE_RE = /^ {0,3}(`{3,})(.*)$/;
const FENCE_LANG_RE = /^\s*([\w+#.-]{1,32})?\s*$/;
const FENCE_CLOSE_RE = /^\s*(`{3,})\s*$/;
const QUOTE_RE = /^ {0,3}>(?: (.*)|$)/; // "> text" or a bare ">"; not ">_<"
const BULLET_RE = /^([ \t]*)[-*•][ \t]+(\S.*)$/;
const NUMBER_RE = /^([ \t]*)(\d{1,9})[.)][ \t]+(\S.*)$/;
const MAX_QUOTE_DEPTH = 4;
const MAX_LIST_DEPTH = 6;
const MAX_MARK_DEPTH = 8;

const isBlockStart = (line) => FENCE_RE.test(line) || QUOTE_RE.test(line) || BULLET_RE.test(line) || NUMBER_RE.test(line);

/** The message text as an array of DOM nodes. `me` highlights mentions of you. */
export function formatText(text, me = null) {
  const lines = text.split("\n");
  // Plain text (the usual message) is one run of inline nodes, exactly as typed.
  if (!lines.some(isBlockStart)) return inline(text, me);
  return blocks(lines, me, 0);
}

function blocks(lines, me, depth) {
  const out = [];
  let para = [];
  const endPara = () => {
    // Blank lines next to a block are spacing the block's margins give.
    while (para.length && !para[0].trim()) para.shift();
    while (para.length && !para.at(-1).trim()) para.pop();
    if (para.length) out.push(...inline(para.join("\n"), me));
    para = [];
  };
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (FENCE_RE.test(line)) {
      endPara();
      const { node, next } = codeBlock(lines, i);
      out.push(node);
      i = next;
    } else if (depth < MAX_QUOTE_DEPTH && QUOTE_RE.test(line)) {
      endPara();
      const inner = [];
      for (let m; i < lines.length && (m = QUOTE_RE.exec(lines[i])); i++) inner.push(m[1] ?? "");
      out.push(h("blockquote", { class: "md-quote" }, blocks(inner, me, depth + 1)));
    } else if (BULLET_RE.test(line) || NUMBER_RE.test(line)) {
      endPara();
      const items = [];
      for (; i < lines.length; i++) {
        const b = BULLET_RE.exec(lines[i]);
        const n = b ? null : NUMBER_RE.exec(lines[i]);
        if (b) items.push({ indent: width(b[1]), ordered: false, text: b[2] });
        else if (n) items.push({ indent: width(n[1]), ordered: true, start: Number(n[2]), text: n[3] });
        else if (!lines[i].trim() && i + 1 < lines.length && (BULLET_RE.test(lines[i + 1]) || NUMBER_RE.test(lines[i + 1])))
          continue; // a blank line between items: still the same list
        else break;
      }
      out.push(...list(items, me));
    } else {
      para.push(line);
      i++;
    }
  }
  endPara();
  return out;
}

/** The code block opening at lines[i]: its <pre> and the index of the line after it. */
function codeBlock(lines, i) {
  const [, ticks, rest] = FENCE_RE.exec(lines[i]);
  const code = [];
  let lang = null;
  let next = lines.length; // unclosed, it runs to the end of the message (as in CommonMark)
  const one = textBeforeTicks(rest, ticks.length); // ```code``` on one line
  if (one !== null) {
    code.push(one);
    next = i + 1;
  } else {
    const l = FENCE_LANG_RE.exec(rest);
    if (l) lang = l[1] || null;
    else code.push(rest); // ```first line of code (Slack)
    for (let j = i + 1; j < lines.length; j++) {
      const close = FENCE_CLOSE_RE.exec(lines[j]);
      const tail = close ? null : textBeforeTicks(lines[j], ticks.length); // "last line```" (Slack)
      if (tail !== null) code.push(tail);
      if ((close && close[1].length >= ticks.length) || tail !== null) {
        next = j + 1;
        break;
      }
      code.push(lines[j]);
    }
  }
  const node = h(
    "pre",
    { class: "code-block", testid: "code-block", dataset: { lang } },
    h("code", lang ? { class: `language-${lang}` } : null, code.join("\n")),
  );
  return { node, next };
}

/** The text before a closing run of at least `n` backticks ending `line`, if
 * there is text; null otherwise. (A loop, not a regex: linear on long lines.) */
function textBeforeTicks(line, n) {
  const end = line.trimEnd();
  let k = end.length;
  while (k > 0 && end[k - 1] === "`") k--;
  const before = end.slice(0, k);
  return end.length - k >= n && before.trim() ? before : null;
}

function width(indent) {
  return indent.replace(/\t/g, "    ").length;
}

/** Lists from consecutive item lines; a deeper indent nests in the item above. */
function list(items, me) {
  const out = [];
  const stack = []; // {indent, ordered, el, last}: the open lists, outermost first
  const open = (item, parent) => {
    const el = item.ordered
      ? h("ol", { class: "md-list", start: item.start !== 1 ? String(item.start) : null })
      : h("ul", { class: "md-list" });
    if (parent) parent.append(el);
    else out.push(el);
    stack.push({ indent: item.indent, ordered: item.ordered, el, last: null });
  };
  for (const item of items) {
    while (stack.length > 1 && stack.at(-1).indent > item.indent) stack.pop();
    let top = stack.at(-1);
    if (!top) {
      open(item, null);
    } else if (item.indent > top.indent && top.last && stack.length < MAX_LIST_DEPTH) {
      open(item, top.last);
    } else if (item.ordered !== top.ordered) {
      // The other kind at the same level: a list of its own after this one.
      stack.pop();
      open(item, stack.length ? stack.at(-1).last : null);
    }
    top = stack.at(-1);
    top.last = h("li", null, inline(item.text, me));
    top.el.append(top.last);
  }
  return out;
}

// --- inline --------------------------------------------------------------------------

const WORD_RE = /[\p{L}\p{N}]/u;
const SPACE_RE = /\s/u;
const URL_AT_RE = /https?:\/\/[^\s<>"'`]+/iy;
const MD_LINK_AT_RE = /\[([^[\]\n]{1,1000})\]\((https?:\/\/[^\s()<>]*(?:\([^\s()<>]*\)[^\s()<>]*)*)\)/iy;
const MENTION_AT_RE = /@([a-z0-9](?:[a-z0-9_.-]{0,30}[a-z0-9_])?)/y;
const NOT_BEFORE_MENTION_RE = /[\p{L}\p{N}_@.-]/u;
const EVERYONE = new Set(["here", "channel", "everyone"]);
const MARKS = { "*": "strong", _: "em", "~": "s" };
const LINK_PROPS = { target: "_blank", rel: "noopener noreferrer" };

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

/** The URL at the start of `raw`, without the sentence's punctuation and, when
 * a mark stands before it (*https://x*), without the closing mark. */
function cleanUrl(raw, before) {
  let url = trimUrl(raw);
  if (MARKS[before]) {
    while (url.endsWith(before)) url = trimUrl(url.slice(0, -1));
  }
  return url;
}

function runLength(text, i, c) {
  let n = 0;
  while (text[i + n] === c) n++;
  return n;
}

/** Where a run of exactly `n` backticks starts after `from` on the same line; -1 if none. */
function closingTicks(text, from, n) {
  for (let j = from; j < text.length && text[j] !== "\n"; ) {
    if (text[j] !== "`") {
      j++;
      continue;
    }
    const run = runLength(text, j, "`");
    if (run === n) return j;
    j += run;
  }
  return -1;
}

/**
 * Inline nodes for one run of text. Code spans, links and mentions are taken
 * whole as they are met; *, **, _, ~ and ~~ are marks that pair up with the
 * nearest open mark of the same kind (a mark opens before a non-space and not
 * after a letter, a digit or a backslash, and closes the other way round, so
 * 2*3*4, snake_case and ¯\_(ツ)_/¯ stay text). Marks never pair across a line
 * break.
 */
function inline(text, me, withLinks = true) {
  const items = []; // {text} | {node} | {mark, len, raw, closeAt?}
  const openers = []; // indexes in items of the marks still open
  let buf = "";
  const flush = () => {
    if (buf) items.push({ text: buf });
    buf = "";
  };
  const take = (node, length) => {
    flush();
    items.push({ node });
    return length;
  };

  let i = 0;
  while (i < text.length) {
    const c = text[i];
    const before = i > 0 ? text[i - 1] : "";
    let used = 0;
    if (c === "\n") {
      openers.length = 0;
    } else if (c === "`") {
      const n = runLength(text, i, "`");
      const end = closingTicks(text, i + n, n);
      if (end > 0) used = take(h("code", { class: "inline-code" }, text.slice(i + n, end)), end + n - i);
      else {
        buf += text.slice(i, i + n);
        i += n;
        continue;
      }
    } else if (c === "[" && withLinks) {
      MD_LINK_AT_RE.lastIndex = i;
      const m = MD_LINK_AT_RE.exec(text);
      const href = m && safeHref(m[2]);
      if (href) used = take(h("a", { href, title: href, ...LINK_PROPS }, inline(m[1], me, false)), m[0].length);
    } else if ((c === "h" || c === "H") && withLinks && !/[A-Za-z0-9_]/.test(before)) {
      URL_AT_RE.lastIndex = i;
      const m = URL_AT_RE.exec(text);
      const url = m && cleanUrl(m[0], before);
      const href = url && safeHref(url);
      if (href) used = take(h("a", { href, ...LINK_PROPS }, url), url.length);
    } else if (c === "@" && !NOT_BEFORE_MENTION_RE.test(before)) {
      MENTION_AT_RE.lastIndex = i;
      const m = MENTION_AT_RE.exec(text);
      if (m) {
        const name = m[1];
        const cls = EVERYONE.has(name) ? "mention mention-all" : me !== null && name === me ? "mention mention-me" : "mention";
        used = take(h("span", { class: cls }, `@${name}`), m[0].length);
      }
    } else if (MARKS[c]) {
      const n = runLength(text, i, c);
      if (n <= (c === "_" ? 1 : 2)) {
        const after = text[i + n] ?? "";
        // Not after a backslash either: ¯\_(ツ)_/¯ (/shrug) stays as typed.
        const canOpen = after !== "" && !SPACE_RE.test(after) && !WORD_RE.test(before) && before !== "\\";
        const canClose = before !== "" && !SPACE_RE.test(before) && !WORD_RE.test(after);
        flush();
        const mark = { mark: c, len: n, raw: text.slice(i, i + n) };
        let closed = false;
        if (canClose) {
          for (let k = openers.length - 1; k >= 0; k--) {
            const o = items[openers[k]];
            if (o.mark === c && o.len === n) {
              o.closeAt = items.length;
              openers.length = k; // marks opened inside and left open stay text
              closed = true;
              break;
            }
          }
        }
        items.push(mark);
        if (!closed && canOpen) openers.push(items.length - 1);
        i += n;
        continue;
      }
      buf += text.slice(i, i + n);
      i += n;
      continue;
    }
    if (used) {
      i += used;
    } else {
      buf += c;
      i++;
    }
  }
  flush();
  return build(items, 0, items.length, 0);
}

/** DOM nodes for items[from, to): paired marks become elements (so deep at
 * most, then the marks show as typed), the rest text. */
function build(items, from, to, depth) {
  const out = [];
  let text = "";
  for (let k = from; k < to; k++) {
    const it = items[k];
    const pair = it.closeAt !== undefined && depth < MAX_MARK_DEPTH;
    if (it.node || pair) {
      if (text) out.push(document.createTextNode(text));
      text = "";
    }
    if (it.node) {
      out.push(it.node);
    } else if (pair) {
      out.push(h(MARKS[it.mark], null, build(items, k + 1, it.closeAt, depth + 1)));
      k = it.closeAt;
    } else {
      text += it.text ?? it.raw;
    }
  }
  if (text) out.push(document.createTextNode(text));
  return out;
}

// --- mentions ------------------------------------------------------------------------

// @here, @channel and @everyone are for every reader: the same "not followed
// by more of a name" rule as a username.
const EVERYONE_RE = /@(?:here|channel|everyone)(?![a-z0-9_-]|\.[a-z0-9_-])/;

/** Does `text` mention `@username`, or everyone (@here, @channel, @everyone)?
 * `@ann` mentions ann, but `@anna` and `@ann.b` do not: the same rule as the
 * server's mention counts (hubbub.core.mentions), so every device agrees. */
export function mentions(text, username) {
  if (!username) return false;
  if (EVERYONE_RE.test(text)) return true;
  const escaped = username.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`@${escaped}(?![a-z0-9_-]|\\.[a-z0-9_-])`).test(text);
}
