"""The `hubbub` commands as real processes against a real server process."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from queue import Empty, Queue

import httpx
import pytest

from receiver import Reply, receiving
from support import WAIT, Server, auth, start_server

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse"


def hubbub(
    *args: str,
    env: dict[str, str],
    stdin: str | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hubbub", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=cwd,
        stdin=None if stdin is not None else subprocess.DEVNULL,
    )


def base_env(config: Path, server: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("HUBBUB_TOKEN", "HUBBUB_PROFILE", "HUBBUB_DEBUG")
    }
    env.update(HUBBUB_CONFIG=str(config), HUBBUB_SERVER=server, HUBBUB_PASSWORD=PASSWORD)
    return env


@pytest.fixture
def env(server: Server, tmp_path: Path) -> dict[str, str]:
    return base_env(tmp_path / "cfg" / "config.json", server.url)


def token_of(env: dict[str, str], profile: str = "default") -> str:
    saved = json.loads(Path(env["HUBBUB_CONFIG"]).read_text())
    return saved["profiles"][profile]["token"]  # type: ignore[no-any-return]


def saved_users(path: Path | str) -> dict[str, str]:
    """Profile -> username, as saved in a config file."""
    return {k: v["username"] for k, v in json.loads(Path(path).read_text())["profiles"].items()}


def history(server_url: str, token: str, channel: str) -> list[tuple[str, str]]:
    """(author, text) of a channel's messages, oldest first."""
    with httpx.Client(base_url=server_url) as http:
        r = http.get(f"/api/channels/{channel}/messages", headers=auth(token))
        assert r.status_code == 200, r.text
        return [(m["author"]["username"], m["text"]) for m in reversed(r.json()["messages"])]


def one_line_failure(r: subprocess.CompletedProcess[str], code: int = 1) -> str:
    """Assert `r` failed the way every hubbub failure does; return the line."""
    assert "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert r.returncode == code, (r.returncode, r.stderr)
    return lines[0]


