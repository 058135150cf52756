// Notifications in the web app: desktop notifications (the Notification API)
// for what your preferences allow (notify-rule.js, the server's rule) while the
// tab is hidden; the prompt that asks the browser's permission only when you
// click it (never on page load); and the dialogs that set a channel's level and
// mute and your do-not-disturb. Preferences live on the server (PUT
// /api/notifications, /api/channels/{name}/notifications): every device agrees,
// and a change made in another tab arrives as an event (chat.js).

import { seg } from "./api.js";
import { h, setChildren } from "./dom.js";
import { LEVELS, dndActive, notifies } from "./notify-rule.js";

const DISMISSED_KEY = "hubbub.notify-prompt-dismissed";
const BODY_CHARS = 200;

/** Desktop notifications and the prompt that turns them on. */
export class DesktopNotifier {
  constructor(app) {
    this.app = app;
    this.shown = new Map(); // tag -> the Notification, so a click can close its siblings
    this.prompt = h("div", { class: "notify-prompt", testid: "notify-prompt", role: "region", "aria-label": "Desktop notifications", hidden: true });
    this.render();
  }

  supported() {
    return typeof window.Notification === "function";
  }

  /** The prompt shows while the browser has not been asked and you did not
   * dismiss it; the browser is asked only from its button (a user gesture). */
  render() {
    const want = this.supported() && Notification.permission === "default" && !localStorage.getItem(DISMISSED_KEY);
    this.prompt.hidden = !want;
    if (!want) return;
    setChildren(
      this.prompt,
      h("span", null, "Get a notification when someone mentions you or sends you a DM."),
      h("button", { class: "button small", type: "button", testid: "notify-enable", onClick: () => this.enable() }, "Enable desktop notifications"),
      h(
        "button",
        {
          class: "button secondary small",
          type: "button",
          testid: "notify-dismiss",
          onClick: () => {
            localStorage.setItem(DISMISSED_KEY, "1");
            this.render();
          },
        },
        "Not now",
      ),
    );
  }

  async enable() {
    try {
      await Notification.requestPermission();
    } catch {
      /* an old browser's callback form: the permission is read below either way */
    }
    this.render();
    if (Notification.permission === "denied") {
      this.app.toasts.show("Desktop notifications are blocked for this site: allow them in the browser's site settings.", "error");
    }
  }

  /** A message arrived live in `ch`: notify if the tab is hidden and your
   * preferences allow it. */
  incoming(ch, m) {
    if (!this.supported() || Notification.permission !== "granted") return;
    if (document.visibilityState !== "hidden") return;
    const { chat } = this.app;
    const me = chat.me && chat.me.username;
    if (!me) return;
    const prefs = { level: ch.notify, muted: ch.muted };
    if (!notifies(prefs, chat.notifySettings, m, me, Date.now(), ch.kind)) return;
    const who = (m.shown_name || chat.displayName(m.author.username)) ?? m.author.username;
    const title = ch.isDM ? who : `${who} in #${ch.name}`;
    let body = String(m.text || "");
    if (!body && m.files && m.files.length) body = `sent ${m.files.length === 1 ? "a file" : `${m.files.length} files`}`;
    if (body.length > BODY_CHARS) body = `${body.slice(0, BODY_CHARS - 1)}…`;
    const tag = `${ch.name}:${m.seq}`;
    let n;
    try {
      n = new Notification(title, { body, tag, icon: "/favicon.svg" });
    } catch {
      return; // e.g. a browser that allows them only from a service worker
    }
    this.shown.set(tag, n);
    n.onclose = () => this.shown.delete(tag);
    n.onclick = () => {
      window.focus();
      n.close();
      this.app.openMessage(m); // the channel, at that message, highlighted (as a search result)
    };
  }
}

// --- a channel's level and mute ---------------------------------------------------

const LEVEL_TEXT = {
  all: ["All messages", "Every new message in this channel."],
  mentions: ["Mentions", "Mentions of you, @here, @channel and @everyone (a DM: every message)."],
  nothing: ["Nothing", "No notifications from it."],
};

export function openChannelNotifications(app, ch) {
  const name = ch.name;
  const radios = LEVELS.map((level) => {
    const input = h("input", { type: "radio", name: "notify-level", value: level, testid: `notify-level-${level}`, checked: ch.notify === level });
    return h("label", { class: "radio-row" }, input, h("span", null, h("strong", null, LEVEL_TEXT[level][0]), " ", h("span", { class: "muted-text" }, LEVEL_TEXT[level][1])));
  });
  const mute = h("input", { type: "checkbox", testid: "notify-mute", checked: ch.muted });
  const error = h("p", { class: "form-error", testid: "notify-error", hidden: true });
  const save = async (changes) => {
    error.hidden = true;
    try {
      const body = await app.api.put(`/api/channels/${seg(name)}/notifications`, changes);
      app.chat.channelPrefs(body);
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    }
  };
  for (const r of radios) r.querySelector("input").addEventListener("change", (ev) => save({ level: ev.target.value }));
  mute.addEventListener("change", () => save({ muted: mute.checked }));
  app.dialog({
    title: `Notifications for ${app.labelOf(name)}`,
    testid: "channel-notifications",
    body: h(
      "div",
      { class: "notify-settings" },
      h("fieldset", { class: "notify-levels" }, h("legend", null, "Notify me about"), ...radios),
      h("label", { class: "check-row" }, mute, h("span", null, "Mute this channel (no notifications; dimmed in the sidebar)")),
      error,
    ),
  });
}

