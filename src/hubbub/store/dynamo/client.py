"""Blocking access to the tables through boto3's low-level client: reads that
page and retry, transactions that tell a failed condition from a conflict,
counters, and creating the tables for local runs."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from hubbub import boto
from hubbub.core.ports import StoreError
from hubbub.store.dynamo.items import Item, N, S, chunks, get_int
from hubbub.store.dynamo.tables import TABLES, DynamoConfig

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

MAX_TRANSACTION = 100  # TransactWriteItems' limit on actions
BATCH_GET = 100  # BatchGetItem's limit on keys


def make_client(cfg: DynamoConfig) -> DynamoDBClient:
    client: DynamoDBClient = boto.client(
        "dynamodb", region=cfg.region, endpoint=cfg.endpoint, connect_timeout=2, read_timeout=10
    )
    return client


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


class DynamoTables:
    """The tables of one `dynamodb://` URL. Every method blocks; boto3's
    errors come out as they are (`DynamoStore.run_blocking` translates them)."""

    def __init__(self, cfg: DynamoConfig) -> None:
        self.cfg = cfg
        self.client: DynamoDBClient = make_client(cfg)
        self.names = {name: cfg.table(name) for name in TABLES}  # ours -> DynamoDB's

    def get(self, table: str, key: Item) -> Item | None:
        res = self.client.get_item(TableName=self.names[table], Key=key, ConsistentRead=True)
        return res.get("Item")

    def batch_get(
        self, table: str, keys: list[Item], *, projection: dict[str, str] | None = None
    ) -> list[Item]:
        """The items of `keys` that exist, in no particular order; with
        `projection` (placeholder -> attribute), only those attributes."""
        out: list[Item] = []
        name = self.names[table]
        unique = list({repr(sorted(k.items())): k for k in keys}.values())
        for chunk in chunks(unique, BATCH_GET):
            request: Any = {name: {"Keys": list(chunk), "ConsistentRead": True}}
            if projection:
                request[name]["ProjectionExpression"] = ", ".join(projection)
                request[name]["ExpressionAttributeNames"] = projection
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

    def query(self, table: str, **kwargs: Any) -> Iterator[Item]:
        """Every item of a Query (`kwargs` as boto3 takes them), page by page."""
        kwargs = {"TableName": self.names[table], "ConsistentRead": True, **kwargs}
        while True:
            res = self.client.query(**kwargs)
            yield from res.get("Items", [])
            last = res.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last

    def count(self, table: str, **kwargs: Any) -> int:
        """How many items a Query (`kwargs` as boto3 takes them) matches,
        counted page by page by DynamoDB (`Select: COUNT`)."""
        kwargs = {
            "TableName": self.names[table],
            "ConsistentRead": True,
            "Select": "COUNT",
            **kwargs,
        }
        total = 0
        while True:
            res = self.client.query(**kwargs)
            total += res["Count"]
            last = res.get("LastEvaluatedKey")
            if not last:
                return total
            kwargs["ExclusiveStartKey"] = last

    def scan(self, table: str, **kwargs: Any) -> Iterator[Item]:
        """Every item of a Scan, page by page (for the few reads no key serves)."""
        kwargs = {"TableName": self.names[table], "ConsistentRead": True, **kwargs}
        while True:
            res = self.client.scan(**kwargs)
            yield from res.get("Items", [])
            last = res.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last

    def transact(self, actions: list[Item]) -> None:
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

    def put(self, table: str, item: Item, condition: str | None = None) -> Item:
        """A Put action for `transact`."""
        action: Item = {"TableName": self.names[table], "Item": item}
        if condition:
            action["ConditionExpression"] = condition
        return {"Put": action}

    def next_id(self, kind: str) -> int:
        res = self.client.update_item(
            TableName=self.names["meta"],
            Key={"pk": S(f"counter#{kind}")},
            UpdateExpression="ADD n :one",
            ExpressionAttributeValues={":one": N(1)},
            ReturnValues="UPDATED_NEW",
        )
        return get_int(res["Attributes"], "n")

    # --- lifecycle ------------------------------------------------------------------

    def open(self) -> None:
        if self.cfg.create:
            self._create_tables()
        try:
            self.get("meta", {"pk": S("meta#schema")})
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
                "TableName": self.names[name],
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
                TableName=self.names[name], WaiterConfig={"Delay": 1, "MaxAttempts": 60}
            )
            if spec.ttl:
                self.client.update_time_to_live(
                    TableName=self.names[name],
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl},
                )

    def close(self) -> None:
        self.client.close()
