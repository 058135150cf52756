"""Changes to stored messages on DynamoDB (`Store.change_message`), and the
channel's log that resuming replays (`Store.log_after`).

A change takes its seq from the channel's counter, as a message does, then
one transaction updates the message (conditional on its author, and on it not
being deleted) and records the change at that seq in `changes`, with the
push-cursor check every write in the log carries (`order.fence`). A change
that loses a race after taking its seq leaves that seq empty: the Lambda's
pushers name it `skipped`, as they do for messages."""

from __future__ import annotations

import itertools

from hubbub.core.models import Changed, ChangeRefused, Edit, LogEntry, MessageChange
from hubbub.core.ports import StoreError
from hubbub.store import log
from hubbub.store.dynamo import order
from hubbub.store.dynamo.client import Cancelled, DynamoTables
from hubbub.store.dynamo.items import Item, N, S, get_int, get_str, message_of

ATTEMPTS = 3  # a change whose seq was fenced off takes a new one, this many times


def change_message(
    tables: DynamoTables, channel_id: int, seq: int, author_id: int, change: MessageChange
) -> Changed | ChangeRefused:
    key: Item = {"channel_id": N(channel_id), "seq": N(seq)}
    for _ in range(ATTEMPTS):
        item = tables.get("messages", key)
        if item is None:
            return ChangeRefused("not_found")
        if "author_id" not in item or get_int(item, "author_id") != author_id:
            return ChangeRefused("forbidden")
        deleted = "deleted_at" in item
        if deleted and isinstance(change, Edit):
            return ChangeRefused("deleted")
        if deleted or (isinstance(change, Edit) and change.text == get_str(item, "text")):
            return Changed(message_of(item), None)
        res = tables.client.update_item(
            TableName=tables.names["channels"],
            Key={"pk": S(f"channel#{channel_id}")},
            UpdateExpression="ADD last_seq :one",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":one": N(1)},
            ReturnValues="UPDATED_NEW",
        )
        at = get_int(res["Attributes"], "last_seq")
        if isinstance(change, Edit):
            expr, values = "SET #t = :t, edited_at = :at", {":t": S(change.text)}
        else:
            expr, values = "SET #t = :t, deleted_at = :at", {":t": S("")}
        update: Item = {
            "TableName": tables.names["messages"],
            "Key": key,
            "UpdateExpression": expr,
            "ConditionExpression": "author_id = :a AND attribute_not_exists(deleted_at)",
            "ExpressionAttributeNames": {"#t": "text"},
            "ExpressionAttributeValues": {**values, ":at": N(change.at), ":a": N(author_id)},
        }
        record = {
            "channel_id": N(channel_id),
            "seq": N(at),
            "target_seq": N(seq),
            "kind": S("edit" if isinstance(change, Edit) else "delete"),
            "created_at": N(change.at),
        }
        try:
            tables.transact(
                [
                    order.fence(tables, channel_id, at),
                    {"Update": update},
                    tables.put("changes", record, "attribute_not_exists(seq)"),
                ]
            )
        except Cancelled as exc:
            if exc.failed(0) or exc.failed(1):
                continue  # fenced off, or deleted meanwhile: look again
            raise StoreError(f"change at seq {at} of channel {channel_id} was taken") from None
        now = tables.get("messages", key)
        if now is None:
            raise StoreError("a changed message vanished")
        return Changed(message_of(now), at)
    raise StoreError("the change kept being fenced off (the channel's pushes are far behind)")


def log_after(tables: DynamoTables, channel_id: int, after: int, limit: int) -> list[LogEntry]:
    if limit <= 0:
        return []
    after_seq = {":c": N(channel_id), ":a": N(after)}
    sent = [
        message_of(i)
        for i in itertools.islice(
            tables.query(
                "messages",
                KeyConditionExpression="channel_id = :c AND seq > :a",
                ExpressionAttributeValues=after_seq,
                Limit=limit,
            ),
            limit,
        )
    ]
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
    states = {m.seq: m for m in map(message_of, items)}
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
