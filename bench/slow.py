"""Slow consumer (issue #4, scenario 4): one subscriber stops reading.

The fan-out at one fixed, comfortable rate (default 100 msg/s into a
1000-member channel), in two phases against the same server:

* **A (baseline)**: every receiver reads.
* **B (slow)**: K more members (`--slow K`, default 1), subscribed to the
  channel, stop reading: a plain socket with a small receive buffer whose
  transport has its reading paused. The server's outbound buffer for it grows
  until it passes `max_buffer_bytes`, and hubbub closes it with 4008.

For each phase: the reading receivers' delivery latency from intended send
time (p50/p99/p99.9/max), the server's VmRSS sampled every 100 ms, and for B
when the slow clients were cut off (a presence watcher sees them go offline,
which is when the server closes them) and what close code they got. Targets:
the others' p99 changes by < 10 %, and the server's RSS grows by no more than
`max_buffer_bytes` x K (plus a small constant).

The generator side (`Slow`, `mode: slow` of `bench.gen`) is in this module
too; `run` is the scenario, in the harness process.
"""

from __future__ import annotations

import asyncio
import json
import socket
from array import array
from typing import Any

from bench.common import (
    Generator,
    log,
    median,
    proc_rss_kb,
    seed,
    start_hubbub,
    workdir,
)
from bench.gen import (
    HUBBUB,
    AckWindow,
    Client,
    Fanout,
    Windows,
    close_all,
    connection_ends,
    emit,
    percentiles,
    perf,
)

TCP_ESTABLISHED = 1
# Slack over max_buffer_bytes x K for the memory target: allocator and
# bookkeeping noise of a server handling the load anyway.
RSS_SLACK_KB = 1024


def generator_config(args: Any, receivers: int) -> dict[str, Any]:
    quick = args.quick
    return {
        "mode": "slow",
        "host": "127.0.0.1",
        "channel": "general",
        "sample_every": 5 if quick else 10,
        "window": 256,
        # Bigger than fanout's 64: the slow socket's kernel send buffer (it
        # autotunes to MBs on loopback) fills before the server's own grows.
        "text_bytes": args.text_bytes or 1024,
        "receivers": receivers,
        "rate": args.rate or (1000.0 if quick else 100.0),
        "warmup": 0.5 if quick else 2.0,
        "measure_a": args.measure_a or (2.0 if quick else 15.0),
        "measure_b": args.measure_b or (6.0 if quick else 50.0),
        "slow": args.slow,
        "rcvbuf": 4096,
        "rss_every": 0.1,
    }


# --- the generator side (runs in `python -m bench.gen`) ----------------------------------


class Watcher(Client):
    """Watches the slow users' presence: `offline` is when the server closed
    them (hubbub detaches a connection as it sends the close frame)."""

    def __init__(self, host: str, port: int, token: str) -> None:
        super().__init__(host, port, HUBBUB.path(token), HUBBUB, token)
        self.offline: dict[str, float] = {}
        self.state: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_text(self, payload: bytes) -> None:
        if payload.startswith(b'{"type":"presence'):
            obj = json.loads(payload)
            if obj["type"] == "presence_state" and not self.state.done():
                self.state.set_result(None)
            elif obj["type"] == "presence" and obj["status"] == "offline":
                self.offline.setdefault(obj["user"], perf())
            return
        super().on_text(payload)


class SlowClient(Client):
    """A subscriber that stops reading (its transport's reading is paused)."""

    def __init__(self, host: str, port: int, path: str, d: Any, token: str) -> None:
        super().__init__(host, port, path, d, token)
        self.gone: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_lost(self) -> None:
        super().on_lost()
        if not self.gone.done():
            self.gone.set_result(None)


def tcp_state(c: Client) -> int:
    """The kernel's TCP state of a client's socket (1 = established)."""
    if c.transport is None:
        return 0
    sock = c.transport.get_extra_info("socket")
    try:
        return int(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0])
    except OSError:
        return 0


