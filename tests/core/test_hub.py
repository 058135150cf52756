"""The core service without sockets: a real SQLite store and the memory bus,
with events captured where the gateway would receive them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from hubbub.bus.memory import MemoryBus
from hubbub.core import envelope, events
from hubbub.core.hub import Hub
from hubbub.core.models import User
from hubbub.protocol.errors import ChatError, ErrorCode
from hubbub.protocol.limits import Limits
from hubbub.store import open_store


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def hub(tmp_path: Path, clock: Clock) -> AsyncIterator[Hub]:
    bus = MemoryBus()
    limits = Limits(messages_per_second=1, message_burst=3, resume_limit=5, login_failures=3)
    h = Hub(open_store(f"sqlite:///{tmp_path / 'hub.db'}"), bus, limits, clock=clock)
    await h.start()
    h.seen = []  # type: ignore[attr-defined]

    def seen(topic: str, data: bytes) -> None:
        for env in envelope.unpack(data):
            event = orjson.loads(env.frame)
            # Only messages are in the channel's log (a `read` has a seq of its own).
            in_log = event["seq"] if event["type"] == "message" else 0
            assert (env.seq, env.kind) == (in_log, event["type"])
            h.seen.append((topic, event))  # type: ignore[attr-defined]

    await bus.start(seen)
    yield h
    await h.stop()


async def code_of(awaitable: object) -> ErrorCode:
    with pytest.raises(ChatError) as e:
        await awaitable  # type: ignore[misc]
    return e.value.code


async def test_register_login_and_throttle(hub: Hub, clock: Clock) -> None:
    user, token = await hub.register("ann", "correct horse", "Ann")
    assert (await hub.authenticate(token)).user == user
    assert await code_of(hub.register("ann", "another pw")) is ErrorCode.conflict
    stranger, owner = "203.0.113.7", "198.51.100.1"
    for _ in range(3):
        wrong = hub.login("ann", "wrong pw!", address=stranger)
        assert await code_of(wrong) is ErrorCode.bad_credentials
    right = hub.login("ann", "correct horse", address=stranger)
    assert await code_of(right) is ErrorCode.login_throttled
    # Only for that address: the owner, elsewhere, logs in.
    _, token2 = await hub.login("ann", "correct horse", address=owner)
    assert (await hub.authenticate(token2)).user.username == "ann"
    clock.now += hub.limits.login_window + 1
    await hub.login("ann", "correct horse", address=stranger)
    assert await code_of(hub.login("nobody", "whatever1")) is ErrorCode.bad_credentials


async def test_registration_is_throttled_per_address(hub: Hub, clock: Clock) -> None:
    limit = hub.limits.registrations_per_hour
    for i in range(limit):
        await hub.register(f"bot{i}", "correct horse", address="203.0.113.7")
    with pytest.raises(ChatError) as e:
        await hub.register("onemore", "correct horse", address="203.0.113.7")
    assert e.value.code is ErrorCode.registration_throttled
    assert e.value.retry_after is not None and 0 < e.value.retry_after <= 3600
    assert await hub.store.get_user_by_name("onemore") is None
    await hub.register("onemore", "correct horse", address="198.51.100.1")
    clock.now += 3600
    await hub.register("another", "correct horse", address="203.0.113.7")


async def test_private_channels_and_dms_are_invisible_to_others(hub: Hub) -> None:
    ann, _ = await hub.register("ann", "correct horse")
    bob, _ = await hub.register("bob", "correct horse")
    await hub.create_channel(ann, "secret", private=True)
    dm = await hub.open_dm(ann, ["bob"])
    assert dm.name == "dm:ann,bob" and (await hub.open_dm(bob, ["ann"])).id == dm.id
    carl, _ = await hub.register("carl", "correct horse")
    for name in ("secret", dm.name):
        assert await code_of(hub.channel_for(carl, name)) is ErrorCode.not_found
        assert await code_of(hub.join(carl, name)) is ErrorCode.not_found
        assert await code_of(hub.send(carl, name, "hi", "c")) is ErrorCode.not_found
    names = [c["name"] for c in (await hub.channel_page(carl))[0]]
    assert "secret" not in names and dm.name not in names
    await hub.invite(ann, "secret", "carl")
    assert (await hub.member_channel(carl, "secret")).channel.member_count == 2
    assert await code_of(hub.leave(ann, dm.name)) is ErrorCode.forbidden


async def test_send_is_idempotent_and_published_once(hub: Hub) -> None:
    ann, _ = await hub.register("ann", "correct horse")
    ch = (await hub.member_channel(ann, "general")).channel  # joined on registering
    hub.seen.clear()  # type: ignore[attr-defined]
    await hub.bus.subscribe(events.channel_topic(ch.id))
    first = await hub.send(ann, "general", "hello", "c1")
    again = await hub.send(ann, "general", "hello", "c1")
    assert (first.seq, first.duplicate) == (1, False)
    assert (again.seq, again.duplicate) == (1, True)
    published = [e for _, e in hub.seen if e["type"] == "message"]  # type: ignore[attr-defined]
    assert [(e["seq"], e["text"]) for e in published] == [(1, "hello")]


async def test_rate_limit_and_text_limits(hub: Hub) -> None:
    ann, _ = await hub.register("ann", "correct horse")  # joins #general
    for i in range(3):
        await hub.send(ann, "general", f"m{i}", f"c{i}")
    assert await code_of(hub.send(ann, "general", "too fast", "c9")) is ErrorCode.rate_limited
    hub.clock.now += 1  # type: ignore[attr-defined]
    for text in ("", "   ", "x" * (hub.limits.max_message_chars + 1)):
        assert await code_of(hub.send(ann, "general", text, "t")) is ErrorCode.message_too_long


async def test_missed_replays_or_says_it_cannot(hub: Hub, clock: Clock) -> None:
    ann, _ = await hub.register("ann", "correct horse")
    ch = (await hub.member_channel(ann, "general")).channel  # joined on registering
    for i in range(8):
        clock.now += 1
        await hub.send(ann, "general", f"m{i}", f"c{i}")
    rows, ok = await hub.missed(ch, 4)
    assert ok and [m.seq for m in rows] == [5, 6, 7, 8]
    rows, ok = await hub.missed(ch, 1)  # 7 missed > resume_limit 5
    assert not ok and rows == []


async def test_read_cursor_and_presence_events(hub: Hub) -> None:
    ann, _ = await hub.register("ann", "correct horse")  # joins #general
    await hub.send(ann, "general", "hello", "c1")
    for topic in (events.user_topic(ann.id), events.presence_topic(ann.id)):
        await hub.bus.subscribe(topic)
    hub.seen.clear()  # type: ignore[attr-defined]
    assert await hub.mark_read(ann, "general", 99) == 1  # clamped to last_seq
    await hub.connected(ann)
    await hub.connected(ann)
    await hub.disconnected(ann)
    await hub.disconnected(ann)
    kinds = [(e["type"], e.get("status") or e.get("seq")) for _, e in hub.seen]  # type: ignore[attr-defined]
    assert kinds == [("read", 1), ("presence", "online"), ("presence", "offline")]


async def test_a_subscribers_first_send_needs_no_lookup(hub: Hub) -> None:
    await hub.register("ann", "correct horse")  # makes #general
    bob, _ = await hub.register("bob", "correct horse")  # and joins it
    hub2 = Hub(hub.store, hub.bus, hub.limits)  # a node that just restarted: empty caches
    hub2.writer = hub.writer
    await hub2.channel_for(bob, "general")  # what subscribing does
    lookups = 0
    get_channel = hub.store.get_channel

    async def counted(name: str) -> object:
        nonlocal lookups
        lookups += 1
        return await get_channel(name)

    hub.store.get_channel = counted  # type: ignore[method-assign]
    stored = await hub2.send(bob, "general", "hello", "c1")
    assert (stored.author, stored.seq) == ("bob", 1)
    assert lookups == 0
    await hub2.leave(bob, "general")  # leaving forgets: the next send is checked again
    assert await code_of(hub2.send(bob, "general", "again", "c2")) is ErrorCode.not_a_member


async def test_here_is_a_mention_of_every_member_but_the_author(hub: Hub) -> None:
    ann, _ = await hub.register("ann", "correct horse")  # joins #general
    bob, _ = await hub.register("bob", "correct horse")
    for name in ("here", "channel", "everyone"):
        assert await code_of(hub.register(name, "correct horse")) is ErrorCode.conflict
    await hub.send(ann, "general", "@here standup in 5", "c1")
    await hub.send(ann, "general", "and @channel, @everyone: the release", "c2")
    await hub.send(bob, "general", "@here on my way", "c3")  # reads ann's first: it is before
    await hub.send(ann, "general", "@hereafter is no mention", "c4")

    async def counts(user: User) -> tuple[int, int]:
        m = await hub.member_channel(user, "general")
        view = await hub.channel_view(user, m.channel, m)
        return view["unread"], view["mentions"]

    assert await counts(bob) == (1, 0)  # after his own message, only c4
    assert await counts(ann) == (0, 0)  # her @here is no mention of her
    bob2, _ = await hub.register("bob2", "correct horse")  # joined after: none unread
    assert await counts(bob2) == (0, 0)
    hub.clock.now += 10  # type: ignore[attr-defined]
    await hub.send(ann, "general", "@here one more", "c5")
    await hub.send(bob, "general", "hi @ann", "c6")
    assert await counts(bob2) == (2, 1)
    assert await counts(ann) == (1, 1)  # bob's reply; his @here came before hers
