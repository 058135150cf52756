"""`hubbub serve` and `hubbub aws-local`, each a real process on an ephemeral
port with guests allowed, started once per module; a test gets the `drv` of
one of them, with clients bound to the test's event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from aws_support import AwsLocal, start_aws_local
from services import drop_database, fresh_postgres_database, require_postgres
from support import WAIT, Server, start_server

from .drivers import LIMITS, AwsDriver, Driver, ServerDriver


def deployments(*extra: str) -> list[str]:
    """The deployments a module runs on: `server` (on SQLite) and `aws`, and
    `extra` ones (`postgres`: `hubbub serve` on PostgreSQL)."""
    return ["server", *extra, "aws"]


@pytest.fixture(scope="module", params=deployments())
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server | AwsLocal]:
    """The running process, once per module and driver."""
    yield from run_deployment(request, tmp_path_factory)


def run_deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server | AwsLocal]:
    """Start the deployment `request.param` names; stop it after the yield."""
    if request.param in ("server", "postgres"):
        extra: tuple[str, ...] = ()
        database = None
        if request.param == "postgres":
            require_postgres()
            database = asyncio.run(fresh_postgres_database())
            extra = ("--database-url", database)
        server = start_server(
            tmp_path_factory.mktemp("session"), "--allow-guests", "--limit", LIMITS, *extra
        )
        yield server
        server.stop()
        if database is not None:
            asyncio.run(drop_database(database))
    else:
        dynamodb: str = request.getfixturevalue("dynamodb")  # skips without boto3/moto
        aws = start_aws_local(dynamodb, "--allow-guests", "--limit", LIMITS)
        yield aws
        aws.stop()


@pytest.fixture
async def drv(deployment: Server | AwsLocal) -> AsyncIterator[Driver]:
    """The driver, with clients bound to this test's event loop."""
    if isinstance(deployment, Server):
        async with httpx.AsyncClient(base_url=deployment.url, timeout=WAIT) as http:
            yield ServerDriver(deployment, http)
    else:
        from hubbub.store.dynamo import DynamoStore

        store = DynamoStore(deployment.url)
        await store.open()
        try:
            yield AwsDriver(deployment, store)
        finally:
            await store.close()
