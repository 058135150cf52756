"""Integrations on DynamoDB (models.Integration), blocking.

Items:
- members `integrations` / `<key>`: an integration, found by its key (an
  incoming hook's secret hash, a command's name) with one GetItem, listed by
  one Query;
- meta `integration#<id>`: names its key, so that deleting by id is a read
  and one transaction. Both are written in one transaction whose conditions
  make the key and the id unique;
- meta `outbox#<id>`: an outgoing hook's deliveries (models.Outbox), its
  lease taken and kept by conditional updates;
- members `deadletters#<id>` / `<seq, zero-padded>`: what it gave up on, by seq.
"""

from __future__ import annotations

import orjson
from botocore.exceptions import ClientError

from hubbub.core.models import INTEGRATION_KINDS, DeadLetter, Integration, Outbox
from hubbub.core.ports import NameTaken
from hubbub.store.dynamo.client import Cancelled, DynamoTables, error_code
from hubbub.store.dynamo.items import Item, N, S, get_int, get_str


def _key(key: str) -> Item:
    return {"pk": S("integrations"), "sk": S(key)}


def _ref(integration_id: str) -> Item:
    return {"pk": S(f"integration#{integration_id}")}


def _outbox_key(integration_id: str) -> Item:
    return {"pk": S(f"outbox#{integration_id}")}


def _dead_pk(integration_id: str) -> dict[str, str]:
    return S(f"deadletters#{integration_id}")


OUTBOX_NUMBERS = ("cursor", "attempts", "next_at", "delivered", "dead", "lease_until")


def _outbox_of(integration_id: str, item: Item) -> Outbox:
    n = {k: get_int(item, k) if k in item else 0 for k in OUTBOX_NUMBERS}
    return Outbox(
        integration_id,
        n["cursor"],
        n["attempts"],
        n["next_at"],
        get_str(item, "last_error") if "last_error" in item else "",
        n["delivered"],
        n["dead"],
        get_str(item, "lease_owner") if "lease_owner" in item else "",
        n["lease_until"],
    )


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
        # Its deliveries: nothing reads them once the hook is gone, so after
        # the transaction is fine (a crash here leaves only unread items).
        self.tables.client.delete_item(TableName=names["meta"], Key=_outbox_key(integration_id))
        for dead in list(self._dead_items(integration_id, None)):
            self.tables.client.delete_item(
                TableName=names["members"], Key={"pk": dead["pk"], "sk": dead["sk"]}
            )
        return None if item is None else _integration_of(item)

    # --- an outgoing hook's deliveries ------------------------------------------------

    def claim_outbox(
        self, integration_id: str, owner: str, now: int, until: int, start: int
    ) -> Outbox | None:
        try:
            res = self.tables.client.update_item(
                TableName=self.tables.names["meta"],
                Key=_outbox_key(integration_id),
                UpdateExpression="SET lease_owner = :o, lease_until = :u, "
                "#c = if_not_exists(#c, :start)",
                ConditionExpression="attribute_not_exists(pk) OR lease_owner = :o "
                "OR lease_until <= :now",
                ExpressionAttributeNames={"#c": "cursor"},
                ExpressionAttributeValues={
                    ":o": S(owner),
                    ":u": N(until),
                    ":now": N(now),
                    ":start": N(start),
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return None  # held by another
            raise
        return _outbox_of(integration_id, res["Attributes"])

    def save_outbox(self, outbox: Outbox, dead: DeadLetter | None = None) -> bool:
        b = outbox
        names = self.tables.names
        update: Item = {
            "TableName": names["meta"],
            "Key": _outbox_key(b.integration_id),
            "UpdateExpression": "SET #c = :c, attempts = :a, next_at = :n, last_error = :e, "
            "delivered = :d, dead = :x, lease_until = :u",
            "ConditionExpression": "lease_owner = :o",
            "ExpressionAttributeNames": {"#c": "cursor"},
            "ExpressionAttributeValues": {
                ":c": N(b.cursor),
                ":a": N(b.attempts),
                ":n": N(b.next_at),
                ":e": S(b.last_error),
                ":d": N(b.delivered),
                ":x": N(b.dead),
                ":u": N(b.lease_until),
                ":o": S(b.lease_owner),
            },
        }
        actions: list[Item] = [{"Update": update}]
        if dead is not None:
            item: Item = {
                "pk": _dead_pk(dead.integration_id),
                "sk": S(f"{dead.seq:020d}"),
                "seq": N(dead.seq),
                "attempts": N(dead.attempts),
                "error": S(dead.error),
                "at": N(dead.at),
            }
            actions.append(self.tables.put("members", item))
        try:
            self.tables.transact(actions)
        except Cancelled:
            return False
        return True

    def outbox(self, integration_id: str) -> Outbox | None:
        item = self.tables.get("meta", _outbox_key(integration_id))
        return None if item is None else _outbox_of(integration_id, item)

    def dead_letters(self, integration_id: str, limit: int) -> list[DeadLetter]:
        return [
            DeadLetter(
                integration_id,
                get_int(i, "seq"),
                get_int(i, "attempts"),
                get_str(i, "error"),
                get_int(i, "at"),
            )
            for i in self._dead_items(integration_id, limit)
        ]

    def _dead_items(self, integration_id: str, limit: int | None) -> list[Item]:
        query: Item = {
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": {":p": _dead_pk(integration_id)},
            "ScanIndexForward": False,
        }
        items = []
        for item in self.tables.query("members", **query):
            items.append(item)
            if limit is not None and len(items) >= limit:
                break
        return items
