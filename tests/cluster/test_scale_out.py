"""Scale-out under failure: three nodes on one PostgreSQL and one Redis, 50+
clients spread over them, thousands of messages with edits, deletes and
reactions mixed in, one node SIGKILLed and Redis restarted mid-run. Nothing
acknowledged may be lost, nothing delivered twice, every client sees every
channel in `seq` order, and every client ends with the state the store has
of every message: the edited text, a deleted one's tombstone, the reactions."""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from hubbub.client import Client, HubbubError
from hubbub.core.reactions import normalize
from hubbub.protocol import frames
from services import PrivateRedis, drop_database, fresh_postgres_database
from support import Server, start_server

USERS = 51
CHANNELS = 10
PER_USER = 60  # 3,060 messages in all, and about 150 changes
# All 51 accounts are registered from one address (127.0.0.1).
LIMITS = "messages_per_second=1000,message_burst=1000,presence_ttl=3,registrations_per_hour=100"
# After each send a member draws a number: below EDIT it edits one of its own
# messages, below DELETE deletes one, below REACT reacts to someone else's,
# below UNREACT takes one of its reactions back; otherwise it changes nothing.
# (A change is a commit of its own, sends are committed many at once: a
# change costs the run much more than a send does.)
EDIT, DELETE, REACT, UNREACT = 0.012, 0.02, 0.042, 0.05
EMOJI = ("👍", ":+1:", "🎉", ":eyes:", "🚀")  # :+1: is 👍: one reaction
REPLY = 0.1  # a send is a thread reply (to one of the member's own latest messages)
RECENT = 20  # reactions go to the latest messages, which their authors may be changing
# A change whose answer was lost (its node died) is made again, as the SDK
# re-sends a send: edit, delete, react and unreact are idempotent.
RETRY = {"connection_lost", "timeout", "unavailable", "rate_limited"}

Key = tuple[str, int]  # (channel, the message's seq)
# A client's view of a message: text, edited_at, deleted, reactions (emoji,
# count, who), and its thread: the root it replies to, or its replies' count
# and who replied.
State = tuple[
    str,
    int | None,
    bool,
    tuple[tuple[str, int, tuple[str, ...]], ...],
    tuple[int | None, int, tuple[str, ...]],
]


def state_of(m: frames.MessageOut) -> State:
    reactions = tuple((r.emoji, r.count, tuple(r.users)) for r in m.reactions)
    thread = (m.thread_root, m.reply_count, tuple(m.reply_users))
    return m.text, m.edited_at, m.deleted, reactions, thread


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    url = await fresh_postgres_database()
    yield url
    await drop_database(url)


def rooms_of(i: int) -> list[str]:
    return [f"room{i % CHANNELS}", f"room{(i + 3) % CHANNELS}"]


