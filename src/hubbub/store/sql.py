"""SQLite and PostgreSQL through SQLAlchemy 2 (async), one implementation."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import (
    Connection,
    and_,
    case,
    event,
    func,
    insert,
    select,
    tuple_,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from hubbub.core.mentions import mention_re
from hubbub.core.models import (
    AppendRejected,
    Channel,
    ChannelKind,
    Membership,
    NewMessage,
    StoredMessage,
    User,
)
from hubbub.store import schema as t
from hubbub.store.base import NameTaken, StoreError

MIGRATIONS = Path(__file__).parent / "migrations"


def _now_ms() -> int:
    return int(time.time() * 1000)


def driver_url(url: str) -> str:
    """Map the user-facing URL to the async driver SQLAlchemy should use."""
    scheme, sep, rest = url.partition("://")
    drivers = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}
    if scheme in drivers:
        return drivers[scheme] + sep + rest
    return url


MIGRATION_LOCK = 0x68756262  # "hubb": one PostgreSQL advisory lock id for migrations


def run_migrations(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        # Nodes starting together: one migrates, the others wait, then find
        # the schema at head. (SQLite's BEGIN IMMEDIATE already serialises.)
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "head")


class SQLStore:
    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {}
        if self.is_sqlite:
            path = url.partition(":///")[2]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
        else:
            kwargs["pool_pre_ping"] = True
        self.engine: AsyncEngine = create_async_engine(driver_url(url), **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        # Write transactions on SQLite must take the write lock up front
        # (BEGIN IMMEDIATE): a deferred one that reads first can fail with
        # SQLITE_BUSY when it upgrades, without waiting for busy_timeout.
        self.writer = self.engine.execution_options(hubbub_write=True)

    @contextlib.asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        async with _translated(), self.engine.connect() as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        async with _translated(), self.writer.begin() as conn:
            yield conn

    async def open(self) -> None:
        try:
            async with self._write() as conn:
                await conn.run_sync(run_migrations)
        except StoreError as exc:
            raise StoreError(f"cannot open database: {exc}") from exc

    async def close(self) -> None:
        await self.engine.dispose()

    async def ping(self) -> None:
        async with self._read() as conn:
            await conn.exec_driver_sql("SELECT 1")

    async def get_or_set_meta(self, key: str, value: str) -> str:
        async with self._write() as conn:
            row = (await conn.execute(select(t.meta.c.value).where(t.meta.c.key == key))).first()
            if row is None:
                await conn.execute(insert(t.meta).values(key=key, value=value))
                return value
            return str(row[0])

    # users ---------------------------------------------------------------

    async def create_user(self, username: str, display_name: str, password_hash: str) -> User:
        try:
            async with self._write() as conn:
                res = await conn.execute(
                    insert(t.users)
                    .values(
                        username=username,
                        display_name=display_name,
                        password_hash=password_hash,
                        created_at=_now_ms(),
                    )
                    .returning(t.users.c.id)
                )
                uid = res.scalar_one()
        except IntegrityError as exc:
            raise NameTaken(username) from exc
        return User(uid, username, display_name, password_hash)

    async def _user_where(self, cond: Any) -> User | None:
        async with self._read() as conn:
            row = (await conn.execute(select(t.users).where(cond))).first()
        if row is None:
            return None
        return User(row.id, row.username, row.display_name, row.password_hash)

    async def get_user(self, user_id: int) -> User | None:
        return await self._user_where(t.users.c.id == user_id)

    async def get_user_by_name(self, username: str) -> User | None:
        return await self._user_where(t.users.c.username == username)

    async def update_password_hash(self, user_id: int, password_hash: str) -> None:
        async with self._write() as conn:
            await conn.execute(
                update(t.users).where(t.users.c.id == user_id).values(password_hash=password_hash)
            )

    # channels --------------------------------------------------------------

    async def create_channel(
        self, name: str, kind: ChannelKind, topic: str, member_ids: Sequence[int]
    ) -> Channel:
        now = _now_ms()
        try:
            async with self._write() as conn:
                res = await conn.execute(
                    insert(t.channels)
                    .values(name=name, kind=kind, topic=topic, last_seq=0, created_at=now)
                    .returning(t.channels.c.id)
                )
                cid = res.scalar_one()
                if member_ids:
                    await conn.execute(
                        insert(t.memberships),
                        [
                            {"channel_id": cid, "user_id": uid, "last_read": 0, "joined_at": now}
                            for uid in member_ids
                        ],
                    )
                return await self._channel(conn, cid)
        except IntegrityError as exc:
            raise NameTaken(name) from exc

    async def _channel(self, conn: AsyncConnection, channel_id: int) -> Channel:
        ch = await self._channels(conn, t.channels.c.id == channel_id)
        return ch[0]

    async def _channels(self, conn: AsyncConnection, cond: Any) -> list[Channel]:
        count = (
            select(func.count())
            .where(t.memberships.c.channel_id == t.channels.c.id)
            .scalar_subquery()
        )
        rows = (await conn.execute(select(t.channels, count.label("n")).where(cond))).all()
        out = []
        for r in rows:
            members: tuple[str, ...] | None = None
            if r.kind == "dm":
                members = tuple(await self._member_names(conn, r.id))
            out.append(Channel(r.id, r.name, r.kind, r.topic, r.last_seq, r.n, members))
        return out

    async def get_channel(self, name: str) -> Channel | None:
        async with self._read() as conn:
            found = await self._channels(conn, t.channels.c.name == name)
        return found[0] if found else None

    async def set_topic(self, channel_id: int, topic: str) -> None:
        async with self._write() as conn:
            await conn.execute(
                update(t.channels).where(t.channels.c.id == channel_id).values(topic=topic)
            )

    async def channels_for(self, user_id: int) -> list[Membership]:
        async with self._read() as conn:
            rows = (
                await conn.execute(
                    select(t.memberships.c.channel_id, t.memberships.c.last_read).where(
                        t.memberships.c.user_id == user_id
                    )
                )
            ).all()
            reads = {r.channel_id: r.last_read for r in rows}
            if not reads:
                return []
            chans = await self._channels(conn, t.channels.c.id.in_(list(reads)))
        return [Membership(c, reads[c.id]) for c in sorted(chans, key=lambda c: c.name)]

    async def public_channels(self) -> list[Channel]:
        async with self._read() as conn:
            chans = await self._channels(conn, t.channels.c.kind == "public")
        return sorted(chans, key=lambda c: c.name)

    async def membership(self, channel_id: int, user_id: int) -> Membership | None:
        async with self._read() as conn:
            row = (
                await conn.execute(
                    select(t.memberships.c.last_read).where(
                        and_(
                            t.memberships.c.channel_id == channel_id,
                            t.memberships.c.user_id == user_id,
                        )
                    )
                )
            ).first()
            if row is None:
                return None
            return Membership(await self._channel(conn, channel_id), row.last_read)

    async def add_member(self, channel_id: int, user_id: int) -> bool:
        # A newcomer's read cursor starts at the newest message (as in Slack):
        # joining does not make the whole history unread.
        latest = (
            select(t.channels.c.last_seq).where(t.channels.c.id == channel_id).scalar_subquery()
        )
        try:
            async with self._write() as conn:
                await conn.execute(
                    insert(t.memberships).values(
                        channel_id=channel_id,
                        user_id=user_id,
                        last_read=latest,
                        joined_at=_now_ms(),
                    )
                )
        except IntegrityError:
            return False
        return True

    async def remove_member(self, channel_id: int, user_id: int) -> bool:
        async with self._write() as conn:
            res = await conn.execute(
                t.memberships.delete().where(
                    and_(
                        t.memberships.c.channel_id == channel_id,
                        t.memberships.c.user_id == user_id,
                    )
                )
            )
        return bool(res.rowcount)

    async def _member_names(self, conn: AsyncConnection, channel_id: int) -> list[str]:
        rows = await conn.execute(
            select(t.users.c.username)
            .join(t.memberships, t.memberships.c.user_id == t.users.c.id)
            .where(t.memberships.c.channel_id == channel_id)
            .order_by(t.users.c.username)
        )
        return [r[0] for r in rows]

    async def member_names(self, channel_id: int) -> list[str]:
        async with self._read() as conn:
            return await self._member_names(conn, channel_id)

    async def set_last_read(self, channel_id: int, user_id: int, seq: int) -> int:
        m = t.memberships.c
        async with self._write() as conn:
            await conn.execute(
                update(t.memberships)
                .where(and_(m.channel_id == channel_id, m.user_id == user_id, m.last_read < seq))
                .values(last_read=seq)
            )
            row = (
                await conn.execute(
                    select(m.last_read).where(
                        and_(m.channel_id == channel_id, m.user_id == user_id)
                    )
                )
            ).first()
        return int(row[0]) if row else 0

    # messages ----------------------------------------------------------------

    async def append_messages(
        self, batch: Sequence[NewMessage]
    ) -> list[StoredMessage | AppendRejected]:
        for attempt in range(3):
            try:
                async with self._write() as conn:
                    return await self._append(conn, batch)
            except IntegrityError:
                # Another node stored one of these (author, client_id) pairs
                # between our dedup read and our insert: rolled back whole, so
                # run again and it is found as a duplicate.
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _append(
        self, conn: AsyncConnection, batch: Sequence[NewMessage]
    ) -> list[StoredMessage | AppendRejected]:
        """Set-based: a handful of statements per batch, not per message."""
        m, ms = t.messages.c, t.memberships.c
        authored = [x for x in batch if x.author_id is not None]
        authors: dict[int, tuple[str, str]] = {}
        members: set[tuple[int, int]] = set()
        sent: dict[tuple[int, str], StoredMessage] = {}
        if authored:
            ids = {x.author_id for x in authored}
            rows = await conn.execute(
                select(t.users.c.id, t.users.c.username, t.users.c.display_name).where(
                    t.users.c.id.in_(ids)
                )
            )
            authors = {r.id: (r.username, r.display_name) for r in rows}
            pairs = {(x.channel_id, x.author_id) for x in authored}
            rows = await conn.execute(
                select(ms.channel_id, ms.user_id).where(
                    tuple_(ms.channel_id, ms.user_id).in_(pairs)
                )
            )
            members = {(r.channel_id, r.user_id) for r in rows}
            keys = {(x.author_id, x.client_id) for x in authored if x.client_id is not None}
            if keys:
                rows = await conn.execute(
                    select(
                        m.channel_id,
                        t.channels.c.name,
                        m.seq,
                        m.author_id,
                        m.text,
                        m.client_id,
                        m.created_at,
                    )
                    .join(t.channels, t.channels.c.id == m.channel_id)
                    .where(tuple_(m.author_id, m.client_id).in_(keys))
                )
                for r in rows:
                    username, display = authors[r.author_id]
                    sent[(r.author_id, r.client_id)] = StoredMessage(
                        r.channel_id,
                        r.name,
                        r.seq,
                        username,
                        display,
                        r.text,
                        r.client_id,
                        r.created_at,
                        duplicate=True,
                    )

        # Decide each message's fate in order; count the new ones per channel.
        fresh: list[tuple[int, NewMessage]] = []
        out: list[StoredMessage | AppendRejected | int] = []
        per_channel: dict[int, int] = {}
        pending: dict[tuple[int, str], int] = {}
        for x in batch:
            if x.author_id is not None:
                key = (x.author_id, x.client_id or "")
                if x.client_id is not None and key in sent:
                    out.append(sent[key])
                    continue
                if x.client_id is not None and key in pending:
                    out.append(-1 - pending[key])  # a retry inside this batch
                    continue
                if (x.channel_id, x.author_id) not in members:
                    out.append(AppendRejected("not a member"))
                    continue
                if x.client_id is not None:
                    pending[key] = len(fresh)
            per_channel[x.channel_id] = per_channel.get(x.channel_id, 0) + 1
            out.append(len(fresh))
            fresh.append((x.channel_id, x))

        # One UPDATE for every channel in the batch. On PostgreSQL the rows are
        # locked in id order first, so two nodes' batches cannot deadlock; the
        # row lock serialises writers and seqs come out contiguous.
        next_seq: dict[int, int] = {}
        names: dict[int, str] = {}
        if per_channel:
            channel_ids = sorted(per_channel)
            if not self.is_sqlite:
                await conn.execute(
                    select(t.channels.c.id)
                    .where(t.channels.c.id.in_(channel_ids))
                    .order_by(t.channels.c.id)
                    .with_for_update()
                )
            res = await conn.execute(
                update(t.channels)
                .where(t.channels.c.id.in_(channel_ids))
                .values(last_seq=t.channels.c.last_seq + case(per_channel, value=t.channels.c.id))
                .returning(t.channels.c.id, t.channels.c.last_seq, t.channels.c.name)
            )
            for cid, last, name in res:
                names[cid] = name
                next_seq[cid] = last - per_channel[cid] + 1

        stored: list[StoredMessage] = []
        rows_to_insert = []
        for cid, x in fresh:
            seq = next_seq[cid]
            next_seq[cid] = seq + 1
            if x.author_id is None:
                author, author_name = None, x.guest_name or "guest"
            else:
                author, author_name = authors[x.author_id]
            stored.append(
                StoredMessage(
                    cid, names[cid], seq, author, author_name, x.text, x.client_id, x.created_at
                )
            )
            rows_to_insert.append(
                {
                    "channel_id": cid,
                    "seq": seq,
                    "author_id": x.author_id,
                    "guest_name": x.guest_name,
                    "text": x.text,
                    "client_id": x.client_id,
                    "created_at": x.created_at,
                }
            )
        if rows_to_insert:
            await conn.execute(insert(t.messages), rows_to_insert)

        result: list[StoredMessage | AppendRejected] = []
        for item in out:
            if isinstance(item, int):
                if item >= 0:
                    result.append(stored[item])
                else:
                    result.append(dataclasses.replace(stored[-1 - item], duplicate=True))
            else:
                result.append(item)
        return result

    async def _message_rows(
        self, conn: AsyncConnection, cond: Any, *, order: Any, limit: int
    ) -> list[StoredMessage]:
        m = t.messages
        q = (
            select(
                m.c.channel_id,
                t.channels.c.name.label("channel"),
                m.c.seq,
                t.users.c.username.label("author"),
                func.coalesce(t.users.c.display_name, m.c.guest_name).label("author_name"),
                m.c.text,
                m.c.client_id,
                m.c.created_at,
            )
            .join(t.channels, t.channels.c.id == m.c.channel_id)
            .outerjoin(t.users, t.users.c.id == m.c.author_id)
            .where(cond)
            .limit(limit)
        )
        if order is not None:
            q = q.order_by(order)
        rows = (await conn.execute(q)).all()
        return [
            StoredMessage(
                r.channel_id,
                r.channel,
                r.seq,
                r.author,
                r.author_name or "guest",
                r.text,
                r.client_id,
                r.created_at,
            )
            for r in rows
        ]

    async def count_mentions(self, channel_id: int, after: int, username: str) -> int:
        m = t.messages.c
        async with self._read() as conn:
            # LIKE narrows it down in the database; the word-boundary rule
            # (`@ann` but not `@anna`) is applied here.
            rows = await conn.execute(
                select(m.text).where(
                    m.channel_id == channel_id,
                    m.seq > after,
                    m.text.contains(f"@{username}", autoescape=True),
                )
            )
            pattern = mention_re(username)
            return sum(1 for (text,) in rows if pattern.search(text))

    async def messages(
        self,
        channel_id: int,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int,
    ) -> list[StoredMessage]:
        m = t.messages.c
        cond = m.channel_id == channel_id
        if after is not None:
            cond = and_(cond, m.seq > after)
            order = m.seq.asc()
            if before is not None:
                cond = and_(cond, m.seq < before)
        else:
            order = m.seq.desc()
            if before is not None:
                cond = and_(cond, m.seq < before)
        async with self._read() as conn:
            return await self._message_rows(conn, cond, order=order, limit=limit)


@contextlib.asynccontextmanager
async def _translated() -> AsyncIterator[None]:
    """Every backend failure leaves the store as StoreError (the Store
    contract); constraint violations stay what they are, for the callers."""
    try:
        yield
    except IntegrityError:
        raise
    except (OperationalError, DBAPIError, OSError) as exc:
        raise StoreError(str(exc).splitlines()[0]) from exc


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control from the driver so `begin` below decides.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("hubbub_write")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
