// Where you write: Enter sends and Shift+Enter breaks the line, the box grows
// with the text, each channel keeps its own unsent draft, and typing is
// announced often enough to keep the others' indicator up while you type.
// Up in the empty box edits your last message in the channel. "@" and a few
// letters offer the people to mention (mention-autocomplete.js), and "/" at
// the start the commands (command-autocomplete.js): while such a list shows,
// Enter and Tab pick from it instead.
//
// Slash commands run on the server (`POST /api/channels/{name}/commands`,
// chat.runCommand), so every client has the same ones (/me, /shrug, /topic,
// /invite, /kick, /leave, /help and the workspace's custom commands): a line
// `/word ...` is sent there, never posted as text. What it posts in the
// channel comes back as any message does; what it answers for you only shows
// in the channel as an "Only visible to you" line (messages.js). A refusal
// (an unknown command, a custom command's server that failed...) is the
// server's message on the line above the box, and the line stays in the box
// to fix. Only `/join #name` is run here: it joins on the server and opens
// the channel, which only the page can do. A message that should start with
// "/" starts with "//" (one is dropped).
//
// Files (upload.js): the paperclip picks them, a paste of an image or a file
// adds it, and so does a drop on the channel (app.js) or the thread panel;
// they upload at once and wait in a tray over the box. Enter sends them with
// the text (which may then be empty), once they are all uploaded.
//
// An archived channel is read-only: in place of the box, a line saying so,
// with Unarchive for those who may.

import { seg } from "./api.js";
import { h, icon } from "./dom.js";
import { CommandAutocomplete } from "./command-autocomplete.js";
import { MentionAutocomplete } from "./mention-autocomplete.js";
import { PendingFiles, pastedFiles } from "./upload.js";

const TYPING_EVERY = 3000;
const CHANNEL_RE = /^[a-z0-9][a-z0-9_-]{0,79}$/;

export class Composer {
  constructor(app) {
    this.app = app;
    this.drafts = new Map();
    this.lastTypingSent = 0;
    this.input = h("textarea", {
      class: "composer-input",
      testid: "composer",
      rows: "1",
      "aria-label": "Message",
    });
    this.input.addEventListener("keydown", (ev) => this.onKey(ev));
    this.input.addEventListener("input", () => this.onInput());
    this.mention = new MentionAutocomplete({
      input: this.input,
      api: app.api,
      me: () => app.user.username,
      inChannel: () => {
        const ch = app.currentChannel();
        return Boolean(ch && !ch.isDM);
      },
    });
    this.commands = new CommandAutocomplete({ input: this.input, api: app.api });
    this.input.setAttribute("aria-controls", `${this.mention.el.id} ${this.commands.el.id}`);
    this.notice = h("div", { class: "composer-notice", testid: "composer-notice", role: "status", hidden: true });
    this.waiting = null; // the channel whose message goes once its files are uploaded
    this.files = new PendingFiles({
      api: app.api,
      // The server's limits, from `hello` (none until it came: then the server says no).
      maxBytes: () => Number(app.chat.limits.max_file_bytes) || null,
      maxFiles: () => Number(app.chat.limits.max_files_per_message) || null,
      onError: (text) => app.toasts.show(text, "error"),
      onChange: () => {
        const name = this.waiting;
        if (name && name === this.app.current && !this.files.busy(name)) {
          this.waiting = null;
          this.submit();
        }
      },
    });
    this.input.addEventListener("paste", (ev) => {
      const files = pastedFiles(ev);
      if (!files.length) return;
      ev.preventDefault(); // not its name pasted as text
      this.addFiles(files);
    });
    this.picker = h("input", {
      type: "file",
      multiple: true,
      hidden: true,
      testid: "file-input",
      tabindex: "-1",
      onChange: () => {
        this.addFiles([...this.picker.files]);
        this.picker.value = ""; // the same file can be picked again
      },
    });
    this.archivedNotice = h("div", { class: "archived-notice", testid: "archived-notice", role: "status", hidden: true });
    this.archivedFor = null; // what the notice was drawn for
    this.form = h(
      "form",
      {
        class: "composer",
        onSubmit: (ev) => {
          ev.preventDefault();
          this.submit();
        },
      },
      this.mention.el,
      this.commands.el,
      this.notice,
      this.files.el,
      this.input,
      h(
        "div",
        { class: "composer-bar" },
        h(
          "button",
          {
            class: "icon-btn attach-button",
            type: "button",
            testid: "attach-button",
            title: "Attach files",
            "aria-label": "Attach files",
            onClick: () => this.picker.click(),
          },
          icon("clip"),
        ),
        this.picker,
        h("span", { class: "composer-hint" }, "Enter to send · Shift+Enter for a new line"),
        h(
          "button",
          { class: "send-button", testid: "send-button", type: "submit", title: "Send (Enter)", "aria-label": "Send" },
          icon("send"),
        ),
      ),
    );
  }

