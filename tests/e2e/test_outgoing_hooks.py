"""Outgoing webhooks end to end (issue #17): a channel's messages reach a
real HTTP server the test starts, as Slack's signed outgoing-webhook
payload with an Idempotency-Key, in order; its answer is posted back as the
hook's account. A receiver that is down gets every message once it is back,
exactly once and in order, also across a restart of hubbub; one that keeps
failing gets a dead letter and the next message; a slow one holds up
neither another hook nor the chat. Bad input gets its documented error."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from admin_support import (
    LIMITS,
    PASSWORD,
    api_error,
    create_channel,
    history,
    post,
    register,
    unique,
)
from receiver import Receiver, Reply, Request, receiving
from support import WAIT, Server, auth, online, start_server, subscribe

# Retries in tens of milliseconds, doubling, so a test sees several.
FAST = ("--limit", "hook_retry_seconds=0.05")


def serve(data_dir: Path, *extra: str) -> Server:
    return start_server(data_dir, "--limit", LIMITS, "--outbound-allow", "127.0.0.1", *FAST, *extra)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = serve(tmp_path_factory.mktemp("outgoing"), "--limit", "hook_attempts=3")
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as r:
        yield r


async def make_hook(
    http: httpx.AsyncClient, token: str, channel: str, url: str, **extra: Any
) -> dict[str, Any]:
    body = {"channel": channel, "name": "bot", "url": url, **extra}
    r = await http.post("/api/outgoing-hooks", json=body, headers=auth(token))
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def hooked(
    http: httpx.AsyncClient, url: str, **extra: Any
) -> tuple[str, str, dict[str, Any]]:
    """A new user's token, a channel of theirs and a hook on it to `url`."""
    token = await register(http, unique("ann"))
    channel = unique("room")
    await create_channel(http, token, channel)
    return token, channel, await make_hook(http, token, channel, url, **extra)


async def listed(http: httpx.AsyncClient, token: str, hook_id: str) -> dict[str, Any]:
    r = await http.get("/api/outgoing-hooks", headers=auth(token))
    assert r.status_code == 200, r.text
    (found,) = [h for h in r.json() if h["id"] == hook_id]
    return found  # type: ignore[no-any-return]


