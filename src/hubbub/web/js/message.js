// What one message looks like (avatar and name at the start of a group, the
// formatted text, and "Sending…" or "Not sent" with Retry and Discard for your
// own sends), what stands before a channel's first message, and the "X joined"
// / "X left" lines. The list that orders and groups them is messages.js.

import { h, icon } from "./dom.js";
import { formatText, mentions } from "./format.js";
import { avatar } from "./people.js";
import { fullLabel, timeLabel } from "./time.js";

function iso(ms) {
  return new Date(ms).toISOString();
}

/** A confirmed or pending message; `state` is "sent", "pending" or "failed". */
export function messageEl(m, { me, groupStart, state, retry, discard }) {
  const author = m.author || { username: null, display_name: "unknown" };
  const mine = author.username === me;
  const mentioned = !mine && mentions(m.text, me);
  const el = h("div", {
    class: `msg${groupStart ? " group-start" : ""}${mentioned ? " mentioned" : ""} state-${state}`,
    testid: "message",
    dataset: {
      seq: m.seq || null,
      clientId: m.client_id || null,
      state,
      author: author.username || "",
    },
  });
  const gutter = h("div", { class: "msg-gutter" });
  if (groupStart) {
    gutter.append(avatar(author.username || author.display_name, author.display_name, "avatar"));
  } else {
    gutter.append(h("time", { class: "msg-time-hover", datetime: iso(m.created_at), title: fullLabel(m.created_at) }, timeLabel(m.created_at)));
  }
  const main = h("div", { class: "msg-main" });
  if (groupStart) {
    main.append(
      h(
        "div",
        { class: "msg-meta" },
        h("span", { class: "msg-author", testid: "message-author" }, author.display_name),
        author.username && author.username !== author.display_name
          ? h("span", { class: "msg-handle" }, `@${author.username}`)
          : author.username
            ? null
            : h("span", { class: "msg-handle" }, "guest"),
        h("time", { class: "msg-time", datetime: iso(m.created_at), title: fullLabel(m.created_at) }, timeLabel(m.created_at)),
      ),
    );
  }
  main.append(h("div", { class: "msg-text", testid: "message-text" }, formatText(m.text, me)));
  if (state === "pending") {
    main.append(h("div", { class: "msg-status", testid: "message-status" }, "Sending…"));
  } else if (state === "failed") {
    main.append(
      h(
        "div",
        { class: "msg-status failed", testid: "message-status", role: "alert" },
        h("span", null, `Not sent. ${m.error || ""}`),
        h("button", { class: "link-button", testid: "retry-button", type: "button", onClick: retry }, "Retry"),
        h("button", { class: "link-button muted", testid: "discard-button", type: "button", onClick: discard }, "Discard"),
      ),
    );
  }
  el.append(gutter, main);
  return el;
}

/** The top of a channel's history, once there is nothing older to load. */
export function channelIntro(ch, me) {
  if (ch.isDM) {
    return h(
      "div",
      { class: "intro", testid: "channel-start" },
      h("h2", null, ch.label(me)),
      h("p", null, `This is the very beginning of your direct message history with ${ch.label(me)}.`),
    );
  }
  return h(
    "div",
    { class: "intro", testid: "channel-start" },
    h("h2", null, icon(ch.kind === "private" ? "lock" : "hash", "icon title-icon"), ch.name),
    h(
      "p",
      null,
      `This is the very beginning of the ${ch.kind === "private" ? "private " : ""}#${ch.name} channel.`,
      ch.topic ? ` Topic: ${ch.topic}` : "",
    ),
  );
}

/** "Ann joined #general" / "Ann left #general": a line of its own in the list
 * (seen live; the history has no such lines). `name` is the display name. */
export function memberEventEl(ev, name, ch) {
  const where = ch.isDM ? "the conversation" : `#${ch.name}`;
  return h(
    "div",
    {
      class: `system-line system-${ev.kind}`,
      testid: "member-event",
      role: "note",
      dataset: { kind: ev.kind, user: ev.user },
    },
    icon(ev.kind === "joined" ? "plus" : "logout", "icon system-icon"),
    h("span", { class: "system-text", testid: "member-event-text" }, `${name} ${ev.kind} ${where}`),
    h("time", { class: "msg-time", datetime: iso(ev.at), title: fullLabel(ev.at) }, timeLabel(ev.at)),
  );
}
