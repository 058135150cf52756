"""Notification preferences on the SQL backends (protocol.notify): a row
per member who changed a channel's level or muted it, and one per user with
do-not-disturb or digest settings. Read when a client starts and when a
digest is made: nothing here is on the send path.

`NotifyOps` is a part of `sql.SQLStore`, as `IntegrationOps` is.
"""

from __future__ import annotations

import abc
import contextlib
from typing import Any

import orjson
from sqlalchemy import Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from hubbub.protocol.notify import ChannelPrefs, Schedule, UserPrefs, level_of
from hubbub.store import schema as t


def _upsert(
    conn: AsyncConnection, table: Table, keys: dict[str, Any], values: dict[str, Any]
) -> Any:
    """INSERT ... ON CONFLICT DO UPDATE, in the connection's dialect: one
    statement, so two devices saving at once cannot both insert."""
    make = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = make(table).values(**keys, **values)
    return stmt.on_conflict_do_update(index_elements=list(keys), set_=values)


def _schedule_of(raw: str | None) -> Schedule | None:
    if raw is None:
        return None
    d = orjson.loads(raw)
    return Schedule(d["start"], d["end"], d["tz"])


def _user_prefs(row: Any) -> UserPrefs:
    return UserPrefs(row.dnd_until, _schedule_of(row.schedule), bool(row.email_digest), row.email)


def _channel_prefs(row: Any) -> ChannelPrefs:
    return ChannelPrefs(level_of(row.level), bool(row.muted))


class NotifyOps:
    """The notification part of SQLStore (see the module's docstring)."""

    @abc.abstractmethod
    def _read(self) -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
        """A connection for reads (SQLStore's)."""

    @abc.abstractmethod
    def _write(self) -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
        """A connection in a write transaction, committed at the end (SQLStore's)."""

    async def user_prefs(self, user_id: int) -> UserPrefs:
        c = t.user_notify.c
        async with self._read() as conn:
            row = (await conn.execute(select(t.user_notify).where(c.user_id == user_id))).first()
        if row is None:
            return UserPrefs()
        return _user_prefs(row)

    async def set_user_prefs(self, user_id: int, prefs: UserPrefs) -> None:
        s = prefs.schedule
        schedule = (
            None
            if s is None
            else orjson.dumps({"start": s.start, "end": s.end, "tz": s.tz}).decode()
        )
        values = {
            "dnd_until": prefs.dnd_until,
            "schedule": schedule,
            "email_digest": prefs.email_digest,
            "email": prefs.email,
        }
        async with self._write() as conn:
            await conn.execute(_upsert(conn, t.user_notify, {"user_id": user_id}, values))

    async def channel_prefs(self, user_id: int) -> dict[int, ChannelPrefs]:
        c = t.channel_notify.c
        async with self._read() as conn:
            rows = await conn.execute(select(t.channel_notify).where(c.user_id == user_id))
            return {r.channel_id: _channel_prefs(r) for r in rows}

    async def channel_prefs_of(self, channel_id: int) -> dict[int, ChannelPrefs]:
        c = t.channel_notify.c
        async with self._read() as conn:
            rows = await conn.execute(select(t.channel_notify).where(c.channel_id == channel_id))
            return {r.user_id: _channel_prefs(r) for r in rows}

    async def set_channel_prefs(self, user_id: int, channel_id: int, prefs: ChannelPrefs) -> None:
        values = {"level": prefs.level, "muted": prefs.muted}
        keys = {"channel_id": channel_id, "user_id": user_id}
        async with self._write() as conn:
            await conn.execute(_upsert(conn, t.channel_notify, keys, values))

    # --- the e-mail digest ---------------------------------------------------------

    async def digest_users(self) -> list[tuple[int, UserPrefs]]:
        c = t.user_notify.c
        wanted = select(t.user_notify).where(c.email_digest, c.email.is_not(None))
        async with self._read() as conn:
            return [(r.user_id, _user_prefs(r)) for r in await conn.execute(wanted)]

    async def digest_marks(self, user_id: int) -> dict[int, int]:
        c = t.user_notify.c
        async with self._read() as conn:
            raw = (await conn.execute(select(c.digest_marks).where(c.user_id == user_id))).scalar()
        return {} if raw is None else {int(k): int(v) for k, v in orjson.loads(raw).items()}

    async def set_digest_marks(self, user_id: int, marks: dict[int, int]) -> None:
        c = t.user_notify.c
        raw = orjson.dumps({str(k): v for k, v in marks.items()}).decode()
        async with self._write() as conn:
            await conn.execute(
                update(t.user_notify).where(c.user_id == user_id).values(digest_marks=raw)
            )
