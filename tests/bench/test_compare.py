"""`python -m bench compare --quick` works end to end against every peer.

Not a performance test (the numbers are in docs/benchmarks.md, measured on
purpose): it proves the harness starts each server, drives it with the one load
generator, and that every server delivered every message it acknowledged.
The peers come from the registries: the run's own set-up does `npm ci` into
bench/peers/node and pip-installs the `bench` extra when they are missing, so
the first run on a fresh machine takes longer.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

from .helpers import ROOT, run_bench

SERVERS = [
    "hubbub",
    "hubbub-s1",
    "node-sio",
    "node-ws",
    "python-sio",
    "websockets",
    "relay",
    "relay-coalesced",
]


def load(name: str) -> ModuleType:
    # By path: under pytest, `bench` is this test package (tests/bench), not
    # the harness.
    spec = importlib.util.spec_from_file_location(f"_harness_{name}", ROOT / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.timeout(900)
@pytest.mark.skipif(shutil.which("node") is None, reason="the Node.js peers need node and npm")
def test_compare_quick_runs_every_peer_and_loses_nothing(tmp_path: Path) -> None:
    out = tmp_path / "compare.json"
    plots = tmp_path / "plots"
    # Non-zero on a lost delivery, a seq gap, an error or a disconnect (compare.check).
    r = run_bench(
        *("compare", "--quick", "--peers", ",".join(SERVERS)),
        *("--json", str(out), "--plots", str(plots)),
        timeout=840,
    )
    result = json.loads(out.read_text())
    assert list(result["servers"]) == SERVERS
    for name, s in result["servers"].items():
        for run in s["runs"]:
            assert run["messages_acked"] > 0, name
            assert run["deliveries"] == run["messages_acked"] * run["receivers"], name
            assert run["missing_deliveries"] == 0 and run["disconnected"] == 0, name
            assert not run["send_errors"] and not run["seq_gaps"], name
            # The samplers saw the deliveries and timed them.
            assert run["latency"]["delivery"]["n"] > 0, name
            assert all(st["dps"] > 0 for st in run["steps"]), name
        assert s["median"]["saturation_dps"] > 0, name
    for s in result["servers"].values():
        assert f"| {s['label']} |" in r.stdout  # the table
    for png in ("compare-throughput.png", "compare-latency.png"):
        assert (plots / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_dialects_parse_what_the_peers_send() -> None:
    dialects = load("dialects")
    Kind, dialect = dialects.Kind, dialects.dialect

    sio = dialect("socketio")
    assert sio.control(b"2") == (Kind.REPLY, b"3")
    assert sio.control(b'0{"sid":"x","pingInterval":25000}')[0] is Kind.OPEN
    assert sio.control(b'40{"sid":"y"}')[0] is Kind.HELLO
    assert sio.control(b"430[true]")[0] is Kind.SUBSCRIBED
    assert sio.control(b'4317[{"seq":3}]') == (Kind.ACK, 17)
    assert sio.control(b'44{"message":"no"}')[0] is Kind.ERROR
    payload = b'42["message",{"room":"general","seq":4,"author":"a","text":"bench 1.5 x"}]'
    assert payload.startswith(sio.message_prefix)
    assert sio.message(payload) == (4, "bench 1.5 x")
    assert sio.send("general", "t", 9, "c").startswith(b'429["send",')

    plain = dialect("plain")
    assert plain.control(b'{"type":"joined","room":"general"}')[0] is Kind.SUBSCRIBED
    assert plain.message(b'{"type":"message","room":"g","seq":2,"author":"a","text":"z"}') == (
        2,
        "z",
    )

    hub = dialect("hubbub")
    assert hub.control(b'{"type":"ack","id":5,"seq":1}') == (Kind.ACK, 5)
    assert hub.control(b'{"type":"error","code":"rate_limited","id":6}')[1][:2] == (
        6,
        "rate_limited",
    )
