// A secret shown once (an invite link, a new API token, a webhook's URL: only
// their hashes are kept), in a read-only field with Copy, selected for the
// keyboard; and that field alone (`copyRow`) for what is not secret.

import { h, setChildren } from "./dom.js";

/** A read-only field holding `value` (selected when focused) with Copy;
 * testids `field` (the input), `${testid}-copy` and `${testid}-copied`. */
export function copyRow(value, { testid, label, field = testid }) {
  const input = h("input", { class: "input invite-link", testid: field, readonly: true, value, "aria-label": label, onFocus: (ev) => ev.currentTarget.select() });
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
  return { el: h("div", null, h("div", { class: "row" }, input, copy), copied), input };
}

/** Fill `box` with `value`; testids are `${testid}-link`, `-copy`, `-copied`. */
export function showOnce(box, value, { testid, label, hint }) {
  const row = copyRow(value, { testid, label, field: `${testid}-link` });
  setChildren(box, h("p", { class: "hint" }, h("strong", null, "Here it is. "), hint), row.el);
  box.hidden = false;
  row.input.focus();
  row.input.select();
}
