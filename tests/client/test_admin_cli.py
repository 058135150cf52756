"""`hubbub admin`: the operator's commands, on the database directly, with a
real server reading the same database (and, for open connections, the same
Redis)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from services import require_redis
from support import start_server

WAIT = 10.0


def admin(*args: str, data_dir: Path, stdin: str | None = None) -> tuple[int, str]:
    import subprocess

    r = subprocess.run(
        [sys.executable, "-m", "hubbub", "admin", *args, "--data-dir", str(data_dir)],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ},
        timeout=60,
        stdin=None if stdin is not None else subprocess.DEVNULL,
    )
    return r.returncode, r.stdout + r.stderr


async def login(http: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await http.post("/api/auth/login", json={"username": username, "password": password})


async def test_create_user_set_role_reset_password_and_the_audit_log(tmp_path: Path) -> None:
    code, out = admin(
        "create-user", "boss", "--role", "owner", "--password-stdin",
        data_dir=tmp_path, stdin="first password\n",
    )  # fmt: skip
    assert code == 0 and "created boss (owner)" in out, out
    code, out = admin(
        "create-user", "ann", "--display-name", "Ann Lee", "--password-stdin",
        data_dir=tmp_path, stdin="ann's password\n",
    )  # fmt: skip
    assert code == 0, out
    # Taken names and weak passwords are refused in one line, nothing made.
    code, out = admin("create-user", "ann", "--password-stdin", data_dir=tmp_path, stdin="x" * 9)
    assert code == 1 and "taken (conflict)" in out, out
    code, out = admin("create-user", "bob", "--password-stdin", data_dir=tmp_path, stdin="short")
    assert code == 1 and "weak_password" in out, out
    code, out = admin("users", data_dir=tmp_path)
    assert code == 0, out
    lines = out.splitlines()
    assert [ln.split()[:2] for ln in lines] == [["ann", "member"], ["boss", "owner"]], out

    # The last owner stays one.
    code, out = admin("set-role", "boss", "member", data_dir=tmp_path)
    assert code == 1 and "last_owner" in out, out
    code, out = admin("set-role", "ann", "admin", data_dir=tmp_path)
    assert code == 0 and "ann is now admin" in out, out

    server = start_server(tmp_path)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as http:
            r = await login(http, "ann", "ann's password")
            assert r.status_code == 200, r.text
            assert r.json()["user"]["role"] == "admin"
            token = r.json()["token"]
            # An account made by the operator is in the default channel.
            mine = await http.get("/api/channels", headers={"Authorization": f"Bearer {token}"})
            assert "general" in [c["name"] for c in mine.json() if c["is_member"]]

            code, out = admin(
                "reset-password", "ann", "--password-stdin",
                data_dir=tmp_path, stdin="a new password\n",
            )  # fmt: skip
            assert code == 0, out
            assert (await login(http, "ann", "ann's password")).status_code == 401
            assert (await login(http, "ann", "a new password")).status_code == 200
            # Her old session ended: within the server's one-second cache.
            async with asyncio.timeout(WAIT):
                while True:
                    r = await http.get("/api/me", headers={"Authorization": f"Bearer {token}"})
                    if r.status_code == 401:
                        break
                    await asyncio.sleep(0.05)
            assert r.json()["error"]["code"] == "session_ended"

            boss = (await login(http, "boss", "first password")).json()["token"]
            audit = await http.get("/api/audit", headers={"Authorization": f"Bearer {boss}"})
            assert audit.status_code == 200, audit.text
            seen = [(e["actor"], e["action"], e["target"]) for e in audit.json()]
            assert seen[:3] == [
                ("", "user.password", "@ann"),
                ("", "user.role", "@ann"),
                ("", "user.create", "@ann"),
            ]
    finally:
        server.stop()


async def test_deactivate_closes_open_connections_through_the_bus(tmp_path: Path) -> None:
    redis = require_redis()
    for name in ("boss", "ann"):
        code, out = admin(
            "create-user", name, "--role", "owner" if name == "boss" else "member",
            "--password-stdin", data_dir=tmp_path, stdin=f"{name} password!\n",
        )  # fmt: skip
        assert code == 0, out
    server = start_server(tmp_path, "--bus-url", redis)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as http:
            token = (await login(http, "ann", "ann password!")).json()["token"]
            async with connect(f"{server.ws_url}?token={token}") as ws:
                assert '"hello"' in str(await asyncio.wait_for(ws.recv(), WAIT))
                code, out = admin("deactivate", "ann", "--bus-url", redis, data_dir=tmp_path)
                assert code == 0 and "deactivated ann" in out, out
                with pytest.raises(ConnectionClosed) as closed:
                    async with asyncio.timeout(WAIT):
                        while True:
                            await ws.recv()
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 4011
            r = await login(http, "ann", "ann password!")
            assert (r.status_code, r.json()["error"]["code"]) == (401, "account_deactivated")
            code, out = admin("reactivate", "ann", data_dir=tmp_path)
            assert code == 0, out
            assert (await login(http, "ann", "ann password!")).status_code == 200
    finally:
        server.stop()
