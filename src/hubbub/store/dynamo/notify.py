"""Notification preferences on DynamoDB (protocol.notify), blocking.

Items, in `members`:
- `notify#<user id>` / `user`: the user's own settings (do-not-disturb, its
  schedule, digests);
- `notify#<user id>` / `channel#<channel id>`: one channel's level and mute,
  so a client's start reads all of a user's with one Query;
- `notifych#<channel id>` / `user#<user id>`: its mirror, so a channel's
  members' preferences (for a digest) are one Query too. Both are written in
  one transaction.
"""

from __future__ import annotations

import orjson

from hubbub.protocol.notify import ChannelPrefs, Schedule, UserPrefs, level_of
from hubbub.store.dynamo.client import DynamoTables
from hubbub.store.dynamo.items import Item, N, S, get_bool, get_int, get_str


def _mine(user_id: int) -> str:
    return f"notify#{user_id}"


def _prefs_of(item: Item) -> ChannelPrefs:
    return ChannelPrefs(level_of(get_str(item, "level")), get_bool(item, "muted"))


class DynamoNotify:
    """The notification part of SyncDynamoStore."""

    tables: DynamoTables

    def user_prefs(self, user_id: int) -> UserPrefs:
        item = self.tables.get("members", {"pk": S(_mine(user_id)), "sk": S("user")})
        if item is None:
            return UserPrefs()
        schedule = None
        if "schedule" in item:
            d = orjson.loads(get_str(item, "schedule"))
            schedule = Schedule(d["start"], d["end"], d["tz"])
        until = get_int(item, "dnd_until") if "dnd_until" in item else None
        return UserPrefs(until, schedule, get_bool(item, "email_digest"))

    def set_user_prefs(self, user_id: int, prefs: UserPrefs) -> None:
        item: Item = {
            "pk": S(_mine(user_id)),
            "sk": S("user"),
            "email_digest": {"BOOL": prefs.email_digest},
        }
        if prefs.dnd_until is not None:
            item["dnd_until"] = N(prefs.dnd_until)
        if (s := prefs.schedule) is not None:
            item["schedule"] = S(
                orjson.dumps({"start": s.start, "end": s.end, "tz": s.tz}).decode()
            )
        self.tables.client.put_item(TableName=self.tables.names["members"], Item=item)

    def channel_prefs(self, user_id: int) -> dict[int, ChannelPrefs]:
        found = self.tables.query(
            "members",
            KeyConditionExpression="pk = :p AND begins_with(sk, :c)",
            ExpressionAttributeValues={":p": S(_mine(user_id)), ":c": S("channel#")},
        )
        return {int(get_str(i, "sk").partition("#")[2]): _prefs_of(i) for i in found}

    def channel_prefs_of(self, channel_id: int) -> dict[int, ChannelPrefs]:
        found = self.tables.query(
            "members",
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": S(f"notifych#{channel_id}")},
        )
        return {int(get_str(i, "sk").partition("#")[2]): _prefs_of(i) for i in found}

    def set_channel_prefs(self, user_id: int, channel_id: int, prefs: ChannelPrefs) -> None:
        values: Item = {"level": S(prefs.level), "muted": {"BOOL": prefs.muted}}
        mine = {"pk": S(_mine(user_id)), "sk": S(f"channel#{channel_id}"), **values}
        mirror = {"pk": S(f"notifych#{channel_id}"), "sk": S(f"user#{user_id}"), **values}
        self.tables.transact([self.tables.put("members", mine), self.tables.put("members", mirror)])
