// The files on a message: an image inline (its thumbnail, drawn at the size
// its width and height give before it loads, so the list does not jump) that
// opens the lightbox; any other file a card with an icon for its type, its
// name, size and type, and a download link. Used in the channel, in threads
// and for a send on its way.
//
// Downloads need a signed URL (`GET /api/files/{id}/link`, the thumbnail's
// with `?thumbnail=1`): FileLinks asks for each as its attachment is drawn and
// keeps it until shortly before it expires, so a list redrawn, or a file
// shown twice, asks once.

import { h } from "./dom.js";
import { openLightbox } from "./lightbox.js";

/** A link this close to its expiry is asked for again (ms). */
const MARGIN = 5 * 60 * 1000;
/** Links kept at most (the oldest go first). */
const MAX_LINKS = 2000;
/** The largest an inline image is drawn (CSS pixels). */
const THUMB_W = 360;
const THUMB_H = 240;

const SVG_NS = "http://www.w3.org/2000/svg";

export class FileLinks {
  /** `onError(text)`: says a download could not start (a toast). */
  constructor(api, onError = () => {}) {
    this.api = api;
    this.onError = onError;
    this.links = new Map(); // "id" or "id:t" -> {promise, url, expiresAt}
  }

  /** A URL of file `id` (its thumbnail's with `thumbnail`) still good for a while, or null. */
  known(id, thumbnail = false) {
    const hit = this.links.get(key(id, thumbnail));
    return hit && hit.url && hit.expiresAt - MARGIN > Date.now() ? hit.url : null;
  }

  /** A URL of file `id` (or its thumbnail), asked of the server unless one is known. */
  get(id, thumbnail = false) {
    const k = key(id, thumbnail);
    const hit = this.links.get(k);
    if (hit && (!hit.url || hit.expiresAt - MARGIN > Date.now())) return hit.promise;
    const entry = { promise: null, url: null, expiresAt: 0 };
    entry.promise = this.api.get(`/api/files/${encodeURIComponent(id)}/link${thumbnail ? "?thumbnail=1" : ""}`).then(
      (body) => {
        entry.url = body.url;
        entry.expiresAt = Number(body.expires_at);
        return body.url;
      },
      (err) => {
        if (this.links.get(k) === entry) this.links.delete(k); // ask again next time
        throw err;
      },
    );
    this.links.delete(k);
    this.links.set(k, entry);
    if (this.links.size > MAX_LINKS) this.links.delete(this.links.keys().next().value);
    return entry.promise;
  }

  /** Forget a link that did not work (it expired early, the server restarted). */
  forget(id, thumbnail = false) {
    this.links.delete(key(id, thumbnail));
  }
}

function key(id, thumbnail) {
  return thumbnail ? `${id}:t` : id;
}

