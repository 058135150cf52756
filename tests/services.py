"""Access to the real PostgreSQL and Redis servers the suite may use.

Outside CI a missing service skips the tests that need it, with the reason;
under CI (CI=true) it fails them, so a broken CI machine cannot pass by skipping.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
import uuid

import pytest

POSTGRES_URL = os.environ.get(
    "HUBBUB_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("HUBBUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _reachable(url: str, default_port: int) -> bool:
    parts = urllib.parse.urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 2
        ):
            return True
    except OSError:
        return False


def require(name: str, url: str, default_port: int) -> None:
    if _reachable(url, default_port):
        return
    message = f"{name} is not reachable at {url} (set HUBBUB_TEST_{name.upper()}_URL)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message + " - required under CI")
    pytest.skip(message)


def require_postgres() -> str:
    require("postgres", POSTGRES_URL, 5432)
    return POSTGRES_URL


def require_redis() -> str:
    require("redis", REDIS_URL, 6379)
    return REDIS_URL


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateRedis:
    """A throwaway redis-server of the test's own, so a test can kill and
    restart Redis without touching the shared one."""

    def __init__(self) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            require_redis()  # fails under CI, skips elsewhere, with the reason
            pytest.skip("redis-server is not installed")
        self.exe: str = exe
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [self.exe, "--port", str(self.port), "--bind", "127.0.0.1"]
        self.proc = subprocess.Popen(
            [*args, "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL
        )
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.1).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)  # polling for the port, bounded by the loop
        raise RuntimeError("private redis-server did not start")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


async def fresh_postgres_database() -> str:
    """A new, empty database on the shared server; drop it with drop_database."""
    import asyncpg

    base = require_postgres()
    name = f"hubbub_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(base)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return base.rsplit("/", 1)[0] + "/" + name


async def drop_database(url: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(POSTGRES_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await admin.close()


class PrivatePostgres:
    """A throwaway PostgreSQL cluster (initdb into a temp dir), so a test can
    stop and start the database without touching the shared server."""

    def __init__(self) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        exe = bins[-1] if bins else shutil.which("initdb")
        if exe is None:
            require_postgres()
            pytest.skip("PostgreSQL server binaries (initdb) are not installed")
        self.bin = os.path.dirname(exe)
        # Not under pytest's tmp_path: its parents are private to root, and the
        # server may have to run as the postgres account.
        self.root = tempfile.mkdtemp(prefix="hubbub-pg-")
        self.dir = os.path.join(self.root, "pgdata")
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        # PostgreSQL refuses to run as root: use its own account when we are root.
        self.user = "postgres" if os.geteuid() == 0 else None
        os.makedirs(self.dir, mode=0o700)
        if self.user:
            shutil.chown(self.root, self.user)
            shutil.chown(self.dir, self.user)
        subprocess.run(
            [f"{self.bin}/initdb", "-D", self.dir, "-A", "trust", "-U", "postgres", "--no-sync"],
            check=True,
            stdout=subprocess.DEVNULL,
            user=self.user,
        )

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                f"{self.bin}/postgres",
                *("-D", self.dir, "-p", str(self.port), "-k", self.dir),
                *("-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            user=self.user,
        )
        for _ in range(300):
            ready = subprocess.run(
                [f"{self.bin}/pg_isready", "-h", "127.0.0.1", "-p", str(self.port)],
                stdout=subprocess.DEVNULL,
            )
            if ready.returncode == 0:
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)  # polling for readiness, bounded by the loop
        raise RuntimeError("private postgres did not start")

    def stop(self) -> None:
        """An immediate shutdown: as close to pulling the plug as it allows."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            self.proc.wait(30)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
