"""Storage backends, chosen by URL. Imports are lazy so that an extra (asyncpg,
boto3) is needed only by those who use its backend."""

from __future__ import annotations

from hubbub.core.ports import NameTaken, Store, StoreError

__all__ = ["NameTaken", "Store", "StoreError", "open_store"]


def open_store(url: str) -> Store:
    scheme = url.partition("://")[0].partition("+")[0]
    if scheme in ("sqlite", "postgresql", "postgres"):
        from hubbub.store.sql import SQLStore

        if scheme == "postgres":
            url = "postgresql" + url[len("postgres") :]
        return SQLStore(url)
    if scheme == "dynamodb":
        from hubbub.store.dynamo import DynamoStore

        return DynamoStore(url)
    raise ValueError(
        f"unsupported database URL scheme {scheme!r} (sqlite://, postgresql://, dynamodb://)"
    )
