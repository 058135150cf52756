"""Threads on DynamoDB: replies, a thread's pages, who follows which thread.

A reply is a message item like any other, with `thread_root` (and
`broadcast`), at the seq it takes from the channel's counter; its root's
change (the summary: `reply_count`, `last_reply_at`, `reply_users`) takes the
seq after it, recorded in `changes` as kind `reply`. One transaction writes
both, with the push-cursor check every write in the log carries
(`order.fence`), and is conditional on the root being as read (its `ver`, as
changes to messages are), so concurrent replies to one root are serialised:
the loser takes new seqs, leaving its old ones for the pushers to name
`skipped`.

Two kinds of item in the `members` table (pk, sk) index them:
- `thread#<channel>#<root>` / `<seq, zero-padded>`: a thread's replies in seq
  order (with `author_id`, for unread counts), so a page of a thread is one
  Query and a BatchGet, not a scan of the channel;
- `tfollow#<user>` / `<channel>#<root>`: a thread the user follows, with
  their `last_read` in it.
"""

from __future__ import annotations

import contextlib
import dataclasses

from hubbub.core.models import ChangeRefused, FollowedThread, NewReply, Replied, StoredMessage
from hubbub.core.ports import StoreError
from hubbub.store import files_json
from hubbub.store.dynamo import order
from hubbub.store.dynamo.client import Cancelled, DynamoTables
from hubbub.store.dynamo.items import (
    Item,
    N,
    S,
    get_int,
    get_str,
    member_key,
    message_of,
    sent_key,
)
from hubbub.store.dynamo.names import channel_name, channel_names

ATTEMPTS = 5  # a reply that lost a race for its root or its seqs tries again
MAX_FOLLOWERS = 50  # mentioned users who start following with one reply
SEQ_WIDTH = 20  # digits of a zero-padded seq, so string order is seq order


def thread_pk(channel_id: int, root: int) -> Item:
    return S(f"thread#{channel_id}#{root}")


def follow_key(user_id: int, channel_id: int, root: int) -> Item:
    return {"pk": S(f"tfollow#{user_id}"), "sk": S(f"{channel_id}#{root}")}


def _key(channel_id: int, seq: int) -> Item:
    return {"channel_id": N(channel_id), "seq": N(seq)}


def append_reply(tables: DynamoTables, r: NewReply) -> Replied | ChangeRefused:
    sent = tables.get("users", {"pk": S(sent_key(r.author_id, r.client_id))})
    if sent is not None:
        return _replied_again(tables, get_int(sent, "channel_id"), get_int(sent, "seq"))
    author = tables.get("users", {"pk": S(f"user#{r.author_id}")})
    if author is None:
        return ChangeRefused("not_found")
    for _ in range(ATTEMPTS):
        parent = tables.get("messages", _key(r.channel_id, r.parent))
        if parent is None:
            return ChangeRefused("not_found")
        root_seq = get_int(parent, "thread_root") if "thread_root" in parent else r.parent
        root = (
            parent if root_seq == r.parent else tables.get("messages", _key(r.channel_id, root_seq))
        )
        if root is None:
            return ChangeRefused("not_found")
        if "deleted_at" in root:
            return ChangeRefused("deleted")
        res = tables.client.update_item(
            TableName=tables.names["channels"],
            Key={"pk": S(f"channel#{r.channel_id}")},
            UpdateExpression="ADD last_seq :two",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":two": N(2)},
            ReturnValues="ALL_NEW",  # the channel's name now, with the seqs
        )
        at = get_int(res["Attributes"], "last_seq")
        name = get_str(res["Attributes"], "name")
        seq = at - 1
        try:
            tables.transact(_actions(tables, r, author, root, root_seq, seq, name))
        except Cancelled as exc:
            if exc.failed(0) or exc.failed(3):
                continue  # fenced off, or the root changed meanwhile: look again
            if exc.failed(2):  # the same client_id, committed meanwhile
                sent = tables.get("users", {"pk": S(sent_key(r.author_id, r.client_id))})
                if sent is not None:
                    return _replied_again(tables, r.channel_id, get_int(sent, "seq"))
            raise StoreError(f"reply at seq {seq} of channel {r.channel_id} was refused") from None
        if r.broadcast:  # your own message is never unread
            _move_cursor(tables, r.channel_id, r.author_id, seq)
        reply = tables.get("messages", _key(r.channel_id, seq))
        now = tables.get("messages", _key(r.channel_id, root_seq))
        if reply is None or now is None:
            raise StoreError("a stored reply vanished")
        return Replied(message_of(reply, name), message_of(now, name), at)
    raise StoreError("the reply kept losing races (or the channel's pushes are far behind)")


