// "Threads" (from the sidebar): the threads you follow (you started them,
// replied in them or were mentioned in a reply), the latest reply first, each
// with its channel, the start of its first message and its unread replies,
// kept up to date while it is open. Picking one opens its channel and the
// thread in the side panel.

import { openDialog } from "./dialog.js";
import { h, setChildren } from "./dom.js";
import { excerpt, whenLabel } from "./message.js";
import { avatar } from "./avatar.js";

export function openThreadsView(app) {
  const { chat, user } = app;
  const me = user.username;
  let picked = null;
  const list = h("ul", { class: "pick-list threads-list", testid: "threads-list" });
  const draw = () => {
    if (!chat.followedLoaded) {
      setChildren(list, h("li", { class: "pick-empty" }, "Loading…"));
      return;
    }
    const threads = chat.followed.filter((t) => chat.channels.has(t.channel));
    if (!threads.length) {
      setChildren(
        list,
        h("li", { class: "pick-empty", testid: "threads-empty" }, "No threads yet. The threads you start, reply in or are mentioned in show up here."),
      );
      return;
    }
    setChildren(
      list,
      threads.map((t) => {
        const ch = chat.channels.get(t.channel);
        const root = t.root;
        const author = root.author || { username: null, display_name: "unknown" };
        const n = root.reply_count;
        return h(
          "li",
          null,
          h(
            "button",
            {
              class: `thread-item${t.unread > 0 ? " unread" : ""}`,
              type: "button",
              testid: "thread-item",
              dataset: { channel: t.channel, root: root.seq, unread: t.unread },
              onClick: () => {
                picked = t;
                dlg.close();
              },
            },
            avatar(author.username || author.display_name, author.display_name, "avatar avatar-sm"),
            h(
              "span",
              { class: "thread-item-text" },
              h(
                "span",
                { class: "thread-item-head" },
                h("span", { class: "thread-item-channel", testid: "thread-item-channel" }, ch.isDM ? ch.label(me) : `#${ch.name}`),
                h("span", { class: "thread-item-author" }, author.display_name),
              ),
              h("span", { class: "thread-item-excerpt", testid: "thread-item-excerpt" }, excerpt(root, 120)),
              h(
                "span",
                { class: "thread-item-meta" },
                `${n} ${n === 1 ? "reply" : "replies"}`,
                root.last_reply_at ? ` · last ${whenLabel(root.last_reply_at)}` : "",
              ),
            ),
            t.unread > 0
              ? h("span", { class: "badge badge-mention", testid: "thread-item-unread", title: "Unread replies" }, String(t.unread))
              : null,
          ),
        );
      }),
    );
  };
  draw();
  const stop = chat.listen((what) => {
    if (what === "threads") draw();
  });
  chat.refreshThreads();
  const dlg = openDialog({
    title: "Threads",
    testid: "threads-dialog",
    body: [list],
    onClose: () => {
      stop();
      if (!picked || !chat.channels.has(picked.channel)) {
        app.composer.focus();
        return;
      }
      if (app.current !== picked.channel) app.openChannel(picked.channel, true);
      app.messages.openThread(picked.channel, picked.root.seq);
    },
  });
  dlg.classList.add("dialog-threads");
  return dlg;
}
