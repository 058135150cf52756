"""The load generator of the `rooms` scenario (`mode: rooms`, run by `bench.gen`).

Many small rooms: every user is a member of one room, subscribed to it, and a
sender. Sending is open loop over the whole population: message i is due at
t0 + i/rate and belongs to the next member of a fixed random permutation, so
each member sends every N/rate seconds. A member writes a due message at once
if it has fewer than `window` sends in flight (sent, not yet acked), else it
keeps it in its own backlog and sends it when an ack frees the window; the text
carries the *intended* send time either way, so a slow server shows up as
latency and as a backlog, never as a politely slower client. Due messages still
in a backlog when a step ends are dropped (never sent).

Every member counts the message frames it receives; one member per room (the
sampler) also decodes them, checks that its room's `seq` has no gap, and records
the latency from intended send time, split by whether the sender was connected
to the same node as the sampler or to another one (a hop through Redis).
Acks are counted per room with their `seq`s, so the orchestrator can check the
database afterwards: every acked message stored, no gap in `seq`.
"""

from __future__ import annotations

import asyncio
import collections
import gc
import os
import random
import time
from array import array
from typing import Any

import orjson

from bench.common import core_breakdown, core_share, proc_cpu, proc_thread_cpu, tree_cpu
from bench.gen import (
    ACK_PREFIX,
    ERROR_PREFIX,
    Client,
    RateSearch,
    close_all,
    connection_ends,
    emit,
    percentiles,
)
from bench.wsclient import MESSAGE_PREFIX, client_frame

perf = time.perf_counter
SUBSCRIBE_ID = "sub"


class Stats:
    """What all members of one generator share."""

    def __init__(self, rooms: int) -> None:
        self.sent = 0
        self.acked = 0
        self.failed = 0
        self.duplicates = 0
        self.backlog = 0
        self.dropped = 0
        self.room_acked = [0] * rooms
        self.room_seq_max = [0] * rooms
        self.room_seq_sum = [0] * rooms
        self.error_codes: dict[str, int] = {}
        # Latency window (intended send times) and its samples.
        self.lo = float("inf")
        self.hi = float("inf")
        self.same_node: array[float] = array("d")
        self.cross_node: array[float] = array("d")
        self.acks: array[float] = array("d")


class Member(Client):
    """One user: subscribed to its room, sending into it, counting deliveries."""

    def __init__(
        self,
        host: str,
        port: int,
        token: str,
        room: int,
        channel: str,
        node: int,
        sampler: bool,
        stats: Stats,
        pad: str,
    ) -> None:
        super().__init__(host, port, "/ws?token=" + token)
        self.port = port
        self.room = room
        self.channel = channel
        self.node = node
        self.sampler = sampler  # shadows WSClient.sampler: decode message frames
        self.stats = stats
        self.pad = pad
        self.prefix = os.urandom(4).hex()
        self.sent = 0
        self.inflight = 0
        self.backlog: collections.deque[float] = collections.deque()
        self.intended: dict[int, float] = {}
        self.last_seq = 0
        self.gaps = 0
        self.idle: asyncio.Future[None] | None = None  # set when inflight drops to 0

    def _settled(self) -> None:
        if self.backlog:
            self.stats.backlog -= 1
            self.send_message(self.backlog.popleft())
        elif not self.inflight and self.idle is not None and not self.idle.done():
            self.idle.set_result(None)

    async def wait_idle(self, timeout: float) -> None:
        if self.inflight:
            self.idle = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(self.idle, timeout)
            finally:
                self.idle = None

    def send_message(self, intended: float) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self.sent += 1
        self.inflight += 1
        self.stats.sent += 1
        n = self.sent
        self.intended[n] = intended
        payload = orjson.dumps(
            {
                "action": "send",
                "channel": self.channel,
                "text": f"bench {intended:.6f} {self.node} {self.pad}",
                "client_id": f"{self.prefix}-{n}",
                "id": n,
            }
        )
        self.transport.write(client_frame(payload))

    def on_text(self, payload: bytes) -> None:
        st = self.stats
        if payload.startswith(ACK_PREFIX):
            now = perf()
            obj = orjson.loads(payload)
            intended = self.intended.pop(obj["id"], None)
            if intended is None:
                return
            self.inflight -= 1
            st.acked += 1
            r = self.room
            seq = obj["seq"]
            st.room_acked[r] += 1
            st.room_seq_sum[r] += seq
            if seq > st.room_seq_max[r]:
                st.room_seq_max[r] = seq
            if obj.get("duplicate"):
                st.duplicates += 1
            if st.lo <= intended < st.hi:
                st.acks.append(now - intended)
            self._settled()
        elif payload.startswith(MESSAGE_PREFIX):  # samplers only
            obj = orjson.loads(payload)
            seq = obj["seq"]
            if self.last_seq and seq != self.last_seq + 1:
                self.gaps += 1
            self.last_seq = seq
            _, t, node, _ = obj["text"].split(" ", 3)
            intended = float(t)
            if st.lo <= intended < st.hi:
                lat = self.now - intended
                (st.same_node if int(node) == self.node else st.cross_node).append(lat)
        elif payload.startswith(ERROR_PREFIX) and self.hello.done():
            obj = orjson.loads(payload)
            fid = obj.get("id")
            if isinstance(fid, int) and self.intended.pop(fid, None) is not None:
                self.inflight -= 1
                st.failed += 1
                code = str(obj.get("code"))
                st.error_codes[code] = st.error_codes.get(code, 0) + 1
                self._settled()
            else:
                super().on_text(payload)
        else:
            super().on_text(payload)


