"""Scale-out under failure: three nodes on one PostgreSQL and one Redis, 50+
clients spread over them, thousands of messages, one node SIGKILLed and Redis
restarted mid-run. Nothing acknowledged may be lost, nothing delivered twice,
and every client sees every channel in `seq` order."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hubbub.client import Client, HubbubError
from hubbub.protocol import frames
from services import PrivateRedis, drop_database, fresh_postgres_database
from support import Server, start_server

USERS = 51
CHANNELS = 10
PER_USER = 60  # 3,060 messages in all
# All 51 accounts are registered from one address (127.0.0.1).
LIMITS = "messages_per_second=1000,message_burst=1000,presence_ttl=3,registrations_per_hour=100"


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    url = await fresh_postgres_database()
    yield url
    await drop_database(url)


def rooms_of(i: int) -> list[str]:
    return [f"room{i % CHANNELS}", f"room{(i + 3) % CHANNELS}"]


class Member:
    """One user on one node (falling back to the others), recording what it
    sends, what is acknowledged and what it receives."""

    def __init__(self, i: int, urls: list[str]) -> None:
        self.i = i
        self.name = f"user{i}"
        self.client = Client(urls[i % 3 :] + urls[: i % 3], timeout=30)
        self.acked: list[frames.MessageOut] = []
        self.got: dict[str, list[int]] = defaultdict(list)
        self.reader: asyncio.Task[None] | None = None

    async def read(self) -> None:
        async for event in self.client.events():
            if isinstance(event, frames.Message):
                self.got[event.channel].append(event.seq)

    async def send_all(self, progress: asyncio.Queue[int]) -> None:
        for k in range(PER_USER):
            room = rooms_of(self.i)[k % 2]
            msg = await self.client.send(room, f"{self.name} #{k}", client_id=f"{self.name}-{k}")
            self.acked.append(msg)
            progress.put_nowait(1)


async def test_three_nodes_one_killed_and_redis_restarted_lose_nothing(
    tmp_path: Path, pg_url: str
) -> None:
    redis = PrivateRedis()
    redis.start()
    common = ("--database-url", pg_url, "--bus-url", redis.url, "--limit", LIMITS)
    nodes: list[Server] = [start_server(tmp_path / f"node{n}", *common) for n in range(3)]
    urls = [n.url for n in nodes]
    members = [Member(i, urls) for i in range(USERS)]
    try:
        # Accounts and channels, each member through its own node.
        await asyncio.gather(*(m.client.register(m.name, "correct horse") for m in members))
        for c in range(CHANNELS):
            await members[0].client.create_channel(f"room{c}")  # user0 is in all of them
        for m in members[1:]:
            for room in rooms_of(m.i):
                await m.client.join(room)
        for m in members:
            await m.client.connect()
            for room in rooms_of(m.i):
                await m.client.subscribe(room, since=0)
            m.reader = asyncio.create_task(m.read())
        assert {m.client.server for m in members} == set(urls)  # spread over the nodes

        progress: asyncio.Queue[int] = asyncio.Queue()
        senders = [asyncio.create_task(m.send_all(progress)) for m in members]
        total = USERS * PER_USER
        done = 0

        async def wait_acks(n: int) -> None:
            nonlocal done
            async with asyncio.timeout(120):
                while done < n:
                    await progress.get()
                    done += 1

        await wait_acks(total // 3)
        nodes[1].stop(signal.SIGKILL)  # clients on it reconnect to the others
        await wait_acks(total // 2)
        redis.kill()  # fan-out between nodes stops; sends keep being acknowledged
        await wait_acks(total // 2 + 200)
        redis.start()
        async with asyncio.timeout(180):
            await asyncio.gather(*senders)

        # The truth: what is stored, per channel.
        stored: dict[str, list[frames.MessageOut]] = {}
        reader = members[0].client
        for c in range(CHANNELS):
            room, rows, before = f"room{c}", [], None
            while True:
                page, more = await reader.history(room, before=before, limit=200)
                rows += page
                if not more:
                    break
                before = page[-1].seq
            stored[room] = sorted(rows, key=lambda r: r.seq)

        # 0 acknowledged messages lost, each stored once with the acked seq.
        for room, rows in stored.items():
            assert [r.seq for r in rows] == list(range(1, len(rows) + 1)), room
            ids = [r.client_id for r in rows]
            assert len(ids) == len(set(ids)), f"duplicate in {room}"
        by_id = {(r.channel, r.client_id): r.seq for rows in stored.values() for r in rows}
        acked = [(a.channel, a.client_id, a.seq) for m in members for a in m.acked]
        assert len(acked) == total
        assert all(by_id.get((ch, cid)) == seq for ch, cid, seq in acked)
        assert sum(len(r) for r in stored.values()) == total  # nothing unacked crept in

        # Every client ends with every message of its channels once, in order.
        async with asyncio.timeout(60):
            while True:
                behind = [
                    (m.name, room)
                    for m in members
                    for room in rooms_of(m.i)
                    if len(m.got[room]) < len(stored[room])
                ]
                if not behind:
                    break
                await asyncio.sleep(0.2)  # polling many clients' progress, bounded above
        for m in members:
            for room in rooms_of(m.i):
                assert m.got[room] == list(range(1, len(stored[room]) + 1)), (m.name, room)
        assert sum(m.client.reconnects for m in members) > 0
    finally:
        for m in members:
            if m.reader is not None:
                m.reader.cancel()
            with contextlib.suppress(HubbubError):
                await m.client.close()
        for n in nodes:
            n.stop()
        redis.kill()
