"""Workspace administration across a cluster: two `hubbub serve` nodes on one
PostgreSQL and one Redis (a private one: these tests' channel ids must not
meet another test's). What an admin does on node A holds on node B within
a second: a deactivated account's connections there close (4011), a revoked
session's token is refused there and its connections close (4010), a
renamed channel keeps its history and its subscribers there, an archived
one takes no sends there, and a demoted admin is refused there at once; an
incoming webhook made on A posts through B, and an outgoing one delivers
what is sent on either node once, in order (one node at a time holds its
outbox's lease)."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from admin_support import (
    LIMITS,
    PROMPT,
    api_error,
    closed_with,
    create_channel,
    history,
    login,
    post,
    register,
    unique,
)
from receiver import receiving
from services import PrivateRedis, drop_database, fresh_postgres_database
from support import WAIT, Server, auth, online, send, start_server, subscribe, ws_connect

# "Within a second": what a node may trust a cached session for is 1 s
# (core/accounts.py SESSION_CACHE); a close travels by Redis, at once.
WITHIN = 1.0


@dataclasses.dataclass
class Cluster:
    a: Server
    b: Server
    owner: str  # the owner's token (registered on A)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    redis = PrivateRedis()  # skips (or fails under CI) without Redis
    pg = asyncio.run(fresh_postgres_database())  # ... and without PostgreSQL
    redis.start()
    nodes: list[Server] = []
    try:
        args = (
            *("--database-url", pg, "--bus-url", redis.url, "--limit", LIMITS),
            *("--outbound-allow", "127.0.0.1"),  # the tests' receivers
        )
        root = tmp_path_factory.mktemp("admin-cluster")
        nodes += [start_server(root / n, *args) for n in ("a", "b")]
        with httpx.Client(base_url=nodes[0].url, timeout=WAIT) as http:
            r = http.post(
                "/api/auth/register", json={"username": "boss", "password": "correct horse"}
            )
            assert r.status_code == 201 and r.json()["user"]["role"] == "owner", r.text
            owner = r.json()["token"]
        yield Cluster(nodes[0], nodes[1], owner)
    finally:
        for node in nodes:
            node.stop()
        redis.kill()
        asyncio.run(drop_database(pg))


@pytest.fixture
async def on_a(cluster: Cluster) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=cluster.a.url, timeout=WAIT) as client:
        yield client


@pytest.fixture
async def on_b(cluster: Cluster) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=cluster.b.url, timeout=WAIT) as client:
        yield client


async def refused_within(
    http: httpx.AsyncClient, token: str, since: float, bound: float = PROMPT
) -> tuple[float, httpx.Response]:
    """Poll GET /api/me with `token` until it is refused (bounded by `bound`
    seconds after `since`); how long after `since` it was, and the answer."""
    while True:
        r = await http.get("/api/me", headers=auth(token))
        took = time.monotonic() - since
        if r.status_code != 200:
            return took, r
        assert took < bound, f"still accepted {took:.2f} s later"
        await asyncio.sleep(0.02)  # polling another node's REST, bounded above


async def test_deactivated_on_a_is_disconnected_on_b_within_a_second(
    cluster: Cluster, on_a: httpx.AsyncClient, on_b: httpx.AsyncClient
) -> None:
    victim = unique("victim")
    token = await register(on_b, victim)
    seq = (await post(on_b, token, "general", "said on b", unique("b"))).json()["seq"]
    async with online(cluster.b, token) as ws_b, online(cluster.a, token) as ws_a:
        assert (await on_b.get("/api/me", headers=auth(token))).status_code == 200  # cached on B
        r = await on_a.put(
            f"/api/users/{victim}/active", json={"active": False}, headers=auth(cluster.owner)
        )
        assert r.status_code == 200 and r.json()["deactivated"] is True, r.text
        answered = time.monotonic()
        code, _ = await closed_with(ws_b, PROMPT)
        took = time.monotonic() - answered
        assert code == 4011
        assert took < WITHIN, f"closed on B {took:.2f} s after the answer on A"
        assert (await closed_with(ws_a, PROMPT))[0] == 4011
    took, r = await refused_within(on_b, token, answered)
    assert took < WITHIN, f"B accepted the token {took:.2f} s after the answer on A"
    api_error(r, 401, "account_deactivated")
    r = await on_b.post("/api/auth/login", json={"username": victim, "password": "correct horse"})
    api_error(r, 401, "account_deactivated")
    assert (seq, victim, "said on b") in await history(on_b, cluster.owner, "general")


async def test_a_session_revoked_on_a_is_refused_on_b_within_a_second(
    cluster: Cluster, on_a: httpx.AsyncClient, on_b: httpx.AsyncClient
) -> None:
    name = unique("ann")
    laptop = await register(on_a, name)
    phone = await login(on_b, name)
    r = await on_b.get("/api/sessions", headers=auth(phone))
    (phone_id,) = [s["id"] for s in r.json() if s["current"]]
    async with online(cluster.b, phone) as ws_b, online(cluster.b, laptop) as laptop_b:
        assert (await on_b.get("/api/me", headers=auth(phone))).status_code == 200  # cached on B
        r = await on_a.delete(f"/api/sessions/{phone_id}", headers=auth(laptop))
        assert r.status_code == 204, r.text
        answered = time.monotonic()
        code, _ = await closed_with(ws_b, PROMPT)
        assert code == 4010
        assert time.monotonic() - answered < WITHIN
        took, r = await refused_within(on_b, phone, answered)
        assert took < WITHIN, f"B accepted the token {took:.2f} s after the answer on A"
        api_error(r, 401, "session_ended")
        # the other session is untouched, on both nodes
        assert (await laptop_b.request({"action": "ping"}))["type"] == "pong"
        for http in (on_a, on_b):
            assert (await http.get("/api/me", headers=auth(laptop))).status_code == 200


@pytest.mark.parametrize("end", ["revoke", "deactivate"])
async def test_an_ended_token_gets_no_lasting_websocket_on_b(
    cluster: Cluster, on_a: httpx.AsyncClient, on_b: httpx.AsyncClient, end: str
) -> None:
    """B may trust its cached answer for a token's session for up to a
    second, but a WebSocket it lets in meanwhile must not outlive the
    session: the event that closes its connections went by before this one
    began to follow it."""
    name = unique("ann")
    keeper = await register(on_a, name)
    token = await login(on_b, name)
    r = await on_b.get("/api/sessions", headers=auth(token))  # B caches the session
    assert r.status_code == 200, r.text
    (sid,) = [s["id"] for s in r.json() if s["current"]]
    if end == "revoke":
        r = await on_a.delete(f"/api/sessions/{sid}", headers=auth(keeper))
        assert r.status_code == 204, r.text
    else:
        r = await on_a.put(
            f"/api/users/{name}/active", json={"active": False}, headers=auth(cluster.owner)
        )
        assert r.status_code == 200, r.text
    async with ws_connect(f"{cluster.b.ws_url}?token={token}") as ws:
        code, _ = await closed_with(ws, PROMPT)
    assert code in (4001, 4010, 4011)


async def test_a_channel_renamed_on_a_keeps_history_and_subscribers_on_b(
    cluster: Cluster, on_a: httpx.AsyncClient, on_b: httpx.AsyncClient
) -> None:
    creator, sub = unique("creator"), unique("sub")
    c_token, s_token = await register(on_a, creator), await register(on_b, sub)
    old, new = unique("proj"), unique("project")
    await create_channel(on_a, c_token, old)
    r = await on_b.post(f"/api/channels/{old}/join", headers=auth(s_token))
    assert r.status_code == 200, r.text
    for i in range(3):
        assert (await post(on_a, c_token, old, f"m{i}", unique("m"))).status_code == 201
    async with online(cluster.b, s_token) as ws_b, online(cluster.a, c_token) as ws_a:
        await subscribe(ws_b, old)
        await send(ws_b, old, "from b, before")
        r = await on_a.patch(f"/api/channels/{old}", json={"name": new}, headers=auth(c_token))
        assert r.status_code == 200 and r.json()["name"] == new, r.text
        updated = await ws_b.expect("channel_updated")
        assert (updated["renamed_from"], updated["channel"]["name"]) == (old, new)
        # sent on A, by either name: B's subscriber gets them, under the new name
        for channel, text in ((old, "from a, old name"), (new, "from a, new name")):
            ack = await send(ws_a, channel, text)
            got = await ws_b.expect("message", text=text)
            assert got["channel"] == new and got["seq"] == ack["seq"]
        ack = await send(ws_b, old, "from b, old name")
        assert ack["message"]["channel"] == new
    expected = ["m0", "m1", "m2", "from b, before", "from a, old name", "from a, new name"]
    expected.append("from b, old name")
    for name in (old, new):
        assert [t for _, _, t in await history(on_b, s_token, name)] == expected
        r = await on_b.get(f"/api/channels/{name}", headers=auth(s_token))
        assert r.status_code == 200 and r.json()["name"] == new
    api_error(
        await on_b.post("/api/channels", json={"name": old}, headers=auth(s_token)), 409, "conflict"
    )


async def test_a_channel_archived_on_a_takes_no_sends_on_b(
    cluster: Cluster, on_a: httpx.AsyncClient, on_b: httpx.AsyncClient
) -> None:
    creator, member = unique("creator"), unique("member")
    c_token, m_token = await register(on_a, creator), await register(on_b, member)
    name = unique("arch")
    await create_channel(on_a, c_token, name)
    assert (await on_b.post(f"/api/channels/{name}/join", headers=auth(m_token))).status_code == 200
    async with online(cluster.b, m_token) as ws_b:
        await subscribe(ws_b, name)
        await send(ws_b, name, "before")  # B's send path knows the member now
        r = await on_a.patch(
            f"/api/channels/{name}", json={"archived": True}, headers=auth(c_token)
        )
        assert r.status_code == 200 and r.json()["archived"] is True, r.text
        await ws_b.expect("channel_updated")
        err = await ws_b.request(
            {"action": "send", "channel": name, "text": "after", "client_id": unique("c")}
        )
        assert (err["type"], err["code"]) == ("error", "channel_archived"), err
    api_error(await post(on_b, m_token, name, "after", unique("r")), 403, "channel_archived")
    assert [t for _, _, t in await history(on_b, m_token, name)] == ["before"]


async def test_a_member_removed_on_a_posts_nothing_on_b(
    cluster: Cluster, on_a: httpx.AsyncClient, on_b: httpx.AsyncClient
) -> None:
    """B's send path remembers members; the store has the last word, for a
    thread reply as for a message."""
    creator, member = unique("creator"), unique("member")
    c_token, m_token = await register(on_a, creator), await register(on_b, member)
    name = unique("club")
    await create_channel(on_a, c_token, name)
    assert (await on_b.post(f"/api/channels/{name}/join", headers=auth(m_token))).status_code == 200
    root = (await post(on_a, c_token, name, "the root", unique("root"))).json()["seq"]
    async with online(cluster.b, m_token) as ws_b:
        await subscribe(ws_b, name)
        await send(ws_b, name, "while a member")  # B's send path knows the member now
        r = await on_a.delete(f"/api/channels/{name}/members/{member}", headers=auth(c_token))
        assert r.status_code == 200, r.text
        await ws_b.expect("channel_left")
        frame = {"action": "send", "channel": name, "text": "a reply", "thread_root": root}
        err = await ws_b.request({**frame, "client_id": unique("c")})
        assert (err["type"], err.get("code")) == ("error", "not_a_member"), err
        err = await ws_b.request({**frame, "client_id": unique("c"), "thread_root": None})
        assert (err["type"], err.get("code")) == ("error", "not_a_member"), err
    r = await on_b.get(f"/api/channels/{name}/messages/{root}/thread", headers=auth(c_token))
    assert r.status_code == 200 and r.json()["messages"] == [], r.text
    assert [t for _, _, t in await history(on_b, c_token, name)] == ["the root", "while a member"]


async def test_a_role_taken_on_a_is_gone_on_b_at_once(
    cluster: Cluster, on_a: httpx.AsyncClient, on_b: httpx.AsyncClient
) -> None:
    admin = unique("adm")
    token = await register(on_b, admin)
    h = auth(cluster.owner)
    r = await on_a.put(f"/api/users/{admin}/role", json={"role": "admin"}, headers=h)
    assert r.status_code == 200, r.text
    assert (await on_b.get("/api/audit", headers=auth(token))).status_code == 200
    r = await on_a.put(f"/api/users/{admin}/role", json={"role": "member"}, headers=h)
    assert r.status_code == 200, r.text
    # admin actions read the role as it is now, whatever B has cached
    api_error(await on_b.get("/api/audit", headers=auth(token)), 403, "forbidden")


async def test_a_hook_made_on_a_posts_through_b_to_a_subscriber_on_a(
    cluster: Cluster, on_a: httpx.AsyncClient, on_b: httpx.AsyncClient
) -> None:
    """Integrations on PostgreSQL across nodes: the hook made on A answers on
    B, and its message reaches A's subscriber through Redis."""
    token = await register(on_a, unique("ann"))
    channel = unique("hooked")
    await create_channel(on_a, token, channel)
    r = await on_a.post("/api/hooks", json={"channel": channel, "name": "CI"}, headers=auth(token))
    assert r.status_code == 201, r.text
    secret = r.json()["url"].rsplit("/", 1)[1]
    async with online(cluster.a, token) as ws:
        await subscribe(ws, channel)
        r = await on_b.post(f"/hooks/{secret}", json={"text": "via b", "username": "CI"})
        assert (r.status_code, r.text) == (200, "ok")
        live = await ws.expect("message", channel=channel)
        assert (live["text"], live["shown_name"]) == ("via b", "CI")
    listed = (await on_b.get("/api/hooks", headers=auth(token))).json()
    r = await on_b.delete(f"/api/hooks/{listed[0]['id']}", headers=auth(token))
    assert r.status_code == 204
    api_error(await on_a.post(f"/hooks/{secret}", json={"text": "gone"}), 404, "not_found")


