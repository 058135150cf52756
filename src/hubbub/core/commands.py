"""Slash commands, run on the server so that every client (the web app, the
terminal, the SDK, the Lambda deployment) has the same ones.

A command is a line `/name text` typed in a channel. The built-ins are in
`BUILT_INS` (one table: name, usage, what it does, its handler); any other
name is a custom command an admin registered (core.custom_commands), which
POSTs Slack's slash-command payload to its URL.

An answer is `ephemeral` (for the user who typed it only: it goes back on the
connection or the HTTP response that ran it, and is never stored) or
`in_channel` (a message posted in the channel, seen by everyone, stored like
any other).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Literal

from hubbub.core.models import Channel, StoredMessage, User
from hubbub.protocol.errors import ChatError, ErrorCode
from hubbub.protocol.rules import COMMAND_RE

if TYPE_CHECKING:
    from hubbub.core.hub import Hub

ResponseType = Literal["ephemeral", "in_channel"]
# A command's name: what Slack allows (lowercase letters, digits, - and _).
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
SHRUG = "¯\\_(ツ)_/¯"


@dataclasses.dataclass(frozen=True, slots=True)
class Answer:
    command: str  # "/shrug"
    response_type: ResponseType
    text: str = ""  # for the user who ran it
    message: StoredMessage | None = None  # what it posted in the channel


@dataclasses.dataclass(frozen=True, slots=True)
class Invocation:
    """A command being run: who, where (the channel's name as typed, and the
    channel, looked up once), and what they typed after its name."""

    user: User
    channel: str
    command: str
    text: str
    client_id: str | None
    room: Channel


BuiltIn = Callable[["Hub", Invocation], Awaitable[Answer]]


def parse(line: str) -> tuple[str, str]:
    """`/Name  some text` -> ("/name", "some text")."""
    if not COMMAND_RE.match(line):
        raise ChatError(
            ErrorCode.invalid_input,
            "a command is / and a name of letters, digits, - or _, then its text",
            field="text",
        )
    name = line[1:].split(None, 1)[0]  # COMMAND_RE: the name ends at a space, tab or newline
    rest = line[1 + len(name) :]
    return f"/{name.lower()}", rest.strip()


def _ephemeral(inv: Invocation, text: str) -> Answer:
    return Answer(inv.command, "ephemeral", text)


def _one_name(text: str, sigil: str, what: str) -> str:
    words = text.split()
    if len(words) != 1 or not words[0].lstrip(sigil):
        raise ChatError(ErrorCode.invalid_input, f"name one {what}", field="text")
    return words[0].lstrip(sigil).lower()


async def _post(hub: Hub, inv: Invocation, text: str) -> Answer:
    message = await hub.send(inv.user, inv.channel, text, inv.client_id)
    return Answer(inv.command, "in_channel", "", message)


async def _me(hub: Hub, inv: Invocation) -> Answer:
    if not inv.text:
        raise ChatError(ErrorCode.invalid_input, "usage: /me action", field="text")
    # What every client shows as an action line (the terminal's action_of).
    return await _post(hub, inv, f"*{inv.user.username} {inv.text}*")


async def _shrug(hub: Hub, inv: Invocation) -> Answer:
    return await _post(hub, inv, f"{inv.text} {SHRUG}" if inv.text else SHRUG)


async def _topic(hub: Hub, inv: Invocation) -> Answer:
    if not inv.text:
        shown = inv.room.topic or "(no topic)"
        return _ephemeral(inv, f"The topic of #{inv.room.name}: {shown}")
    channel = await hub.set_topic(inv.user, inv.channel, inv.text)
    return _ephemeral(inv, f"Topic of #{channel.name} set to: {channel.topic}")


async def _invite(hub: Hub, inv: Invocation) -> Answer:
    words = inv.text.split()
    if not 1 <= len(words) <= 2:
        raise ChatError(ErrorCode.invalid_input, "usage: /invite @user [#channel]", field="text")
    username = _one_name(words[0], "@", "person")
    where = words[1].lstrip("#").lower() if len(words) == 2 else inv.channel
    channel = await hub.invite(inv.user, where, username)
    return _ephemeral(inv, f"Added {username} to #{channel.name}.")


async def _kick(hub: Hub, inv: Invocation) -> Answer:
    username = _one_name(inv.text, "@", "person")
    channel = await hub.admin.remove_member(inv.user, inv.channel, username)
    return _ephemeral(inv, f"Removed {username} from #{channel.name}.")


async def _join(hub: Hub, inv: Invocation) -> Answer:
    name = _one_name(inv.text, "#", "channel")
    channel = await hub.join(inv.user, name)
    return _ephemeral(inv, f"You joined #{channel.name}.")


async def _leave(hub: Hub, inv: Invocation) -> Answer:
    name = _one_name(inv.text, "#", "channel") if inv.text else inv.channel
    channel = await hub.leave(inv.user, name)
    return _ephemeral(inv, f"You left #{channel.name}.")


async def _mute(hub: Hub, inv: Invocation) -> Answer:
    if inv.text:
        raise ChatError(ErrorCode.invalid_input, "usage: /mute (in the channel)", field="text")
    _, prefs = await hub.notifications.channel(inv.user, inv.channel)
    channel, prefs = await hub.notifications.set_channel(
        inv.user, inv.channel, muted=not prefs.muted
    )
    if prefs.muted:
        return _ephemeral(
            inv, f"Muted #{channel.name}: no notifications from it. /mute again to undo."
        )
    return _ephemeral(inv, f"Unmuted #{channel.name}.")


# `/dnd 30m`, `/dnd 2h`, `/dnd 1d`, `/dnd 90` (minutes).
_DURATION = re.compile(r"^(\d{1,5})\s*(m|min|mins|minutes?|h|hours?|d|days?)?$")
_UNIT_MINUTES = {"m": 1, "h": 60, "d": 24 * 60}


def dnd_minutes(text: str) -> int:
    match = _DURATION.match(text.lower())
    if match is None:
        raise ChatError(ErrorCode.invalid_input, "usage: /dnd [30m | 2h | 1d | off]", field="text")
    minutes = int(match.group(1)) * _UNIT_MINUTES[(match.group(2) or "m")[0]]
    if not 1 <= minutes <= 7 * 24 * 60:
        raise ChatError(
            ErrorCode.invalid_input, "do not disturb lasts 1 minute to 7 days", field="text"
        )
    return minutes


async def _dnd(hub: Hub, inv: Invocation) -> Answer:
    words = inv.text.lower()
    notifications = hub.notifications
    if not words:
        body = await notifications.settings(inv.user)
    elif words == "off":
        body = await notifications.snooze(inv.user, None)
    else:
        body = await notifications.snooze(inv.user, dnd_minutes(words))
    until = body["dnd_until"]
    if isinstance(until, int):
        left = max(1, round((until - notifications.now_ms()) / 60_000))
        text = f"Do not disturb is on for {_span(left)}: no notifications until then."
    elif body["dnd"]:
        text = "Do not disturb is on (your schedule)."
    else:
        text = "Do not disturb is off."
    schedule = body["schedule"]
    if isinstance(schedule, dict):
        text += f" Schedule: every day {schedule['start']}-{schedule['end']} ({schedule['tz']})."
    return _ephemeral(inv, text)


def _span(minutes: int) -> str:
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"


async def _help(hub: Hub, inv: Invocation) -> Answer:
    lines = ["Commands:"]
    lines += [f"  {usage:<26} {doc}" for usage, doc, _ in BUILT_INS.values()]
    custom = await hub.custom_commands.listed_for_help()
    lines += [f"  {usage:<26} {doc}" for usage, doc in custom]
    return _ephemeral(inv, "\n".join(lines))


# name -> (usage, what it does, handler): the one table of built-ins.
BUILT_INS: dict[str, tuple[str, str, BuiltIn]] = {
    "/me": ("/me action", "an action line: `*you action*`", _me),
    "/shrug": ("/shrug [text]", f"post text followed by {SHRUG}", _shrug),
    "/topic": ("/topic [text]", "set the channel's topic (alone: show it)", _topic),
    "/invite": ("/invite @user [#channel]", "add someone to this (or that) channel", _invite),
    "/kick": ("/kick @user", "remove someone (the channel's admins)", _kick),
    "/join": ("/join #channel", "join a public channel", _join),
    "/leave": ("/leave [#channel]", "leave this (or that) channel", _leave),
    "/mute": ("/mute", "mute this channel (again: unmute)", _mute),
    "/dnd": ("/dnd [30m | 2h | 1d | off]", "do not disturb for a while (alone: show it)", _dnd),
    "/help": ("/help", "this list", _help),
}


class Commands:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    async def run(
        self, user: User, channel: str, line: str, *, client_id: str | None = None
    ) -> Answer:
        """Run the command `line` typed in `channel` (which `user` must be
        able to see) and answer it."""
        command, text = parse(line)
        room, _ = await self.hub.channel_for(user, channel)  # 404 for one you cannot see
        inv = Invocation(user, channel, command, text, client_id, room)
        built_in = BUILT_INS.get(command)
        if built_in is not None:
            return await built_in[2](self.hub, inv)
        return await self.hub.custom_commands.run(inv)
