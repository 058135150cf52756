"""Integrations on the SQL backends (models.Integration): one table, a row
per webhook or command, its kind's settings as JSON. Few rows, read through
the core's cache (core.hooks), so nothing here is on a hot path.

`IntegrationOps` is a part of `sql.SQLStore`, as `WorkspaceOps` is.
"""

from __future__ import annotations

import abc
import contextlib
from typing import Any

import orjson
from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from hubbub.core.models import Integration
from hubbub.core.ports import NameTaken
from hubbub.store import schema as t

c = t.integrations.c


def _integration_from(row: Any) -> Integration:
    return Integration(
        row.id,
        row.kind,
        row.key,
        row.name,
        row.channel_id,
        row.user_id,
        row.created_by,
        row.created_at,
        orjson.loads(row.config),
    )


class IntegrationOps:
    """The integrations part of SQLStore (see the module's docstring)."""

    @abc.abstractmethod
    def _read(self) -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
        """A connection for reads (SQLStore's)."""

    @abc.abstractmethod
    def _write(self) -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
        """A connection in a write transaction, committed at the end (SQLStore's)."""

    async def create_integration(self, integration: Integration) -> None:
        i = integration
        try:
            async with self._write() as conn:
                await conn.execute(
                    insert(t.integrations).values(
                        id=i.id,
                        kind=i.kind,
                        key=i.key,
                        name=i.name,
                        channel_id=i.channel_id,
                        user_id=i.user_id,
                        created_by=i.created_by,
                        created_at=i.created_at,
                        config=orjson.dumps(i.config).decode(),
                    )
                )
        except IntegrityError as exc:  # the unique key
            raise NameTaken(i.key) from exc

    async def integration_by_key(self, key: str) -> Integration | None:
        async with self._read() as conn:
            row = (await conn.execute(select(t.integrations).where(c.key == key))).first()
        return None if row is None else _integration_from(row)

    async def integrations(self) -> list[Integration]:
        async with self._read() as conn:
            rows = await conn.execute(
                select(t.integrations).order_by(c.created_at.desc(), c.id.desc())
            )
            return [_integration_from(r) for r in rows]

    async def delete_integration(self, integration_id: str) -> Integration | None:
        async with self._write() as conn:
            row = (
                await conn.execute(
                    delete(t.integrations)
                    .where(c.id == integration_id)
                    .returning(*t.integrations.c)
                )
            ).first()
        return None if row is None else _integration_from(row)
