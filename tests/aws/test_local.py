"""End to end through `hubbub aws-local`: real WebSocket clients, a real
emulator process invoking the real Lambda handlers, DynamoDB from moto over
HTTP. The first test is the tutorial's wscat session, unchanged."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import boto3
import httpx
import pytest
import websockets

from aws_support import AwsLocal, start_aws_local
from hubbub.aws.connections import ConnectionTable
from hubbub.core.events import channel_topic
from hubbub.core.hooks import hook_key
from hubbub.core.models import Integration
from hubbub.store.dynamo import DynamoStore, N, S
from receiver import receiving
from support import WAIT, WS, ws_connect


@pytest.fixture(scope="module")
def aws_local(dynamodb: str) -> Iterator[AwsLocal]:
    server = start_aws_local(
        dynamodb,
        *("--allow-guests", "--guest-rooms", "create"),
        # Outgoing webhooks' receivers are the tests' own; their deliveries
        # run every 0.2 s rather than once a minute.
        *("--outbound-allow", "127.0.0.1", "--schedule-seconds", "0.2"),
    )
    yield server
    server.stop()


@contextlib.asynccontextmanager
async def room(server: AwsLocal, name: str, **kwargs: Any) -> AsyncIterator[WS]:
    async with ws_connect(f"{server.ws_url}?room_name={name}", **kwargs) as ws:
        yield ws


async def pushed(ws: WS) -> list[dict[str, str]]:
    frame = await ws.recv()
    assert set(frame) == {"messages"}, frame
    return frame["messages"]  # type: ignore[no-any-return]


@contextlib.asynccontextmanager
async def store_of(server: AwsLocal) -> AsyncIterator[DynamoStore]:
    store = DynamoStore(server.url)
    try:
        yield store
    finally:
        await store.close()


async def test_the_tutorials_wscat_session(aws_local: AwsLocal) -> None:
    async with room(aws_local, "test") as a, room(aws_local, "test") as b:
        await a.send({"action": "sendMessage", "user_name": "ann", "content": "hello"})
        for ws in (a, b):
            assert await pushed(ws) == [{"user_name": "ann", "content": "hello"}]
        await b.send({"action": "sendMessage", "user_name": "ben", "content": "hi ann"})
        for ws in (a, b):
            assert await pushed(ws) == [{"user_name": "ben", "content": "hi ann"}]
        for i in range(10):
            await a.send({"action": "sendMessage", "user_name": "ann", "content": f"m{i}"})
            for ws in (a, b):
                assert await pushed(ws) == [{"user_name": "ann", "content": f"m{i}"}]
        await b.send({"action": "getRecentMessages"})
        assert await pushed(b) == [{"user_name": "ann", "content": f"m{i}"} for i in range(10)]
        await a.send({"action": "getRecentMessages"})
        recent = await pushed(a)
        assert recent[0] == {"user_name": "ann", "content": "m0"}  # oldest first
        await a.conn.send("not json at all")
        err = await a.recv()
        assert (err["type"], err["code"]) == ("error", "invalid_json")


async def test_ping_is_pong(aws_local: AwsLocal) -> None:
    async with httpx.AsyncClient(base_url=aws_local.http_url, timeout=WAIT) as http:
        r = await http.get("/ping")
    assert (r.status_code, r.text) == (200, "PONG!")
    assert r.headers["content-type"].startswith("text/plain")


async def test_an_incoming_hook_posts_through_the_http_api(aws_local: AwsLocal) -> None:
    """Slack's body, POSTed by an HTTP client to the emulated HTTP API,
    reaches the channel's WebSocket connections (a tutorial guest here)."""
    secret = "s3cret-for-aws-local"
    async with store_of(aws_local) as store:
        ci = await store.create_user("ci-poster", "CI", "!")
        channel = await store.create_channel("hooked", "public", "", [ci.id])
        await store.create_integration(
            Integration("h1", "incoming", hook_key(secret), "CI", channel.id, ci.id, ci.id, 1)
        )
    async with (
        room(aws_local, "hooked") as guest,
        httpx.AsyncClient(base_url=aws_local.http_url, timeout=WAIT) as http,
    ):
        r = await http.post(f"/hooks/{secret}", json={"text": "deployed *v2*"})
        assert (r.status_code, r.text) == (200, "ok")
        assert await pushed(guest) == [{"user_name": "ci-poster", "content": "deployed *v2*"}]
        r = await http.post("/hooks/wrong", json={"text": "x"})
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


async def test_an_outgoing_hook_is_delivered_by_the_scheduled_function(
    aws_local: AwsLocal,
) -> None:
    """A tutorial guest's message reaches the hook's receiver when the
    scheduled function next runs, signed, with its delivery's key."""
    with receiving() as receiver:
        async with store_of(aws_local) as store:
            ci = await store.create_user("ci-outgoing", "CI", "!")
            channel = await store.create_channel("watched", "public", "", [ci.id])
            config = {
                "url": receiver.url,
                "triggers": [],
                "format": "form",
                "token": "t",
                "signing_secret": "s",
                "after": 0,
            }
            await store.create_integration(
                Integration(
                    "o1", "outgoing", "outgoing:o1", "CI", channel.id, ci.id, ci.id, 1, config
                )
            )
        async with room(aws_local, "watched") as guest:
            await guest.send({"action": "sendMessage", "user_name": "ann", "content": "hi hook"})
            assert await pushed(guest) == [{"user_name": "ann", "content": "hi hook"}]
            got = await asyncio.to_thread(receiver.next)
    assert (got.form["text"], got.form["user_name"]) == ("hi hook", "ann")
    assert got.headers["idempotency-key"] == "hook-o1-1"
    assert got.headers["x-slack-signature"].startswith("v0=")


