"""Many small rooms: R rooms of 5 members, every member connected, subscribed
to its room and sending, open loop (see `bench.roomgen`).

Finds the highest rate of persisted messages (acked by the server, i.e.
committed), then runs at half of it and reports end-to-end delivery latency.
Afterwards it counts the stored messages per room in the database: every acked
message must be there, with no gap in `seq`.

Two configurations:

* one node, SQLite, in-process bus (the embedded default);
* `--nodes 2 --postgres --redis`: N nodes on one fresh PostgreSQL database and
  one private redis-server, each room's members spread over the nodes, so
  fan-out crosses nodes through Redis.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.common import (
    GEN_CORE,
    SERVER_CORE,
    Generator,
    ServerProc,
    create_pg_database,
    drop_pg_database,
    log,
    median,
    pg_postmaster_pid,
    pg_version,
    redis_version,
    room_counts,
    room_name,
    seed_rooms,
    start_hubbub,
    start_redis,
    start_trivial,
    workdir,
)
from bench.fanout import (
    QUICK_SEARCH,
    SEARCH_TIMES,
    Profiler,
    add_profile_arguments,
    add_search_arguments,
    search_overrides,
    step_flags,
)

TARGET_SQLITE = 20_000  # persisted messages/s, one node on SQLite
TARGET_CLUSTER = 10_000  # persisted messages/s over the nodes, PostgreSQL + Redis
TARGET_CLUSTER_P99_MS = 50.0  # at half of that rate
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"


def generator_config(args: Any, rooms: int) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "mode": "rooms",
        "host": "127.0.0.1",
        "rooms": rooms,
        "size": args.size,
        "window": 4,  # sends in flight per member at most
        "text_bytes": 64,
        "start_rate": 1000.0,  # messages/s over all rooms
        "factor": 1.3,
        "max_steps": 16,
        **SEARCH_TIMES,
        "concurrency": 200,
        "rates": [],
        "latency_rate": None,
    }
    if args.quick:
        cfg.update(start_rate=100.0, **QUICK_SEARCH)
    cfg.update(search_overrides(args))
    return cfg


def cores_arg(value: str | None) -> str | None:
    """`--server-cores none` (or `all`) leaves a process unpinned."""
    if value is None or value.lower() in ("", "none", "all"):
        return None
    return value


def describe(obj: dict[str, Any]) -> str:
    event = obj.get("event")
    if event == "progress":
        return f"  {obj['opened']} connections open ({obj['seconds']} s)"
    if event == "connected":
        return (
            f"  {obj['members']} members of {obj['rooms']} rooms on {obj['nodes']} node(s): "
            f"connected in {obj['open_seconds']} s, subscribed in {obj['subscribe_seconds']} s"
        )
    if event == "warmed":
        return (
            f"  warm-up: every member sent one message (closed loop): {obj['messages']} in "
            f"{obj['seconds']} s ({obj['messages'] / max(obj['seconds'], 1e-9):,.0f}/s)"
        )
    if event not in ("step", "latency"):
        return str(obj)
    flags = step_flags(obj, "lost")
    cpu = "  ".join(f"{k} {v:.0%}" for k, v in obj["cpu"].items() if k != "postgres_other_dbs")
    threads = obj.get("node_threads_cpu", {})
    if any(threads.values()):
        cpu += "  (nodes' non-loop threads: "
        cpu += ", ".join(f"{k} {v:.0%}" for k, v in threads.items()) + ")"
    if obj["cpu"].get("postgres_other_dbs"):
        cpu += f"  (other databases' backends {obj['cpu']['postgres_other_dbs']:.0%})"
    line = (
        f"  {event:7} {obj['rate']:8.0f} msg/s  persisted {obj['persisted']:8.0f}/s  "
        f"deliveries {obj['dps']:>7}/s  backlog {obj['backlog']} lag {obj['lag_s']:.3f} s  "
        f"{' '.join(flags)}\n           cpu: {cpu}  softirq {obj['softirq_cores']:.2f}  "
        f"not ours {obj['not_ours_cores']:.2f} cores"
    )
    if event == "latency":
        for key in ("delivery", "same_node", "cross_node", "ack"):
            d = obj[key]
            if d.get("n"):
                line += (
                    f"\n  {key:10} p50 {d['p50_ms']} ms  p99 {d['p99_ms']} ms  "
                    f"p99.9 {d['p999_ms']} ms  max {d['max_ms']} ms  (n={d['n']})"
                )
        g = obj.get("gen_loop_lag", {})
        if g.get("n"):
            line += f"\n  generator loop lag p50 {g['p50_ms']} ms  p99 {g['p99_ms']} ms"
    return line


def verify(
    url: str, rooms: int, acked: list[int], seq_max: list[int]
) -> dict[str, int | list[str]]:
    """Count what the database holds per room against what was acked."""
    counts = room_counts(url)
    missing = gaps = unacked = 0
    bad: list[str] = []
    for r in range(rooms):
        name = room_name(r)
        last_seq, stored, top = counts.get(name, (0, 0, 0))
        if stored < acked[r] or top < seq_max[r]:
            missing += max(acked[r] - stored, seq_max[r] - top, 1)
            bad.append(name)
        if not (last_seq == stored == top):  # seqs 1..n, each once
            gaps += 1
            bad.append(name)
        unacked += max(0, stored - acked[r])
    return {
        "stored": sum(c[1] for c in counts.values()),
        "acked_missing": missing,
        "rooms_with_seq_gaps": gaps,
        "stored_not_acked": unacked,
        "bad_rooms": sorted(set(bad))[:20],
    }


def log_lines(server: ServerProc) -> int:
    try:
        return len(server.log_path.read_text(errors="replace").splitlines())
    except OSError:
        return 0


def server_warnings(
    servers: list[ServerProc], marks: dict[str, list[int]]
) -> dict[str, dict[str, int]]:
    """The nodes' log lines (warnings and errors at --log-level warning), counted
    by their first words, per phase: set-up (connect, subscribe, warm-up), the
    measured steps, and the clients closing."""
    out: dict[str, dict[str, int]] = {"setup": {}, "steps": {}, "closing": {}}
    for i, s in enumerate(servers):
        try:
            lines = s.log_path.read_text(errors="replace").splitlines()
        except OSError:
            continue
        warm = marks.get("warmed", [len(lines)] * len(servers))[i]
        closing = marks.get("closing", [len(lines)] * len(servers))[i]
        for k, line in enumerate(lines):
            if k < 4 or not line.strip() or line.startswith(" "):
                continue  # the start banner; traceback lines
            phase = "setup" if k < warm else "steps" if k < closing else "closing"
            key = f"node{i}: {line[:90]}"
            out[phase][key] = out[phase].get(key, 0) + 1
    return out


def one_run(args: Any, rooms: int, work: Path) -> dict[str, Any]:
    nodes = args.nodes
    users = rooms * args.size
    pg_name: str | None = None
    servers: list[ServerProc] = []
    redis: ServerProc | None = None
    try:
        if args.postgres:
            pg_name, url = create_pg_database(args.pg_url)
            log(f"  database {pg_name}")
        else:
            url = f"sqlite:///{work / 'hubbub.db'}"
        t = time.monotonic()
        tokens = seed_rooms(url, rooms, args.size)
        log(f"  seeded {users} users in {rooms} rooms in {time.monotonic() - t:.1f} s")
        bus_url = None
        if args.redis:
            if args.redis_url:
                bus_url = args.redis_url
            else:
                redis = start_redis(work)
                bus_url = f"redis://127.0.0.1:{redis.port}/0"
        limits: dict[str, Any] = {
            "messages_per_second": 1_000_000,
            "message_burst": 1_000_000,
            # A connect storm of 10,000 token logins can queue past the 10 s default.
            "auth_timeout": 60,
        }
        for item in args.limit or []:
            key, _, value = item.partition("=")
            limits[key.strip()] = value.strip()
        for i in range(nodes):
            if args.server == "trivial":
                servers.append(start_trivial(work, coalesce=False, cores=args.server_cores))
                continue
            servers.append(
                start_hubbub(
                    work,
                    limits,
                    database_url=url if args.postgres else None,
                    bus_url=bus_url,
                    cores=args.server_cores,
                    name=f"node{i}",
                )
            )
        cfg = generator_config(args, rooms)
        procs = {f"node{i}": s.pid for i, s in enumerate(servers)}
        if redis is not None:
            procs["redis"] = redis.pid
        node_cores = len(args.server_cores.split(",")) if args.server_cores else 2
        cfg.update(
            ports=[s.port for s in servers],
            tokens=tokens,
            room_names=[room_name(r) for r in range(rooms)],
            procs=procs,
            pg_postmaster=pg_postmaster_pid(args.pg_url) if args.postgres else None,
            pg_db=pg_name,
            node_cores=min(node_cores, nodes),
        )
        gen = Generator(cfg, work, "rooms-gen", cores=args.gen_cores)
        profs = [
            Profiler(args.profile, s.pid, args.profile_seconds, args.native, f"rooms-node{i}")
            for i, s in enumerate(servers)
        ]

        marks: dict[str, list[int]] = {}

        def on_event(event: str) -> None:
            # Where each node's log was when the steps began and when the
            # clients started closing: its warnings are counted per phase.
            marks[event] = [log_lines(s) for s in servers]
            if event == "warmed":
                for p in profs:
                    p.start()

        try:
            while True:
                obj = gen.read(180)
                event = obj.get("event")
                if event == "result":
                    gen.wait()
                    res = obj
                    break
                if event in ("warmed", "closing"):
                    on_event(event)
                if event != "closing":
                    log(describe(obj))
        finally:
            gen.kill()
            for p in profs:
                p.stop()
        for i, s in enumerate(servers):
            if s.proc.poll() is not None:
                raise RuntimeError(f"node{i} died:\n{s.tail()}")
        for s in servers:
            s.stop()
        res["server_warnings"] = server_warnings(servers, marks)
        for phase, counts in res["server_warnings"].items():
            for text, n in counts.items():
                log(f"  server log, {phase}: {n} x {text}")
        acked, seq_max = res.pop("room_acked"), res.pop("room_seq_max")
        if args.server == "trivial":  # stores nothing: only the traffic is measured
            res["database"] = {
                "stored": 0,
                "acked_missing": 0,
                "rooms_with_seq_gaps": 0,
                "stored_not_acked": 0,
                "bad_rooms": [],
            }
            return res
        res["database"] = verify(url, rooms, acked, seq_max)
        d = res["database"]
        log(
            f"  database: {d['stored']} messages stored, {res['messages_acked']} acked; "
            f"acked but missing {d['acked_missing']}, rooms with seq gaps "
            f"{d['rooms_with_seq_gaps']}, stored but not acked {d['stored_not_acked']}"
        )
        return res
    finally:
        for s in servers:
            s.stop()
        if redis is not None:
            redis.stop()
        if pg_name is not None and not args.keep:
            drop_pg_database(args.pg_url, pg_name)
        elif pg_name is not None:
            log(f"  kept database {pg_name}")


def run(args: Any) -> dict[str, Any]:
    if args.server == "trivial" and (args.nodes > 1 or args.postgres or args.redis):
        raise SystemExit("--server trivial is one process with nothing behind it")
    if args.nodes > 1 and not (args.postgres and args.redis):
        raise SystemExit("several nodes need a shared database and bus: add --postgres --redis")
    if args.server_cores is None:
        # One node gets core 0 to itself (as in the other scenarios). Several
        # nodes, PostgreSQL and Redis share the machine: let the kernel place them.
        args.server_cores = SERVER_CORE if args.nodes == 1 else "none"
    args.server_cores = cores_arg(args.server_cores)
    args.gen_cores = cores_arg(args.gen_cores)
    rooms = args.rooms or (100 if args.quick else 2000)
    store = "postgresql" if args.postgres else "sqlite"
    bus = "redis" if args.redis else "memory"
    name = f"rooms-{args.nodes}node-{store}-{bus}"
    if args.server == "trivial":
        name = "rooms-trivial-server"
    runs = []
    for k in range(args.repeat):
        log(
            f"{name} run {k + 1}/{args.repeat}: {rooms} rooms x {args.size} members, "
            f"{args.nodes} node(s) on cores {args.server_cores or 'any'}, generator on "
            f"{args.gen_cores or 'any'}"
        )
        with workdir(args.keep) as work:
            runs.append(one_run(args, rooms, work))
    return summarize(name, args, runs)


def summarize(name: str, args: Any, runs: list[dict[str, Any]]) -> dict[str, Any]:
    def lat(key: str, part: str = "delivery") -> float:
        vals = [r["latency"].get(part, {}).get(key) for r in runs if r["latency"]]
        return median([v for v in vals if isinstance(v, int | float)])

    def top(r: dict[str, Any]) -> dict[str, Any]:
        s: dict[str, Any] = max(r["steps"], key=lambda s: s["persisted"])
        return s

    cluster = args.nodes > 1 or args.postgres
    target = TARGET_CLUSTER if cluster else TARGET_SQLITE
    m = {
        "persisted_per_s": median([r["saturation"] for r in runs]),
        "latency_rate": median([r["latency"].get("persisted", 0) for r in runs]),
        "p50_ms": lat("p50_ms"),
        "p99_ms": lat("p99_ms"),
        "p999_ms": lat("p999_ms"),
        "max_ms": lat("max_ms"),
        "same_node_p99_ms": lat("p99_ms", "same_node"),
        "cross_node_p99_ms": lat("p99_ms", "cross_node"),
        "ack_p50_ms": lat("p50_ms", "ack"),
        "server_us_per_msg": median([top(r)["server_us_per_msg"] or 0.0 for r in runs]),
        # What one core of generator would carry, from its CPU per message in
        # the busiest step: above that, the generator would be measuring itself.
        "gen_ceiling_est": median([gen_ceiling(top(r)) for r in runs]),
    }
    summary: dict[str, Any] = {
        "scenario": name,
        "runs": runs,
        "median": m,
        "all_persisted_per_s": [r["saturation"] for r in runs],
        "target_persisted_per_s": target,
        "target_met": m["persisted_per_s"] >= target,
        "noisy_steps": sum(1 for r in runs for s in r["steps"] if s["noisy"]),
        "any_generator_saturated": any(
            s["gen_saturated"] for r in runs for s in [*r["steps"], r["latency"] or {}] if s
        ),
        "missing_deliveries": sum(r["missing_deliveries"] for r in runs),
        "disconnected": sum(r["disconnected"] for r in runs),
    }
    if cluster:
        summary["target_p99_ms"] = TARGET_CLUSTER_P99_MS
        summary["target_p99_met"] = m["p99_ms"] < TARGET_CLUSTER_P99_MS
    log(
        f"{name}: {m['persisted_per_s']:,.0f} persisted msgs/s (runs: "
        f"{', '.join(f'{x:,.0f}' for x in summary['all_persisted_per_s'])}; target "
        f"{target:,}: {'met' if summary['target_met'] else 'NOT met'}); at "
        f"{m['latency_rate']:,.0f} msgs/s delivery p50 {m['p50_ms']} ms, p99 {m['p99_ms']} ms, "
        f"p99.9 {m['p999_ms']} ms, max {m['max_ms']} ms; server CPU "
        f"{m['server_us_per_msg']} us per message; generator ceiling est. "
        f"{m['gen_ceiling_est']:,.0f} msgs/s"
    )
    for r in runs:
        s = top(r)
        cpu = ", ".join(f"{k} {v:.0%}" for k, v in s["cpu"].items())
        log(f"  busiest step {s['persisted']:,.0f}/s: {cpu}; not ours {s['not_ours_cores']}")
    if summary["any_generator_saturated"]:
        log("  WARNING: the load generator's core saturated in some step: see the steps")
    return summary


def gen_ceiling(step: dict[str, Any]) -> float:
    cpu = step["cpu"]["generator"]
    return float(round(step["persisted"] / cpu)) if cpu > 0 else float("nan")


def add_arguments(p: Any) -> None:
    p.add_argument("--rooms", type=int, help="rooms (default 2000; --quick 100)")
    p.add_argument("--size", type=int, default=5, help="members per room")
    p.add_argument("--nodes", type=int, default=1, help="hubbub processes")
    p.add_argument(
        "--server",
        choices=("hubbub", "trivial"),
        default="hubbub",
        help="trivial: bench.trivial, which only relays (the machine's ceiling for this traffic)",
    )
    p.add_argument("--postgres", action="store_true", help="a fresh PostgreSQL database")
    p.add_argument("--pg-url", default=PG_ADMIN_URL, help="where to CREATE DATABASE")
    p.add_argument("--redis", action="store_true", help="the Redis bus (a private redis-server)")
    p.add_argument("--redis-url", help="use this Redis instead of a private one")
    add_search_arguments(
        p,
        "sends in flight per member (default 4)",
        "first step, messages/s (default 1000)",
        rates_example="2000,4000",
    )
    p.add_argument(
        "--server-cores",
        help="taskset list for the nodes, or 'none' (default: 0 for one node, none for more)",
    )
    p.add_argument("--gen-cores", default=GEN_CORE, help="taskset list or 'none'")
    p.add_argument(
        "--limit",
        action="append",
        metavar="NAME=VALUE",
        help="an extra server --limit (repeatable), e.g. presence_ttl=3600",
    )
    add_profile_arguments(p, "every node")


def versions(args: Any) -> dict[str, str]:
    out = {}
    if args.postgres:
        out["postgresql"] = pg_version(args.pg_url)
    if args.redis and not args.redis_url:
        out["redis-server"] = redis_version()
    return out
