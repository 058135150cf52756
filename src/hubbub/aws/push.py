"""Pushes through the API Gateway Management API (`post_to_connection`).

`PushBus` is the Lambda's Bus: where the self-hosted server publishes an event
to its subscribers, a Lambda looks up the topic's followers in the connections
table and posts the event to each. A channel's messages are pushed in the
channel's turn (`sequencer`), so that they reach every follower in seq order. A
follower that is gone (410 `GoneException`: it closed without a `$disconnect`
reaching us) is removed, and the broadcast carries on to the others; but not
one that connected moments ago, which gets 410 until its `$connect` is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from hubbub.aws.connections import GONE_GRACE, ConnectionTable, Mode
from hubbub.aws.sequencer import Sequencer
from hubbub.core import envelope, events
from hubbub.core.envelope import Envelope
from hubbub.core.ports import BusError, StoreError
from hubbub.session import tutorial

if TYPE_CHECKING:
    from mypy_boto3_apigatewaymanagementapi import ApiGatewayManagementApiClient

log = logging.getLogger("hubbub.aws.push")

PARALLEL_POSTS = 16


class Pusher:
    """Management API clients, one per API endpoint (`https://{domain}/{stage}`)."""

    def __init__(self) -> None:
        self.endpoint: str | None = None
        self._clients: dict[str, ApiGatewayManagementApiClient] = {}
        self._lock = threading.Lock()

    def _client(self) -> ApiGatewayManagementApiClient:
        endpoint = self.endpoint
        if endpoint is None:
            raise RuntimeError("no Management API endpoint: no event was handled yet")
        with self._lock:
            client = self._clients.get(endpoint)
            if client is None:
                session = boto3.session.Session()
                kwargs: dict[str, Any] = {}
                if session.get_credentials() is None:  # only a local emulator takes these
                    kwargs.update(aws_access_key_id="local", aws_secret_access_key="local")
                client = session.client(
                    "apigatewaymanagementapi",
                    endpoint_url=endpoint,
                    region_name=session.region_name or "us-east-1",
                    config=Config(
                        connect_timeout=2,
                        read_timeout=5,
                        retries={"max_attempts": 2, "mode": "standard"},
                        max_pool_connections=PARALLEL_POSTS * 2,
                    ),
                    **kwargs,
                )
                self._clients[endpoint] = client
        return client

    def post(self, connection_id: str, data: bytes) -> bool:
        """Send one frame; False if the connection is gone."""
        client = self._client()
        try:
            client.post_to_connection(ConnectionId=connection_id, Data=data)
            return True
        except client.exceptions.GoneException:
            return False

    def disconnect(self, connection_id: str) -> None:
        client = self._client()
        with contextlib.suppress(client.exceptions.GoneException):
            client.delete_connection(ConnectionId=connection_id)


class PushBus:
    """A Bus for the Lambda handlers: publishing is pushing to the followers."""

    def __init__(self, connections: ConnectionTable, pusher: Pusher) -> None:
        self.connections = connections
        self.pusher = pusher
        # Run for each follower of an event that changes what it follows (an
        # envelope with a `ref`), before the event is pushed: the driver's
        # LambdaGateway._control, which runs Engine.control.
        self.control: Callable[[str, Envelope], Awaitable[None]] | None = None
        # Set by the driver (it knows the hub, which reads stored messages as
        # events); without it, messages are pushed as they come.
        self.sequencer: Sequencer | None = None
        self.gone_grace = GONE_GRACE  # see connections.GONE_GRACE

    async def start(self, deliver: Any, resync: Callable[[], None] | None = None) -> None:
        return None  # a Lambda receives nothing from the bus

    async def close(self) -> None:
        return None

    async def ping(self) -> None:
        return None

    async def subscribe(self, topic: str) -> None:
        return None

    async def unsubscribe(self, topic: str) -> None:
        return None

    async def publish(self, topic: str, data: bytes) -> None:
        envs = envelope.unpack(data)
        channel_id = events.topic_channel(topic)
        if self.sequencer is not None and channel_id is not None and envs[0].seq:
            try:
                pushed = await self.sequencer.ordered(
                    channel_id, envs, lambda run: self.push_events(topic, run)
                )
            except StoreError as exc:
                raise BusError(str(exc)) from exc
            if not pushed:
                raise BusError(f"no turn to push the messages of {topic}")
            return
        await self.push_events(topic, envs)

    async def push_events(self, topic: str, envs: list[Envelope]) -> None:
        """Post `envs` to the topic's followers, each in its form."""
        try:
            followers = await self.connections.followers(topic)
        except StoreError as exc:
            raise BusError(str(exc)) from exc
        if not followers:
            return
        if self.control is not None:
            for env in envs:
                if env.ref:
                    for cid, _ in followers:
                        await self.control(cid, env)
        # Encoded once per kind of follower, not per follower.
        frames: dict[Mode, list[bytes]] = {"native": [e.frame for e in envs]}
        if any(mode == "tutorial" for _, mode in followers):
            frames["tutorial"] = tutorial.pushes(envs)
        await self.push_many([(cid, frames[mode]) for cid, mode in followers])

    async def publish_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        for topic, data in items:
            await self.publish(topic, data)

    async def push_many(self, targets: list[tuple[str, list[bytes]]]) -> None:
        limit = asyncio.Semaphore(PARALLEL_POSTS)
        gone: list[str] = []

        async def one(connection_id: str, payloads: list[bytes]) -> None:
            async with limit:
                for payload in payloads:
                    try:
                        ok = await asyncio.to_thread(self.pusher.post, connection_id, payload)
                    except (ClientError, BotoCoreError) as exc:
                        log.warning("push to %s failed: %s", connection_id, exc)
                        return
                    if not ok:
                        gone.append(connection_id)
                        return

        await asyncio.gather(*(one(cid, p) for cid, p in targets if p))
        for connection_id in gone:
            try:
                if await self.connections.remove_gone(connection_id, self.gone_grace):
                    log.info("connection %s is gone: removed", connection_id)
            except StoreError as exc:
                log.warning("removing gone connection %s failed: %s", connection_id, exc)
