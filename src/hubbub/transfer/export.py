"""The workspace as hubbub JSON lines (docs/import-export.md), read through
the Store protocol: a `workspace` header, then every user (without password
hashes), channel, membership and message with its state now.

Messages come by channel, each followed by its thread's replies; each
names its seq, and a reply its root's (`thread_root`), so `transfer.load`
puts them back in order. Reading pages through the store, the export may
run while the server does; what changes meanwhile may or may not be in it.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import orjson

from hubbub.core.models import Channel, StoredMessage, User
from hubbub.core.ports import Store
from hubbub.transfer.records import FORMAT, VERSION

PAGE = 500

Write = Callable[[bytes], object]


def user_record(u: User) -> dict[str, Any]:
    return {
        "type": "user",
        "username": u.username,
        "display_name": u.display_name,
        "role": u.role,
        "active": u.active,
        "status": (
            {"emoji": u.status.emoji, "text": u.status.text, "until": u.status.until}
            if u.status.emoji or u.status.text
            else None
        ),
    }


def channel_record(c: Channel) -> dict[str, Any]:
    return {
        "type": "channel",
        "name": c.name,
        "kind": c.kind,
        "topic": c.topic,
        "purpose": c.purpose,
        "archived": c.archived,
        "default": c.default,
    }


def message_record(m: StoredMessage) -> dict[str, Any]:
    return {
        "type": "message",
        "channel": m.channel,
        "seq": m.seq,
        "author": m.author,
        "guest_name": m.author_name if m.author is None else None,
        "text": m.text,
        "client_id": m.client_id,
        "created_at": m.created_at,
        "edited_at": None if m.deleted else m.edited_at,  # a tombstone keeps no times
        "deleted": m.deleted,
        "reactions": [{"emoji": e, "users": list(users)} for e, users in m.reactions],
        "pinned_by": m.pinned_by,
        "pinned_at": m.pinned_at,
        "thread_root": m.thread_root,
        "broadcast": m.broadcast,
    }


async def export_workspace(store: Store, write: Write, *, generator: str = "") -> Counter[str]:
    """Write every record with `write` (one line each); how many of each."""
    counts: Counter[str] = Counter()

    def emit(record: dict[str, Any]) -> None:
        write(orjson.dumps(record) + b"\n")
        counts[record["type"]] += 1

    emit(
        {
            "type": "workspace",
            "format": FORMAT,
            "version": VERSION,
            "exported_at": int(time.time() * 1000),
            "generator": generator,
        }
    )
    users: list[User] = []
    after: str | None = None
    while True:
        page = await store.search_users("", after, PAGE)
        users += page
        if len(page) < PAGE:
            break
        after = page[-1].username
    for u in users:
        emit(user_record(u))
    channels: list[Channel] = []
    after_id = 0
    while True:
        chans = await store.all_channels(after_id, PAGE)
        channels += chans
        if len(chans) < PAGE:
            break
        after_id = chans[-1].id
    for c in channels:
        emit(channel_record(c))
    for u in users:
        for membership in await store.channels_for(u.id):
            emit(
                {
                    "type": "membership",
                    "channel": membership.channel.name,
                    "user": u.username,
                    "admin": membership.admin,
                }
            )
    for c in channels:
        await _messages(store, c, emit)
    return counts


async def _messages(store: Store, c: Channel, emit: Callable[[dict[str, Any]], None]) -> None:
    after = 0
    while True:
        page = await store.messages(c.id, after=after, limit=PAGE)
        for m in page:
            if m.thread_root is not None:
                continue  # a reply also shown in the channel: it comes with its thread
            emit(message_record(m))
            if m.reply_count:
                await _thread(store, c, m.seq, emit)
        if len(page) < PAGE:
            return
        after = page[-1].seq


async def _thread(
    store: Store, c: Channel, root: int, emit: Callable[[dict[str, Any]], None]
) -> None:
    after = 0
    while True:
        page = await store.thread(c.id, root, after=after, limit=PAGE)
        for m in page:
            emit(message_record(m))
        if len(page) < PAGE:
            return
        after = page[-1].seq
