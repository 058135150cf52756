"""Per-channel order on one node, whatever the bus does: duplicates dropped,
gaps filled from the store before anything after them."""

from __future__ import annotations

import asyncio

import orjson

from hubbub.bus.memory import MemoryBus
from hubbub.core import envelope
from hubbub.core.envelope import Envelope
from hubbub.core.models import Channel, StoredMessage
from hubbub.server.fanout import Fanout
from hubbub.server.wsframe import text_frame
from support import WAIT

TOPIC = "c:7"


def frame(seq: int) -> bytes:
    return orjson.dumps(
        {
            "type": "message",
            "channel": "general",
            "seq": seq,
            "author": {"username": "ann", "display_name": "Ann"},
            "text": f"m{seq}",
            "client_id": None,
            "created_at": 0,
        }
    )


def env(seq: int) -> Envelope:
    return Envelope(seq, "message", frame(seq))


def event(seq: int) -> bytes:
    """One bus message carrying message `seq`."""
    return envelope.pack([env(seq)])


class Store:
    """What the store holds for channel 7 (the `Catchup` side of a node)."""

    def __init__(self, seqs: range, fail: bool = False) -> None:
        self.seqs = list(seqs)
        self.fail = fail
        self.calls = 0

    async def latest_seq(self, channel_id: int) -> int:
        return 0

    async def events_after(self, channel_id: int, seq: int, limit: int) -> list[Envelope]:
        self.calls += 1
        if self.fail:
            raise OSError("database is down")
        return [env(s) for s in self.seqs if s > seq][:limit]

    async def missed(self, channel: Channel, since: int) -> tuple[list[StoredMessage], bool]:
        raise AssertionError("not resumed here")


class Transport:
    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.frames.append(data)


class Conn:
    is_open = True

    def __init__(self) -> None:
        self.transport = Transport()
        self.write = self.transport.write
        self.controls: list[Envelope] = []

    def control(self, env: Envelope) -> None:
        self.controls.append(env)

    def seqs(self) -> list[int]:
        """Every event written, in order (a write may carry several frames)."""
        data, out = b"".join(self.transport.frames), []
        while data:
            n, start = data[1], 2
            if n == 126:
                n, start = int.from_bytes(data[2:4], "big"), 4
            out.append(orjson.loads(data[start : start + n])["seq"])
            data = data[start + n :]
        return out


async def setup(store: Store) -> tuple[Fanout, Conn]:
    fanout = Fanout(MemoryBus(), store)
    conn = Conn()
    await fanout.follow(TOPIC, conn)
    return fanout, conn


async def settle(fanout: Fanout) -> None:
    """Wait for the node's background fills (and any they start) to finish."""
    async with asyncio.timeout(WAIT):
        while fanout._tasks:
            await asyncio.gather(*list(fanout._tasks))


async def test_in_order_events_pass_and_duplicates_are_dropped() -> None:
    fanout, conn = await setup(Store(range(1, 4)))
    for seq in (1, 2, 2, 3, 1):
        fanout.deliver(TOPIC, event(seq))
    assert conn.seqs() == [1, 2, 3]
    assert conn.transport.frames[0] == text_frame(frame(1))  # the frame as published


async def test_a_gap_is_filled_from_the_store_before_later_events() -> None:
    store = Store(range(1, 6))
    fanout, conn = await setup(store)
    fanout.deliver(TOPIC, event(1))
    fanout.deliver(TOPIC, event(4))  # 2 and 3 were lost (or are late)
    fanout.deliver(TOPIC, event(5))  # held until the gap is filled
    await settle(fanout)
    fanout.deliver(TOPIC, event(2))  # the late one is a duplicate now
    assert conn.seqs() == [1, 2, 3, 4, 5]
    assert store.calls == 1


async def test_resync_after_a_bus_outage_delivers_what_was_missed() -> None:
    store = Store(range(1, 4))
    fanout, conn = await setup(store)
    fanout.resync()
    await settle(fanout)
    fanout.deliver(TOPIC, event(4))
    assert conn.seqs() == [1, 2, 3, 4]


async def test_when_the_store_is_down_held_events_still_go_out() -> None:
    store = Store(range(1, 4), fail=True)
    fanout, conn = await setup(store)
    fanout.deliver(TOPIC, event(3))
    await settle(fanout)
    assert conn.seqs() == [3]  # clients see the hole and ask for a replay


async def test_other_topics_are_not_sequenced() -> None:
    fanout = Fanout(MemoryBus(), Store(range(0)))
    conn = Conn()
    await fanout.follow("u:1", conn)
    read = envelope.wrap({"type": "read", "channel": "general", "seq": 1})
    for _ in range(2):
        fanout.deliver("u:1", envelope.pack([read]))
    assert len(conn.transport.frames) == 2


async def test_a_committed_batch_is_one_write_per_connection() -> None:
    fanout, conn = await setup(Store(range(1, 4)))
    fanout.deliver(TOPIC, envelope.pack(env(s) for s in (1, 2, 3)))
    assert len(conn.transport.frames) == 1
    assert conn.seqs() == [1, 2, 3]


async def test_an_event_with_a_ref_reaches_the_subscriber_before_its_bytes() -> None:
    fanout = Fanout(MemoryBus(), Store(range(0)))
    conn = Conn()
    await fanout.follow("u:1", conn)
    left = envelope.wrap({"type": "channel_left", "channel": {"name": "x"}}, ref=TOPIC)
    plain = envelope.wrap({"type": "read", "channel": "x", "seq": 1})
    fanout.deliver("u:1", envelope.pack([plain, left]))
    assert conn.controls == [left]
    assert len(conn.transport.frames) == 1  # both frames, in one write, after the control


async def test_a_subscriber_is_forgotten_everywhere_at_once() -> None:
    fanout, conn = await setup(Store(range(0)))
    await fanout.follow("u:1", conn)
    assert fanout.followed(conn) == {TOPIC, "u:1"}
    fanout.drop(conn)
    fanout.drop(conn)  # twice is harmless: a connection closes, then is lost
    assert fanout.followed(conn) == set() and not fanout.topics