class Schedule:
    """Open loop over all members: message i is due at t0 + i/rate and goes to
    the next member of a fixed permutation."""

    def __init__(self, members: list[Member], window: int, stats: Stats) -> None:
        self.order = list(members)
        random.Random(1).shuffle(self.order)
        self.window = window
        self.stats = stats
        self.k = 0
        self.next_t = 0.0
        self.running = False

    def lag(self) -> float:
        """How late the oldest due, unsent message is (the driver's own lateness
        included)."""
        now = perf()
        oldest = self.next_t if self.running else now
        if self.stats.backlog:
            for m in self.order:
                if m.backlog and m.backlog[0] < oldest:
                    oldest = m.backlog[0]
        return max(0.0, now - oldest)

    async def run(self, rate: float, duration: float) -> None:
        interval = 1.0 / rate
        order, n, window, st = self.order, len(self.order), self.window, self.stats
        t0 = perf()
        end = t0 + duration
        self.next_t = t0
        self.running = True
        try:
            while True:
                now = perf()
                if now >= end:
                    break
                t = self.next_t
                k = self.k
                while t <= now:
                    m = order[k]
                    k = k + 1 if k + 1 < n else 0
                    if m.inflight < window:
                        m.send_message(t)
                    else:
                        m.backlog.append(t)
                        st.backlog += 1
                    t += interval
                self.next_t, self.k = t, k
                # uvloop rounds timers to whole milliseconds: a shorter sleep
                # is no sleep, and the loop would spin. Messages due within a
                # tick go out together, each with its own intended time.
                await asyncio.sleep(max(0.001, min(t, end) - perf()))
        finally:
            self.running = False
            if st.backlog:  # due but never sent: not part of the run
                for m in order:
                    if m.backlog:
                        st.dropped += len(m.backlog)
                        st.backlog -= len(m.backlog)
                        m.backlog.clear()


