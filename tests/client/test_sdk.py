"""The SDK against a real server process: REST, events, reconnect and resume."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from typing import TypeVar

import httpx
import pytest

from hubbub.client import Client, HubbubError
from hubbub.protocol import frames
from support import WAIT, Proxy, Server, auth, register


async def next_message(client: Client) -> frames.Message:
    async with asyncio.timeout(WAIT):
        async for event in client.events():
            if isinstance(event, frames.Message):
                return event
    raise AssertionError("events ended")


async def test_rest_calls_and_errors(server: Server) -> None:
    async with Client(server.url) as c:
        await c.register("ann", "correct horse")
        assert (await c.me())["username"] == "ann"
        await c.create_channel("ops", topic="hi")
        # (A server may also have put every new account in #general.)
        assert [ch["name"] for ch in await c.channels() if ch["name"] != "general"] == ["ops"]
        assert (await c.channel("ops"))["topic"] == "hi"
        with pytest.raises(HubbubError) as e:
            await c.join("nope")
        assert (e.value.code, e.value.status) == ("not_found", 404)
        with pytest.raises(HubbubError) as e:
            await c.login("ann", "wrong password")
        assert e.value.code == "bad_credentials"
    async with Client("http://127.0.0.1:9") as down:
        with pytest.raises(HubbubError) as e:
            await down.login("ann", "x" * 8)
        assert e.value.code == "unreachable"


async def test_notification_settings(server: Server) -> None:
    async with Client(server.url) as c:
        await c.register("nia", "correct horse")
        assert (await c.notifications()).dnd is False
        snoozed = await c.set_notifications(dnd_minutes=30, email="nia@example.com")
        assert snoozed.dnd and snoozed.dnd_until is not None
        off = await c.set_notifications(dnd_until=None)
        assert (off.dnd, off.email) == (False, "nia@example.com")
        with pytest.raises(HubbubError) as e:  # this server has no --smtp-url
            await c.set_notifications(email_digest=True)
        assert (e.value.code, e.value.status) == ("unsupported", 501)
        await c.create_channel("nia-ops")
        muted = await c.set_channel_notifications("nia-ops", muted=True)
        assert (muted.level, muted.muted) == ("mentions", True)
        assert (await c.channel_notifications("nia-ops")).muted is True
        with pytest.raises(HubbubError) as e:
            await c.set_channel_notifications("nia-ops", level="loud")
        assert (e.value.code, e.value.field) == ("invalid_input", "level")


async def test_events_in_order_and_acks(server: Server) -> None:
    async with Client(server.url) as a, Client(server.url) as b:
        await a.register("ann", "correct horse")
        await b.register("bob", "correct horse")
        await a.create_channel("ops")
        await b.join("ops")
        await a.connect()
        await b.connect()
        await b.subscribe("ops")
        sent = [await a.send("ops", f"m{i}") for i in range(20)]
        assert [m.seq for m in sent] == list(range(1, 21))
        got = [await next_message(b) for _ in range(20)]
        assert [(m.seq, m.text) for m in got] == [(i, f"m{i - 1}") for i in range(1, 21)]
        with pytest.raises(HubbubError) as e:
            await a.send("nope", "x")
        assert e.value.code == "not_found"


async def test_resume_after_server_restart(server_factory: Callable[..., Server]) -> None:
    server = server_factory()
    async with Client(server.url) as a:
        await a.register("ann", "correct horse")
        async with httpx.AsyncClient(base_url=server.url) as http:
            bob = await register(http, "bob")
        await a.create_channel("ops")
        await a.connect()
        await a.subscribe("ops")
        for i in range(3):
            await a.send("ops", f"before-{i}")
        server.stop(signal.SIGKILL)
        restarted = server_factory(data_dir=server.data_dir, port=server.port)
        async with httpx.AsyncClient(base_url=restarted.url) as http:
            await http.post("/api/channels/ops/join", headers=auth(bob))
            for i in range(5):  # while ann may still be reconnecting
                r = await http.post(
                    "/api/channels/ops/messages",
                    json={"text": f"after-{i}", "client_id": f"b{i}"},
                    headers=auth(bob),
                )
                assert r.status_code == 201
        await a.wait_connected(WAIT)
        texts = [(await next_message(a)).text for _ in range(8)]
        assert texts == [f"before-{i}" for i in range(3)] + [f"after-{i}" for i in range(5)]
        assert a.reconnects >= 1 and a.last_seq["ops"] == 8
        # Nothing delivered twice: the only messages left are none at all.
        assert not [e for e in drain(a) if isinstance(e, frames.Message)]


def drain(client: Client) -> list[frames.ServerFrame]:
    out = []
    while not client._events.empty():
        item = client._events.get_nowait()
        assert not isinstance(item, HubbubError)
        out.append(item)
    return out


async def test_lost_ack_is_resent_under_the_same_client_id(server: Server) -> None:
    proxy = await Proxy(server.port).start()
    try:
        async with Client(proxy.url) as a:
            await a.register("ann", "correct horse")
            await a.create_channel("ops")
            await a.connect()
            proxy.blackhole = True  # the server commits, the ack never arrives
            sending = asyncio.create_task(a.send("ops", "only once", client_id="cid-1"))
            async with httpx.AsyncClient(base_url=server.url) as http:
                async with asyncio.timeout(WAIT):
                    while True:  # wait until it is stored
                        r = await http.get(
                            "/api/channels/ops/messages", headers=auth(a.token or "")
                        )
                        if r.json()["messages"]:
                            break
                proxy.blackhole = False
                proxy.cut()
                msg = await asyncio.wait_for(sending, WAIT)
                assert (msg.seq, msg.client_id) == (1, "cid-1")
                r = await http.get("/api/channels/ops/messages", headers=auth(a.token or ""))
                assert [m["text"] for m in r.json()["messages"]] == ["only once"]
    finally:
        await proxy.close()


async def test_bad_token_is_fatal_not_retried(server: Server) -> None:
    async with Client(server.url, token="forged") as c:
        with pytest.raises(HubbubError) as e:
            await c.connect()
        assert e.value.code == "auth_failed"


async def test_names_are_one_url_segment(server: Server) -> None:
    """`#`, `?`, `/`, `:` and `,` in a name never become URL syntax (a `#` once
    made `POST /api/channels/` out of `#general-chat`)."""
    async with Client(server.url) as bob:
        await bob.register("bob", "correct horse")
    async with Client(server.url) as c:
        await c.register("ann", "correct horse")
        for name in ("#general-chat", "a?b=c", "x/y"):
            with pytest.raises(HubbubError) as e:
                await c.post(name, "hi")
            assert (e.value.code, e.value.status) == ("not_found", 404), e.value
            if "/" not in name:  # (the server decodes %2F before routing: no route)
                assert repr(name) in e.value.message
        # ... so `x/messages` routes as message `messages` of #x, which takes no POST.
        with pytest.raises(HubbubError) as e:
            await c.post("x/messages", "hi")
        assert (e.value.code, e.value.status) == ("method_not_allowed", 405), e.value
        dm = (await c.open_dm(["bob"]))["name"]
        assert dm == "dm:ann,bob"
        sent = await c.post(dm, "psst", client_id="p-1")
        assert (sent.channel, sent.seq, sent.text) == (dm, 1, "psst")
        assert (await c.post(dm, "psst", client_id="p-1")).seq == 1  # a retry: the same one
        page, _ = await c.history(dm)
        assert [m.text for m in page] == ["psst"]
        assert (await c.channel(dm))["is_member"] is True


F = TypeVar("F", bound=frames.ServerFrame)


async def next_of(client: Client, kind: type[F]) -> F:
    async with asyncio.timeout(WAIT):
        async for event in client.events():
            if isinstance(event, kind):
                return event
    raise AssertionError("events ended")


async def test_edit_delete_react_and_the_events_they_make(server: Server) -> None:
    async with Client(server.url) as a, Client(server.url) as b:
        await a.register("ann", "correct horse")
        await b.register("bob", "correct horse", display_name="Bob Builder")
        await a.create_channel("ops")
        await b.join("ops")
        await a.connect()
        await b.connect()
        await b.subscribe("ops")
        m = await a.send("ops", "draft")
        assert (await next_message(b)).seq == m.seq

        edited = await a.edit("ops", m.seq, "final")
        assert isinstance(edited, frames.Changed)
        assert (edited.seq, edited.message.seq, edited.message.text) == (m.seq + 1, m.seq, "final")
        assert edited.message.edited_at is not None
        event = await next_of(b, frames.MessageUpdated)
        assert (event.channel, event.seq, event.message.text) == ("ops", edited.seq, "final")
        assert b.last_seq["ops"] == edited.seq  # the cursor moves on changes too
        assert (await a.edit("ops", m.seq, "final")).seq is None  # a retry: nothing new

        reacted = await b.react("ops", m.seq, ":+1:")
        assert [(r.emoji, r.users) for r in reacted.message.reactions] == [("👍", ["bob"])]
        assert (await next_of(b, frames.MessageUpdated)).seq == reacted.seq
        taken = await b.unreact("ops", m.seq, "👍")
        assert taken.message.reactions == [] and taken.seq == reacted.seq + 1
        gone = await a.delete("ops", m.seq)
        assert gone.message.deleted and gone.message.text == ""
        assert (await a.delete("ops", m.seq)).seq is None
        event = await next_of(b, frames.MessageUpdated)
        event = event if event.seq == gone.seq else await next_of(b, frames.MessageUpdated)
        assert event.message.deleted and b.last_seq["ops"] == gone.seq

        other = await a.send("ops", "keep")
        for call, code in [
            (b.edit("ops", other.seq, "mine now"), "forbidden"),
            (b.delete("ops", other.seq), "forbidden"),
            (a.edit("ops", 999, "x"), "not_found"),
            (a.edit("ops", m.seq, "back"), "message_deleted"),
            (b.react("ops", m.seq, "👍"), "message_deleted"),
            (b.react("ops", other.seq, "not an emoji"), "invalid_input"),
            (a.react("nope", other.seq, "👍"), "not_found"),
        ]:
            with pytest.raises(HubbubError) as e:
                await call
            assert e.value.code == code, e.value
        page, _ = await a.history("ops")
        assert [(x.seq, x.text, x.deleted) for x in page] == [
            (other.seq, "keep", False),
            (m.seq, "", True),
        ]

        assert await a.users("BUILD") == [
            {
                "username": "bob",
                "display_name": "Bob Builder",
                "role": "member",
                "custom_status": None,
                "deactivated": False,
                "bot": False,
            }
        ]
        assert [u["username"] for u in await a.users()] == ["ann", "bob"]
        assert [u["username"] for u in await a.users(limit=1, after="ann")] == ["bob"]


async def test_changes_missed_while_away_are_replayed_once(server: Server) -> None:
    proxy = await Proxy(server.port).start()
    try:
        async with Client(server.url) as a, Client(proxy.url, max_backoff=0.3) as b:
            await a.register("ann", "correct horse")
            await b.register("bob", "correct horse")
            await a.create_channel("ops")
            await b.join("ops")
            await a.connect()
            await b.connect()
            await b.subscribe("ops")
            m = await a.send("ops", "before")
            assert (await next_message(b)).seq == m.seq
            edited = await a.edit("ops", m.seq, "edited")
            assert (await next_of(b, frames.MessageUpdated)).seq == edited.seq
            proxy.cut()  # bob is away for a moment ...
            again = await a.edit("ops", m.seq, "edited again")
            later = await a.send("ops", "after")
            # ... and gets what he missed: the change, then the message, once each.
            event = await next_of(b, frames.MessageUpdated)
            assert (event.seq, event.message.text) == (again.seq, "edited again")
            assert (await next_message(b)).seq == later.seq
            assert b.last_seq["ops"] == later.seq and b.reconnects >= 1
            left = drain(b)
            assert not [e for e in left if isinstance(e, frames.Message | frames.MessageUpdated)]
    finally:
        await proxy.close()


def body(seq: int) -> dict[str, object]:
    return {
        "channel": "ops",
        "seq": seq,
        "author": {"username": "ann", "display_name": "Ann"},
        "text": f"m{seq}",
        "client_id": None,
        "created_at": 0,
    }


async def test_the_cursor_counts_messages_changes_and_skips_alike() -> None:
    """A hole before a `message_updated` is filled (a replay from the last
    seq), never skipped; an event at or before the cursor is not delivered
    again; `skipped` places count as seen."""
    c = Client("http://127.0.0.1:9")
    refills: list[tuple[str, int]] = []

    async def refill(channel: str, since: int) -> None:
        refills.append((channel, since))

    c._refill = refill  # type: ignore[method-assign]
    c._subscribed["ops"] = None
    c.last_seq["ops"] = 3
    c._dispatch({"type": "message_updated", "channel": "ops", "seq": 5, "message": body(1)})
    await asyncio.sleep(0)
    assert refills == [("ops", 3)] and c.last_seq["ops"] == 3 and not drain(c)

    c._dispatch({"type": "message_updated", "channel": "ops", "seq": 4, "message": body(1)})
    c._dispatch({"type": "message_updated", "channel": "ops", "seq": 4, "message": body(1)})
    c._dispatch({"type": "skipped", "channel": "ops", "first": 5, "last": 6})
    c._dispatch({"type": "message", **body(7)})
    c._dispatch({"type": "message", **body(6)})  # behind the cursor: already seen
    got = drain(c)
    assert [(type(e).__name__, getattr(e, "seq", None)) for e in got] == [
        ("MessageUpdated", 4),
        ("Message", 7),
    ]
    assert c.last_seq["ops"] == 7 and refills == [("ops", 3)]
    await c.close()


async def test_pin_unpin_and_the_pinned_list(server: Server) -> None:
    async with Client(server.url) as a, Client(server.url) as b:
        await a.register("ann", "correct horse")
        await b.register("bob", "correct horse")
        await a.create_channel("ops")
        await b.join("ops")
        await a.connect()
        await b.connect()
        await b.subscribe("ops")
        m = await a.send("ops", "runbook: https://example.com/runbook")
        assert (await next_message(b)).seq == m.seq

        pinned = await b.pin("ops", m.seq)
        assert (pinned.seq, pinned.message.pinned_by) == (m.seq + 1, "bob")
        event = await next_of(b, frames.MessageUpdated)
        assert (event.seq, event.message.pinned_by) == (pinned.seq, "bob")
        assert (await a.pin("ops", m.seq)).seq is None  # already pinned
        assert [(x.seq, x.pinned_by) for x in await a.pins("ops")] == [(m.seq, "bob")]
        unpinned = await a.unpin("ops", m.seq)
        assert unpinned.message.pinned_by is None and unpinned.seq == pinned.seq + 1
        assert await b.pins("ops") == []
        with pytest.raises(HubbubError) as e:
            await a.pin("ops", 999)
        assert e.value.code == "not_found"


async def test_threads_through_the_sdk_and_rest(server: Server) -> None:
    async with Client(server.url) as a, Client(server.url) as b:
        await a.register("ann", "correct horse")
        await b.register("bob", "correct horse")
        await a.create_channel("ops")
        await b.join("ops")
        await a.connect()
        await b.connect()
        await b.subscribe("ops")
        root = await a.send("ops", "disk full on db1")
        assert (await next_message(b)).seq == root.seq
        reply = await b.send("ops", "on it", thread_root=root.seq)
        assert (reply.thread_root, reply.broadcast) == (root.seq, False)
        assert (await next_message(b)).seq == reply.seq  # the reply, to followers
        event = await next_of(b, frames.MessageUpdated)
        assert (event.seq, event.message.seq, event.message.reply_count) == (
            reply.seq + 1,
            root.seq,
            1,
        )
        shared = await a.send("ops", "fixed", thread_root=reply.seq, broadcast=True)
        assert (shared.thread_root, shared.broadcast) == (root.seq, True)

        top, replies, more = await b.thread("ops", root.seq, after=0)
        assert (top.reply_count, top.reply_users, more) == (2, ["bob", "ann"], False)
        assert [m.seq for m in replies] == [reply.seq, shared.seq]
        page, _ = await b.history("ops")
        assert [m.seq for m in page] == [shared.seq, root.seq]  # the reply stays in its thread

        # Replying read the thread up to your reply: ann has nothing unread,
        # bob has her reply after his.
        assert [t.unread for t in await a.threads()] == [0]
        [followed] = await b.threads()
        assert (followed.channel, followed.root.seq, followed.unread) == ("ops", root.seq, 1)
        assert await b.read_thread("ops", root.seq, shared.seq) == shared.seq
        assert [t.unread for t in await b.threads()] == [0]
        with pytest.raises(HubbubError) as e:
            await a.send("ops", "?", thread_root=999)
        assert (e.value.code, e.value.field) == ("not_found", "thread_root")
        with pytest.raises(HubbubError) as e:
            await a.thread("ops", 999)
        assert e.value.code == "not_found"


async def test_sessions_profile_administration_and_a_rename(server: Server) -> None:
    """The SDK's account and admin calls against a real server, and a client
    that follows a channel through its rename and stops for good when its
    session ends."""
    async with Client(server.url) as owner, Client(server.url) as ann, Client(server.url) as tab:
        await owner.register("boss", "correct horse")  # the first account: the owner
        assert (await owner.me())["role"] == "owner"
        await ann.register("ann", "correct horse")
        await tab.login("ann", "correct horse")  # a second session of ann's
        sessions = await ann.sessions()
        assert len(sessions) == 2 and [s["current"] for s in sessions].count(True) == 1

        # A rename while ann follows the channel: she keeps it under its new name.
        await owner.create_channel("lab")
        await ann.join("lab")
        await ann.connect()
        await ann.subscribe("lab")
        first = await owner.post("lab", "before")
        assert (await next_message(ann)).seq == first.seq
        renamed = await owner.update_channel("lab", name="studio", purpose="making things")
        assert (renamed["name"], renamed["purpose"]) == ("studio", "making things")
        update = await next_of(ann, frames.ChannelUpdated)
        assert (update.renamed_from, update.channel.name) == ("lab", "studio")
        assert ann.subscriptions == ("studio",) and ann.last_seq["studio"] >= first.seq
        after = await owner.post("lab", "after")  # the old name still reaches it
        got = await next_message(ann)
        assert (got.channel, got.text, got.seq) == ("studio", "after", after.seq)

        # Profile and status; an admin's view of them; the audit log.
        me = await ann.update_profile(display_name="Ann Lee", status=("🌴", "away", None))
        assert me["display_name"] == "Ann Lee" and me["custom_status"]["text"] == "away"
        await owner.set_role("ann", "admin")
        with pytest.raises(HubbubError) as e:
            await ann.set_role("boss", "member")  # admins cannot touch owners
        assert e.value.code == "forbidden"
        invite = await owner.create_invite(max_uses=2, channels=["studio"])
        assert invite["code"] and invite["state"] == "active"
        assert [i["id"] for i in await owner.invites()] == [invite["id"]]
        await owner.revoke_invite(invite["id"])
        assert (await owner.invites())[0]["state"] == "revoked"
        actions = [e["action"] for e in await owner.audit_log()]
        assert actions[:4] == ["invite.revoke", "invite.create", "user.role", "channel.rename"]

        # A new password ends ann's other session: its connection stops, fatally.
        await tab.connect()
        await ann.change_password("correct horse", "a better horse")
        with pytest.raises(HubbubError) as e:
            await next_of(tab, frames.Message)
        assert e.value.code == "session_ended"
        with pytest.raises(HubbubError) as e:
            await tab.me()
        assert e.value.code == "session_ended"
        assert len(await ann.sessions()) == 1

        # Deactivated: ann's own connection ends too, and she cannot log in.
        await owner.set_active("ann", False)
        with pytest.raises(HubbubError) as e:
            await next_of(ann, frames.Message)
        assert e.value.code == "account_deactivated"
        async with Client(server.url) as again:
            with pytest.raises(HubbubError) as e:
                await again.login("ann", "a better horse")
            assert e.value.code == "account_deactivated"

        await owner.logout()
        assert owner.token is None