class Member:
    """One user on one node (falling back to the others), recording what it
    sends and changes, what is acknowledged and what it receives."""

    def __init__(self, i: int, urls: list[str]) -> None:
        self.i = i
        self.name = f"user{i}"
        self.client = Client(urls[i % 3 :] + urls[: i % 3], timeout=30)
        self.rng = random.Random(i)  # a failure reproduces with the same choices
        self.acked: list[frames.MessageOut] = []
        self.got: dict[str, list[int]] = defaultdict(list)  # seqs of `message` events
        self.places: dict[str, list[int]] = defaultdict(list)  # ... and `message_updated`
        # The client's model: each message it has, in the state the last
        # frame about it carried (whole: replaced, never added to).
        self.view: dict[Key, State] = {}
        self.others: list[Key] = []  # others' messages, as they arrived
        self.orphans: list[tuple[str, int, int]] = []  # updates of messages it never got
        # What this member's acknowledged changes leave in the store.
        self.texts: dict[Key, str] = {}  # its messages edited: the last text
        self.deleted: set[Key] = set()
        self.reacted: set[tuple[Key, str]] = set()  # (message, emoji) it reacted with
        self.change_seqs: list[Key] = []  # (channel, the change's place), if it took one
        self.did: Counter[str] = Counter()
        self.reader: asyncio.Task[None] | None = None

    async def read(self) -> None:
        async for event in self.client.events():
            if isinstance(event, frames.Message):
                key = (event.channel, event.seq)
                self.got[event.channel].append(event.seq)
                self.places[event.channel].append(event.seq)
                self.view[key] = state_of(event)
                if event.author.username != self.name:
                    self.others.append(key)
            elif isinstance(event, frames.MessageUpdated):
                key = (event.channel, event.message.seq)
                self.places[event.channel].append(event.seq)
                if key not in self.view:
                    self.orphans.append((event.channel, event.seq, event.message.seq))
                self.view[key] = state_of(event.message)

    async def send_all(self, progress: asyncio.Queue[int]) -> None:
        for k in range(PER_USER):
            room = rooms_of(self.i)[k % 2]
            roots = [
                a.seq
                for a in self.acked[-10:]
                if a.channel == room and a.thread_root is None and (room, a.seq) not in self.deleted
            ]
            root = roots[-1] if roots and self.rng.random() < REPLY else None
            self.did["reply" if root is not None else "send"] += 1
            msg = await self.client.send(
                room, f"{self.name} #{k}", client_id=f"{self.name}-{k}", thread_root=root
            )
            self.acked.append(msg)
            progress.put_nowait(1)
            await self.change_something(k)

    async def change_something(self, k: int) -> None:
        # The same draws every time, so what is done when depends on the seed
        # alone; which of the others' messages gets a reaction also depends
        # on what has arrived by then.
        draw, pick, prefer = self.rng.random(), self.rng.random(), self.rng.random()
        emoji = self.rng.choice(EMOJI)
        mine = [(a.channel, a.seq) for a in self.acked if (a.channel, a.seq) not in self.deleted]
        if draw < EDIT:
            if mine:
                key = mine[-1 - int(pick * min(5, len(mine)))]  # one of its latest
                text = f"{self.name} #{k} edited"
                if await self.change("edit", self.client.edit, *key, text):
                    self.texts[key] = text
        elif draw < DELETE:
            # Mostly one it edited (its tombstone must keep neither text),
            # else one of its latest, which others may be reacting to.
            edited = [key for key in mine if key in self.texts]
            among = edited if edited and prefer < 0.7 else mine[-5:]
            if among:
                key = among[int(pick * len(among))]
                if await self.change("delete", self.client.delete, *key):
                    self.deleted.add(key)
                    self.did["delete after edit"] += key in self.texts
        elif draw < REACT:
            recent = [key for key in self.others[-RECENT:] if not self.view[key][2]]
            if recent:
                key = recent[int(pick * len(recent))]
                if await self.change("react", self.client.react, *key, emoji):
                    self.reacted.add((key, normalize(emoji)))
        elif draw < UNREACT and self.reacted:
            made = sorted(self.reacted)
            key, emoji = made[int(pick * len(made))]
            await self.change("unreact", self.client.unreact, *key, emoji)
            self.reacted.discard((key, emoji))  # taken back, or gone with its message

    async def change(
        self, what: str, op: Callable[..., Awaitable[frames.Changed]], *args: object
    ) -> bool:
        """Make one change, again after a reconnect until it is answered;
        False if the message was deleted first (someone else's, reacted to)."""
        async with asyncio.timeout(60):
            while True:
                try:
                    changed = await op(*args)
                    break
                except HubbubError as exc:
                    if exc.code == "message_deleted" and what in ("react", "unreact"):
                        self.did[f"{what} refused: deleted"] += 1
                        return False
                    if exc.code not in RETRY:
                        raise
                    self.did["retried"] += 1
                    if exc.code in ("unavailable", "rate_limited"):
                        await asyncio.sleep(exc.retry_after or 0.1)  # nothing to await
                        continue
                with contextlib.suppress(HubbubError):
                    await self.client.wait_connected()
        self.did[what] += 1
        if changed.seq is not None:
            self.change_seqs.append((changed.channel, changed.seq))
        return True


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

        # The truth: what is stored, per channel, each message in its state now.
        stored: dict[str, list[frames.MessageOut]] = {}
        last_seq: dict[str, int] = {}
        reader = members[0].client
        for c in range(CHANNELS):
            room, rows, before = f"room{c}", [], None
            while True:
                page, more = await reader.history(room, before=before, limit=200)
                rows += page
                for root in (r for r in page if r.reply_count):  # and its thread
                    after = 0
                    while True:
                        _, replies, further = await reader.thread(room, root.seq, after=after)
                        rows += replies
                        if not further:
                            break
                        after = replies[-1].seq
                if not more:
                    break
                before = page[-1].seq
            stored[room] = sorted(rows, key=lambda r: r.seq)
            last_seq[room] = (await reader.channel(room))["last_seq"]
        truth = {(r.channel, r.seq): state_of(r) for rows in stored.values() for r in rows}

        # 0 acknowledged messages lost, each stored once with the acked seq.
        # (Changes take places in the log too: messages' seqs rise, with gaps.)
        for room, rows in stored.items():
            seqs = [r.seq for r in rows]
            assert seqs == sorted(set(seqs)) and seqs[-1] <= last_seq[room], room
            ids = [r.client_id for r in rows]
            assert len(ids) == len(set(ids)), f"duplicate in {room}"
        by_id = {(r.channel, r.client_id): r.seq for rows in stored.values() for r in rows}
        acked = [(a.channel, a.client_id, a.seq) for m in members for a in m.acked]
        assert len(acked) == total
        assert all(by_id.get((ch, cid)) == seq for ch, cid, seq in acked)
        assert sum(len(r) for r in stored.values()) == total  # nothing unacked crept in

        # Each thread's root counts its replies, and names who wrote them.
        for room, rows in stored.items():
            for root in (r for r in rows if r.reply_count):
                replies = [r for r in rows if r.thread_root == root.seq]
                assert root.reply_count == len(replies), (room, root.seq)
                assert set(root.reply_users) == {r.author.username for r in replies}
        assert any(r.thread_root for rows in stored.values() for r in rows), "no replies"

        # Each change that took a place has its own, which no message has.
        places = [p for m in members for p in m.change_seqs]
        assert len(places) == len(set(places)), "two changes at one place"
        assert not set(places) & set(truth), "a change at a message's place"
        for room, rows in stored.items():
            here = [s for ch, s in places if ch == room]
            assert all(s <= last_seq[room] for s in here), room
            assert len(rows) + len(here) <= last_seq[room], room

        # 0 acknowledged changes lost: the store has what each member did.
        reactions: dict[Key, set[tuple[str, str]]] = defaultdict(set)
        for m in members:
            for key, emoji in m.reacted:
                reactions[key].add((emoji, m.name))
        for m in members:
            for a in m.acked:
                key = (a.channel, a.seq)
                text, edited_at, deleted, _, _ = truth[key]
                assert deleted == (key in m.deleted), key
                if deleted:
                    assert text == "", key  # the text is gone from storage
                else:
                    assert text == m.texts.get(key, a.text), key
                    assert (edited_at is not None) == (key in m.texts), key
        for key, (_, _, deleted, rs, _) in truth.items():
            assert all(count == len(users) for _, count, users in rs), key
            who = {(emoji, user) for emoji, _, users in rs for user in users}
            expected = set() if deleted else reactions[key]
            assert who == expected, (key, "deleted" if deleted else "", who, expected)

        # Every client ends with every message of its channels once, in order,
        # in the state the store has.
        def view(m: Member, room: str) -> dict[int, State]:
            return {seq: st for (ch, seq), st in m.view.items() if ch == room}

        expected_views = {room: {r.seq: state_of(r) for r in rows} for room, rows in stored.items()}

        def settled(m: Member, room: str) -> bool:
            at_end = m.client.last_seq.get(room) == last_seq[room]
            return at_end and view(m, room) == expected_views[room]

        with contextlib.suppress(TimeoutError):  # the assertions below say what is missing
            async with asyncio.timeout(30):
                while True:
                    if all(settled(m, room) for m in members for room in rooms_of(m.i)):
                        break
                    await asyncio.sleep(0.2)  # polling many clients' progress, bounded above
        for m in members:
            # message_updated (channel, place, message seq) of a message it never got:
            assert not m.orphans, (m.name, "updates of messages never got", m.orphans[:5])
            for room in rooms_of(m.i):
                want = [r.seq for r in stored[room]]
                missing = sorted(set(want) - set(m.got[room]))
                assert m.got[room] == want, (m.name, room, "missing", missing[:10])
                assert m.places[room] == sorted(set(m.places[room])), (m.name, room)
                assert m.client.last_seq.get(room) == last_seq[room], (m.name, room)
        for room, rows in stored.items():
            followers = [m for m in members if room in rooms_of(m.i)]
            first = view(followers[0], room)
            for m in followers[1:]:
                theirs = view(m, room)
                differ = sorted(
                    s for s in first.keys() | theirs.keys() if first.get(s) != theirs.get(s)
                )
                assert not differ, (room, followers[0].name, m.name, "differ at", differ[:10])
            for m in followers:
                theirs = view(m, room)
                differ = [r.seq for r in rows if theirs.get(r.seq) != state_of(r)]
                assert not differ, (room, m.name, "differs from history at", differ[:10])
                assert theirs.keys() == expected_views[room].keys(), (room, m.name)
        deleted = [key for key, st in truth.items() if st[2]]
        assert all(m.view[k][0] == "" for m in members for k in deleted if k in m.view)

        # Every kind of change was mixed in, and the failures were survived.
        did = sum((m.did for m in members), Counter[str]())
        for what in ("edit", "delete", "react", "unreact", "delete after edit", "reply"):
            assert did[what] > 0, (what, did)
        assert any(st[3] for st in truth.values()), "no reactions left"
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
