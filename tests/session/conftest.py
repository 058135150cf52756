"""`hubbub serve` and `hubbub aws-local`, each a real process on an ephemeral
port with guests allowed, started once per module; a test gets the `drv` of
one of them, with clients bound to the test's event loop."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from aws_support import AwsLocal, start_aws_local
from support import WAIT, Server, start_server

from .drivers import LIMITS, AwsDriver, Driver, ServerDriver


@pytest.fixture(scope="module", params=["server", "aws"])
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server | AwsLocal]:
    """The running process, once per module and driver."""
    if request.param == "server":
        server = start_server(
            tmp_path_factory.mktemp("session"), "--allow-guests", "--limit", LIMITS
        )
        yield server
        server.stop()
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