async def test_refused_connect_is_the_handlers_status(aws_local: AwsLocal) -> None:
    with pytest.raises(websockets.InvalidStatus) as info:
        async with ws_connect(f"{aws_local.ws_url}?token=forged"):
            pass
    assert info.value.response.status_code == 401


async def test_a_gone_connection_is_removed_during_the_broadcast(aws_local: AwsLocal) -> None:
    async with room(aws_local, "gone") as a, room(aws_local, "gone") as b:
        await a.send({"action": "getRecentMessages"})  # the room exists once this answers
        assert await pushed(a) == []
        async with store_of(aws_local) as store:
            table = ConnectionTable(store)
            channel = await store.get_channel("gone")
            assert channel is not None
            topic = channel_topic(channel.id)
            # A connection API Gateway forgot without a $disconnect reaching us.
            await table.register("Stale0000000=", None, "gone", state="guest")
            await table.follow("Stale0000000=", topic, "tutorial")
            await asyncio.to_thread(  # ...long ago (a 410 just after connecting is no proof)
                store.tables.client.update_item,
                TableName=store.tables.names["connections"],
                Key={"pk": S("conn#Stale0000000="), "sk": S("info")},
                UpdateExpression="SET connected_at = :t",
                ExpressionAttributeValues={":t": N(0)},
            )
            assert len(await table.followers(topic)) == 3

            await a.send({"action": "sendMessage", "user_name": "ann", "content": "anyone?"})
            for ws in (a, b):
                assert await pushed(ws) == [{"user_name": "ann", "content": "anyone?"}]
            # a's frames are handled in order: once this answers, the send is done.
            await a.send({"action": "getRecentMessages"})
            assert await pushed(a) == [{"user_name": "ann", "content": "anyone?"}]
            assert await table.get("Stale0000000=") is None
            assert len(await table.followers(topic)) == 2


async def test_fifty_concurrent_sends_get_fifty_distinct_seqs(aws_local: AwsLocal) -> None:
    async with contextlib.AsyncExitStack() as stack:
        listener = await stack.enter_async_context(room(aws_local, "busy"))
        # The senders sit in another room and post to "busy" by name, so the
        # only pushes are the 50 to the listener. (One room for all: a room
        # each would run into the guests' `channels_per_hour`.)
        senders = [await stack.enter_async_context(room(aws_local, "senders")) for _ in range(50)]
        await listener.send({"action": "getRecentMessages"})
        assert await pushed(listener) == []

        await asyncio.gather(
            *(
                ws.send(
                    {
                        "action": "sendMessage",
                        "room_name": "busy",
                        "user_name": f"u{i}",
                        "content": f"c{i}",
                    }
                )
                for i, ws in enumerate(senders)
            )
        )
        got = [(await pushed(listener))[0]["content"] for _ in range(50)]
        assert sorted(got) == sorted(f"c{i}" for i in range(50))

    async with store_of(aws_local) as store:
        channel = await store.get_channel("busy")
        assert channel is not None
        rows = await store.messages(channel.id, after=0, limit=100)
    assert [m.seq for m in rows] == list(range(1, 51))
    assert sorted(m.text for m in rows) == sorted(f"c{i}" for i in range(50))


async def test_management_api(aws_local: AwsLocal) -> None:
    api = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=aws_local.http_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    with pytest.raises(api.exceptions.GoneException):
        await asyncio.to_thread(api.post_to_connection, ConnectionId="Nobody000000=", Data=b"x")
    async with room(aws_local, "managed") as a:
        await a.send({"action": "getRecentMessages"})
        assert await pushed(a) == []
        async with store_of(aws_local) as store:
            table = ConnectionTable(store)
            channel = await store.get_channel("managed")
            assert channel is not None
            [(cid, mode)] = await table.followers(channel_topic(channel.id))
            assert mode == "tutorial"
            info = await asyncio.to_thread(api.get_connection, ConnectionId=cid)
            assert info["Identity"]["SourceIp"] == "127.0.0.1"
            await asyncio.to_thread(
                api.post_to_connection, ConnectionId=cid, Data=b'{"messages": []}'
            )
            assert await pushed(a) == []
            await asyncio.to_thread(api.delete_connection, ConnectionId=cid)
            with pytest.raises(websockets.ConnectionClosed):
                await a.recv()
            # $disconnect ran: the connection is forgotten (bounded wait for it).
            deadline = time.monotonic() + WAIT
            while await table.get(cid) is not None:
                assert time.monotonic() < deadline, "$disconnect did not forget the connection"
                await asyncio.sleep(0.05)


async def test_frames_over_api_gateways_limit_close_1009(aws_local: AwsLocal) -> None:
    async with room(aws_local, "big", max_size=None) as a:
        await a.conn.send("x" * (100 * 1024))  # over hubbub's 64 KiB: an error frame
        err = await a.recv()
        assert (err["type"], err["code"]) == ("error", "invalid_input")
        await a.conn.send("x" * (129 * 1024))  # over API Gateway's 128 KiB: closed
        with pytest.raises(websockets.ConnectionClosed) as info:
            await a.recv()
        assert info.value.rcvd is not None and info.value.rcvd.code == 1009
