"""hubbub against its peers (issue #4), fan-out scenario, in one run.

    python -m bench compare [--quick] [--repeat N] [--peers hubbub,node-sio,...]
                            [--json FILE] [--plots DIR]

First the load generator is calibrated against the native relay
(`bench/native/relay.c`, coalesced writes; `bench.trivial` where no C compiler
is at hand): the server is never the limit there, so what it reaches is the
generator's own ceiling. Then every server gets the same fan-out run (same
generator, same pinning: server on core 0, generator on core 1, same rate
steps, saturation rule and latency run at half of that server's own
saturation; see `bench.fanout` and `bench.gen`), one server at a time, and with
`--repeat N` the servers take turns so a noisy period hits them all.

The servers include hubbub twice (its native protocol, and the S1 tutorial
protocol with anonymous guests: `?room_name=`, `sendMessage`) and the native
relay twice (`relay`: one write per delivery; `relay-coalesced`: one write per
subscriber per read): the machine's own limit, so the table gives every
server's figure as a fraction of it too.

The peers (`bench/peers`) are installed by `setup()`: `npm ci` into
bench/peers/node when its node_modules is missing or older than the lock
file, and the `bench` extra of pyproject.toml with pip when one of its
packages is missing.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.common import (
    ROOT,
    SERVER_CORE,
    Generator,
    ServerProc,
    log,
    median,
    pinned,
    proc_rss_kb,
    seed,
    start_hubbub,
    start_process,
    start_trivial,
    workdir,
)
from bench.fanout import LIMITS, drive, generator_config, summarize
from bench.native import start_relay

PEERS_DIR = Path(__file__).resolve().parent / "peers"
NODE_DIR = PEERS_DIR / "node"
TARGETS = {"node-sio": 1.5, "python-sio": 3.0}  # issue #4: hubbub / peer, deliveries/s


@dataclasses.dataclass(frozen=True)
class Server:
    name: str
    dialect: str
    label: str  # for tables and plots
    # (work dir, receivers) -> (the server, receiver tokens or names, sender's)
    start: Callable[[Path, int], tuple[ServerProc, list[str], str]]


def _names(receivers: int) -> tuple[list[str], str]:
    return [f"b{i + 1:05d}" for i in range(receivers)], "b00000"


def _start_hubbub(work: Path, receivers: int) -> tuple[ServerProc, list[str], str]:
    tokens = seed(work, receivers + 1)
    return start_hubbub(work, LIMITS), tokens[1:], tokens[0]


def _start_hubbub_s1(work: Path, receivers: int) -> tuple[ServerProc, list[str], str]:
    """hubbub for S1 tutorial clients: anonymous guests in the seeded public
    #general, as the tutorial's users are (no token: "-")."""
    seed(work, 1)
    return start_hubbub(work, LIMITS, extra=["--allow-guests"]), ["-"] * receivers, "-"


def _relay(coalesce: bool) -> Callable[[Path, int], tuple[ServerProc, list[str], str]]:
    def start(work: Path, receivers: int) -> tuple[ServerProc, list[str], str]:
        return start_relay(work, coalesce), ["-"] * receivers, "-"

    return start


def _peer(argv: list[str], tag: str) -> Callable[[Path, int], tuple[ServerProc, list[str], str]]:
    def start(work: Path, receivers: int) -> tuple[ServerProc, list[str], str]:
        proc = start_process(
            pinned(SERVER_CORE, argv),
            work / f"{tag}.log",
            rf"{re.escape(tag)} listening on port (\d+)",
        )
        return (proc, *_names(receivers))

    return start


def _node() -> str:
    return shutil.which("node") or "node"