def _actions(
    tables: DynamoTables,
    r: NewReply,
    author: Item,
    root: Item,
    root_seq: int,
    seq: int,
    channel: str,
) -> list[Item]:
    """The reply's transaction. The order matters to `append_reply`: 0 the
    fence, 2 the client_id, 3 the root."""
    username = author["username"]["S"]
    item: Item = {
        "channel_id": N(r.channel_id),
        "seq": N(seq),
        "channel": S(channel),
        "author_id": N(r.author_id),
        "author": S(username),
        "author_name": author["display_name"],
        "text": S(r.text),
        "client_id": S(r.client_id),
        "created_at": N(r.created_at),
        "thread_root": N(root_seq),
    }
    if r.broadcast:
        item["broadcast"] = {"BOOL": True}
    if author.get("bot", {}).get("BOOL"):
        item["author_bot"] = {"BOOL": True}
    if files := files_json.dumps(r.files):
        item["files"] = S(files)
    ver = get_int(root, "ver") if "ver" in root else 0
    users = [u["S"] for u in root.get("reply_users", {}).get("L", [])]
    sets = [
        "ver = :next",
        "last_reply_at = :at",
        "reply_count = if_not_exists(reply_count, :zero) + :one",
    ]
    values: Item = {
        ":ver": N(ver),
        ":next": N(ver + 1),
        ":at": N(r.created_at),
        ":zero": N(0),
        ":one": N(1),
    }
    if username not in users:
        sets.append("reply_users = list_append(if_not_exists(reply_users, :none), :me)")
        values.update({":none": {"L": []}, ":me": {"L": [S(username)]}})
    root_update: Item = {
        "TableName": tables.names["messages"],
        "Key": _key(r.channel_id, root_seq),
        "UpdateExpression": "SET " + ", ".join(sets),
        "ConditionExpression": (
            "attribute_not_exists(deleted_at) AND (attribute_not_exists(ver) OR ver = :ver)"
        ),
        "ExpressionAttributeValues": values,
    }
    record = {
        "channel_id": N(r.channel_id),
        "seq": N(seq + 1),
        "target_seq": N(root_seq),
        "kind": S("reply"),
        "created_at": N(r.created_at),
    }
    index = {
        "pk": thread_pk(r.channel_id, root_seq),
        "sk": S(str(seq).zfill(SEQ_WIDTH)),
        "author_id": N(r.author_id),
    }
    sent = {
        "pk": S(sent_key(r.author_id, r.client_id)),
        "channel_id": N(r.channel_id),
        "seq": N(seq),
    }
    actions = [
        order.fence(tables, r.channel_id, seq),
        tables.put("messages", item, "attribute_not_exists(seq)"),
        tables.put("users", sent, "attribute_not_exists(pk)"),
        {"Update": root_update},
        tables.put("changes", record, "attribute_not_exists(seq)"),
        tables.put("members", index),
        _follow(tables, r.author_id, r.channel_id, root_seq, seq),
    ]
    root_author = get_int(root, "author_id") if "author_id" in root else None
    others = dict.fromkeys([root_author, *r.followers[:MAX_FOLLOWERS]])
    for uid in others:
        if uid is not None and uid != r.author_id:
            actions.append(_follow(tables, uid, r.channel_id, root_seq, None))
    return actions


def _follow(
    tables: DynamoTables, user_id: int, channel_id: int, root: int, seq: int | None
) -> Item:
    """Follow the thread: read up to `seq` (the reply its author just wrote,
    the newest in the thread), or, for others, from where they were (0 if new)."""
    values: Item = {":s": N(seq if seq is not None else 0)}
    expr = (
        "SET last_read = :s" if seq is not None else "SET last_read = if_not_exists(last_read, :s)"
    )
    return {
        "Update": {
            "TableName": tables.names["members"],
            "Key": follow_key(user_id, channel_id, root),
            "UpdateExpression": expr,
            "ExpressionAttributeValues": values,
        }
    }


def _move_cursor(tables: DynamoTables, channel_id: int, user_id: int, seq: int) -> None:
    """The author's channel cursor to their broadcast reply (forward only;
    after the commit, as nothing depends on it but unread counts)."""
    with contextlib.suppress(tables.client.exceptions.ConditionalCheckFailedException):
        tables.client.update_item(
            TableName=tables.names["members"],
            Key=member_key(channel_id, user_id),
            UpdateExpression="SET last_read = :s",
            ConditionExpression="attribute_exists(pk) AND last_read < :s",
            ExpressionAttributeValues={":s": N(seq)},
        )


