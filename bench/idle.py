"""Idle connections: server memory per connection and idle CPU.

N authenticated connections, each sending `{"action":"ping"}` once on connect
and then every ~30 s (random phase, so the pings are spread evenly). A
warm-up batch connects first so one-time costs (lazy imports, first-use
caches, allocator arenas) are not charged to the N connections.
"""

from __future__ import annotations

import time
from typing import Any

from bench.common import (
    Generator,
    log,
    median,
    proc_cpu_parts,
    proc_fds,
    proc_rss_kb,
    seed,
    start_hubbub,
    start_trivial,
    workdir,
)
from bench.fanout import Profiler

TARGET_KB = 8.0  # issue #18
PER_GENERATOR = 9000  # each generator process needs one fd per connection


def one_run(args: Any, n: int, warm: int, trivial: bool = False) -> dict[str, Any]:
    with workdir(args.keep) as work:
        if trivial:  # it takes any token
            tokens = [f"t{i}" for i in range(n + warm)]
            server = start_trivial(work, coalesce=False)
        else:
            t = time.monotonic()
            tokens = seed(work, n + warm, channel=None)
            log(f"  seeded {n + warm} users in {time.monotonic() - t:.1f} s")
            # auth_timeout: a connect storm on a busy machine can queue token logins
            # (one user lookup each) past the 10 s default; not what this measures.
            limits = {"max_connections_per_user": 20, "auth_timeout": 60}
            server = start_hubbub(work, limits)
        # Connecting is the slow part (each login reads the store: a few
        # hundred a second here), and the generators connect at once: give
        # them time in proportion, and hold every connection until the
        # measurement is over however early its generator was ready.
        connect_timeout = 60 + n / 100
        hold = connect_timeout + args.settle + args.cpu_window + 30
        gens: list[Generator] = []
        try:
            time.sleep(0.5)
            rss_empty = proc_rss_kb(server.pid)

            def start(name: str, toks: list[str]) -> Generator:
                cfg = {
                    "mode": "idle",
                    "host": "127.0.0.1",
                    "port": server.port,
                    "tokens": toks,
                    "ping_every": args.ping_every,
                    "max_hold": hold,
                    "concurrency": 100,
                }
                g = Generator(cfg, work, name)
                gens.append(g)
                return g

            warm_gen = start("warm", tokens[:warm])
            warm_gen.read(60)
            time.sleep(args.settle)
            rss_warm = proc_rss_kb(server.pid)

            t = time.monotonic()
            rest = tokens[warm:]
            batch = [
                start(f"idle{i}", rest[j : j + PER_GENERATOR])
                for i, j in enumerate(range(0, len(rest), PER_GENERATOR))
            ]
            for g in batch:
                ready = g.read(connect_timeout)
                log(f"  {ready['connections']} connections ready in {ready['seconds']} s")
            connect_s = time.monotonic() - t
            time.sleep(args.settle)
            rss_connected = proc_rss_kb(server.pid)
            fds = proc_fds(server.pid)

            prof = Profiler(args.profile, server.pid, args.cpu_window, False, "idle")
            prof.start()
            (user0, sys0), t0 = proc_cpu_parts(server.pid), time.monotonic()
            time.sleep(args.cpu_window)
            (user1, sys1), elapsed = proc_cpu_parts(server.pid), time.monotonic() - t0
            user, system = (user1 - user0) / elapsed, (sys1 - sys0) / elapsed
            cpu = user + system
            rss_after = proc_rss_kb(server.pid)
            prof.stop()

            results = []
            for g in gens:
                g.tell("stop")
            for g in gens:
                results.append(g.read(30))
                g.wait()
            if server.proc.poll() is not None:
                raise RuntimeError(f"server died:\n{server.tail()}")
        finally:
            for g in gens:
                g.kill()
            server.stop()
    idle_results = results[1:]
    res = {
        "server": "trivial" if trivial else "hubbub",
        "connections": n,
        "warmup_connections": warm,
        "connect_seconds": round(connect_s, 2),
        "server_fds": fds,
        "rss_kb": {
            "empty": rss_empty,
            "warm": rss_warm,
            "connected": rss_connected,
            "after_cpu_window": rss_after,
        },
        "kb_per_connection": round((rss_after - rss_warm) / n, 2),
        "kb_per_connection_at_connect": round((rss_connected - rss_warm) / n, 2),
        "server_idle_cpu": round(cpu, 4),
        "server_idle_cpu_user": round(user, 4),
        "server_idle_cpu_system": round(system, 4),
        "cpu_window_s": args.cpu_window,
        "pings": sum(r["pings"] for r in results),
        "pongs": sum(r["pongs"] for r in results),
        "errors": sum(r["errors"] for r in results),
        "dropped": sum(r["lost_early"] for r in results),
        "gen_cpu": [r["gen_cpu"] for r in idle_results],
    }
    log(
        f"  {res['server']}: RSS empty {rss_empty / 1024:.1f} MiB, warm {rss_warm / 1024:.1f} MiB, "
        f"+{n} conns {rss_connected / 1024:.1f} MiB, after {args.cpu_window:.0f} s "
        f"{rss_after / 1024:.1f} MiB -> {res['kb_per_connection']} KB/connection; "
        f"idle CPU {cpu:.1%} of a core ({user:.1%} user, {system:.1%} system); "
        f"{res['pongs']}/{res['pings']} pings answered"
    )
    return res


def run(args: Any) -> dict[str, Any]:
    n = args.connections or (200 if args.quick else 5000)
    warm = 20 if args.quick else 100
    runs, baseline = [], []
    for k in range(args.repeat):
        log(f"idle run {k + 1}/{args.repeat}: {n} connections (+{warm} warm-up)")
        runs.append(one_run(args, n, warm))
        if args.baseline:
            baseline.append(one_run(args, n, warm, trivial=True))
    m = {
        "kb_per_connection": median([r["kb_per_connection"] for r in runs]),
        "server_idle_cpu": median([r["server_idle_cpu"] for r in runs]),
    }
    summary: dict[str, Any] = {"scenario": "idle", "runs": runs, "median": m}
    line = (
        f"idle: {n} connections: {m['kb_per_connection']} KB/connection (target < {TARGET_KB}), "
        f"idle CPU {m['server_idle_cpu']:.1%} of a core"
    )
    if baseline:
        summary["baseline_runs"] = baseline
        m["trivial_idle_cpu"] = median([r["server_idle_cpu"] for r in baseline])
        line += f"; the trivial server {m['trivial_idle_cpu']:.1%} with the same pings"
    log(line)
    return summary
