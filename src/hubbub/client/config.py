"""Where `hubbub login` keeps servers and tokens: one JSON file (0600) of named
profiles, so that several accounts on one machine each keep their own login.

    {"profiles": {"default": {"server": "...", "username": "alice", "token": "..."},
                  "bob": {"server": "...", "username": "bob", "token": "..."}}}

The file is `$HUBBUB_CONFIG`, else `$XDG_CONFIG_HOME/hubbub/config.json`, else
`~/.config/hubbub/config.json`. The profile is the commands' `--profile`, else
`$HUBBUB_PROFILE`, else `default`. A file written before profiles existed (one
login at the top level) is read as the `default` profile. Writes replace the
file atomically, under a lock, so two terminals logging in at once never lose
each other's profile.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DEFAULT_SERVER = "http://127.0.0.1:8000"
DEFAULT_PROFILE = "default"
PROFILE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


def config_path() -> Path:
    override = os.environ.get("HUBBUB_CONFIG")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "hubbub" / "config.json"


def profile_name(name: str | None = None) -> str:
    """`name`, else `$HUBBUB_PROFILE`, else `default`; ValueError if malformed."""
    chosen = name or os.environ.get("HUBBUB_PROFILE") or DEFAULT_PROFILE
    if not PROFILE_RE.fullmatch(chosen):
        raise ValueError(
            f"bad profile name {chosen!r}: use up to 64 letters, digits, '_', '.', '@', '-'"
        )
    return chosen


def load_all() -> dict[str, dict[str, Any]]:
    """Every saved profile, by name (none if the file is missing or unreadable)."""
    try:
        data = json.loads(config_path().read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    profiles = data.get("profiles")
    if isinstance(profiles, dict):
        return {k: v for k, v in profiles.items() if isinstance(v, dict)}
    if "token" in data or "server" in data:  # the file from before profiles
        return {DEFAULT_PROFILE: data}
    return {}


def load(profile: str | None = None) -> dict[str, Any]:
    """One profile's saved login (`server`, `username`, `token`), or {}."""
    return load_all().get(profile_name(profile), {})


def save(data: dict[str, Any], profile: str | None = None) -> Path:
    """Save one profile's login, keeping the others; return the file's path."""
    name = profile_name(profile)
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with _locked(path):
        profiles = load_all()
        profiles[name] = data
        # mkstemp creates the file 0600 before anything is written: the
        # tokens are never world-readable, not even for a moment.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump({"profiles": profiles}, f, indent=2)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    os.chmod(path, 0o600)
    return path


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise read-modify-write of the file between processes."""
    if sys.platform == "win32":  # pragma: no cover - os.replace is atomic there too
        yield
        return
    import fcntl

    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