async def test_an_outgoing_hook_delivers_what_either_node_sends_once_in_order(
    cluster: Cluster, on_a: httpx.AsyncClient, on_b: httpx.AsyncClient
) -> None:
    """Both nodes run deliveries; the outbox's lease lets one send, so the
    receiver gets each message once, in the channel's order."""
    token = await register(on_a, unique("ann"))
    channel = unique("outgoing")
    await create_channel(on_a, token, channel)
    with receiving() as receiver:
        body = {"channel": channel, "name": "ci", "url": receiver.url}
        r = await on_a.post("/api/outgoing-hooks", json=body, headers=auth(token))
        assert r.status_code == 201, r.text
        hook = r.json()
        sent = []
        for i in range(10):
            node = on_a if i % 2 else on_b
            r = await post(node, token, channel, f"m{i}")
            assert r.status_code == 201, r.text
            sent.append(r.json()["seq"])
        keys = [(await asyncio.to_thread(receiver.next)).headers["idempotency-key"] for _ in sent]
        assert keys == [f"hook-{hook['id']}-{seq}" for seq in sent]
        async with asyncio.timeout(WAIT):
            while True:  # the cursor's write follows the answer
                listed = (await on_b.get("/api/outgoing-hooks", headers=auth(token))).json()
                if listed[0]["delivery"]["delivered"] == len(sent):
                    break
                await asyncio.sleep(0.05)
        assert receiver.requests.empty()  # nothing twice