def _replied_again(tables: DynamoTables, channel_id: int, seq: int) -> Replied:
    item = tables.get("messages", _key(channel_id, seq))
    if item is None:
        raise StoreError("a stored reply vanished")
    name = channel_name(tables, channel_id)
    first = dataclasses.replace(message_of(item, name), duplicate=True)
    root = first
    if first.thread_root is not None:
        found = tables.get("messages", _key(channel_id, first.thread_root))
        root = message_of(found, name) if found is not None else first
    return Replied(first, root, None)


def thread(
    tables: DynamoTables,
    channel_id: int,
    root: int,
    *,
    before: int | None = None,
    after: int | None = None,
    limit: int,
) -> list[StoredMessage]:
    if limit <= 0:
        return []
    cond = "pk = :p"
    values: Item = {":p": thread_pk(channel_id, root)}
    lo = None if after is None else after + 1
    hi = None if before is None else before - 1
    if lo is not None and hi is not None:
        if lo > hi:
            return []
        cond += " AND sk BETWEEN :lo AND :hi"
        values.update({":lo": S(str(lo).zfill(SEQ_WIDTH)), ":hi": S(str(hi).zfill(SEQ_WIDTH))})
    elif lo is not None:
        cond += " AND sk >= :lo"
        values[":lo"] = S(str(lo).zfill(SEQ_WIDTH))
    elif hi is not None:
        cond += " AND sk <= :hi"
        values[":hi"] = S(str(hi).zfill(SEQ_WIDTH))
    seqs: list[int] = []
    for it in tables.query(
        "members",
        KeyConditionExpression=cond,
        ExpressionAttributeValues=values,
        ScanIndexForward=after is not None,
        Limit=limit,
    ):
        seqs.append(int(it["sk"]["S"]))
        if len(seqs) >= limit:
            break
    items = tables.batch_get("messages", [_key(channel_id, s) for s in seqs])
    name = channel_name(tables, channel_id) if items else ""
    found = {m.seq: m for m in (message_of(i, name) for i in items)}
    return [found[s] for s in seqs if s in found]


def followed_threads(tables: DynamoTables, user_id: int, limit: int) -> list[FollowedThread]:
    follows = {}
    for it in tables.query(
        "members",
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": S(f"tfollow#{user_id}")},
    ):
        cid, root = (int(x) for x in it["sk"]["S"].split("#"))
        follows[(cid, root)] = get_int(it, "last_read")
    items = [
        i
        for i in tables.batch_get("messages", [_key(c, s) for c, s in follows])
        if "reply_count" in i and get_int(i, "reply_count")
    ]
    items.sort(
        key=lambda i: (
            -(get_int(i, "last_reply_at") if "last_reply_at" in i else 0),
            get_int(i, "channel_id"),
            get_int(i, "seq"),
        )
    )
    items = items[: max(limit, 0)]
    current = channel_names(tables, (get_int(i, "channel_id") for i in items))
    out = []
    for i in items:
        m = message_of(i, current.get(get_int(i, "channel_id"), get_str(i, "channel")))
        last_read = follows[(m.channel_id, m.seq)]
        out.append(
            FollowedThread(m, last_read, _unread(tables, m.channel_id, m.seq, last_read, user_id))
        )
    return out


def _unread(tables: DynamoTables, channel_id: int, root: int, after: int, user_id: int) -> int:
    return tables.count(
        "members",
        KeyConditionExpression="pk = :p AND sk > :a",
        FilterExpression="author_id <> :u",
        ExpressionAttributeValues={
            ":p": thread_pk(channel_id, root),
            ":a": S(str(after).zfill(SEQ_WIDTH)),
            ":u": N(user_id),
        },
    )


def read_thread(
    tables: DynamoTables, channel_id: int, root: int, user_id: int, seq: int
) -> int | None:
    key = follow_key(user_id, channel_id, root)
    try:
        tables.client.update_item(
            TableName=tables.names["members"],
            Key=key,
            UpdateExpression="SET last_read = :s",
            ConditionExpression="attribute_exists(pk) AND last_read < :s",
            ExpressionAttributeValues={":s": N(seq)},
        )
        return seq
    except tables.client.exceptions.ConditionalCheckFailedException:
        item = tables.get("members", key)
        return None if item is None else get_int(item, "last_read")
