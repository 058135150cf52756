"""Resume: a client that reconnects names the last `seq` it saw and gets exactly
what it missed, in order, or is told plainly that it cannot (principle 3).
Also across a server restart, after SIGTERM and after SIGKILL."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import websockets

from support import WAIT, WS, Server, auth, online, register, ws_connect

FAST = ("--limit", "messages_per_second=100000,message_burst=100000")


async def setup(server: Server) -> dict[str, str]:
    """alice and bob, both in #general. Returns their tokens."""
    async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as http:
        t = {n: await register(http, n) for n in ("alice", "bob")}  # both join #general
    return t


async def send_many(
    ws: WS, n: int, prefix: str, first_ack: asyncio.Event | None = None
) -> list[dict[str, Any]]:
    """Send `n` messages pipelined and return their acks, in order."""
    for i in range(n):
        cid = f"{prefix}{i}"
        await ws.send({"action": "send", "channel": "general", "text": cid, "client_id": cid})
    acks = []
    async with asyncio.timeout(3 * WAIT):  # a bulk wait: a bound, not a delay
        while len(acks) < n:
            frame = await ws.recv()
            assert frame["type"] == "ack", frame
            acks.append(frame)
            if first_ack is not None:
                first_ack.set()
    return acks


async def resume(ws: WS, since: int | None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Subscribe to #general with `since`: the messages replayed, then `subscribed`."""
    await ws.send({"action": "subscribe", "channel": "general", "since": since, "id": "sub"})
    messages = []
    async with asyncio.timeout(WAIT):
        while True:
            frame = await ws.recv()
            if frame["type"] == "subscribed":
                assert frame["id"] == "sub"
                return messages, frame
            assert frame["type"] == "message", frame
            messages.append(frame)


async def messages_until(ws: WS, seq: int) -> list[dict[str, Any]]:
    """Message frames until the one with `seq` (others must not arrive)."""
    out: list[dict[str, Any]] = []
    async with asyncio.timeout(WAIT):
        while not out or out[-1]["seq"] < seq:
            frame = await ws.recv()
            assert frame["type"] == "message", frame
            out.append(frame)
    return out


def seqs(messages: list[dict[str, Any]]) -> list[int]:
    return [m["seq"] for m in messages]


def drop(ws: WS) -> None:
    """Lose the connection the hard way: no closing handshake, like a laptop lid."""
    ws.conn.transport.abort()


async def test_resume_after_dropped_connection(server: Server) -> None:
    t = await setup(server)
    async with online(server, t["bob"]) as bob:
        async with online(server, t["alice"]) as a:
            await resume(a, None)
            await send_many(bob, 3, "before")
            seen = await messages_until(a, 3)
            assert seqs(seen) == [1, 2, 3]
            drop(a)

        acks = await send_many(bob, 5, "missed")
        assert [x["seq"] for x in acks] == [4, 5, 6, 7, 8]

        async with online(server, t["alice"]) as a:
            replayed, sub = await resume(a, 3)
            assert seqs(replayed) == [4, 5, 6, 7, 8]
            assert [m["text"] for m in replayed] == [f"missed{i}" for i in range(5)]
            assert (sub["recovered"], sub["replayed"], sub["last_seq"]) == (True, 5, 8)
            await send_many(bob, 1, "live")
            live = await messages_until(a, 9)
            assert [(m["seq"], m["text"]) for m in live] == [(9, "live0")]

            # Nothing missed: nothing replayed, and still recovered.
            async with online(server, t["alice"]) as a2:
                replayed, sub = await resume(a2, 9)
                assert replayed == []
                assert (sub["recovered"], sub["replayed"], sub["last_seq"]) == (True, 0, 9)


async def test_since_zero_replays_from_the_start(server: Server) -> None:
    t = await setup(server)
    async with online(server, t["bob"]) as bob, online(server, t["alice"]) as a:
        await send_many(bob, 4, "m")
        replayed, sub = await resume(a, 0)
        assert seqs(replayed) == [1, 2, 3, 4]
        assert [m["text"] for m in replayed] == ["m0", "m1", "m2", "m3"]
        assert (sub["recovered"], sub["replayed"], sub["last_seq"]) == (True, 4, 4)


async def test_since_in_an_empty_channel(server: Server) -> None:
    t = await setup(server)
    async with online(server, t["alice"]) as a:
        replayed, sub = await resume(a, 0)
        assert replayed == []
        assert (sub["recovered"], sub["replayed"], sub["last_seq"]) == (True, 0, 0)


async def test_too_far_behind_says_so(server_factory: Callable[..., Server]) -> None:
    server = server_factory("--limit", "resume_limit=5")
    t = await setup(server)
    async with online(server, t["bob"]) as bob, online(server, t["alice"]) as a:
        hello_limits = None
        async with ws_connect(f"{server.ws_url}?token={t['alice']}") as probe:
            hello_limits = (await probe.expect("hello"))["limits"]
        assert hello_limits["resume_limit"] == 5

        await send_many(bob, 8, "m")
        # 8 missed > 5: nothing replayed, `recovered: false`, last_seq to page from.
        replayed, sub = await resume(a, 0)
        assert replayed == []
        assert (sub["recovered"], sub["replayed"], sub["last_seq"]) == (False, 0, 8)
        # The subscription is live all the same.
        await send_many(bob, 1, "live")
        assert seqs(await messages_until(a, 9)) == [9]

        # Exactly resume_limit missed is still recovered; one more is not.
        async with online(server, t["alice"]) as a2:
            replayed, sub = await resume(a2, 4)
            assert seqs(replayed) == [5, 6, 7, 8, 9]
            assert (sub["recovered"], sub["replayed"]) == (True, 5)
        async with online(server, t["alice"]) as a3:
            replayed, sub = await resume(a3, 3)
            assert replayed == []
            assert (sub["recovered"], sub["replayed"], sub["last_seq"]) == (False, 0, 9)
            # What the client does next: page history itself.
            page = await a3.request(
                {"action": "history", "channel": "general", "after": 3, "limit": 50}
            )
            assert seqs(page["messages"]) == [4, 5, 6, 7, 8, 9]


async def test_since_beyond_last_seq_is_not_recovered(server: Server) -> None:
    t = await setup(server)
    async with online(server, t["bob"]) as bob, online(server, t["alice"]) as a:
        await send_many(bob, 3, "m")
        # The client claims messages this server never stored (another
        # database, a restore from backup): say so rather than pretend.
        replayed, sub = await resume(a, 10)
        assert replayed == []
        assert (sub["recovered"], sub["replayed"], sub["last_seq"]) == (False, 0, 3)
        await send_many(bob, 1, "live")
        assert seqs(await messages_until(a, 4)) == [4]


async def test_messages_sent_during_replay_arrive_once_in_order(
    server_factory: Callable[..., Server],
) -> None:
    server = server_factory(*FAST)
    t = await setup(server)
    async with (
        online(server, t["bob"]) as b1,
        online(server, t["bob"]) as b2,
        online(server, t["bob"]) as b3,
    ):
        senders = (b1, b2, b3)
        await asyncio.gather(*(send_many(b, 150, f"offline-{i}-") for i, b in enumerate(senders)))

        async def keep_sending(b: WS, tag: str, flowing: asyncio.Event, done: asyncio.Event) -> int:
            """Send windows of 10 until `done`, then one more; the last seq."""
            last, i = 0, 0
            while True:
                finished = done.is_set()
                acks = await send_many(b, 10, f"{tag}-{i}-", flowing)
                last, i = acks[-1]["seq"], i + 1
                if finished:
                    return last

        last = 450
        for rnd in range(15):
            async with contextlib.AsyncExitStack() as stack:
                # Three of alice's devices resume at once, each replaying a
                # long history (a wide window for live messages to land in).
                alices = [
                    await stack.enter_async_context(online(server, t["alice"])) for _ in range(3)
                ]
                since = last - 400  # well within resume_limit
                # bob is sending before alice subscribes, and goes on until
                # after every replay is over.
                flowing, done = asyncio.Event(), asyncio.Event()
                sending = asyncio.gather(
                    *(
                        keep_sending(b, f"live-{rnd}-{i}", flowing, done)
                        for i, b in enumerate(senders)
                    )
                )
                await asyncio.wait_for(flowing.wait(), WAIT)
                resumed = await asyncio.gather(*(resume(a, since) for a in alices))
                done.set()
                final = max(await sending)
                for a, (replayed, sub) in zip(alices, resumed, strict=True):
                    assert sub["recovered"] is True
                    assert sub["last_seq"] == seqs(replayed)[-1] < final
                    rest = await messages_until(a, final)
                    got = seqs(replayed) + seqs(rest)
                    # No gap, no duplicate, in order, from since + 1 up to the end.
                    assert got == list(range(since + 1, final + 1)), (rnd, since, sub)
                    # `replayed` counts what came from the store; what was
                    # published meanwhile is delivered too, before `subscribed`.
                    assert last - since <= sub["replayed"] <= len(replayed)
                    drop(a)
                last = final


async def test_other_events_during_replay_arrive_once(
    server_factory: Callable[..., Server],
) -> None:
    """Events that are not messages (here: topic changes) published while a
    replay is read from the store are buffered and written once, not twice."""
    server = server_factory(*FAST)
    t = await setup(server)
    async with online(server, t["bob"]) as bob:
        await send_many(bob, 300, "m")  # a replay long enough to overlap with
    stop = asyncio.Event()
    changed = 0

    async def change_topic() -> None:
        nonlocal changed
        async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as http:
            while not stop.is_set():
                r = await http.put(
                    "/api/channels/general/topic",
                    json={"topic": f"t{changed}"},
                    headers=auth(t["bob"]),
                )
                assert r.status_code == 200
                changed += 1

    changer = asyncio.ensure_future(change_topic())
    try:
        for _ in range(15):
            async with online(server, t["alice"]) as a:
                await a.send({"action": "subscribe", "channel": "general", "since": 0, "id": 1})
                topics: list[str] = []
                async with asyncio.timeout(WAIT):
                    while (frame := await a.recv())["type"] != "subscribed":
                        if frame["type"] == "channel_updated":
                            topics.append(frame["channel"]["topic"])
                        else:
                            assert frame["type"] == "message", frame
                assert frame["replayed"] == 300
                assert len(topics) == len(set(topics)), topics
    finally:
        stop.set()
        await changer
    assert changed > 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
async def test_server_restart_loses_nothing_acknowledged(
    server_factory: Callable[..., Server], sig: signal.Signals
) -> None:
    server = server_factory(*FAST)
    t = await setup(server)
    sent: dict[str, str] = {}  # client_id -> text
    acked: dict[int, str] = {}  # seq -> client_id
    seen: list[dict[str, Any]] = []

    async with online(server, t["alice"]) as a, online(server, t["bob"]) as bob:
        await resume(a, 0)
        for ack in await send_many(bob, 20, "pre"):
            acked[ack["seq"]] = ack["client_id"]
        sent.update({f"pre{i}": f"pre{i}" for i in range(20)})
        seen += await messages_until(a, 20)

        stop_now = asyncio.Event()

        async def sender() -> None:
            for i in range(200):
                cid = f"mid{i}"
                sent[cid] = cid
                try:
                    await bob.send(
                        {"action": "send", "channel": "general", "text": cid, "client_id": cid}
                    )
                except websockets.ConnectionClosed:
                    return

        async def ack_reader() -> None:
            with contextlib.suppress(websockets.ConnectionClosed):
                while True:
                    frame = await bob.recv()
                    if frame["type"] == "ack":
                        acked[frame["seq"]] = frame["client_id"]
                        if len(acked) >= 60:
                            stop_now.set()

        async def reader() -> int | None:
            try:
                while True:
                    frame = await a.recv()
                    assert frame["type"] == "message", frame
                    seen.append(frame)
            except websockets.ConnectionClosed as exc:
                return exc.rcvd.code if exc.rcvd else None

        async def killer() -> None:
            await asyncio.wait_for(stop_now.wait(), WAIT)
            await asyncio.to_thread(server.stop, sig)

        async with asyncio.timeout(3 * WAIT):
            _, _, code, _ = await asyncio.gather(sender(), ack_reader(), reader(), killer())
    assert server.proc.poll() is not None
    if sig == signal.SIGTERM:
        assert code == 1001, code  # going away: reconnect and resume
    # Something was acknowledged mid-conversation, not everything was.
    assert len(acked) >= 60
    assert seqs(seen) == list(range(1, len(seen) + 1))

    restarted = server_factory(*FAST, data_dir=server.data_dir, port=server.port)
    assert restarted.port == server.port
    async with online(restarted, t["alice"]) as a, online(restarted, t["bob"]) as bob:
        since = seen[-1]["seq"]
        replayed, sub = await resume(a, since)
        assert sub["recovered"] is True
        everything = seen + replayed
        # Everything acknowledged is there, exactly once, in order, as sent.
        assert seqs(everything) == list(range(1, sub["last_seq"] + 1))
        assert max(acked) <= sub["last_seq"]
        by_seq = {m["seq"]: m for m in everything}
        for seq, cid in acked.items():
            assert by_seq[seq]["client_id"] == cid
            assert by_seq[seq]["text"] == sent[cid]
        # Committed but unacknowledged sends are safe to retry: a retry of
        # every unacknowledged one stores each exactly once.
        before_restart = sub["last_seq"]
        pending = [cid for cid in sent if cid not in set(acked.values())]
        retried = await send_many_ids(bob, pending)
        for cid, ack in zip(pending, retried, strict=True):
            assert ack["client_id"] == cid
            assert ack["duplicate"] == (ack["seq"] <= before_restart), ack
        fresh = [x["seq"] for x in retried if not x["duplicate"]]
        assert fresh == list(range(before_restart + 1, before_restart + 1 + len(fresh)))
        live = await messages_until(a, fresh[-1]) if fresh else []
        assert seqs(live) == fresh

        page = await a.request({"action": "history", "channel": "general", "limit": 200})
        got: list[dict[str, Any]] = list(page["messages"])
        while page["has_more"]:
            page = await a.request(
                {"action": "history", "channel": "general", "limit": 200, "before": got[-1]["seq"]}
            )
            got += page["messages"]
        assert sorted(m["client_id"] for m in got) == sorted(sent)
        assert seqs(got) == list(range(len(sent), 0, -1))


async def send_many_ids(ws: WS, client_ids: list[str]) -> list[dict[str, Any]]:
    for cid in client_ids:
        await ws.send({"action": "send", "channel": "general", "text": cid, "client_id": cid})
    acks = []
    async with asyncio.timeout(3 * WAIT):  # a bulk wait: a bound, not a delay
        while len(acks) < len(client_ids):
            frame = await ws.recv()
            assert frame["type"] == "ack", frame
            acks.append(frame)
    return acks


async def test_shutdown_sends_going_away(server_factory: Callable[..., Server]) -> None:
    server = server_factory(*FAST)
    t = await setup(server)
    async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as http:
        # a room for the guest: guests enter only existing public channels
        r = await http.post("/api/channels", json={"name": "lobby"}, headers=auth(t["alice"]))
        assert r.status_code == 201, r.text
    # No client-side flow control (max_queue=None): these clients do not read
    # while the server shuts down, yet must see its close frame.
    async with (
        online(server, t["alice"], max_queue=None) as user,
        online(server, t["bob"], max_queue=None) as flooder,
        ws_connect(server.ws_url, max_queue=None) as unauthenticated,
        ws_connect(f"{server.ws_url}?room_name=lobby", max_queue=None) as guest,
    ):
        await user.request({"action": "subscribe", "channel": "general"})
        await guest.request({"action": "ping"})
        # A client with more frames queued than the server reads ahead of
        # (its reading is paused): its closing handshake must still finish.
        for i in range(300):
            cid = f"flood{i}"
            await flooder.send(
                {"action": "send", "channel": "general", "text": cid, "client_id": cid}
            )
        await flooder.expect("ack")
        started = time.monotonic()
        await asyncio.to_thread(server.stop, signal.SIGTERM)
        # Well within uvicorn's 5 s graceful-shutdown timeout: nobody hung.
        assert time.monotonic() - started < 4
        for ws in (user, unauthenticated, guest, flooder):
            with pytest.raises(websockets.ConnectionClosed) as info:
                while True:
                    await ws.recv()
            assert info.value.rcvd is not None
            assert info.value.rcvd.code == 1001
    assert not [line for line in server.log if "Traceback" in line], "".join(server.log)