class Slow(Fanout):
    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__(cfg)
        self.rss: list[tuple[float, int]] = []
        self.slow: list[SlowClient] = []
        self.reset_at: dict[int, float] = {}
        self.slices: list[tuple[float, float, array[float]]] = []

    async def sample(self) -> None:
        """Server VmRSS and the slow sockets' TCP state, every `rss_every` s."""
        every = float(self.cfg["rss_every"])
        while True:
            t = perf()
            if self.server_pid:
                self.rss.append((t, proc_rss_kb(self.server_pid)))
            for i, c in enumerate(self.slow):
                # Reading is paused, so the transport never sees the server's
                # reset: the kernel's socket state does (a FIN queued behind
                # the unread data, from an abort with data unsent, does not).
                if i not in self.reset_at and tcp_state(c) != TCP_ESTABLISHED:
                    self.reset_at[i] = t
            await asyncio.sleep(every)

    async def open_slow(self, token: str) -> SlowClient:
        cfg = self.cfg
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Before connect, so the advertised window is small from the start.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, int(cfg["rcvbuf"]))
        sock.setblocking(False)
        await asyncio.wait_for(loop.sock_connect(sock, (self.host, self.port)), 10)
        c = SlowClient(self.host, self.port, HUBBUB.path(token), HUBBUB, token)
        await asyncio.wait_for(loop.create_connection(lambda: c, sock=sock), 10)
        await asyncio.wait_for(c.hello, 10)
        c.subscribe(HUBBUB.subscribe(cfg["channel"], token))
        await asyncio.wait_for(c.subscribed, 10)
        assert c.transport is not None
        c.transport.pause_reading()  # from here on it reads nothing
        return c

    async def phase(self, name: str, measure: float) -> dict[str, Any]:
        """One latency run at the configured rate, then drain."""
        cfg = self.cfg
        rate, warm = float(cfg["rate"]), float(cfg["warmup"])
        t0 = perf()
        lo, hi = t0 + warm, t0 + warm + measure
        AckWindow.lo, AckWindow.hi = lo, hi
        # 1 s slices, so phase B can be split at the slow client's cut-off.
        n = max(1, round(measure))
        edges = [lo + (hi - lo) * i / n for i in range(n + 1)]
        slices = [Windows.open(edges[i], edges[i + 1]) for i in range(n)]
        self.sender.ack_latencies = array("d")
        self.loop_lag = array("d")
        res = await self.measured(rate, warm, measure)
        res["drained"] = await self.drain(20)
        res["phase"] = name
        res["delivery"] = percentiles(array("d", (x for sl in slices for x in sl)))
        self.slices = list(zip(edges[:-1], edges[1:], slices, strict=True))
        res["ack"] = percentiles(self.sender.ack_latencies)
        res["gen_loop_lag"] = percentiles(self.loop_lag)
        res["t0"], res["t1"] = t0, perf()
        rss = [kb for t, kb in self.rss if t0 <= t <= res["t1"]]
        res["rss_kb"] = {
            "min": min(rss, default=0),
            "median": median([float(x) for x in rss]),
            "max": max(rss, default=0),
        }
        emit({"event": "phase", **res})
        return res

    async def run(self) -> dict[str, Any]:
        cfg = self.cfg
        k = int(cfg["slow"])
        tokens = cfg["receiver_tokens"]
        # The last K members are the slow ones: not among the readers.
        cfg["receiver_tokens"], slow_tokens = tokens[: len(tokens) - k], tokens[len(tokens) - k :]
        await self.connect(HUBBUB)
        watcher = Watcher(self.host, self.port, cfg["sender_token"])
        await asyncio.wait_for(
            asyncio.get_running_loop().create_connection(lambda: watcher, self.host, self.port), 10
        )
        await asyncio.wait_for(watcher.hello, 10)
        # The run outlasts the server's idle timeout (75 s): keep it alive.
        watcher.start_heartbeat(float(cfg.get("ping_every", 30.0)))
        sampling = asyncio.create_task(self.sample())
        watch = asyncio.create_task(self.watch_loop())
        try:
            a = await self.phase("A", float(cfg["measure_a"]))

            t = perf()
            rss_before = proc_rss_kb(self.server_pid) if self.server_pid else 0
            self.slow = [await self.open_slow(tok) for tok in slow_tokens]
            names = list(cfg["slow_users"])
            watcher.send_bytes(
                json.dumps({"action": "watch_presence", "usernames": names, "id": 1}).encode()
            )
            await asyncio.wait_for(watcher.state, 10)
            emit({"event": "slow", "clients": k, "seconds": round(perf() - t, 2)})
            b = await self.phase("B", float(cfg["measure_b"]))
            slow = await self.finish_slow(names, watcher, b["t0"])
            cut = [watcher.offline[u] for u in names if u in watcher.offline]
            if cut:
                # Before the first cut-off (the slow buffers growing) and after
                # the last one (the server rid of them).
                first, last = min(cut), max(cut)
                b["before_cut"] = percentiles(
                    array("d", (x for _, h, sl in self.slices if h <= first for x in sl))
                )
                b["after_cut"] = percentiles(
                    array("d", (x for lo, _, sl in self.slices if lo >= last for x in sl))
                )
        finally:
            sampling.cancel()
            watch.cancel()
        total = sum(c.messages for c in self.receivers)
        expected = self.sender.acked * len(self.receivers)
        result = {
            "event": "result",
            "receivers": len(self.receivers),
            "samplers": len(self.samplers),
            "rate": cfg["rate"],
            "phases": {"A": a, "B": b},
            "slow": slow,
            # After phase A and its drain, before the slow clients: RSS grows
            # during A (first-use allocations), so A's median is no baseline.
            "rss_before_b_kb": rss_before,
            "rss_series": [(round(t - a["t0"], 2), kb) for t, kb in self.rss],
            "messages_acked": self.sender.acked,
            "send_errors": self.sender.error_codes,
            "deliveries": total,
            "missing_deliveries": expected - total,
            "seq_gaps": sum(s.gaps for s in self.samplers),
            **connection_ends(self.receivers),
        }
        await close_all([*self.receivers, self.sender, watcher], 0.3)
        return result

    async def finish_slow(
        self, names: list[str], watcher: Watcher, t0: float
    ) -> list[dict[str, Any]]:
        """Read the slow clients at last, to see how they ended (a 4008 close
        frame, or a reset after hubbub's 5 s close timeout), bounded."""
        out = []
        for i, c in enumerate(self.slow):
            assert c.transport is not None
            still_open = i not in self.reset_at
            off = watcher.offline.get(names[i])
            c.transport.resume_reading()
            # Closed by the server: its close frame or reset comes within
            # its 5 s close timeout. Not closed: just drain what is queued.
            try:
                await asyncio.wait_for(asyncio.shield(c.gone), 8 if off else 1)
            except TimeoutError:
                c.close()
            out.append(
                {
                    "user": names[i],
                    "closed_by_server_s": round(off - t0, 2) if off else None,
                    "socket_closed_seen_s": round(self.reset_at[i] - t0, 2)
                    if i in self.reset_at
                    else None,
                    "open_at_end_of_b": still_open,
                    "close_code": c.close_code,
                    "lost": c.lost,
                    "messages_read": c.messages,
                }
            )
        return out


