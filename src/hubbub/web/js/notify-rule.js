// Who gets notified of a message: the server's rule (src/hubbub/protocol/notify.py),
// line for line, so that the web app's desktop notifications, the terminal's
// bell and the e-mail digest agree. Pure: no DOM, the clock is a parameter.
//
// - never your own messages, nor deleted ones;
// - nothing while do-not-disturb is on (a snooze until `dnd_until`, or inside the
//   daily schedule), in a muted channel, or under level "nothing";
// - a DM always counts as a mention;
// - "mentions" (the default): messages that mention you, @here, @channel, @everyone;
// - "all": every message shown in the channel, and mentions of you in threads.

import { mentions } from "./format.js";

export const LEVELS = ["all", "mentions", "nothing"];

/** Minutes after midnight of "HH:MM" (null if it is not one). */
function minutesOf(clock) {
  const m = /^([01][0-9]|2[0-3]):([0-5][0-9])$/.exec(String(clock || ""));
  return m ? Number(m[1]) * 60 + Number(m[2]) : null;
}

/** The local time of day at `nowMs` in time zone `tz`, in minutes (null: unknown zone). */
function localMinutes(nowMs, tz) {
  try {
    const parts = new Intl.DateTimeFormat("en-GB", { timeZone: tz, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).formatToParts(new Date(nowMs));
    const get = (type) => Number(parts.find((p) => p.type === type)?.value);
    return get("hour") * 60 + get("minute");
  } catch {
    return null;
  }
}

/** Inside the daily window {start, end, tz} (start inclusive, end exclusive;
 * across midnight when end < start; start == end: never). */
export function inSchedule(schedule, nowMs) {
  const start = minutesOf(schedule.start);
  const end = minutesOf(schedule.end);
  const minute = localMinutes(nowMs, schedule.tz);
  if (start === null || end === null || minute === null) return false;
  if (start <= end) return start <= minute && minute < end;
  return minute >= start || minute < end;
}

/** Do not disturb is on: snoozed, or inside the schedule. `settings` as the
 * server's `notifications` frame ({dnd_until, schedule, ...}). */
export function dndActive(settings, nowMs) {
  if (!settings) return false;
  if (settings.dnd_until != null && nowMs < settings.dnd_until) return true;
  return !!settings.schedule && inSchedule(settings.schedule, nowMs);
}

/** Whether `me` is notified of `message` (a message frame) in a channel of
 * kind `kind` with preferences `{level, muted}`. */
export function notifies(prefs, settings, message, me, nowMs, kind) {
  const author = message.author && message.author.username;
  if (author === me || message.deleted === true) return false;
  const level = LEVELS.includes(prefs.level) ? prefs.level : "mentions";
  if (prefs.muted || level === "nothing" || dndActive(settings, nowMs)) return false;
  if (kind === "dm" || mentions(message.text || "", me)) return true;
  const inChannel = message.thread_root == null || message.broadcast === true;
  return level === "all" && inChannel;
}