SERVERS: dict[str, Server] = {
    s.name: s
    for s in (
        Server("hubbub", "hubbub", "hubbub (SQLite, acks)", _start_hubbub),
        Server("hubbub-s1", "tutorial", "hubbub, S1 tutorial protocol (guests)", _start_hubbub_s1),
        Server(
            "node-sio",
            "socketio",
            "Socket.IO 4 (Node.js)",
            _peer([_node(), str(NODE_DIR / "sio.js"), "0"], "sio"),
        ),
        Server(
            "node-ws",
            "plain",
            "ws 8 (Node.js)",
            _peer([_node(), str(NODE_DIR / "ws.js"), "0"], "ws"),
        ),
        Server(
            "python-sio",
            "socketio",
            "python-socketio (uvicorn)",
            _peer([sys.executable, "-m", "bench.peers.socketio_server", "0"], "python-sio"),
        ),
        Server(
            "websockets",
            "plain",
            "websockets broadcast()",
            _peer([sys.executable, "-m", "bench.peers.websockets_server", "0"], "websockets"),
        ),
        Server("relay", "hubbub", "native relay, one write per delivery", _relay(False)),
        Server("relay-coalesced", "hubbub", "native relay, coalesced", _relay(True)),
    )
}
# The machine's own limit: every other row is also given as a fraction of these.
RELAYS = ("relay", "relay-coalesced")


# --- set-up: install what the peers need ---------------------------------------------------


def bench_requirements() -> list[str]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        project = tomllib.load(f)["project"]
    reqs: list[str] = project["optional-dependencies"]["bench"]
    return reqs


def _missing(requirements: list[str]) -> list[str]:
    out = []
    for req in requirements:
        name = re.split(r"[\s<>=!~;\[]", req, maxsplit=1)[0]
        try:
            metadata.version(name)
        except metadata.PackageNotFoundError:
            out.append(req)
    return out


def setup(servers: list[str], plots: bool) -> None:
    """Install what the chosen servers (and the plots) need and is missing."""
    wanted = {
        "python-sio": ["python-socketio"],
        "plots": ["matplotlib"],
    }
    names = [n for s in [*servers, *(["plots"] if plots else [])] for n in wanted.get(s, [])]
    reqs = [r for r in bench_requirements() if any(r.startswith(n) for n in names)]
    missing = _missing(reqs)
    if missing:
        log(f"setup: pip install {' '.join(missing)}")
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", *missing], check=True, timeout=600
        )
    if any(s.startswith("node-") for s in servers):
        npm = shutil.which("npm")
        if shutil.which("node") is None or npm is None:
            raise RuntimeError("the Node.js peers need node and npm on PATH")
        lock = NODE_DIR / "package-lock.json"
        installed = NODE_DIR / "node_modules" / ".package-lock.json"
        if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
            log(f"setup: npm ci in {NODE_DIR}")
            subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=NODE_DIR,
                check=True,
                timeout=600,
            )


def versions() -> dict[str, str]:
    out: dict[str, str] = {}
    for dist in (
        "hubbub",
        "python-socketio",
        "python-engineio",
        "websockets",
        "uvicorn",
        "uvloop",
        "httptools",
    ):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "-"
    try:
        node = subprocess.run([_node(), "--version"], capture_output=True, text=True, timeout=10)
        out["node"] = node.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        out["node"] = "-"
    for pkg in ("socket.io", "engine.io", "ws", "bufferutil"):
        try:
            meta = json.loads((NODE_DIR / "node_modules" / pkg / "package.json").read_text())
            out[f"npm:{pkg}"] = meta["version"]
        except (OSError, ValueError, KeyError):
            out[f"npm:{pkg}"] = "-"
    return out


# --- runs ------------------------------------------------------------------------------------