/** "812 B", "4.2 KB", "18 MB", "1.3 GB" (1 KB = 1024 bytes). */
export function humanSize(bytes) {
  const n = Number(bytes) || 0;
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1).replace(/\.0$/, "") : Math.round(v)} ${units[i]}`;
}

/** Shown inline: an image the server made a thumbnail of (it measured it too). */
export function isInlineImage(f) {
  return String(f.content_type || "").startsWith("image/") && f.thumbnail === true && f.width > 0 && f.height > 0;
}

/** Kinds of file with their own icon colour, and a short label to show on it. */
function kindOf(f) {
  const type = String(f.content_type || "").toLowerCase();
  const ext = (String(f.name || "").match(/\.([A-Za-z0-9]{1,5})$/) || [])[1] || "";
  if (type === "application/pdf") return ["pdf", "PDF"];
  if (type.startsWith("image/")) return ["image", ext.toUpperCase() || "IMG"];
  if (type.startsWith("video/")) return ["video", ext.toUpperCase() || "VID"];
  if (type.startsWith("audio/")) return ["audio", ext.toUpperCase() || "AUD"];
  if (/zip|tar|gzip|x-7z|x-rar|x-bzip|x-xz|compress/.test(type)) return ["archive", ext.toUpperCase() || "ZIP"];
  if (/html|xml|javascript|json|x-python|x-sh|x-c/.test(type)) return ["code", ext.toUpperCase() || "CODE"];
  if (/spreadsheet|excel|csv/.test(type)) return ["sheet", ext.toUpperCase() || "XLS"];
  if (/word|opendocument|rtf|presentation|powerpoint/.test(type)) return ["doc", ext.toUpperCase() || "DOC"];
  if (type.startsWith("text/")) return ["text", ext.toUpperCase() || "TXT"];
  return ["file", ext.toUpperCase() || "FILE"];
}

/** What kind of file, in words, from its type. */
export function typeLabel(f) {
  const type = String(f.content_type || "application/octet-stream");
  const [kind] = kindOf(f);
  const words = { pdf: "PDF", image: "Image", video: "Video", audio: "Audio", archive: "Archive", text: "Text", sheet: "Spreadsheet", doc: "Document" };
  return words[kind] ? `${words[kind]} · ${type}` : type;
}

/** A page-like icon with the kind's label on it (drawn here: no user data in it but the extension as text). */
function fileIcon(f) {
  const [kind, label] = kindOf(f);
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", "file-icon-page");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(SVG_NS, "path");
  path.setAttribute("d", "M6 2h8l5 5v15H6zM14 2v5h5");
  svg.appendChild(path);
  return h("span", { class: `file-icon file-icon-${kind}`, testid: "file-icon", dataset: { kind } }, svg, h("span", { class: "file-icon-label" }, label.slice(0, 4)));
}

/** A link that downloads file `f`: its href is a signed URL, asked for when
 * drawn and again on a click if it is about to expire. */
export function downloadLink(f, links, { cls = "file-download", testid = "file-download", text = "Download" } = {}) {
  const a = h(
    "a",
    {
      class: cls,
      testid,
      download: f.name,
      rel: "noopener",
      "aria-label": `Download ${f.name}`,
      title: `Download ${f.name}`,
      onClick: (ev) => {
        const url = links.known(f.id);
        if (url) {
          a.href = url; // the default action follows the href as it is now
          return;
        }
        ev.preventDefault();
        links
          .get(f.id)
          .then((fresh) => {
            a.href = fresh;
            a.click();
          })
          .catch((err) => links.onError(`Could not download ${f.name}: ${err.message}`));
      },
    },
    text,
  );
  links
    .get(f.id)
    .then((url) => {
      a.href = url;
    })
    .catch(() => {}); // asked again on a click
  return a;
}

/** The size an inline image is drawn at: its own, made to fit THUMB_W x THUMB_H. */
function fitted(f) {
  const scale = Math.min(1, THUMB_W / f.width, THUMB_H / f.height);
  return [Math.max(1, Math.round(f.width * scale)), Math.max(1, Math.round(f.height * scale))];
}

function imageEl(f, links) {
  const [w, hgt] = fitted(f);
  const img = h("img", { class: "attachment-img", testid: "attachment-img", alt: f.name, width: String(w), height: String(hgt), decoding: "async" });
  let retried = false;
  const load = () =>
    links
      .get(f.id, true)
      .then((url) => {
        img.src = url;
      })
      .catch(() => img.classList.add("broken"));
  img.addEventListener("error", () => {
    // An expired or refused link: ask for a new one, once.
    if (retried) {
      img.classList.add("broken");
      return;
    }
    retried = true;
    links.forget(f.id, true);
    load();
  });
  load();
  return h(
    "button",
    {
      class: "attachment attachment-image",
      type: "button",
      testid: "attachment",
      title: `${f.name} (${humanSize(f.size)})`,
      "aria-label": `Open image ${f.name}`,
      dataset: { fileId: f.id, kind: "image", name: f.name },
      onClick: (ev) => openLightbox(f, links, ev.currentTarget),
    },
    img,
  );
}

function cardEl(f, links) {
  return h(
    "div",
    { class: "attachment file-card", testid: "attachment", dataset: { fileId: f.id, kind: "file", name: f.name } },
    fileIcon(f),
    h(
      "div",
      { class: "file-card-info" },
      h("span", { class: "file-card-name", testid: "file-name", title: f.name }, f.name),
      h(
        "span",
        { class: "file-card-meta" },
        h("span", { testid: "file-size" }, humanSize(f.size)),
        " · ",
        h("span", { testid: "file-type" }, typeLabel(f)),
      ),
    ),
    downloadLink(f, links),
  );
}

/** The attachments of a message (null when it has none). */
export function attachmentsEl(files, links) {
  if (!Array.isArray(files) || files.length === 0 || !links) return null;
  return h(
    "div",
    { class: "attachments", testid: "attachments" },
    files.map((f) => (isInlineImage(f) ? imageEl(f, links) : cardEl(f, links))),
  );
}
