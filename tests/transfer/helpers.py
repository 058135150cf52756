"""Reading a database whole through the Store protocol, by other means than
transfer.export does (the log, not the message pages), so the tests compare
databases without trusting the code they test."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator
from typing import Any

from hubbub.store import Store, open_store


@contextlib.asynccontextmanager
async def opened(url: str) -> AsyncIterator[Store]:
    store = open_store(url)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


async def snapshot(store: Store) -> dict[str, Any]:
    """Everything an export should carry, and each channel's last seq (a
    second import that changed anything would have taken a seq)."""
    users = await store.search_users("", None, 10_000)
    channels = await store.all_channels(0, 10_000)
    admins: dict[str, dict[str, bool]] = {c.name: {} for c in channels}
    for u in users:
        for m in await store.channels_for(u.id):
            admins[m.channel.name][u.username] = m.admin
    out: dict[str, Any] = {
        "users": {
            u.username: [u.display_name, u.role, u.active, dataclasses.astuple(u.status)]
            for u in users
        },
        "channels": {},
    }
    for c in channels:
        entries = await store.log_after(c.id, 0, 1_000_000)
        messages = [e.message for e in entries if not e.is_change]
        out["channels"][c.name] = {
            "kind": c.kind,
            "topic": c.topic,
            "purpose": c.purpose,
            "archived": c.archived,
            "default": c.default,
            "last_seq": c.last_seq,
            "members": sorted(await store.member_names(c.id)),
            "admins": sorted(u for u, a in admins[c.name].items() if a),
            "messages": [
                {
                    "seq": m.seq,
                    "author": m.author,
                    "author_name": m.author_name,
                    "text": m.text,
                    "client_id": m.client_id,
                    "created_at": m.created_at,
                    "edited_at": m.edited_at,
                    "deleted": m.deleted,
                    "reactions": {e: sorted(who) for e, who in m.reactions},
                    "pinned_by": m.pinned_by,
                    "pinned_at": m.pinned_at,
                    "thread_root": m.thread_root,
                    "broadcast": m.broadcast,
                    "reply_count": m.reply_count,
                    "last_reply_at": m.last_reply_at,
                }
                for m in messages
            ],
        }
    return out


def without_seqs(snap: dict[str, Any]) -> dict[str, Any]:
    """The snapshot with seqs replaced by each message's place in its
    channel (another database numbers its log otherwise: changes take seqs)."""
    out = json.loads(json.dumps(snap))
    for c in out["channels"].values():
        del c["last_seq"]
        place = {m["seq"]: i for i, m in enumerate(c["messages"])}
        for m in c["messages"]:
            del m["seq"]
            if m["thread_root"] is not None:
                m["thread_root"] = place[m["thread_root"]]
            if m["deleted"]:
                m["edited_at"] = None  # a tombstone's edit time is not exported
    return out  # type: ignore[no-any-return]


def jsonl_without_seqs(data: bytes) -> list[dict[str, Any]]:
    """An export's records, the header's time and every seq left out (a
    reply's root named by its place among the channel's messages)."""
    records = [json.loads(line) for line in data.splitlines() if line.strip()]
    place: dict[tuple[str, int], int] = {}
    count: dict[str, int] = {}
    for r in records:
        if r["type"] == "message":
            place[(r["channel"], r["seq"])] = count.get(r["channel"], 0)
            count[r["channel"]] = place[(r["channel"], r["seq"])] + 1
    out = []
    for r in records:
        r = dict(r)
        if r["type"] == "workspace":
            r.pop("exported_at")
        if r["type"] == "message":
            r["seq"] = place[(r["channel"], r["seq"])]
            if r["thread_root"] is not None:
                r["thread_root"] = place[(r["channel"], r["thread_root"])]
        out.append(r)
    return out
