"""What every scenario shares: the machine description, /proc readings, a
seeded data directory, the server process (pinned to core 0) and the load
generator processes (pinned to core 1)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import platform
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent  # for `-m bench.gen` from any cwd
SERVER_CORE = "0"
GEN_CORE = "1"
PASSWORD = "bench-password"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
PACKAGES = (
    "hubbub",
    "uvicorn",
    "uvloop",
    "httptools",
    "websockets",
    "fastapi",
    "starlette",
    "pydantic",
    "orjson",
    "sqlalchemy",
    "aiosqlite",
    "asyncpg",
    "redis",
)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --- the machine -------------------------------------------------------------------


def machine() -> dict[str, Any]:
    model = "?"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "-"
    return {
        "commit": _git_commit(),
        "nproc": os.cpu_count(),
        "cpu": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "packages": versions,
        "fd_limit": _fd_limit(),
        "loadavg_at_start": os.getloadavg(),
    }


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return out.stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def _fd_limit() -> int:
    import resource

    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def have_taskset() -> bool:
    return shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2


def pinned(core: str, argv: list[str]) -> list[str]:
    return ["taskset", "-c", core, *argv] if have_taskset() else argv


# --- /proc -----------------------------------------------------------------------------


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) used so far by process `pid`."""
    return sum(proc_cpu_parts(pid))


def proc_cpu_parts(pid: int) -> tuple[float, float]:
    """CPU seconds (all threads) used so far by process `pid`: (user, system)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def proc_thread_cpu(pid: int) -> tuple[float, float]:
    """CPU seconds of process `pid`: (its main thread, all its other threads)."""
    main = other = 0.0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
        except OSError:
            continue  # the thread ended
        secs = (int(fields[11]) + int(fields[12])) / CLK_TCK
        if int(tid) == pid:
            main = secs
        else:
            other += secs
    return main, other


def proc_ppid(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rpartition(")")[2].split()[1])


def proc_rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def proc_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def core_breakdown(core: str) -> list[int]:
    """user, nice, system, idle, iowait, irq, softirq, steal jiffies of one core."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(f"cpu{core} "):
                return [int(x) for x in line.split()[1:9]]
    return [0] * 8


def core_share(a: list[int], b: list[int]) -> dict[str, float]:
    """Where one core's time went between two `core_breakdown` readings."""
    d = [y - x for x, y in zip(a, b, strict=True)]
    total = sum(d) or 1
    return {
        "user": round((d[0] + d[1]) / total, 3),
        "system": round(d[2] / total, 3),
        "softirq": round((d[5] + d[6]) / total, 3),
        "steal": round(d[7] / total, 3),
        "idle": round((d[3] + d[4]) / total, 3),
    }


def core_times(core: str) -> tuple[float, float]:
    """(busy, total) jiffies of one CPU core, from /proc/stat."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(f"cpu{core} "):
                v = [int(x) for x in line.split()[1:]]
                idle = v[3] + v[4]  # idle + iowait
                return float(sum(v) - idle), float(sum(v))
    return 0.0, 0.0


# --- a seeded data directory -------------------------------------------------------------


Seeded = tuple[str, list[tuple[int, str, str]]]  # the JWT secret; (user id, name, session id)


async def _seed(db: Path, users: int, channel: str | None) -> Seeded:
    from hubbub.core import auth
    from hubbub.core.models import Session
    from hubbub.store.sql import SQLStore

    store = SQLStore(f"sqlite:///{db}")
    await store.open()
    try:
        # One argon2 hash for everyone: each hash embeds its own salt, so it
        # verifies for every account, and seeding costs one hash, not N.
        hashed = auth.hash_password(PASSWORD)
        secret = await store.get_or_set_meta("jwt_secret", secrets.token_urlsafe(48))
        made = []
        now = int(time.time() * 1000)
        for i in range(users):
            name = f"b{i:05d}"
            user = await store.create_user(name, name, hashed)
            # Every token names a session: one each, as a login would make.
            session = Session(auth.new_public_id(), user.id, now, now)
            await store.create_session(session)
            made.append((user.id, user.username, session.id))
        if channel is not None:
            await store.create_channel(channel, "public", "", [uid for uid, _, _ in made])
    finally:
        await store.close()
    return secret, made


def seed(data_dir: Path, users: int, channel: str | None = "general") -> list[str]:
    """Create the database with `users` accounts (all members of `channel`) and
    the server's JWT secret, then mint one token per user without a login."""
    from hubbub.core import auth

    secret, made = asyncio.run(_seed(data_dir / "hubbub.db", users, channel))
    ttl = 24 * 3600.0
    return [auth.issue_token(secret, uid, name, sid, ttl) for uid, name, sid in made]


