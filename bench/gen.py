"""The load generator process: `python -m bench.gen CONFIG.json`.

It runs on its own core (see `bench.common.Generator`), holds every client
connection of a scenario, and prints one JSON object per line on stdout:
progress as `{"event": ...}`, then the result. It measures its own CPU time so a
run where the generator, not the server, is the bottleneck gets flagged.

Fan-out (`mode: fanout`): R receivers subscribe to one channel; one more
connection (the sender) sends open loop: message i is due at t0 + i/rate, its
text carries that intended send time, and it goes out as soon as it is due and
the in-flight window (sent, not yet acked) has room. So a server that falls
behind shows up as latency and as a sender behind schedule, not as a politely
slower client. Every receiver counts message frames; every `sample_every`-th
receiver also decodes them and records latency from intended send time.

The fan-out speaks hubbub's protocol or a peer's (`dialect` in the config:
see `bench.dialects`), so `bench.compare` drives every server the same way.
Latencies are also recorded per rate step (for the plots of latency by load).

Many small rooms (`mode: rooms`): see `bench.roomgen`.

Slow consumer (`mode: slow`): the fan-out at one rate, then again with K more
subscribers that stop reading: see `bench.slow`.

Idle (`mode: idle`): N connections authenticate, send one ping, then ping every
`ping_every` seconds (random phase) until told to stop on stdin.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import dataclasses
import gc
import json
import os
import random
import sys
import threading
import time
from array import array
from collections.abc import Sequence
from typing import Any

from bench.common import GEN_CORE, SERVER_CORE, core_breakdown, core_share, core_times, proc_cpu
from bench.dialects import Dialect, Hubbub, Kind, dialect
from bench.wsclient import WSClient, client_frame

perf = time.perf_counter
ACK_PREFIX = b'{"type":"ack"'
ERROR_PREFIX = b'{"type":"error"'


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def percentiles(values: array[float] | list[float]) -> dict[str, float | int]:
    s = sorted(values)
    if not s:
        return {"n": 0}

    def q(p: float) -> float:
        return round(s[min(len(s) - 1, int(p * len(s)))] * 1000, 3)

    return {
        "n": len(s),
        "p50_ms": q(0.50),
        "p99_ms": q(0.99),
        "p999_ms": q(0.999),
        "max_ms": round(s[-1] * 1000, 3),
    }


# --- connections ---------------------------------------------------------------------------


HUBBUB = Hubbub()


class Client(WSClient):
    """A connection that waits for its session (`hello`) and its join
    (`subscribed`), answers the protocol's keep-alives, and keeps errors. What
    the frames look like is the `dialect`'s business (hubbub's by default)."""

    def __init__(
        self, host: str, port: int, path: str, dialect: Dialect = HUBBUB, token: str = ""
    ) -> None:
        super().__init__(host, port, path)
        loop = asyncio.get_running_loop()
        self.dialect = dialect
        self.message_prefix = dialect.message_prefix
        self.token = token
        self.hello: asyncio.Future[None] = loop.create_future()
        self.subscribed: asyncio.Future[None] = loop.create_future()
        self.errors: list[Any] = []
        self.pongs = 0
        self.pings = 0
        self.heartbeat: asyncio.TimerHandle | None = None
        self.subscribing = False

    def start_heartbeat(self, every: float) -> None:
        """Ping every `every` s from a random phase, as hubbub's clients must (the
        server closes a connection silent for `idle_timeout`). Protocols whose
        server pings (Socket.IO, WebSocket pings) need nothing here."""
        ping = self.dialect.ping()
        if ping is None:
            return
        loop = asyncio.get_running_loop()

        def tick() -> None:
            if not self.lost:
                self.pings += 1
                self.send_bytes(ping)
                self.heartbeat = loop.call_later(every, tick)

        self.heartbeat = loop.call_later(random.uniform(0, every), tick)

    def stop_heartbeat(self) -> None:
        if self.heartbeat is not None:
            self.heartbeat.cancel()

    def subscribe(self, frame: bytes) -> None:
        self.subscribing = True
        self.send_bytes(frame)

    def on_open(self) -> None:
        if self.dialect.ready_on_upgrade() and not self.hello.done():
            self.hello.set_result(None)

    def on_text(self, payload: bytes) -> None:
        self.on_control(*self.dialect.control(payload))

    def on_control(self, kind: Kind, value: Any) -> None:
        if kind is Kind.REPLY:
            self.send_bytes(value)
        elif kind is Kind.OPEN:
            self.send_bytes(self.dialect.session(self.token))
        elif kind is Kind.HELLO:
            if not self.hello.done():
                self.hello.set_result(None)
        elif kind is Kind.SUBSCRIBED:
            if not self.subscribed.done():
                self.subscribed.set_result(None)
        elif kind is Kind.PONG:
            self.pongs += 1
        elif kind is Kind.ERROR:
            self.errors.append(value[2])
            self._fail(f"server error: {value[2]}")

    def on_lost(self) -> None:
        self._fail(f"connection lost (close code {self.close_code})")

    def _fail(self, why: str) -> None:
        if not self.hello.done():
            self.hello.set_exception(RuntimeError(why))
        elif self.subscribing and not self.subscribed.done():
            self.subscribed.set_exception(RuntimeError(why))


class Windows:
    """Intervals of intended send times whose deliveries' latencies count: the
    measured part of every rate step, and the latency run. Deliveries of a step
    that arrive after it ended (a backlog) still count towards that step."""

    los: list[float] = []
    his: list[float] = []
    samples: list[array[float]] = []

    @classmethod
    def open(cls, lo: float, hi: float) -> array[float]:
        cls.los.append(lo)
        cls.his.append(hi)
        cls.samples.append(array("d"))
        return cls.samples[-1]

    @classmethod
    def record(cls, intended: float, latency: float) -> None:
        i = bisect.bisect_right(cls.los, intended) - 1
        if i >= 0 and intended < cls.his[i]:
            cls.samples[i].append(latency)


class AckWindow:
    """Which intended send times count towards the ack latency (the latency run)."""

    lo = float("inf")
    hi = float("inf")


def intended_time(text: str) -> float:
    return float(text.split(" ", 2)[1])


class Sampler(Client):
    sampler = True

    def __init__(
        self, host: str, port: int, path: str, dialect: Dialect = HUBBUB, token: str = ""
    ) -> None:
        super().__init__(host, port, path, dialect, token)
        self.last_seq = 0
        self.gaps = 0

    def on_text(self, payload: bytes) -> None:
        if not payload.startswith(self.message_prefix):
            return super().on_text(payload)
        seq, text = self.dialect.message(payload)
        if seq is not None:
            if self.last_seq and seq != self.last_seq + 1:
                self.gaps += 1
            self.last_seq = seq
        intended = intended_time(text)
        Windows.record(intended, self.now - intended)
        return None


class Sender(Client):
    def __init__(
        self,
        host: str,
        port: int,
        path: str,
        channel: str,
        text_bytes: int,
        dialect: Dialect = HUBBUB,
        token: str = "",
    ) -> None:
        super().__init__(host, port, path, dialect, token)
        self.channel = channel
        self.prefix = os.urandom(4).hex()
        self.pad = "x" * max(0, text_bytes - len("bench 1234567.123456 "))
        # Without acks the sender is in the room: its own copies are its acks.
        self.sampler = dialect.echo_ack
        self.sent = 0
        self.acked = 0
        self.failed = 0
        self.error_codes: dict[str, int] = {}
        self.intended: dict[int, float] = {}
        self.ack_latencies: array[float] = array("d")
        self.waiter: asyncio.Future[None] | None = None

    @property
    def inflight(self) -> int:
        return self.sent - self.acked - self.failed

    def frame(self, intended: float) -> bytes:
        self.sent += 1
        n = self.sent
        if not self.sampler:
            self.intended[n] = intended
        text = f"bench {intended:.6f} {self.pad}"
        return client_frame(self.dialect.send(self.channel, text, n, f"{self.prefix}-{n}"))

    def on_text(self, payload: bytes) -> None:
        if self.sampler and payload.startswith(self.message_prefix):
            self._acked(intended_time(self.dialect.message(payload)[1]))
        else:
            super().on_text(payload)

    def on_control(self, kind: Kind, value: Any) -> None:
        if kind is Kind.ACK:
            intended = self.intended.pop(value, None)
            if intended is not None:
                self._acked(intended)
        elif kind is Kind.ERROR and self.hello.done():
            fid, code, _ = value
            self.failed += 1
            self.error_codes[code] = self.error_codes.get(code, 0) + 1
            self.intended.pop(fid, None)
            self._wake()
        else:
            super().on_control(kind, value)

    def on_lost(self) -> None:
        super().on_lost()
        self._wake()  # the driver stops at once instead of waiting for acks

    def _acked(self, intended: float) -> None:
        now = perf()
        self.acked += 1
        if AckWindow.lo <= intended < AckWindow.hi:
            self.ack_latencies.append(now - intended)
        self._wake()

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)


async def open_clients(
    clients: list[Client], host: str, port: int, concurrency: int, timeout: float = 30.0
) -> None:
    loop = asyncio.get_running_loop()
    sem = asyncio.Semaphore(concurrency)

    async def one(c: Client) -> None:
        async with sem:
            await asyncio.wait_for(loop.create_connection(lambda: c, host, port), timeout)
            await asyncio.wait_for(c.hello, timeout)

    await asyncio.gather(*(one(c) for c in clients))


# --- fan-out ------------------------------------------------------------------------------------


class Driver:
    """Open-loop sender: message i is due at t0 + i / rate."""

    def __init__(self, sender: Sender, window: int) -> None:
        self.sender = sender
        self.window = window
        self.next_t = 0.0
        self.running = False

    def lag(self) -> float:
        """How far behind schedule the sender is (the oldest unsent due message)."""
        return max(0.0, perf() - self.next_t) if self.running else 0.0

    async def run(self, rate: float, duration: float) -> None:
        s = self.sender
        interval = 1.0 / rate
        t0 = perf()
        end = t0 + duration
        self.next_t = t0
        self.running = True
        loop = asyncio.get_running_loop()
        try:
            while True:
                now = perf()
                if now >= end or s.lost:
                    break
                batch = []
                while self.next_t <= now and s.inflight < self.window:
                    batch.append(s.frame(self.next_t))
                    self.next_t += interval
                if batch and s.transport is not None:
                    s.transport.write(b"".join(batch))
                if s.inflight >= self.window:
                    s.waiter = loop.create_future()
                    try:
                        await asyncio.wait_for(s.waiter, 10.0)
                    except TimeoutError:
                        raise RuntimeError("no ack for 10 s: server stuck?") from None
                    finally:
                        s.waiter = None
                else:
                    await asyncio.sleep(max(0.0, min(self.next_t, end) - perf()))
        finally:
            self.running = False


async def close_all(clients: Sequence[Client], linger: float) -> None:
    """Close every connection, then wait `linger` s so that the close
    handshakes finish before the result goes out and the process exits."""
    for c in clients:
        c.stop_heartbeat()
        c.close()
    await asyncio.sleep(linger)


def connection_ends(clients: Sequence[Client]) -> dict[str, Any]:
    """How many of `clients` the server dropped, and with which close codes."""
    return {
        "disconnected": sum(1 for c in clients if c.lost),
        "close_codes": sorted({c.close_code for c in clients if c.close_code}),
    }


@dataclasses.dataclass
class SearchOutcome:
    steps: list[dict[str, Any]]
    saturation: float  # the best step's figure (`RateSearch.outcome`'s `key`)
    # A step saturated and was not retried as noise: `saturation` is where the
    # server stopped keeping up, not just the highest rate the steps offered.
    reached: bool
    latency: dict[str, Any]  # empty without a latency run
    drained: bool  # after the steps and after the latency run


class RateSearch:
    """What the open-loop generators (fan-out here, many rooms in
    `bench.roomgen`) share: rate steps up to saturation, then a latency run at a
    lower rate. One loop for both, so that a step, a retried step and a latency
    run mean the same in both scenarios; a subclass says how it sends
    (`drive`), what it measures (`snapshot`, `between`) and when the server has
    caught up (`settled`)."""

    # Seconds to let the backlog drain: after a step retried for noise, and
    # after the steps and the latency run.
    retry_drain = 10.0
    final_drain = 20.0

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg
        self.loop_lag: array[float] = array("d")

    async def drive(self, rate: float, duration: float) -> None:
        raise NotImplementedError

    def snapshot(self) -> dict[str, Any]:
        raise NotImplementedError

    def between(self, a: dict[str, Any], b: dict[str, Any], rate: float) -> dict[str, Any]:
        raise NotImplementedError

    def settled(self) -> bool:
        """Nothing in flight or in a backlog, and every acked message delivered."""
        raise NotImplementedError

    def server_had_room(self, res: dict[str, Any]) -> bool:
        """Whether the server still had CPU to spare in step `res`."""
        raise NotImplementedError

    def open_latency_window(self, lo: float, hi: float) -> None:
        """Count the latencies of messages intended for [lo, hi) from now on."""
        raise NotImplementedError

    def latency_samples(self) -> dict[str, Any]:
        """The latency run's percentiles, by what they measure."""
        raise NotImplementedError

    async def measured(self, rate: float, settle: float, measure: float) -> dict[str, Any]:
        """Send at `rate` for `settle` + `measure` s; the figures of the last `measure` s."""
        task = asyncio.create_task(self.drive(rate, settle + measure))
        await asyncio.sleep(settle)
        a = self.snapshot()
        await asyncio.sleep(measure)
        b = self.snapshot()
        await task
        return self.between(a, b, rate)

    async def step(self, rate: float, settle: float, measure: float) -> dict[str, Any]:
        return await self.measured(rate, settle, measure)

    async def drain(self, timeout: float) -> bool:
        deadline = perf() + timeout
        while perf() < deadline:
            if self.settled():
                return True
            await asyncio.sleep(0.05)
        return False

    async def search(self) -> tuple[list[dict[str, Any]], bool]:
        """The rate steps (`rates`, or from `start_rate` up by `factor`) until
        one saturates: (the steps, whether everything drained afterwards)."""
        cfg = self.cfg
        steps: list[dict[str, Any]] = []
        rates = cfg.get("rates") or []
        rate = float(cfg["start_rate"])
        retries = int(cfg.get("noise_retries", 2))
        k = 0
        while k < int(cfg["max_steps"]):
            rate = float(rates[k]) if k < len(rates) else rate
            res = await self.step(rate, cfg["settle"], cfg["measure"])
            steps.append(res)
            emit({"event": "step", **res})
            if res["saturated"] and res["noisy"] and self.server_had_room(res) and retries > 0:
                # Fell behind while the server had CPU to spare and neighbours
                # were busy: a neighbour, not the server. Let the backlog drain
                # and try the step again.
                retries -= 1
                res["retried"] = True
                await self.drain(self.retry_drain)
                continue
            if res["saturated"] or res["gen_saturated"] or k + 1 >= len(rates) > 0:
                break
            rate *= float(cfg["factor"])
            k += 1
        return steps, await self.drain(self.final_drain)

    async def latency_run(self, rate: float) -> tuple[dict[str, Any], bool]:
        """A run at `rate` that records latencies (none if the rate or
        `latency_measure` is 0): (its figures, whether everything drained)."""
        cfg = self.cfg
        if not (rate > 0 and cfg["latency_measure"] > 0):
            return {}, True
        await asyncio.sleep(0.5)
        warm, meas = cfg["latency_warmup"], cfg["latency_measure"]
        t0 = perf()
        self.open_latency_window(t0 + warm, t0 + warm + meas)
        self.loop_lag = array("d")
        latency = await self.measured(rate, warm, meas)
        drained = await self.drain(self.final_drain)
        latency.update(self.latency_samples())
        # How late the generator's own event loop ran a 10 ms timer: a
        # delivery latency is only as good as this.
        latency["gen_loop_lag"] = percentiles(self.loop_lag)
        emit({"event": "latency", **latency})
        return latency, drained

    async def outcome(self, key: str, per_message: int = 1) -> SearchOutcome:
        """The steps, then the latency run at `latency_rate`, by default half of
        the best step's `key` figure; `per_message`: how many of those one sent
        message makes (the receivers, where `key` counts deliveries)."""
        steps, drained = await self.search()
        saturation = max(s[key] for s in steps)
        reached = any(s["saturated"] and not s.get("retried") for s in steps)
        lat_rate = self.cfg.get("latency_rate")
        if lat_rate is None:
            lat_rate = saturation / 2 / per_message
        latency, lat_drained = await self.latency_run(lat_rate)
        return SearchOutcome(steps, saturation, reached, latency, lat_drained and drained)

    async def watch_loop(self, every: float = 0.01) -> None:
        while True:
            t = perf()
            await asyncio.sleep(every)
            self.loop_lag.append(max(0.0, perf() - t - every))