def test_register_saves_a_private_token_and_login_works(env: dict[str, str]) -> None:
    r = hubbub("register", "-u", "ann", env=env)
    assert r.returncode == 0, r.stderr
    path = Path(env["HUBBUB_CONFIG"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    saved = json.loads(path.read_text())["profiles"]["default"]
    assert saved["username"] == "ann" and saved["token"]
    assert "profile 'default'" in r.stdout
    assert hubbub("login", "-u", "ann", env=env).returncode == 0


# --- every command, bad input: one line, exit 1, no traceback --------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, str]]]:
    """One server for the bad-input cases: ann (logged in, in #general-chat)
    and bob (owner of #lounge, which ann is not in, and of private #secret)."""
    tmp = tmp_path_factory.mktemp("world")
    server = start_server(tmp / "data", "--limit", "messages_per_second=1000,message_burst=1000")
    try:
        env = base_env(tmp / "cfg" / "config.json", server.url)
        assert hubbub("register", "-u", "ann", env=env).returncode == 0
        with httpx.Client(base_url=server.url) as http:
            bob = http.post("/api/auth/register", json={"username": "bob", "password": PASSWORD})
            b = auth(bob.json()["token"])
            a = auth(token_of(env))
            assert http.post("/api/channels", json={"name": "general-chat"}, headers=a).is_success
            assert http.post("/api/channels", json={"name": "lounge"}, headers=b).is_success
            body = {"name": "secret", "private": True}
            assert http.post("/api/channels", json=body, headers=b).is_success
        yield server, env
    finally:
        server.stop()


DOWN = {"HUBBUB_SERVER": "http://127.0.0.1:9", "HUBBUB_TOKEN": "t"}
NOT_LOGGED_IN = {"HUBBUB_CONFIG": "/nonexistent/hubbub/config.json"}

BAD_INPUT = [
    # (args, extra env, part of the one line, exit status)
    (["register", "-u", "ann"], {}, "username 'ann' is taken", 1),
    (["register", "-u", "Bad Name!"], {}, "username must be", 1),
    (["register", "-u", "zed", "--server", "localhost:8000"], {}, "bad server URL", 1),
    (["login", "-u", "ann"], {"HUBBUB_PASSWORD": "wrong password"}, "wrong username or", 1),
    (["login", "-u", "nobody"], {}, "wrong username or password", 1),
    (["login", "-u", "ann"], {"HUBBUB_SERVER": "http://127.0.0.1:9"}, "cannot reach", 1),
    (["send", "-c", "#nope", "hi"], {}, "no channel 'nope'", 1),
    (["send", "-c", "#secret", "hi"], {}, "no channel 'secret'", 1),
    (["send", "-c", "#lounge", "hi"], {}, "join #lounge first", 1),
    (["send", "-c", "@nobody", "hi"], {}, "nobody", 1),
    (["send", "-c", "#", "hi"], {}, "no channel name", 1),
    (["send", "-c", "#general-chat", "  "], {}, "nothing to send", 1),
    (["send", "-c", "#general-chat", "hi"], DOWN, "cannot reach", 1),
    (["send", "-c", "general-chat", "hi", "--server", "localhost:8000"], {}, "bad server URL", 1),
    (["send", "-c", "general-chat", "hi"], {"HUBBUB_SERVER": "http://exa mple"}, "bad server", 1),
    (["send", "-c", "general-chat", "hi"], NOT_LOGGED_IN, "not logged in", 1),
    (["send", "-c", "general-chat", "hi"], {"HUBBUB_TOKEN": "forged"}, "hubbub login` again", 1),
    (["send", "-c", "general-chat", "hi", "--profile", "nobody"], {}, "profile 'nobody'", 1),
    (["tail", "-c", "#nope"], {}, "no channel 'nope'", 1),
    (["tail", "-c", "#lounge"], {}, "you are not in #lounge", 1),
    (["tail", "-c", "@nobody"], {}, "nobody", 1),
    (["tail", "-c", "#general-chat"], DOWN, "cannot reach", 1),
    (["tail", "-c", "general-chat", "--server", "localhost:8000"], {"HUBBUB_TOKEN": "t"}, "bad", 1),
    (["tail", "-c", "general-chat"], NOT_LOGGED_IN, "not logged in", 1),
    (["tail", "-c", "general-chat"], {"HUBBUB_TOKEN": "forged"}, "hubbub login` again", 1),
    (["chat", "-c", "#nope"], {}, "no channel 'nope'", 1),
    (["chat", "-c", "#secret"], {}, "no channel 'secret'", 1),
    (["chat", "-c", "@nobody"], {}, "nobody", 1),
    (["chat"], DOWN, "cannot reach", 1),
    (["chat", "--server", "ftp://example.com"], {}, "bad server URL", 1),
    (["chat"], NOT_LOGGED_IN, "not logged in", 1),
    (["chat"], {"HUBBUB_TOKEN": "forged"}, "hubbub login` again", 1),
    (["migrate", "--database-url", "bogus://x"], {}, "--database-url", 2),
    (["migrate", "--database-url", "sqlite:///:memory:"], {}, "SQLite needs a file", 1),
    (["serve", "--port", "{port}"], {}, "cannot listen on 127.0.0.1:", 1),
    (["serve", "--port", "0", "--database-url", "bogus://x"], {}, "--database-url", 2),
    (["serve", "--limit", "bogus=1"], {}, "unknown limit 'bogus'", 2),
    (["aws-local", "--port", "{port}"], {}, "cannot listen on 127.0.0.1:", 1),
    (["protocol-doc", "--check", "--root", "/nonexistent"], {}, "does not exist", 2),
    # Usage errors are one line too (with the usual status 2).
    (["send", "hi"], {}, "Missing option '-c' / '--channel'", 2),
    (["send", "-c", "x", "hi", "--profile", "no/such"], {}, "bad profile name", 2),
    (["send", "-c", "x", "--broadcast", "hi"], {}, "--broadcast needs --thread SEQ", 2),
    (["send", "-c", "x", "--thread", "0", "hi"], {}, "'--thread'", 2),
    (["send", "-c", "general-chat", "--thread", "999", "hi"], {}, "no such message", 1),
    (["frobnicate"], {}, "No such command 'frobnicate'", 2),
]


@pytest.mark.parametrize(
    ("args", "extra_env", "message", "code"),
    BAD_INPUT,
    ids=[" ".join(c[0]) + (f" [{','.join(c[1])}]" if c[1] else "") for c in BAD_INPUT],
)
def test_every_failure_is_one_line_and_no_traceback(
    world: tuple[Server, dict[str, str]],
    args: list[str],
    extra_env: dict[str, str],
    message: str,
    code: int,
    tmp_path: Path,
) -> None:
    server, env = world
    args = [a.replace("{port}", str(server.port)) for a in args]
    if args[0] in ("serve", "migrate"):
        args += ["--data-dir", str(tmp_path / "data")]
    r = hubbub(*args, env={**env, **extra_env}, timeout=30)
    line = one_line_failure(r, code)
    assert message in line, line
    assert "token=" not in line  # a URL with the token in it is never printed


def test_clear_errors_name_the_profile(env: dict[str, str]) -> None:
    assert hubbub("register", "-u", "ann", env=env).returncode == 0
    r = hubbub("send", "-c", "x", "hi", "--server", "http://127.0.0.1:9", env=env)
    line = one_line_failure(r)
    assert "not logged in to http://127.0.0.1:9 (profile 'default' is ann on" in line
    r = hubbub("send", "-c", "x", "hi", env={**env, "HUBBUB_PROFILE": "work"})
    assert "run `hubbub login --profile work` first" in one_line_failure(r)


# --- #channel and @user ------------------------------------------------------------------


def test_send_and_tail_take_hash_channel_and_at_user(env: dict[str, str], server: Server) -> None:
    assert hubbub("register", "-u", "ann", env=env).returncode == 0
    bob_env = {**env, "HUBBUB_PROFILE": "bob"}
    assert hubbub("register", "-u", "bob", env=bob_env).returncode == 0
    token = token_of(env)
    with httpx.Client(base_url=server.url) as http:
        r = http.post("/api/channels", json={"name": "general-chat"}, headers=auth(token))
        assert r.status_code == 201

    r = hubbub("send", "-c", "#general-chat", "hello hash", env=env)
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == "sent to #general-chat (seq 1)"
    assert history(server.url, token, "general-chat") == [("ann", "hello hash")]

    r = hubbub("send", "-c", "@bob", "psst", env=env)
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == "sent to @bob (seq 1)"
    assert history(server.url, token, "dm:ann,bob") == [("ann", "psst")]
    r = hubbub("send", "-c", "@ann", "back at you", env=bob_env)  # the same DM, from bob
    assert r.returncode == 0 and r.stderr.strip() == "sent to @ann (seq 2)", r.stderr
    r = hubbub("send", "-c", "dm:ann,bob", "by its name", env=env)
    assert r.returncode == 0 and "seq 3" in r.stderr, r.stderr

    for target, want in [("#general-chat", "hello hash"), ("@bob", "psst")]:
        got = tail_first(env, target)
        assert got == want


def test_send_replies_in_a_thread(env: dict[str, str], server: Server) -> None:
    assert hubbub("register", "-u", "ann", env=env).returncode == 0
    token = token_of(env)
    with httpx.Client(base_url=server.url) as http:
        r = http.post("/api/channels", json={"name": "ops"}, headers=auth(token))
        assert r.status_code == 201
    assert hubbub("send", "-c", "#ops", "disk full", env=env).returncode == 0
    r = hubbub("send", "-c", "#ops", "--thread", "1", "on it", env=env)
    assert r.returncode == 0 and r.stderr.strip() == "sent to #ops (seq 2)", r.stderr
    r = hubbub("send", "-c", "#ops", "--thread", "2", "--broadcast", "fixed", env=env)
    assert r.returncode == 0 and "seq 4" in r.stderr, r.stderr
    with httpx.Client(base_url=server.url) as http:
        page = http.get("/api/channels/ops/messages/1/thread?after=0", headers=auth(token)).json()
    assert [(m["text"], m.get("broadcast", False)) for m in page["messages"]] == [
        ("on it", False),
        ("fixed", True),
    ]
    assert page["root"]["reply_count"] == 2


def tail_first(env: dict[str, str], target: str) -> str:
    """The first message `hubbub tail -c TARGET --since 0 --json` prints."""
    tail = subprocess.Popen(
        [sys.executable, "-m", "hubbub", "tail", "-c", target, "--since", "0", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert tail.stdout is not None
        line = tail.stdout.readline()
        assert line, tail.stderr.read() if tail.stderr else ""
        return json.loads(line)["text"]  # type: ignore[no-any-return]
    finally:
        tail.terminate()
        tail.wait(WAIT)


def test_send_pipe_into_tail(env: dict[str, str], server: Server) -> None:
    assert hubbub("register", "-u", "ann", env=env).returncode == 0
    token = token_of(env)
    with httpx.Client(base_url=server.url) as http:
        r = http.post("/api/channels", json={"name": "ops"}, headers=auth(token))
        assert r.status_code == 201
    r = hubbub("send", "-c", "ops", "first", env=env)
    assert r.returncode == 0 and r.stderr.strip() == "sent to #ops (seq 1)", r.stderr
    assert r.stdout == ""
    r = hubbub("send", "-q", "-c", "ops", "quiet one", env=env)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")

    tail = subprocess.Popen(
        [sys.executable, "-m", "hubbub", "tail", "-c", "ops", "--since", "0", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: Queue[str] = Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in tail.stdout or []], daemon=True).start()
    try:
        got = [json.loads(lines.get(timeout=WAIT))["text"] for _ in range(2)]
        assert got == ["first", "quiet one"]  # replayed with --since
        r = hubbub("send", "-c", "ops", env=env, stdin="two\n\nthree\nfour\n")
        assert r.returncode == 0, r.stderr
        assert r.stderr.strip() == "sent 3 messages to #ops (seq 3-5)"
        got = [json.loads(lines.get(timeout=WAIT)) for _ in range(3)]
        assert [(m["seq"], m["text"]) for m in got] == [(3, "two"), (4, "three"), (5, "four")]
        with pytest.raises(Empty):
            lines.get(timeout=0.3)  # nothing twice
    finally:
        tail.terminate()
        tail.wait(WAIT)


# --- profiles ------------------------------------------------------------------------------


def test_two_profiles_two_users(env: dict[str, str], server: Server) -> None:
    """Two terminals, two users: neither login replaces the other."""
    r = hubbub("register", "-u", "ann", "--profile", "ann", env=env)
    assert r.returncode == 0 and "profile 'ann'" in r.stdout, r.stderr
    r = hubbub("register", "-u", "bob", env={**env, "HUBBUB_PROFILE": "bob"})
    assert r.returncode == 0 and "profile 'bob'" in r.stdout, r.stderr
    assert r.stderr == ""  # nothing was replaced
    with httpx.Client(base_url=server.url) as http:
        a = auth(token_of(env, "ann"))
        assert http.post("/api/channels", json={"name": "ops"}, headers=a).is_success
        b = auth(token_of(env, "bob"))
        assert http.post("/api/channels/ops/join", headers=b).is_success

    assert hubbub("send", "--profile", "ann", "-c", "ops", "from ann", env=env).returncode == 0
    bob_env = {**env, "HUBBUB_PROFILE": "bob"}
    assert hubbub("send", "-c", "ops", "from bob", env=bob_env).returncode == 0
    # --profile wins over HUBBUB_PROFILE.
    r = hubbub("send", "--profile", "ann", "-c", "ops", "ann again", env=bob_env)
    assert r.returncode == 0, r.stderr
    assert history(server.url, token_of(env, "ann"), "ops") == [
        ("ann", "from ann"),
        ("bob", "from bob"),
        ("ann", "ann again"),
    ]
    # The default profile is still empty: no command fell back to someone's login.
    r = hubbub("send", "-c", "ops", "who am i", env=env)
    assert "not logged in" in one_line_failure(r)

    assert saved_users(env["HUBBUB_CONFIG"]) == {"ann": "ann", "bob": "bob"}


def test_hubbub_config_picks_the_file_and_replacing_a_login_says_so(
    env: dict[str, str], server: Server, tmp_path: Path
) -> None:
    assert hubbub("register", "-u", "ann", env=env).returncode == 0
    other = {**env, "HUBBUB_CONFIG": str(tmp_path / "elsewhere.json")}
    assert hubbub("register", "-u", "bob", env=other).returncode == 0
    assert saved_users(env["HUBBUB_CONFIG"]) == {"default": "ann"}
    assert saved_users(tmp_path / "elsewhere.json") == {"default": "bob"}
    # Logging in as someone else in the same profile replaces it, and says so.
    r = hubbub("login", "-u", "bob", env=env)
    assert r.returncode == 0, r.stderr
    assert "profile 'default' was ann" in r.stderr and "--profile" in r.stderr


def test_a_config_file_from_before_profiles_is_the_default_profile(
    env: dict[str, str], server: Server
) -> None:
    assert hubbub("register", "-u", "ann", env=env).returncode == 0
    path = Path(env["HUBBUB_CONFIG"])
    token = token_of(env)
    path.write_text(json.dumps({"server": server.url, "username": "ann", "token": token}))
    with httpx.Client(base_url=server.url) as http:
        r0 = http.post("/api/channels", json={"name": "ops"}, headers=auth(token))
        assert r0.is_success
    r = hubbub("send", "-c", "ops", "still works", env=env)
    assert r.returncode == 0, r.stderr
    assert hubbub("register", "-u", "bob", "--profile", "bob", env=env).returncode == 0
    assert saved_users(path) == {"default": "ann", "bob": "bob"}


# --- migrate, serve's banner, aws-local's hint ---------------------------------------------


def test_migrate_says_what_it_did(tmp_path: Path) -> None:
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine

    from hubbub.store.sql import MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    scripts = ScriptDirectory.from_config(cfg)
    head = scripts.get_current_head()
    env = {**os.environ}
    fresh = ["migrate", "--data-dir", str(tmp_path / "fresh")]
    r = hubbub(*fresh, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"created the database schema at revision {head}"
    r = hubbub(*fresh, env=env)
    assert r.stdout.strip() == f"database schema already at revision {head}: nothing to do"

    # A database made by an older hubbub: at the first revision.
    first = next(s for s in scripts.walk_revisions() if s.down_revision is None).revision
    assert first != head
    db = tmp_path / "old" / "hubbub.db"
    db.parent.mkdir()
    engine = create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, first)
    engine.dispose()
    r = hubbub("migrate", "--data-dir", str(db.parent), env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"upgraded the database schema from revision {first} to {head}"


def test_serve_banner_says_whether_guests_are_allowed(tmp_path: Path) -> None:
    for extra, want in [
        ((), "guests:   off (--allow-guests"),
        (("--allow-guests",), "guests:   allowed with ?room_name=: existing public channels only"),
        (
            ("--allow-guests", "--guest-rooms", "create"),
            "guests:   allowed with ?room_name=: naming an unused room creates it",
        ),
    ]:
        server = start_server(tmp_path / "data", *extra)
        try:
            end = time.monotonic() + WAIT  # the banner's last lines may be on their way
            while time.monotonic() < end and not any("guests:" in ln for ln in server.log):
                time.sleep(0.05)
            lines = [ln for ln in server.log if "guests:" in ln]
            assert len(lines) == 1 and want in lines[0], server.log
        finally:
            server.stop()


def test_aws_local_without_its_extra_prints_the_exact_command() -> None:
    """The README's `./scripts/aws-local ...` installs the extra; `hubbub
    aws-local` without it says exactly what to run instead of a traceback."""
    script = ROOT / "scripts" / "aws-local"
    assert script.is_file() and os.access(script, os.X_OK)
    assert (
        "./scripts/aws-local --allow-guests --guest-rooms create"
        in (ROOT / "README.md").read_text()
    )
    code = (
        "import sys; sys.modules['boto3'] = None; "  # as if boto3 were not installed
        "sys.argv = ['hubbub', 'aws-local', '--allow-guests', '--guest-rooms', 'create']; "
        "from hubbub.cli import main; main()"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    line = one_line_failure(r)
    assert "needs boto3" in line
    assert "run ./scripts/aws-local --allow-guests --guest-rooms create" in line


def test_send_file_and_download_it(env: dict[str, str], server: Server, tmp_path: Path) -> None:
    assert hubbub("register", "-u", "ann", env=env).returncode == 0
    token = token_of(env)
    with httpx.Client(base_url=server.url) as http:
        r = http.post("/api/channels", json={"name": "files"}, headers=auth(token))
        assert r.status_code == 201
    report = tmp_path / "build report.txt"
    report.write_bytes(b"all green\n" * 1000)
    log = tmp_path / "log.bin"
    log.write_bytes(bytes(range(256)) * 40)

    r = hubbub("send", "-c", "#files", "-f", str(report), "-f", str(log), "two files", env=env)
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == "sent to #files (seq 1)"
    with httpx.Client(base_url=server.url) as http:
        (m,) = http.get("/api/channels/files/messages", headers=auth(token)).json()["messages"]
    assert m["text"] == "two files"
    assert [(f["name"], f["size"]) for f in m["files"]] == [
        ("build report.txt", 10_000),
        ("log.bin", 10_240),
    ]
    assert m["files"][0]["content_type"] == "text/plain"

    # A file alone, no text.
    r = hubbub("send", "-c", "#files", "--file", str(log), env=env)
    assert r.returncode == 0 and "seq 2" in r.stderr, r.stderr

    # `tail` shows each file with its id; `download` saves it under its own name.
    out = tmp_path / "out"
    out.mkdir()
    r = hubbub("download", m["files"][0]["id"], "-o", str(out), env=env)
    assert r.returncode == 0, r.stderr
    assert (out / "build report.txt").read_bytes() == report.read_bytes()
    r = hubbub("download", m["files"][1]["id"], "-o", str(out / "renamed.bin"), env=env)
    assert r.returncode == 0, r.stderr
    assert (out / "renamed.bin").read_bytes() == log.read_bytes()

    r = hubbub("download", "A" * 22, env=env, cwd=out)
    assert one_line_failure(r) == "Error: no such file", r.stderr


def test_a_bot_and_its_token_from_the_cli_post_from_ci(env: dict[str, str], server: Server) -> None:
    """What docs/integrations.md shows: a bot, a token for it, and a CI job
    posting with nothing but `HUBBUB_TOKEN`."""
    assert hubbub("register", "-u", "ann", env=env).returncode == 0
    r = hubbub("bot", "create", "--display-name", "CI", "ci-bot", env=env)
    assert r.returncode == 0 and "bot ci-bot created (owner ann)" in r.stderr, r.stderr
    r = hubbub("token", "create", "--bot", "ci-bot", "builds", env=env)
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip()
    assert token.startswith("hbt.") and "read, write" in r.stderr
    with httpx.Client(base_url=server.url) as http:
        r2 = http.post("/api/channels", json={"name": "builds"}, headers=auth(token_of(env)))
        assert r2.status_code == 201
        assert http.post("/api/channels/builds/join", headers=auth(token)).status_code == 200
    ci = {k: v for k, v in env.items() if k != "HUBBUB_CONFIG"}
    ci.update(HUBBUB_TOKEN=token, HUBBUB_CONFIG=str(Path(env["HUBBUB_CONFIG"]).parent / "none"))
    r = hubbub("send", "-c", "#builds", "build 42 passed", env=ci)
    assert r.returncode == 0, r.stderr
    assert history(server.url, token_of(env), "builds") == [("ci-bot", "build 42 passed")]

    r = hubbub("token", "list", "--bot", "ci-bot", env=env)
    assert r.returncode == 0, r.stderr
    (line,) = r.stdout.splitlines()
    token_id, name = line.split()[:2]
    assert name == "builds" and "last used" in line and token_id in token
    # a token cannot make tokens: one clear line
    r = hubbub("token", "create", "more", env=ci)
    assert "needs a login" in one_line_failure(r)
    assert "ci-bot" in hubbub("bot", "list", env=env).stdout

    r = hubbub("token", "revoke", "--bot", "ci-bot", token_id, env=env)
    assert r.returncode == 0, r.stderr
    assert "session was ended" in one_line_failure(hubbub("send", "-c", "#builds", "x", env=ci))
    assert hubbub("token", "list", "--bot", "ci-bot", env=env).stdout == ""


def test_a_hook_made_from_the_cli_takes_slack_json_from_curl(
    env: dict[str, str], server: Server
) -> None:
    """`hubbub hook create` prints a URL that a CI job's curl posts to."""
    assert hubbub("register", "-u", "ann", env=env).returncode == 0
    with httpx.Client(base_url=server.url) as http:
        r = http.post("/api/channels", json={"name": "deploys"}, headers=auth(token_of(env)))
        assert r.status_code == 201
    r = hubbub("hook", "create", "#deploys", "CI", env=env)
    assert r.returncode == 0, r.stderr
    url = r.stdout.strip()
    assert url.startswith(f"{server.url}/hooks/") and "posts into #deploys as ann" in r.stderr
    out = subprocess.run(
        [
            "curl",
            "-sS",
            "--max-time",
            "10",
            "-H",
            "Content-Type: application/json",
            "-d",
            '{"text": "deployed <https://ci/7|#7>"}',
            url,
        ],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    )
    assert out.stdout == "ok"
    assert history(server.url, token_of(env), "deploys") == [("ann", "deployed [#7](https://ci/7)")]

    r = hubbub("hook", "list", env=env)
    (line,) = r.stdout.splitlines()
    hook_id = line.split()[0]
    assert "CI  #deploys  as ann" in line and url.rsplit("/", 1)[1] not in r.stdout
    assert hubbub("hook", "delete", hook_id, env=env).returncode == 0
    assert hubbub("hook", "list", env=env).stdout == ""
    r = hubbub("hook", "delete", hook_id, env=env)
    assert one_line_failure(r) == "Error: no such hook", r.stderr


def test_a_custom_command_registered_from_the_cli_runs_and_is_removed(
    server_factory: Callable[..., Server], tmp_path: Path
) -> None:
    """`hubbub command create` (an admin) prints the signing secret; running
    the command POSTs Slack's payload signed with it; `command delete` ends it."""
    server = server_factory("--outbound-allow", "127.0.0.1")
    env = base_env(tmp_path / "cfg" / "config.json", server.url)
    assert hubbub("register", "-u", "boss", env=env).returncode == 0  # the owner
    with receiving() as receiver:
        receiver.answer = lambda req: Reply(body=b'{"text": "queued"}')
        r = hubbub(
            "command",
            "create",
            "deploy",
            f"{receiver.url}/cmd",
            "--usage",
            "[env]",
            "--description",
            "Deploys",
            env=env,
        )
        assert r.returncode == 0, r.stderr
        secret = r.stdout.strip()
        assert "/deploy POSTs to" in r.stderr
        r = hubbub("command", "list", env=env)
        assert r.stdout.splitlines() == [f"/deploy [env]  {receiver.url}/cmd  Deploys"]
        with httpx.Client(base_url=server.url, timeout=WAIT) as http:
            r = http.post(
                "/api/channels/general/commands",
                json={"text": "/deploy prod"},
                headers=auth(token_of(env)),
            )
        assert r.status_code == 200 and r.json()["text"] == "queued", r.text
        got = receiver.next()
        assert got.form["command"] == "/deploy" and got.form["text"] == "prod"
        stamp = got.headers["x-slack-request-timestamp"]
        mac = hmac.new(secret.encode(), f"v0:{stamp}:".encode() + got.body, hashlib.sha256)
        assert got.headers["x-slack-signature"] == f"v0={mac.hexdigest()}"
    assert hubbub("command", "delete", "/deploy", env=env).returncode == 0
    assert hubbub("command", "list", env=env).stdout == ""
    r = hubbub("command", "delete", "deploy", env=env)
    assert one_line_failure(r) == "Error: no command /deploy", r.stderr


def test_an_outgoing_hook_made_from_the_cli_sends_to_its_receiver_and_is_listed(
    server_factory: Callable[..., Server], tmp_path: Path
) -> None:
    """`hubbub hook create-outgoing` prints the signing secret; the receiver
    gets the channel's messages signed with it; `hook list` shows how many
    were delivered; `hook delete` ends it."""
    server = server_factory("--outbound-allow", "127.0.0.1")
    env = base_env(tmp_path / "cfg" / "config.json", server.url)
    assert hubbub("register", "-u", "ann", env=env).returncode == 0
    with receiving() as receiver:
        r = hubbub(
            "hook",
            "create-outgoing",
            "#general",
            "tickets",
            receiver.url,
            "--trigger",
            "ticket",
            env=env,
        )
        assert r.returncode == 0, r.stderr
        secret = r.stdout.strip()
        assert len(secret) == 64 and "answers are posted as ann" in r.stderr
        assert hubbub("send", "-c", "#general", "hello", env=env).returncode == 0
        assert hubbub("send", "-c", "#general", "ticket: printer", env=env).returncode == 0
        got = receiver.next()
        assert got.form["text"] == "ticket: printer" and got.form["trigger_word"] == "ticket"
        stamp = got.headers["x-slack-request-timestamp"]
        mac = hmac.new(secret.encode(), f"v0:{stamp}:".encode() + got.body, hashlib.sha256)
        assert got.headers["x-slack-signature"] == f"v0={mac.hexdigest()}"
        deadline = time.monotonic() + WAIT
        while True:  # the cursor is written just after the answer
            (line,) = hubbub("hook", "list", env=env).stdout.splitlines()
            if "1 delivered" in line or time.monotonic() > deadline:
                break
        assert f"tickets  #general -> {receiver.url}  1 delivered, 0 given up" in line
        hook_id = line.split()[0]
        assert hubbub("hook", "delete", hook_id, env=env).returncode == 0
        assert hubbub("hook", "list", env=env).stdout == ""
        r = hubbub("hook", "create-outgoing", "#general", "x", "http://10.9.9.9/", env=env)
        assert "this server does not call (see --outbound-allow)" in one_line_failure(r)


def test_notification_preferences_from_the_cli(env: dict[str, str], server: Server) -> None:
    assert hubbub("register", "-u", "nora", env=env).returncode == 0
    r = hubbub("notify", "show", env=env)
    assert r.returncode == 0 and r.stdout.strip().startswith("do not disturb off"), r.stderr
    r = hubbub("notify", "dnd", "2h", env=env)
    assert r.returncode == 0 and "do not disturb for 120 more min" in r.stdout, r.stderr
    with httpx.Client(base_url=server.url) as http:
        got = http.get("/api/notifications", headers=auth(token_of(env))).json()
        assert got["dnd"] is True
    assert "do not disturb off" in hubbub("notify", "dnd", "off", env=env).stdout
    r = hubbub("notify", "dnd", "soon", env=env)
    assert r.returncode == 2 and "30m, 2h, 1d, 90 (minutes) or off" in r.stderr, r.stderr

    r = hubbub("notify", "channel", "#general", "--level", "all", "--mute", env=env)
    assert r.returncode == 0 and r.stdout.strip() == "#general: all, muted", r.stderr
    r = hubbub("notify", "show", "#general", env=env)
    assert r.stdout.strip() == "#general: all, muted"
    r = hubbub("notify", "channel", "#general", "--unmute", env=env)
    assert r.stdout.strip() == "#general: all"
