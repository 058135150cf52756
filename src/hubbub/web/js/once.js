// A secret shown once (an invite link, a new API token: only their hashes are
// kept), in a read-only field with Copy, selected for the keyboard.

import { h, setChildren } from "./dom.js";

/** Fill `box` with `value`; testids are `${testid}-link`, `-copy`, `-copied`. */
export function showOnce(box, value, { testid, label, hint }) {
  const input = h("input", { class: "input invite-link", testid: `${testid}-link`, readonly: true, value, "aria-label": label });
  const copied = h("span", { class: "hint", testid: `${testid}-copied`, role: "status" });
  const copy = h(
    "button",
    {
      class: "button secondary",
      type: "button",
      testid: `${testid}-copy`,
      onClick: async () => {
        input.select();
        let ok = false;
        try {
          await navigator.clipboard.writeText(value);
          ok = true;
        } catch {
          try {
            ok = document.execCommand("copy");
          } catch {
            ok = false;
          }
        }
        copied.textContent = ok ? "Copied." : "Select it and copy it.";
      },
    },
    "Copy",
  );
  setChildren(box, h("p", { class: "hint" }, h("strong", null, "Here it is. "), hint), h("div", { class: "row" }, input, copy), copied);
  box.hidden = false;
  input.focus();
  input.select();
}
