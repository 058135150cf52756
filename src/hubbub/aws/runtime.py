"""A warm Lambda container: one event loop, one Hub on the DynamoDB store with
the push bus, kept between invocations (Lambda reuses the process).

Configuration is the environment, as for `hubbub serve`:
`HUBBUB_DATABASE_URL` (a `dynamodb://` URL), `HUBBUB_ALLOW_GUESTS=1`,
`HUBBUB_GUEST_ROOMS=existing|create` (default `existing`),
`HUBBUB_LIMIT=name=value,...`, `HUBBUB_JWT_SECRET` (else the secret is
generated once and kept in the store, as on a server),
`HUBBUB_BLOB_URL` (an `s3://bucket/prefix` URL: files, uploaded through
presigned forms; without it file actions answer `unsupported`), and
`HUBBUB_APIGW_ENDPOINT` to override the Management API URL, `HUBBUB_PUBLIC_URL`
(the HTTP API's URL, for custom commands' response_url) and
`HUBBUB_OUTBOUND_ALLOW` (networks custom commands may call although private).

A Lambda process handles one invocation at a time; `hubbub aws-local` runs
handlers on several threads, so a runtime is per thread: each thread is one
"container".
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import orjson

from hubbub.aws import apigw
from hubbub.aws.connections import ConnectionTable
from hubbub.aws.driver import LambdaGateway, Response
from hubbub.aws.presence import TableDirectory
from hubbub.aws.push import PushBus, Pusher
from hubbub.aws.sequencer import Sequencer
from hubbub.blobs import open_blobs
from hubbub.config import parse_limits
from hubbub.core import outgoing
from hubbub.core.hub import Hub, unavailable
from hubbub.core.ports import StoreError
from hubbub.core.presence import EachConnection
from hubbub.outbound import HttpOutbound, parse_allow
from hubbub.protocol.errors import ChatError, ErrorCode
from hubbub.protocol.limits import GUEST_ROOMS, GuestRooms, Limits
from hubbub.store.dynamo import DynamoStore

T = TypeVar("T")

DEFAULT_URL = "dynamodb://?prefix=hubbub-"
RESPOND_ROUTE = "POST /commands/respond/{token}"


@dataclasses.dataclass(frozen=True)
class LambdaSettings:
    database_url: str = DEFAULT_URL
    allow_guests: bool = False
    guest_rooms: GuestRooms = "existing"
    limits: Limits = dataclasses.field(default_factory=Limits)
    jwt_secret: str | None = None
    blob_url: str | None = None
    # Where the HTTP API is reached (a custom command's response_url), and
    # the networks outgoing requests may reach although not public.
    public_url: str = ""  # unset: custom commands get no response_url
    outbound_allow: tuple[str, ...] = ()

    @classmethod
    def from_env(cls) -> LambdaSettings:
        env = os.environ
        url = env.get("HUBBUB_DATABASE_URL") or DEFAULT_URL
        if not url.startswith("dynamodb://"):
            raise ValueError("HUBBUB_DATABASE_URL must be a dynamodb:// URL on Lambda")
        blob_url = env.get("HUBBUB_BLOB_URL") or None
        if blob_url is not None and not blob_url.startswith("s3://"):
            # A Lambda's disk is its own and short-lived: files live in S3.
            raise ValueError("HUBBUB_BLOB_URL must be an s3:// URL on Lambda")
        rooms = env.get("HUBBUB_GUEST_ROOMS") or "existing"
        if rooms not in GUEST_ROOMS:
            raise ValueError(f"HUBBUB_GUEST_ROOMS must be one of {', '.join(GUEST_ROOMS)}")
        return cls(
            database_url=url,
            allow_guests=env.get("HUBBUB_ALLOW_GUESTS", "").lower() in ("1", "true", "yes"),
            guest_rooms=rooms,  # checked above
            limits=parse_limits([env["HUBBUB_LIMIT"]] if env.get("HUBBUB_LIMIT") else []),
            jwt_secret=env.get("HUBBUB_JWT_SECRET") or None,
            blob_url=blob_url,
            public_url=env.get("HUBBUB_PUBLIC_URL", ""),
            outbound_allow=tuple(
                str(n) for n in parse_allow([env.get("HUBBUB_OUTBOUND_ALLOW", "")])
            ),
        )


class Runtime:
    def __init__(self, settings: LambdaSettings) -> None:
        self.settings = settings
        self.loop = asyncio.new_event_loop()
        self.store = DynamoStore(settings.database_url)
        self.connections = ConnectionTable(self.store)
        self.pusher = Pusher()
        self.bus = PushBus(self.connections, self.pusher)
        self.hub = Hub(
            self.store,
            self.bus,
            settings.limits,
            allow_guests=settings.allow_guests,
            guest_rooms=settings.guest_rooms,
            directory=TableDirectory(self.connections),
            presence=EachConnection(),
            blobs=open_blobs(settings.blob_url) if settings.blob_url else None,
            outbound=HttpOutbound(parse_allow(settings.outbound_allow)),
            public_url=settings.public_url,
        )
        self.bus.sequencer = Sequencer(self.store)
        self.gateway = LambdaGateway(self.hub, self.connections, self.bus)
        self._started = False

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    async def _start(self) -> None:
        if not self._started:
            await self.hub.start()
            if self.settings.jwt_secret:
                self.hub.secret = self.settings.jwt_secret
            self._started = True

    def handle(self, event: apigw.Event) -> dict[str, Any]:
        """One WebSocket event: `$connect`, `$disconnect` or a frame."""
        return self.run(self._handle(event)).to_lambda()

    async def _handle(self, event: apigw.Event) -> Response:
        self.pusher.endpoint = apigw.management_endpoint(event)
        await self._start()
        conn = apigw.connection_id(event)
        kind = event["requestContext"].get("eventType")
        if kind == "CONNECT":
            return await self.gateway.connect(conn, apigw.query(event))
        if kind == "DISCONNECT":
            return await self.gateway.disconnect(conn)
        return await self.gateway.message(conn, apigw.body(event))

    def http(self, event: apigw.Event) -> dict[str, Any]:
        """A POST on the HTTP API, answered as `hubbub serve` answers the same
        path: `/hooks/{secret}` (an incoming webhook, core.hooks) and
        `/commands/respond/{token}` (a custom command's later answer); what
        they post is pushed to the WebSocket API's connections."""
        return self.run(self._http(event))

    async def _http(self, event: apigw.Event) -> dict[str, Any]:
        self.pusher.endpoint = apigw.management_endpoint(event)
        try:
            await self._start()
            data = apigw.body(event)
            if len(data) > self.settings.limits.max_body_bytes:
                raise ChatError(
                    ErrorCode.body_too_large,
                    f"the body is over {self.settings.limits.max_body_bytes} bytes",
                )
            content_type = apigw.header(event, "content-type") or ""
            if event.get("routeKey") == RESPOND_ROUTE:
                token = apigw.path_parameter(event, "token")
                await self.hub.custom_commands.respond(token, data, content_type)
            else:
                await self.hub.hooks.post(
                    apigw.path_parameter(event, "secret"),
                    data,
                    content_type,
                    idempotency_key=apigw.header(event, "idempotency-key"),
                )
        except (ChatError, StoreError) as exc:
            err = exc if isinstance(exc, ChatError) else unavailable(exc)
            return {
                "statusCode": err.code.status,
                "headers": {"content-type": "application/json", **err.http_headers()},
                "body": orjson.dumps({"error": err.body()}).decode(),
            }
        return {
            "statusCode": 200,
            "headers": {"content-type": "text/plain; charset=utf-8"},
            "body": "ok",
        }

    def deliver(self, seconds: float) -> dict[str, Any]:
        """Deliver outgoing webhooks for about `seconds` less a margin for
        the answer (each receiver may take `outgoing.TIMEOUT`); what their
        answers post is pushed to the WebSocket API's connections."""
        self.pusher.endpoint = os.environ.get(apigw.ENDPOINT_ENV, "")
        budget = max(0.0, seconds - outgoing.TIMEOUT - 2.0)

        async def sweep() -> None:
            await self._start()
            await self.hub.deliveries.sweep(budget)

        self.run(sweep())
        return {"ok": True}

    def close(self) -> None:
        if self._started:
            self.run(self.hub.stop())
        self.loop.close()


_local = threading.local()


def current() -> Runtime:
    """This container's runtime, made on first use from the environment."""
    runtime: Runtime | None = getattr(_local, "runtime", None)
    if runtime is None:
        runtime = _local.runtime = Runtime(LambdaSettings.from_env())
    return runtime


def reset() -> None:
    """Forget this thread's runtime (tests, or a changed environment)."""
    runtime: Runtime | None = getattr(_local, "runtime", None)
    _local.runtime = None
    if runtime is not None:
        runtime.close()
