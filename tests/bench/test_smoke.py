"""The benchmark harness works end to end (a few seconds each). These are not
performance tests: the numbers are in docs/benchmarks.md, measured on purpose."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .helpers import run_bench


@pytest.mark.parametrize("scenario", ["fanout", "idle", "calibrate", "rooms", "slow"])
def test_bench_quick_run_passes_its_own_checks(scenario: str) -> None:
    run_bench(scenario, "--quick")  # wrong, as opposed to slow, fails it


def test_fanout_baseline_runs_the_relay_at_the_same_load(tmp_path: Path) -> None:
    out = tmp_path / "fanout.json"
    run_bench("fanout", "--quick", "--baseline", "--json", str(out))
    result = json.loads(out.read_text())
    hubbub, relay = result["runs"][0]["latency"], result["baseline"]["runs"][0]["latency"]
    assert relay["delivery"]["n"] > 0
    # Offered the same messages/s as hubbub's latency run (it records what it got).
    assert abs(relay["dps"] - hubbub["dps"]) <= 0.1 * hubbub["dps"]
    assert result["baseline"]["median"]["p99_ms"] > 0
