"""The serverless cost model (issue #18): DynamoDB requests and capacity, and
API Gateway pushes, per message sent to a room of N connections, on the
Lambda deployment and on the seed tutorial's design.

Everything runs in this process: moto's DynamoDB server
(`hubbub.aws.localdb.LocalDynamoDB`, in a thread, over HTTP), a recording
API Gateway Management API (a small HTTP server in a thread), and the Lambda
handlers themselves, called with the event shapes API Gateway hands to Lambda
(`hubbub.aws.apigw.websocket_event`, the builder `hubbub aws-local` uses) and
routed by `$request.body.action` as aws-local routes them. Calling the handlers
directly, rather than through aws-local's WebSocket front, is the simplest
honest way: every DynamoDB request and Management API post is made by the same
code a Lambda runs, and the counting hooks live in that code's process; a
WebSocket client in front would add nothing to what is counted, only time.

Counting is botocore's event system: for as long as the scenario runs,
`boto3.session.Session` is a subclass that registers our handlers on each new
session, so every client hubbub makes (the store's, the pusher's) and the seed
design's are counted, whatever module makes them. `before-call` and
`after-call` see each API call once (botocore's own retries inside it are
counted by `before-send`, per HTTP attempt, and reported if any).

Capacity is computed, not moto's: moto answers `ReturnConsumedCapacity` with
constants whatever the items' sizes (1.0 for a PutItem or a Query, 0.5 for a
GetItem, one per key for a BatchGetItem, 2.0 per table for a transaction). So
the item sizes are measured with DynamoDB's documented rules (attribute names
and values in UTF-8 bytes, numbers 1 byte per 2 significant digits + 1, 3
bytes per list or map and 1 per element) and charged as on-demand DynamoDB
charges them: a read 1 unit per 4 KB of the whole item (half for an eventually
consistent one, at least one unit even when nothing is found); a Query or Scan
the total size of every item it *evaluated* (its filter and projection do not
reduce it), rounded up to 4 KB once per request; a BatchGetItem each item on
its own; a write 1 unit per 1 KB of the larger of the item before and after
(at least one); a BatchWriteItem each item on its own; a TransactWriteItems
twice each action's units, a ConditionCheck billed as a write. Where the
answer does not hold the whole items (a projection, a filter, `Select:
COUNT`, a write), uncounted "shadow" reads on a client of our own fetch them:
before a write, the item it replaces; after it, the item it left.

Measured per N in one table prefix, the room growing from one size to the
next: hubbub through the S1 tutorial protocol (guests, `?room_name=`,
`sendMessage`) and through its native protocol (members of a channel with
tokens, `subscribe`, `send`; up to `--native-max`, see NATIVE_MAX), with
`--other-connections` guests in rooms of 10 elsewhere; then the seed
tutorial's design, implemented here (`Tutorial`): a connections table of
(`connectionId`, `room_name`) and on every message a
GetItem of the sender's connection, a Scan of the whole connections table
filtered by room, a PutItem of the message and a PostToConnection per
recipient, with the same N in the room and `--other-connections` elsewhere.
One connection of the room sends `--messages` messages, one invocation each;
before each of hubbub's, the container forgets the sessions it read
(`Lambda.cold`), so that no count depends on how long the previous message
took.

A run fails (exit 1) if hubbub's send path makes a Scan, if its DynamoDB
requests per message grow with N, or if a recipient was not pushed every
message.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import http.server
import json
import math
import os
import re
import statistics
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any, Literal


def log(msg: str) -> None:
    # Imported here, not at the top: tests/bench loads this module by path for
    # its capacity rules, and under pytest `bench` is that test package.
    from bench.common import log as common_log

    common_log(msg)


SIZES = (1, 10, 100, 1000)
QUICK_SIZES = (1, 5)
MESSAGES = 20
QUICK_MESSAGES = 3
OTHER_CONNECTIONS = 1000
QUICK_OTHER_CONNECTIONS = 20
OTHER_ROOM_SIZE = 10
# The native protocol's room stops at this size unless told otherwise: each
# member is an account, a session and a membership, written in transactions,
# and moto copies every table a transaction touches (`transact_write_items`),
# so the set-up slows as the tables grow; at ~600 members one took over the
# store's 10 s read timeout here. The send path's counts do not need more:
# they are the same at 1, 10 and 100.
NATIVE_MAX = 100
DESIGNS = ("hubbub-s1", "hubbub-native", "tutorial")
# The operations a table row names, in this order; any other one found is added.
OPERATIONS = (
    "GetItem",
    "BatchGetItem",
    "Query",
    "Scan",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "BatchWriteItem",
    "TransactWriteItems",
    "TransactGetItems",
)
# How much more the median message may make at the largest N than at the
# smallest and still count as not growing: nothing (they are whole numbers).
SAME_REQUESTS = 0.0
API_MESSAGE_BYTES = 32 * 1024  # API Gateway meters messages in 32 KB units
REGION = "us-east-1"
ROOM_S1 = "cost-s1"
ROOM_NATIVE = "cost-native"
ENV = (
    "HUBBUB_DATABASE_URL",
    "HUBBUB_ALLOW_GUESTS",
    "HUBBUB_GUEST_ROOMS",
    "HUBBUB_APIGW_ENDPOINT",
    "HUBBUB_LIMIT",
    "HUBBUB_JWT_SECRET",
    "HUBBUB_BLOB_URL",
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--sizes",
        type=lambda v: sorted({int(x) for x in v.split(",") if x}),
        help=f"connections in the room (default {','.join(map(str, SIZES))}; "
        f"{','.join(map(str, QUICK_SIZES))} quick)",
    )
    p.add_argument(
        "--messages",
        type=int,
        help=f"messages sent at each size (default {MESSAGES}; {QUICK_MESSAGES} quick)",
    )
    p.add_argument(
        "--other-connections",
        type=int,
        help=f"connections in other rooms, in rooms of {OTHER_ROOM_SIZE} "
        f"(default {OTHER_CONNECTIONS}; {QUICK_OTHER_CONNECTIONS} quick)",
    )
    p.add_argument(
        "--native-max",
        type=int,
        default=NATIVE_MAX,
        help=f"the largest N measured through the native protocol (default {NATIVE_MAX})",
    )
    p.add_argument(
        "--designs",
        type=lambda v: [x for x in v.split(",") if x],
        default=list(DESIGNS),
        help=f"what to measure (default {','.join(DESIGNS)})",
    )


# --- item sizes and capacity, by DynamoDB's rules ---------------------------------------


def number_size(text: str) -> int:
    """1 byte per two significant digits, plus 1."""
    digits = Decimal(text).normalize().as_tuple().digits
    significant = len(digits) if any(digits) else 1
    return (significant + 1) // 2 + 1


def value_size(value: dict[str, Any]) -> int:
    ((kind, v),) = value.items()
    if kind == "S":
        return len(v.encode("utf-8", "surrogatepass"))
    if kind == "N":
        return number_size(v)
    if kind == "B":
        return len(v)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in v)
    if kind == "NS":
        return sum(number_size(n) for n in v)
    if kind == "BS":
        return sum(len(b) for b in v)
    if kind == "L":
        return 3 + sum(value_size(e) + 1 for e in v)
    if kind == "M":
        return 3 + sum(len(k.encode()) + value_size(e) + 1 for k, e in v.items())
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def item_size(item: dict[str, Any] | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(v) for name, v in item.items())


def read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / 4096))
    return float(units) if consistent else units / 2


def write_units(*sizes: int) -> float:
    return float(max(1, math.ceil(max(sizes, default=0) / 1024)))


# --- the meter --------------------------------------------------------------------------


@dataclasses.dataclass
class Call:
    """One API call, as DynamoDB or API Gateway would bill it."""

    service: str
    op: str
    tables: str = ""  # the table(s) it named, without the prefix
    items_read: int = 0
    items_written: int = 0
    rcu: float = 0.0
    wcu: float = 0.0
    api_messages: int = 0  # PostToConnection, in API Gateway's 32 KB units
    error: str = ""


# What part of an expression names a placeholder (#name or :value).
PLACEHOLDER = re.compile(r"[#:][A-Za-z0-9_]+")
SHADOWED_PARAMS = ("FilterExpression", "ProjectionExpression", "Select", "AttributesToGet")


def _only_used(params: dict[str, Any]) -> dict[str, Any]:
    """`params` without expression placeholders no remaining expression
    uses (DynamoDB refuses unused ones)."""
    used: set[str] = set()
    for key, value in params.items():
        if key.endswith("Expression") and isinstance(value, str):
            used.update(PLACEHOLDER.findall(value))
    out = dict(params)
    for key in ("ExpressionAttributeNames", "ExpressionAttributeValues"):
        if key in out:
            kept = {k: v for k, v in out[key].items() if k in used}
            if kept:
                out[key] = kept
            else:
                del out[key]
    return out


class Meter:
    """Counts every DynamoDB and Management API call made through a boto3
    session registered with `attach`, while `active`."""

    def __init__(self, shadow: Any) -> None:
        self.shadow = shadow  # a DynamoDB client of our own, never attached
        self.active = False
        self.calls: list[Call] = []
        self.attempts = 0  # HTTP requests to DynamoDB (a retry is one more)
        self._lock = threading.Lock()
        self._keys: dict[str, list[str]] = {}

    def attach(self, events: Any) -> None:
        events.register("provide-client-params.dynamodb", self._params)
        events.register("before-call.dynamodb", self._before)
        events.register("after-call.dynamodb", self._after)
        events.register("after-call-error.dynamodb", self._failed)
        events.register("before-send.dynamodb", self._sent)
        events.register("after-call.apigatewaymanagementapi", self._after_api)
        events.register("after-call-error.apigatewaymanagementapi", self._failed)

    def take(self) -> list[Call]:
        with self._lock:
            calls, self.calls = self.calls, []
        return calls

    def _record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)

    # -- shadow reads (never counted: the shadow client is not attached) --

    def key_of(self, table: str, item: dict[str, Any]) -> dict[str, Any]:
        names = self._keys.get(table)
        if names is None:
            schema = self.shadow.describe_table(TableName=table)["Table"]["KeySchema"]
            names = self._keys[table] = [k["AttributeName"] for k in schema]
        return {n: item[n] for n in names}

    def stored(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        res = self.shadow.get_item(TableName=table, Key=key, ConsistentRead=True)
        item: dict[str, Any] | None = res.get("Item")
        return item

    def _targets(self, op: str, params: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
        """(action, table, key) of each item a write touches."""
        if op in ("PutItem", "UpdateItem", "DeleteItem"):
            table = params["TableName"]
            key = params["Key"] if op != "PutItem" else self.key_of(table, params["Item"])
            return [(op, table, key)]
        out = []
        if op == "BatchWriteItem":
            for table, requests in params["RequestItems"].items():
                for r in requests:
                    if "PutRequest" in r:
                        out.append(("PutItem", table, self.key_of(table, r["PutRequest"]["Item"])))
                    else:
                        out.append(("DeleteItem", table, r["DeleteRequest"]["Key"]))
        elif op == "TransactWriteItems":
            for action in params["TransactItems"]:
                ((kind, a),) = action.items()
                table = a["TableName"]
                key = a["Key"] if kind != "Put" else self.key_of(table, a["Item"])
                out.append((kind, table, key))
        return out

    # -- the hooks --

    def _params(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if self.active:
            context["cost_params"] = copy.deepcopy(params)

    def _before(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        params = context.get("cost_params")
        if params is None:
            return
        targets = self._targets(model.name, params)
        context["cost_before"] = [(t, self.stored(t[1], t[2])) for t in targets]

    def _sent(self, **_: Any) -> None:
        if self.active:
            with self._lock:
                self.attempts += 1

    def _failed(self, model: Any, context: dict[str, Any], exception: Exception, **_: Any) -> None:
        if "cost_params" in context or (
            self.active and model.service_model.service_name != "dynamodb"
        ):
            self._record(Call(model.service_model.service_name, model.name, error=repr(exception)))

    def _after_api(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        if not self.active:
            return
        call = Call("apigatewaymanagementapi", model.name)
        if model.name == "PostToConnection":
            size = len(context.get("cost_data", b""))
            call.api_messages = max(1, math.ceil(size / API_MESSAGE_BYTES))
        self._record(call)

    def _after(
        self,
        http_response: Any,
        parsed: dict[str, Any],
        model: Any,
        context: dict[str, Any],
        **_: Any,
    ) -> None:
        params = context.get("cost_params")
        if params is None:
            return
        op = model.name
        call = Call("dynamodb", op, tables=",".join(sorted(_tables(params))))
        if http_response.status_code >= 300:
            call.error = str(parsed.get("Error", {}).get("Code", http_response.status_code))
        try:
            self._charge(call, op, params, parsed, context.get("cost_before", []))
        finally:
            self._record(call)

    def _charge(
        self,
        call: Call,
        op: str,
        params: dict[str, Any],
        parsed: dict[str, Any],
        before: list[tuple[tuple[str, str, dict[str, Any]], dict[str, Any] | None]],
    ) -> None:
        consistent = bool(params.get("ConsistentRead"))
        if op == "GetItem":
            item = parsed.get("Item")
            if "ProjectionExpression" in params or "AttributesToGet" in params:
                item = self.stored(params["TableName"], params["Key"])
            call.items_read = int(item is not None)
            call.rcu = read_units(item_size(item), consistent)
        elif op == "BatchGetItem":
            skipped = {
                _key_id(table, k)
                for table, r in (parsed.get("UnprocessedKeys") or {}).items()
                for k in r.get("Keys", [])
            }
            for table, request in params["RequestItems"].items():
                for key in request["Keys"]:
                    if _key_id(table, key) in skipped:
                        continue
                    item = self.stored(table, key)  # the whole item, whatever was projected
                    call.items_read += int(item is not None)
                    call.rcu += read_units(item_size(item), bool(request.get("ConsistentRead")))
        elif op in ("Query", "Scan"):
            items = parsed.get("Items", [])
            if any(k in params for k in SHADOWED_PARAMS):
                # The items evaluated, whole: the same page without filter or projection.
                bare = _only_used({k: v for k, v in params.items() if k not in SHADOWED_PARAMS})
                items = getattr(self.shadow, "query" if op == "Query" else "scan")(**bare).get(
                    "Items", []
                )
            call.items_read = len(items)
            call.rcu = read_units(sum(item_size(i) for i in items), consistent)
        elif op == "TransactGetItems":
            for action in params["TransactItems"]:
                get = action["Get"]
                item = self.stored(get["TableName"], get["Key"])
                call.items_read += int(item is not None)
                call.rcu += 2 * read_units(item_size(item), True)
        elif before:
            skipped = {
                _key_id(
                    table, self._targets("BatchWriteItem", {"RequestItems": {table: [r]}})[0][2]
                )
                for table, requests in (parsed.get("UnprocessedItems") or {}).items()
                for r in requests
            }
            factor = 2.0 if op == "TransactWriteItems" else 1.0
            for (kind, table, key), old in before:
                if _key_id(table, key) in skipped:
                    continue  # not written: retried in a later call, charged there
                new = self.stored(table, key)
                call.wcu += factor * write_units(item_size(old), item_size(new))
                if kind != "ConditionCheck":
                    call.items_written += 1


def _tables(params: dict[str, Any]) -> set[str]:
    if "TableName" in params:
        return {params["TableName"]}
    if "RequestItems" in params:
        return set(params["RequestItems"])
    return {next(iter(a.values()))["TableName"] for a in params.get("TransactItems", [])}


def _key_id(table: str, key: dict[str, Any]) -> str:
    return table + json.dumps(key, sort_keys=True)


@contextlib.contextmanager
def counting(meter: Meter) -> Iterator[None]:
    """Every boto3 session made meanwhile counts its calls on `meter`."""
    import boto3
    import boto3.session

    real = boto3.session.Session

    class Counted(real):  # type: ignore[misc,valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            meter.attach(self.events)
            # A post's size, for API Gateway's 32 KB metering.
            self.events.register(
                "provide-client-params.apigatewaymanagementapi.PostToConnection", _keep_data
            )

    boto3.session.Session = Counted  # type: ignore[misc]
    try:
        yield
    finally:
        boto3.session.Session = real  # type: ignore[misc]


def _keep_data(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    data = params.get("Data", b"")
    context["cost_data"] = data.encode() if isinstance(data, str) else bytes(data)


# --- API Gateway's Management API, recording ---------------------------------------------


class ManagementApi:
    """What the handlers post to: counts the frames each connection is sent."""

    def __init__(self) -> None:
        self.posted: Counter[str] = Counter()
        self._lock = threading.Lock()
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive: botocore reuses its connections

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", 0)))
                cid = urllib.parse.unquote(self.path.rsplit("/@connections/", 1)[1])
                with api._lock:
                    api.posted[cid] += 1
                self._answer(200)

            def do_DELETE(self) -> None:
                self._answer(204)

            def _answer(self, status: int) -> None:
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="management-api", daemon=True
        )
        self._thread.start()

    def take(self) -> Counter[str]:
        with self._lock:
            posted, self.posted = self.posted, Counter()
        return posted

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(10)


# --- the designs ------------------------------------------------------------------------


class Lambda:
    """hubbub's Lambda handlers, called in this thread with API Gateway's
    events, as configured by the template (guests create rooms by naming
    them, as in the tutorial)."""

    def __init__(self, store_url: str, api_endpoint: str) -> None:
        from hubbub.aws import runtime

        self._saved = {k: os.environ.get(k) for k in ENV}
        for k in ENV:
            os.environ.pop(k, None)
        os.environ.update(
            HUBBUB_DATABASE_URL=store_url,
            HUBBUB_ALLOW_GUESTS="1",
            HUBBUB_GUEST_ROOMS="create",
            HUBBUB_APIGW_ENDPOINT=api_endpoint,
            # The other rooms are made by guests naming them, faster than an hour's 30.
            HUBBUB_LIMIT="channels_per_hour=1000000",
        )
        runtime.reset()
        self.runtime = runtime.current()

    def connect(self, cid: str, **params: str) -> None:
        from hubbub.aws import apigw, handlers

        event = apigw.websocket_event(
            "$connect", cid, domain="cost.example", stage="bench", params=params
        )
        res = handlers.connect(event, None)
        if res["statusCode"] != 200:
            raise RuntimeError(f"$connect {params} answered {res}")

    def cold(self) -> None:
        """Forget the sessions this container read (it trusts one for
        `SESSION_CACHE`, half a second): each message then costs what it
        costs a container that has not seen its sender in the last half
        second, the usual case when many containers serve a room, and the
        count stops depending on how long the previous message took."""
        self.runtime.hub.accounts.forget()

    def frame(self, cid: str, frame: dict[str, Any]) -> None:
        from hubbub.aws import apigw, handlers
        from hubbub.aws.local import select_route

        body = json.dumps(frame)
        route = select_route(body)
        event = apigw.websocket_event(route, cid, domain="cost.example", stage="bench", body=body)
        handlers.WEBSOCKET_ROUTES[route](event, None)

    def close(self) -> None:
        from hubbub.aws import runtime

        runtime.reset()
        for k, v in self._saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class Tutorial:
    """The seed tutorial's design, on the same moto: a connections table of
    (`connectionId`, `room_name`), a messages table, and on each message a
    GetItem of the sender's connection (its room), a Scan of the whole
    connections table filtered by room (eventually consistent, boto3's
    default, as the tutorial reads it), a PutItem of the message, and a
    PostToConnection to each connection the Scan found."""

    def __init__(self, endpoint: str, prefix: str, api_endpoint: str) -> None:
        import boto3

        session = boto3.session.Session()  # counted, as hubbub's are
        self.db = session.client(
            "dynamodb",
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        self.api = session.client(
            "apigatewaymanagementapi",
            endpoint_url=api_endpoint,
            region_name=REGION,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        self.connections, self.messages = f"{prefix}connections", f"{prefix}messages"
        tables: list[tuple[str, list[tuple[str, Literal["S", "N"], Literal["HASH", "RANGE"]]]]] = [
            (self.connections, [("connectionId", "S", "HASH")]),
            (self.messages, [("room_name", "S", "HASH"), ("created_at", "N", "RANGE")]),
        ]
        for table, keys in tables:
            self.db.create_table(
                TableName=table,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": a, "AttributeType": t} for a, t, _ in keys],
                KeySchema=[{"AttributeName": a, "KeyType": k} for a, _, k in keys],
            )

    def connect(self, cid: str, room: str) -> None:
        self.db.put_item(
            TableName=self.connections,
            Item={"connectionId": {"S": cid}, "room_name": {"S": room}},
        )

    def send_message(self, cid: str, frame: dict[str, Any]) -> None:
        me = self.db.get_item(TableName=self.connections, Key={"connectionId": {"S": cid}})
        room = me["Item"]["room_name"]["S"]
        message = {"user_name": frame["user_name"], "content": frame["content"]}
        self.db.put_item(
            TableName=self.messages,
            Item={
                "room_name": {"S": room},
                "created_at": {"N": str(time.time_ns())},
                "user_name": {"S": message["user_name"]},
                "content": {"S": message["content"]},
            },
        )
        data = json.dumps({"messages": [message]}).encode()
        scan: dict[str, Any] = {
            "TableName": self.connections,
            "FilterExpression": "room_name = :r",
            "ExpressionAttributeValues": {":r": {"S": room}},
            "ProjectionExpression": "connectionId",
        }
        while True:
            page = self.db.scan(**scan)
            for item in page["Items"]:
                self.api.post_to_connection(ConnectionId=item["connectionId"]["S"], Data=data)
            if "LastEvaluatedKey" not in page:
                break
            scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# --- measuring ----------------------------------------------------------------------------


def new_id() -> str:
    from hubbub.aws import apigw

    return apigw.new_connection_id()


def summarize(per_message: list[list[Call]]) -> dict[str, Any]:
    n = len(per_message)
    ops: Counter[str] = Counter()
    totals: dict[str, float] = dict.fromkeys(
        ("items_read", "items_written", "rcu", "wcu", "posts", "api_messages"), 0.0
    )
    errors: Counter[str] = Counter()
    db_counts = []
    scans = 0
    for calls in per_message:
        db = [c for c in calls if c.service == "dynamodb"]
        db_counts.append(len(db))
        for c in calls:
            if c.error:
                errors[f"{c.op}: {c.error}"] += 1
            if c.service == "dynamodb":
                ops[c.op] += 1
                scans += c.op == "Scan"
                totals["items_read"] += c.items_read
                totals["items_written"] += c.items_written
                totals["rcu"] += c.rcu
                totals["wcu"] += c.wcu
            elif c.op == "PostToConnection":
                totals["posts"] += 1
                totals["api_messages"] += c.api_messages
            else:
                ops[c.op] += 1
    by_table: Counter[str] = Counter(
        " ".join([c.op, ",".join(t.split("-", 1)[-1] for t in c.tables.split(",") if t)]).strip()
        for calls in per_message
        for c in calls
    )
    scan_items = [c.items_read for calls in per_message for c in calls if c.op == "Scan"]
    return {
        "messages": n,
        "requests": {op: round(k / n, 3) for op, k in sorted(ops.items(), key=_op_order)},
        "dynamodb_requests": round(sum(db_counts) / n, 3),
        "dynamodb_requests_median": statistics.median(db_counts),
        "dynamodb_requests_each": db_counts,
        "by_table": {k: round(v / n, 3) for k, v in sorted(by_table.items())},
        "scans": scans,
        "scan_items_read": scan_items,
        "items_read": round(totals["items_read"] / n, 2),
        "items_written": round(totals["items_written"] / n, 2),
        "rcu": round(totals["rcu"] / n, 2),
        "wcu": round(totals["wcu"] / n, 2),
        "posts": round(totals["posts"] / n, 2),
        "api_messages": round(totals["api_messages"] / n, 2),
        "errors": dict(errors),
    }


def _op_order(kv: tuple[str, int]) -> tuple[int, str]:
    op = kv[0]
    return (OPERATIONS.index(op) if op in OPERATIONS else len(OPERATIONS), op)


class Bench:
    def __init__(self, meter: Meter, api: ManagementApi, messages: int) -> None:
        self.meter, self.api, self.messages = meter, api, messages

    def measure(
        self, send: Callable[[int], None], room: list[str], before: Callable[[], None] | None = None
    ) -> dict[str, Any]:
        """`send(k)` the room's messages, one invocation each: what each cost,
        and whether every connection of the room was pushed every one."""
        self.api.take()
        self.meter.take()
        per_message = []
        self.meter.active = True
        attempts = self.meter.attempts
        t = time.monotonic()
        try:
            for k in range(self.messages):
                if before is not None:
                    before()
                send(k)
                per_message.append(self.meter.take())
        finally:
            self.meter.active = False
        seconds = time.monotonic() - t
        posted = self.api.take()
        out = summarize(per_message)
        out["http_attempts"] = round((self.meter.attempts - attempts) / self.messages, 3)
        out["missing_pushes"] = sum(max(0, self.messages - posted[c]) for c in room)
        out["seconds"] = round(seconds, 2)
        return out


def run_hubbub(
    bench: Bench,
    store_url: str,
    sizes: list[int],
    others: int,
    designs: list[str],
    native_max: int,
) -> dict[str, list[dict[str, Any]]]:
    from hubbub.core import auth
    from hubbub.core.models import Session

    lam = Lambda(store_url, bench.api.endpoint)
    rt = lam.runtime
    out: dict[str, list[dict[str, Any]]] = {}
    try:
        t = time.monotonic()
        for i in range(others):
            lam.connect(new_id(), room_name=f"cost-other-{i // OTHER_ROOM_SIZE}")
        if others:
            log(f"cost: {others} guests in other rooms in {time.monotonic() - t:.0f} s")

        if "hubbub-s1" in designs:
            room: list[str] = []
            rows = out["hubbub-s1"] = []
            for size in sizes:
                while len(room) < size:
                    room.append(new_id())
                    lam.connect(room[-1], room_name=ROOM_S1)

                def s1_send(k: int, sender: str = room[0]) -> None:
                    frame = {"action": "sendMessage", "user_name": "ann", "content": f"message {k}"}
                    lam.frame(sender, frame)

                row = bench.measure(s1_send, room, before=lam.cold)
                rows.append({"n": size, **row})
                log_row("hubbub-s1", size, row)

        if "hubbub-native" in designs:
            hashed = auth.hash_password("cost-bench")  # one hash for everyone: see bench.common
            members: list[tuple[str, str]] = []  # (connection id, token)
            channel = None
            rows = out["hubbub-native"] = []
            for size in [n for n in sizes if n <= native_max]:
                while len(members) < size:
                    name = f"c{len(members):05d}"
                    user = rt.run(rt.store.create_user(name, name, hashed))
                    now = int(time.time() * 1000)
                    session = Session(auth.new_public_id(), user.id, now, now)
                    rt.run(rt.store.create_session(session))
                    if channel is None:
                        channel = rt.run(
                            rt.store.create_channel(ROOM_NATIVE, "public", "", [user.id])
                        )
                    else:
                        rt.run(rt.store.add_member(channel.id, user.id))
                    token = auth.issue_token(rt.hub.secret, user.id, name, session.id, 24 * 3600.0)
                    cid = new_id()
                    lam.connect(cid, token=token)
                    lam.frame(cid, {"action": "subscribe", "channel": ROOM_NATIVE, "id": "s"})
                    members.append((cid, token))

                def native_send(k: int, sender: str = members[0][0], n: int = size) -> None:
                    frame = {
                        "action": "send",
                        "channel": ROOM_NATIVE,
                        "text": f"message {k}",
                        "client_id": f"n{n}-{k}",  # new at every size: no retry
                        "id": k,
                    }
                    lam.frame(sender, frame)

                row = bench.measure(native_send, [c for c, _ in members], before=lam.cold)
                rows.append({"n": size, **row})
                log_row("hubbub-native", size, row)
    finally:
        lam.close()
    return out


def run_tutorial(
    bench: Bench, endpoint: str, prefix: str, sizes: list[int], others: int
) -> list[dict[str, Any]]:
    design = Tutorial(endpoint, prefix, bench.api.endpoint)
    for i in range(others):
        design.connect(new_id(), f"other-{i // OTHER_ROOM_SIZE}")
    room: list[str] = []
    rows = []
    for size in sizes:
        while len(room) < size:
            room.append(new_id())
            design.connect(room[-1], "test")

        def send(k: int, sender: str = room[0]) -> None:
            design.send_message(sender, {"user_name": "ann", "content": f"message {k}"})

        row = bench.measure(send, room)
        row["connections_in_table"] = size + others
        rows.append({"n": size, **row})
        log_row("tutorial", size, row)
    return rows


def log_row(design: str, size: int, row: dict[str, Any]) -> None:
    log(
        f"  {design:14} N={size:<5} {row['dynamodb_requests']:6.2f} DynamoDB requests/msg "
        f"({', '.join(f'{op} {k:g}' for op, k in row['requests'].items())}), "
        f"RCU {row['rcu']:g}, WCU {row['wcu']:g}, posts {row['posts']:g} "
        f"[{row['seconds']:.1f} s]"
    )


# --- dollars --------------------------------------------------------------------------------

# On-demand prices, us-east-1, taken as an assumption (see docs/benchmarks.md):
# DynamoDB $1.25 per million write request units and $0.25 per million read
# request units; API Gateway WebSocket $1.00 per million messages (32 KB units).
PRICE_WRU = 1.25
PRICE_RRU = 0.25
PRICE_API_MESSAGE = 1.00


def dollars(row: dict[str, Any]) -> dict[str, float]:
    """Per million messages sent: DynamoDB, and API Gateway's messages (the
    pushes, and the sent frame itself, which API Gateway meters too)."""
    dynamo = row["rcu"] * PRICE_RRU + row["wcu"] * PRICE_WRU
    api = (row["api_messages"] + 1) * PRICE_API_MESSAGE
    return {"dynamodb": round(dynamo, 2), "api_gateway": round(api, 2)}


def table(results: dict[str, list[dict[str, Any]]]) -> str:
    lines = [
        "| N | design | DynamoDB requests/msg | by operation | items read | items written "
        "| RCU | WCU | PostToConnection | $ DynamoDB / M msgs | $ API GW / M msgs |",
        "|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    sizes = sorted({r["n"] for rows in results.values() for r in rows})
    for size in sizes:
        for design in DESIGNS:
            for r in results.get(design, []):
                if r["n"] != size:
                    continue
                ops = ", ".join(f"{op} {k:g}" for op, k in r["requests"].items())
                d = r["dollars"]
                lines.append(
                    f"| {size:,} | {design} | {r['dynamodb_requests']:g} | {ops} "
                    f"| {r['items_read']:g} | {r['items_written']:g} | {r['rcu']:g} "
                    f"| {r['wcu']:g} | {r['posts']:g} | {d['dynamodb']:,.2f} "
                    f"| {d['api_gateway']:,.2f} |"
                )
    return "\n".join(lines)


# --- the scenario -----------------------------------------------------------------------------


def run(args: Any) -> dict[str, Any]:
    import uuid

    from hubbub.aws.localdb import LocalDynamoDB
    from hubbub.store.dynamo import DynamoStore

    sizes = args.sizes or list(QUICK_SIZES if args.quick else SIZES)
    messages = args.messages or (QUICK_MESSAGES if args.quick else MESSAGES)
    others = args.other_connections
    if others is None:
        others = QUICK_OTHER_CONNECTIONS if args.quick else OTHER_CONNECTIONS
    unknown = set(args.designs) - set(DESIGNS)
    if unknown:
        raise SystemExit(f"--designs: unknown {', '.join(sorted(unknown))}")
    results: dict[str, list[dict[str, Any]]] = {}
    t = time.monotonic()
    with LocalDynamoDB() as db:
        api = ManagementApi()
        try:
            import boto3

            shadow = boto3.session.Session().client(
                "dynamodb",
                endpoint_url=db.endpoint,
                region_name=REGION,
                aws_access_key_id="local",
                aws_secret_access_key="local",
            )
            meter = Meter(shadow)
            bench = Bench(meter, api, messages)
            prefix = f"cost{uuid.uuid4().hex[:8]}-"
            with counting(meter):
                if {"hubbub-s1", "hubbub-native"} & set(args.designs):
                    url = f"dynamodb://?endpoint={db.endpoint}&region={REGION}&prefix={prefix}"

                    async def create() -> None:
                        store = DynamoStore(url + "&create=1")
                        await store.open()
                        await store.close()

                    import asyncio

                    asyncio.run(create())
                    results.update(
                        run_hubbub(bench, url, sizes, others, args.designs, args.native_max)
                    )
                if "tutorial" in args.designs:
                    results["tutorial"] = run_tutorial(
                        bench, db.endpoint, f"{prefix}seed-", sizes, others
                    )
        finally:
            api.close()
    for rows in results.values():
        for r in rows:
            r["dollars"] = dollars(r)
    text = table(results)
    print(text, flush=True)
    log(f"cost: measured in {time.monotonic() - t:.0f} s")
    return {
        "sizes": sizes,
        "messages": messages,
        "other_connections": others,
        "prices": {"wru": PRICE_WRU, "rru": PRICE_RRU, "api_message": PRICE_API_MESSAGE},
        "capacity": "computed from item sizes (moto's ConsumedCapacity is a constant)",
        "designs": results,
        "table": text,
    }


def check(result: dict[str, Any]) -> list[str]:
    problems = []
    for design, rows in result["designs"].items():
        for r in rows:
            if r["missing_pushes"]:
                problems.append(f"{design} N={r['n']}: {r['missing_pushes']} pushes missing")
            if design.startswith("hubbub") and r["scans"]:
                problems.append(f"{design} N={r['n']}: {r['scans']} Scans on the send path")
        if design.startswith("hubbub") and len(rows) > 1:
            # The median message: a session touched once a minute is one
            # more request in one message, whatever N.
            first, last = rows[0], rows[-1]
            grew = last["dynamodb_requests_median"] - first["dynamodb_requests_median"]
            if grew > SAME_REQUESTS:
                problems.append(
                    f"{design}: DynamoDB requests per message grow with N: "
                    f"{first['dynamodb_requests_median']:g} at N={first['n']}, "
                    f"{last['dynamodb_requests_median']:g} at N={last['n']}"
                )
        if design == "tutorial":
            for r in rows:
                # The meter's own check: a Scan reads every connection, whatever the filter.
                if any(k != r["connections_in_table"] for k in r["scan_items_read"]):
                    problems.append(
                        f"tutorial N={r['n']}: Scans read {r['scan_items_read']} items, not "
                        f"the table's {r['connections_in_table']}"
                    )
    return problems
