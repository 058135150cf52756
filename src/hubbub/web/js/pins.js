// A channel's pinned messages (`GET /api/channels/{name}/pins`, the most
// recently pinned first): a list for the channel's details and for the
// header's "Pinned" button. Picking one shows it in the channel (older pages
// are fetched to reach it) or, for a reply kept in its thread, in the thread.

import { seg } from "./api.js";
import { openDialog } from "./dialog.js";
import { h, setChildren } from "./dom.js";
import { formatText } from "./format.js";
import { fullLabel, timeLabel } from "./time.js";

/** The list of `ch`'s pinned messages (filled once they are in); `onPick(m)` on a click. */
export function pinnedList(app, ch, onPick) {
  const { chat, user } = app;
  const me = user.username;
  const list = h("ul", { class: "pinned-list", testid: "pinned-list" }, h("li", { class: "pick-empty" }, "Loading…"));
  app.api
    .get(`/api/channels/${seg(ch.name)}/pins`)
    .then(({ messages }) => {
      for (const m of messages) chat.learn(m.author);
      const who = messages.map((m) => m.pinned_by).filter((u) => u && u !== me);
      chat.lookUp(who).finally(() => {
        if (!messages.length) {
          setChildren(
            list,
            h("li", { class: "pick-empty", testid: "pinned-empty" }, "Nothing is pinned here yet. Pin a message from its actions (📌) to keep it handy."),
          );
          return;
        }
        setChildren(
          list,
          messages.map((m) =>
            h(
              "li",
              null,
              h(
                "button",
                {
                  class: "pinned-item",
                  type: "button",
                  testid: "pinned-item",
                  dataset: { seq: m.seq },
                  title: "Show this message",
                  onClick: () => onPick(m),
                },
                h(
                  "span",
                  { class: "pinned-meta" },
                  h("span", { class: "msg-author" }, m.author ? m.author.display_name : ""),
                  h("time", { class: "msg-time", datetime: new Date(m.created_at).toISOString(), title: fullLabel(m.created_at) }, timeLabel(m.created_at)),
                ),
                h("span", { class: "msg-text pinned-text", testid: "pinned-text" }, formatText(m.text, me)),
                h(
                  "span",
                  { class: "pinned-by", testid: "pinned-by" },
                  `📌 Pinned by ${m.pinned_by === me ? "you" : chat.displayName(m.pinned_by)}`,
                  m.thread_root !== undefined && m.thread_root !== null ? " · in a thread" : "",
                ),
              ),
            ),
          ),
        );
      });
    })
    .catch((err) => setChildren(list, h("li", { class: "pick-empty" }, `Could not load the pinned messages: ${err.message}`)));
  return list;
}

/** Show pinned message `m` (picked from a list) in the open channel. */
export function showPinned(app, m) {
  app.messages.showMessage(m);
}

/** The header's "Pinned" button: the open channel's pinned messages. */
export function openPins(app) {
  const ch = app.currentChannel();
  if (!ch) return;
  let picked = null;
  const list = pinnedList(app, ch, (m) => {
    picked = m;
    dlg.close();
  });
  const dlg = openDialog({
    title: "Pinned messages",
    testid: "pins-dialog",
    body: [list],
    onClose: () => {
      if (picked) showPinned(app, picked);
      else app.composer.focus();
    },
  });
  dlg.classList.add("dialog-pins");
}