async def _seed_rooms(url: str, rooms: int, size: int) -> Seeded:
    """Bulk version of `_seed` for many users in many small rooms: hubbub's own
    store opens (and migrates) the database, then three multi-row INSERTs
    through its engine and schema (one transaction) instead of a transaction per
    user and per channel, which would take a minute for 10,000 users."""
    from sqlalchemy import insert, select

    from hubbub.core import auth
    from hubbub.store import schema as t
    from hubbub.store.sql import SQLStore

    store = SQLStore(url)
    await store.open()
    try:
        hashed = auth.hash_password(PASSWORD)
        secret = await store.get_or_set_meta("jwt_secret", secrets.token_urlsafe(48))
        now = int(time.time() * 1000)
        users = rooms * size
        async with store.writer.begin() as conn:
            await conn.execute(
                insert(t.users),
                [
                    {
                        "username": f"b{i:05d}",
                        "display_name": f"b{i:05d}",
                        "password_hash": hashed,
                        "created_at": now,
                    }
                    for i in range(users)
                ],
            )
            await conn.execute(
                insert(t.channels),
                [
                    {
                        "name": room_name(r),
                        "kind": "private",
                        "topic": "",
                        "last_seq": 0,
                        "created_at": now,
                    }
                    for r in range(rooms)
                ],
            )
            uids = dict(
                (await conn.execute(select(t.users.c.username, t.users.c.id))).tuples().all()
            )
            cids = dict(
                (await conn.execute(select(t.channels.c.name, t.channels.c.id))).tuples().all()
            )
            made = [(uids[f"b{i:05d}"], f"b{i:05d}", auth.new_public_id()) for i in range(users)]
            await conn.execute(
                insert(t.memberships),
                [
                    {
                        "channel_id": cids[room_name(i // size)],
                        "user_id": uid,
                        "last_read": 0,
                        "joined_at": now,
                    }
                    for i, (uid, _, _) in enumerate(made)
                ],
            )
            # (A server from before sessions, measured with PYTHONPATH, has
            # no such table and ignores the tokens' session.)
            if hasattr(t, "sessions"):
                rows = [
                    {"id": sid, "user_id": uid, "created_at": now, "last_used_at": now}
                    for uid, _, sid in made
                ]
                await conn.execute(insert(t.sessions), rows)
    finally:
        await store.close()
    return secret, made


def room_name(r: int) -> str:
    return f"r{r:05d}"


def seed_rooms(url: str, rooms: int, size: int) -> list[str]:
    """`rooms` private channels of `size` members each; user i is in room
    i // size. Returns one token per user, in user order."""
    from hubbub.core import auth

    secret, made = asyncio.run(_seed_rooms(url, rooms, size))
    ttl = 24 * 3600.0
    return [auth.issue_token(secret, uid, name, sid, ttl) for uid, name, sid in made]


async def _room_counts(url: str) -> dict[str, tuple[int, int, int]]:
    from sqlalchemy import func, select

    from hubbub.store import schema as t
    from hubbub.store.sql import SQLStore

    store = SQLStore(url)  # not opened: no migrations, just the engine
    try:
        async with store.engine.connect() as conn:
            c, m = t.channels.c, t.messages.c
            rows = await conn.execute(
                select(c.name, c.last_seq, func.count(m.seq), func.coalesce(func.max(m.seq), 0))
                .select_from(t.channels.outerjoin(t.messages, m.channel_id == c.id))
                .group_by(c.id, c.name, c.last_seq)
            )
            return {r[0]: (int(r[1]), int(r[2]), int(r[3])) for r in rows}
    finally:
        await store.close()


def room_counts(url: str) -> dict[str, tuple[int, int, int]]:
    """Per channel name: (channels.last_seq, stored messages, highest stored seq)."""
    return asyncio.run(_room_counts(url))


# --- PostgreSQL and Redis for the multi-node runs ----------------------------------------------


def _pg_url(admin_url: str, database: str) -> str:
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{database}"


async def _pg_admin(admin_url: str, sql: str) -> Any:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(admin_url, timeout=10)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


def create_pg_database(admin_url: str) -> tuple[str, str]:
    """A fresh database next to `admin_url`'s: (its name, its URL)."""
    name = f"hubbub_bench_{secrets.token_hex(4)}"
    asyncio.run(_pg_admin(admin_url, f"CREATE DATABASE {name}"))
    return name, _pg_url(admin_url, name)


def drop_pg_database(admin_url: str, name: str) -> None:
    try:
        asyncio.run(_pg_admin(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    except Exception as exc:  # leave it, say so
        log(f"WARNING: could not drop database {name}: {exc}")


async def _pg_postmaster(admin_url: str) -> int | None:
    import asyncpg

    conn = await asyncpg.connect(admin_url, timeout=10)
    try:
        backend = int(await conn.fetchval("SELECT pg_backend_pid()"))
        # Read while our backend still exists: it is gone once we disconnect.
        return proc_ppid(backend)
    except (OSError, ValueError):
        return None
    finally:
        await conn.close()


def pg_postmaster_pid(admin_url: str) -> int | None:
    """The PostgreSQL server's main process (the parent of our backend), to
    read its processes' CPU from /proc; None if it is not on this machine."""
    return asyncio.run(_pg_postmaster(admin_url))


def pg_version(admin_url: str) -> str:
    try:
        return str(asyncio.run(_pg_admin(admin_url, "SHOW server_version")))
    except Exception:
        return "?"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_redis(work: Path, cores: str | None = None) -> ServerProc:
    """A private, memory-only redis-server on a free port (its own topics, its
    own CPU reading), stopped with the run."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise RuntimeError("redis-server not found: install it, or pass --redis-url")
    argv = [exe, "--port", str(free_port()), "--bind", "127.0.0.1"]
    argv += ["--save", "", "--appendonly", "no", "--maxclients", "1000"]
    return start_process(
        pinned(cores, argv) if cores else argv,
        work / "redis.log",
        r"port=(\d+)\.[\s\S]*Ready to accept connections",
    )


def redis_version() -> str:
    try:
        out = subprocess.run(
            ["redis-server", "--version"], capture_output=True, text=True, timeout=10
        )
        m = re.search(r"v=(\S+)", out.stdout)
        return m.group(1) if m else "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def tree_cpu(ppid: int) -> dict[int, tuple[float, str]]:
    """CPU seconds of every child of `ppid` (PostgreSQL's backends and background
    processes), with its process title, e.g. `postgres: postgres DB 127.0.0.1(5) idle`."""
    out: dict[int, tuple[float, str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
            if int(fields[1]) != ppid:
                continue
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                title = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            out[int(entry)] = ((int(fields[11]) + int(fields[12])) / CLK_TCK, title)
        except (OSError, ValueError, IndexError):
            continue
    return out


# --- the server ------------------------------------------------------------------------------


@dataclasses.dataclass
class ServerProc:
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def start_process(
    argv: list[str], log_path: Path, pattern: str, timeout: float = 30.0
) -> ServerProc:
    """Start a server and wait for `pattern` (with the port as group 1) in its output."""
    out = open(log_path, "wb")  # noqa: SIM115 - the child owns it
    proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=_env())
    out.close()
    deadline = time.monotonic() + timeout
    regex = re.compile(pattern)
    while time.monotonic() < deadline:
        text = log_path.read_text(errors="replace")
        m = regex.search(text)
        if m:
            return ServerProc(proc, int(m.group(1)), log_path)
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    raise RuntimeError(f"server did not start:\n{log_path.read_text(errors='replace')[-3000:]}")


def start_hubbub(
    data_dir: Path,
    limits: dict[str, Any],
    *,
    database_url: str | None = None,
    bus_url: str | None = None,
    cores: str | None = SERVER_CORE,
    name: str = "server",
    extra: list[str] | None = None,
) -> ServerProc:
    """`hubbub serve` on a free port, pinned to `cores` (None: unpinned).
    Without `database_url` it uses SQLite in `data_dir`; without `bus_url`, the
    in-process bus."""
    # HUBBUB_BENCH_SERVER names another module to run instead of `hubbub`
    # (with the same CLI): a way to measure a patched server.
    argv = [
        sys.executable,
        "-m",
        os.environ.get("HUBBUB_BENCH_SERVER", "hubbub"),
        "serve",
        "--port",
        "0",
        "--data-dir",
        str(data_dir),
        "--log-level",
        "warning",
        "--limit",
        ",".join(f"{k}={v}" for k, v in limits.items()),
    ]
    if database_url is not None:
        argv += ["--database-url", database_url]
    if bus_url is not None:
        argv += ["--bus-url", bus_url]
    argv += extra or []  # e.g. --allow-guests for the S1 tutorial's anonymous clients
    return start_process(
        pinned(cores, argv) if cores else argv,
        data_dir / f"{name}.log",
        r"hubbub listening on http://127\.0\.0\.1:(\d+)",
        timeout=60.0,
    )


def start_trivial(work: Path, coalesce: bool, cores: str | None = SERVER_CORE) -> ServerProc:
    argv = [sys.executable, "-m", "bench.trivial", "--port", "0"]
    if coalesce:
        argv.append("--coalesce")
    return start_process(
        pinned(cores, argv) if cores else argv,
        work / "trivial.log",
        r"trivial listening on port (\d+)",
    )


@contextlib.contextmanager
def workdir(keep: bool = False) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="hubbub-bench-"))
    try:
        yield path
    finally:
        if keep:
            log(f"kept {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


def _env() -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": path}


# --- load generator processes -------------------------------------------------------------


class Generator:
    """One `python -m bench.gen CONFIG` process on the generator core. It
    prints one JSON object per line; `{"event": ...}` lines are progress."""

    def __init__(
        self,
        config: dict[str, Any],
        work: Path,
        name: str = "gen",
        cores: str | None = GEN_CORE,
        generator: str = "python",
    ) -> None:
        path = work / f"{name}.json"
        # The native generator reads the cores from the config (gen.py imports them).
        path.write_text(json.dumps({"server_core": SERVER_CORE, "gen_core": GEN_CORE, **config}))
        self.stderr_path = work / f"{name}.err"
        err = open(self.stderr_path, "wb")  # noqa: SIM115 - the child owns it
        argv = [sys.executable, "-m", "bench.gen", str(path)]
        if generator == "native":  # bench/native/loadgen.c: fan-out mode only
            from bench.native import build

            argv = [str(build("loadgen")), str(path)]
        self.proc = subprocess.Popen(
            pinned(cores, argv) if cores else argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            env=_env(),
        )
        err.close()

    def read(self, timeout: float) -> dict[str, Any]:
        """The next JSON line, or an exception if the process died or is silent."""
        assert self.proc.stdout is not None
        import select

        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise RuntimeError(f"load generator silent for {timeout:.0f} s")
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                line = self.proc.stdout.readline()
                if not line:
                    self.proc.wait(5)
                    raise RuntimeError(
                        f"load generator exited ({self.proc.returncode}):\n{self.stderr()}"
                    )
                obj: dict[str, Any] = json.loads(line)
                if "error" in obj:
                    self.kill()
                    raise RuntimeError(f"load generator failed: {obj['error']}\n{self.stderr()}")
                return obj

    def tell(self, line: str) -> None:
        assert self.proc.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            self.proc.stdin.write(line.encode() + b"\n")
            self.proc.stdin.flush()

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def wait(self, timeout: float = 30.0) -> None:
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def median(values: list[float]) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2