def one_run(args: Any, server: Server, receivers: int, work: Path) -> dict[str, Any]:
    # More senders are more of the room's members: the server starts with
    # receivers + senders members, the first sender being the one it names.
    extra = getattr(args, "senders", 1) - 1
    proc, tokens, sender = server.start(work, receivers + extra)
    tokens, senders = tokens[:receivers], [sender, *tokens[receivers:]]
    try:
        rss0 = proc_rss_kb(proc.pid)
        cfg = generator_config(
            args.quick,
            receivers,
            start_rate=args.start_rate,
            max_steps=args.max_steps,
            window=args.window,
        )
        cfg.update(
            dialect=server.dialect,
            port=proc.port,
            server_pid=proc.pid,
            receiver_tokens=tokens,
            sender_token=sender,
        )
        if extra:
            cfg["sender_tokens"] = senders
        if getattr(args, "burst", None):
            cfg["burst"] = args.burst
        generator = getattr(args, "generator", "python")
        gen = Generator(cfg, work, name=f"gen-{server.name}", generator=generator)
        try:
            res = drive(gen, 120)
        finally:
            gen.kill()
        if proc.proc.poll() is not None:
            raise RuntimeError(f"{server.name} died:\n{proc.tail()}")
        res["server_rss_kb"] = {"start": rss0, "end": proc_rss_kb(proc.pid)}
        return res
    finally:
        proc.stop()


def calibration(args: Any, receivers: int) -> dict[str, Any]:
    from bench import native

    if native.available():
        relay = SERVERS["relay-coalesced"]
    else:
        relay = Server(
            "trivial",
            "hubbub",
            "trivial (coalesced)",
            lambda work, n: (start_trivial(work, True), ["-"] * n, "-"),
        )
    log(f"calibration: the generator against {relay.label}, {receivers} receivers")
    with workdir(args.keep) as work:
        run = one_run(args, relay, receivers, work)
    summary = summarize("calibrate-coalesced", [run])
    summary["relay"] = relay.label
    return summary


def not_ours(runs: list[dict[str, Any]]) -> dict[str, float]:
    """Median share of each core that was neither our server's nor our
    generator's process time (the neighbours, plus the softirq of our traffic)."""
    steps = [s for r in runs for s in r["steps"]]
    return {
        "server_core": median([s["server_core"]["other"] for s in steps]),
        "gen_core": median([s["gen_core"]["other"] for s in steps]),
    }