  render() {
    const ch = this.app.currentChannel();
    const archived = !!ch && ch.archived;
    this.form.hidden = !ch || archived;
    if (ch) this.input.placeholder = ch.isDM ? `Message ${ch.label(this.app.user.username)}` : `Message #${ch.name}`;
    this.files.render(ch ? ch.name : null);
    this.renderArchived(archived ? ch : null);
  }

  renderArchived(ch) {
    const may = ch ? this.app.mayManage(ch) : false;
    const key = ch ? `${ch.name}|${may}` : null;
    this.archivedNotice.hidden = !ch;
    if (key === this.archivedFor) return;
    this.archivedFor = key;
    if (!ch) {
      this.archivedNotice.replaceChildren();
      return;
    }
    const unarchive = may
      ? h(
          "button",
          {
            class: "button secondary",
            type: "button",
            testid: "unarchive-button",
            onClick: async (ev) => {
              const btn = ev.currentTarget;
              btn.disabled = true;
              try {
                const body = await this.app.api.patch(`/api/channels/${seg(ch.name)}`, { archived: false });
                ch.update(body);
                this.app.changed("channels", ch.name);
                this.app.toasts.show(`#${ch.name} is no longer archived.`);
                this.focus();
              } catch (err) {
                btn.disabled = false;
                this.app.toasts.show(err.message, "error");
              }
            },
          },
          "Unarchive",
        )
      : null;
    this.archivedNotice.replaceChildren(
      h("span", { class: "archived-text" }, h("strong", null, "This channel is archived."), " You can read its history, but no one can post in it."),
      unarchive,
    );
  }

  /** Upload `files` for the next message here. */
  addFiles(files) {
    const { current } = this.app;
    if (!current || !files.length) return;
    this.files.add(current, files);
    this.focus();
  }

  /** Channel `from` is called `to` now: its draft goes with it. */
  renamed(from, to) {
    this.files.renamed(from, to);
    if (this.drafts.has(from)) {
      this.drafts.set(to, this.drafts.get(from));
      this.drafts.delete(from);
    }
  }

  /** On wide screens only: on a phone, focusing would pop the keyboard up over the messages. */
  focus() {
    if (window.matchMedia("(min-width: 700px)").matches) this.input.focus({ preventScroll: true });
  }

  saveDraft(name) {
    this.drafts.set(name, this.input.value);
  }

  loadDraft(name) {
    this.mention.close();
    this.commands.close();
    this.waiting = null;
    this.files.render(name);
    this.input.value = (name && this.drafts.get(name)) || "";
    this.say(null);
    this.autosize();
  }

  /** A line above the box about what you typed (null: none). */
  say(text, kind = "hint") {
    this.notice.textContent = text || "";
    this.notice.dataset.kind = kind;
    this.notice.hidden = !text;
  }