// --- do not disturb -----------------------------------------------------------------

/** "Until tomorrow": 09:00 local time the next day, as Slack's. */
function tomorrowMorning(now = new Date()) {
  const t = new Date(now);
  t.setDate(t.getDate() + 1);
  t.setHours(9, 0, 0, 0);
  return t.getTime();
}

export function dndLabel(settings, nowMs = Date.now()) {
  if (!dndActive(settings, nowMs)) return "";
  if (settings.dnd_until != null && settings.dnd_until > nowMs) {
    const until = new Date(settings.dnd_until);
    return `Notifications paused until ${until.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}`;
  }
  return "Notifications paused (your schedule)";
}

export function openDnd(app) {
  const { chat } = app;
  const settings = chat.notifySettings || { dnd_until: null, schedule: null, dnd: false, email_digest: false };
  const state = h("p", { class: "dnd-state", testid: "dnd-state" });
  const error = h("p", { class: "form-error", testid: "dnd-error", hidden: true });
  const showState = () => {
    state.textContent = dndLabel(chat.notifySettings, Date.now()) || "Do not disturb is off.";
  };
  const put = async (body) => {
    error.hidden = true;
    try {
      chat.notifySettingsChanged(await app.api.put("/api/notifications", body));
      showState();
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
      // What the server refused stays as it was (e.g. digests where it sends no e-mail).
      digest.checked = !!(chat.notifySettings && chat.notifySettings.email_digest);
    }
  };
  const pause = (testid, label, body) => h("button", { class: "button secondary small", type: "button", testid, onClick: () => put(body()) }, label);
  const tz = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  const s = settings.schedule;
  const start = h("input", { class: "input input-time", type: "time", testid: "dnd-from", value: s ? s.start : "22:00", "aria-label": "From" });
  const end = h("input", { class: "input input-time", type: "time", testid: "dnd-to", value: s ? s.end : "08:00", "aria-label": "To" });
  const zone = h("input", { class: "input", testid: "dnd-tz", value: s ? s.tz : tz, "aria-label": "Time zone", spellcheck: "false" });
  const digest = h("input", { type: "checkbox", testid: "dnd-digest", checked: !!settings.email_digest });
  digest.addEventListener("change", () => put({ email_digest: digest.checked }));
  const address = h("input", { class: "input", type: "email", testid: "dnd-email", value: settings.email || "", placeholder: "you@example.com", "aria-label": "E-mail address for digests", autocomplete: "email" });
  address.addEventListener("change", () => put({ email: address.value.trim() || null }));
  showState();
  app.dialog({
    title: "Do not disturb",
    testid: "dnd-dialog",
    body: h(
      "div",
      { class: "notify-settings" },
      state,
      h(
        "div",
        { class: "dnd-pauses" },
        pause("dnd-30m", "For 30 minutes", () => ({ dnd_minutes: 30 })),
        pause("dnd-1h", "For 1 hour", () => ({ dnd_minutes: 60 })),
        pause("dnd-2h", "For 2 hours", () => ({ dnd_minutes: 120 })),
        pause("dnd-tomorrow", "Until tomorrow", () => ({ dnd_until: tomorrowMorning() })),
        pause("dnd-off", "Turn off", () => ({ dnd_until: null })),
      ),
      h(
        "fieldset",
        { class: "dnd-schedule" },
        h("legend", null, "Every day"),
        h("label", null, "From ", start),
        h("label", null, " to ", end),
        h("label", null, " time zone ", zone),
        h(
          "div",
          { class: "dialog-actions" },
          h("button", { class: "button secondary small", type: "button", testid: "dnd-schedule-clear", onClick: () => put({ schedule: null }) }, "No schedule"),
          h("button", { class: "button small", type: "button", testid: "dnd-schedule-save", onClick: () => put({ schedule: { start: start.value, end: end.value, tz: zone.value.trim() } }) }, "Save schedule"),
        ),
      ),
      h("label", { class: "check-row" }, digest, h("span", null, "E-mail me unread mentions and DMs while I am offline, to")),
      address,
      error,
    ),
  });
}
