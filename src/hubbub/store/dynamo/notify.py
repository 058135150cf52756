"""Notification preferences on DynamoDB (protocol.notify), blocking.

Items, in `members`:
- `notify#<user id>` / `user`: the user's own settings (do-not-disturb, its
  schedule, digests);
- `notify#<user id>` / `digest`: how far its e-mail digest got;
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


def _user_prefs_of(item: Item) -> UserPrefs:
    schedule = None
    if "schedule" in item:
        d = orjson.loads(get_str(item, "schedule"))
        schedule = Schedule(d["start"], d["end"], d["tz"])
    until = get_int(item, "dnd_until") if "dnd_until" in item else None
    email = get_str(item, "email") if "email" in item else None
    return UserPrefs(until, schedule, get_bool(item, "email_digest"), email)


class DynamoNotify:
    """The notification part of SyncDynamoStore."""

    tables: DynamoTables

    def user_prefs(self, user_id: int) -> UserPrefs:
        item = self.tables.get("members", {"pk": S(_mine(user_id)), "sk": S("user")})
        return UserPrefs() if item is None else _user_prefs_of(item)

    def set_user_prefs(self, user_id: int, prefs: UserPrefs) -> None:
        item: Item = {
            "pk": S(_mine(user_id)),
            "sk": S("user"),
            "email_digest": {"BOOL": prefs.email_digest},
        }
        if prefs.dnd_until is not None:
            item["dnd_until"] = N(prefs.dnd_until)
        if prefs.email is not None:
            item["email"] = S(prefs.email)
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

    # --- the e-mail digest: its marks are an item of their own (`digest`), so
    # that saving the settings (a whole Put) never loses them ---------------------

    def digest_users(self) -> list[tuple[int, UserPrefs]]:
        """A Scan: run by the digest now and then, on no hot path."""
        found = self.tables.scan(
            "members",
            FilterExpression="sk = :u AND email_digest = :yes AND attribute_exists(email)",
            ExpressionAttributeValues={":u": S("user"), ":yes": {"BOOL": True}},
        )
        return [(int(get_str(i, "pk").partition("#")[2]), _user_prefs_of(i)) for i in found]

    def digest_marks(self, user_id: int) -> dict[int, int]:
        item = self.tables.get("members", {"pk": S(_mine(user_id)), "sk": S("digest")})
        if item is None:
            return {}
        return {int(k): int(v) for k, v in orjson.loads(get_str(item, "marks")).items()}

    def set_digest_marks(self, user_id: int, marks: dict[int, int]) -> None:
        raw = orjson.dumps({str(k): v for k, v in marks.items()}).decode()
        item = {"pk": S(_mine(user_id)), "sk": S("digest"), "marks": S(raw)}
        self.tables.client.put_item(TableName=self.tables.names["members"], Item=item)
