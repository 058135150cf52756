// Tiny DOM builder. Everything user-supplied goes in as text nodes or as
// attribute values via setAttribute: there is no innerHTML anywhere in the client.

const EVENT = /^on[A-Z]/;

/**
 * h("div", {class: "x", testid: "y", onClick: fn}, "text", child, [more])
 * - `text` sets textContent; `testid` sets data-testid; `dataset` fills data-*;
 * - `onX` with a function adds an event listener (never an inline handler);
 * - strings among the children become text nodes.
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  if (props) {
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) continue;
      if (EVENT.test(key)) {
        if (typeof value !== "function") throw new TypeError(`${key} must be a function`);
        el.addEventListener(key.slice(2).toLowerCase(), value);
      } else if (key.toLowerCase().startsWith("on")) {
        throw new TypeError(`refusing inline handler attribute ${key}`);
      } else if (key === "class") {
        el.className = value;
      } else if (key === "text") {
        el.textContent = String(value);
      } else if (key === "testid") {
        el.setAttribute("data-testid", value);
      } else if (key === "dataset") {
        for (const [k, v] of Object.entries(value)) if (v !== undefined && v !== null) el.dataset[k] = String(v);
      } else if (key === "style") {
        throw new TypeError("use CSS classes or el.style, not a style attribute");
      } else if (key === "value" || key === "checked" || key === "disabled" || key === "hidden") {
        el[key] = value;
      } else if (value === true) {
        el.setAttribute(key, "");
      } else {
        el.setAttribute(key, String(value));
      }
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replace all children of `el` (text for strings). */
export function setChildren(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}

/** A small inline SVG icon from path data shipped with the client (no user data). */
const SVG_NS = "http://www.w3.org/2000/svg";
const ICONS = {
  hash: "M5 9h14M5 15h14M10 4 8 20M16 4l-2 16",
  lock: "M7 11V8a5 5 0 0 1 10 0v3M6 11h12v9H6z",
  plus: "M12 5v14M5 12h14",
  menu: "M4 7h16M4 12h16M4 17h16",
  send: "M4 12 20 4l-6 16-3-7z",
  search: "M11 18a7 7 0 1 1 0-14 7 7 0 0 1 0 14zM16 16l4 4",
  user: "M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM5 20a7 7 0 0 1 14 0",
  x: "M6 6l12 12M18 6 6 18",
  bell: "M6 16V11a6 6 0 0 1 12 0v5l2 2H4zM10 20a2 2 0 0 0 4 0",
  "bell-off": "M6 16V11a6 6 0 0 1 12 0v5l2 2H4zM10 20a2 2 0 0 0 4 0M4 4l16 16",
  down: "M12 5v14M6 13l6 6 6-6",
  compass: "M12 21a9 9 0 1 1 0-18 9 9 0 0 1 0 18zM15.5 8.5l-2 5-5 2 2-5z",
  logout: "M15 4h4v16h-4M10 8l-4 4 4 4M6 12h10",
  smile: "M12 21a9 9 0 1 1 0-18 9 9 0 0 1 0 18zM8.5 14.5a4.5 4.5 0 0 0 7 0M9 9.5v.5M15 9.5v.5",
  pencil: "M4 20h4L19 9a2.8 2.8 0 0 0-4-4L4 16zM13.5 6.5l4 4",
  trash: "M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13M10 11v6M14 11v6",
  clip: "M20 11.5 12.3 19.2a5 5 0 0 1-7.1-7.1L13 4.3a3.3 3.3 0 0 1 4.7 4.7L10 16.7a1.7 1.7 0 0 1-2.4-2.4L14.8 7",
};

export function icon(name, cls = "icon") {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", cls);
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(SVG_NS, "path");
  path.setAttribute("d", ICONS[name]);
  svg.appendChild(path);
  return svg;
}
