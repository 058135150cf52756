"""Changes to stored messages on DynamoDB (`Store.change_message`), and the
channel's log that resuming replays (`Store.log_after`).

A change takes its seq from the channel's counter, as a message does, then
one transaction updates the message (conditional on it being as read, by its
`ver`, which every change bumps, and not deleted) and records the change at
that seq in `changes`, with the push-cursor check every write in the log
carries (`order.fence`). Who may change what is `store.log.judge`'s to say, as
on SQL; reactions live on the message's item, one list of usernames per emoji
(`rx#<emoji>`, and beside it `rxat#<emoji>`, when each reacted). A change
that loses a race after taking its seq leaves that seq empty: the Lambda's
pushers name it `skipped`, as they do for messages."""

from __future__ import annotations

import itertools

from hubbub.core.models import (
    Changed,
    ChangeRefused,
    Delete,
    Edit,
    LogEntry,
    MessageChange,
    Pin,
    StoredMessage,
)
from hubbub.core.ports import StoreError
from hubbub.store import log
from hubbub.store.dynamo import order
from hubbub.store.dynamo.client import Cancelled, DynamoTables
from hubbub.store.dynamo.items import (
    REACTED,
    REACTED_AT,
    Item,
    N,
    S,
    get_int,
    get_opt_str,
    get_str,
    message_of,
    reactions_of,
)
from hubbub.store.dynamo.names import channel_name

ATTEMPTS = 3  # a change whose seq was fenced off takes a new one, this many times


def change_message(
    tables: DynamoTables, channel_id: int, seq: int, actor_id: int, change: MessageChange
) -> Changed | ChangeRefused:
    key: Item = {"channel_id": N(channel_id), "seq": N(seq)}
    actor = _username(tables, actor_id)
    for _ in range(ATTEMPTS):
        item = tables.get("messages", key)
        if item is None:
            return ChangeRefused("not_found")
        verdict = log.judge(
            change,
            actor,
            get_opt_str(item, "author") if "author_id" in item else None,
            "deleted_at" in item,
            get_str(item, "text"),
            dict(reactions_of(item)),
            "pinned_at" in item,
        )
        if isinstance(verdict, ChangeRefused):
            return verdict
        if not verdict:
            return Changed(message_of(item, channel_name(tables, channel_id)), None)
        res = tables.client.update_item(
            TableName=tables.names["channels"],
            Key={"pk": S(f"channel#{channel_id}")},
            UpdateExpression="ADD last_seq :one",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":one": N(1)},
            ReturnValues="ALL_NEW",  # the channel's name now, with the seq
        )
        at = get_int(res["Attributes"], "last_seq")
        name = get_str(res["Attributes"], "name")
        record = {
            "channel_id": N(channel_id),
            "seq": N(at),
            "target_seq": N(seq),
            "kind": S(log.kind(change)),
            "created_at": N(change.at),
        }
        actions = [
            order.fence(tables, channel_id, at),
            {"Update": _update(tables, key, item, actor, change)},
            tables.put("changes", record, "attribute_not_exists(seq)"),
        ]
        if isinstance(change, Pin) or (isinstance(change, Delete) and "pinned_at" in item):
            actions.append(
                {
                    "Update": _pin_list(
                        tables, channel_id, seq, isinstance(change, Pin) and change.add
                    )
                }
            )
        try:
            tables.transact(actions)
        except Cancelled as exc:
            if exc.failed(0) or exc.failed(1):
                continue  # fenced off, or changed meanwhile: look again
            raise StoreError(f"change at seq {at} of channel {channel_id} was taken") from None
        now = tables.get("messages", key)
        if now is None:
            raise StoreError("a changed message vanished")
        return Changed(message_of(now, name), at)
    raise StoreError("the change kept losing races (or the channel's pushes are far behind)")


def _username(tables: DynamoTables, user_id: int) -> str:
    user = tables.get("users", {"pk": S(f"user#{user_id}")})
    return "" if user is None else get_str(user, "username")


def _pin_list(tables: DynamoTables, channel_id: int, seq: int, add: bool) -> Item:
    """The Update of the channel's pinned list (`pinned`): a number set of
    seqs on an item of its own, beside the channel's (a transaction may touch
    an item once, and the channel's item carries the fence)."""
    return {
        "TableName": tables.names["channels"],
        "Key": {"pk": S(f"pins#{channel_id}")},
        "UpdateExpression": ("ADD" if add else "DELETE") + " seqs :s",
        "ExpressionAttributeValues": {":s": {"NS": [str(seq)]}},
    }