# --- the scenario (runs in the harness) ---------------------------------------------------


def describe(obj: dict[str, Any]) -> str:
    event = obj.get("event")
    if event == "connected":
        return f"  {obj['receivers']} receivers subscribed in {obj['seconds']:.1f} s"
    if event == "slow":
        return f"  {obj['clients']} slow client(s) subscribed and stopped reading"
    if event == "phase":
        d, sc, r = obj["delivery"], obj["server_core"], obj["rss_kb"]
        return (
            f"  phase {obj['phase']}: {obj['rate']:.0f} msg/s, {obj['dps']:,} deliveries/s, "
            f"lag {obj['lag_s']:.3f} s, server cpu {obj['server_cpu']:.0%} "
            f"(core not ours: {sc['other']:.0%})\n"
            f"    latency p50 {d.get('p50_ms')} ms  p99 {d.get('p99_ms')} ms  "
            f"p99.9 {d.get('p999_ms')} ms  max {d.get('max_ms')} ms  (n={d['n']}); "
            f"server RSS {r['min']:,}-{r['max']:,} KB"
        )
    return str(obj)


def one_run(args: Any, receivers: int, max_buffer: int) -> dict[str, Any]:
    with workdir(args.keep) as work:
        # b00000 sends, b00001.. read, the last K are the slow ones.
        tokens = seed(work, receivers + args.slow + 1)
        limits = {
            "messages_per_second": 1_000_000,
            "message_burst": 1_000_000,
            "max_buffer_bytes": max_buffer,
        }
        server = start_hubbub(work, limits)
        try:
            cfg = generator_config(args, receivers)
            cfg.update(
                port=server.port,
                server_pid=server.pid,
                receiver_tokens=tokens[1:],
                sender_token=tokens[0],
                slow_users=[f"b{i:05d}" for i in range(receivers + 1, receivers + 1 + args.slow)],
            )
            gen = Generator(cfg, work)
            try:
                while True:
                    obj = gen.read(120)
                    if obj.get("event") == "result":
                        gen.wait()
                        break
                    log(describe(obj))
            finally:
                gen.kill()
            if server.proc.poll() is not None:
                raise RuntimeError(f"server died:\n{server.tail()}")
        finally:
            server.stop()
    a, b = obj["phases"]["A"], obj["phases"]["B"]
    p99a, p99b = a["delivery"].get("p99_ms"), b["delivery"].get("p99_ms")
    obj["p99_change_pct"] = round((p99b - p99a) / p99a * 100, 1) if p99a and p99b else None
    # The most the server held during B (slow clients opened, filling, cut
    # off) over what it held just before them.
    obj["rss_growth_kb"] = b["rss_kb"]["max"] - obj["rss_before_b_kb"]
    obj["rss_bound_kb"] = max_buffer * args.slow // 1024
    obj["max_buffer_bytes"] = max_buffer
    return obj


