"""The S1 tutorial protocol (API Gateway chat): `?room_name=` on connect,
`sendMessage`, `getRecentMessages`, pushes of `{"messages": [...]}`.

A room is the public channel of the same name, so native clients share its
messages and history.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from hubbub.core import events
from hubbub.core.models import Channel, User
from hubbub.protocol import frames as f
from hubbub.protocol.errors import ChatError, CloseCode, ErrorCode

if TYPE_CHECKING:
    from hubbub.core.hub import Hub
    from hubbub.server.connection import Connection
    from hubbub.server.gateway import Gateway


class HasHub(Protocol):
    """What the tutorial actions need of a transport: the self-hosted Gateway,
    or the Lambda handlers (hubbub.aws)."""

    @property
    def hub(self) -> Hub: ...


class TutorialConnection(Protocol):
    @property
    def user(self) -> User | None: ...

    @property
    def guest_room(self) -> Channel | None: ...

    def send(self, frame: dict[str, Any]) -> None: ...


RECENT = 10
MAX_GUEST_NAME = 80


def _missing(field: str) -> ChatError:
    return ChatError(ErrorCode.invalid_input, f"{field} not in message dict", field=field)


async def _room(gw: HasHub, name: str, user: User | None) -> Channel:
    """The room's channel, created on first use, with `user` made a member."""
    if user is None:
        channel = await gw.hub.ensure_room(name, None)
        if channel.kind != "public":
            raise ChatError(ErrorCode.not_found, f"no room {name!r}")
        return channel
    try:
        channel, membership = await gw.hub.channel_for(user, name)
    except ChatError as err:
        if err.code is not ErrorCode.not_found or await gw.hub.store.get_channel(name):
            raise
        channel, membership = await gw.hub.ensure_room(name, user), None
    if membership is None:
        channel = await gw.hub.join(user, name)
    return channel


async def open_room(gw: Gateway, conn: Connection, name: str, user: User | None) -> None:
    try:
        channel = await _room(gw, name, user)
    except ChatError as err:
        conn.close(CloseCode.room_unavailable, err.message)
        return
    if user is None:
        conn.authenticated(None)
    conn.guest_room = channel
    topic = events.channel_topic(channel.id)
    conn.channels[topic] = channel
    await gw.fanout.add_tutorial(topic, conn)


async def send_message(gw: HasHub, conn: TutorialConnection, frame: f.SendMessage) -> None:
    room = frame.room_name or (conn.guest_room.name if conn.guest_room else None)
    if room is None:
        raise _missing("room_name")
    user = conn.user
    if frame.token is not None:  # the original tutorial sends a token in each frame
        user = await gw.hub.authenticate(frame.token)
    if user is None:
        name = frame.user_name if frame.user_name is not None else frame.username
        if name is None:
            raise _missing("user_name")
        name = name.strip()[:MAX_GUEST_NAME] or "guest"
        gw.hub.check_text(frame.content)
        gw.hub.check_rate(("guest", id(conn)))
        await gw.hub.send_as_guest(await _room(gw, room, None), name, frame.content)
    else:
        await _room(gw, room, user)
        await gw.hub.send(user, room, frame.content, None)


async def get_recent_messages(
    gw: HasHub, conn: TutorialConnection, frame: f.GetRecentMessages
) -> None:
    room = frame.room_name or (conn.guest_room.name if conn.guest_room else None)
    if room is None:
        raise _missing("room_name")
    try:
        _, rows, _ = await gw.hub.history(conn.user, room, limit=RECENT)
    except ChatError as err:
        if err.code is not ErrorCode.not_found:
            raise
        rows = []  # as the tutorial: an unused room has no messages (and hides private ones)
    conn.send(
        events.tutorial_messages([(m.author or m.author_name, m.text) for m in reversed(rows)])
    )
