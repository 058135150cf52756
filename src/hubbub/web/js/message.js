// What one message looks like (avatar and name at the start of a group, the
// formatted text with "(edited)" after it, its reaction chips, the actions
// shown on hover or focus, and "Sending…" or "Not sent" with Retry and Discard
// for your own sends; a deleted one is a muted tombstone line), what stands
// before a channel's first message, the "X joined" / "X left" lines, and a
// slash command's answer that only you see ("Only visible to you"). The
// list that orders and groups them, and runs the actions, is messages.js (and
// thread-panel.js for a thread's).
//
// Threads and pins: a thread's first message shows "N replies" under it (who
// replied, when last) and opens the thread; a reply also sent to the channel
// says "replied to a thread: <its root>"; a pinned message says who pinned it.
//
// An incoming webhook's post with Slack's `username` override (its
// `shown_name`) shows that name, marked "via @account" with the account that
// posted it, and starts a group of its own.

import { h, icon } from "./dom.js";
import { formatText, mentions } from "./format.js";
import { attachmentsEl } from "./attachments.js";
import { avatar } from "./avatar.js";
import { dayKey, dayLabel, fullLabel, timeLabel } from "./time.js";

/** Messages closer than this join the author's group (ms). */
export const GROUP_GAP = 5 * 60 * 1000;

/** Does `m` start a new group after `prev` (the one before it, or null)? A
 * hook's post (its `shown_name`) is a group of its own: its name shows. */
export function startsGroup(prev, m) {
  const key = (x) => (x.author ? `${x.author.username || `guest:${x.author.display_name}`}|${x.shown_name || ""}` : "");
  return !prev || key(prev) !== key(m) || m.created_at - prev.created_at > GROUP_GAP;
}

/** Icons dom.js does not have: its icon(), drawn with another path (no user data). */
const MORE_ICONS = {
  thread: "M4 5h16v11h-9l-5 4v-4H4zM8 9h8M8 12h5",
  pin: "M9 3h6M10 3v6l-3 4h10l-3-4V3M12 13v8",
};

export function moreIcon(name, cls = "icon") {
  const svg = icon("x", cls);
  svg.firstChild.setAttribute("d", MORE_ICONS[name]);
  return svg;
}

/** A message's text on one line, cut to `max` characters (shown as text, unformatted). */
export function excerpt(m, max = 90) {
  if (!m) return "";
  if (m.deleted) return "This message was deleted.";
  let one = String(m.text || "").replace(/\s+/g, " ").trim();
  if (!one && Array.isArray(m.files) && m.files.length) one = m.files.map((f) => f.name).join(", ");
  return one.length > max ? `${one.slice(0, max - 1).trimEnd()}…` : one;
}

/** "today at 3:04 PM", "Yesterday at …", "Monday, June 2 at …". */
export function whenLabel(ms) {
  const day = dayKey(ms) === dayKey(Date.now()) ? "today" : dayLabel(ms);
  return `${day} at ${timeLabel(ms)}`;
}

/** What a message shows by name (who reacted, replied, pinned): a name learnt
 * later redraws it. */
export function peopleSig(m, names) {
  const reactors = m.reactions && m.reactions.length ? m.reactions.map((r) => r.users.map(names).join(",")).join(";") : "";
  const repliers = m.reply_users && m.reply_users.length ? m.reply_users.slice(0, 3).map(names).join(",") : "";
  return `${reactors}|${repliers}|${m.pinned_by ? names(m.pinned_by) : ""}`;
}

/** Put `nodes` in `list` in place of what it held, giving the focus back to
 * what in it had it (or to the same control of a message that was rebuilt,
 * by its data-focus-key), with the text selection of an input kept. */
