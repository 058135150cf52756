"""Builders for server frames as plain dicts (the hot path encodes these with
orjson; tests check each against `protocol.frames`). Also the bus topics."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hubbub.core.models import Channel, FileInfo, FollowedThread, StoredMessage, User
from hubbub.protocol.limits import Limits

if TYPE_CHECKING:
    from hubbub.core.commands import Answer


def channel_topic(channel_id: int) -> str:
    return f"c:{channel_id}"


def topic_channel(topic: str) -> int | None:
    """The channel id of a channel topic; None for any other topic."""
    return int(topic[2:]) if topic.startswith("c:") else None


def user_topic(user_id: int) -> str:
    return f"u:{user_id}"


def presence_topic(user_id: int) -> str:
    return f"p:{user_id}"


# The `ref` of a `session_ended` event on a user's topic: the sessions whose
# connections close (ids never contain a comma); "*" for all of them.
ALL_SESSIONS = "*"


def sessions_ref(session_ids: list[str]) -> str:
    return ",".join(session_ids)


def ends_session(ref: str, session_id: str | None) -> bool:
    return ref == ALL_SESSIONS or (session_id is not None and session_id in ref.split(","))


def message_body(m: StoredMessage) -> dict[str, Any]:
    author: dict[str, Any] = {"username": m.author, "display_name": m.author_name}
    if m.author_bot:
        author["bot"] = True
    body = {
        "channel": m.channel,
        "seq": m.seq,
        "author": author,
        "text": m.text,
        "client_id": m.client_id,
        "created_at": m.created_at,
    }
    # Only when set: a plain message's frame stays as small as it was.
    if m.edited_at is not None:
        body["edited_at"] = m.edited_at
    if m.deleted:
        body["deleted"] = True
    if m.reactions:
        body["reactions"] = [
            {"emoji": e, "count": len(users), "users": list(users)} for e, users in m.reactions
        ]
    if m.pinned_at is not None:
        body["pinned_by"] = m.pinned_by
        body["pinned_at"] = m.pinned_at
    if m.thread_root is not None:
        body["thread_root"] = m.thread_root
        if m.broadcast:
            body["broadcast"] = True
    if m.reply_count:
        body["reply_count"] = m.reply_count
        body["last_reply_at"] = m.last_reply_at
        body["reply_users"] = list(m.reply_users)
    if m.files:
        body["files"] = [file_body(f) for f in m.files]
    if m.shown_name is not None:
        body["shown_name"] = m.shown_name
    return body


def file_body(info: FileInfo) -> dict[str, Any]:
    """A file as frames carry it (protocol.frames.FileOut)."""
    body: dict[str, Any] = {
        "id": info.id,
        "name": info.name,
        "size": info.size,
        "content_type": info.content_type,
    }
    if info.width is not None and info.height is not None:
        body["width"] = info.width
        body["height"] = info.height
    if info.thumbnail:
        body["thumbnail"] = True
    return body


def message_event(m: StoredMessage) -> dict[str, Any]:
    return {"type": "message", **message_body(m)}


def message_updated(seq: int, m: StoredMessage) -> dict[str, Any]:
    return {"type": "message_updated", "channel": m.channel, "seq": seq, "message": message_body(m)}


def changed(frame_id: str | int | None, seq: int | None, m: StoredMessage) -> dict[str, Any]:
    return {
        "type": "changed",
        "id": frame_id,
        "channel": m.channel,
        "seq": seq,
        "message": message_body(m),
    }


def ack(m: StoredMessage, frame_id: str | int | None) -> dict[str, Any]:
    return {
        "type": "ack",
        "id": frame_id,
        "channel": m.channel,
        "seq": m.seq,
        "client_id": m.client_id,
        "duplicate": m.duplicate,
        "message": message_body(m),
    }


def channel_body(c: Channel) -> dict[str, Any]:
    return {
        "name": c.name,
        "kind": c.kind,
        "topic": c.topic,
        "last_seq": c.last_seq,
        "member_count": c.member_count,
        "members": list(c.members) if c.members is not None else None,
        "purpose": c.purpose,
        "archived": c.archived,
        "default": c.default,
    }


def hello(user: User, limits: Limits, server_version: str) -> dict[str, Any]:
    return {
        "type": "hello",
        "user": {"username": user.username, "display_name": user.display_name, "role": user.role},
        "server_version": server_version,
        "limits": limits.public(),
    }


def pong(frame_id: str | int | None, now_ms: int) -> dict[str, Any]:
    return {"type": "pong", "id": frame_id, "time": now_ms}


def history(
    frame_id: str | int | None, channel: Channel, rows: list[StoredMessage], has_more: bool
) -> dict[str, Any]:
    return {
        "type": "history",
        "id": frame_id,
        "channel": channel.name,
        "messages": [message_body(m) for m in rows],
        "has_more": has_more,
    }


def pins(frame_id: str | int | None, channel: Channel, rows: list[StoredMessage]) -> dict[str, Any]:
    return {
        "type": "pins",
        "id": frame_id,
        "channel": channel.name,
        "messages": [message_body(m) for m in rows],
    }


def command_result(frame_id: str | int | None, channel: str, answer: Answer) -> dict[str, Any]:
    """A slash command's answer (protocol.frames.CommandResult)."""
    return {
        "type": "command_result",
        "id": frame_id,
        "channel": channel,
        "command": answer.command,
        "response_type": answer.response_type,
        "text": answer.text,
        "message": None if answer.message is None else message_body(answer.message),
    }


def thread_page(
    frame_id: str | int | None,
    channel: Channel,
    root: StoredMessage,
    rows: list[StoredMessage],
    has_more: bool,
) -> dict[str, Any]:
    return {
        "type": "thread",
        "id": frame_id,
        "channel": channel.name,
        "root": message_body(root),
        "messages": [message_body(m) for m in rows],
        "has_more": has_more,
    }


def followed_thread(t: FollowedThread) -> dict[str, Any]:
    return {
        "channel": t.root.channel,
        "root": message_body(t.root),
        "last_read": t.last_read,
        "unread": t.unread,
    }


def skipped(channel: str, first: int, last: int) -> dict[str, Any]:
    return {"type": "skipped", "channel": channel, "first": first, "last": last}
