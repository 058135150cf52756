"""`python -m bench {calibrate,fanout,idle,rooms,slow,compare,upload,search,cost} [--quick]
[--repeat N]
[--json FILE]`.

See docs/benchmarks.md for the method and the results.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from bench import compare, cost, fanout, idle, native, rooms, search, slow, upload
from bench.common import have_taskset, log, machine

# --window and --start-rate of the scenarios that run the fan-out generator.
FANOUT_SEARCH_HELP = ("sender's in-flight (unacked) window", "first step, messages/s")


def add_generator_arguments(p: argparse.ArgumentParser) -> None:
    """--generator and --burst, for the scenarios that run the fan-out generator."""
    p.add_argument(
        "--generator",
        choices=native.GENERATORS,
        help="the load generator: bench/native/loadgen.c or bench/gen.py "
        "(default: native where a C compiler builds it, python otherwise)",
    )
    p.add_argument(
        "--burst",
        type=int,
        help="before the rate steps, N messages as fast as the socket takes them "
        "(native generator only)",
    )
    p.add_argument(
        "--senders",
        type=int,
        default=1,
        help="members sending into the room, taking turns message by message "
        "(default 1; more needs the native generator)",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    sub = parser.add_subparsers(dest="scenario", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
        p.add_argument("--repeat", type=int, default=1, help="runs (report the median)")
        p.add_argument("--json", type=Path, help="also write the full results here")
        p.add_argument("--keep", action="store_true", help="keep the temporary data dir")

    for name, text in (
        ("fanout", "1000-member channel: saturation deliveries/s, latency at half of it"),
        ("calibrate", "the load generator's own ceiling, against bench.trivial"),
    ):
        p = sub.add_parser(name, help=text, description=text)
        common(p)
        p.add_argument("--receivers", type=int, help="subscribed members (default 1000)")
        fanout.add_search_arguments(p, *FANOUT_SEARCH_HELP, rates_example="50,100,150")
        fanout.add_profile_arguments(p, "the server")
        add_generator_arguments(p)
        if name == "calibrate":
            p.add_argument(
                "--modes",
                type=lambda v: [x for x in v.split(",") if x],
                help="the relay's ways of writing to run: per-message,coalesced (default both); "
                "a wide --window only suits coalesced, whose backlog stays small",
            )
        if name == "fanout":
            p.add_argument(
                "--baseline",
                action="store_true",
                help="after each run, the coalesced bench.trivial relay's latency at the "
                "same load (what the machine alone costs)",
            )

    p = sub.add_parser("idle", help="idle connections: server KB per connection, idle CPU")
    common(p)
    p.add_argument("--connections", type=int, help="idle connections (default 5000)")
    p.add_argument("--ping-every", type=float, default=30.0)
    p.add_argument("--cpu-window", type=float, default=None, help="seconds (default 10)")
    p.add_argument("--settle", type=float, default=None, help="seconds before measuring")
    p.add_argument("--profile", type=Path, help="py-spy the server's idle window into this dir")
    p.add_argument(
        "--baseline",
        action="store_true",
        help="also run each repetition against bench.trivial (what the wake-ups alone cost)",
    )

    p = sub.add_parser(
        "rooms",
        help="many small rooms, everyone sending: persisted msgs/s, latency at half of it",
        description=rooms.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common(p)
    rooms.add_arguments(p)

    p = sub.add_parser(
        "slow",
        help="slow consumer: the others' latency and the server's memory when one stops reading",
        description=slow.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common(p)
    p.add_argument("--receivers", type=int, help="reading members (default 1000; 50 quick)")
    p.add_argument("--slow", type=int, default=1, help="members that stop reading (default 1)")
    p.add_argument("--rate", type=float, help="messages/s (default 100; 1000 quick)")
    p.add_argument(
        "--max-buffer", type=int, help="server max_buffer_bytes (default 1048576; 32768 quick)"
    )
    p.add_argument("--text-bytes", type=int, help="message text size (default 1024)")
    p.add_argument("--measure-a", type=float, help="seconds measured, baseline (default 15)")
    p.add_argument("--measure-b", type=float, help="seconds measured, slow (default 50)")

    p = sub.add_parser(
        "compare",
        help="fan-out against the peers (Socket.IO, ws, python-socketio, websockets)",
        description=compare.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common(p)
    p.add_argument(
        "--peers",
        type=lambda s: [x.strip() for x in s.split(",") if x.strip()],
        default=list(compare.SERVERS),
        help=f"servers to run, in order (default {','.join(compare.SERVERS)})",
    )
    p.add_argument(
        "--plots",
        type=Path,
        default=argparse.SUPPRESS,
        help="write the PNG plots here (default docs/benchmarks; none with --quick)",
    )
    p.add_argument("--receivers", type=int, help="subscribed members (default 1000)")
    # No --rates or --latency-rate: every server takes the same steps and has its
    # latency run at half of its own saturation, or the comparison is unfair.
    fanout.add_search_arguments(p, *FANOUT_SEARCH_HELP)
    p.add_argument(
        "--max-steps", type=int, default=None, help="rate steps at most (default 18; 2 quick)"
    )
    add_generator_arguments(p)

    p = sub.add_parser(
        "upload",
        help="a 100 MiB file uploaded and downloaded: MiB/s, and the server's RSS meanwhile",
        description=upload.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common(p)
    upload.add_arguments(p)

    p = sub.add_parser(
        "search",
        help="full-text search on 1,000,000 messages, SQLite and PostgreSQL, against LIKE",
        description=search.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common(p)
    search.add_arguments(p)

    p = sub.add_parser(
        "cost",
        help="serverless cost: DynamoDB requests and capacity per message to a room of N, "
        "hubbub's Lambda against the seed tutorial's design",
        description=cost.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common(p)
    cost.add_arguments(p)

    args = parser.parse_args(argv)
    if not have_taskset():
        log("WARNING: no taskset or fewer than 2 cores: server and generator are not pinned")
    if args.scenario == "idle":
        if args.cpu_window is None:
            args.cpu_window = 2.0 if args.quick else 10.0
        if args.settle is None:
            args.settle = 0.5 if args.quick else 2.0

    if args.scenario == "calibrate" and set(args.modes or []) - {"per-message", "coalesced"}:
        parser.error("--modes: per-message and/or coalesced")
    if args.scenario in ("fanout", "calibrate", "compare"):
        args.generator = native.resolve(args.generator)
        if args.burst and args.generator != "native":
            parser.error("--burst needs the native generator")
        if args.senders < 1 or (args.senders > 1 and args.generator != "native"):
            parser.error("--senders: 1, or more with the native generator")
        log(f"load generator: {args.generator}")
    if args.scenario == "compare":
        if not hasattr(args, "plots"):
            args.plots = compare.default_plots(args.quick)
        if args.max_steps is None and not args.quick:
            # hubbub already keeps up with the 14th step of `fanout` (~990,000/s).
            args.max_steps = 18

    info = machine()
    if args.scenario == "rooms":
        info["services"] = rooms.versions(args)
    log(
        f"{info['nproc']} cores, {info['cpu']}, Python {info['python']}, "
        f"hubbub {info['packages']['hubbub']}"
    )
    t = time.monotonic()
    result: dict[str, Any]
    if args.scenario == "fanout":
        result = fanout.run(args)
    elif args.scenario == "calibrate":
        result = fanout.calibrate(args)
    elif args.scenario == "rooms":
        result = rooms.run(args)
    elif args.scenario == "compare":
        result = compare.run(args)
    elif args.scenario == "slow":
        result = slow.run(args)
    elif args.scenario == "upload":
        result = upload.run(args)
    elif args.scenario == "search":
        result = search.run(args)
    elif args.scenario == "cost":
        result = cost.run(args)
    else:
        result = idle.run(args)
    log(f"done in {time.monotonic() - t:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({"machine": info, **result}, indent=2) + "\n")
        log(f"wrote {args.json}")
    problems = check(args.scenario, result)
    for problem in problems:
        log(f"FAILED: {problem}")
    return 1 if problems else 0


def check(scenario: str, result: dict[str, Any]) -> list[str]:
    """What makes a run wrong rather than slow (a smoke run fails on these)."""
    if scenario == "compare":
        return compare.check(result)
    if scenario == "upload":
        return upload.check(result)
    if scenario == "search":
        return search.check(result)
    if scenario == "cost":
        return cost.check(result)
    problems = []
    if scenario == "calibrate":
        summaries = list(result.values())
    else:  # and a fan-out's baseline relay, which must not lose deliveries either
        summaries = [result, *([result["baseline"]] if "baseline" in result else [])]
    for s in summaries:
        if scenario == "idle":
            for r in s["runs"] + s.get("baseline_runs", []):
                if r["errors"] or r["dropped"]:
                    problems.append(f"{r['errors']} error frames, {r['dropped']} closed early")
        elif scenario == "rooms":
            problems += check_rooms(s)
        else:
            if s["missing_deliveries"]:
                problems.append(f"{s['missing_deliveries']} deliveries missing")
            if s["disconnected"]:
                problems.append(f"{s['disconnected']} receivers disconnected")
            for r in s["runs"]:
                if r["send_errors"]:
                    problems.append(f"send errors: {r['send_errors']}")
                if r["seq_gaps"]:
                    problems.append(f"{r['seq_gaps']} gaps in seq seen by samplers")
    return problems


def check_rooms(s: dict[str, Any]) -> list[str]:
    problems = []
    for r in s["runs"]:
        db = r["database"]
        for key, what in (
            ("missing_deliveries", "deliveries missing"),
            ("extra_deliveries", "deliveries more than acked"),
            ("disconnected", "members disconnected"),
            ("seq_gaps", "gaps in seq seen by samplers"),
            ("duplicates", "acks marked duplicate"),
            ("ack_seq_mismatch_rooms", "rooms whose acked seqs are not 1..n"),
        ):
            if r[key]:
                problems.append(f"{r[key]} {what}")
        if r["send_errors"]:
            problems.append(f"send errors: {r['send_errors']}")
        if not r["drained"]:
            problems.append("sends still unacked or deliveries outstanding at the end")
        if db["acked_missing"]:
            problems.append(f"{db['acked_missing']} acked messages not in the database")
        if db["rooms_with_seq_gaps"]:
            problems.append(f"{db['rooms_with_seq_gaps']} rooms with a seq gap in the database")
        if db["bad_rooms"]:
            problems.append(f"rooms to look at: {', '.join(db['bad_rooms'])}")
    return problems


if __name__ == "__main__":
    sys.exit(main())
