// Search: the box in the header (Ctrl+F / Cmd+F in the app) and the results
// in a side panel right of the channel, where the thread panel goes (one of
// the two at a time). `GET /api/search` answers a page at a time, newest
// first or by relevance, each result with its channel, author, time and a
// snippet whose matches are marked. The filter chips write the query's own
// words (`in:#channel`, `from:@user`, `after:`/`before:`/`on:`, `has:file`,
// `has:link`, `is:thread`) into the box, so what you see is what is asked, and
// read them back from it. A click on a result opens its channel at that
// message (messages.js jumpTo), however far back it is.
//
// Everything of a message here is text nodes: the snippet is cut at the
// highlights' offsets (code points, as the server counts them) into text and
// <mark> elements, never parsed as HTML.

import { h, icon, setChildren } from "./dom.js";
import { whenLabel } from "./message.js";
import { avatar } from "./avatar.js";

const PAGE = 20;
const DAY = 24 * 60 * 60 * 1000;

/** The query's tokens: "quoted phrases" stay whole (an unclosed one too: the server says what is wrong). */
export function tokens(q) {
  return String(q).match(/(?:[^\s"]*"[^"]*"?)|\S+/g) || [];
}

/** `q` without its `key:` filters (those `drop(value)` picks, or all), with `add` appended. */
export function setFilter(q, key, add = null, drop = () => true) {
  const prefix = `${key}:`;
  const kept = tokens(q).filter((t) => !(t.toLowerCase().startsWith(prefix) && drop(t.slice(prefix.length).toLowerCase())));
  if (add) kept.push(`${prefix}${add}`);
  return kept.join(" ");
}

/** The values of the `key:` filters in `q`, lower-cased. */
export function filterValues(q, key) {
  const prefix = `${key}:`;
  return tokens(q)
    .filter((t) => t.toLowerCase().startsWith(prefix))
    .map((t) => t.slice(prefix.length).toLowerCase());
}

/** YYYY-MM-DD of a day `days` after the one `iso` names (dates as the calendar has them, not the clock). */
export function shiftDay(iso, days) {
  const [y, m, d] = iso.split("-").map(Number);
  const t = new Date(Date.UTC(y, m - 1, d) + days * DAY);
  return t.toISOString().slice(0, 10);
}

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

/** The snippet as text and <mark> nodes: `highlights` are [start, end) in code points. */
export function snippetNodes(snippet, highlights) {
  const chars = Array.from(String(snippet || ""));
  const spans = (Array.isArray(highlights) ? highlights : [])
    .map(([s, e]) => [Math.max(0, Number(s) | 0), Math.min(chars.length, Number(e) | 0)])
    .filter(([s, e]) => e > s)
    .sort((a, b) => a[0] - b[0]);
  const out = [];
  let at = 0;
  for (const [s, e] of spans) {
    if (s < at) continue; // overlapping: the first wins
    if (s > at) out.push(chars.slice(at, s).join(""));
    out.push(h("mark", { class: "search-hit" }, chars.slice(s, e).join("")));
    at = e;
  }
  if (at < chars.length) out.push(chars.slice(at).join(""));
  return out;
}

export class SearchPanel {
  constructor(app) {
    this.app = app;
    this.query = "";
    this.order = "newest";
    this.results = [];
    this.more = false;
    this.nextOffset = null;
    this.state = "idle"; // "loading" | "done" | "error"
    this.error = null;
    this.gen = 0; // the search on screen (an older one's answer is dropped)
    this.input = h("input", {
      class: "search-input",
      testid: "search-input",
      type: "search",
      placeholder: "Search",
      "aria-label": "Search messages",
      autocomplete: "off",
      spellcheck: "false",
      enterkeyhint: "search",
    });
    this.box = h(
      "form",
      {
        class: "search-box",
        role: "search",
        testid: "search-box",
        onSubmit: (ev) => {
          ev.preventDefault();
          this.open(this.input.value);
        },
      },
      icon("search", "icon search-box-icon"),
      this.input,
    );
    // Esc in the box: the results close (if open), and the cursor goes back to the composer.
    this.input.addEventListener("keydown", (ev) => {
      if (ev.key !== "Escape") return;
      ev.preventDefault();
      ev.stopPropagation();
      this.close(false);
      this.app.composer.focus();
    });
    this.filters = h("div", { class: "search-filters", testid: "search-filters" });
    this.orderSelect = h(
      "select",
      {
        class: "search-order",
        testid: "search-order",
        "aria-label": "Order",
        onChange: () => {
          this.order = this.orderSelect.value;
          this.run();
        },
      },
      h("option", { value: "newest" }, "Newest first"),
      h("option", { value: "relevance" }, "Most relevant"),
    );
    this.summary = h("span", { class: "search-summary", testid: "search-summary", role: "status" });
    this.list = h("div", { class: "search-results", testid: "search-results" });
    this.moreButton = h("button", { class: "button secondary search-more", type: "button", testid: "search-more", hidden: true, onClick: () => this.run(true) }, "More results");
    this.el = h(
      "aside",
      { class: "search-panel", testid: "search-panel", "aria-label": "Search results" },
      h(
        "header",
        { class: "thread-head search-head" },
        h("div", { class: "thread-heading" }, h("h2", { class: "thread-title" }, "Search")),
        h(
          "button",
          { class: "icon-btn", type: "button", testid: "search-close", title: "Close (Esc)", "aria-label": "Close search", onClick: () => this.close() },
          icon("x"),
        ),
      ),
      this.filters,
      h("div", { class: "search-bar" }, this.summary, this.orderSelect),
      h("div", { class: "search-scroll" }, this.list, this.moreButton),
    );
    this.el.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape" && !document.querySelector("dialog[open]")) {
        ev.preventDefault();
        ev.stopPropagation();
        this.close();
      }
    });
    // A thread opening takes this place.
    app.chat.listen((what) => {
      if (what === "thread" && app.chat.thread && this.el.isConnected) this.close(false);
    });
  }

  /** Put the cursor in the search box (Ctrl+F). */
  focus() {
    this.input.focus();
    this.input.select();
  }

  /** Search for `text` (the box's), in the panel. */
  open(text) {
    const q = String(text).trim();
    this.input.value = q;
    if (!q) return;
    this.query = q;
    this.attach();
    this.run();
  }

  close(refocus = true) {
    this.gen++;
    if (!this.el.isConnected) return;
    const hadFocus = this.el.contains(document.activeElement);
    const { messages } = this.app;
    const bottom = messages.isAtBottom();
    this.el.remove();
    this.app.el.classList.remove("search-open");
    if (bottom) messages.list.scrollTop = messages.list.scrollHeight; // wider now: stay at the bottom
    if (refocus && hadFocus) this.app.composer.focus();
  }

  attach() {
    if (this.el.isConnected) return;
    this.app.chat.closeThread(); // one side panel at a time
    const { messages } = this.app;
    const bottom = messages.isAtBottom();
    const main = this.app.el.querySelector(".main");
    main.after(this.el);
    this.app.el.classList.add("search-open");
    if (bottom) messages.list.scrollTop = messages.list.scrollHeight; // narrower now: stay at the bottom
  }

  /** The query in the box changed by a chip: search again. */
  rewrite(q) {
    this.input.value = q;
    this.open(q);
  }

  /** Ask for the first page (or, with `append`, the next one). */
  async run(append = false) {
    const gen = ++this.gen;
    const offset = append ? this.nextOffset || 0 : 0;
    if (!append) {
      this.results = [];
      this.more = false;
      this.nextOffset = null;
    }
    this.state = "loading";
    this.error = null;
    this.render();
    // Your offset from UTC, east positive, for the days of the date filters.
    const tz = Math.max(-720, Math.min(840, -new Date().getTimezoneOffset()));
    const params = new URLSearchParams({ q: this.query, order: this.order, offset: String(offset), limit: String(PAGE), tz: String(tz) });
    try {
      const page = await this.app.api.get(`/api/search?${params}`);
      if (gen !== this.gen) return;
      for (const r of page.results) this.app.chat.learn(r.message.author);
      this.results = append ? [...this.results, ...page.results] : page.results;
      this.more = !!page.more && page.next_offset !== null && page.next_offset !== undefined;
      this.nextOffset = page.next_offset ?? null;
      this.state = "done";
    } catch (err) {
      if (gen !== this.gen) return;
      this.state = "error";
      this.error = err.message || String(err);
    }
    this.render();
  }

  render() {
    this.renderFilters();
    this.orderSelect.value = this.order;
    this.el.dataset.state = this.state;
    const nodes = this.results.map((r) => this.resultEl(r));
    if (this.state === "error") {
      nodes.push(h("p", { class: "search-error", testid: "search-error", role: "alert" }, this.error));
    } else if (this.state === "loading") {
      nodes.push(h("p", { class: "list-status", testid: "search-loading" }, h("span", { class: "spinner", "aria-hidden": "true" }), "Searching…"));
    } else if (this.state === "done" && !this.results.length) {
      nodes.push(h("p", { class: "search-empty", testid: "search-empty" }, `No messages match “${this.query}”.`));
    }
    setChildren(this.list, nodes);
    const n = this.results.length;
    this.summary.textContent = this.state === "done" && n ? `${n}${this.more ? "+" : ""} ${n === 1 ? "result" : "results"}` : "";
    this.moreButton.hidden = !(this.state === "done" && this.more);
  }

  resultEl(r) {
    const m = r.message;
    const { chat, user } = this.app;
    const ch = chat.channels.get(m.channel);
    const where = m.channel.startsWith("dm:") ? (ch ? ch.label(user.username) : "a direct message") : `#${m.channel}`;
    const author = m.author || { username: null, display_name: "unknown" };
    const reply = m.thread_root !== null && m.thread_root !== undefined;
    const files = Array.isArray(m.files) ? m.files : [];
    return h(
      "button",
      {
        class: "search-result",
        type: "button",
        testid: "search-result",
        dataset: { channel: m.channel, seq: m.seq },
        onClick: () => this.app.openMessage(m),
      },
      h(
        "span",
        { class: "search-result-head" },
        h("span", { class: "search-result-channel", testid: "search-result-channel" }, where),
        reply ? h("span", { class: "search-result-thread" }, "in a thread") : null,
        h("time", { class: "search-result-time", datetime: new Date(m.created_at).toISOString() }, whenLabel(m.created_at)),
      ),
      h(
        "span",
        { class: "search-result-body" },
        avatar(author.username || author.display_name, author.display_name, "avatar avatar-sm"),
        h(
          "span",
          { class: "search-result-main" },
          h("span", { class: "search-result-author", testid: "search-result-author" }, author.display_name),
          h("span", { class: "search-snippet", testid: "search-snippet" }, snippetNodes(r.snippet, r.highlights)),
          files.length ? h("span", { class: "search-result-files" }, `📎 ${files.map((f) => f.name).join(", ")}`) : null,
        ),
      ),
    );
  }

  // --- the filter chips ------------------------------------------------------------

  renderFilters() {
    const q = this.query;
    const { chat, user } = this.app;
    const inNow = filterValues(q, "in")[0] || "";
    const channel = h(
      "select",
      {
        class: "search-chip search-chip-select",
        testid: "search-filter-channel",
        "aria-label": "In channel",
        onChange: (ev) => this.rewrite(setFilter(q, "in", ev.target.value || null)),
      },
      h("option", { value: "" }, "Any channel"),
      [...chat.channels.values()]
        .filter((c) => !c.isDM)
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((c) => h("option", { value: `#${c.name}` }, `#${c.name}`)),
    );
    channel.value = inNow && [...channel.options].some((o) => o.value === inNow) ? inNow : "";
    if (inNow && channel.value !== inNow) {
      channel.append(h("option", { value: inNow }, inNow));
      channel.value = inNow;
    }
    const fromNow = filterValues(q, "from")[0] || "";
    const people = new Map([[user.username, "you"]]);
    for (const [u, p] of chat.people) if (u !== user.username) people.set(u, p.display_name || u);
    const person = h(
      "select",
      {
        class: "search-chip search-chip-select",
        testid: "search-filter-person",
        "aria-label": "From",
        onChange: (ev) => this.rewrite(setFilter(q, "from", ev.target.value || null)),
      },
      h("option", { value: "" }, "Anyone"),
      [...people.entries()]
        .sort((a, b) => a[1].localeCompare(b[1]))
        .map(([u, name]) => h("option", { value: `@${u}` }, u === user.username ? "From you" : `From ${name}`)),
    );
    person.value = fromNow && [...person.options].some((o) => o.value === fromNow) ? fromNow : "";
    if (fromNow && person.value !== fromNow) {
      person.append(h("option", { value: fromNow }, `From ${fromNow}`));
      person.value = fromNow;
    }
    // Dates: "after:D" is from the day after D, "before:D" up to the day before (as in Slack).
    const on = filterValues(q, "on").find((v) => DATE_RE.test(v));
    const after = filterValues(q, "after").find((v) => DATE_RE.test(v));
    const before = filterValues(q, "before").find((v) => DATE_RE.test(v));
    const fromDay = on || (after ? shiftDay(after, 1) : "");
    const toDay = on || (before ? shiftDay(before, -1) : "");
    const dates = (from, to) => {
      let next = setFilter(setFilter(setFilter(q, "on"), "after"), "before");
      if (from && to && from === to) return setFilter(next, "on", from);
      if (from) next = setFilter(next, "after", shiftDay(from, -1));
      if (to) next = setFilter(next, "before", shiftDay(to, 1));
      return next;
    };
    const fromInput = h("input", {
      class: "search-chip search-chip-date",
      type: "date",
      testid: "search-filter-from",
      "aria-label": "From date",
      value: fromDay,
      onChange: (ev) => this.rewrite(dates(ev.target.value, toDay)),
    });
    const toInput = h("input", {
      class: "search-chip search-chip-date",
      type: "date",
      testid: "search-filter-to",
      "aria-label": "To date",
      value: toDay,
      onChange: (ev) => this.rewrite(dates(fromDay, ev.target.value)),
    });
    const toggle = (key, value, label) => {
      const onNow = filterValues(q, key).includes(value);
      return h(
        "button",
        {
          class: `search-chip search-chip-toggle${onNow ? " on" : ""}`,
          type: "button",
          testid: `search-filter-${key}-${value}`,
          "aria-pressed": onNow ? "true" : "false",
          onClick: () => this.rewrite(onNow ? setFilter(q, key, null, (v) => v === value) : setFilter(setFilter(q, key, null, (v) => v === value), key, value)),
        },
        label,
      );
    };
    setChildren(
      this.filters,
      channel,
      person,
      h("label", { class: "search-date-label" }, "From", fromInput),
      h("label", { class: "search-date-label" }, "To", toInput),
      toggle("has", "file", "Has files"),
      toggle("has", "link", "Has links"),
      toggle("is", "thread", "In threads"),
    );
  }
}
