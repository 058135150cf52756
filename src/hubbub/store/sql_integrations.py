"""Integrations on the SQL backends (models.Integration): one table, a row
per webhook or command, its kind's settings as JSON; and an outgoing hook's
deliveries (models.Outbox, models.DeadLetter). Few rows, nothing here is on
the send path: deliveries are read by core.delivery after the commit.

`IntegrationOps` is a part of `sql.SQLStore`, as `WorkspaceOps` is.
"""

from __future__ import annotations

import abc
import contextlib
from typing import Any

import orjson
from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from hubbub.core.models import DeadLetter, Integration, Outbox
from hubbub.core.ports import NameTaken
from hubbub.store import schema as t

c = t.integrations.c
o = t.hook_outbox.c
d = t.hook_dead_letters.c


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
            await conn.execute(delete(t.hook_outbox).where(o.integration_id == integration_id))
            await conn.execute(
                delete(t.hook_dead_letters).where(d.integration_id == integration_id)
            )
            row = (
                await conn.execute(
                    delete(t.integrations)
                    .where(c.id == integration_id)
                    .returning(*t.integrations.c)
                )
            ).first()
        return None if row is None else _integration_from(row)

    # --- an outgoing hook's deliveries ------------------------------------------------

    async def claim_outbox(
        self, integration_id: str, owner: str, now: int, until: int, start: int
    ) -> Outbox | None:
        take = (
            update(t.hook_outbox)
            .where(
                o.integration_id == integration_id,
                or_(o.lease_owner == owner, o.lease_until <= now),
            )
            .values(lease_owner=owner, lease_until=until)
            .returning(*t.hook_outbox.c)
        )
        async with self._write() as conn:
            row = (await conn.execute(take)).first()
            if row is None:
                exists = await conn.execute(
                    select(o.integration_id).where(o.integration_id == integration_id)
                )
                if exists.first() is not None:
                    return None  # held by another
        if row is None:
            # The first claim makes it; two at once: one insert wins, and
            # both then race for the lease as above.
            with contextlib.suppress(IntegrityError):
                async with self._write() as conn:
                    await conn.execute(
                        insert(t.hook_outbox).values(integration_id=integration_id, cursor=start)
                    )
            async with self._write() as conn:
                row = (await conn.execute(take)).first()
        return None if row is None else _outbox_from(row)

    async def save_outbox(self, outbox: Outbox, dead: DeadLetter | None = None) -> bool:
        b = outbox
        async with self._write() as conn:
            done = await conn.execute(
                update(t.hook_outbox)
                .where(o.integration_id == b.integration_id, o.lease_owner == b.lease_owner)
                .values(
                    cursor=b.cursor,
                    attempts=b.attempts,
                    next_at=b.next_at,
                    last_error=b.last_error,
                    delivered=b.delivered,
                    dead=b.dead,
                    lease_until=b.lease_until,
                )
            )
            if done.rowcount != 1:
                return False
            if dead is not None:
                await conn.execute(
                    delete(t.hook_dead_letters).where(
                        d.integration_id == dead.integration_id, d.seq == dead.seq
                    )
                )
                await conn.execute(
                    insert(t.hook_dead_letters).values(
                        integration_id=dead.integration_id,
                        seq=dead.seq,
                        attempts=dead.attempts,
                        error=dead.error,
                        at=dead.at,
                    )
                )
        return True

    async def outbox(self, integration_id: str) -> Outbox | None:
        async with self._read() as conn:
            row = (
                await conn.execute(select(t.hook_outbox).where(o.integration_id == integration_id))
            ).first()
        return None if row is None else _outbox_from(row)

    async def dead_letters(self, integration_id: str, limit: int) -> list[DeadLetter]:
        async with self._read() as conn:
            rows = await conn.execute(
                select(t.hook_dead_letters)
                .where(d.integration_id == integration_id)
                .order_by(d.seq.desc())
                .limit(limit)
            )
            return [DeadLetter(r.integration_id, r.seq, r.attempts, r.error, r.at) for r in rows]


def _outbox_from(row: Any) -> Outbox:
    return Outbox(
        row.integration_id,
        row.cursor,
        row.attempts,
        row.next_at,
        row.last_error,
        row.delivered,
        row.dead,
        row.lease_owner,
        row.lease_until,
    )
