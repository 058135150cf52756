"""#general (issue #20, item 6): every new account joins the public channel
`general`, which the first registration creates. The engine does it on its
register path, so REST, and any transport that registers, get it alike."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import httpx

from hubbub.bus.memory import MemoryBus
from hubbub.core.hub import DEFAULT_CHANNEL, Hub
from hubbub.protocol.limits import Limits
from hubbub.store import open_store
from support import WAIT, Server, auth, online, register, subscribe


async def test_the_first_account_makes_general_and_every_new_one_joins_it(
    server: Server, http: httpx.AsyncClient
) -> None:
    assert DEFAULT_CHANNEL == "general"
    ann = await register(http, "ann")
    listing = (await http.get("/api/channels", headers=auth(ann))).json()
    assert [(c["name"], c["kind"], c["is_member"]) for c in listing] == [
        ("general", "public", True)
    ]
    general = listing[0]
    assert (general["member_count"], general["topic"], general["last_seq"]) == (1, "", 0)

    # ann says hello; bob joins after: her message is not unread for him.
    r = await http.post(
        "/api/channels/general/messages",
        json={"text": "hello?", "client_id": "a1"},
        headers=auth(ann),
    )
    assert r.status_code == 201, r.text
    async with online(server, ann) as ws:
        await subscribe(ws, "general")
        bob = await register(http, "bob")
        joined = await ws.expect("member_joined")
        assert joined == {
            "type": "member_joined",
            "channel": "general",
            "user": "bob",
            "member_count": 2,
        }
    view = (await http.get("/api/channels/general", headers=auth(bob))).json()
    assert (view["is_member"], view["member_count"]) == (True, 2)
    assert view["last_read"] == view["last_seq"] == 1
    r = await http.get("/api/channels/general/members", headers=auth(bob))
    assert r.json() == {"members": ["ann", "bob"]}

    # bob can post at once; and may leave #general like any channel.
    r = await http.post(
        "/api/channels/general/messages",
        json={"text": "hi ann", "client_id": "b1"},
        headers=auth(bob),
    )
    assert r.status_code == 201, r.text
    r = await http.post("/api/channels/general/leave", headers=auth(bob))
    assert r.status_code == 200 and r.json()["member_count"] == 1
    # Registering again (a name taken) joins no one.
    r = await http.post("/api/auth/register", json={"username": "bob", "password": "x" * 12})
    assert r.status_code == 409
    view = (await http.get("/api/channels/general", headers=auth(ann))).json()
    assert view["member_count"] == 1


async def test_general_is_not_a_channel_anyone_created(
    server_factory: Callable[..., Server],
) -> None:
    # Nobody asked for it: it does not count against channels_per_hour.
    server = server_factory("--limit", "channels_per_hour=1")
    async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as http:
        ann = await register(http, "ann")
        r = await http.post("/api/channels", json={"name": "mine"}, headers=auth(ann))
        assert r.status_code == 201, r.text
        # And its name is taken like any other's.
        bob = await register(http, "bob")
        r = await http.post("/api/channels", json={"name": "general"}, headers=auth(bob))
        assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"


# --- the engine itself (no server): races and a private channel of that name ----------------


async def test_concurrent_first_registrations_make_one_general(tmp_path: Path) -> None:
    hub = Hub(open_store(f"sqlite:///{tmp_path / 'g.db'}"), MemoryBus(), Limits())
    await hub.start()
    try:
        names = [f"user{i}" for i in range(6)]
        made = await asyncio.gather(*(hub.register(n, "correct horse") for n in names))
        channel = await hub.store.get_channel("general")
        assert channel is not None and channel.kind == "public"
        assert await hub.store.member_names(channel.id) == sorted(names)
        for user, _ in made:
            assert (await hub.member_channel(user, "general")).channel.id == channel.id
    finally:
        await hub.stop()


async def test_a_private_channel_named_general_is_left_alone(tmp_path: Path) -> None:
    """A database from before this feature may have a private #general: new
    accounts are not put in it (that would hand them its messages)."""
    hub = Hub(open_store(f"sqlite:///{tmp_path / 'p.db'}"), MemoryBus(), Limits())
    await hub.start()
    try:
        owner = await hub.store.create_user("owner", "owner", "x")
        private = await hub.store.create_channel("general", "private", "", [owner.id])
        newcomer, _ = await hub.register("newcomer", "correct horse")
        assert await hub.store.member_names(private.id) == ["owner"]
        assert await hub.store.membership(private.id, newcomer.id) is None
    finally:
        await hub.stop()
