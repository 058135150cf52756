"""The native load generator and relay (`loadgen.c`, `relay.c` beside this
file, and `common.h`, which both include): built by the bench itself with the
machine's C compiler, into `.cache/bench-native/` at the repository root
(git-ignored), and rebuilt when its source or the header is newer than its
build. libc only, so `cc -O2` is all it takes.

* `loadgen`: a drop-in for `python -m bench.gen CONFIG.json` in its fan-out
  mode (same config, same JSON lines): `bench.common.Generator(..., generator="native")`.
* `relay`: a do-nothing relay speaking what `bench.trivial` speaks, one write
  per delivery or (`--coalesce`) one write per subscriber per read: `start_relay`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from bench.common import ROOT, SERVER_CORE, ServerProc, pinned, start_process

SOURCES = Path(__file__).resolve().parent
CACHE = ROOT / ".cache" / "bench-native"
CFLAGS = ["-O2", "-Wall", "-Wextra"]
GENERATORS = ("native", "python")


class NativeUnavailable(RuntimeError):
    """No C compiler, or the build failed."""


def compiler() -> str | None:
    return os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")


def build(name: str) -> Path:
    """`bench/native/NAME.c` compiled into the cache (again if it or a header
    beside it is newer than the build): the executable's path."""
    src = SOURCES / f"{name}.c"
    exe = CACHE / name
    newest = max(p.stat().st_mtime for p in (src, *SOURCES.glob("*.h")))
    if exe.exists() and exe.stat().st_mtime >= newest:
        return exe
    cc = compiler()
    if cc is None:
        raise NativeUnavailable(
            "no C compiler: the native load generator and relay need `cc` on PATH "
            "(e.g. apt-get install gcc), or run with --generator python"
        )
    CACHE.mkdir(parents=True, exist_ok=True)
    # Built beside its final name and renamed: a concurrent run never sees half a file.
    tmp = CACHE / f".{name}.{os.getpid()}"
    r = subprocess.run(
        [cc, *CFLAGS, "-o", str(tmp), str(src)], capture_output=True, text=True, timeout=120
    )
    if r.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise NativeUnavailable(f"{cc} failed on {src}:\n{r.stderr[-3000:]}")
    tmp.replace(exe)
    return exe


def available() -> bool:
    """Whether both native programs are built or can be."""
    try:
        build("loadgen")
        build("relay")
    except NativeUnavailable:
        return False
    return True


def resolve(choice: str | None) -> str:
    """`--generator`: as asked, or native where it builds and python otherwise."""
    if choice is not None:
        if choice == "native":
            build("loadgen")  # a clear error now rather than in the first run
        return choice
    return "native" if available() else "python"


def start_relay(work: Path, coalesce: bool, cores: str | None = SERVER_CORE) -> ServerProc:
    """The native relay on a free port, pinned like `bench.common.start_trivial`."""
    argv = [str(build("relay")), "--port", "0", *(["--coalesce"] if coalesce else [])]
    return start_process(
        pinned(cores, argv) if cores else argv,
        work / ("relay-coalesced.log" if coalesce else "relay.log"),
        r"relay listening on port (\d+)",
    )
