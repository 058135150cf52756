"""Fan-out: R members subscribed to one channel, one sender (or `--senders N`
taking turns), open loop.

Finds saturation (deliveries/s stops following the offered rate, acks fall
behind, or the sender falls behind schedule), then runs at half of it and
reports end-to-end latency from intended send time.

The same generator runs against the native relay (`bench/native/relay.c`,
both ways of writing) for calibration (`calibrate`), or against
`bench.trivial` where no C compiler is at hand. `--generator native|python`
picks the load generator: `bench/native/loadgen.c` (the default where it
builds) or `bench/gen.py`; every run's result says which ran.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import (
    GEN_CORE,
    Generator,
    ServerProc,
    log,
    median,
    pinned,
    proc_rss_kb,
    seed,
    start_hubbub,
    start_trivial,
    workdir,
)
from bench.native import start_relay

TARGET_DPS = 150_000
# The run measures the server, not its rate limits (`bench compare` gives
# hubbub the same, so its numbers match this scenario's).
LIMITS = {
    "messages_per_second": 1_000_000,
    "message_burst": 1_000_000,
    "max_buffer_bytes": 64 * 1024 * 1024,
}
# How long each rate step and the latency run of `bench.gen.RateSearch` last
# (fan-out and rooms alike, so their steps mean the same).
SEARCH_TIMES: dict[str, Any] = {
    "settle": 1.0,
    "measure": 3.0,
    "latency_warmup": 2.0,
    "latency_measure": 15.0,
}
# --quick: two short steps and a short latency run, enough to go through every
# part of the search in a few seconds.
QUICK_SEARCH: dict[str, Any] = {
    "factor": 2.0,
    "max_steps": 2,
    "settle": 0.3,
    "measure": 0.7,
    "latency_warmup": 0.3,
    "latency_measure": 1.0,
}


def generator_config(quick: bool, receivers: int, **over: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "mode": "fanout",
        "host": "127.0.0.1",
        "channel": "general",
        "sample_every": 10,  # 1 in 10 receivers decodes frames and records latency
        "window": 256,  # sends in flight (unacked) at most
        "text_bytes": 64,
        "start_rate": 20.0,  # messages/s; x R deliveries/s
        "factor": 1.35,
        "max_steps": 14,
        **SEARCH_TIMES,
        "rates": [],
        "latency_rate": None,
    }
    if quick:
        cfg.update(sample_every=5, start_rate=50.0, **QUICK_SEARCH)
    cfg.update({k: v for k, v in over.items() if v is not None})
    cfg["receivers"] = receivers
    return cfg


def search_overrides(args: Any) -> dict[str, Any]:
    """The rate-search flags (`add_search_arguments`) given on the command line."""
    over = {
        "rates": args.rates,
        "latency_rate": args.latency_rate,
        "window": args.window,
        "start_rate": args.start_rate,
    }
    return {k: v for k, v in over.items() if v is not None}


def add_search_arguments(
    p: Any, window: str, start_rate: str, rates_example: str | None = None
) -> None:
    """The flags that steer `bench.gen.RateSearch`, with each scenario's own
    help (what its window counts, where it starts). Without `rates_example`,
    no --rates and --latency-rate: for a scenario that picks them itself."""
    p.add_argument("--window", type=int, help=window)
    p.add_argument("--start-rate", type=float, help=start_rate)
    if rates_example is None:
        return
    p.add_argument(
        "--rates",
        type=lambda s: [float(x) for x in s.split(",")],
        help=f"explicit step rates in messages/s, e.g. {rates_example}",
    )
    p.add_argument("--latency-rate", type=float, help="messages/s for the latency run")


def drive(
    gen: Generator, timeout: float, on_connected: Any = None, verbose: bool = True
) -> dict[str, Any]:
    while True:
        obj = gen.read(timeout)
        event = obj.get("event")
        if event == "result":
            gen.wait()
            return obj
        if event == "connected" and on_connected is not None:
            on_connected()
        if verbose:
            log(describe(obj))


def step_flags(obj: dict[str, Any], lost: str) -> list[str]:
    """What to look at in a step or latency event of `bench.gen.RateSearch`;
    `lost` is the scenario's count of dropped connections ("LOST=3" for "lost")."""
    flags = [
        flag
        for key, flag in (
            ("saturated", "SATURATED"),
            ("gen_saturated", "GENERATOR-SATURATED"),
            ("noisy", "NOISY"),
        )
        if obj.get(key)
    ]
    if obj.get(lost):
        flags.append(f"{lost.upper().replace('_', '-')}={obj[lost]}")
    return flags