export function showNodes(list, nodes) {
  const active = document.activeElement;
  const focused = active && active !== list && list.contains(active) ? active : null;
  const focusKey = focused ? focused.dataset.focusKey : null;
  const selection = focused && typeof focused.selectionStart === "number" ? [focused.selectionStart, focused.selectionEnd] : null;
  list.replaceChildren(...nodes);
  if (focused) {
    const again = focused.isConnected ? focused : focusKey ? list.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`) : null;
    if (again && document.activeElement !== again) {
      again.focus({ preventScroll: true });
      if (selection && typeof again.setSelectionRange === "function") again.setSelectionRange(...selection);
    }
  }
}

function iso(ms) {
  return new Date(ms).toISOString();
}

/**
 * A confirmed or pending message; `state` is "sent", "pending" or "failed".
 * `actions` (sent messages only): {pick, toggle(emoji), edit, remove, pin,
 * pinned, reply}, with edit and remove only for your own and reply null where
 * there is no "Reply in thread"; `editor`: the inline editor to show in place
 * of the text; `names(username)`: a display name. `onThread()` opens the
 * message's thread (its summary, or the "replied to a thread" line);
 * `replyTo`: for a reply shown in the channel, its root's excerpt ("" while
 * not known); `inThread`: the message is in the thread panel (no summary);
 * `status`: the author's custom status mark, beside their name (or null);
 * `links`: the FileLinks its attachments are downloaded through.
 */
export function messageEl(
  m,
  { me, groupStart, state, retry, discard, actions = null, editor = null, names = (u) => u, onThread = null, replyTo = null, inThread = false, status = null, links = null },
) {
  const author = m.author || { username: null, display_name: "unknown" };
  // An incoming webhook's own name for its post, always with the account it
  // came from beside it, so that a hook cannot pass for a person.
  const shown = author.username && m.shown_name ? m.shown_name : null;
  const mine = author.username === me;
  const deleted = m.deleted === true;
  const mentioned = !mine && !deleted && mentions(m.text, me);
  const pinned = !deleted && !!m.pinned_by;
  const el = h("div", {
    class: `msg${groupStart ? " group-start" : ""}${mentioned ? " mentioned" : ""} state-${state}${deleted ? " deleted" : ""}${editor ? " editing" : ""}${pinned ? " pinned" : ""}`,
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
      pinned: pinned ? "true" : null,
      threadRoot: m.thread_root ?? null,
      focusKey: state === "sent" ? `${m.seq}:msg` : null,
    },
  });
  const gutter = h("div", { class: "msg-gutter" });
  if (groupStart) {
    gutter.append(avatar(author.username || author.display_name, shown || author.display_name, "avatar"));
  } else {
    gutter.append(h("time", { class: "msg-time-hover", datetime: iso(m.created_at), title: fullLabel(m.created_at) }, timeLabel(m.created_at)));
  }
  const main = h("div", { class: "msg-main" });
  if (pinned) {
    const who = m.pinned_by === me ? "you" : names(m.pinned_by);
    main.append(
      h(
        "div",
        { class: "msg-pinned", testid: "message-pinned", title: m.pinned_at ? `Pinned ${fullLabel(m.pinned_at)}` : null },
        h("span", { class: "msg-pinned-mark", "aria-hidden": "true" }, "📌"),
        `Pinned by ${who}`,
      ),
    );
  }
  if (groupStart) {
    main.append(
      h(
        "div",
        { class: "msg-meta" },
        h("span", { class: "msg-author", testid: "message-author" }, shown || author.display_name),
        // A bot's message says so (as Slack's APP tag): a script never passes for a person.
        author.bot ? h("span", { class: "bot-badge", testid: "message-bot", title: `@${author.username} is a bot` }, "BOT") : null,
        shown
          ? h(
              "span",
              { class: "msg-via", testid: "message-via", title: `Posted by ${author.display_name} (@${author.username}) through an integration, named "${shown}"` },
              `via @${author.username}`,
            )
          : status,
        shown
          ? null
          : author.username && author.username !== author.display_name
            ? h("span", { class: "msg-handle" }, `@${author.username}`)
            : author.username
              ? null
              : h("span", { class: "msg-handle" }, "guest"),
        h("time", { class: "msg-time", datetime: iso(m.created_at), title: fullLabel(m.created_at) }, timeLabel(m.created_at)),
      ),
    );
  }
  if (m.thread_root !== null && m.thread_root !== undefined && !deleted) {
    if (inThread) {
      if (m.broadcast) main.append(h("div", { class: "thread-context", testid: "thread-broadcast-note" }, "Also sent to the channel"));
    } else if (replyTo !== null && onThread) {
      main.append(
        h(
          "button",
          { class: "thread-context", type: "button", testid: "thread-context", title: "Open the thread", onClick: onThread },
          "replied to a thread",
          replyTo ? ": " : "",
          replyTo ? h("span", { class: "thread-context-text", testid: "thread-context-text" }, replyTo) : null,
        ),
      );
    }
  }
  if (deleted) {
    main.append(h("div", { class: "msg-tombstone", testid: "message-tombstone" }, "This message was deleted."));
  } else if (editor) {
    main.append(editor);
  } else if (m.text || m.edited_at || !(m.files && m.files.length)) {
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
  const files = deleted ? null : attachmentsEl(m.files, links);
  if (files) main.append(files);
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
  if (!inThread && onThread && m.reply_count > 0 && (m.thread_root === null || m.thread_root === undefined)) {
    main.append(threadSummaryEl(m, names, onThread));
  }
  el.append(gutter, main);
  if (actions && !deleted && !editor) el.append(actionsEl(m, mine, actions));
  return el;
}

/** "[avatars] 3 replies  Last reply today at 3:04 PM": opens the thread. */
function threadSummaryEl(m, names, onThread) {
  const n = m.reply_count;
  const users = (m.reply_users || []).slice(0, 3);
  const count = `${n} ${n === 1 ? "reply" : "replies"}`;
  return h(
    "button",
    {
      class: "thread-summary",
      type: "button",
      testid: "thread-summary",
      "aria-label": `${count}, from ${users.map(names).join(", ")}: open the thread`,
      onClick: onThread,
    },
    h(
      "span",
      { class: "thread-avatars", testid: "thread-participants", title: users.map(names).join(", "), dataset: { users: users.join(",") } },
      users.map((u) => avatar(u, names(u), "avatar avatar-xs")),
    ),
    h("span", { class: "thread-count", testid: "thread-reply-count" }, count),
    m.last_reply_at
      ? h("span", { class: "thread-last", testid: "thread-last-reply", title: fullLabel(m.last_reply_at) }, `Last reply ${whenLabel(m.last_reply_at)}`)
      : null,
    h("span", { class: "thread-view" }, "View thread"),
  );
}

/** The bar over a message's corner: react, reply in thread, pin, and edit and
 * delete your own. */
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
      MORE_ICONS[iconName] ? moreIcon(iconName) : icon(iconName),
    );
  return h(
    "div",
    { class: "msg-actions", role: "toolbar", "aria-label": "Message actions", testid: "message-actions" },
    button("react", "smile", "Add reaction", actions.pick),
    actions.reply ? button("reply", "thread", "Reply in thread", actions.reply) : null,
    actions.pin ? button("pin", "pin", actions.pinned ? "Unpin" : "Pin to channel", actions.pin) : null,
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

/** A slash command's answer for you only (`ev`: {command, text, at}): muted,
 * marked "Only visible to you", formatted as a message is, with a × that
 * takes it away (`dismiss`). */
export function ephemeralEl(ev, { me, dismiss }) {
  return h(
    "div",
    { class: "ephemeral", testid: "ephemeral", role: "note", dataset: { command: ev.command || null } },
    h(
      "div",
      { class: "ephemeral-head" },
      h("span", { class: "ephemeral-label", testid: "ephemeral-label" }, "Only visible to you"),
      ev.command ? h("span", { class: "ephemeral-command", testid: "ephemeral-command" }, ev.command) : null,
      h("time", { class: "msg-time", datetime: iso(ev.at), title: fullLabel(ev.at) }, timeLabel(ev.at)),
      h(
        "button",
        { class: "icon-btn ephemeral-dismiss", type: "button", testid: "ephemeral-dismiss", title: "Dismiss", "aria-label": "Dismiss", onClick: dismiss },
        icon("x"),
      ),
    ),
    h("div", { class: "msg-text ephemeral-text", testid: "ephemeral-text" }, formatText(ev.text, me)),
  );
}
