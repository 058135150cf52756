"""The README's REST tour, run as a reader would run it: its shell block,
unchanged but for the server's address, against a real server, twice (the
second run must work too: registering again is a 409 it shrugs off)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from support import WAIT, Server

README = Path(__file__).parents[1] / "README.md"


def tour(name: str) -> str:
    m = re.search(
        rf"<!-- tour: {name}\b[^>]*-->\s*```sh\n(.*?)```\s*<!-- /tour -->",
        README.read_text(),
        re.S,
    )
    assert m, f"no tour {name!r} in the README"
    return m.group(1)


def test_the_rest_tour_runs_twice(server: Server) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    script = tour("rest").replace("H=http://127.0.0.1:8000", f"H={server.url}")
    assert f"H={server.url}" in script
    histories = []
    for run in (1, 2):
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            capture_output=True,
            text=True,
            timeout=WAIT * 3,
        )
        assert done.returncode == 0, (run, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr, done.stderr
        lines = [line for line in done.stdout.splitlines() if line.strip()]
        register, sent, history = (json.loads(line) for line in lines)
        if run == 1:
            assert "token" in register
        else:
            assert register["error"]["code"] == "conflict"
        assert sent["text"] == "hello" and sent["duplicate"] is (run == 2)
        histories.append(history)
    # The same client_id twice: one message, whichever run sent it.
    assert [m["text"] for m in histories[1]["messages"]] == ["hello"]
