"""The benchmark harness works end to end (a few seconds each). These are not
performance tests: the numbers are in docs/benchmarks.md, measured on purpose."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("scenario", ["fanout", "idle", "calibrate", "rooms", "slow"])
def test_bench_quick_run_passes_its_own_checks(scenario: str) -> None:
    # A run exits non-zero when it sees a lost delivery, a seq gap, a rejected
    # send or a dropped connection: wrong, as opposed to slow.
    r = subprocess.run(
        [sys.executable, "-m", "bench", scenario, "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]


def test_fanout_baseline_runs_the_relay_at_the_same_load(tmp_path: Path) -> None:
    out = tmp_path / "fanout.json"
    r = subprocess.run(
        [sys.executable, "-m", "bench", "fanout", "--quick", "--baseline", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    result = json.loads(out.read_text())
    hubbub, relay = result["runs"][0]["latency"], result["baseline"]["runs"][0]["latency"]
    assert relay["delivery"]["n"] > 0
    # Offered the same messages/s as hubbub's latency run (it records what it got).
    assert abs(relay["dps"] - hubbub["dps"]) <= 0.1 * hubbub["dps"]
    assert result["baseline"]["median"]["p99_ms"] > 0
