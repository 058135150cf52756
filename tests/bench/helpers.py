"""Running the benchmark harness from its tests: `python -m bench ...` in the
repository root, which must exit 0 (a run exits non-zero when it sees a lost
delivery, a seq gap, a rejected send or a dropped connection)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_bench(
    *args: str, timeout: float = 180, module: str = "bench", check: bool = True
) -> subprocess.CompletedProcess[str]:
    """`python -m MODULE ARGS` in the root; with `check`, it must exit 0."""
    r = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check:
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
    return r
