// "Browse channels": every channel you can see, filtered as you type, to open
// the ones you are in and join the others.

import { seg } from "./api.js";
import { openCreate } from "./create-channel.js";
import { h, icon, setChildren } from "./dom.js";

export async function openBrowse(app) {
  const filter = h("input", {
    class: "input",
    testid: "browse-filter",
    placeholder: "Search channels",
    autocomplete: "off",
    "aria-label": "Search channels",
  });
  const list = h("ul", { class: "pick-list browse-list" }, h("li", { class: "pick-empty" }, "Loading…"));
  let all = [];
  const update = () => {
    const q = filter.value.trim().toLowerCase().replace(/^#/, "");
    const shown = all.filter((c) => c.kind !== "dm" && (!q || c.name.includes(q) || c.topic.toLowerCase().includes(q)));
    setChildren(
      list,
      shown.length
        ? shown.map((c) =>
            h(
              "li",
              { class: "browse-item", testid: "browse-item", dataset: { channel: c.name } },
              h(
                "div",
                { class: "browse-text" },
                h(
                  "div",
                  { class: "browse-name" },
                  icon(c.kind === "private" ? "lock" : "hash", "icon nav-icon"),
                  h("span", null, c.name),
                  c.is_member ? h("span", { class: "joined" }, "✓ Joined") : null,
                  c.archived ? h("span", { class: "archived-tag", testid: "browse-archived" }, "archived") : null,
                ),
                h(
                  "div",
                  { class: "browse-meta" },
                  `${c.member_count} ${c.member_count === 1 ? "member" : "members"}`,
                  c.topic ? ` · ${c.topic}` : "",
                ),
              ),
              c.is_member
                ? h("button", { class: "button secondary", type: "button", onClick: () => { dlg.close(); app.openChannel(c.name, true); } }, "Open")
                : h(
                    "button",
                    {
                      class: "button",
                      type: "button",
                      testid: "join-button",
                      onClick: async (ev) => {
                        ev.currentTarget.disabled = true;
                        try {
                          const body = await app.api.post(`/api/channels/${seg(c.name)}/join`);
                          app.chat.addChannel(body);
                          dlg.close();
                          app.openChannel(body.name, true);
                        } catch (err) {
                          ev.currentTarget.disabled = false;
                          app.toasts.show(err.message, "error");
                        }
                      },
                    },
                    "Join",
                  ),
            ),
          )
        : h("li", { class: "pick-empty" }, all.length ? "No channels match" : "No channels yet. Create one!"),
    );
  };
  filter.addEventListener("input", update);
  const dlg = app.dialog({
    title: "Browse channels",
    testid: "browse-dialog",
    body: [
      filter,
      list,
      h("div", { class: "dialog-actions" }, h("button", { class: "button secondary", type: "button", onClick: () => { dlg.close(); openCreate(app); } }, "Create a channel")),
    ],
  });
  filter.focus();
  try {
    all = await app.chat.channelDirectory(); // every page of the list, not just the first
    all.sort((a, b) => a.name.localeCompare(b.name));
    update();
  } catch (err) {
    setChildren(list, h("li", { class: "pick-empty" }, err.message));
  }
}
