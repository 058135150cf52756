"""The S1 tutorial protocol (API Gateway chat): `?room_name=` on connect,
`sendMessage`, `getRecentMessages`, pushes of `{"messages": [...]}`.

A room is the public channel of the same name, so native clients share its
messages and history. The re-encoding of channel events into tutorial pushes
lives here too: both drivers' fan-outs call `pushes`.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterable
from typing import Any

import orjson

from hubbub.core.envelope import Envelope
from hubbub.core.hub import Hub
from hubbub.core.models import Channel, User
from hubbub.core.writer import Result
from hubbub.protocol import frames as f
from hubbub.protocol.errors import ChatError, ErrorCode
from hubbub.protocol.rules import MAX_GUEST_NAME, RECENT
from hubbub.session.driver import Conn


def messages(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    return {"messages": [{"user_name": u, "content": c} for u, c in pairs]}


def pushes(envelopes: Iterable[Envelope]) -> list[bytes]:
    """What tutorial clients get for a run of channel events: one encoded
    `{"messages": [...]}` per message event, nothing for the others."""
    out = []
    for e in envelopes:
        if e.kind == "message":
            body = orjson.loads(e.frame)
            author = body["author"]
            name = author["username"] or author["display_name"]
            out.append(orjson.dumps(messages([(name, body["text"])])))
    return out


def _missing(field: str) -> ChatError:
    return ChatError(ErrorCode.invalid_input, f"{field} not in message dict", field=field)


# What a guest is told about every room it may not use, whatever the reason:
# invalid name, private channel, DM, or (unless guests may create rooms) no
# such channel. One answer, so a name's existence does not leak.
NO_ROOM = "no such room"


def no_room() -> ChatError:
    return ChatError(ErrorCode.not_found, NO_ROOM)


async def room(hub: Hub, name: str, user: User | None) -> Channel:
    """The room's channel, created on first use, with `user` made a member.
    A guest gets an existing public channel, or (`guest_rooms` "create") a
    new one; anything else is `no_room()`."""
    if user is None:
        try:
            channel = await hub.ensure_room(name, None)
        except ChatError as err:
            if err.code is ErrorCode.rate_limited:  # only where guests create rooms
                raise
            raise no_room() from None
        if channel.kind != "public":
            raise no_room()
        return channel
    try:
        channel, membership = await hub.channel_for(user, name)
    except ChatError as err:
        if err.code is not ErrorCode.not_found or await hub.store.get_channel(name):
            raise
        channel, membership = await hub.ensure_room(name, user), None
    if membership is None:
        channel = await hub.join(user, name)
    return channel


def updated(room: Channel | None, env: Envelope) -> Channel | None:
    """A tutorial connection's room after its channel's `channel_updated`
    event: renamed, archived or unarchived as the event says."""
    if room is None:
        return None
    body = orjson.loads(env.frame)["channel"]
    return dataclasses.replace(room, name=body["name"], archived=body["archived"])


def _own_room(conn: Conn, name: str, frame: f.SendMessage) -> Channel | None:
    """The connection's room, where it stands for `name` without a look-up
    (issue #18): for the connection's own sender (a token in the frame is
    someone else, who may have to join first), when the frame names that room
    or none. What can change about the room meanwhile is enforced as on the
    native path: a member removed is closed out by `Engine.control` and
    refused by the append's own membership check, as is an archived channel;
    a guest, whom the append does not check, by the room's `channel_updated`
    events (`updated`) on the server, and on a Lambda by the room itself,
    which it reads again with every frame (`LambdaConnection.load`); a
    channel never changes its kind."""
    own = conn.room
    if own is None or frame.token is not None or name != own.name:
        return None
    return own


async def send_message(hub: Hub, conn: Conn, frame: f.SendMessage) -> asyncio.Future[Result]:
    """Check a `sendMessage` (in the order and with the errors it always had)
    and queue it for the next group commit; what the commit made of it is
    the future's (see `Engine.after_commit`)."""
    name = frame.room_name or (conn.room.name if conn.room else None)
    if name is None:
        raise _missing("room_name")
    user = conn.user
    if frame.token is not None:  # the original tutorial sends a token in each frame
        user = (await hub.authenticate(frame.token)).user
    own = _own_room(conn, name, frame)
    if user is None:
        guest = frame.user_name if frame.user_name is not None else frame.username
        if guest is None:
            raise _missing("user_name")
        guest = guest.strip()[:MAX_GUEST_NAME] or "guest"
        hub.check_text(frame.content)
        hub.check_rate(("guest", conn.key))
        channel = own or await room(hub, name, None)
        return hub.queue_guest_send(channel, guest, frame.content)
    if own is None:
        await room(hub, name, user)
    return await hub.queue_send(user, name, frame.content, None)


async def get_recent_messages(hub: Hub, conn: Conn, frame: f.GetRecentMessages) -> None:
    name = frame.room_name or (conn.room.name if conn.room else None)
    if name is None:
        raise _missing("room_name")
    try:
        _, rows, _ = await hub.history(conn.user, name, limit=RECENT)
    except ChatError as err:
        if err.code is not ErrorCode.not_found:
            raise
        # As the tutorial: an unused room has no messages. So does every room
        # the connection may not read (private, DM, invalid name): one answer.
        rows = []
    conn.send(messages([(m.author or m.author_name, m.text) for m in reversed(rows)]))
