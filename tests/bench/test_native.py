"""The native load generator and relay (bench/native/*.c) work end to end.

Smoke tests of a few seconds each, not performance tests: the build works,
`--generator native` passes the runs' own checks against hubbub and against
the native relay, and the native generator counts what the Python one counts
on the same small run (every delivery, no seq gap).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from .helpers import ROOT, run_bench

pytestmark = pytest.mark.skipif(
    (os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")) is None,
    reason="the native generator needs a C compiler",
)


def harness(name: str) -> ModuleType:
    # By path: under pytest, `bench` is this test package (tests/bench), not
    # the harness (only for modules that import no other harness module).
    spec = importlib.util.spec_from_file_location(f"_harness_{name}", ROOT / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def build(name: str) -> Path:
    """bench.native.build(name), run as the harness runs it (from the root)."""
    code = f"from bench.native import build; print(build({name!r}))"
    r = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    return Path(r.stdout.strip())


def run_json(tmp_path: Path, *args: str) -> dict[str, Any]:
    out = tmp_path / "result.json"
    run_bench(*args, "--json", str(out))  # exits non-zero on a lost delivery, a gap...
    return json.loads(out.read_text())


def test_the_native_programs_build_and_are_rebuilt_when_their_source_is_newer() -> None:
    for name in ("loadgen", "relay"):
        exe = build(name)
        assert exe.is_file() and os.access(exe, os.X_OK)
        assert exe.parent == ROOT / ".cache" / "bench-native"
        os.utime(exe, (0, 0))  # older than its source: rebuilt
        assert build(name).stat().st_mtime > 0
        # Newer than the source, older than the header both include: rebuilt.
        header = ROOT / "bench" / "native" / "common.h"
        source_time = (ROOT / "bench" / "native" / f"{name}.c").stat().st_mtime
        os.utime(exe, (source_time + 1, source_time + 1))
        os.utime(header, (source_time + 2, source_time + 2))
        assert build(name).stat().st_mtime > source_time + 2


def run_checks(run: dict[str, Any], generator: str = "native") -> None:
    assert run["generator"] == generator
    assert run["messages_acked"] > 0
    assert run["deliveries"] == run["messages_acked"] * run["receivers"]
    assert run["missing_deliveries"] == 0 and run["disconnected"] == 0
    assert not run["send_errors"] and not run["seq_gaps"] and run["drained"]
    assert run["latency"]["delivery"]["n"] > 0
    assert all(st["dps"] > 0 and st["delivery"]["n"] > 0 for st in run["steps"])


@pytest.mark.timeout(120)
def test_fanout_quick_native_against_hubbub(tmp_path: Path) -> None:
    result = run_json(tmp_path, "fanout", "--quick", "--generator", "native", "--burst", "50")
    assert result["generator"] == "native"
    (run,) = result["runs"]
    run_checks(run)
    burst = run["burst"]
    assert burst["acked"] == burst["messages"] == 50
    assert burst["deliveries"] == 50 * run["receivers"] and burst["dps"] > 0


@pytest.mark.timeout(120)
def test_calibrate_quick_native_against_the_relay_both_ways(tmp_path: Path) -> None:
    result = run_json(tmp_path, "calibrate", "--quick", "--generator", "native", "--burst", "50")
    assert set(result) == {"machine", "per-message", "coalesced"}
    for summary in (result["per-message"], result["coalesced"]):
        assert summary["relay"] == "native"
        (run,) = summary["runs"]
        run_checks(run)
        assert summary["median"]["burst_dps"] > 0


@pytest.mark.timeout(180)
def test_several_senders_take_turns_and_nothing_is_lost(tmp_path: Path) -> None:
    # hubbub acks each sender's own sends; through the S1 tutorial protocol the
    # first sender's copy of the broadcast is every message's ack.
    peers = ("hubbub", "hubbub-s1", "relay-coalesced")
    result = run_json(tmp_path, "compare", "--quick", "--peers", ",".join(peers), "--senders", "3")
    assert result["senders"] == 3
    for name in peers:
        (run,) = result["servers"][name]["runs"]
        run_checks(run)
        assert run["senders"] == 3, name
    acks = result["servers"]["hubbub"]["runs"][0]["sender_acks"]
    # Message i goes out through sender i mod 3, and each is acked to its sender.
    assert sum(acks) == result["servers"]["hubbub"]["runs"][0]["messages_acked"]
    assert max(acks) - min(acks) <= 1


def test_several_senders_need_the_native_generator() -> None:
    r = run_bench(
        "fanout", "--quick", "--senders", "2", "--generator", "python", timeout=60, check=False
    )
    assert r.returncode == 2 and "--senders" in r.stderr


@pytest.mark.timeout(180)
@pytest.mark.parametrize("server", ["hubbub", "relay"])
def test_native_and_python_generators_count_the_same(tmp_path: Path, server: str) -> None:
    # The same small run (fixed steps, fixed latency rate) with each generator.
    runs = {}
    for generator in ("python", "native"):
        result = run_json(
            tmp_path, "compare", "--quick", "--peers", server, "--generator", generator
        )
        (run,) = result["servers"][server]["runs"]
        run_checks(run, generator)
        runs[generator] = run
    py, nat = runs["python"], runs["native"]
    assert py["receivers"] == nat["receivers"] and py["samplers"] == nat["samplers"]
    # Both offered the same schedule: the same steps, about as many messages.
    assert [s["rate"] for s in py["steps"]] == [s["rate"] for s in nat["steps"]]
    assert abs(py["messages_acked"] - nat["messages_acked"]) <= 0.1 * py["messages_acked"]
    # Both saw every delivery at its samplers' pace (1 in 5 receivers times it).
    for run in (py, nat):
        timed = sum(s["delivery"]["n"] for s in run["steps"])
        assert timed > 0


def test_dialects_speak_the_s1_tutorial() -> None:
    dialects = harness("dialects")
    tut = dialects.dialect("tutorial")
    assert tut.path("-", "general") == "/ws?room_name=general"
    assert tut.path("tok", "general") == "/ws?room_name=general&token=tok"
    assert tut.subscribe("general", "-") is None and tut.ready_on_upgrade()
    frame = json.loads(tut.send("general", "bench 1.5 x", 1, "c"))
    assert frame == {
        "action": "sendMessage",
        "room_name": "general",
        "user_name": "bench",
        "content": "bench 1.5 x",
    }
    push = b'{"messages":[{"user_name":"bench","content":"bench 2.5 xx"}]}'
    assert push.startswith(tut.message_prefix)
    assert tut.message(push) == (None, "bench 2.5 xx")
    assert tut.control(b'{"type":"pong","id":null}')[0] is dialects.Kind.PONG
