"""The backends every Store contract file runs on (test_contract.py,
test_workspace_contract.py): each test gets a store on an empty schema."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from hubbub.store import Store, open_store
from services import drop_database, fresh_postgres_database

BACKENDS = ["sqlite", "postgres", "dynamodb"]


@pytest.fixture(scope="session")
def dynamodb_endpoint() -> Iterator[str]:
    """One moto server for the session, over HTTP on an ephemeral port."""
    pytest.importorskip("boto3")
    from hubbub.aws.localdb import LocalDynamoDB

    with LocalDynamoDB() as db:
        yield db.endpoint


@pytest.fixture(params=BACKENDS)
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'contract.db'}"
        return
    if request.param == "dynamodb":
        # Fresh tables per test (their own name prefix): an empty schema.
        endpoint = request.getfixturevalue("dynamodb_endpoint")
        prefix = f"t{uuid.uuid4().hex[:10]}-"
        yield f"dynamodb://?endpoint={endpoint}&region=us-east-1&prefix={prefix}&create=1"
        return
    # A fresh database per test: the contract must hold on an empty schema.
    url = await fresh_postgres_database()
    yield url
    await drop_database(url)


@pytest.fixture
async def make_store(store_url: str) -> AsyncIterator[Callable[[], Store]]:
    opened: list[Store] = []

    def make() -> Store:
        s = open_store(store_url)
        opened.append(s)
        return s

    yield make
    for s in opened:
        await s.close()


@pytest.fixture
async def store(make_store: Callable[[], Store]) -> Store:
    s = make_store()
    await s.open()
    return s
