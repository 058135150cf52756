"""Every client action, once, and the route table: which handler answers which
frame. A handler gets the engine (for the hub), the connection (the driver
interface) and a validated frame, and writes its answer to the connection.
Which actions a connection may use at all is its state's (`state.ALLOWS`).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from hubbub.core import events
from hubbub.core.models import Scope, User
from hubbub.core.notifications import channel_prefs_body
from hubbub.core.searcher import results_body
from hubbub.protocol import frames as f
from hubbub.protocol.errors import ChatError, CloseCode, ErrorCode
from hubbub.protocol.rules import TYPING_EVERY
from hubbub.session import tutorial
from hubbub.session.driver import Conn

if TYPE_CHECKING:
    from hubbub.session.engine import Engine

Handler = Callable[["Engine", Conn, Any], Awaitable[None]]


def _user(conn: Conn) -> User:
    # The state table lets only USER connections reach the native actions.
    assert conn.user is not None, "a native action on a connection without a user"
    return conn.user


async def on_auth(engine: Engine, conn: Conn, frame: f.Auth) -> None:
    try:
        claims = engine.hub.read_token(frame.token)
    except ChatError as err:
        engine.refuse(conn, CloseCode.auth_failed, err, frame.id)
        return
    await engine.login(conn, claims, None)


async def on_subscribe(engine: Engine, conn: Conn, frame: f.Subscribe) -> None:
    channel, _ = await engine.hub.channel_for(_user(conn), frame.channel)
    topic = events.channel_topic(channel.id)
    limit = engine.hub.limits.max_subscriptions
    followed = await conn.followed()
    if topic not in followed and sum(t.startswith("c:") for t in followed) >= limit:
        raise ChatError(
            ErrorCode.too_many_subscriptions, f"at most {limit} channels per connection"
        )
    result = await conn.resume(topic, channel, frame.since)
    conn.send({"type": "subscribed", "id": frame.id, "channel": channel.name, **result})


async def on_unsubscribe(engine: Engine, conn: Conn, frame: f.Unsubscribe) -> None:
    channel = await engine.hub.store.get_channel(frame.channel)
    if channel is not None:
        conn.unfollow(events.channel_topic(channel.id))
    conn.send({"type": "unsubscribed", "id": frame.id, "channel": frame.channel})


async def on_send(engine: Engine, conn: Conn, frame: f.Send) -> None:
    hub = engine.hub
    pending = await hub.queue_send(
        _user(conn),
        frame.channel,
        frame.text,
        frame.client_id,
        thread_root=frame.thread_root,
        broadcast=frame.broadcast,
        files=frame.files,
    )
    fid = frame.id
    await engine.after_commit(conn, pending, fid, lambda stored: events.ack(stored, fid))


async def on_edit(engine: Engine, conn: Conn, frame: f.EditMessage) -> None:
    changed = await engine.hub.edit(_user(conn), frame.channel, frame.seq, frame.text)
    conn.send(events.changed(frame.id, changed.seq, changed.message))


async def on_delete(engine: Engine, conn: Conn, frame: f.DeleteMessage) -> None:
    changed = await engine.hub.delete(_user(conn), frame.channel, frame.seq)
    conn.send(events.changed(frame.id, changed.seq, changed.message))


async def on_react(engine: Engine, conn: Conn, frame: f.React | f.Unreact) -> None:
    add = isinstance(frame, f.React)
    changed = await engine.hub.react(_user(conn), frame.channel, frame.seq, frame.emoji, add=add)
    conn.send(events.changed(frame.id, changed.seq, changed.message))


async def on_pin(engine: Engine, conn: Conn, frame: f.PinMessage | f.UnpinMessage) -> None:
    add = isinstance(frame, f.PinMessage)
    changed = await engine.hub.pin(_user(conn), frame.channel, frame.seq, add=add)
    conn.send(events.changed(frame.id, changed.seq, changed.message))


async def on_pins(engine: Engine, conn: Conn, frame: f.Pins) -> None:
    channel, rows = await engine.hub.pins(_user(conn), frame.channel, frame.limit)
    conn.send(events.pins(frame.id, channel, rows))


async def on_thread(engine: Engine, conn: Conn, frame: f.Thread) -> None:
    channel, root, rows, more = await engine.hub.thread(
        _user(conn),
        frame.channel,
        frame.seq,
        before=frame.before,
        after=frame.after,
        limit=frame.limit,
    )
    conn.send(events.thread_page(frame.id, channel, root, rows, more))


async def on_threads(engine: Engine, conn: Conn, frame: f.Threads) -> None:
    found = await engine.hub.threads(_user(conn), frame.limit)
    conn.send(
        {"type": "threads", "id": frame.id, "threads": [events.followed_thread(t) for t in found]}
    )


async def on_read_thread(engine: Engine, conn: Conn, frame: f.ReadThread) -> None:
    await engine.hub.read_thread(_user(conn), frame.channel, frame.thread_root, frame.seq)
    if frame.id is not None:
        conn.send({"type": "ok", "id": frame.id})


async def on_history(engine: Engine, conn: Conn, frame: f.History) -> None:
    channel, rows, more = await engine.hub.history(
        _user(conn),
        frame.channel,
        before=frame.before,
        after=frame.after,
        around=frame.around,
        limit=frame.limit,
    )
    conn.send(events.history(frame.id, channel, rows, more))


async def on_search(engine: Engine, conn: Conn, frame: f.Search) -> None:
    found, more = await engine.hub.searcher.search(
        _user(conn),
        frame.query,
        order=frame.order,
        offset=frame.offset,
        limit=frame.limit,
        tz_offset_minutes=frame.tz,
    )
    body = results_body(frame.query, found, more, frame.offset)
    conn.send({"type": "search_results", "id": frame.id, **body})


async def on_file_url(engine: Engine, conn: Conn, frame: f.FileUrl) -> None:
    user = _user(conn)
    if conn.session_id is None:  # a token from before sessions: it names none to sign for
        raise ChatError(ErrorCode.token_invalid, "log in again to download files")
    file = await engine.hub.files.readable(user, frame.file_id)
    url, expires_at = engine.hub.files.link(user, conn.session_id, file, thumbnail=frame.thumbnail)
    conn.send(
        {
            "type": "file_url",
            "id": frame.id,
            "file_id": file.id,
            "url": url,
            "expires_at": expires_at,
        }
    )


async def on_upload(engine: Engine, conn: Conn, frame: f.Upload) -> None:
    ticket = await engine.hub.files.ticket(_user(conn), frame.channel, frame.name, frame.size)
    conn.send({"type": "upload_ticket", "id": frame.id, **ticket})


async def on_file_uploaded(engine: Engine, conn: Conn, frame: f.FileUploaded) -> None:
    stored = await engine.hub.files.uploaded(_user(conn), frame.file_id)
    conn.send({"type": "file", "id": frame.id, "file": events.file_body(stored.info)})


async def on_typing(engine: Engine, conn: Conn, frame: f.Typing) -> None:
    user = _user(conn)
    membership = await engine.hub.member_channel(user, frame.channel)
    if await conn.throttle(f"typing:{membership.channel.id}", TYPING_EVERY):
        await engine.hub.typing(user, membership.channel)
    if frame.id is not None:
        conn.send({"type": "ok", "id": frame.id})


async def on_read(engine: Engine, conn: Conn, frame: f.Read) -> None:
    await engine.hub.mark_read(_user(conn), frame.channel, frame.seq)
    if frame.id is not None:
        conn.send({"type": "ok", "id": frame.id})


async def on_watch_presence(engine: Engine, conn: Conn, frame: f.WatchPresence) -> None:
    hub = engine.hub
    users = [await hub.user_by_name(n) for n in dict.fromkeys(frame.usernames)]
    wanted = {events.presence_topic(u.id) for u in users}
    watched = {t for t in await conn.followed() if t.startswith("p:")}
    for topic in sorted(watched - wanted):
        conn.unfollow(topic)
    for topic in sorted(wanted - watched):
        await conn.follow(topic)
    online = await hub.online_among([u.id for u in users])
    statuses = {u.username: "online" if u.id in online else "offline" for u in users}
    conn.send({"type": "presence_state", "id": frame.id, "users": statuses})


async def on_ping(engine: Engine, conn: Conn, frame: f.Ping) -> None:
    conn.send(events.pong(frame.id, int(time.time() * 1000)))


async def on_send_message(engine: Engine, conn: Conn, frame: f.SendMessage) -> None:
    pending = await tutorial.send_message(engine.hub, conn, frame)
    await engine.after_commit(conn, pending, frame.id, None, ordered=True)


async def on_get_recent(engine: Engine, conn: Conn, frame: f.GetRecentMessages) -> None:
    await tutorial.get_recent_messages(engine.hub, conn, frame)


async def on_command(engine: Engine, conn: Conn, frame: f.Command) -> None:
    answer = await engine.hub.commands.run(
        _user(conn), frame.channel, frame.text, client_id=frame.client_id
    )
    conn.send(events.command_result(frame.id, frame.channel, answer))


async def on_notifications(engine: Engine, conn: Conn, frame: f.GetNotifications) -> None:
    body = await engine.hub.notifications.settings(_user(conn))
    conn.send({"type": "notifications", "id": frame.id, **body})


async def on_set_notifications(engine: Engine, conn: Conn, frame: f.SetNotifications) -> None:
    given = frame.model_dump(include=frame.model_fields_set - {"id", "action"})
    body = await engine.hub.notifications.apply(_user(conn), given)
    conn.send({"type": "notifications", "id": frame.id, **body})


async def on_channel_notifications(
    engine: Engine, conn: Conn, frame: f.ChannelNotifications | f.SetChannelNotifications
) -> None:
    notifications = engine.hub.notifications
    if isinstance(frame, f.SetChannelNotifications):
        channel, prefs = await notifications.set_channel(
            _user(conn), frame.channel, level=frame.level, muted=frame.muted
        )
    else:
        channel, prefs = await notifications.channel(_user(conn), frame.channel)
    conn.send(
        {"type": "channel_notifications", "id": frame.id, **channel_prefs_body(channel, prefs)}
    )


ROUTES: dict[type[f.ClientFrame], Handler] = {
    f.Auth: on_auth,
    f.Subscribe: on_subscribe,
    f.Unsubscribe: on_unsubscribe,
    f.Send: on_send,
    f.EditMessage: on_edit,
    f.DeleteMessage: on_delete,
    f.React: on_react,
    f.Unreact: on_react,
    f.PinMessage: on_pin,
    f.UnpinMessage: on_pin,
    f.Pins: on_pins,
    f.History: on_history,
    f.Search: on_search,
    f.FileUrl: on_file_url,
    f.Upload: on_upload,
    f.FileUploaded: on_file_uploaded,
    f.Thread: on_thread,
    f.Threads: on_threads,
    f.ReadThread: on_read_thread,
    f.Typing: on_typing,
    f.Read: on_read,
    f.WatchPresence: on_watch_presence,
    f.Ping: on_ping,
    f.SendMessage: on_send_message,
    f.GetRecentMessages: on_get_recent,
    f.Command: on_command,
    f.GetNotifications: on_notifications,
    f.SetNotifications: on_set_notifications,
    f.ChannelNotifications: on_channel_notifications,
    f.SetChannelNotifications: on_channel_notifications,
}
assert set(ROUTES) == set(f.CLIENT_FRAMES), "every client frame needs a route"
# Frames whose handlers queue a send and answer after its commit
# (`Engine.after_commit`): they go in at once, behind earlier sends, instead
# of waiting for those sends' answers as every other frame does.
QUEUED: frozenset[type[f.ClientFrame]] = frozenset({f.Send, f.SendMessage})

_READS: tuple[type[f.ClientFrame], ...] = (
    f.Subscribe,
    f.Unsubscribe,
    f.Pins,
    f.History,
    f.Search,
    f.FileUrl,
    f.Thread,
    f.Threads,
    f.WatchPresence,
    f.GetRecentMessages,
    f.GetNotifications,
    f.ChannelNotifications,
)
# The scope an API token needs for each frame (None: any connection may):
# reading needs `read`, everything that changes something `write`.
SCOPE: dict[type[f.ClientFrame], Scope | None] = {
    frame: None if frame in (f.Auth, f.Ping) else "read" if frame in _READS else "write"
    for frame in ROUTES
}