def pinned(tables: DynamoTables, channel_id: int, limit: int) -> list[StoredMessage]:
    item = tables.get("channels", {"pk": S(f"pins#{channel_id}")})
    seqs = sorted(int(s) for s in (item or {}).get("seqs", {}).get("NS", []))
    keys = [{"channel_id": N(channel_id), "seq": N(s)} for s in seqs]
    items = [i for i in tables.batch_get("messages", keys) if "pinned_at" in i]
    if not items:
        return []
    name = channel_name(tables, channel_id)
    found = [message_of(i, name) for i in items]
    found.sort(key=lambda m: (m.pinned_at or 0, m.seq), reverse=True)
    return found[:limit]


def _update(tables: DynamoTables, key: Item, item: Item, actor: str, change: MessageChange) -> Item:
    """The message's Update for `change`, conditional on the message being as
    read (its `ver`, bumped by every change: changes to one message are
    serialised) and not deleted."""
    ver = get_int(item, "ver") if "ver" in item else 0
    names: dict[str, str] = {}
    values: Item = {":ver": N(ver), ":next": N(ver + 1)}
    sets = ["ver = :next"]
    removes: list[str] = []
    if isinstance(change, Edit | Delete):
        names["#t"] = "text"
    if isinstance(change, Edit):
        sets += ["#t = :t", "edited_at = :at"]
        values.update({":t": S(change.text), ":at": N(change.at)})
    elif isinstance(change, Delete):
        sets += ["#t = :t", "deleted_at = :at"]
        values.update({":t": S(""), ":at": N(change.at)})
        names["#f"] = "files"  # by placeholder: never mind DynamoDB's reserved words
        removes += ["pinned_at", "pinned_by", "#f"]
        # A tombstone keeps nothing of what people said or did to it.
        for n, (e, _) in enumerate(reactions_of(item)):
            names[f"#u{n}"], names[f"#a{n}"] = REACTED + e, REACTED_AT + e
            removes += [f"#u{n}", f"#a{n}"]
    elif isinstance(change, Pin):
        if change.add:
            sets += ["pinned_at = :at", "pinned_by = :me"]
            values.update({":at": N(change.at), ":me": S(actor)})
        else:
            removes += ["pinned_at", "pinned_by"]
    else:
        names["#u"], names["#a"] = REACTED + change.emoji, REACTED_AT + change.emoji
        users = dict(reactions_of(item)).get(change.emoji, ())
        if change.add:
            sets += ["#u = list_append(if_not_exists(#u, :none), :me)"]
            sets += ["#a = list_append(if_not_exists(#a, :none), :at)"]
            values.update(
                {":none": {"L": []}, ":me": {"L": [S(actor)]}, ":at": {"L": [N(change.at)]}}
            )
        elif len(users) == 1:
            removes += ["#u", "#a"]
        else:
            i = users.index(actor)
            removes += [f"#u[{i}]", f"#a[{i}]"]
    expr = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    return {
        "TableName": tables.names["messages"],
        "Key": key,
        "UpdateExpression": expr,
        "ConditionExpression": (
            "attribute_not_exists(deleted_at) AND (attribute_not_exists(ver) OR ver = :ver)"
        ),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }


def log_after(tables: DynamoTables, channel_id: int, after: int, limit: int) -> list[LogEntry]:
    if limit <= 0:
        return []
    after_seq = {":c": N(channel_id), ":a": N(after)}
    sent_items = list(
        itertools.islice(
            tables.query(
                "messages",
                KeyConditionExpression="channel_id = :c AND seq > :a",
                ExpressionAttributeValues=after_seq,
                Limit=limit,
            ),
            limit,
        )
    )
    changes = [
        (get_int(i, "seq"), get_int(i, "target_seq"))
        for i in itertools.islice(
            tables.query(
                "changes",
                KeyConditionExpression="channel_id = :c AND seq > :a",
                ExpressionAttributeValues=after_seq,
                Limit=limit,
            ),
            limit,
        )
    ]
    targets = sorted({target for _, target in changes})
    items = tables.batch_get(
        "messages", [{"channel_id": N(channel_id), "seq": N(t)} for t in targets]
    )
    name = channel_name(tables, channel_id) if sent_items or items else ""
    sent = [message_of(i, name) for i in sent_items]
    states = {m.seq: m for m in (message_of(i, name) for i in items)}
    return log.merge(sent, changes, states, limit)


def last_seq(tables: DynamoTables, channel_id: int) -> int:
    top = 0
    for table in ("messages", "changes"):
        for item in itertools.islice(
            tables.query(
                table,
                KeyConditionExpression="channel_id = :c",
                ExpressionAttributeValues={":c": N(channel_id)},
                ScanIndexForward=False,
                Limit=1,
            ),
            1,
        ):
            top = max(top, get_int(item, "seq"))
    return top