  onKey(ev) {
    if (this.mention.onKey(ev) || this.commands.onKey(ev)) return; // the lists' keys first
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing && !ev.altKey) {
      ev.preventDefault();
      this.submit();
    } else if (ev.key === "ArrowUp" && !this.input.value && !ev.shiftKey && !ev.altKey && !ev.ctrlKey && !ev.metaKey && !ev.isComposing) {
      // Up in an empty box edits your last message here (as in Slack).
      if (this.app.messages.editLast()) ev.preventDefault();
    }
  }

  onInput() {
    this.autosize();
    if (!this.notice.hidden) this.say(null);
    const now = Date.now();
    if (!this.input.value.trim()) {
      this.lastTypingSent = 0; // cleared: the next keystroke starts a new burst
      return;
    }
    const { chat, current } = this.app;
    // Re-announce well within typing_ttl so the indicator stays up while typing.
    const every = Math.min(TYPING_EVERY, (Number(chat.limits.typing_ttl) || 6) * 500);
    if (current && now - this.lastTypingSent > every) {
      this.lastTypingSent = now;
      chat.sendTyping(current);
    }
  }

  autosize() {
    const c = this.input;
    c.style.height = "auto";
    c.style.height = `${Math.min(c.scrollHeight, 240)}px`;
  }

  submit() {
    const { current } = this.app;
    const text = this.input.value;
    if (!current) return;
    if (this.files.of(current).length) {
      this.submitWithFiles(current, text);
      return;
    }
    if (!text.trim()) return;
    if (text.startsWith("//")) {
      this.post(text.slice(1));
    } else if (/^\/[^\s/]/.test(text)) {
      this.command(text);
    } else {
      this.post(text);
    }
  }

  /** Enter with files in the tray: they go with the text, once all are in. */
  submitWithFiles(current, text) {
    if (this.files.anyFailed(current)) {
      this.waiting = null;
      this.say("Remove the files that could not be uploaded, then send.", "error");
      return;
    }
    if (this.files.busy(current)) {
      this.waiting = current;
      this.say("Sending once the files are uploaded…");
      return;
    }
    this.post(text.startsWith("//") ? text.slice(1) : text, this.files.ready(current));
  }

  command(text) {
    const [, word, rest] = text.match(/^\/(\S+)\s*([\s\S]*)$/);
    if (word.toLowerCase() === "join") this.join(rest.trim());
    else this.run(text);
  }

  /** Run the command line `text` on the server, in the open channel. */
  async run(text) {
    const { chat, current } = this.app;
    // The line goes at once (as a message does), and comes back to fix if refused.
    this.clear();
    chat.backToLatest(current); // an in-channel answer shows at the newest
    this.app.messages.stickToBottom();
    try {
      await chat.runCommand(current, text);
    } catch (err) {
      // Not a command at all? Perhaps a message that starts with "/".
      const why = err.code === "not_found" && /^unknown command/.test(err.message) ? `${err.message.replace(/\.$/, "")}. To send a message that starts with "/", start it with "//".` : err.message;
      if (this.app.current === current && !this.input.value) {
        this.input.value = text;
        this.autosize();
        this.say(why, "error");
      } else {
        this.app.toasts.show(why, "error"); // typed on, or elsewhere now: the box is not for it
      }
    }
    this.app.schedule();
  }

  async join(arg) {
    const { api, chat } = this.app;
    const name = arg.replace(/^#/, "").toLowerCase();
    if (!CHANNEL_RE.test(name)) {
      this.say("Usage: /join #channel", "error");
      return;
    }
    this.clear();
    if (chat.channels.has(name) && !chat.channels.get(name).isDM) {
      this.app.openChannel(name, true);
      return;
    }
    try {
      const body = await api.post(`/api/channels/${seg(name)}/join`);
      chat.addChannel(body);
      this.app.openChannel(body.name, true);
    } catch (err) {
      this.input.value = `/join #${name}`; // give it back to fix
      this.autosize();
      this.say(err.code === "not_found" ? `There is no channel #${name} to join.` : err.message, "error");
    }
  }

  clear() {
    const { current } = this.app;
    this.input.value = "";
    this.mention.close();
    this.commands.close();
    if (current) this.drafts.delete(current);
    this.lastTypingSent = 0;
    this.say(null);
    this.autosize();
  }

  post(text, files = []) {
    const { chat, current } = this.app;
    const max = Number(chat.limits.max_message_chars) || 10000;
    if (text.length > max) {
      this.app.toasts.show(`Messages can be at most ${max} characters.`, "error");
      return;
    }
    // Sent from a channel opened at an older message: back to its newest first.
    chat.backToLatest(current);
    chat.send(current, text, { files });
    this.files.clear(current);
    this.clear();
    this.app.messages.stickToBottom();
    this.app.schedule();
  }
}