async def until_listed(
    http: httpx.AsyncClient, token: str, hook_id: str, ok: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The hook's listing once `ok` holds for its delivery state (bounded)."""
    async with asyncio.timeout(WAIT):
        while True:
            found = await listed(http, token, hook_id)
            if ok(found["delivery"]):
                return found
            await asyncio.sleep(0.05)  # a server-side retry timer: nothing to await here


async def next_request(receiver: Receiver) -> Request:
    return await asyncio.to_thread(receiver.next)


def verify(hook: dict[str, Any], got: Request) -> None:
    """The request is signed as Slack signs: the receiver's check."""
    stamp = got.headers["x-slack-request-timestamp"]
    base = b"v0:" + stamp.encode() + b":" + got.body
    mac = hmac.new(hook["signing_secret"].encode(), base, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(got.headers["x-slack-signature"], f"v0={mac}")


def free_port() -> int:
    """A port nothing listens on (yet): a receiver that is down."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_message_is_delivered_signed_and_the_answer_posted_as_the_hook(
    server: Server, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    ann_name = unique("ann")
    ann, bob = await register(http, ann_name), await register(http, unique("bob"))
    channel = unique("ops")
    await create_channel(http, ann, channel)
    await http.post(f"/api/channels/{channel}/join", headers=auth(bob))
    hook = await make_hook(http, ann, channel, f"{receiver.url}/out")
    assert hook["poster"] == ann_name and hook["delivery"]["delivered"] == 0
    receiver.answer = lambda req: Reply(
        body=json.dumps({"text": f"pong to {req.form['text']}", "username": "Pager"}).encode()
    )

    async with online(server, bob) as ws:
        await subscribe(ws, channel)
        r = await post(http, ann, channel, "ping *now*")
        assert r.status_code == 201, r.text
        seq = r.json()["seq"]
        got = await next_request(receiver)
        assert got.path == "/out"
        verify(hook, got)
        assert got.headers["content-type"] == "application/x-www-form-urlencoded"
        assert got.headers["idempotency-key"] == f"hook-{hook['id']}-{seq}"
        form = got.form
        assert form["token"] == hook["token"]
        assert form["service_id"] == hook["id"]
        assert form["channel_name"] == channel and form["user_name"] == ann_name
        assert form["text"] == "ping *now*" and form["trigger_word"] == ""
        assert form["seq"] == str(seq)
        # The answer, live on bob's socket, from ann's account under the name asked.
        mine = await ws.expect("message", channel=channel, text="pong to ping *now*")
        assert mine["author"]["username"] == ann_name
        assert mine["shown_name"] == "Pager"

    # The hook's own post is not delivered back to it: the next request is
    # for the next message.
    r = await post(http, bob, channel, "second")
    got = await next_request(receiver)
    assert got.form["text"] == "second" and got.form["seq"] == str(r.json()["seq"])
    found = await until_listed(http, ann, hook["id"], lambda d: d["delivered"] == 2)
    assert found["delivery"]["last_error"] == "" and found["delivery"]["dead"] == 0
    texts = [t for _, _, t in await history(http, ann, channel)]
    assert texts == ["ping *now*", "pong to ping *now*", "second", "pong to second"]


async def test_trigger_words_pick_the_messages_and_json_is_the_other_format(
    http: httpx.AsyncClient, receiver: Receiver
) -> None:
    ann, channel, hook = await hooked(
        http, receiver.url, triggers=["Deploy", "rollback"], format="json"
    )
    assert hook["triggers"] == ["deploy", "rollback"] and hook["format"] == "json"
    for text in ("hello", "not deploy", "deploy prod", "ROLLBACK now"):
        assert (await post(http, ann, channel, text)).status_code == 201
    first, second = await next_request(receiver), await next_request(receiver)
    verify(hook, first)
    assert first.headers["content-type"] == "application/json"
    one, two = json.loads(first.body), json.loads(second.body)
    assert (one["text"], one["trigger_word"]) == ("deploy prod", "deploy")
    assert (two["text"], two["trigger_word"]) == ("ROLLBACK now", "rollback")
    found = await until_listed(http, ann, hook["id"], lambda d: d["delivered"] == 2)
    assert receiver.requests.empty()  # "hello" and "not deploy" were passed over
    assert found["delivery"]["cursor"] == int(two["seq"])


async def test_a_receiver_that_keeps_failing_gets_a_dead_letter_and_then_the_next_message(
    http: httpx.AsyncClient, receiver: Receiver
) -> None:
    ann, channel, hook = await hooked(http, receiver.url)
    receiver.answer = lambda req: Reply(500) if req.form["text"] == "doomed" else Reply()
    doomed = (await post(http, ann, channel, "doomed")).json()["seq"]
    await post(http, ann, channel, "fine")
    keys = [(await next_request(receiver)).headers["idempotency-key"] for _ in range(4)]
    # The server's hook_attempts=3: three tries at the first, then the next.
    assert keys[:3] == [f"hook-{hook['id']}-{doomed}"] * 3
    assert keys[3] == f"hook-{hook['id']}-{doomed + 1}"
    found = await until_listed(http, ann, hook["id"], lambda d: d["delivered"] == 1)
    delivery = found["delivery"]
    assert delivery["dead"] == 1
    (letter,) = delivery["dead_letters"]
    assert letter["seq"] == doomed and letter["attempts"] == 3
    assert letter["error"] == "its server answered 500"


async def test_an_answer_that_is_junk_is_delivered_and_noted_but_nothing_posted(
    http: httpx.AsyncClient, receiver: Receiver
) -> None:
    ann, channel, hook = await hooked(http, receiver.url)
    receiver.answer = lambda req: Reply(body=b"{not json")
    await post(http, ann, channel, "hi")
    await next_request(receiver)
    found = await until_listed(http, ann, hook["id"], lambda d: d["delivered"] == 1)
    assert found["delivery"]["last_error"] == "its answer is JSON that does not parse"
    assert [t for _, _, t in await history(http, ann, channel)] == ["hi"]


async def test_a_redirect_is_not_followed_but_retried_as_a_failure(
    http: httpx.AsyncClient, receiver: Receiver
) -> None:
    ann, channel, hook = await hooked(http, receiver.url)
    receiver.answer = lambda req: Reply(302, headers={"Location": "http://10.0.0.1/"})
    await post(http, ann, channel, "hi")
    found = await until_listed(http, ann, hook["id"], lambda d: d["attempts"] >= 1)
    assert "redirect" in found["delivery"]["last_error"]


async def test_a_slow_receiver_holds_up_neither_another_hook_nor_the_chat(
    server: Server, http: httpx.AsyncClient
) -> None:
    ann = await register(http, unique("ann"))
    channel = unique("slow")
    await create_channel(http, ann, channel)
    with receiving() as slow, receiving() as fast:
        slow.answer = lambda req: Reply(delay=3.0)
        await make_hook(http, ann, channel, slow.url)
        await make_hook(http, ann, channel, fast.url)
        async with online(server, ann) as ws:
            await subscribe(ws, channel)
            first = await ws.request(
                {"action": "send", "channel": channel, "text": "one", "client_id": "a"}
            )
            assert first["type"] == "ack"
            await next_request(slow)  # now it is stuck answering
            assert (await next_request(fast)).form["text"] == "one"
            # The chat goes on while the slow one still has not answered.
            second = await ws.request(
                {"action": "send", "channel": channel, "text": "two", "client_id": "b"}
            )
            assert second["type"] == "ack"
            assert (await next_request(fast)).form["text"] == "two"
            assert slow.answered == 0


async def test_bad_input_gets_its_documented_error_and_makes_nothing(
    http: httpx.AsyncClient, receiver: Receiver
) -> None:
    ann, bob = await register(http, unique("ann")), await register(http, unique("bob"))
    channel = unique("bad")
    await create_channel(http, ann, channel)

    async def refused(token: str, status: int, code: str, **body: Any) -> dict[str, Any]:
        full = {"channel": channel, "name": "x", "url": receiver.url, **body}
        r = await http.post("/api/outgoing-hooks", json=full, headers=auth(token))
        return api_error(r, status, code)

    # A private address the operator has not allowed (only 127.0.0.1 is).
    assert (await refused(ann, 400, "invalid_input", url="http://10.1.2.3/x"))["field"] == "url"
    assert (await refused(ann, 400, "invalid_input", url="ftp://127.0.0.1/x"))["field"] == "url"
    bad = await refused(ann, 400, "invalid_input", triggers=["two words"])
    assert bad["field"] == "triggers"
    await refused(ann, 400, "invalid_input", format="xml")
    await refused(bob, 403, "not_a_member")
    r = await http.post(
        "/api/outgoing-hooks",
        json={"channel": channel, "name": "x", "url": receiver.url},
        headers={"Content-Type": "application/json"},
    )
    api_error(r, 401, "not_authenticated")
    r = await http.get("/api/outgoing-hooks", headers=auth(ann))
    assert r.json() == []
    r = await http.delete("/api/outgoing-hooks/nope", headers=auth(ann))
    api_error(r, 404, "not_found")


async def test_deleting_a_hook_stops_its_deliveries_and_only_its_maker_or_an_admin_may(
    http: httpx.AsyncClient, receiver: Receiver
) -> None:
    ann, bob = await register(http, unique("ann")), await register(http, unique("bob"))
    channel = unique("gone")
    await create_channel(http, ann, channel)
    hook = await make_hook(http, ann, channel, receiver.url)
    r = await http.delete(f"/api/outgoing-hooks/{hook['id']}", headers=auth(bob))
    api_error(r, 403, "forbidden")
    r = await http.delete(f"/api/outgoing-hooks/{hook['id']}", headers=auth(ann))
    assert r.status_code == 204
    # Another hook in the same channel, made after: it alone gets the message.
    with receiving() as other:
        await make_hook(http, ann, channel, other.url)
        await post(http, ann, channel, "after")
        assert (await next_request(other)).form["text"] == "after"
    assert receiver.requests.empty()


async def test_a_receiver_down_for_a_while_gets_every_message_once_in_order_across_a_restart(
    tmp_path: Path,
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/in"
    data = tmp_path / "data"
    server = serve(data)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as http:
            ann = await register(http, "ann")
            await create_channel(http, ann, "builds")
            hook = await make_hook(http, ann, "builds", url)
            sent = [(await post(http, ann, "builds", f"m{i}")).json()["seq"] for i in range(5)]
            # Down: it has failed at the first message a few times.
            await until_listed(http, ann, hook["id"], lambda d: d["attempts"] >= 2)
            keys: list[str] = []
            with receiving(port) as up:
                for _ in sent:
                    got = await next_request(up)
                    verify(hook, got)
                    keys.append(got.headers["idempotency-key"])
                    assert got.form["text"] == f"m{len(keys) - 1}"
                await until_listed(http, ann, hook["id"], lambda d: d["delivered"] == 5)
            # Down again; three more wait, and hubbub restarts meanwhile.
            sent += [(await post(http, ann, "builds", f"m{i}")).json()["seq"] for i in (5, 6, 7)]
            await until_listed(http, ann, hook["id"], lambda d: d["attempts"] >= 1)
        server.stop()
        with receiving(port) as up:
            server = serve(data)
            for _ in range(3):
                got = await next_request(up)
                keys.append(got.headers["idempotency-key"])
                assert got.form["text"] == f"m{len(keys) - 1}"
            async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as http:
                r = await http.post(
                    "/api/auth/login", json={"username": "ann", "password": PASSWORD}
                )
                ann = r.json()["token"]
                await until_listed(http, ann, hook["id"], lambda d: d["delivered"] == 8)
            assert up.requests.empty()  # nothing twice
        assert keys == [f"hook-{hook['id']}-{s}" for s in sent]
    finally:
        server.stop()