def describe(obj: dict[str, Any]) -> str:
    event = obj.get("event")
    if event == "connected":
        return f"  {obj['receivers']} receivers subscribed in {obj['seconds']:.1f} s"
    if event == "burst":
        d = obj["delivery"]
        return (
            f"  burst    {obj['messages']} messages as fast as the socket takes them: "
            f"{obj['deliveries']} deliveries in {obj['seconds']:.3f} s = {obj['dps']:,.0f}/s"
            + (f", p99 {d['p99_ms']} ms" if d.get("n") else "")
        )
    if event in ("step", "latency"):
        flags = step_flags(obj, "receivers_lost")
        line = (
            f"  {event:7} {obj['rate']:8.1f} msg/s  target {obj['target_dps']:>8} "
            f"got {obj['dps']:>8} deliveries/s  acks {obj['ack_rate']:7.1f}/s  "
            f"lag {obj['lag_s']:.3f} s  server cpu {obj['server_cpu']:.0%}  "
            f"gen cpu {obj['gen_cpu']:.0%} {' '.join(flags)}"
        )
        for name in ("server_core", "gen_core"):
            c = obj[name]
            line += (
                f"\n           {name:11}: user {c['user']:.0%} sys {c['system']:.0%} "
                f"softirq {c['softirq']:.0%} steal {c['steal']:.0%} idle {c['idle']:.0%} "
                f"(not ours: {c['other']:.0%})"
            )
        if event == "latency":
            d, a = obj["delivery"], obj["ack"]
            if d.get("n"):
                line += (
                    f"\n  latency  delivery p50 {d['p50_ms']} ms  p99 {d['p99_ms']} ms  "
                    f"p99.9 {d['p999_ms']} ms  max {d['max_ms']} ms  (n={d['n']})"
                )
            if a.get("n"):
                line += f"\n           ack p50 {a['p50_ms']} ms  p99 {a['p99_ms']} ms"
            g = obj.get("gen_loop_lag", {})
            if g.get("n"):
                line += (
                    f"\n           generator loop lag p50 {g['p50_ms']} ms  "
                    f"p99 {g['p99_ms']} ms  max {g['max_ms']} ms"
                )
        return line
    return str(obj)


