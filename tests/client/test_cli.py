"""`hubbub register/login/send/tail` as real processes against a real server."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path
from queue import Empty, Queue

import httpx
import pytest

from support import WAIT, Server, auth


def hubbub(
    *args: str, env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hubbub", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


@pytest.fixture
def env(server: Server, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "HUBBUB_CONFIG": str(tmp_path / "cfg" / "config.json"),
        "HUBBUB_SERVER": server.url,
        "HUBBUB_PASSWORD": "correct horse",
    }


def test_register_saves_a_private_token_and_login_works(env: dict[str, str]) -> None:
    r = hubbub("register", "-u", "ann", env=env)
    assert r.returncode == 0, r.stderr
    path = Path(env["HUBBUB_CONFIG"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    saved = json.loads(path.read_text())
    assert saved["username"] == "ann" and saved["token"]
    assert hubbub("login", "-u", "ann", env=env).returncode == 0


@pytest.mark.parametrize(
    ("args", "extra_env", "message"),
    [
        (
            ["login", "-u", "ann"],
            {"HUBBUB_PASSWORD": "wrong password"},
            "wrong username or password",
        ),
        (
            ["send", "-c", "general", "hi"],
            {"HUBBUB_SERVER": "http://127.0.0.1:9", "HUBBUB_TOKEN": "t"},
            "cannot reach",
        ),
        (["send", "-c", "nope", "hi"], {}, "no channel 'nope'"),
        (["send", "-c", "general", "hi"], {"HUBBUB_TOKEN": "forged"}, "run `hubbub login` again"),
        (["tail", "-c", "general"], {"HUBBUB_TOKEN": "forged"}, "run `hubbub login` again"),
    ],
)
def test_clear_errors_without_tracebacks(
    env: dict[str, str], args: list[str], extra_env: dict[str, str], message: str
) -> None:
    assert hubbub("register", "-u", "ann", env=env).returncode == 0
    r = hubbub(*args, env={**env, **extra_env})
    assert r.returncode == 1
    assert message in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_send_pipe_into_tail(env: dict[str, str], server: Server) -> None:
    assert hubbub("register", "-u", "ann", env=env).returncode == 0
    token = json.loads(Path(env["HUBBUB_CONFIG"]).read_text())["token"]
    with httpx.Client(base_url=server.url) as http:
        r = http.post("/api/channels", json={"name": "general"}, headers=auth(token))
        assert r.status_code == 201
    assert hubbub("send", "-c", "general", "first", env=env).returncode == 0

    tail = subprocess.Popen(
        [sys.executable, "-m", "hubbub", "tail", "-c", "general", "--since", "0", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: Queue[str] = Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in tail.stdout or []], daemon=True).start()
    try:
        assert json.loads(lines.get(timeout=WAIT))["text"] == "first"  # replayed with --since
        r = hubbub("send", "-c", "general", env=env, stdin="two\n\nthree\nfour\n")
        assert r.returncode == 0 and "sent 3 message(s)" in r.stderr
        got = [json.loads(lines.get(timeout=WAIT)) for _ in range(3)]
        assert [(m["seq"], m["text"]) for m in got] == [(2, "two"), (3, "three"), (4, "four")]
        with pytest.raises(Empty):
            lines.get(timeout=0.3)  # nothing twice
    finally:
        tail.terminate()
        tail.wait(WAIT)