class Fanout(RateSearch):
    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__(cfg)
        self.host, self.port = cfg["host"], int(cfg["port"])
        self.server_pid: int | None = cfg.get("server_pid")
        self.receivers: list[Client] = []
        self.samplers: list[Sampler] = []
        self.sender: Sender
        self.driver: Driver
        self.step_latencies: list[array[float]] = []
        self.latencies: array[float] = array("d")

    async def drive(self, rate: float, duration: float) -> None:
        await self.driver.run(rate, duration)

    def snapshot(self) -> dict[str, Any]:
        s = self.sender
        busy, total = core_times(GEN_CORE)
        return {
            "cores": [core_breakdown(SERVER_CORE), core_breakdown(GEN_CORE)],
            "t": perf(),
            "delivered": float(sum(r.messages for r in self.receivers)),
            "sent": float(s.sent),
            "acked": float(s.acked),
            "failed": float(s.failed),
            "gen_cpu": time.process_time(),
            "server_cpu": proc_cpu(self.server_pid) if self.server_pid else 0.0,
            "core_busy": busy,
            "core_total": total,
            "lag": self.driver.lag(),
        }

    def between(self, a: dict[str, Any], b: dict[str, Any], rate: float) -> dict[str, Any]:
        dt = b["t"] - a["t"]
        r = len(self.receivers)
        dps = (b["delivered"] - a["delivered"]) / dt
        ack_rate = (b["acked"] - a["acked"]) / dt
        lag = b["lag"]
        gen_cpu = (b["gen_cpu"] - a["gen_cpu"]) / dt
        core_total = b["core_total"] - a["core_total"]
        core_busy = (b["core_busy"] - a["core_busy"]) / core_total if core_total else 0.0
        server_core = core_share(a["cores"][0], b["cores"][0])
        gen_core = core_share(a["cores"][1], b["cores"][1])
        server_cpu = (b["server_cpu"] - a["server_cpu"]) / dt
        # Busy time on each core that is not our process's own CPU: softirq
        # for our sockets, but also other processes on this shared machine.
        server_core["other"] = round(max(0.0, 1 - server_core["idle"] - server_cpu), 3)
        gen_core["other"] = round(max(0.0, 1 - gen_core["idle"] - gen_cpu), 3)
        return {
            "rate": round(rate, 2),
            "target_dps": round(rate * r),
            "dps": round(dps),
            "send_rate": round((b["sent"] - a["sent"]) / dt, 1),
            "ack_rate": round(ack_rate, 1),
            "failed": int(b["failed"] - a["failed"]),
            "lag_s": round(lag, 3),
            "inflight": self.sender.inflight,
            "receivers_lost": sum(1 for c in self.receivers if c.lost),
            "server_cpu": round(server_cpu, 3),
            "gen_cpu": round(gen_cpu, 3),
            "gen_core_busy": round(core_busy, 3),
            "server_core": server_core,
            "gen_core": gen_core,
            # Server CPU per delivery: less sensitive to neighbours than dps.
            "server_us_per_delivery": round(server_cpu / dps * 1e6, 2) if dps else None,
            "saturated": dps < 0.9 * rate * r or ack_rate < 0.9 * rate or lag > 0.25,
            "noisy": server_core["other"] > 0.3 or gen_core["other"] > 0.3,
            # Other processes on the shared machine can keep the core busy too:
            # only the generator's own CPU says it is the bottleneck.
            "gen_saturated": gen_cpu > 0.85,
        }

    async def step(self, rate: float, settle: float, measure: float) -> dict[str, Any]:
        lo = perf() + settle
        self.step_latencies.append(Windows.open(lo, lo + measure))
        return await self.measured(rate, settle, measure)

    def settled(self) -> bool:
        s, r = self.sender, len(self.receivers)
        return s.inflight == 0 and sum(c.messages for c in self.receivers) >= s.acked * r

    def server_had_room(self, res: dict[str, Any]) -> bool:
        # The server's core busy but mostly not with the server: a neighbour.
        return bool(res["server_cpu"] < 0.8)

    def open_latency_window(self, lo: float, hi: float) -> None:
        AckWindow.lo, AckWindow.hi = lo, hi
        self.latencies = Windows.open(lo, hi)
        self.sender.ack_latencies = array("d")

    def latency_samples(self) -> dict[str, Any]:
        return {
            "delivery": percentiles(self.latencies),
            "ack": percentiles(self.sender.ack_latencies),
        }

    async def connect(self, d: Dialect) -> None:
        """Open the receivers and the sender, subscribe, start the heartbeats."""
        cfg = self.cfg
        every = int(cfg["sample_every"])
        host, port, channel = self.host, self.port, cfg["channel"]
        for i, token in enumerate(cfg["receiver_tokens"]):
            c: Client
            if i % every == 0:
                c = Sampler(host, port, d.path(token, channel), d, token)
                self.samplers.append(c)
            else:
                c = Client(host, port, d.path(token, channel), d, token)
            self.receivers.append(c)
        if len(cfg.get("sender_tokens") or ()) > 1:
            raise ValueError("several senders need the native generator (bench/native/loadgen.c)")
        token = cfg["sender_token"]
        path = d.path(token, channel)
        self.sender = Sender(host, port, path, channel, cfg["text_bytes"], d, token)
        self.driver = Driver(self.sender, int(cfg["window"]))
        t = perf()
        await open_clients([*self.receivers, self.sender], host, port, 100)
        joining = self.receivers + ([self.sender] if d.echo_ack else [])
        for c in joining:
            frame = d.subscribe(channel, c.token)
            if frame is None:  # the handshake joined it
                c.subscribed.set_result(None)
            else:
                c.subscribe(frame)
        await asyncio.wait_for(asyncio.gather(*(c.subscribed for c in joining)), 60)
        emit({"event": "connected", "receivers": len(self.receivers), "seconds": perf() - t})
        for c in [*self.receivers, self.sender]:
            c.start_heartbeat(float(cfg.get("ping_every", 30.0)))
        # The connections live until the end: keep them out of every GC pass.
        gc.collect()
        gc.freeze()

    async def run(self) -> dict[str, Any]:
        cfg = self.cfg
        d = dialect(cfg.get("dialect", "hubbub"))
        await self.connect(d)
        watch = asyncio.create_task(self.watch_loop())
        out = await self.outcome("dps", len(self.receivers))

        # Latency by offered load (for the plots): every step's backlog has
        # drained by now, so its late deliveries are in.
        for st, lat in zip(out.steps, self.step_latencies, strict=True):
            st["delivery"] = percentiles(lat)
        total = sum(c.messages for c in self.receivers)
        expected = self.sender.acked * len(self.receivers)
        result = {
            "event": "result",
            "dialect": d.name,
            "generator": "python",
            "receivers": len(self.receivers),
            "samplers": len(self.samplers),
            "steps": out.steps,
            "saturation_dps": out.saturation,
            "reached_saturation": out.reached,
            "latency": out.latency,
            "messages_acked": self.sender.acked,
            "send_errors": self.sender.error_codes,
            "deliveries": total,
            "missing_deliveries": expected - total,
            "drained": out.drained,
            "seq_gaps": sum(s.gaps for s in self.samplers),
            **connection_ends(self.receivers),
        }
        watch.cancel()
        await close_all([*self.receivers, self.sender], 0.3)
        return result


