// What one message looks like (avatar and name at the start of a group, the
// formatted text with "(edited)" after it, its reaction chips, the actions
// shown on hover or focus, and "Sending…" or "Not sent" with Retry and Discard
// for your own sends; a deleted one is a muted tombstone line), what stands
// before a channel's first message, and the "X joined" / "X left" lines. The
// list that orders and groups them, and runs the actions, is messages.js.

import { h, icon } from "./dom.js";
import { formatText, mentions } from "./format.js";
import { avatar } from "./people.js";
import { fullLabel, timeLabel } from "./time.js";

function iso(ms) {
  return new Date(ms).toISOString();
}

/**
 * A confirmed or pending message; `state` is "sent", "pending" or "failed".
 * `actions` (sent messages only): {pick, toggle(emoji), edit, remove}, with
 * edit and remove only for your own; `editor`: the inline editor to show in
 * place of the text; `names(username)`: a display name.
 */
export function messageEl(m, { me, groupStart, state, retry, discard, actions = null, editor = null, names = (u) => u }) {
  const author = m.author || { username: null, display_name: "unknown" };
  const mine = author.username === me;
  const deleted = m.deleted === true;
  const mentioned = !mine && !deleted && mentions(m.text, me);
  const el = h("div", {
    class: `msg${groupStart ? " group-start" : ""}${mentioned ? " mentioned" : ""} state-${state}${deleted ? " deleted" : ""}${editor ? " editing" : ""}`,
    testid: "message",
    // Sent messages take focus (a tap on a phone, a click), which shows their actions.
    tabindex: state === "sent" && !deleted ? "-1" : null,
    dataset: {
      seq: m.seq || null,
      clientId: m.client_id || null,
      state,
      author: author.username || "",
      deleted: deleted ? "true" : null,
      edited: m.edited_at && !deleted ? "true" : null,
      focusKey: state === "sent" ? `${m.seq}:msg` : null,
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
  if (deleted) {
    main.append(h("div", { class: "msg-tombstone", testid: "message-tombstone" }, "This message was deleted."));
  } else if (editor) {
    main.append(editor);
  } else {
    main.append(
      h(
        "div",
        { class: "msg-body" },
        h("div", { class: "msg-text", testid: "message-text" }, formatText(m.text, me)),
        m.edited_at
          ? h("span", { class: "msg-edited", testid: "message-edited", title: `Edited ${fullLabel(m.edited_at)}` }, "(edited)")
          : null,
      ),
    );
  }
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
  if (!deleted && m.reactions && m.reactions.length) main.append(reactionsEl(m, me, names, editor ? null : actions));
  el.append(gutter, main);
  if (actions && !deleted && !editor) el.append(actionsEl(m, mine, actions));
  return el;
}

/** The bar over a message's corner: react, and edit and delete your own. */
function actionsEl(m, mine, actions) {
  const button = (name, iconName, label, onClick) =>
    h(
      "button",
      {
        class: "icon-btn msg-action",
        type: "button",
        testid: `action-${name}`,
        title: label,
        "aria-label": label,
        dataset: { focusKey: `${m.seq}:${name}` },
        onClick,
      },
      icon(iconName),
    );
  return h(
    "div",
    { class: "msg-actions", role: "toolbar", "aria-label": "Message actions", testid: "message-actions" },
    button("react", "smile", "Add reaction", actions.pick),
    mine && actions.edit ? button("edit", "pencil", "Edit message", actions.edit) : null,
    mine && actions.remove ? button("delete", "trash", "Delete message", actions.remove) : null,
  );
}

/** "Bob Martin, Carol and you reacted with 👍" (at most 10 names, then "N others"). */
export function reactedTitle(r, me, names) {
  const others = r.users.filter((u) => u !== me).map(names);
  const shown = others.slice(0, 10);
  if (others.length > shown.length) shown.push(`${others.length - shown.length} others`);
  if (r.users.includes(me)) shown.push("you");
  const who = shown.length > 1 ? `${shown.slice(0, -1).join(", ")} and ${shown[shown.length - 1]}` : shown[0] || "Nobody";
  return `${who[0].toUpperCase()}${who.slice(1)} reacted with ${r.emoji}`;
}

/** One chip per emoji (yours highlighted; a click takes your reaction the
 * other way), then a button to add one. Without `actions`: chips to look at. */
function reactionsEl(m, me, names, actions) {
  const row = h("div", { class: "reactions", testid: "reactions" });
  for (const r of m.reactions) {
    const mine = r.users.includes(me);
    row.append(
      h(
        "button",
        {
          class: `reaction${mine ? " mine" : ""}`,
          type: "button",
          testid: "reaction",
          title: reactedTitle(r, me, names),
          "aria-label": `${r.emoji} ${r.count} ${r.count === 1 ? "reaction" : "reactions"}${mine ? ", including yours" : ""}`,
          "aria-pressed": mine ? "true" : "false",
          disabled: !actions,
          dataset: { emoji: r.emoji, focusKey: `${m.seq}:r:${r.emoji}` },
          onClick: actions ? () => actions.toggle(r.emoji) : undefined,
        },
        h("span", { class: "reaction-emoji" }, r.emoji),
        h("span", { class: "reaction-count", testid: "reaction-count" }, String(r.count)),
      ),
    );
  }
  if (actions) {
    row.append(
      h(
        "button",
        {
          class: "reaction reaction-add",
          type: "button",
          testid: "add-reaction",
          title: "Add reaction",
          "aria-label": "Add reaction",
          dataset: { focusKey: `${m.seq}:r+` },
          onClick: actions.pick,
        },
        icon("smile", "icon reaction-add-icon"),
      ),
    );
  }
  return row;
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
