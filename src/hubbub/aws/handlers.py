"""The Lambda entry points, one per API Gateway route (see template.yaml):
`hubbub.aws.handlers.connect`, `.disconnect`, `.default`, `.send_message`,
`.get_recent_messages` for the WebSocket API, `.ping` for `GET /ping` and
`.incoming_hook` for `POST /hooks/{secret}` and `.command_response` for
`POST /commands/respond/{token}` on the HTTP API; `.deliver_hooks`, run on a
schedule, sends what outgoing webhooks have waiting.

The WebSocket ones all run the same gateway (`runtime.Runtime.handle`): a
frame reaching `sendMessage` is routed by its `action` like any other, so a
deployment with only `$default` behaves the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hubbub.aws import runtime

LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


def connect(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """`$connect`: `?token=` (a user) and/or `?room_name=` (the S1 tutorial)."""
    return runtime.current().handle(event)


def disconnect(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return runtime.current().handle(event)


def default(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """`$default`: every native action (and anything unroutable: an error frame)."""
    return runtime.current().handle(event)


def send_message(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The tutorial's `sendMessage` route."""
    return runtime.current().handle(event)


def get_recent_messages(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The tutorial's `getRecentMessages` route."""
    return runtime.current().handle(event)


def ping(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """`GET /ping` on the HTTP API: `PONG!`, as in the tutorial (no storage)."""
    return {
        "statusCode": 200,
        "headers": {"content-type": "text/plain; charset=utf-8"},
        "body": "PONG!",
    }


def incoming_hook(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """`POST /hooks/{secret}` on the HTTP API: an incoming webhook's post,
    Slack's body, answered as `hubbub serve` answers it (docs/integrations.md)."""
    return runtime.current().http(event)


def command_response(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """`POST /commands/respond/{token}` on the HTTP API: a custom slash
    command's later answer through its response_url."""
    return runtime.current().http(event)


def deliver_hooks(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """On a schedule (`SCHEDULES`): deliver what outgoing webhooks have
    waiting (core.delivery), within the function's time left. A Lambda has
    no background tasks, so a message waits for the next run: up to a
    minute, where `hubbub serve` delivers at once."""
    left = context.get_remaining_time_in_millis() / 1000 if context is not None else 60.0
    return runtime.current().deliver(left)


# routeKey -> handler, as the templates wire them.
HTTP_ROUTES: dict[str, LambdaHandler] = {
    "GET /ping": ping,
    "POST /hooks/{secret}": incoming_hook,
    "POST /commands/respond/{token}": command_response,
}
WEBSOCKET_ROUTES: dict[str, LambdaHandler] = {
    "$connect": connect,
    "$disconnect": disconnect,
    "$default": default,
    "sendMessage": send_message,
    "getRecentMessages": get_recent_messages,
}
# EventBridge schedule -> handler.
SCHEDULES: dict[str, LambdaHandler] = {"rate(1 minute)": deliver_hooks}
