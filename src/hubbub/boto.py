"""boto3 clients as hubbub's AWS backends make them (the DynamoDB store,
the S3 blob store): a session of their own, bounded retries and timeouts,
and any credentials for a local endpoint (moto, DynamoDB Local, MinIO)
that has none configured."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config


def client(
    service: str,
    *,
    region: str,
    endpoint: str | None,
    read_timeout: float,
    connect_timeout: float = 5,
    **config: Any,
) -> Any:
    kwargs: dict[str, Any] = {}
    session = boto3.session.Session()
    if endpoint is not None and session.get_credentials() is None:
        kwargs.update(aws_access_key_id="local", aws_secret_access_key="local")
    return session.client(
        service,  # type: ignore[call-overload]
        region_name=region,
        endpoint_url=endpoint,
        config=Config(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"max_attempts": 3, "mode": "standard"},
            max_pool_connections=32,
            **config,
        ),
        **kwargs,
    )
