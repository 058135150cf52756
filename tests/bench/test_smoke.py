"""The benchmark harness works end to end (a few seconds each). These are not
performance tests: the numbers are in docs/benchmarks.md, measured on purpose."""

from __future__ import annotations

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
