"""Channels' current names, for the messages read.

A message item keeps the `channel` name it was written under, but a channel
can be renamed (`Store.rename_channel`), and every message read must carry
the channel's name now. So each read resolves the names of the channels it
returns messages of, once per call: one GetItem of the channel's item (only
its `name`) for a read of one channel, one BatchGetItem for a read across
channels, and none when the read found no message. Writes that take a seq
from the channel's counter get the name from that UpdateItem for free
(`ReturnValues=ALL_NEW`), so new messages are stored with the current name.
"""

from __future__ import annotations

from collections.abc import Iterable

from hubbub.store.dynamo.client import DynamoTables
from hubbub.store.dynamo.items import S, get_int, get_str

# A channel's item is read for its name alone.
_NAME = {"#n": "name", "#i": "id"}


def channel_name(tables: DynamoTables, channel_id: int) -> str:
    """The channel's name now ("" for no such channel: it has no messages)."""
    res = tables.client.get_item(
        TableName=tables.names["channels"],
        Key={"pk": S(f"channel#{channel_id}")},
        ConsistentRead=True,
        ProjectionExpression="#n",
        ExpressionAttributeNames={"#n": "name"},
    )
    item = res.get("Item")
    return "" if item is None else get_str(item, "name")


def channel_names(tables: DynamoTables, channel_ids: Iterable[int]) -> dict[int, str]:
    """The names now of the channels that exist among `channel_ids`."""
    keys = [{"pk": S(f"channel#{c}")} for c in dict.fromkeys(channel_ids)]
    if not keys:
        return {}
    items = tables.batch_get("channels", keys, projection=_NAME)
    return {get_int(i, "id"): get_str(i, "name") for i in items}
