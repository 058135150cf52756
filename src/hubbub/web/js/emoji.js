// The bundled emoji font (app.css, "hubbub emoji") is a fallback: a browser
// fetches it the first time it has to draw an emoji that no system font has.
// Chromium keeps the text it laid out while the font was on its way as empty
// boxes, even after the font is in (and reuses that layout for the same text
// drawn again), so once it is in, a class on <html> changes a font property
// (app.css), which lays every text out anew with the font.

const FAMILY = "hubbub emoji";
export const READY_CLASS = "emoji-font-ready";

export function watchEmojiFont() {
  if (!document.fonts) return;
  const ready = () => document.documentElement.classList.add(READY_CLASS);
  document.fonts.addEventListener("loadingdone", (ev) => {
    if (ev.fontfaces.some((f) => f.family.replace(/"/g, "") === FAMILY)) ready();
  });
  // Loaded already (from the cache, before this ran)?
  for (const f of document.fonts) {
    if (f.family.replace(/"/g, "") === FAMILY && f.status === "loaded") ready();
  }
}
