"""`hubbub aws-local`: API Gateway's WebSocket API on this machine, driving the
real Lambda handlers, against DynamoDB served by moto over HTTP.

One port serves:
- WebSocket on any path (`ws://127.0.0.1:PORT/local?room_name=test`): each
  connect, frame and close becomes the event API Gateway would send
  (`apigw.websocket_event`, routed by `$request.body.action`) and is handed to
  the route's handler from `handlers.WEBSOCKET_ROUTES`, on a pool of worker
  threads that stand for warm Lambda containers;
- the Management API the handlers push through: `POST`, `GET`, `DELETE`
  `/@connections/{id}` (410 `GoneException` for unknown ids), which
  `HUBBUB_APIGW_ENDPOINT` points the handlers at;
- `GET /ping`, `POST /hooks/{secret}` (an incoming webhook) and
  `POST /commands/respond/{token}` (a slash command's later answer), through
  their handlers (`handlers.HTTP_ROUTES`) with HTTP API events;
- EventBridge: each scheduled handler (`handlers.SCHEDULES`) on its rate, or
  every `--schedule-seconds`, one run at a time.

Like API Gateway: frames over 128 KiB close the connection (1009), a `$connect`
answering other than 2xx refuses the handshake with that status, `DELETE`
closes the socket and `$disconnect` follows; a push to a connection whose
`$connect` is still running is delivered once it is open. Unlike it: one
connection's frames are handled one after another (API Gateway may run them
concurrently).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
import logging
import os
import re
import socket
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from hubbub.aws import apigw, handlers
from hubbub.aws.handlers import LambdaHandler
from hubbub.serving import serve_announced
from hubbub.store.dynamo import DynamoStore

log = logging.getLogger("hubbub.aws.local")

MAX_FRAME = 128 * 1024  # API Gateway's WebSocket frame limit
# What EventBridge hands a scheduled function (the fields a handler might read).
SCHEDULED_EVENT: dict[str, Any] = {"source": "aws.events", "detail-type": "Scheduled Event"}
CONNECT_WAIT = 30.0  # s: the longest a push waits for a connection's `$connect`


@dataclasses.dataclass
class LocalContext:
    """The bits of a Lambda context object a handler might read."""

    function_name: str
    aws_request_id: str = "local"
    memory_limit_in_mb: int = 512

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@dataclasses.dataclass
class Socket:
    ws: WebSocket
    connected_at: datetime.datetime
    source_ip: str
    user_agent: str
    last_active: datetime.datetime
    lock: asyncio.Lock = dataclasses.field(default_factory=asyncio.Lock)
    # Set once the upgrade completed. A push that comes while `$connect` is
    # still running (another client's message to the room it just joined)
    # waits for it, as API Gateway delivers to a connection once it is open.
    open: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)


def select_route(data: str | bytes) -> str:
    """`$request.body.action`: the frame's `action` if a route has that key."""
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        return "$default"
    action = obj.get("action") if isinstance(obj, dict) else None
    if isinstance(action, str) and action in handlers.WEBSOCKET_ROUTES and action[0] != "$":
        return action
    return "$default"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _gone(connection_id: str) -> Response:
    return JSONResponse(
        {"message": f"connection {connection_id} is gone"},
        status_code=410,
        headers={"x-amzn-ErrorType": "GoneException"},
    )