def run(args: Any) -> dict[str, Any]:
    receivers = args.receivers or (50 if args.quick else 1000)
    # The product default (1 MiB) unless quick: a smaller one is cut off sooner.
    max_buffer = args.max_buffer or (32 * 1024 if args.quick else 1024 * 1024)
    runs = []
    for k in range(args.repeat):
        log(
            f"slow run {k + 1}/{args.repeat}: {receivers} readers + {args.slow} slow + 1 sender, "
            f"max_buffer_bytes={max_buffer:,}"
        )
        res = one_run(args, receivers, max_buffer)
        for s in res["slow"]:
            log(
                f"  slow {s['user']}: closed by the server at {s['closed_by_server_s']} s into B, "
                f"socket closed seen at {s['socket_closed_seen_s']} s, "
                f"close code {s['close_code']}, "
                f"read {s['messages_read']} messages once resumed"
            )
        b = res["phases"]["B"]
        if "before_cut" in b:
            log(
                f"  phase B p99 before the cut-off {b['before_cut'].get('p99_ms')} ms, "
                f"after it {b['after_cut'].get('p99_ms')} ms"
            )
        log(
            f"  p99 change {res['p99_change_pct']} %, server RSS growth "
            f"{res['rss_growth_kb']:,} KB (bound {res['rss_bound_kb']:,} KB + {RSS_SLACK_KB} KB)"
        )
        runs.append(res)
    return summarize(runs)


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def med(phase: str, key: str) -> float:
        return median([r["phases"][phase]["delivery"].get(key, float("nan")) for r in runs])

    closed = [s for r in runs for s in r["slow"]]
    m = {
        **{
            f"{ph}_{q}": med(ph, q)
            for ph in "AB"
            for q in ("p50_ms", "p99_ms", "p999_ms", "max_ms")
        },
        "p99_change_pct": median([r["p99_change_pct"] for r in runs if r["p99_change_pct"]]),
        "rss_growth_kb": median([float(r["rss_growth_kb"]) for r in runs]),
        "B_before_cut_p99_ms": median(
            [r["phases"]["B"].get("before_cut", {}).get("p99_ms", float("nan")) for r in runs]
        ),
        "B_after_cut_p99_ms": median(
            [r["phases"]["B"].get("after_cut", {}).get("p99_ms", float("nan")) for r in runs]
        ),
        "server_cpu_A": median([r["phases"]["A"]["server_cpu"] for r in runs]),
        "server_cpu_B": median([r["phases"]["B"]["server_cpu"] for r in runs]),
        "closed_by_server_s": median(
            [s["closed_by_server_s"] for s in closed if s["closed_by_server_s"] is not None]
        ),
        "not_ours_A": median([r["phases"]["A"]["server_core"]["other"] for r in runs]),
        "not_ours_B": median([r["phases"]["B"]["server_core"]["other"] for r in runs]),
    }
    bound = runs[0]["rss_bound_kb"]
    summary = {
        "scenario": "slow",
        "runs": runs,
        "median": m,
        "all_p99_change_pct": [r["p99_change_pct"] for r in runs],
        "all_rss_growth_kb": [r["rss_growth_kb"] for r in runs],
        "slow_closed": sum(1 for s in closed if s["closed_by_server_s"] is not None),
        "slow_total": len(closed),
        "p99_target_met": abs(m["p99_change_pct"]) < 10,
        "rss_target_met": m["rss_growth_kb"] <= bound + RSS_SLACK_KB,
        "missing_deliveries": sum(r["missing_deliveries"] for r in runs),
        "disconnected": sum(r["disconnected"] for r in runs),
    }
    log(
        f"slow: p99 A {m['A_p99_ms']} ms, B {m['B_p99_ms']} ms, change "
        f"{m['p99_change_pct']} % (runs: {summary['all_p99_change_pct']}); RSS growth "
        f"{m['rss_growth_kb']:,.0f} KB (runs: {summary['all_rss_growth_kb']}; bound {bound:,} KB); "
        f"slow clients closed: {summary['slow_closed']}/{summary['slow_total']}"
    )
    if summary["slow_closed"] < summary["slow_total"]:
        log("  WARNING: a slow client was never closed by the server during phase B")
    return summary