def run(args: Any) -> dict[str, Any]:
    names = args.peers
    unknown = [n for n in names if n not in SERVERS]
    if unknown:
        raise SystemExit(f"unknown server(s): {', '.join(unknown)}; known: {', '.join(SERVERS)}")
    setup(names, plots=args.plots is not None)
    receivers = args.receivers or (50 if args.quick else 1000)
    info = versions()
    log("versions: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    cal = calibration(args, receivers)
    runs: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    failures: dict[str, list[str]] = {n: [] for n in names}
    for k in range(args.repeat):
        for name in names:
            log(
                f"compare {name} run {k + 1}/{args.repeat}: "
                f"{receivers} receivers + {getattr(args, 'senders', 1)} sender(s)"
            )
            with workdir(args.keep) as work:
                try:
                    runs[name].append(one_run(args, SERVERS[name], receivers, work))
                except Exception as exc:  # one server failing must not lose the others' runs
                    log(f"  FAILED: {name}: {exc}")
                    failures[name].append(str(exc).splitlines()[0])
    servers = {}
    for name in names:
        summary = (
            summarize(f"compare-{name}", runs[name])
            if runs[name]
            else {"runs": [], "missing_deliveries": 0, "disconnected": 0}
        )
        summary["label"] = SERVERS[name].label
        summary["failures"] = failures[name]
        summary["not_ours"] = not_ours(runs[name]) if runs[name] else {}
        servers[name] = summary
    result = {
        "scenario": "compare",
        "generator": args.generator,
        "receivers": receivers,
        "senders": getattr(args, "senders", 1),
        "versions": info,
        "calibration": cal,
        "servers": servers,
    }
    print(table(result))
    if args.plots is not None:
        plot(result, args.plots)
    return result


# --- the table and the plots ---------------------------------------------------------------


def _fmt_ms(v: float) -> str:
    return "-" if v != v else f"{v:.1f}"  # NaN: no latency run


def table(result: dict[str, Any]) -> str:
    servers = result["servers"]
    cal = result["calibration"]["median"]
    hub = servers.get("hubbub", {}).get("median", {}).get("saturation_dps")
    done = [s for s in servers.values() if s["runs"]]
    limits = [
        servers[r]["median"]["saturation_dps"] for r in RELAYS if servers.get(r, {}).get("runs")
    ]
    lines = [
        f"fan-out, {result['receivers']} receivers, {result.get('senders', 1)} sender(s); "
        "medians of "
        f"{max((len(s['runs']) for s in done), default=0)} run(s); "
        f"{result.get('generator', 'python')} load generator, its ceiling "
        f"(calibration) {cal['saturation_dps']:,.0f} deliveries/s",
        "",
        "| server | deliveries/s at saturation | p50 / p99 / p99.9 / max ms at half "
        "| server CPU there | server CPU per delivery | generator core saturated "
        "| not ours (server / gen core) | hubbub / peer | of the native relay "
        "(one write / coalesced) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in servers.items():
        failed = (
            f" ({len(s['failures'])} run(s) failed: {s['failures'][0]})" if s["failures"] else ""
        )
        if not s["runs"]:
            lines.append(f"| {s['label']} | failed{failed} | | | | | | | |")
            continue
        m = s["median"]
        sat = m["saturation_dps"]
        top = [max(r["steps"], key=lambda st: st["dps"]) for r in s["runs"]]
        cpu = median([st["server_cpu"] for st in top])
        us = median([us_per_delivery(r) for r in s["runs"]])
        flag = "YES" if s["any_generator_saturated"] else "no"
        # A run whose last step still kept up only gives a lower bound.
        bound = "" if all(r["reached_saturation"] for r in s["runs"]) else ">= "
        ratio = "-" if name == "hubbub" or not hub or not sat else f"{hub / sat:.2f}x"
        share = " / ".join(f"{sat / lim:.2f}" for lim in limits if lim) or "-"
        if name in TARGETS and ratio != "-":
            ratio += f" (target >= {TARGETS[name]}x)"
        lat = " / ".join(_fmt_ms(m[k]) for k in ("p50_ms", "p99_ms", "p999_ms", "max_ms"))
        no = s["not_ours"]
        lines.append(
            f"| {s['label']} | {bound}{sat:,.0f}{failed} | {lat} | {cpu:.0%} | {us:.1f} µs "
            f"| {flag} | {no['server_core']:.0%} / {no['gen_core']:.0%} | {ratio} | {share} |"
        )
    # Issue #18: the generator must sustain at least twice the fastest server.
    peers = [s for n, s in servers.items() if s["runs"] and n not in RELAYS]
    fastest = max((s["median"]["saturation_dps"] for s in peers), default=0)
    if fastest:
        lines.append(
            f"\ngenerator ceiling / fastest server: {cal['saturation_dps'] / fastest:.2f}x "
            "(target >= 2x; a ceiling that kept up with its last step is a lower bound)"
        )
    bursts = [(s["label"], s["median"]["burst_dps"]) for s in done if "burst_dps" in s["median"]]
    if bursts:
        lines.append("\nburst (as fast as the socket takes them), deliveries/s:")
        lines += [f"  {label}: {dps:,.0f}" for label, dps in bursts]
    return "\n".join(lines)


def us_per_delivery(run: dict[str, Any]) -> float:
    """Server CPU (process + its core's softirq, mostly our loopback traffic)
    per delivery in the busiest step that kept up: what the server costs,
    much less disturbed by neighbours than deliveries/s."""
    ok = [st for st in run["steps"] if not st["saturated"] and st["dps"]]
    if not ok:  # saturated from the first step: the busiest step still says it
        ok = [st for st in run["steps"] if st["dps"]]
    if not ok:
        return float("nan")
    top = max(ok, key=lambda st: st["dps"])
    return float((top["server_cpu"] + top["server_core"]["softirq"]) / top["dps"] * 1e6)


def _median_run(summary: dict[str, Any]) -> dict[str, Any]:
    m = summary["median"]["saturation_dps"]
    return min(summary["runs"], key=lambda r: abs(r["saturation_dps"] - m))


def plot(result: dict[str, Any], out: Path) -> list[Path]:
    """Delivered vs offered deliveries/s, and p99 latency vs load, one line
    per server (the run with the median saturation)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    def short(v: float, _pos: object = None) -> str:
        if v >= 1e6:
            return f"{v / 1e6:g}M"
        return f"{v / 1e3:g}k" if v >= 1e3 else f"{v:g}"

    def axes(ax: Any, ylabel: str) -> None:
        # Both axes logarithmic: the servers span two orders of magnitude.
        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(FuncFormatter(short))
            axis.set_minor_formatter(FuncFormatter(short))
        ax.tick_params(which="minor", labelsize=7)
        ax.set_xlabel("offered deliveries/s (messages/s x receivers)")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()

    out.mkdir(parents=True, exist_ok=True)
    done = [s for s in result["servers"].values() if s["runs"]]
    paths = []

    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    top = 0.0
    for s in done:
        steps = sorted(_median_run(s)["steps"], key=lambda st: st["target_dps"])
        xs = [st["target_dps"] for st in steps]
        ys = [st["dps"] for st in steps]
        top = max(top, *xs)
        ax.plot(xs, ys, marker="o", markersize=3, label=s["label"])
    low = min(st["target_dps"] for s in done for st in _median_run(s)["steps"])
    ax.plot([low, top], [low, top], color="grey", linestyle=":", linewidth=1, label="offered")
    ax.set_title(f"Fan-out to {result['receivers']} receivers: throughput by load")
    axes(ax, "delivered deliveries/s")
    paths.append(out / "compare-throughput.png")
    fig.tight_layout()
    fig.savefig(paths[-1])
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    for s in done:
        steps = sorted(_median_run(s)["steps"], key=lambda st: st["target_dps"])
        pts = [
            (st["target_dps"], st["delivery"]["p99_ms"])
            for st in steps
            if st.get("delivery", {}).get("n")
        ]
        if pts:
            ax.plot(*zip(*pts, strict=True), marker="o", markersize=3, label=s["label"])
    ax.set_title(f"Fan-out to {result['receivers']} receivers: p99 latency by load")
    axes(ax, "p99 latency from intended send time (ms)")
    paths.append(out / "compare-latency.png")
    fig.tight_layout()
    fig.savefig(paths[-1])
    plt.close(fig)
    for p in paths:
        log(f"wrote {p}")
    return paths


def check(result: dict[str, Any]) -> list[str]:
    """What makes a comparison wrong rather than slow: lost deliveries, errors,
    disconnects, seq gaps, on any server (or the calibration)."""
    problems = []
    for name, s in [("calibration", result["calibration"]), *result["servers"].items()]:
        for failure in s.get("failures", []):
            problems.append(f"{name}: run failed: {failure}")
        if s["missing_deliveries"]:
            problems.append(f"{name}: {s['missing_deliveries']} deliveries missing")
        if s["disconnected"]:
            problems.append(f"{name}: {s['disconnected']} receivers disconnected")
        for r in s["runs"]:
            if r["send_errors"]:
                problems.append(f"{name}: send errors {r['send_errors']}")
            if r["seq_gaps"]:
                problems.append(f"{name}: {r['seq_gaps']} gaps in seq seen by samplers")
            if not r["drained"]:
                problems.append(f"{name}: sends unacked or deliveries outstanding at the end")
            if not r["messages_acked"]:
                problems.append(f"{name}: no message acknowledged")
    return problems


def default_plots(quick: bool) -> Path | None:
    # A smoke run's plots mean nothing: never overwrite the documented ones.
    return None if quick else ROOT / "docs" / "benchmarks"


if __name__ == "__main__":
    # Re-render the table and the plots of a saved run:
    # python -m bench.compare RESULT.json [PLOTS_DIR]
    saved = json.loads(Path(sys.argv[1]).read_text())
    print(table(saved))
    plot(saved, Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "docs" / "benchmarks")