class Rooms(RateSearch):
    # Kept from before the fold (fan-out waits 10 s and 20 s): 10,000 members
    # each with sends in flight have more to drain than one sender.
    retry_drain = 15.0
    final_drain = 30.0

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__(cfg)
        self.host = cfg["host"]
        self.ports: list[int] = [int(p) for p in cfg["ports"]]
        self.size = int(cfg["size"])
        self.rooms = int(cfg["rooms"])
        self.stats = Stats(self.rooms)
        self.members: list[Member] = []
        self.samplers: list[Member] = []
        self.procs: dict[str, int] = {k: int(v) for k, v in cfg.get("procs", {}).items()}
        self.pg_postmaster: int | None = cfg.get("pg_postmaster")
        self.pg_db: str | None = cfg.get("pg_db")
        self.ncores = os.cpu_count() or 1
        self.schedule: Schedule

    async def drive(self, rate: float, duration: float) -> None:
        await self.schedule.run(rate, duration)

    # --- measurements ---------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        st = self.stats
        procs = {}
        threads = {}
        for name, pid in self.procs.items():
            try:
                procs[name] = proc_cpu(pid)
                if name.startswith("node"):
                    threads[name] = proc_thread_cpu(pid)[1]
            except OSError:
                procs[name] = 0.0
        return {
            "t": perf(),
            "cores": [core_breakdown(str(c)) for c in range(self.ncores)],
            "delivered": sum(m.messages for m in self.members),
            "sent": st.sent,
            "acked": st.acked,
            "failed": st.failed,
            "dropped": st.dropped,
            "gen_cpu": time.process_time(),
            "procs": procs,
            "threads": threads,
            "pg": tree_cpu(self.pg_postmaster) if self.pg_postmaster else {},
            "lag": self.schedule.lag(),
            "backlog": st.backlog,
        }

    def between(self, a: dict[str, Any], b: dict[str, Any], rate: float) -> dict[str, Any]:
        dt = b["t"] - a["t"]
        ack_rate = (b["acked"] - a["acked"]) / dt
        dps = (b["delivered"] - a["delivered"]) / dt
        cpu = {name: round((b["procs"][name] - a["procs"][name]) / dt, 3) for name in b["procs"]}
        cpu["generator"] = round((b["gen_cpu"] - a["gen_cpu"]) / dt, 3)
        # A node's threads other than its event loop: aiosqlite's, one per
        # pooled SQLite connection (asyncpg has none).
        threads = {
            name: round((b["threads"][name] - a["threads"].get(name, 0.0)) / dt, 3)
            for name in b["threads"]
        }
        if b["pg"]:
            ours = other = 0.0
            for pid, (secs, title) in b["pg"].items():
                d = secs - a["pg"].get(pid, (0.0, ""))[0]
                # A client backend's title is `postgres: CLUSTER: USER DB HOST(PORT)
                # STATE`: those of other databases are someone else's (the machine
                # is shared). Background processes (WAL writer, ...) count as ours.
                backend = "(" in title or "[local]" in title
                if backend and self.pg_db is not None and self.pg_db not in title:
                    other += d
                else:
                    ours += d
            cpu["postgres"] = round(ours / dt, 3)
            cpu["postgres_other_dbs"] = round(other / dt, 3)
        cores = [core_share(x, y) for x, y in zip(a["cores"], b["cores"], strict=True)]  # per core
        busy = sum(1 - c["idle"] for c in cores)
        softirq = sum(c["softirq"] for c in cores)
        ours = sum(v for k, v in cpu.items() if k != "postgres_other_dbs")
        other = max(0.0, busy - ours - softirq)
        nodes = [v for k, v in cpu.items() if k.startswith("node")]
        node_cpu = sum(nodes)
        return {
            "rate": round(rate, 1),
            "persisted": round(ack_rate, 1),
            "dps": round(dps),
            "target_dps": round(rate * self.size),
            "send_rate": round((b["sent"] - a["sent"]) / dt, 1),
            "failed": b["failed"] - a["failed"],
            "dropped": b["dropped"] - a["dropped"],
            "backlog": b["backlog"],
            "inflight": sum(m.inflight for m in self.members),
            "lag_s": round(b["lag"], 3),
            "lost": sum(1 for m in self.members if m.lost),
            "cpu": cpu,
            "node_threads_cpu": threads,
            "cores": cores,
            "softirq_cores": round(softirq, 3),
            "busy_cores": round(busy, 3),
            "not_ours_cores": round(other, 3),
            "server_us_per_msg": round(node_cpu / ack_rate * 1e6, 1) if ack_rate else None,
            "saturated": (ack_rate < 0.9 * rate or dps < 0.9 * rate * self.size or b["lag"] > 0.25),
            "noisy": other > 0.3,
            "gen_saturated": cpu["generator"] > 0.85,
        }

    def settled(self) -> bool:
        return (
            self.stats.backlog == 0
            and all(m.inflight == 0 for m in self.members)
            and sum(m.messages for m in self.members) >= self.stats.acked * self.size
        )

    def server_had_room(self, res: dict[str, Any]) -> bool:
        node_cpu = sum(v for n, v in res["cpu"].items() if n.startswith("node"))
        return bool(node_cpu < 0.8 * float(self.cfg.get("node_cores", 1)))

    def open_latency_window(self, lo: float, hi: float) -> None:
        st = self.stats
        st.lo, st.hi = lo, hi
        st.same_node, st.cross_node, st.acks = array("d"), array("d"), array("d")

    def latency_samples(self) -> dict[str, Any]:
        st = self.stats
        return {
            "delivery": percentiles(array("d", [*st.same_node, *st.cross_node])),
            "same_node": percentiles(st.same_node),
            "cross_node": percentiles(st.cross_node),
            "ack": percentiles(st.acks),
        }

    # --- setup --------------------------------------------------------------------------

    async def connect(self) -> None:
        cfg = self.cfg
        tokens: list[str] = cfg["tokens"]
        nodes = len(self.ports)
        pad = "x" * max(0, int(cfg["text_bytes"]) - len("bench 1234567.123456 0 "))
        for r in range(self.rooms):
            channel = cfg["room_names"][r]
            for j in range(self.size):
                # A room's members alternate between the nodes, so every room
                # has members on each node (with 2 nodes and 5 members: 3 + 2).
                node = (r + j) % nodes
                m = Member(
                    self.host,
                    self.ports[node],
                    tokens[r * self.size + j],
                    r,
                    channel,
                    node,
                    j == r % self.size,
                    self.stats,
                    pad,
                )
                self.members.append(m)
                if m.sampler:
                    self.samplers.append(m)
        loop = asyncio.get_running_loop()
        sem = asyncio.Semaphore(int(cfg.get("concurrency", 200)))
        done = 0
        t = perf()

        async def one(m: Member) -> None:
            nonlocal done
            async with sem:
                await asyncio.wait_for(loop.create_connection(lambda: m, self.host, m.port), 30)
                await asyncio.wait_for(m.hello, 60)
            done += 1
            if done % 2000 == 0:
                emit({"event": "progress", "opened": done, "seconds": round(perf() - t, 1)})

        await asyncio.gather(*(one(m) for m in self.members))
        opened = perf() - t

        async def subscribe(m: Member) -> None:
            async with sem:
                m.subscribe(
                    orjson.dumps({"action": "subscribe", "channel": m.channel, "id": SUBSCRIBE_ID})
                )
                await asyncio.wait_for(m.subscribed, 60)

        t = perf()
        await asyncio.gather(*(subscribe(m) for m in self.members))
        emit(
            {
                "event": "connected",
                "members": len(self.members),
                "rooms": self.rooms,
                "nodes": nodes,
                "open_seconds": round(opened, 1),
                "subscribe_seconds": round(perf() - t, 1),
            }
        )

    async def warm_up(self) -> dict[str, Any]:
        """Every member sends one message and waits for its ack. A user's first
        send is not on the server's cached path (its membership is looked up in
        the database), and with 10,000 users those first sends would fill the
        first steps: measure them here, apart, and start the steps warm."""
        sem = asyncio.Semaphore(int(self.cfg.get("concurrency", 200)))
        t = perf()

        async def one(m: Member) -> None:
            async with sem:
                m.send_message(perf())
                try:
                    await m.wait_idle(60)
                except TimeoutError:
                    raise RuntimeError("no ack for a warm-up send in 60 s") from None

        await asyncio.gather(*(one(m) for m in self.members))
        seconds = perf() - t
        return {"messages": len(self.members), "seconds": round(seconds, 2)}

    # --- the run ---------------------------------------------------------------------------

    async def run(self) -> dict[str, Any]:
        cfg = self.cfg
        st = self.stats
        await self.connect()
        self.schedule = Schedule(self.members, int(cfg["window"]), st)
        warm_up = await self.warm_up()
        emit({"event": "warmed", **warm_up})
        for m in self.members:
            m.start_heartbeat(float(cfg.get("ping_every", 30.0)))
        gc.collect()
        gc.freeze()
        watch = asyncio.create_task(self.watch_loop())
        out = await self.outcome("persisted")

        # Every member must have received every acked message of its room.
        missing = extra = 0
        for m in self.members:
            expected = st.room_acked[m.room]
            missing += max(0, expected - m.messages)
            extra += max(0, m.messages - expected)
        # The acked seqs of a room must be exactly 1..n (all its messages are ours).
        bad_rooms = [
            r
            for r in range(self.rooms)
            if st.room_seq_max[r] != st.room_acked[r]
            or st.room_seq_sum[r] != st.room_acked[r] * (st.room_acked[r] + 1) // 2
        ]
        result = {
            "event": "result",
            "members": len(self.members),
            "samplers": len(self.samplers),
            "warm_up": warm_up,
            "steps": out.steps,
            "saturation": out.saturation,
            "reached_saturation": out.reached,
            "latency": out.latency,
            "messages_sent": st.sent,
            "messages_acked": st.acked,
            "messages_dropped_unsent": st.dropped,
            "duplicates": st.duplicates,
            "send_errors": st.error_codes,
            "deliveries": sum(m.messages for m in self.members),
            "missing_deliveries": missing,
            "extra_deliveries": extra,
            "ack_seq_mismatch_rooms": len(bad_rooms),
            "drained": out.drained,
            "seq_gaps": sum(m.gaps for m in self.samplers),
            **connection_ends(self.members),
            "room_acked": st.room_acked,
            "room_seq_max": st.room_seq_max,
        }
        watch.cancel()
        emit({"event": "closing"})
        await close_all(self.members, 0.5)
        return result
