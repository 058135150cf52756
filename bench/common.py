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
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


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


async def _seed(db: Path, users: int, channel: str | None) -> tuple[str, list[tuple[int, str]]]:
    from hubbub.core import auth
    from hubbub.store.sql import SQLStore

    store = SQLStore(f"sqlite:///{db}")
    await store.open()
    try:
        # One argon2 hash for everyone: each hash embeds its own salt, so it
        # verifies for every account, and seeding costs one hash, not N.
        hashed = auth.hash_password(PASSWORD)
        secret = await store.get_or_set_meta("jwt_secret", secrets.token_urlsafe(48))
        made = []
        for i in range(users):
            name = f"b{i:05d}"
            user = await store.create_user(name, name, hashed)
            made.append((user.id, user.username))
        if channel is not None:
            await store.create_channel(channel, "public", "", [uid for uid, _ in made])
    finally:
        await store.close()
    return secret, made


def seed(data_dir: Path, users: int, channel: str | None = "general") -> list[str]:
    """Create the database with `users` accounts (all members of `channel`) and
    the server's JWT secret, then mint one token per user without a login."""
    from hubbub.core import auth

    secret, made = asyncio.run(_seed(data_dir / "hubbub.db", users, channel))
    ttl = 24 * 3600.0
    return [auth.issue_token(secret, uid, name, ttl) for uid, name in made]


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


def start_hubbub(data_dir: Path, limits: dict[str, Any]) -> ServerProc:
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
    return start_process(
        pinned(SERVER_CORE, argv),
        data_dir / "server.log",
        r"hubbub listening on http://127\.0\.0\.1:(\d+)",
    )


def start_trivial(work: Path, coalesce: bool) -> ServerProc:
    argv = [sys.executable, "-m", "bench.trivial", "--port", "0"]
    if coalesce:
        argv.append("--coalesce")
    return start_process(
        pinned(SERVER_CORE, argv), work / "trivial.log", r"trivial listening on port (\d+)"
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

    def __init__(self, config: dict[str, Any], work: Path, name: str = "gen") -> None:
        path = work / f"{name}.json"
        path.write_text(json.dumps(config))
        self.stderr_path = work / f"{name}.err"
        err = open(self.stderr_path, "wb")  # noqa: SIM115 - the child owns it
        self.proc = subprocess.Popen(
            pinned(GEN_CORE, [sys.executable, "-m", "bench.gen", str(path)]),
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
