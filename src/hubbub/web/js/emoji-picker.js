// "Add a reaction": a palette of common emoji, and a field for any other one,
// as itself or by its :shortcode: (the server knows Slack's and GitHub's
// aliases, and says so when what you typed is not an emoji). Picking an emoji
// you reacted with already takes it back, as in Slack.

import { openDialog } from "./dialog.js";
import { h } from "./dom.js";

/** [emoji, name, shortcode]: the emoji as the server stores them (`:heart:` is ❤️, with U+FE0F). */
export const PALETTE = [
  ["👍", "thumbs up", "+1"],
  ["👎", "thumbs down", "-1"],
  ["😂", "tears of joy", "joy"],
  ["❤️", "heart", "heart"],
  ["🎉", "party popper", "tada"],
  ["🙏", "folded hands", "pray"],
  ["👀", "eyes", "eyes"],
  ["🔥", "fire", "fire"],
  ["✅", "check mark", "white_check_mark"],
  ["😄", "smile", "smile"],
  ["😊", "blush", "blush"],
  ["😍", "heart eyes", "heart_eyes"],
  ["🤔", "thinking", "thinking"],
  ["😮", "open mouth", "open_mouth"],
  ["😢", "crying", "cry"],
  ["😡", "angry", "rage"],
  ["👏", "clapping", "clap"],
  ["🙌", "raised hands", "raised_hands"],
  ["💯", "hundred points", "100"],
  ["🚀", "rocket", "rocket"],
  ["✨", "sparkles", "sparkles"],
  ["😅", "sweat smile", "sweat_smile"],
  ["🤣", "rolling on the floor laughing", "rofl"],
  ["😎", "sunglasses", "sunglasses"],
  ["🥳", "partying face", "partying_face"],
  ["😬", "grimacing", "grimacing"],
  ["🙃", "upside-down face", "upside_down_face"],
  ["😉", "wink", "wink"],
  ["👌", "OK hand", "ok_hand"],
  ["✌️", "victory hand", "v"],
  ["🤝", "handshake", "handshake"],
  ["💪", "flexed biceps", "muscle"],
  ["👋", "waving hand", "wave"],
  ["☕", "coffee", "coffee"],
  ["🍕", "pizza", "pizza"],
  ["🎂", "birthday cake", "birthday"],
  ["⭐", "star", "star"],
  ["💡", "light bulb", "bulb"],
  ["⚠️", "warning", "warning"],
  ["❌", "cross mark", "x"],
];

/**
 * Open the picker. `onPick(emoji, typed)` sends the reaction and returns a
 * promise: the picker closes when it resolves and shows why when it rejects.
 * `typed` is true for what came from the field (sent as typed; the server
 * turns a :shortcode: into its emoji). `onClose` runs once it has closed.
 */
export function openEmojiPicker({ onPick, onClose }) {
  const field = h("input", {
    class: "input",
    testid: "emoji-input",
    placeholder: "Any emoji, or :shortcode: like :tada:",
    maxlength: "100",
    autocomplete: "off",
    spellcheck: "false",
    "aria-label": "Emoji or :shortcode:",
  });
  const error = h("p", { class: "form-error", testid: "emoji-error", role: "alert" });
  let busy = false;
  const pick = (emoji, typed) => {
    if (busy) return;
    busy = true;
    error.textContent = "";
    onPick(emoji, typed).then(
      () => dlg.close(),
      (err) => {
        busy = false;
        error.textContent = err.message;
        if (typed) field.select();
      },
    );
  };
  const form = h(
    "form",
    {
      class: "emoji-form",
      onSubmit: (ev) => {
        ev.preventDefault();
        const value = field.value.trim();
        if (!value) {
          error.textContent = "Type an emoji, or its :shortcode: (like :tada:).";
          return;
        }
        pick(value, true);
      },
    },
    field,
    h("button", { class: "button", type: "submit", testid: "emoji-submit" }, "Add"),
  );
  const grid = h(
    "div",
    { class: "emoji-grid", role: "group", "aria-label": "Common emoji", testid: "emoji-palette" },
    PALETTE.map(([emoji, name, code]) =>
      h(
        "button",
        {
          class: "emoji-choice",
          type: "button",
          testid: "emoji-choice",
          title: `${name} :${code}:`,
          "aria-label": name,
          dataset: { emoji },
          onClick: () => pick(emoji, false),
        },
        emoji,
      ),
    ),
  );
  const dlg = openDialog({ title: "Add a reaction", testid: "emoji-picker", body: [form, error, grid], onClose });
  dlg.classList.add("dialog-emoji");
  field.focus();
  return dlg;
}
