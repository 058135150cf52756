"""Access to the real PostgreSQL and Redis servers the suite may use.

Outside CI a missing service skips the tests that need it, with the reason;
under CI (CI=true) it fails them, so a broken CI machine cannot pass by skipping.
"""

from __future__ import annotations

import os
import socket
import urllib.parse

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