class Profiler:
    """py-spy on the server process while the generator runs (optional): writes
    collapsed stacks (`NAME.txt`, for `python -m bench.profile` or speedscope)."""

    def __init__(
        self, out: Path | None, pid: int, seconds: float, native: bool, name: str = "fanout"
    ) -> None:
        self.out, self.pid, self.seconds, self.native = out, pid, seconds, native
        self.name = name
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if self.out is None:
            return
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if not Path(spy).exists():
            log("  py-spy not found: .venv/bin/pip install py-spy")
            return
        self.out.mkdir(parents=True, exist_ok=True)
        argv = [spy, "record", "--pid", str(self.pid), "--duration", str(int(self.seconds))]
        argv += ["--rate", "250", "--format", "raw", "-o", str(self.out / f"{self.name}.txt")]
        argv += ["--nonblocking", "--gil"]
        if self.native:
            argv.append("--native")
        log(f"  py-spy recording the server for {self.seconds:.0f} s into {self.out}")
        self.proc = subprocess.Popen(
            pinned(GEN_CORE, argv), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def stop(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(self.seconds + 15)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def add_profile_arguments(p: Any, what: str) -> None:
    """The flags of `Profiler`; `what` is what it records ("the server")."""
    p.add_argument("--profile", type=Path, help=f"py-spy {what} into this dir")
    p.add_argument("--profile-seconds", type=float, default=20.0)
    p.add_argument("--native", action="store_true", help="py-spy --native (C frames too)")


def one_run(
    args: Any, server_factory: Any, tokens: list[str], senders: list[str], work: Path
) -> dict[str, Any]:
    """One generator run against the server `server_factory` starts: `tokens`
    receive, `senders` (one or more) send in turns."""
    server: ServerProc = server_factory()
    try:
        rss0 = proc_rss_kb(server.pid)
        cfg = generator_config(args.quick, len(tokens), **search_overrides(args))
        cfg.update(
            port=server.port,
            server_pid=server.pid,
            receiver_tokens=tokens,
            sender_token=senders[0],
        )
        if len(senders) > 1:
            cfg["sender_tokens"] = senders
        if getattr(args, "burst", None):
            cfg["burst"] = args.burst
        gen = Generator(cfg, work, generator=getattr(args, "generator", "python"))
        prof = Profiler(args.profile, server.pid, args.profile_seconds, args.native)
        try:
            res = drive(gen, 120, on_connected=prof.start)
        finally:
            gen.kill()
            prof.stop()
        res["server_rss_kb"] = {"start": rss0, "end": proc_rss_kb(server.pid)}
        if server.proc.poll() is not None:
            raise RuntimeError(f"server died:\n{server.tail()}")
        return res
    finally:
        server.stop()


def run(args: Any) -> dict[str, Any]:
    receivers = args.receivers or (50 if args.quick else 1000)
    senders = getattr(args, "senders", 1)
    runs: list[dict[str, Any]] = []
    baseline: list[dict[str, Any]] = []
    for k in range(args.repeat):
        log(f"fanout run {k + 1}/{args.repeat}: {receivers} receivers + {senders} sender(s)")
        with workdir(args.keep) as work:
            t = time.monotonic()
            tokens = seed(work, receivers + senders)
            log(f"  seeded {receivers + senders} users in {time.monotonic() - t:.1f} s")
            res = one_run(
                args,
                lambda w=work: start_hubbub(w, LIMITS),
                tokens[senders:],
                tokens[:senders],
                work,
            )
        runs.append(res)
        if args.baseline and res["latency"].get("dps"):
            baseline.append(relay_at(args, receivers, res["latency"]["dps"] / receivers))
    summary = summarize("fanout", runs)
    if baseline:
        summary["baseline"] = summarize("fanout-baseline (coalesced bench.trivial)", baseline)
    return summary


def relay_at(args: Any, receivers: int, rate: float) -> dict[str, Any]:
    """The coalesced trivial relay, one step and a latency run at `rate`
    messages/s: the latency of the same traffic through a server that does
    nothing else, measured minutes apart on the same machine."""
    log(f"  baseline: bench.trivial --coalesce at {rate:,.1f} msg/s")
    over = argparse.Namespace(
        **{**vars(args), "rates": [rate], "latency_rate": rate, "profile": None}
    )
    with workdir(args.keep) as work:
        relay = lambda w=work: start_trivial(w, True)  # noqa: E731
        senders = ["-"] * getattr(args, "senders", 1)
        return one_run(over, relay, ["-"] * receivers, senders, work)


def calibrate(args: Any) -> dict[str, Any]:
    """The generator's own ceiling: against a relay that does nothing, one
    write per delivery and coalesced. The native relay where it builds (it
    outruns either generator), else `bench.trivial`."""
    from bench import native

    receivers = args.receivers or (50 if args.quick else 1000)
    relay = "native" if native.available() else "trivial"
    start = start_relay if relay == "native" else start_trivial
    out = {}
    # The native relay is cheap to run both ways even in a smoke run.
    modes = [False] if args.quick and relay == "trivial" else [False, True]
    if getattr(args, "modes", None):  # e.g. only coalesced, for a wide --window
        modes = [m == "coalesced" for m in args.modes]
    for coalesce in modes:
        name = "coalesced" if coalesce else "per-message"
        runs = []
        for k in range(args.repeat):
            log(
                f"calibrate ({relay} relay, {name} writes, {args.generator} generator) "
                f"run {k + 1}/{args.repeat}: {receivers} receivers"
            )
            with workdir(args.keep) as work:
                res = one_run(
                    args,
                    lambda w=work, c=coalesce: start(w, c),
                    ["-"] * receivers,
                    ["-"] * getattr(args, "senders", 1),
                    work,
                )
            runs.append(res)
        out[name] = summarize(f"calibrate-{name}", runs)
        out[name]["relay"] = relay
    return out


def summarize(name: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    def lat(key: str) -> float:
        vals = [r["latency"]["delivery"][key] for r in runs if r["latency"].get("delivery", {})]
        return median([v for v in vals if isinstance(v, int | float)])

    def capacity(r: dict[str, Any]) -> float:
        # deliveries/s the server would reach with its core to itself, judging
        # from its CPU per delivery in the busiest step that kept up: a figure
        # that neighbours on a shared machine disturb much less than dps.
        ok = [s for s in r["steps"] if not s["saturated"] and s["server_cpu"] > 0.2]
        if not ok:
            return float("nan")
        top = max(ok, key=lambda s: s["dps"])
        # The server core's softirq time is mostly our loopback traffic, and it
        # is not in the process's own CPU time: count it against the server.
        busy = top["server_cpu"] + top["server_core"]["softirq"]
        return float(round(top["dps"] / min(1.0, busy)))

    def gen_ceiling(r: dict[str, Any]) -> float:
        # deliveries/s the generator could take at 100% of its core, judging
        # from the busiest step (its CPU per delivery there).
        top = max(r["steps"], key=lambda s: s["dps"])
        return top["dps"] / top["gen_cpu"] if top["gen_cpu"] > 0 else float("nan")

    summary = {
        "scenario": name,
        "generator": "/".join(sorted({r.get("generator", "python") for r in runs})),
        "runs": runs,
        "median": {
            "saturation_dps": median([r["saturation_dps"] for r in runs]),
            "latency_rate_dps": median([r["latency"].get("dps", 0) for r in runs]),
            "p50_ms": lat("p50_ms"),
            "p99_ms": lat("p99_ms"),
            "p999_ms": lat("p999_ms"),
            "max_ms": lat("max_ms"),
            "gen_ceiling_dps_est": median([gen_ceiling(r) for r in runs]),
            "server_cpu_capacity_dps_est": median([capacity(r) for r in runs]),
        },
        "all_saturation_dps": [r["saturation_dps"] for r in runs],
        "noisy_steps": sum(1 for r in runs for s in r["steps"] if s["noisy"]),
        "any_generator_saturated": any(
            s["gen_saturated"] for r in runs for s in [*r["steps"], r["latency"] or {}] if s
        ),
        "missing_deliveries": sum(r["missing_deliveries"] for r in runs),
        "disconnected": sum(r["disconnected"] for r in runs),
    }
    bursts = [r["burst"] for r in runs if r.get("burst")]
    if bursts:  # as fast as the socket takes them (the native generator's --burst)
        summary["median"]["burst_dps"] = median([b["dps"] for b in bursts])
        summary["median"]["burst_p99_ms"] = median(
            [b["delivery"].get("p99_ms", float("nan")) for b in bursts]
        )
    m = summary["median"]
    log(
        f"{name}: saturation {m['saturation_dps']:,.0f} deliveries/s (runs: "
        f"{', '.join(f'{x:,}' for x in summary['all_saturation_dps'])}); "
        f"at {m['latency_rate_dps']:,.0f}/s latency p50 {m['p50_ms']} ms, p99 {m['p99_ms']} ms, "
        f"p99.9 {m['p999_ms']} ms, max {m['max_ms']} ms; server CPU-bound capacity est. "
        f"{m['server_cpu_capacity_dps_est']:,.0f}/s; generator ceiling est. "
        f"{m['gen_ceiling_dps_est']:,.0f}/s ({summary['generator']} generator)"
        + (f"; burst {m['burst_dps']:,.0f} deliveries/s" if "burst_dps" in m else "")
    )
    if summary["any_generator_saturated"]:
        log("  WARNING: the load generator's core saturated in some step: see the steps")
    if summary["missing_deliveries"] or summary["disconnected"]:
        log(
            f"  WARNING: {summary['missing_deliveries']} deliveries missing, "
            f"{summary['disconnected']} receivers disconnected"
        )
    return summary
