"""The event shapes API Gateway hands to Lambda, in one place: read by the
handlers, built by `hubbub aws-local` (so both sides agree by construction).

WebSocket API events carry `requestContext.routeKey` (`$connect`,
`$disconnect`, `$default` or the `action` the route selection expression
`$request.body.action` picked), `eventType` (CONNECT, DISCONNECT, MESSAGE),
`connectionId`, `domainName` and `stage` (the Management API lives at
`https://{domainName}/{stage}`), and for messages the frame as `body`.
"""

from __future__ import annotations

import base64
import os
import time
import uuid
from typing import Any

Event = dict[str, Any]

ROUTE_SELECTION = "$request.body.action"
ENDPOINT_ENV = "HUBBUB_APIGW_ENDPOINT"  # overrides the Management API URL (local runs)


def connection_id(event: Event) -> str:
    return str(event["requestContext"]["connectionId"])


def query(event: Event) -> dict[str, str]:
    return dict(event.get("queryStringParameters") or {})


def body(event: Event) -> bytes:
    raw = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return base64.b64decode(raw)
    return raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw)


def header(event: Event, name: str) -> str | None:
    """A request header of an HTTP API event (API Gateway lower-cases names)."""
    value = (event.get("headers") or {}).get(name.lower())
    return None if value is None else str(value)


def path_parameter(event: Event, name: str) -> str:
    return str((event.get("pathParameters") or {}).get(name, ""))


def management_endpoint(event: Event) -> str:
    override = os.environ.get(ENDPOINT_ENV)
    if override:
        return override
    ctx = event["requestContext"]
    return f"https://{ctx['domainName']}/{ctx['stage']}"


# --- building events (the emulator) ----------------------------------------------


def new_connection_id() -> str:
    # API Gateway's ids are 12 random bytes in base64: letters, digits, '=', ...
    return base64.b64encode(uuid.uuid4().bytes[:12]).decode()


def websocket_event(
    route: str,
    connection: str,
    *,
    domain: str,
    stage: str,
    api_id: str = "local",
    body: str | bytes | None = None,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    source_ip: str = "127.0.0.1",
    connected_at: int | None = None,
) -> Event:
    now = int(time.time() * 1000)
    kind = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route, "MESSAGE")
    ctx: Event = {
        "routeKey": route,
        "eventType": kind,
        "extendedRequestId": uuid.uuid4().hex[:16],
        "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
        "messageDirection": "IN",
        "stage": stage,
        "connectedAt": connected_at or now,
        "requestTimeEpoch": now,
        "identity": {"sourceIp": source_ip},
        "requestId": uuid.uuid4().hex[:16],
        "domainName": domain,
        "connectionId": connection,
        "apiId": api_id,
    }
    event: Event = {"requestContext": ctx, "isBase64Encoded": False}
    if kind == "MESSAGE":
        ctx["messageId"] = uuid.uuid4().hex[:16]
        if isinstance(body, bytes):  # a binary frame: API Gateway base64-encodes it
            event["body"] = base64.b64encode(body).decode()
            event["isBase64Encoded"] = True
        else:
            event["body"] = body or ""
    elif kind == "CONNECT":
        event["headers"] = headers or {}
        event["multiValueHeaders"] = {k: [v] for k, v in (headers or {}).items()}
        if params:
            event["queryStringParameters"] = params
            event["multiValueQueryStringParameters"] = {k: [v] for k, v in params.items()}
    else:
        event["headers"] = headers or {}
        event["multiValueHeaders"] = {k: [v] for k, v in (headers or {}).items()}
        ctx["disconnectStatusCode"] = 1000
        ctx["disconnectReason"] = ""
    return event


def http_event(
    method: str,
    path: str,
    *,
    domain: str,
    stage: str,
    route: str | None = None,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> Event:
    """An HTTP API (payload format 2.0) event, as for `GET /ping`; `route`
    is the route's path when it has `params` (`/hooks/{secret}`)."""
    now = int(time.time() * 1000)
    event: Event = {
        "version": "2.0",
        "routeKey": f"{method} {route or path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {k.lower(): v for k, v in (headers or {}).items()},
        "requestContext": {
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1"},
            "domainName": domain,
            "stage": stage,
            "requestId": uuid.uuid4().hex[:16],
            "timeEpoch": now,
        },
        "isBase64Encoded": False,
    }
    if params:
        event["pathParameters"] = params
    if body is not None:  # API Gateway base64-encodes bodies that are not text
        event["body"] = base64.b64encode(body).decode()
        event["isBase64Encoded"] = True
    return event
