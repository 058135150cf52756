// An image over the whole window: the full file (not its thumbnail), its name
// and size, and a download link. Esc, the close button or a click anywhere but
// on the link closes it, and the focus goes back to what opened it.

import { downloadLink, humanSize } from "./attachments.js";
import { h, icon } from "./dom.js";

export function openLightbox(f, links, opener = null) {
  const img = h("img", { class: "lightbox-img", testid: "lightbox-img", alt: f.name });
  if (f.width > 0 && f.height > 0) {
    // Its place is kept while it loads (the CSS caps it to the window).
    img.width = f.width;
    img.height = f.height;
  }
  const status = h("p", { class: "lightbox-status", role: "status" });
  links
    .get(f.id)
    .then((url) => {
      img.src = url;
    })
    .catch((err) => {
      status.textContent = `Could not load the image: ${err.message}`;
    });
  const dlg = h(
    "dialog",
    { class: "lightbox", testid: "lightbox", "aria-label": f.name },
    h(
      "div",
      { class: "lightbox-bar" },
      h(
        "div",
        { class: "lightbox-info" },
        h("span", { class: "lightbox-name", testid: "lightbox-name" }, f.name),
        h("span", { class: "lightbox-size", testid: "lightbox-size" }, humanSize(f.size)),
      ),
      downloadLink(f, links, { cls: "button secondary lightbox-download", testid: "lightbox-download" }),
      h("button", { class: "icon-btn lightbox-close", type: "button", testid: "lightbox-close", "aria-label": "Close", title: "Close (Esc)" }, icon("x")),
    ),
    h("figure", { class: "lightbox-figure" }, img, status),
  );
  dlg.addEventListener("click", (ev) => {
    if (!ev.target.closest("a")) dlg.close();
  });
  dlg.addEventListener("close", () => {
    dlg.remove();
    if (opener && opener.isConnected) opener.focus({ preventScroll: true });
  });
  document.body.append(dlg);
  dlg.showModal();
  dlg.querySelector("[data-testid=lightbox-close]").focus();
  return dlg;
}
