"""Messages end to end: sending over REST and WebSocket, per-channel `seq`
under concurrency, idempotent retries, history paging, read cursors, typing."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from support import WAIT, WS, Server, auth, online, register, send, subscribe, users


async def channel_with(http: httpx.AsyncClient, t: dict[str, str], name: str = "lobby") -> None:
    """A public channel every user in `t` has joined (and no one else: not
    #general, which every account joins on registering)."""
    first, *rest = t.values()
    r = await http.post("/api/channels", json={"name": name}, headers=auth(first))
    assert r.status_code == 201, r.text
    for token in rest:
        r = await http.post(f"/api/channels/{name}/join", headers=auth(token))
        assert r.status_code == 200, r.text


async def frames_until(
    ws: WS, *, messages: int = 0, acks: int = 0, timeout: float = 3 * WAIT
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Read until `messages` message frames and `acks` acks have arrived."""
    got_m: list[dict[str, Any]] = []
    got_a: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while len(got_m) < messages or len(got_a) < acks:
            frame = await ws.recv()
            if frame.get("type") == "message":
                got_m.append(frame)
            elif frame.get("type") == "ack":
                got_a.append(frame)
            else:
                assert frame.get("type") != "error", frame
    return got_m, got_a


async def test_send_over_rest_and_websocket(server: Server, http: httpx.AsyncClient) -> None:
    t = await users(http, "alice", "bob")
    await channel_with(http, t)
    async with online(server, t["bob"]) as bw, online(server, t["alice"]) as aw:
        await subscribe(bw, "lobby")
        r = await http.post(
            "/api/channels/lobby/messages",
            json={"text": "over rest", "client_id": "r1"},
            headers=auth(t["alice"]),
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert (body["seq"], body["text"], body["duplicate"]) == (1, "over rest", False)
        # REST writes every field out (a person's message: bot false).
        assert body["author"] == {"username": "alice", "display_name": "alice", "bot": False}
        assert body["client_id"] == "r1" and body["channel"] == "lobby"

        ack = await send(aw, "lobby", "over ws", "w1")
        assert (ack["seq"], ack["client_id"], ack["duplicate"]) == (2, "w1", False)
        assert ack["message"]["text"] == "over ws"

        first, second = (await frames_until(bw, messages=2))[0]
        assert (first["seq"], first["text"], first["client_id"]) == (1, "over rest", "r1")
        assert (second["seq"], second["text"]) == (2, "over ws")
        assert second["author"]["username"] == "alice"
        assert first["created_at"] <= second["created_at"]

    page = (await http.get("/api/channels/lobby/messages", headers=auth(t["bob"]))).json()
    assert [(m["seq"], m["text"]) for m in page["messages"]] == [(2, "over ws"), (1, "over rest")]

    # Bad sends are refused with their code and store nothing.
    async with online(server, t["alice"]) as aw:
        for frame, code in (
            ({"channel": "lobby", "text": "   ", "client_id": "e1"}, "message_too_long"),
            ({"channel": "lobby", "text": "x" * 10_001, "client_id": "e2"}, "message_too_long"),
            ({"channel": "nope", "text": "x", "client_id": "e3"}, "not_found"),
            ({"channel": "lobby", "text": "x"}, "invalid_input"),
        ):
            reply = await aw.request({"action": "send", **frame})
            assert (reply["type"], reply["code"]) == ("error", code), reply
    r = await http.post(
        "/api/channels/lobby/messages",
        json={"text": "x", "client_id": "e4"},
        headers=auth(await register(http, "outsider")),
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_a_member"
    page = (await http.get("/api/channels/lobby/messages", headers=auth(t["bob"]))).json()
    assert len(page["messages"]) == 2


async def test_seq_has_no_gaps_under_concurrent_senders(
    server: Server, http: httpx.AsyncClient
) -> None:
    per_sender, names = 100, ("alice", "bob", "carol")
    t = await users(http, *names)
    await channel_with(http, t)
    total = per_sender * len(names)
    async with (
        online(server, t["alice"]) as a,
        online(server, t["bob"]) as b,
        online(server, t["carol"]) as c,
    ):
        conns = {"alice": a, "bob": b, "carol": c}
        for ws in conns.values():
            await subscribe(ws, "lobby")

        async def blast(name: str, ws: WS) -> None:
            for i in range(per_sender):
                await ws.send(
                    {
                        "action": "send",
                        "channel": "lobby",
                        "text": f"{name} {i}",
                        "client_id": f"{name}-{i}",
                    }
                )

        results = await asyncio.gather(
            *(blast(n, ws) for n, ws in conns.items()),
            *(frames_until(ws, messages=total, acks=per_sender) for ws in conns.values()),
        )
    received = results[len(conns) :]
    all_acks: list[int] = []
    for name, (msgs, acks) in zip(conns, received, strict=True):
        # Every client saw every message exactly once, in seq order.
        assert [m["seq"] for m in msgs] == list(range(1, total + 1)), name
        # Its own acks are in send order, each for the message it sent.
        assert [a["client_id"] for a in acks] == [f"{name}-{i}" for i in range(per_sender)]
        assert all(not a["duplicate"] for a in acks)
        ack_seqs = [a["seq"] for a in acks]
        assert ack_seqs == sorted(ack_seqs)
        all_acks += ack_seqs
        by_seq = {m["seq"]: m for m in msgs}
        for a in acks:
            assert by_seq[a["seq"]]["text"] == a["message"]["text"]
            assert by_seq[a["seq"]]["client_id"] == a["client_id"]
    assert sorted(all_acks) == list(range(1, total + 1))
    # Within each sender, its messages appear in the order it sent them.
    msgs = received[0][0]
    for name in names:
        mine = [int(m["text"].split()[1]) for m in msgs if m["author"]["username"] == name]
        assert mine == list(range(per_sender))

    r = await http.get("/api/channels/lobby", headers=auth(t["alice"]))
    assert r.json()["last_seq"] == total


async def test_retried_client_id_returns_the_original(
    server: Server, http: httpx.AsyncClient
) -> None:
    t = await users(http, "alice", "bob", "carol")
    await channel_with(http, t)
    async with (
        online(server, t["alice"]) as a1,
        online(server, t["alice"]) as a2,
        online(server, t["bob"]) as bw,
        online(server, t["carol"]) as watcher,
    ):
        await subscribe(watcher, "lobby")
        first = await send(a1, "lobby", "original", "same-id")
        assert (first["seq"], first["duplicate"]) == (1, False)

        # The same connection retries (even with different text).
        again = await send(a1, "lobby", "changed", "same-id")
        assert (again["seq"], again["duplicate"]) == (1, True)
        assert again["message"]["text"] == "original"
        assert again["message"]["created_at"] == first["message"]["created_at"]

        # Another connection of the same user.
        other = await send(a2, "lobby", "original", "same-id")
        assert (other["seq"], other["duplicate"]) == (1, True)

        # Over REST: 200 rather than 201, and the original message.
        r = await http.post(
            "/api/channels/lobby/messages",
            json={"text": "original", "client_id": "same-id"},
            headers=auth(t["alice"]),
        )
        assert r.status_code == 200, r.text
        assert (r.json()["seq"], r.json()["duplicate"], r.json()["text"]) == (1, True, "original")

        # Another user's same client_id is another message.
        bobs = await send(bw, "lobby", "bob's", "same-id")
        assert (bobs["seq"], bobs["duplicate"]) == (2, False)

        # Both of alice's connections retry at once: still one message.
        for ws in (a1, a2):
            await ws.send(
                {"action": "send", "channel": "lobby", "text": "race", "client_id": "race-id"}
            )
        (_, acks1), (_, acks2) = await asyncio.gather(
            frames_until(a1, acks=1), frames_until(a2, acks=1)
        )
        race = acks1 + acks2
        assert {a["seq"] for a in race} == {3}
        assert sorted(a["duplicate"] for a in race) == [False, True]

        await send(bw, "lobby", "fence", "fence")
        msgs, _ = await frames_until(watcher, messages=4)
        assert [(m["seq"], m["text"]) for m in msgs] == [
            (1, "original"),
            (2, "bob's"),
            (3, "race"),
            (4, "fence"),
        ]
        assert not [f for f in watcher.backlog if f.get("type") == "message"]

    page = (await http.get("/api/channels/lobby/messages", headers=auth(t["carol"]))).json()
    assert [m["seq"] for m in page["messages"]] == [4, 3, 2, 1]


async def test_history_paging(server: Server, http: httpx.AsyncClient) -> None:
    t = await users(http, "alice")
    await channel_with(http, t)
    n = 120
    async with online(server, t["alice"]) as ws:
        for i in range(n):
            await ws.send(
                {"action": "send", "channel": "lobby", "text": f"m{i + 1}", "client_id": f"{i}"}
            )
        _, acks = await frames_until(ws, acks=n)
        assert [a["seq"] for a in acks] == list(range(1, n + 1))

        async def page(**kw: Any) -> tuple[list[int], bool]:
            reply = await ws.request({"action": "history", "channel": "lobby", **kw})
            assert reply["type"] == "history", reply
            for m in reply["messages"]:
                assert m["text"] == f"m{m['seq']}"
            return [m["seq"] for m in reply["messages"]], reply["has_more"]

        # Newest first, paging back with `before`.
        seen: list[int] = []
        before: int | None = None
        pages = 0
        while True:
            kw = {"limit": 50} if before is None else {"limit": 50, "before": before}
            seqs, more = await page(**kw)
            assert seqs == sorted(seqs, reverse=True)
            assert len(seqs) == (50 if more else n - len(seen))
            seen += seqs
            pages += 1
            if not more:
                break
            before = seqs[-1]
        assert pages == 3
        assert seen == list(range(n, 0, -1))

        # Oldest first with `after`.
        seen = []
        after = 0
        while True:
            seqs, more = await page(after=after, limit=50)
            assert seqs == sorted(seqs)
            seen += seqs
            if not more:
                break
            after = seqs[-1]
        assert seen == list(range(1, n + 1))

        assert await page(limit=3) == ([120, 119, 118], True)
        assert await page(before=4, limit=3) == ([3, 2, 1], False)
        assert await page(before=1) == ([], False)
        assert await page(after=117, limit=3) == ([118, 119, 120], False)
        assert await page(after=120) == ([], False)
        seqs, more = await page(limit=200)
        assert (len(seqs), more) == (n, False)
        for bad in ({"limit": 0}, {"limit": 201}, {"before": -1}):
            reply = await ws.request({"action": "history", "channel": "lobby", **bad})
            assert (reply["type"], reply["code"]) == ("error", "invalid_input")

    # The same over REST.
    h = auth(t["alice"])
    r = await http.get("/api/channels/lobby/messages", params={"limit": 5}, headers=h)
    assert [m["seq"] for m in r.json()["messages"]] == [120, 119, 118, 117, 116]
    assert r.json()["has_more"] is True
    r = await http.get("/api/channels/lobby/messages", params={"before": 3, "limit": 5}, headers=h)
    assert ([m["seq"] for m in r.json()["messages"]], r.json()["has_more"]) == ([2, 1], False)
    r = await http.get("/api/channels/lobby/messages", params={"after": 100, "limit": 5}, headers=h)
    assert ([m["seq"] for m in r.json()["messages"]], r.json()["has_more"]) == (
        [101, 102, 103, 104, 105],
        True,
    )
    r = await http.get("/api/channels/lobby/messages", params={"limit": 201}, headers=h)
    assert r.status_code == 400


async def test_read_cursor(server: Server, http: httpx.AsyncClient) -> None:
    t = await users(http, "alice", "bob", "carol")
    await channel_with(http, t)
    h = auth(t["alice"])
    async with (
        online(server, t["alice"]) as a1,
        online(server, t["alice"]) as a2,
        online(server, t["carol"]) as c,
    ):
        for i in range(5):
            await send(c, "lobby", f"m{i}")  # carol's: your own are never unread

        reply = await a1.request({"action": "read", "channel": "lobby", "seq": 3})
        assert reply["type"] == "ok"
        assert await a2.expect("read") == {"type": "read", "channel": "lobby", "seq": 3}
        assert await a1.expect("read") == {"type": "read", "channel": "lobby", "seq": 3}

        # Backwards is a no-op: the cursor stays where it was.
        await a1.request({"action": "read", "channel": "lobby", "seq": 1})
        assert (await a2.expect("read"))["seq"] == 3
        r = await http.post("/api/channels/lobby/read", json={"seq": 2}, headers=h)
        assert r.json() == {"last_read": 3}
        assert (await a2.expect("read"))["seq"] == 3

        # Past the end clamps to last_seq.
        r = await http.post("/api/channels/lobby/read", json={"seq": 999}, headers=h)
        assert r.json() == {"last_read": 5}
        assert (await a2.expect("read"))["seq"] == 5

        r = await http.post("/api/channels/lobby/read", json={"seq": -1}, headers=h)
        assert r.status_code == 400
        reply = await a1.request({"action": "read", "channel": "nope", "seq": 1})
        assert (reply["type"], reply["code"]) == ("error", "not_found")

    r = await http.get("/api/channels/lobby", headers=h)
    assert r.json()["last_read"] == 5
    listing = (await http.get("/api/channels", headers=h)).json()
    assert {c["name"]: c["last_read"] for c in listing}["lobby"] == 5
    # Cursors are per user.
    assert (await http.get("/api/channels/lobby", headers=auth(t["bob"]))).json()["last_read"] == 0
    # Only members have a cursor.
    outsider = auth(await register(http, "outsider"))
    r = await http.post("/api/channels/lobby/read", json={"seq": 1}, headers=outsider)
    assert r.status_code == 403


async def test_typing_reaches_others_and_is_throttled(
    server: Server, http: httpx.AsyncClient
) -> None:
    t = await users(http, "alice", "bob")
    await channel_with(http, t)
    await http.post("/api/channels", json={"name": "other"}, headers=auth(t["bob"]))
    async with online(server, t["alice"]) as aw, online(server, t["bob"]) as bw:
        await subscribe(bw, "lobby")
        for _ in range(5):
            reply = await aw.request({"action": "typing", "channel": "lobby"})
            assert reply["type"] == "ok"
        # A typing frame without an id gets no answer at all.
        await aw.send({"action": "typing", "channel": "lobby"})
        await send(aw, "lobby", "fence")
        await bw.expect("message", text="fence")
        typing = [f for f in bw.backlog if f.get("type") == "typing"]
        assert typing == [{"type": "typing", "channel": "lobby", "user": "alice"}]

        reply = await aw.request({"action": "typing", "channel": "other"})
        assert (reply["type"], reply["code"]) == ("error", "not_a_member")
        pong = await aw.request({"action": "ping"})
        assert pong["type"] == "pong"
        assert not [f for f in aw.backlog if f.get("type") in ("ok", "error")]


async def test_a_rest_send_without_client_id_is_stored_and_a_retry_is_another(
    http: httpx.AsyncClient,
) -> None:
    t = await users(http, "nico")
    url, head = "/api/channels/general/messages", auth(t["nico"])
    first = await http.post(url, json={"text": "no id"}, headers=head)
    again = await http.post(url, json={"text": "no id"}, headers=head)
    assert (first.status_code, again.status_code) == (201, 201), (first.text, again.text)
    a, b = first.json(), again.json()
    assert a["seq"] != b["seq"] and not b["duplicate"]
    assert a["client_id"].startswith("rest-") and a["client_id"] != b["client_id"]
    bad = await http.post(url, json={"text": "x", "client_id": ""}, headers=head)
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "client_id"
