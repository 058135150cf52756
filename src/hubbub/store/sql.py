"""SQLite and PostgreSQL through SQLAlchemy 2 (async), one implementation."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    Connection,
    and_,
    event,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from hubbub.core.mentions import mention_re, needles
from hubbub.core.models import (
    AppendRejected,
    Changed,
    ChangeRefused,
    Channel,
    ChannelKind,
    Delete,
    Edit,
    FollowedThread,
    LogEntry,
    Membership,
    MessageChange,
    NewMessage,
    NewReply,
    Pin,
    React,
    Replied,
    Role,
    StoredMessage,
    User,
)
from hubbub.core.ports import NameTaken, StoreError
from hubbub.store import files_json, log
from hubbub.store import schema as t
from hubbub.store.append_sqlite import SQLiteAppender
from hubbub.store.sql_files import FileOps
from hubbub.store.sql_integrations import IntegrationOps
from hubbub.store.sql_keys import pairs_in
from hubbub.store.sql_notify import NotifyOps
from hubbub.store.sql_search import SearchOps
from hubbub.store.sql_workspace import (
    WorkspaceOps,
    by_name,
    lock_names,
    member_names,
    name_owner,
    now_ms,
    read_channel,
    read_channels,
    user_from,
)
from hubbub.store.sqlite_pragmas import PRAGMAS

# A message shown in its channel: not a reply, or one also sent to the channel.
IN_CHANNEL = or_(t.messages.c.thread_root.is_(None), t.messages.c.broadcast)

if TYPE_CHECKING:
    from hubbub.store.append_pg import PostgresAppender

MIGRATIONS = Path(__file__).parent / "migrations"


def driver_url(url: str) -> str:
    """Map the user-facing URL to the async driver SQLAlchemy should use."""
    scheme, sep, rest = url.partition("://")
    drivers = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}
    if scheme in drivers:
        return drivers[scheme] + sep + rest
    return url


MIGRATION_LOCK = 0x68756262  # "hubb": one PostgreSQL advisory lock id for migrations


def run_migrations(conn: Connection) -> tuple[str | None, str | None]:
    """Upgrade to the newest revision; return the revision before (None: there
    was no schema) and after."""
    if conn.dialect.name == "postgresql":
        # Nodes starting together: one migrates, the others wait, then find
        # the schema at head. (SQLite's BEGIN IMMEDIATE already serialises.)
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    before = MigrationContext.configure(conn).get_current_revision()
    command.upgrade(cfg, "head")
    return before, MigrationContext.configure(conn).get_current_revision()


class SQLStore(WorkspaceOps, FileOps, SearchOps, IntegrationOps, NotifyOps):
    """The Store on SQLite or PostgreSQL; its workspace operations (sessions,
    invites, the audit log, channel administration) are in sql_workspace,
    its uploaded files in sql_files, its search in sql_search, its
    webhooks and commands in sql_integrations, its notification
    preferences in sql_notify."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        # What the last `open` did to the schema: (revision before, after);
        # before is None when it created the schema (`hubbub migrate` says so).
        self.schema_revisions: tuple[str | None, str | None] | None = None
        kwargs: dict[str, Any] = {}
        path = ""
        if self.is_sqlite:
            path = url.partition(":///")[2].partition("?")[0]
            if path in ("", ":memory:"):
                # The group commit has a connection of its own, which would
                # see another, empty in-memory database.
                raise ValueError("SQLite needs a file: sqlite:///path/to/hubbub.db")
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
        # The group commit, the hot path, bypasses SQLAlchemy: see append_*.py.
        self.appender: SQLiteAppender | PostgresAppender  # same interface
        if self.is_sqlite:
            self.appender = SQLiteAppender(path)
        else:
            from hubbub.store.append_pg import PostgresAppender  # asyncpg: an extra

            self.appender = PostgresAppender(url)

    @contextlib.asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        async with _translated(), self.engine.connect() as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def _snapshot(self) -> AsyncIterator[AsyncConnection]:
        """Reads that must see one moment: PostgreSQL's READ COMMITTED gives
        each statement its own, REPEATABLE READ one for the transaction.
        (SQLite's read transaction, BEGIN at its first statement, already is
        one in WAL mode.)"""
        async with _translated(), self.engine.connect() as conn:
            if not self.is_sqlite:
                await conn.execution_options(isolation_level="REPEATABLE READ")
            yield conn

    @contextlib.asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        async with _translated(), self.writer.begin() as conn:
            yield conn

    async def open(self) -> None:
        try:
            async with self._write() as conn:
                self.schema_revisions = await conn.run_sync(run_migrations)
        except StoreError as exc:
            raise StoreError(f"cannot open database: {exc}") from exc

    async def close(self) -> None:
        await self.appender.close()
        await self.engine.dispose()

    async def ping(self) -> None:
        async with self._read() as conn:
            await conn.exec_driver_sql("SELECT 1")

    async def get_or_set_meta(self, key: str, value: str) -> str:
        try:
            async with self._write() as conn:
                found = select(t.meta.c.value).where(t.meta.c.key == key)
                row = (await conn.execute(found)).first()
                if row is None:
                    await conn.execute(insert(t.meta).values(key=key, value=value))
                    return value
                return str(row[0])
        except IntegrityError:
            # Another writer set it between our read and our insert (on
            # PostgreSQL, where both read before either wrote): theirs stands.
            async with self._read() as conn:
                return str((await conn.execute(found)).scalar_one())

    # users ---------------------------------------------------------------

    async def create_user(
        self,
        username: str,
        display_name: str,
        password_hash: str,
        role: Role = "member",
        *,
        bot_owner: int | None = None,
    ) -> User:
        try:
            async with self._write() as conn:
                res = await conn.execute(
                    insert(t.users)
                    .values(
                        username=username,
                        display_name=display_name,
                        password_hash=password_hash,
                        created_at=now_ms(),
                        role=role,
                        is_bot=bot_owner is not None,
                        owner_id=bot_owner,
                    )
                    .returning(*t.users.c)
                )
                return user_from(res.one())
        except IntegrityError as exc:
            raise NameTaken(username) from exc

    async def _user_where(self, cond: Any) -> User | None:
        async with self._read() as conn:
            row = (await conn.execute(select(t.users).where(cond))).first()
        return None if row is None else user_from(row)

    async def get_user(self, user_id: int) -> User | None:
        return await self._user_where(t.users.c.id == user_id)

    async def get_user_by_name(self, username: str) -> User | None:
        return await self._user_where(t.users.c.username == username)

    async def update_password_hash(self, user_id: int, password_hash: str) -> None:
        async with self._write() as conn:
            await conn.execute(
                update(t.users).where(t.users.c.id == user_id).values(password_hash=password_hash)
            )

    async def search_users(self, query: str, after: str | None, limit: int) -> list[User]:
        if limit <= 0:
            return []
        u = t.users
        where = [] if after is None else [u.c.username > after]
        async with self._read() as conn:
            if query:
                lower: Any = func.lower
                if self.is_sqlite:
                    # SQLite's lower() lowers ASCII letters only: use Python's.
                    await conn.run_sync(_register_lower)
                    lower = func.hubbub_lower
                # A parameter, its `%` and `_` escaped (autoescape): no wildcards.
                folded = query.lower()
                where.append(
                    or_(
                        lower(u.c.username).contains(folded, autoescape=True),
                        lower(u.c.display_name).contains(folded, autoescape=True),
                    )
                )
            rows = (
                await conn.execute(select(u).where(*where).order_by(u.c.username).limit(limit))
            ).all()
        return [user_from(r) for r in rows]

    # channels --------------------------------------------------------------

    async def create_channel(
        self,
        name: str,
        kind: ChannelKind,
        topic: str,
        member_ids: Sequence[int],
        *,
        admin_ids: Sequence[int] = (),
        purpose: str = "",
        default: bool = False,
    ) -> Channel:
        now = now_ms()
        admins = set(admin_ids)
        try:
            async with self._write() as conn:
                # A former name is taken too; the unique index covers only
                # the current ones (see sql_workspace.lock_names).
                await lock_names(conn, (name,))
                if await name_owner(conn, name) is not None:
                    raise NameTaken(name)
                res = await conn.execute(
                    insert(t.channels)
                    .values(
                        name=name,
                        kind=kind,
                        topic=topic,
                        last_seq=0,
                        created_at=now,
                        purpose=purpose,
                        is_default=default,
                    )
                    .returning(t.channels.c.id)
                )
                cid = res.scalar_one()
                if member_ids:
                    await conn.execute(
                        insert(t.memberships),
                        [
                            {
                                "channel_id": cid,
                                "user_id": uid,
                                "last_read": 0,
                                "joined_at": now,
                                "is_admin": uid in admins,
                            }
                            for uid in member_ids
                        ],
                    )
                found = await read_channel(conn, cid)
        except IntegrityError as exc:
            raise NameTaken(name) from exc
        assert found is not None  # made in this transaction
        return found

    async def get_channel(self, name: str) -> Channel | None:
        async with self._read() as conn:
            found = await read_channels(conn, by_name(name))
        # The current name first (both can match only if the data broke).
        found.sort(key=lambda c: c.name != name)
        return found[0] if found else None

    async def channels_for(self, user_id: int) -> list[Membership]:
        m = t.memberships.c
        async with self._read() as conn:
            rows = (
                await conn.execute(
                    select(m.channel_id, m.last_read, m.is_admin).where(m.user_id == user_id)
                )
            ).all()
            mine = {r.channel_id: r for r in rows}
            if not mine:
                return []
            chans = await read_channels(conn, t.channels.c.id.in_(list(mine)))
        return [
            Membership(c, mine[c.id].last_read, bool(mine[c.id].is_admin))
            for c in sorted(chans, key=lambda c: c.name)
        ]

    async def public_channels(self) -> list[Channel]:
        async with self._read() as conn:
            chans = await read_channels(conn, t.channels.c.kind == "public")
        return sorted(chans, key=lambda c: c.name)

    async def membership(self, channel_id: int, user_id: int) -> Membership | None:
        m = t.memberships.c
        async with self._read() as conn:
            row = (
                await conn.execute(
                    select(m.last_read, m.is_admin).where(
                        and_(m.channel_id == channel_id, m.user_id == user_id)
                    )
                )
            ).first()
            if row is None:
                return None
            channel = await read_channel(conn, channel_id)
        if channel is None:
            return None
        return Membership(channel, row.last_read, bool(row.is_admin))

    async def add_member(self, channel_id: int, user_id: int, *, admin: bool = False) -> bool:
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
                        joined_at=now_ms(),
                        is_admin=admin,
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

    async def member_names(self, channel_id: int) -> list[str]:
        async with self._read() as conn:
            return await member_names(conn, channel_id)

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
        return await self.appender.append(batch)

    async def _index_pending(self) -> None:
        if isinstance(self.appender, SQLiteAppender):
            await self.appender.index_pending()

    async def _message_rows(
        self, conn: AsyncConnection, cond: Any, *, order: Any, limit: int
    ) -> list[StoredMessage]:
        m = t.messages
        pinner = t.users.alias("pinner")
        q = (
            select(
                m.c.channel_id,
                t.channels.c.name.label("channel"),
                m.c.seq,
                t.users.c.username.label("author"),
                func.coalesce(t.users.c.display_name, m.c.guest_name).label("author_name"),
                t.users.c.is_bot,
                m.c.guest_name,
                m.c.text,
                m.c.client_id,
                m.c.created_at,
                m.c.edited_at,
                m.c.deleted_at,
                m.c.pinned_at,
                pinner.c.username.label("pinned_by"),
                m.c.thread_root,
                m.c.broadcast,
                m.c.reply_count,
                m.c.last_reply_at,
                m.c.files,
            )
            .join(t.channels, t.channels.c.id == m.c.channel_id)
            .outerjoin(t.users, t.users.c.id == m.c.author_id)
            .outerjoin(pinner, pinner.c.id == m.c.pinned_by)
            .where(cond)
            .limit(limit)
        )
        if order is not None:
            q = q.order_by(*order) if isinstance(order, tuple) else q.order_by(order)
        rows = (await conn.execute(q)).all()
        reactions = await self._reactions(conn, [(r.channel_id, r.seq) for r in rows])
        repliers = await self._repliers(
            conn, [(r.channel_id, r.seq) for r in rows if r.reply_count]
        )
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
                edited_at=r.edited_at,
                deleted=r.deleted_at is not None,
                reactions=reactions.get((r.channel_id, r.seq), ()),
                pinned_by=r.pinned_by,
                pinned_at=r.pinned_at,
                thread_root=r.thread_root,
                broadcast=bool(r.broadcast),
                reply_count=r.reply_count,
                last_reply_at=r.last_reply_at,
                reply_users=repliers.get((r.channel_id, r.seq), ()),
                author_bot=bool(r.is_bot),
                files=files_json.loads(r.files),
                # For a user's message, guest_name is a shown name (see schema).
                shown_name=r.guest_name if r.author is not None else None,
            )
            for r in rows
        ]

    async def _reactions(
        self, conn: AsyncConnection, keys: list[tuple[int, int]]
    ) -> dict[tuple[int, int], tuple[tuple[str, tuple[str, ...]], ...]]:
        """The reactions of these (channel, seq) messages, each grouped."""
        if not keys:
            return {}
        r = t.reactions.c
        found = await conn.execute(
            select(r.channel_id, r.message_seq, r.emoji, t.users.c.username)
            .join(t.users, t.users.c.id == r.user_id)
            .where(pairs_in(r.channel_id, r.message_seq, keys))
            .order_by(r.created_at, r.user_id)
        )
        pairs: dict[tuple[int, int], list[tuple[str, str]]] = {}
        for cid, seq, e, username in found:
            pairs.setdefault((cid, seq), []).append((e, username))
        return {k: log.grouped(v) for k, v in pairs.items()}

    async def _repliers(
        self, conn: AsyncConnection, roots: list[tuple[int, int]]
    ) -> dict[tuple[int, int], tuple[str, ...]]:
        """Who replied in these (channel, seq) threads, by their first reply."""
        if not roots:
            return {}
        m = t.messages.c
        found = await conn.execute(
            select(m.channel_id, m.thread_root, t.users.c.username)
            .join(t.users, t.users.c.id == m.author_id)
            # IS NOT NULL: so the partial index on threads serves it.
            .where(pairs_in(m.channel_id, m.thread_root, roots), m.thread_root.is_not(None))
            .group_by(m.channel_id, m.thread_root, t.users.c.username)
            .order_by(func.min(m.seq))
        )
        out: dict[tuple[int, int], list[str]] = {}
        for cid, root, username in found:
            out.setdefault((cid, root), []).append(username)
        return {k: tuple(v) for k, v in out.items()}

    async def count_unread(self, channel_id: int, after: int, user_id: int) -> int:
        m = t.messages.c
        async with self._read() as conn:
            n = await conn.scalar(
                select(func.count()).where(
                    m.channel_id == channel_id,
                    m.seq > after,
                    or_(m.author_id.is_(None), m.author_id != user_id),
                    m.deleted_at.is_(None),
                    IN_CHANNEL,  # a reply kept in its thread is unread there
                )
            )
        return int(n or 0)

    async def count_mentions(self, channel_id: int, after: int, username: str) -> int:
        m, u = t.messages.c, t.users.c
        # The user's own messages never mention them (`@here` included), as
        # their own messages are never unread (count_unread).
        theirs = select(u.id).where(u.username == username)
        async with self._read() as conn:
            # LIKE narrows it down in the database; the word-boundary rule
            # (`@ann` but not `@anna`) is applied here.
            rows = await conn.execute(
                select(m.text).where(
                    m.channel_id == channel_id,
                    m.seq > after,
                    or_(m.author_id.is_(None), m.author_id.not_in(theirs)),
                    m.deleted_at.is_(None),
                    IN_CHANNEL,  # a reply kept in its thread is no mention in the channel
                    or_(*(m.text.contains(n, autoescape=True) for n in needles(username))),
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
        cond = and_(m.channel_id == channel_id, IN_CHANNEL)
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

    async def change_message(
        self, channel_id: int, seq: int, actor_id: int, change: MessageChange
    ) -> Changed | ChangeRefused:
        m, r = t.messages.c, t.reactions.c
        where = and_(m.channel_id == channel_id, m.seq == seq)
        async with self._write() as conn:
            row = (
                await conn.execute(
                    # FOR UPDATE (PostgreSQL): decided on the row as it is when
                    # we hold it, so a react racing a delete waits for the
                    # delete and is refused, not applied to the tombstone.
                    select(m.author_id, m.text, m.deleted_at, m.pinned_at)
                    .where(where)
                    .with_for_update()
                )
            ).first()
            if row is None:
                return ChangeRefused("not_found")
            reactions: dict[str, set[int]] = {}
            if isinstance(change, React):
                for e, user_id in await conn.execute(
                    select(r.emoji, r.user_id).where(
                        and_(r.channel_id == channel_id, r.message_seq == seq)
                    )
                ):
                    reactions.setdefault(e, set()).add(user_id)
            verdict = log.judge(
                change,
                actor_id,
                row.author_id,
                row.deleted_at is not None,
                row.text,
                reactions,
                row.pinned_at is not None,
            )
            if isinstance(verdict, ChangeRefused):
                return verdict
            if verdict:
                at = (
                    await conn.execute(
                        update(t.channels)
                        .where(t.channels.c.id == channel_id)
                        .values(last_seq=t.channels.c.last_seq + 1)
                        .returning(t.channels.c.last_seq)
                    )
                ).scalar_one()
                await self._apply(conn, channel_id, seq, actor_id, change)
                await conn.execute(
                    insert(t.changes).values(
                        channel_id=channel_id,
                        seq=at,
                        target_seq=seq,
                        kind=log.kind(change),
                        created_at=change.at,
                    )
                )
            [now] = await self._message_rows(conn, where, order=None, limit=1)
            return Changed(now, at if verdict else None)

    async def _apply(
        self, conn: AsyncConnection, channel_id: int, seq: int, actor_id: int, change: MessageChange
    ) -> None:
        m, r = t.messages.c, t.reactions.c
        where = and_(m.channel_id == channel_id, m.seq == seq)
        if isinstance(change, Edit):
            await conn.execute(
                update(t.messages).where(where).values(text=change.text, edited_at=change.at)
            )
        elif isinstance(change, Delete):
            await conn.execute(
                update(t.messages)
                .where(where)
                .values(text="", deleted_at=change.at, pinned_at=None, pinned_by=None, files=None)
            )
            # A tombstone keeps nothing of what people said or did to it.
            await conn.execute(
                t.reactions.delete().where(and_(r.channel_id == channel_id, r.message_seq == seq))
            )
        elif isinstance(change, Pin):
            pin = (change.at, actor_id) if change.add else (None, None)
            await conn.execute(
                update(t.messages).where(where).values(pinned_at=pin[0], pinned_by=pin[1])
            )
        elif change.add:
            await conn.execute(
                insert(t.reactions).values(
                    channel_id=channel_id,
                    message_seq=seq,
                    emoji=change.emoji,
                    user_id=actor_id,
                    created_at=change.at,
                )
            )
        else:
            await conn.execute(
                t.reactions.delete().where(
                    and_(
                        r.channel_id == channel_id,
                        r.message_seq == seq,
                        r.emoji == change.emoji,
                        r.user_id == actor_id,
                    )
                )
            )

    # threads -----------------------------------------------------------------

    async def append_reply(self, r: NewReply) -> Replied | ChangeRefused:
        m = t.messages.c
        async with self._write() as conn:
            retry = await self._message_rows(
                conn,
                and_(m.author_id == r.author_id, m.client_id == r.client_id),
                order=None,
                limit=1,
            )
            if retry:
                return await self._replied_again(conn, retry[0])
            parent = (
                await conn.execute(
                    select(m.thread_root).where(
                        and_(m.channel_id == r.channel_id, m.seq == r.parent)
                    )
                )
            ).first()
            if parent is None:
                return ChangeRefused("not_found")
            root_seq = parent.thread_root or r.parent  # a reply to a reply: to its root
            at_root = and_(m.channel_id == r.channel_id, m.seq == root_seq)
            root = (
                await conn.execute(
                    select(m.author_id, m.deleted_at).where(at_root).with_for_update()
                )
            ).one()
            if root.deleted_at is not None:
                return ChangeRefused("deleted")
            # Two places: the reply, then the root's change (its summary). The
            # channel's row stays locked to the commit: replies to one
            # channel are serialised here, follows included.
            at = (
                await conn.execute(
                    update(t.channels)
                    .where(t.channels.c.id == r.channel_id)
                    .values(last_seq=t.channels.c.last_seq + 2)
                    .returning(t.channels.c.last_seq)
                )
            ).scalar_one()
            seq = at - 1
            await conn.execute(
                insert(t.messages).values(
                    channel_id=r.channel_id,
                    seq=seq,
                    author_id=r.author_id,
                    text=r.text,
                    client_id=r.client_id,
                    created_at=r.created_at,
                    thread_root=root_seq,
                    broadcast=r.broadcast,
                    files=files_json.dumps(r.files),
                )
            )
            await conn.execute(
                update(t.messages)
                .where(at_root)
                .values(reply_count=m.reply_count + 1, last_reply_at=r.created_at)
            )
            await conn.execute(
                insert(t.changes).values(
                    channel_id=r.channel_id,
                    seq=at,
                    target_seq=root_seq,
                    kind="reply",
                    created_at=r.created_at,
                )
            )
            others = {root.author_id, *r.followers} - {None, r.author_id}
            await self._follow(
                conn, r.channel_id, root_seq, {r.author_id: seq} | dict.fromkeys(others, 0)
            )
            if r.broadcast:  # your own message is never unread
                ms = t.memberships.c
                await conn.execute(
                    update(t.memberships)
                    .where(
                        and_(
                            ms.channel_id == r.channel_id,
                            ms.user_id == r.author_id,
                            ms.last_read < seq,
                        )
                    )
                    .values(last_read=seq)
                )
            [reply] = await self._message_rows(
                conn, and_(m.channel_id == r.channel_id, m.seq == seq), order=None, limit=1
            )
            [now] = await self._message_rows(conn, at_root, order=None, limit=1)
            return Replied(reply, now, at)

    async def _replied_again(self, conn: AsyncConnection, first: StoredMessage) -> Replied:
        """A retried reply: the one stored before, and its root now."""
        m = t.messages.c
        root = first
        if first.thread_root is not None:
            [root] = await self._message_rows(
                conn,
                and_(m.channel_id == first.channel_id, m.seq == first.thread_root),
                order=None,
                limit=1,
            )
        return Replied(dataclasses.replace(first, duplicate=True), root, None)

    async def _follow(
        self, conn: AsyncConnection, channel_id: int, root: int, cursors: dict[int, int]
    ) -> None:
        """Follow the thread for each user, with a read cursor at least theirs."""
        f = t.thread_follows.c
        mine = and_(f.channel_id == channel_id, f.root_seq == root)
        had = {
            uid: last
            for uid, last in await conn.execute(
                select(f.user_id, f.last_read).where(and_(mine, f.user_id.in_(list(cursors))))
            )
        }
        new = [
            {"channel_id": channel_id, "root_seq": root, "user_id": u, "last_read": c}
            for u, c in cursors.items()
            if u not in had
        ]
        if new:
            await conn.execute(insert(t.thread_follows), new)
        for uid, last in had.items():
            if cursors[uid] > last:
                await conn.execute(
                    update(t.thread_follows)
                    .where(and_(mine, f.user_id == uid))
                    .values(last_read=cursors[uid])
                )

    async def thread(
        self,
        channel_id: int,
        root: int,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int,
    ) -> list[StoredMessage]:
        m = t.messages.c
        cond = and_(m.channel_id == channel_id, m.thread_root == root)
        if after is not None:
            cond, order = and_(cond, m.seq > after), m.seq.asc()
        else:
            order = m.seq.desc()
        if before is not None:
            cond = and_(cond, m.seq < before)
        async with self._read() as conn:
            return await self._message_rows(conn, cond, order=order, limit=limit)

    async def followed_threads(self, user_id: int, limit: int) -> list[FollowedThread]:
        f, m = t.thread_follows.c, t.messages.c
        async with self._read() as conn:
            follows = (
                await conn.execute(
                    select(f.channel_id, f.root_seq, f.last_read)
                    .join(t.messages, and_(m.channel_id == f.channel_id, m.seq == f.root_seq))
                    .where(and_(f.user_id == user_id, m.reply_count > 0))
                    .order_by(m.last_reply_at.desc(), f.channel_id, f.root_seq)
                    .limit(limit)
                )
            ).all()
            if not follows:
                return []
            roots = await self._message_rows(
                conn,
                pairs_in(m.channel_id, m.seq, [(x.channel_id, x.root_seq) for x in follows]),
                order=None,
                limit=len(follows),
            )
            by_key = {(x.channel_id, x.seq): x for x in roots}
            unread = {
                (cid, root): n
                for cid, root, n in await conn.execute(
                    select(m.channel_id, m.thread_root, func.count())
                    .join(
                        t.thread_follows,
                        and_(
                            f.channel_id == m.channel_id,
                            f.root_seq == m.thread_root,
                            f.user_id == user_id,
                        ),
                    )
                    .where(
                        and_(
                            pairs_in(m.channel_id, m.thread_root, list(by_key)),
                            m.thread_root.is_not(None),
                            m.seq > f.last_read,
                            m.author_id != user_id,
                            m.deleted_at.is_(None),
                        )
                    )
                    .group_by(m.channel_id, m.thread_root)
                )
            }
        return [
            FollowedThread(by_key[k], x.last_read, unread.get(k, 0))
            for x in follows
            if (k := (x.channel_id, x.root_seq)) in by_key
        ]

    async def read_thread(self, channel_id: int, root: int, user_id: int, seq: int) -> int | None:
        f = t.thread_follows.c
        mine = and_(f.channel_id == channel_id, f.root_seq == root, f.user_id == user_id)
        async with self._write() as conn:
            await conn.execute(
                update(t.thread_follows).where(and_(mine, f.last_read < seq)).values(last_read=seq)
            )
            row = (await conn.execute(select(f.last_read).where(mine))).first()
        return None if row is None else int(row[0])

    async def pinned(self, channel_id: int, limit: int) -> list[StoredMessage]:
        m = t.messages.c
        async with self._read() as conn:
            return await self._message_rows(
                conn,
                and_(m.channel_id == channel_id, m.pinned_at.is_not(None)),
                order=(m.pinned_at.desc(), m.seq.desc()),
                limit=limit,
            )

    async def last_seq(self, channel_id: int) -> int:
        c = t.channels.c
        async with self._read() as conn:
            row = (await conn.execute(select(c.last_seq).where(c.id == channel_id))).first()
        return int(row[0]) if row else 0

    async def log_after(self, channel_id: int, after: int, limit: int) -> list[LogEntry]:
        c, m = t.changes.c, t.messages.c
        # One snapshot: read in three statements, the log could otherwise
        # hold a change committed after a message the first one missed, and
        # the replay would name that message's place `skipped`.
        async with self._snapshot() as conn:
            sent = await self._message_rows(
                conn,
                and_(m.channel_id == channel_id, m.seq > after),
                order=m.seq.asc(),
                limit=limit,
            )
            changed = (
                await conn.execute(
                    select(c.seq, c.target_seq)
                    .where(and_(c.channel_id == channel_id, c.seq > after))
                    .order_by(c.seq.asc())
                    .limit(limit)
                )
            ).all()
            targets = {r.target_seq for r in changed}
            rows = []
            if targets:
                rows = await self._message_rows(
                    conn,
                    and_(m.channel_id == channel_id, m.seq.in_(targets)),
                    order=None,
                    limit=len(targets),
                )
        states = {x.seq: x for x in rows}
        return log.merge(sent, [(r.seq, r.target_seq) for r in changed], states, limit)


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _register_lower(conn: Connection) -> None:
    """`hubbub_lower()`, Python's `str.lower`, on this SQLite connection (a
    pooled one may have it already: registering again replaces it)."""
    driver: Any = conn.connection.dbapi_connection  # aiosqlite, adapted by SQLAlchemy
    driver.create_function("hubbub_lower", 1, _lower, deterministic=True)


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
        for pragma in PRAGMAS:
            cur.execute(pragma)
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("hubbub_write")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
