// Files on their way into a message: picked with the composer's paperclip,
// pasted, or dropped on the channel (or the thread panel). Each is uploaded at
// once, on its own (`POST /api/files`, one file a request, so each has its own
// progress bar: XMLHttpRequest reports upload progress, fetch does not), and
// waits in a tray above the composer, with a remove button, until the message
// is sent with it. Each channel has its own, as it has its own draft. A file
// past the server's size limit (`hello` says it) is refused before it goes;
// anything the server refuses (413 and the rest) says why, in its words.

import { h, icon } from "./dom.js";
import { humanSize } from "./attachments.js";

let ids = 0;

export class PendingFiles {
  /**
   * @param {object} opts
   * @param {object} opts.api          the Api (its upload())
   * @param {() => number|null} opts.maxBytes  the server's largest file, if it says
   * @param {() => number|null} opts.maxFiles  the most files on one message, if it says
   * @param {(text: string) => void} opts.onError  tell the user (a toast)
   * @param {() => void} opts.onChange  an upload moved on (redraw; send if waiting)
   */
  constructor({ api, maxBytes, maxFiles, onError, onChange }) {
    this.api = api;
    this.maxBytes = maxBytes;
    this.maxFiles = maxFiles;
    this.onError = onError;
    this.onChange = onChange;
    this.byChannel = new Map(); // channel -> [item]
    this.shownFor = null;
    this.el = h("div", { class: "pending-files", testid: "pending-files", hidden: true });
  }

  /** The files waiting for channel `name`'s next message, in the order added. */
  of(name) {
    return (name && this.byChannel.get(name)) || [];
  }

  /** Upload `files` (a FileList or an array of File) for channel `name`. */
  add(name, files) {
    if (!name) return;
    const list = this.byChannel.get(name) || [];
    this.byChannel.set(name, list);
    const max = this.maxBytes();
    const most = this.maxFiles();
    if (most && list.length + files.length > most) {
      this.onError(`A message can have at most ${most} files.`);
      files = [...files].slice(0, Math.max(0, most - list.length));
    }
    for (const file of files) {
      const item = { key: ++ids, channel: name, file, name: file.name || "pasted file", size: file.size, progress: 0, state: "uploading", error: null, result: null, abort: null, done: null };
      list.push(item);
      if (max && file.size > max) {
        this.failed(item, `${item.name} is larger than the limit of ${humanSize(max)}.`);
        continue;
      }
      const form = new FormData();
      form.append("channel", name);
      form.append("file", file, item.name);
      const up = this.api.upload("/api/files", form, (fraction) => {
        item.progress = fraction;
        this.drawProgress(item);
      });
      item.abort = up.abort;
      item.done = up.done.then(
        (body) => {
          const out = Array.isArray(body) ? body[0] : null; // a list, one file here
          if (!out || !out.id) throw new Error("The server did not say which file it stored.");
          item.state = "done";
          item.progress = 1;
          item.result = out;
          this.changed();
        },
        (err) => {
          if (err.code === "aborted") return;
          this.failed(item, `Could not upload ${item.name}: ${err.message}`);
        },
      );
    }
    this.changed();
  }

  failed(item, text) {
    item.state = "failed";
    item.error = text;
    this.onError(text);
    this.changed();
  }

  remove(item) {
    if (item.state === "uploading" && item.abort) item.abort();
    const list = this.byChannel.get(item.channel) || [];
    const i = list.indexOf(item);
    if (i >= 0) list.splice(i, 1);
    if (!list.length) this.byChannel.delete(item.channel);
    this.changed();
  }

  /** Still uploading for `name`? */
  busy(name) {
    return this.of(name).some((i) => i.state === "uploading");
  }

  /** Any that failed (still in the tray, to remove)? */
  anyFailed(name) {
    return this.of(name).some((i) => i.state === "failed");
  }

  /** The stored files (FileOut) ready to go with `name`'s next message. */
  ready(name) {
    return this.of(name)
      .filter((i) => i.state === "done")
      .map((i) => i.result);
  }

  /** The message went with them: the tray is empty again. */
  clear(name) {
    this.byChannel.delete(name);
    this.changed();
  }

