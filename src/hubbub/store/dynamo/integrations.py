"""Integrations on DynamoDB (models.Integration), blocking.

Items:
- members `integrations` / `<key>`: an integration, found by its key (an
  incoming hook's secret hash, a command's name) with one GetItem, listed by
  one Query;
- meta `integration#<id>`: names its key, so that deleting by id is a read
  and one transaction. Both are written in one transaction whose conditions
  make the key and the id unique.
"""

from __future__ import annotations

import orjson

from hubbub.core.models import INTEGRATION_KINDS, Integration
from hubbub.core.ports import NameTaken
from hubbub.store.dynamo.client import Cancelled, DynamoTables
from hubbub.store.dynamo.items import Item, N, S, get_int, get_str


def _key(key: str) -> Item:
    return {"pk": S("integrations"), "sk": S(key)}


def _ref(integration_id: str) -> Item:
    return {"pk": S(f"integration#{integration_id}")}


def _integration_of(item: Item) -> Integration:
    kind = get_str(item, "kind")
    assert kind in INTEGRATION_KINDS, kind
    return Integration(
        get_str(item, "id"),
        kind,  # checked above
        get_str(item, "sk"),
        get_str(item, "name"),
        get_int(item, "channel_id") if "channel_id" in item else None,
        get_int(item, "user_id"),
        get_int(item, "created_by"),
        get_int(item, "created_at"),
        orjson.loads(get_str(item, "config")),
    )


class DynamoIntegrations:
    """The integrations part of SyncDynamoStore."""

    tables: DynamoTables

    def create_integration(self, integration: Integration) -> None:
        i = integration
        item: Item = {
            **_key(i.key),
            "id": S(i.id),
            "kind": S(i.kind),
            "name": S(i.name),
            "user_id": N(i.user_id),
            "created_by": N(i.created_by),
            "created_at": N(i.created_at),
            "config": S(orjson.dumps(i.config).decode()),
        }
        if i.channel_id is not None:
            item["channel_id"] = N(i.channel_id)
        try:
            self.tables.transact(
                [
                    self.tables.put("members", item, "attribute_not_exists(pk)"),
                    self.tables.put(
                        "meta", {**_ref(i.id), "key": S(i.key)}, "attribute_not_exists(pk)"
                    ),
                ]
            )
        except Cancelled:
            raise NameTaken(i.key) from None

    def integration_by_key(self, key: str) -> Integration | None:
        item = self.tables.get("members", _key(key))
        return None if item is None else _integration_of(item)

    def integrations(self) -> list[Integration]:
        found = [
            _integration_of(i)
            for i in self.tables.query(
                "members",
                KeyConditionExpression="pk = :p",
                ExpressionAttributeValues={":p": S("integrations")},
            )
        ]
        return sorted(found, key=lambda i: (i.created_at, i.id), reverse=True)

    def delete_integration(self, integration_id: str) -> Integration | None:
        ref = self.tables.get("meta", _ref(integration_id))
        if ref is None:
            return None
        item = self.tables.get("members", _key(get_str(ref, "key")))
        names = self.tables.names
        try:
            self.tables.transact(
                [
                    {
                        "Delete": {
                            "TableName": names["meta"],
                            "Key": _ref(integration_id),
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    },
                    {"Delete": {"TableName": names["members"], "Key": _key(get_str(ref, "key"))}},
                ]
            )
        except Cancelled:
            return None  # deleted meanwhile
        return None if item is None else _integration_of(item)
