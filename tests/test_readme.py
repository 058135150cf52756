"""The README's two-minute tour, run as a reader would run it, against a real
server, twice (the second run must work too: registering again is a 409 it
shrugs off, a resent `client_id` is the same message). The REST block is run
by bash, unchanged but for the server's address; the `wscat` blocks are run
frame for frame by a WebSocket client: each `npx wscat -c URL` opens a
connection, each `> {...}` is sent on it, each `< {...}` must be the next
answer."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from support import WAIT, WS, Server, ws_connect

README = Path(__file__).parents[1] / "README.md"
HOST = "127.0.0.1:8000"  # the address the README's commands use
Step = tuple[str, dict[str, Any]]


def tour(name: str) -> str:
    m = re.search(
        rf"<!-- tour: {name}\b[^>]*-->\s*```sh\n(.*?)```\s*<!-- /tour -->",
        README.read_text(),
        re.S,
    )
    assert m, f"no tour {name!r} in the README"
    return m.group(1)


def wscat_sessions(block: str) -> list[tuple[str, list[Step]]]:
    out: list[tuple[str, list[Step]]] = []
    for line in block.splitlines():
        line = line.strip()
        if m := re.match(r'npx wscat -c "([^"]+)"', line):
            out.append((m.group(1), []))
        elif line.startswith(("> ", "< ")):
            out[-1][1].append((line[0], json.loads(line[2:])))
    assert out, block
    return out


def rest_tour(server: Server) -> tuple[str, str]:
    """Run the REST block; alice's token (and bob's, registered like her)."""
    script = tour("rest").replace(f"H=http://{HOST}", f"H={server.url}")
    assert f"H={server.url}" in script
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script + '\necho "$TOKEN"'],
        capture_output=True,
        text=True,
        timeout=WAIT * 3,
    )
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    register, sent, history, token = lines
    assert "token" in json.loads(register) or json.loads(register)["error"]["code"] == "conflict"
    assert json.loads(sent)["text"] == "hello"
    assert "hello" in [m["text"] for m in json.loads(history)["messages"]]
    bob = script.replace("alice", "bob")
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", bob + '\necho "$TOKEN"'],
        capture_output=True,
        text=True,
        timeout=WAIT * 3,
    )
    assert done.returncode == 0, done.stderr
    return token, done.stdout.split()[-1]


async def run_wscat(block: str, url_of: Callable[[str], str]) -> list[list[dict[str, Any]]]:
    """Every session of the block, in order, left open to the end; what each
    received (`<` lines checked on the way)."""
    received: list[list[dict[str, Any]]] = []
    async with AsyncExitStack() as stack:
        for url, steps in wscat_sessions(block):
            ws: WS = await stack.enter_async_context(ws_connect(url_of(url)))
            got: list[dict[str, Any]] = []
            received.append(got)
            for kind, frame in steps:
                if kind == ">":
                    await ws.send(frame)
                else:
                    answer = await ws.recv()
                    got.append(answer)
                    assert answer == frame
            # Wait for the answers to frames sent with an `id` (an `ack` may come
            # after answers to later frames), then fence with a ping.
            waiting = {frame["id"] for kind, frame in steps if kind == ">" and "id" in frame}
            await ws.send({"action": "ping", "id": "end"})
            while waiting or not any(f.get("id") == "end" for f in got):
                f = await ws.recv()
                got.append(f)
                waiting.discard(f.get("id"))
    return received


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
async def test_the_rest_and_websocket_tour_runs_twice(
    server_factory: Callable[..., Server],
) -> None:
    server = server_factory("--registration", "open")  # as the README says to start it
    for run in (1, 2):
        alice, bob = rest_tour(server)

        def url_of(url: str, alice: str = alice, bob: str = bob) -> str:
            url = url.replace("$TOKEN", alice).replace("$BOB", bob)
            return url.replace(f"ws://{HOST}", server.ws_url.removesuffix("/ws"))

        a, b = await run_wscat(tour("ws"), url_of)
        ack = next(f for f in a if f.get("type") == "ack")
        assert (ack["id"], ack["message"]["text"], ack["duplicate"]) == (1, "hi bob", run == 2)
        texts = [f["text"] for f in b if f.get("type") == "message"]
        # bob's replay (since 0): alice's and his own "hello" (he was registered
        # by the same block), then "hi bob"; the second run stores nothing new.
        assert texts == ["hello", "hello", "hi bob"], (run, texts)


async def test_the_s1_tour_runs_twice(server_factory: Callable[..., Server]) -> None:
    server = server_factory("--allow-guests", "--guest-rooms", "create")

    def url_of(url: str) -> str:
        return url.replace(f"ws://{HOST}/ws", server.ws_url)

    for run in (1, 2):
        [got] = await run_wscat(tour("s1"), url_of)
        recent = [f for f in got if "messages" in f][-1]["messages"]
        assert [m["content"] for m in recent] == ["hello"] * run
