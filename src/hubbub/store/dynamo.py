"""DynamoDB (for the Lambda deployment), through boto3.

URL: `dynamodb://?region=us-east-1&prefix=hubbub-&endpoint=http://127.0.0.1:8001&create=1`,
every parameter optional: `region` defaults to $AWS_REGION, `prefix` (prepended
to each table's name) to `hubbub-`, `endpoint` to AWS itself; `create=1` creates
missing tables on `open` (local runs; on AWS the SAM template owns them).

How the SQL store's guarantees are kept without SQL transactions:
- `seq` comes from `UpdateItem ADD last_seq :n` on the channel's item, an atomic
  counter: concurrent writers get disjoint ranges and never "last + 1".
- Each message is written with `TransactWriteItems`: the message (conditional on
  its `seq` being free), its `(author, client_id)` claim (conditional on not
  existing: the dedup), and a check that the author is still a member. A retry
  that raced its original, or a member who left meanwhile, cancels only that
  message; the seq it was given stays unused (a hole, which readers skip).
- Names (users, channels) are claimed with conditional puts in the same
  transaction as the row they name.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from hubbub.core.mentions import mention_re
from hubbub.core.models import (
    AppendRejected,
    Channel,
    ChannelKind,
    Membership,
    NewMessage,
    StoredMessage,
    User,
)
from hubbub.store import batch as batch_plan
from hubbub.store.base import NameTaken, StoreError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

T = TypeVar("T")
Item = dict[str, Any]

MAX_TRANSACTION = 100  # TransactWriteItems' limit on actions
BATCH_GET = 100  # BatchGetItem's limit on keys
DEFAULT_PREFIX = "hubbub-"


@dataclasses.dataclass(frozen=True, slots=True)
class TableSpec:
    hash_key: tuple[str, str]  # (attribute, type)
    range_key: tuple[str, str] | None = None
    ttl: str | None = None  # the attribute DynamoDB's TTL deletes items by


# The one description of the tables; template.yaml and serverless.yml are
# checked against it by the tests.
TABLES: dict[str, TableSpec] = {
    "meta": TableSpec(("pk", "S")),  # meta values and id counters
    "users": TableSpec(("pk", "S")),  # user#id, username#name, sent#author#client_id
    "channels": TableSpec(("pk", "S")),  # channel#id (with the seq counter), name#name
    "members": TableSpec(("pk", "S"), ("sk", "S")),  # user#u/channel#c and its mirror
    "messages": TableSpec(("channel_id", "N"), ("seq", "N")),
    "connections": TableSpec(("pk", "S"), ("sk", "S"), ttl="expires_at"),  # hubbub.aws
}


@dataclasses.dataclass(frozen=True, slots=True)
class DynamoConfig:
    region: str
    prefix: str
    endpoint: str | None = None
    create: bool = False

    @classmethod
    def from_url(cls, url: str) -> DynamoConfig:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "dynamodb":
            raise ValueError(f"not a dynamodb:// URL: {url!r}")
        q = dict(urllib.parse.parse_qsl(parts.query))
        unknown = set(q) - {"region", "prefix", "endpoint", "create"}
        if unknown:
            raise ValueError(f"unknown dynamodb:// parameter(s): {', '.join(sorted(unknown))}")
        region = q.get("region") or os.environ.get("AWS_REGION") or "us-east-1"
        return cls(
            region=region,
            prefix=q.get("prefix", DEFAULT_PREFIX),
            endpoint=q.get("endpoint") or None,
            create=q.get("create", "").lower() in ("1", "true", "yes"),
        )

    def table(self, name: str) -> str:
        return self.prefix + name


def make_client(cfg: DynamoConfig) -> DynamoDBClient:
    kwargs: dict[str, Any] = {}
    session = boto3.session.Session()
    if cfg.endpoint is not None and session.get_credentials() is None:
        # A local endpoint (moto, DynamoDB Local) takes any credentials.
        kwargs.update(aws_access_key_id="local", aws_secret_access_key="local")
    return session.client(
        "dynamodb",
        region_name=cfg.region,
        endpoint_url=cfg.endpoint,
        config=Config(
            connect_timeout=2,
            read_timeout=10,
            retries={"max_attempts": 3, "mode": "standard"},
            max_pool_connections=32,
        ),
        **kwargs,
    )


# --- attribute values -----------------------------------------------------------


def S(value: str) -> dict[str, str]:  # DynamoDB's own type letters
    return {"S": value}


def N(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _int(item: Item, key: str) -> int:
    return int(item[key]["N"])


def _str(item: Item, key: str) -> str:
    return str(item[key]["S"])


def _opt_str(item: Item, key: str) -> str | None:
    return str(item[key]["S"]) if key in item else None


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _cancel_codes(exc: ClientError) -> list[str]:
    return [str(r.get("Code") or "None") for r in exc.response.get("CancellationReasons", [])]


class Cancelled(Exception):
    """A transaction was cancelled by a failed condition; `codes` per action."""

    def __init__(self, codes: list[str]) -> None:
        super().__init__(", ".join(codes))
        self.codes = codes

    def failed(self, index: int) -> bool:
        return index < len(self.codes) and self.codes[index] == "ConditionalCheckFailed"


def _now_ms() -> int:
    return int(time.time() * 1000)


def _chunks(seq: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]


class DynamoStore:
    def __init__(self, url: str) -> None:
        self.cfg = DynamoConfig.from_url(url)
        self.client: DynamoDBClient = make_client(self.cfg)
        self.t = {name: self.cfg.table(name) for name in TABLES}

    async def _io(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking boto3 work off the event loop; every backend failure
        becomes StoreError (conditional failures are handled inside `fn`)."""
        try:
            return await asyncio.to_thread(fn, *args)
        except ClientError as exc:
            raise StoreError(f"DynamoDB: {error_code(exc)}: {exc}") from exc
        except BotoCoreError as exc:
            raise StoreError(f"DynamoDB unreachable: {exc}") from exc

    # --- low-level helpers (blocking) -------------------------------------------------

    def _get(self, table: str, key: Item) -> Item | None:
        res = self.client.get_item(TableName=self.t[table], Key=key, ConsistentRead=True)
        return res.get("Item")

    def _batch_get(self, table: str, keys: list[Item]) -> list[Item]:
        out: list[Item] = []
        name = self.t[table]
        unique = list({repr(sorted(k.items())): k for k in keys}.values())
        for chunk in _chunks(unique, BATCH_GET):
            request: Any = {name: {"Keys": list(chunk), "ConsistentRead": True}}
            for attempt in range(10):
                res = self.client.batch_get_item(RequestItems=request)
                out.extend(res.get("Responses", {}).get(name, []))
                request = res.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(min(1.0, 0.02 * 2**attempt))  # throttled: back off, bounded
            else:
                raise StoreError("DynamoDB kept keys unprocessed")
        return out

    def _query(self, table: str, **kwargs: Any) -> Iterator[Item]:
        kwargs = {"TableName": self.t[table], "ConsistentRead": True, **kwargs}
        while True:
            res = self.client.query(**kwargs)
            yield from res.get("Items", [])
            last = res.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last

    def _transact(self, actions: list[Item]) -> None:
        """TransactWriteItems; raise Cancelled when a condition failed. Conflicts
        with a concurrent transaction on the same items are retried."""
        for attempt in range(8):
            try:
                self.client.transact_write_items(TransactItems=actions)  # type: ignore[arg-type]
                return
            except ClientError as exc:
                if error_code(exc) != "TransactionCanceledException":
                    raise
                codes = _cancel_codes(exc)
                if "ConditionalCheckFailed" in codes or "TransactionConflict" not in codes:
                    raise Cancelled(codes) from None
            time.sleep(random.uniform(0, 0.01 * 2**attempt))  # jittered: let the other finish
        raise StoreError("DynamoDB transaction kept conflicting")

    def _next_id(self, kind: str) -> int:
        res = self.client.update_item(
            TableName=self.t["meta"],
            Key={"pk": S(f"counter#{kind}")},
            UpdateExpression="ADD n :one",
            ExpressionAttributeValues={":one": N(1)},
            ReturnValues="UPDATED_NEW",
        )
        return _int(res["Attributes"], "n")

    def _put(self, table: str, item: Item, condition: str | None = None) -> Item:
        action: Item = {"TableName": self.t[table], "Item": item}
        if condition:
            action["ConditionExpression"] = condition
        return {"Put": action}

    # --- lifecycle ------------------------------------------------------------------

    async def open(self) -> None:
        await self._io(self._open)

    def _open(self) -> None:
        if self.cfg.create:
            self._create_tables()
        try:
            self._get("meta", {"pk": S("meta#schema")})
        except ClientError as exc:
            if error_code(exc) == "ResourceNotFoundException":
                raise StoreError(
                    f"DynamoDB tables {self.cfg.prefix}* do not exist: deploy the template, "
                    "or add create=1 to the URL"
                ) from exc
            raise

    def _create_tables(self) -> None:
        for name, spec in TABLES.items():
            keys = [(spec.hash_key, "HASH")]
            if spec.range_key:
                keys.append((spec.range_key, "RANGE"))
            table: dict[str, Any] = {
                "TableName": self.t[name],
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [
                    {"AttributeName": a, "AttributeType": typ} for (a, typ), _ in keys
                ],
                "KeySchema": [{"AttributeName": a, "KeyType": kind} for (a, _), kind in keys],
            }
            try:
                self.client.create_table(**table)
            except ClientError as exc:
                if error_code(exc) != "ResourceInUseException":  # it exists: fine
                    raise
                continue
            self.client.get_waiter("table_exists").wait(
                TableName=self.t[name], WaiterConfig={"Delay": 1, "MaxAttempts": 60}
            )
            if spec.ttl:
                self.client.update_time_to_live(
                    TableName=self.t[name],
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl},
                )

    async def close(self) -> None:
        self.client.close()

    async def ping(self) -> None:
        await self._io(self._get, "meta", {"pk": S("meta#ping")})

    async def get_or_set_meta(self, key: str, value: str) -> str:
        return await self._io(self._get_or_set_meta, key, value)

    def _get_or_set_meta(self, key: str, value: str) -> str:
        try:
            self.client.put_item(
                TableName=self.t["meta"],
                Item={"pk": S(f"meta#{key}"), "value": S(value)},
                ConditionExpression="attribute_not_exists(pk)",
            )
            return value
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
        item = self._get("meta", {"pk": S(f"meta#{key}")})
        assert item is not None
        return _str(item, "value")

    # --- users --------------------------------------------------------------------------

    async def create_user(self, username: str, display_name: str, password_hash: str) -> User:
        return await self._io(self._create_user, username, display_name, password_hash)

    def _create_user(self, username: str, display_name: str, password_hash: str) -> User:
        if self._get("users", {"pk": S(f"username#{username}")}) is not None:
            raise NameTaken(username)  # spare an id when the answer is known
        uid = self._next_id("user")
        try:
            self._transact(
                [
                    self._put(
                        "users",
                        {"pk": S(f"username#{username}"), "id": N(uid)},
                        "attribute_not_exists(pk)",
                    ),
                    self._put(
                        "users",
                        {
                            "pk": S(f"user#{uid}"),
                            "id": N(uid),
                            "username": S(username),
                            "display_name": S(display_name),
                            "password_hash": S(password_hash),
                            "created_at": N(_now_ms()),
                        },
                    ),
                ]
            )
        except Cancelled as exc:
            if exc.failed(0):
                raise NameTaken(username) from None
            raise StoreError(f"creating user cancelled: {exc}") from None
        return User(uid, username, display_name, password_hash)

    def _user(self, user_id: int) -> User | None:
        item = self._get("users", {"pk": S(f"user#{user_id}")})
        return None if item is None else _user_of(item)

    async def get_user(self, user_id: int) -> User | None:
        return await self._io(self._user, user_id)

    async def get_user_by_name(self, username: str) -> User | None:
        return await self._io(self._user_by_name, username)

    def _user_by_name(self, username: str) -> User | None:
        ref = self._get("users", {"pk": S(f"username#{username}")})
        return None if ref is None else self._user(_int(ref, "id"))

    async def update_password_hash(self, user_id: int, password_hash: str) -> None:
        await self._io(self._update_password_hash, user_id, password_hash)

    def _update_password_hash(self, user_id: int, password_hash: str) -> None:
        try:
            self.client.update_item(
                TableName=self.t["users"],
                Key={"pk": S(f"user#{user_id}")},
                UpdateExpression="SET password_hash = :h",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":h": S(password_hash)},
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise

    # --- channels -------------------------------------------------------------------------

    async def create_channel(
        self, name: str, kind: ChannelKind, topic: str, member_ids: Sequence[int]
    ) -> Channel:
        return await self._io(self._create_channel, name, kind, topic, list(member_ids))

    def _create_channel(
        self, name: str, kind: ChannelKind, topic: str, member_ids: list[int]
    ) -> Channel:
        if self._get("channels", {"pk": S(f"name#{name}")}) is not None:
            raise NameTaken(name)
        users = {
            _int(i, "id"): _str(i, "username")
            for i in self._batch_get("users", [{"pk": S(f"user#{u}")} for u in member_ids])
        }
        member_ids = [u for u in dict.fromkeys(member_ids) if u in users]
        cid = self._next_id("channel")
        now = _now_ms()
        actions = [
            self._put(
                "channels", {"pk": S(f"name#{name}"), "id": N(cid)}, "attribute_not_exists(pk)"
            ),
            self._put(
                "channels",
                {
                    "pk": S(f"channel#{cid}"),
                    "id": N(cid),
                    "name": S(name),
                    "kind": S(kind),
                    "topic": S(topic),
                    "last_seq": N(0),
                    "member_count": N(len(member_ids)),
                    "created_at": N(now),
                },
            ),
        ]
        members = [a for u in member_ids for a in self._member_items(cid, u, users[u], 0, now)]
        first = MAX_TRANSACTION - len(actions)
        try:
            self._transact(actions + members[:first])
        except Cancelled as exc:
            if exc.failed(0):
                raise NameTaken(name) from None
            raise StoreError(f"creating channel cancelled: {exc}") from None
        for chunk in _chunks(members[first:], MAX_TRANSACTION):  # only for huge member lists
            self._transact(list(chunk))
        names = tuple(sorted(users[u] for u in member_ids)) if kind == "dm" else None
        return Channel(cid, name, kind, topic, 0, len(member_ids), names)

    def _member_items(
        self, cid: int, uid: int, username: str, last_read: int, now: int
    ) -> list[Item]:
        """A membership is two items: the user's (with the read cursor), and the
        channel's mirror (listing members without a scan)."""
        return [
            self._put(
                "members",
                {
                    "pk": S(f"user#{uid}"),
                    "sk": S(f"channel#{cid}"),
                    "channel_id": N(cid),
                    "last_read": N(last_read),
                    "joined_at": N(now),
                },
                "attribute_not_exists(pk)",
            ),
            self._put(
                "members",
                {
                    "pk": S(f"channel#{cid}"),
                    "sk": S(f"user#{uid}"),
                    "user_id": N(uid),
                    "username": S(username),
                },
            ),
        ]

    def _channel_of(self, item: Item) -> Channel:
        cid, kind = _int(item, "id"), _str(item, "kind")
        members = tuple(self._member_names(cid)) if kind == "dm" else None
        return Channel(
            cid,
            _str(item, "name"),
            kind,  # type: ignore[arg-type]
            _str(item, "topic"),
            _int(item, "last_seq"),
            _int(item, "member_count"),
            members,
        )

    def _channel(self, channel_id: int) -> Channel | None:
        item = self._get("channels", {"pk": S(f"channel#{channel_id}")})
        return None if item is None else self._channel_of(item)

    async def get_channel(self, name: str) -> Channel | None:
        return await self._io(self._get_channel, name)

    def _get_channel(self, name: str) -> Channel | None:
        ref = self._get("channels", {"pk": S(f"name#{name}")})
        return None if ref is None else self._channel(_int(ref, "id"))

    async def set_topic(self, channel_id: int, topic: str) -> None:
        await self._io(self._set_topic, channel_id, topic)

    def _set_topic(self, channel_id: int, topic: str) -> None:
        try:
            self.client.update_item(
                TableName=self.t["channels"],
                Key={"pk": S(f"channel#{channel_id}")},
                UpdateExpression="SET topic = :t",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":t": S(topic)},
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise

    async def channels_for(self, user_id: int) -> list[Membership]:
        return await self._io(self._channels_for, user_id)

    def _channels_for(self, user_id: int) -> list[Membership]:
        reads = {
            _int(i, "channel_id"): _int(i, "last_read")
            for i in self._query(
                "members",
                KeyConditionExpression="pk = :p",
                ExpressionAttributeValues={":p": S(f"user#{user_id}")},
            )
        }
        items = self._batch_get("channels", [{"pk": S(f"channel#{c}")} for c in reads])
        chans = sorted((self._channel_of(i) for i in items), key=lambda c: c.name)
        return [Membership(c, reads[c.id]) for c in chans]

    async def public_channels(self) -> list[Channel]:
        return await self._io(self._public_channels)

    def _public_channels(self) -> list[Channel]:
        kwargs: dict[str, Any] = {
            "TableName": self.t["channels"],
            "ConsistentRead": True,
            "FilterExpression": "#k = :public",
            "ExpressionAttributeNames": {"#k": "kind"},
            "ExpressionAttributeValues": {":public": S("public")},
        }
        out: list[Channel] = []
        while True:
            res = self.client.scan(**kwargs)
            out.extend(self._channel_of(i) for i in res.get("Items", []))
            if not res.get("LastEvaluatedKey"):
                break
            kwargs["ExclusiveStartKey"] = res["LastEvaluatedKey"]
        return sorted(out, key=lambda c: c.name)

    async def membership(self, channel_id: int, user_id: int) -> Membership | None:
        return await self._io(self._membership, channel_id, user_id)

    def _membership(self, channel_id: int, user_id: int) -> Membership | None:
        item = self._get("members", _member_key(channel_id, user_id))
        if item is None:
            return None
        channel = self._channel(channel_id)
        return None if channel is None else Membership(channel, _int(item, "last_read"))

    async def add_member(self, channel_id: int, user_id: int) -> bool:
        return await self._io(self._add_member, channel_id, user_id)

    def _add_member(self, channel_id: int, user_id: int) -> bool:
        user = self._user(user_id)
        for _ in range(20):
            channel = self._get("channels", {"pk": S(f"channel#{channel_id}")})
            if channel is None or user is None:
                return False
            # The newcomer's cursor is the channel's last seq (nothing unread),
            # made exact by adding only if no message came in since we read it.
            last = _int(channel, "last_seq")
            actions = self._member_items(channel_id, user_id, user.username, last, _now_ms())
            actions.append(
                {
                    "Update": {
                        "TableName": self.t["channels"],
                        "Key": {"pk": S(f"channel#{channel_id}")},
                        "UpdateExpression": "ADD member_count :one",
                        "ConditionExpression": "last_seq = :last",
                        "ExpressionAttributeValues": {":one": N(1), ":last": N(last)},
                    }
                }
            )
            try:
                self._transact(actions)
                return True
            except Cancelled as exc:
                if exc.failed(0):
                    return False
                if not exc.failed(2):
                    raise StoreError(f"adding a member cancelled: {exc}") from None
        raise StoreError("channel too busy to join")

    async def remove_member(self, channel_id: int, user_id: int) -> bool:
        return await self._io(self._remove_member, channel_id, user_id)

    def _remove_member(self, channel_id: int, user_id: int) -> bool:
        members = self.t["members"]
        try:
            self._transact(
                [
                    {
                        "Delete": {
                            "TableName": members,
                            "Key": _member_key(channel_id, user_id),
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    },
                    {
                        "Delete": {
                            "TableName": members,
                            "Key": {"pk": S(f"channel#{channel_id}"), "sk": S(f"user#{user_id}")},
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.t["channels"],
                            "Key": {"pk": S(f"channel#{channel_id}")},
                            "UpdateExpression": "ADD member_count :minus",
                            "ExpressionAttributeValues": {":minus": N(-1)},
                        }
                    },
                ]
            )
        except Cancelled as exc:
            if exc.failed(0):
                return False
            raise StoreError(f"removing a member cancelled: {exc}") from None
        return True

    def _member_names(self, channel_id: int) -> list[str]:
        items = self._query(
            "members",
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": S(f"channel#{channel_id}")},
        )
        return sorted(_str(i, "username") for i in items)

    async def member_names(self, channel_id: int) -> list[str]:
        return await self._io(self._member_names, channel_id)

    async def set_last_read(self, channel_id: int, user_id: int, seq: int) -> int:
        return await self._io(self._set_last_read, channel_id, user_id, seq)

    def _set_last_read(self, channel_id: int, user_id: int, seq: int) -> int:
        try:
            self.client.update_item(
                TableName=self.t["members"],
                Key=_member_key(channel_id, user_id),
                UpdateExpression="SET last_read = :s",
                ConditionExpression="attribute_exists(pk) AND last_read < :s",
                ExpressionAttributeValues={":s": N(seq)},
            )
            return seq
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
        item = self._get("members", _member_key(channel_id, user_id))
        return _int(item, "last_read") if item else 0

    # --- messages -------------------------------------------------------------------------

    async def append_messages(
        self, batch: Sequence[NewMessage]
    ) -> list[StoredMessage | AppendRejected]:
        return await self._io(self._append, list(batch))

    def _append(self, batch: list[NewMessage]) -> list[StoredMessage | AppendRejected]:
        authored = [x for x in batch if x.author_id is not None]
        authors: dict[int, tuple[str, str]] = {}
        members: set[tuple[int, int]] = set()
        sent: dict[tuple[int, str], StoredMessage] = {}
        if authored:
            users = self._batch_get("users", [{"pk": S(f"user#{x.author_id}")} for x in authored])
            authors = {_int(u, "id"): (_str(u, "username"), _str(u, "display_name")) for u in users}
            found = self._batch_get(
                "members", [_member_key(x.channel_id, x.author_id or 0) for x in authored]
            )
            members = {(_int(m, "channel_id"), int(_str(m, "pk")[5:])) for m in found}
            keys = {(x.author_id or 0, x.client_id) for x in authored if x.client_id is not None}
            sent = self._sent(keys, authors)

        names = {pair: authors[pair[1]] for pair in members if pair[1] in authors}
        p = batch_plan.plan(batch, names, sent)
        return batch_plan.resolve(p, self._store_fresh(p.fresh, authors))

    def _sent(
        self, keys: set[tuple[int, str]], authors: dict[int, tuple[str, str]]
    ) -> dict[tuple[int, str], StoredMessage]:
        """Messages already stored under these (author, client_id) pairs."""
        if not keys:
            return {}
        refs = self._batch_get("users", [{"pk": S(_sent_key(a, c))} for a, c in keys])
        if not refs:
            return {}
        rows = self._batch_get(
            "messages",
            [{"channel_id": r["channel_id"], "seq": r["seq"]} for r in refs],
        )
        out = {}
        for row in rows:
            m = _message_of(row, duplicate=True)
            author_id = _int(row, "author_id")
            if m.client_id is not None and author_id in authors:
                out[(author_id, m.client_id)] = m
        return out

    def _store_fresh(
        self, fresh: list[NewMessage], authors: dict[int, tuple[str, str]]
    ) -> list[StoredMessage | AppendRejected]:
        if not fresh:
            return []
        per_channel: dict[int, int] = {}
        for x in fresh:
            per_channel[x.channel_id] = per_channel.get(x.channel_id, 0) + 1
        # The atomic counter: each channel's range of seqs in one UpdateItem.
        next_seq: dict[int, int] = {}
        names: dict[int, str] = {}
        for cid, count in per_channel.items():
            res = self.client.update_item(
                TableName=self.t["channels"],
                Key={"pk": S(f"channel#{cid}")},
                UpdateExpression="ADD last_seq :n",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":n": N(count)},
                ReturnValues="ALL_NEW",
            )
            attrs = res["Attributes"]
            next_seq[cid] = _int(attrs, "last_seq") - count + 1
            names[cid] = _str(attrs, "name")

        stored: list[StoredMessage] = []
        for x in fresh:
            seq = next_seq[x.channel_id]
            next_seq[x.channel_id] = seq + 1
            if x.author_id is None:
                author, author_name = None, x.guest_name or "guest"
            else:
                author, author_name = authors[x.author_id]
            stored.append(
                StoredMessage(
                    x.channel_id,
                    names[x.channel_id],
                    seq,
                    author,
                    author_name,
                    x.text,
                    x.client_id,
                    x.created_at,
                )
            )

        results: list[StoredMessage | AppendRejected] = []
        start = 0
        while start < len(fresh):
            end, size = start, 0
            checks: set[tuple[int, int]] = set()
            while end < len(fresh):
                x = fresh[end]
                pair = (x.channel_id, x.author_id or 0)
                need = 1
                if x.author_id is not None:
                    need += (x.client_id is not None) + (pair not in checks)
                if size + need > MAX_TRANSACTION:
                    break
                size += need
                if x.author_id is not None:
                    checks.add(pair)
                end += 1
            part = list(zip(fresh[start:end], stored[start:end], strict=True))
            try:
                self._transact(self._write_actions(part))
                results.extend(m for _, m in part)
            except Cancelled:
                # Some message's condition failed: write them one by one, so
                # only the ones at fault are left out.
                results.extend(self._store_one(x, m) for x, m in part)
            start = end
        return results

    def _write_actions(self, part: list[tuple[NewMessage, StoredMessage]]) -> list[Item]:
        actions: list[Item] = []
        checks: set[tuple[int, int]] = set()
        for x, m in part:
            item: Item = {
                "channel_id": N(m.channel_id),
                "seq": N(m.seq),
                "channel": S(m.channel),
                "author_name": S(m.author_name),
                "text": S(m.text),
                "created_at": N(m.created_at),
            }
            if x.author_id is not None and m.author is not None:
                item["author_id"] = N(x.author_id)
                item["author"] = S(m.author)
            if m.client_id is not None:
                item["client_id"] = S(m.client_id)
            actions.append(self._put("messages", item, "attribute_not_exists(seq)"))
            if x.author_id is not None and m.client_id is not None:
                actions.append(
                    self._put(
                        "users",
                        {
                            "pk": S(_sent_key(x.author_id, m.client_id)),
                            "channel_id": N(m.channel_id),
                            "seq": N(m.seq),
                        },
                        "attribute_not_exists(pk)",
                    )
                )
            if x.author_id is not None and (x.channel_id, x.author_id) not in checks:
                checks.add((x.channel_id, x.author_id))
                actions.append(
                    {
                        "ConditionCheck": {
                            "TableName": self.t["members"],
                            "Key": _member_key(x.channel_id, x.author_id),
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    }
                )
        return actions

    def _store_one(self, x: NewMessage, m: StoredMessage) -> StoredMessage | AppendRejected:
        try:
            self._transact(self._write_actions([(x, m)]))
            return m
        except Cancelled as exc:
            if exc.failed(0):
                raise StoreError(f"seq {m.seq} of {m.channel} was taken") from None
            if x.author_id is not None and x.client_id is not None and exc.failed(1):
                # The same (author, client_id) was stored by a concurrent retry.
                author = {x.author_id: (m.author or "", m.author_name)}
                original = self._sent({(x.author_id, x.client_id)}, author)
                return original.get((x.author_id, x.client_id)) or AppendRejected("conflict")
            return AppendRejected("not a member")  # left the channel meanwhile

    async def count_mentions(self, channel_id: int, after: int, username: str) -> int:
        return await self._io(self._count_mentions, channel_id, after, username)

    def _count_mentions(self, channel_id: int, after: int, username: str) -> int:
        pattern = mention_re(username)
        items = self._query(
            "messages",
            KeyConditionExpression="channel_id = :c AND seq > :a",
            FilterExpression="contains(#t, :at)",
            ProjectionExpression="#t",
            ExpressionAttributeNames={"#t": "text"},
            ExpressionAttributeValues={
                ":c": N(channel_id),
                ":a": N(after),
                ":at": S(f"@{username}"),
            },
        )
        return sum(1 for i in items if pattern.search(_str(i, "text")))

    async def messages(
        self,
        channel_id: int,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int,
    ) -> list[StoredMessage]:
        return await self._io(self._messages, channel_id, before, after, limit)

    def _messages(
        self, channel_id: int, before: int | None, after: int | None, limit: int
    ) -> list[StoredMessage]:
        values: Item = {":c": N(channel_id)}
        if after is not None and before is not None:
            if after + 1 > before - 1:
                return []
            cond = "channel_id = :c AND seq BETWEEN :lo AND :hi"
            values.update({":lo": N(after + 1), ":hi": N(before - 1)})
        elif after is not None:
            cond = "channel_id = :c AND seq > :a"
            values[":a"] = N(after)
        elif before is not None:
            cond = "channel_id = :c AND seq < :b"
            values[":b"] = N(before)
        else:
            cond = "channel_id = :c"
        if limit <= 0:
            return []
        out: list[StoredMessage] = []
        for item in self._query(
            "messages",
            KeyConditionExpression=cond,
            ExpressionAttributeValues=values,
            ScanIndexForward=after is not None,
            Limit=limit,
        ):
            out.append(_message_of(item))
            if len(out) >= limit:
                break
        return out


def _member_key(channel_id: int, user_id: int) -> Item:
    return {"pk": S(f"user#{user_id}"), "sk": S(f"channel#{channel_id}")}


def _sent_key(author_id: int, client_id: str) -> str:
    return f"sent#{author_id}#{client_id}"


def _user_of(item: Item) -> User:
    return User(
        _int(item, "id"),
        _str(item, "username"),
        _str(item, "display_name"),
        _str(item, "password_hash"),
    )


def _message_of(item: Item, *, duplicate: bool = False) -> StoredMessage:
    return StoredMessage(
        _int(item, "channel_id"),
        _str(item, "channel"),
        _int(item, "seq"),
        _opt_str(item, "author"),
        _str(item, "author_name"),
        _str(item, "text"),
        _opt_str(item, "client_id"),
        _int(item, "created_at"),
        duplicate=duplicate,
    )