class LocalApiGateway:
    def __init__(self, *, stage: str = "local", workers: int = 8) -> None:
        self.stage = stage
        self.domain = "127.0.0.1"
        self.sockets: dict[str, Socket] = {}
        self.executor = ThreadPoolExecutor(workers, thread_name_prefix="lambda")
        self.app = Starlette(
            routes=[
                Route("/ping", self.ping, methods=["GET"]),
                Route("/hooks/{secret}", self.http_post, methods=["POST"]),
                Route("/commands/respond/{token}", self.http_post, methods=["POST"]),
                Route("/@connections/{id:path}", self.manage, methods=["GET", "POST", "DELETE"]),
                Route(
                    "/{stage}/@connections/{id:path}",
                    self.manage,
                    methods=["GET", "POST", "DELETE"],
                ),
                WebSocketRoute("/{path:path}", self.websocket),
            ]
        )

    async def invoke(self, name: str, handler: LambdaHandler, event: apigw.Event) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, handler, event, LocalContext(name))

    async def run_schedules(self, every: float | None) -> None:
        """Invoke each scheduled handler on its rate (or `every` seconds),
        a run at a time, as EventBridge would; until cancelled."""

        async def repeat(expression: str, handler: LambdaHandler) -> None:
            period = every if every is not None else rate_seconds(expression)
            while True:
                await asyncio.sleep(period)  # a clock, as EventBridge's
                try:
                    await self.invoke(handler.__name__, handler, SCHEDULED_EVENT)
                except Exception:  # as a failed invocation: the next one runs
                    log.exception("scheduled %s failed", handler.__name__)

        await asyncio.gather(*(repeat(e, h) for e, h in handlers.SCHEDULES.items()))

    # --- HTTP -----------------------------------------------------------------------------

    async def ping(self, request: Request) -> Response:
        event = apigw.http_event("GET", "/ping", domain=self.domain, stage=self.stage)
        res = await self.invoke("ping", handlers.ping, event)
        return Response(
            res.get("body", ""), status_code=res.get("statusCode", 200), headers=res.get("headers")
        )

    async def http_post(self, request: Request) -> Response:
        """`POST /hooks/{secret}` and `/commands/respond/{token}`."""
        (param,) = request.path_params
        route = request.url.path.rsplit("/", 1)[0] + "/{" + param + "}"
        event = apigw.http_event(
            "POST",
            request.url.path,
            domain=self.domain,
            stage=self.stage,
            route=route,
            params=dict(request.path_params),
            headers=dict(request.headers),
            body=await request.body(),
        )
        key = f"POST {route}"
        handler = handlers.HTTP_ROUTES[key]
        res = await self.invoke(handler.__name__, handler, event)
        return Response(
            res.get("body", ""), status_code=res.get("statusCode", 200), headers=res.get("headers")
        )

    async def manage(self, request: Request) -> Response:
        connection_id = urllib.parse.unquote(request.path_params["id"])
        sock = self.sockets.get(connection_id)
        if sock is None:
            return _gone(connection_id)
        if request.method == "GET":
            return JSONResponse(
                {
                    "connectedAt": sock.connected_at.isoformat(),
                    "identity": {"sourceIp": sock.source_ip, "userAgent": sock.user_agent},
                    "lastActiveAt": sock.last_active.isoformat(),
                }
            )
        if request.method == "DELETE":
            with contextlib.suppress(Exception):
                await sock.ws.close(1000)
            return Response(status_code=204)
        data = await request.body()
        if len(data) > MAX_FRAME:
            return JSONResponse({"message": "payload too large"}, status_code=413)
        try:
            await asyncio.wait_for(sock.open.wait(), CONNECT_WAIT)
        except TimeoutError:
            return _gone(connection_id)
        if self.sockets.get(connection_id) is not sock:  # `$connect` refused it
            return _gone(connection_id)
        try:
            async with sock.lock:
                try:
                    await sock.ws.send_text(data.decode("utf-8"))
                except UnicodeDecodeError:
                    await sock.ws.send_bytes(data)
        except Exception:  # closing underneath us: to the caller it is gone
            return _gone(connection_id)
        return Response(status_code=200)

    # --- WebSocket --------------------------------------------------------------------------

    def _event(self, route: str, connection_id: str, **kwargs: Any) -> apigw.Event:
        return apigw.websocket_event(
            route, connection_id, domain=self.domain, stage=self.stage, **kwargs
        )

    async def websocket(self, ws: WebSocket) -> None:
        connection_id = apigw.new_connection_id()
        client = ws.client
        source_ip = client.host if client else "127.0.0.1"
        headers = dict(ws.headers)
        connect = self._event(
            "$connect",
            connection_id,
            params=dict(ws.query_params),
            headers=headers,
            source_ip=source_ip,
        )
        now = _now()
        self.sockets[connection_id] = sock = Socket(
            ws, now, source_ip, headers.get("user-agent", ""), now
        )
        res = await self.invoke("$connect", handlers.connect, connect)
        status = int(res.get("statusCode", 500)) if isinstance(res, dict) else 500
        if not 200 <= status < 300:
            self.sockets.pop(connection_id, None)
            sock.open.set()  # a waiting push finds it gone
            await ws.send_denial_response(
                PlainTextResponse(str(res.get("body", "")) + "\n", status_code=status)
            )
            return
        connected_at = int(now.timestamp() * 1000)
        try:
            await ws.accept()
            sock.open.set()
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                data: str | bytes = message.get("text") or message.get("bytes") or ""
                sock.last_active = _now()
                route = select_route(data)
                event = self._event(
                    route, connection_id, body=data, source_ip=source_ip, connected_at=connected_at
                )
                await self.invoke(route, handlers.WEBSOCKET_ROUTES[route], event)
        except WebSocketDisconnect:
            pass
        finally:
            self.sockets.pop(connection_id, None)
            sock.open.set()  # pushes still waiting find it gone
            event = self._event("$disconnect", connection_id, connected_at=connected_at)
            await self.invoke("$disconnect", handlers.disconnect, event)