# --- idle ---------------------------------------------------------------------------------------


async def idle(cfg: dict[str, Any]) -> dict[str, Any]:
    host, port = cfg["host"], int(cfg["port"])
    every = float(cfg["ping_every"])
    clients = [Client(host, port, "/ws?token=" + tok) for tok in cfg["tokens"]]
    t = perf()
    await open_clients(list(clients), host, port, int(cfg.get("concurrency", 100)))
    loop = asyncio.get_running_loop()
    for c in clients:  # one ping now, then every `every` s from a random phase
        c.pings += 1
        c.send_bytes(b'{"action":"ping"}')
        c.start_heartbeat(every)
    emit({"event": "ready", "connections": len(clients), "seconds": round(perf() - t, 2)})

    stop = asyncio.Event()

    def wait_stdin() -> None:
        sys.stdin.readline()
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=wait_stdin, daemon=True).start()
    cpu0, t0 = time.process_time(), perf()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), float(cfg["max_hold"]))
    cpu, held = time.process_time() - cpu0, perf() - t0
    await close_all(clients, 0.3)
    return {
        "event": "result",
        "connections": len(clients),
        "pings": sum(c.pings for c in clients),
        "pongs": sum(c.pongs for c in clients),
        "errors": sum(len(c.errors) for c in clients),
        "lost_early": sum(1 for c in clients if c.close_code not in (None, 1000)),
        "gen_cpu": round(cpu / held, 4) if held else 0.0,
    }


async def main(cfg: dict[str, Any]) -> None:
    try:
        if cfg["mode"] == "fanout":
            emit(await Fanout(cfg).run())
        elif cfg["mode"] == "slow":
            from bench.slow import Slow

            emit(await Slow(cfg).run())
        elif cfg["mode"] == "rooms":
            from bench.roomgen import Rooms

            emit(await Rooms(cfg).run())
        else:
            emit(await idle(cfg))
    except Exception as exc:
        import traceback

        traceback.print_exc()  # into the .err file, shown with the error
        emit({"error": f"{type(exc).__name__}: {exc}"})
        raise


if __name__ == "__main__":
    import uvloop

    with open(sys.argv[1]) as f:
        config = json.load(f)
    try:
        uvloop.run(main(config))
    except Exception:
        sys.exit(1)
