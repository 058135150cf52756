from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from support import Server, start_server

TESTS = Path(__file__).parent
# Run alone, after the parallel phase (scripts/test): these put a server under
# load or race a timer (the browser tests' 10 s expectations among them),
# which another worker's tests on the same cores would skew into failures
# that say nothing about hubbub.
SERIAL = ("bench/", "conformance/test_autobahn.py", "web/")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.relative_to(TESTS).as_posix().startswith(SERIAL):
            item.add_marker(pytest.mark.serial)


# Fast defaults for tests: no rate limit in the way, short timeouts where a
# test needs them (each test can start its own server with other limits).
TEST_LIMITS = ("--limit", "messages_per_second=1000,message_burst=1000")


@pytest.fixture(scope="session")
def dynamodb() -> Iterator[str]:
    """One DynamoDB (moto's server over HTTP) for the whole run: the Lambda
    tests (tests/aws) and the conversation suite (tests/session) each use
    their own table prefix on it."""
    pytest.importorskip("boto3")
    pytest.importorskip("moto")
    from hubbub.aws.localdb import LocalDynamoDB

    with LocalDynamoDB() as db:
        yield db.endpoint


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    started: list[Server] = []
    counter = itertools.count()

    def make(*extra: str, data_dir: Path | None = None, port: int = 0) -> Server:
        d = data_dir or tmp_path / f"data{next(counter)}"
        s = start_server(d, "--allow-guests", *TEST_LIMITS, *extra, port=port)
        started.append(s)
        return s

    yield make
    for s in started:
        s.stop()


@pytest.fixture
def server(server_factory: Callable[..., Server]) -> Server:
    return server_factory()


@pytest.fixture
async def http(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        yield client


_names = itertools.count()


@pytest.fixture
def uname() -> Callable[[str], str]:
    """Unique usernames per test run (`uname("alice")` -> `alice-3`)."""
    return lambda base: f"{base}-{next(_names)}"