@dataclasses.dataclass
class LocalSettings:
    host: str = "127.0.0.1"
    port: int = 0
    stage: str = "local"
    dynamodb_endpoint: str | None = None  # None: start moto here
    prefix: str = "hubbub-"
    allow_guests: bool = False
    guest_rooms: str = "existing"
    limits: tuple[str, ...] = ()
    workers: int = 8
    log_level: str = "warning"
    blob_url: str | None = None  # an s3:// URL: files (HUBBUB_BLOB_URL); None: no files
    outbound_allow: tuple[str, ...] = ()  # HUBBUB_OUTBOUND_ALLOW
    schedule_seconds: float | None = None  # None: each schedule's own rate


def rate_seconds(expression: str) -> float:
    """EventBridge's `rate(N unit)` in seconds."""
    m = re.fullmatch(r"rate\((\d+) (minute|hour|day)s?\)", expression)
    if m is None:
        raise ValueError(f"not a rate expression: {expression!r}")
    return int(m[1]) * {"minute": 60, "hour": 3600, "day": 86400}[m[2]]


@contextlib.contextmanager
def _dynamodb(endpoint: str | None) -> Iterator[str]:
    if endpoint is not None:
        yield endpoint
        return
    from hubbub.aws.localdb import LocalDynamoDB

    with LocalDynamoDB() as db:
        yield db.endpoint


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    return sock


def run(settings: LocalSettings) -> None:
    with _dynamodb(settings.dynamodb_endpoint) as endpoint:
        sock = _bind(settings.host, settings.port)
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        base = f"{shown}:{port}"
        url = (
            f"dynamodb://?endpoint={urllib.parse.quote(endpoint, safe=':/')}"
            f"&region=us-east-1&prefix={urllib.parse.quote(settings.prefix)}"
        )
        # The handlers read their configuration from the environment, as on AWS.
        os.environ["HUBBUB_DATABASE_URL"] = url
        os.environ[apigw.ENDPOINT_ENV] = f"http://{base}"
        os.environ.setdefault("HUBBUB_PUBLIC_URL", f"http://{base}")  # response_url
        os.environ["HUBBUB_ALLOW_GUESTS"] = "1" if settings.allow_guests else "0"
        os.environ["HUBBUB_GUEST_ROOMS"] = settings.guest_rooms
        if settings.limits:
            os.environ["HUBBUB_LIMIT"] = ",".join(settings.limits)
        if settings.outbound_allow:
            os.environ["HUBBUB_OUTBOUND_ALLOW"] = ",".join(settings.outbound_allow)
        if settings.blob_url:
            os.environ["HUBBUB_BLOB_URL"] = settings.blob_url
        else:  # only what was asked for: no files unless --blob-url
            os.environ.pop("HUBBUB_BLOB_URL", None)
        os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

        async def create_tables() -> None:  # on AWS, the template's job
            store = DynamoStore(url + "&create=1")
            try:
                await store.open()
            finally:
                await store.close()

        asyncio.run(create_tables())
        gateway = LocalApiGateway(stage=settings.stage, workers=settings.workers)
        gateway.domain = base
        config = uvicorn.Config(
            gateway.app,
            ws="websockets-sansio",
            ws_max_size=MAX_FRAME,
            ws_per_message_deflate=False,
            lifespan="off",
            log_level=settings.log_level,
            timeout_graceful_shutdown=2,
        )
        server = uvicorn.Server(config)

        def announce() -> None:
            print(f"hubbub aws-local listening on ws://{base}/{settings.stage}", flush=True)
            print(f"  GET http://{base}/ping", flush=True)
            print(f"  Management API: http://{base}/@connections/{{id}}", flush=True)
            print(f"  dynamodb: {endpoint} (tables {settings.prefix}*)", flush=True)
            if settings.blob_url:
                print(f"  files: {settings.blob_url}", flush=True)

        async def serve() -> None:
            schedules = asyncio.create_task(gateway.run_schedules(settings.schedule_seconds))
            try:
                await serve_announced(server, sock, announce)
            finally:
                schedules.cancel()
                await asyncio.gather(schedules, return_exceptions=True)

        try:
            asyncio.run(serve())
        finally:
            gateway.executor.shutdown(wait=False, cancel_futures=True)