  /** Forget every channel's (the thread panel moved to another thread). */
  clearAll() {
    for (const list of this.byChannel.values()) for (const i of list) if (i.state === "uploading" && i.abort) i.abort();
    this.byChannel.clear();
    this.changed();
  }

  /** Channel `from` is called `to` now: its files go with it (they are stored for the channel, not its name). */
  renamed(from, to) {
    if (!this.byChannel.has(from)) return;
    const list = this.byChannel.get(from);
    for (const i of list) i.channel = to;
    this.byChannel.set(to, list);
    this.byChannel.delete(from);
  }

  changed() {
    this.render(this.shownFor);
    this.onChange();
  }

  /** Show the tray of channel `name`. */
  render(name) {
    this.shownFor = name;
    const list = this.of(name);
    this.el.hidden = list.length === 0;
    this.el.replaceChildren(...list.map((i) => this.itemEl(i)));
  }

  itemEl(i) {
    const bar = h("span", { class: "pending-file-bar", testid: "upload-progress", role: "progressbar", "aria-label": `Uploading ${i.name}`, "aria-valuemin": "0", "aria-valuemax": "100" });
    i.bar = bar;
    this.drawProgress(i);
    return h(
      "div",
      { class: `pending-file state-${i.state}`, testid: "pending-file", dataset: { state: i.state, name: i.name }, title: i.error || `${i.name} (${humanSize(i.size)})` },
      h(
        "div",
        { class: "pending-file-info" },
        h("span", { class: "pending-file-name", testid: "pending-file-name" }, i.name),
        h("span", { class: "pending-file-meta" }, i.state === "failed" ? h("span", { class: "pending-file-error", testid: "pending-file-error" }, i.error) : humanSize(i.size)),
        i.state === "uploading" ? h("span", { class: "pending-file-track" }, bar) : null,
      ),
      h(
        "button",
        { class: "icon-btn pending-file-remove", type: "button", testid: "pending-file-remove", title: "Remove", "aria-label": `Remove ${i.name}`, onClick: () => this.remove(i) },
        icon("x"),
      ),
    );
  }

  drawProgress(i) {
    if (!i.bar) return;
    const pct = Math.round(i.progress * 100);
    i.bar.style.width = `${pct}%`;
    i.bar.setAttribute("aria-valuenow", String(pct));
  }
}

/** Files dropped on `target` go to `onFiles(files)`, with an overlay saying
 * so while files are dragged over it (text or links dragged are left alone). */
export function dropZone(target, onFiles, label = "Drop files to upload") {
  const overlay = h("div", { class: "drop-overlay", testid: "drop-overlay", hidden: true }, h("div", { class: "drop-overlay-inner" }, icon("plus", "icon drop-icon"), label));
  target.append(overlay);
  let depth = 0; // dragenter/dragleave come for every child crossed
  const hasFiles = (ev) => !!ev.dataTransfer && [...ev.dataTransfer.types].includes("Files");
  const hide = () => {
    depth = 0;
    overlay.hidden = true;
  };
  target.addEventListener("dragenter", (ev) => {
    if (!hasFiles(ev)) return;
    ev.preventDefault();
    depth++;
    overlay.hidden = false;
  });
  target.addEventListener("dragover", (ev) => {
    if (!hasFiles(ev)) return;
    ev.preventDefault(); // lets it be dropped here
    ev.dataTransfer.dropEffect = "copy";
  });
  target.addEventListener("dragleave", (ev) => {
    if (!hasFiles(ev)) return;
    depth = Math.max(0, depth - 1);
    if (depth === 0) overlay.hidden = true;
  });
  target.addEventListener("drop", (ev) => {
    if (!hasFiles(ev)) return;
    ev.preventDefault(); // not opened by the browser in place of the app
    ev.stopPropagation();
    hide();
    if (ev.dataTransfer.files.length) onFiles([...ev.dataTransfer.files]);
  });
  return overlay;
}

/** The files of a paste (a screenshot copied, files copied in a file manager). */
export function pastedFiles(ev) {
  const dt = ev.clipboardData;
  if (!dt) return [];
  const files = [...(dt.files || [])];
  if (files.length) return files;
  return [...(dt.items || [])].filter((it) => it.kind === "file").map((it) => it.getAsFile()).filter(Boolean);
}
