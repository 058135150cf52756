"""Who gets notified of a message: the one rule, pure (no I/O, no clock of
its own), shared by the server (e-mail digests), the terminal client (its
bell) and, as a line-for-line port, the web app (web/js/notify-rule.js).

It lives in `protocol` because every client needs it and clients import only
the protocol: the preferences are part of the wire contract (the
`notifications` frames carry exactly these fields).

The rule, as Slack and Mattermost users expect it:
- never your own messages, nor deleted ones;
- nothing while do-not-disturb is on (a snooze until `dnd_until`, or inside
  the daily schedule), nor in a muted channel, nor under level `nothing`;
- DMs always count as mentions;
- under `mentions` (the default): messages that mention you, `@here`,
  `@channel` or `@everyone`;
- under `all`: every message shown in the channel, and mentions of you in
  threads.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
import zoneinfo
from typing import Literal

from hubbub.protocol.rules import mention_re

Level = Literal["all", "mentions", "nothing"]
LEVELS: tuple[Level, ...] = ("all", "mentions", "nothing")
DEFAULT_LEVEL: Level = "mentions"
# "HH:MM", 24-hour, as an <input type="time"> gives it.
CLOCK_RE = re.compile(r"^(?:[01][0-9]|2[0-3]):[0-5][0-9]$")
MAX_TZ = 64
MAX_EMAIL = 254  # RFC 5321's longest path
# An address as a person types it: something@somewhere.tld, no spaces. Whether
# it takes mail is the mail server's to say.
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


@dataclasses.dataclass(frozen=True, slots=True)
class ChannelPrefs:
    """One member's preferences for one channel."""

    level: Level = DEFAULT_LEVEL
    muted: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class Schedule:
    """Do not disturb every day from `start` to `end` ("22:00" to "08:00":
    across midnight) in the time zone `tz` (an IANA name, `Europe/Paris`)."""

    start: str
    end: str
    tz: str


@dataclasses.dataclass(frozen=True, slots=True)
class UserPrefs:
    """A user's own settings, the same on every device.

    `dnd_until`: a manual snooze, ms since the epoch (None or past: off).
    `email_digest`: e-mail unread mentions and DMs while offline, to `email`
    (the user's own address, set by themselves)."""

    dnd_until: int | None = None
    schedule: Schedule | None = None
    email_digest: bool = False
    email: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Incoming:
    """What the rule needs of a message."""

    kind: Literal["public", "private", "dm"]
    author: str
    text: str
    in_channel: bool = True  # False: a thread reply not also sent to the channel
    deleted: bool = False


def level_of(value: str) -> Level:
    """A stored level read back (an unknown one, from a newer server, is the
    default)."""
    for level in LEVELS:
        if value == level:
            return level
    return DEFAULT_LEVEL


def check_clock(value: str) -> int:
    """Minutes after midnight of "HH:MM"; ValueError otherwise."""
    if not CLOCK_RE.match(value):
        raise ValueError(f"{value!r} is not a time of day HH:MM")
    return int(value[:2]) * 60 + int(value[3:])


def check_zone(name: str) -> zoneinfo.ZoneInfo:
    """The time zone named `name`; ValueError for a name zoneinfo lacks."""
    if not name or len(name) > MAX_TZ or name.startswith(("/", ".")) or ".." in name:
        raise ValueError(f"{name!r} is not a time zone name")
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"no time zone {name!r}") from None


def in_schedule(schedule: Schedule, now_ms: int) -> bool:
    """Whether `now_ms` falls inside the daily window (start inclusive, end
    exclusive; start == end: never)."""
    start, end = check_clock(schedule.start), check_clock(schedule.end)
    local = datetime.datetime.fromtimestamp(now_ms / 1000, check_zone(schedule.tz))
    minute = local.hour * 60 + local.minute
    if start <= end:
        return start <= minute < end
    return minute >= start or minute < end  # the window spans midnight


def dnd_active(prefs: UserPrefs, now_ms: int) -> bool:
    if prefs.dnd_until is not None and now_ms < prefs.dnd_until:
        return True
    return prefs.schedule is not None and in_schedule(prefs.schedule, now_ms)


def mentions_me(text: str, me: str) -> bool:
    return mention_re(me).search(text) is not None


def notifies(
    channel: ChannelPrefs, user: UserPrefs, message: Incoming, me: str, now_ms: int
) -> bool:
    """Whether `me` is notified of `message` (see the module's docstring)."""
    if message.author == me or message.deleted:
        return False
    if channel.muted or channel.level == "nothing" or dnd_active(user, now_ms):
        return False
    if message.kind == "dm" or mentions_me(message.text, me):
        return True
    return channel.level == "all" and message.in_channel
