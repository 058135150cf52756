"""Running a workspace on the SQL backends: roles and deactivation, profiles,
sessions, invites, the audit log and channel administration (renames and
their aliases, archiving, default channels, channel admins).

`WorkspaceOps` is a part of `sql.SQLStore` (which inherits it), kept apart to
keep either file readable; it uses the store's `_read()`/`_write()`. The row
readers here (`user_from`, `read_channels`) are the only places a `User` or a
`Channel` is built from a row, in both modules.
"""

from __future__ import annotations

import abc
import contextlib
import json
import time
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

from sqlalchemy import and_, delete, false, func, insert, or_, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from hubbub.core.models import (
    AuditEntry,
    Channel,
    Invite,
    Role,
    Session,
    Status,
    User,
    scopes_from,
    scopes_text,
)
from hubbub.core.ports import NameTaken
from hubbub.store import schema as t


def now_ms() -> int:
    return int(time.time() * 1000)


# --- rows to records ------------------------------------------------------------


def user_from(row: Any) -> User:
    """A User from a row of `users` (every column)."""
    return User(
        row.id,
        row.username,
        row.display_name,
        row.password_hash,
        role=row.role,
        active=row.deactivated_at is None,
        status=Status(row.status_emoji, row.status_text, row.status_until),
        bot=bool(row.is_bot),
        owner_id=row.owner_id,
    )


async def member_names(conn: AsyncConnection, channel_id: int) -> list[str]:
    rows = await conn.execute(
        select(t.users.c.username)
        .join(t.memberships, t.memberships.c.user_id == t.users.c.id)
        .where(t.memberships.c.channel_id == channel_id)
        .order_by(t.users.c.username)
    )
    return [r[0] for r in rows]


async def read_channels(
    conn: AsyncConnection, cond: Any, *, order: Any = None, limit: int | None = None
) -> list[Channel]:
    """The channels matching `cond`, with their member count (and a DM's
    members: only DMs list them in the channel's description)."""
    c = t.channels.c
    count = select(func.count()).where(t.memberships.c.channel_id == c.id).scalar_subquery()
    q = select(t.channels, count.label("n")).where(cond)
    if order is not None:
        q = q.order_by(order)
    if limit is not None:
        q = q.limit(limit)
    out = []
    for r in (await conn.execute(q)).all():
        members: tuple[str, ...] | None = None
        if r.kind == "dm":
            members = tuple(await member_names(conn, r.id))
        out.append(
            Channel(
                r.id,
                r.name,
                r.kind,
                r.topic,
                r.last_seq,
                r.n,
                members,
                purpose=r.purpose,
                archived=r.archived_at is not None,
                default=bool(r.is_default),
            )
        )
    return out


async def read_channel(conn: AsyncConnection, channel_id: int) -> Channel | None:
    found = await read_channels(conn, t.channels.c.id == channel_id)
    return found[0] if found else None


def _session_from(row: Any) -> Session:
    return Session(
        row.id,
        row.user_id,
        row.created_at,
        row.last_used_at,
        device=row.device,
        address=row.address,
        ended_at=row.ended_at,
        name=row.name,
        scopes=scopes_from(row.scopes),
        key_hash=row.key_hash,
    )


def _invite_from(row: Any) -> Invite:
    return Invite(
        row.id,
        row.code_hash,
        row.created_by,
        row.created_at,
        row.expires_at,
        row.max_uses,
        uses=row.uses,
        role=row.role,
        channels=tuple(json.loads(row.channels)),
        revoked=bool(row.revoked),
    )


# --- channel names ----------------------------------------------------------------

# The PostgreSQL advisory lock space (the first of its two keys) for channel
# names; a name's own key is its hashtext(). Distinct from the migration
# lock's single 64-bit key: the two key spaces never overlap.
NAME_LOCKS = 0x63686E6C  # "chnl"


async def lock_names(conn: AsyncConnection, names: Iterable[str]) -> None:
    """Hold each name to the end of the transaction, so the check that a name
    is nobody's current or former name (two tables: no unique index spans
    them) and the write that takes it are one step. Without it, on
    PostgreSQL's READ COMMITTED, a rename freeing `x` and a creation of `x`
    could both commit, leaving `x` one channel's name and another's alias.
    Taken in one order (sorted), so two renames never deadlock. SQLite needs
    none: a write transaction there (BEGIN IMMEDIATE) already excludes every
    other writer."""
    if conn.dialect.name != "postgresql":
        return
    for name in sorted(set(names)):
        await conn.execute(select(func.pg_advisory_xact_lock(NAME_LOCKS, func.hashtext(name))))


async def name_owner(conn: AsyncConnection, name: str) -> int | None:
    """The channel that has or had `name` (its id), if any."""
    c, a = t.channels.c, t.channel_aliases.c
    row = (await conn.execute(select(c.id).where(c.name == name))).first()
    if row is None:
        row = (await conn.execute(select(a.channel_id).where(a.name == name))).first()
    return None if row is None else int(row[0])


class WorkspaceOps:
    """The workspace half of SQLStore (see the module's docstring)."""

    @abc.abstractmethod
    def _read(self) -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
        """A connection for reads (SQLStore's)."""

    @abc.abstractmethod
    def _write(self) -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
        """A connection in a write transaction, committed at the end (SQLStore's)."""

    # users -----------------------------------------------------------------------

    async def set_role(self, user_id: int, role: Role) -> None:
        async with self._write() as conn:
            await conn.execute(update(t.users).where(t.users.c.id == user_id).values(role=role))

    async def set_active(self, user_id: int, active: bool) -> None:
        u, s = t.users.c, t.sessions.c
        async with self._write() as conn:
            if active:
                await conn.execute(
                    update(t.users).where(u.id == user_id).values(deactivated_at=None)
                )
                return
            now = now_ms()
            # Deactivated once: a second call keeps the first time.
            await conn.execute(
                update(t.users)
                .where(u.id == user_id)
                .values(deactivated_at=func.coalesce(u.deactivated_at, now))
            )
            # In the same transaction: no session outlives the account's end.
            await conn.execute(
                update(t.sessions)
                .where(and_(s.user_id == user_id, s.ended_at.is_(None)))
                .values(ended_at=now)
            )

    async def update_profile(
        self, user_id: int, *, display_name: str | None = None, status: Status | None = None
    ) -> User | None:
        values: dict[str, Any] = {}
        if display_name is not None:
            values["display_name"] = display_name
        if status is not None:
            values.update(
                status_emoji=status.emoji, status_text=status.text, status_until=status.until
            )
        async with self._write() as conn:
            if values:
                await conn.execute(update(t.users).where(t.users.c.id == user_id).values(**values))
            row = (await conn.execute(select(t.users).where(t.users.c.id == user_id))).first()
        return None if row is None else user_from(row)

    async def bots(self) -> list[User]:
        async with self._read() as conn:
            rows = await conn.execute(
                select(t.users).where(t.users.c.is_bot.is_(True)).order_by(t.users.c.username)
            )
            return [user_from(r) for r in rows]

    async def users_with_role(self, role: Role) -> list[User]:
        u = t.users.c
        async with self._read() as conn:
            rows = await conn.execute(
                select(t.users)
                .where(and_(u.role == role, u.deactivated_at.is_(None)))
                .order_by(u.username)
            )
            return [user_from(r) for r in rows]

    # sessions ----------------------------------------------------------------------

    async def create_session(self, session: Session) -> None:
        async with self._write() as conn:
            await conn.execute(
                insert(t.sessions).values(
                    id=session.id,
                    user_id=session.user_id,
                    created_at=session.created_at,
                    last_used_at=session.last_used_at,
                    device=session.device,
                    address=session.address,
                    ended_at=session.ended_at,
                    name=session.name,
                    scopes=scopes_text(session.scopes),
                    key_hash=session.key_hash,
                )
            )

    async def session_and_user(self, session_id: str) -> tuple[Session, User | None] | None:
        s, u = t.sessions, t.users
        # The user's columns prefixed: both tables have `id` and `created_at`.
        user_columns = [c.label(f"u_{c.name}") for c in u.c]
        query = (
            select(s, *user_columns)
            .select_from(s.outerjoin(u, u.c.id == s.c.user_id))
            .where(s.c.id == session_id)
        )
        async with self._read() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        fields = row._mapping
        user = None
        if fields["u_id"] is not None:
            user = user_from(SimpleNamespace(**{c.name: fields[f"u_{c.name}"] for c in u.c}))
        return _session_from(row), user

    async def touch_session(self, session_id: str, at: int, address: str) -> None:
        s = t.sessions.c
        # Forward only, in the statement itself: two nodes touching at once
        # cannot move it back. The address goes with the latest use.
        async with self._write() as conn:
            await conn.execute(
                update(t.sessions)
                .where(and_(s.id == session_id, s.last_used_at <= at))
                .values(last_used_at=at, address=address)
            )

    async def sessions_for(self, user_id: int) -> list[Session]:
        s = t.sessions.c
        async with self._read() as conn:
            rows = await conn.execute(
                select(t.sessions)
                .where(and_(s.user_id == user_id, s.ended_at.is_(None)))
                .order_by(s.last_used_at.desc(), s.created_at.desc(), s.id)
            )
            return [_session_from(r) for r in rows]

    async def end_sessions(
        self,
        user_id: int,
        at: int,
        *,
        only: str | None = None,
        keep: str | None = None,
        logins_only: bool = False,
    ) -> list[str]:
        s = t.sessions.c
        cond = and_(s.user_id == user_id, s.ended_at.is_(None))
        if logins_only:
            cond = and_(cond, s.scopes.is_(None))
        if only is not None:
            cond = and_(cond, s.id == only)
        if keep is not None:
            cond = and_(cond, s.id != keep)
        async with self._write() as conn:
            ended = await conn.execute(
                update(t.sessions).where(cond).values(ended_at=at).returning(s.id)
            )
            return sorted(r[0] for r in ended)

    # invites ----------------------------------------------------------------------------

    async def create_invite(self, invite: Invite) -> None:
        async with self._write() as conn:
            await conn.execute(
                insert(t.invites).values(
                    id=invite.id,
                    code_hash=invite.code_hash,
                    created_by=invite.created_by,
                    created_at=invite.created_at,
                    expires_at=invite.expires_at,
                    max_uses=invite.max_uses,
                    uses=invite.uses,
                    role=invite.role,
                    channels=json.dumps(list(invite.channels)),
                    revoked=invite.revoked,
                )
            )

    async def use_invite(self, code_hash: str, now: int) -> Invite | None:
        i = t.invites.c
        # One conditional UPDATE, never a read then a write: on PostgreSQL a
        # concurrent use waits for the row, then re-checks `uses < max_uses`
        # on the row as the other left it, so the uses never overshoot.
        async with self._write() as conn:
            row = (
                await conn.execute(
                    update(t.invites)
                    .where(
                        and_(
                            i.code_hash == code_hash,
                            i.revoked == false(),
                            i.expires_at > now,
                            i.uses < i.max_uses,
                        )
                    )
                    .values(uses=i.uses + 1)
                    .returning(*t.invites.c)
                )
            ).first()
        return None if row is None else _invite_from(row)

    async def unuse_invite(self, code_hash: str) -> None:
        i = t.invites.c
        async with self._write() as conn:
            await conn.execute(
                update(t.invites)
                .where(and_(i.code_hash == code_hash, i.uses > 0))
                .values(uses=i.uses - 1)
            )

    async def invites(self) -> list[Invite]:
        i = t.invites.c
        async with self._read() as conn:
            rows = await conn.execute(select(t.invites).order_by(i.created_at.desc(), i.id.desc()))
            return [_invite_from(r) for r in rows]

    async def revoke_invite(self, invite_id: str) -> bool:
        async with self._write() as conn:
            res = await conn.execute(
                update(t.invites).where(t.invites.c.id == invite_id).values(revoked=True)
            )
        return bool(res.rowcount)

    # the audit log ----------------------------------------------------------------------------

    async def add_audit(
        self, at: int, actor: str, action: str, target: str, detail: str = "{}"
    ) -> None:
        async with self._write() as conn:
            await conn.execute(
                insert(t.audit_log).values(
                    at=at, actor=actor, action=action, target=target, detail=detail
                )
            )

    async def audit_log(self, before: int | None, limit: int) -> list[AuditEntry]:
        if limit <= 0:
            return []
        a = t.audit_log.c
        q = select(t.audit_log).order_by(a.id.desc()).limit(limit)
        if before is not None:
            q = q.where(a.id < before)
        async with self._read() as conn:
            rows = await conn.execute(q)
            return [AuditEntry(r.id, r.at, r.actor, r.action, r.target, r.detail) for r in rows]

    # channels -----------------------------------------------------------------------------------

    async def get_channel_by_id(self, channel_id: int) -> Channel | None:
        async with self._read() as conn:
            return await read_channel(conn, channel_id)

    async def all_channels(self, after_id: int, limit: int) -> list[Channel]:
        if limit <= 0:
            return []
        c = t.channels.c
        async with self._read() as conn:
            return await read_channels(conn, c.id > after_id, order=c.id.asc(), limit=limit)

    async def rename_channel(self, channel_id: int, name: str) -> Channel:
        c, a = t.channels.c, t.channel_aliases.c
        try:
            async with self._write() as conn:
                # The channel's row, held to the commit: renames of one channel
                # take turns, and each sees the name the one before left.
                row = (
                    await conn.execute(select(c.name).where(c.id == channel_id).with_for_update())
                ).first()
                if row is None:
                    raise LookupError(f"no channel {channel_id}")
                old = str(row.name)
                if old != name:
                    await lock_names(conn, (old, name))
                    owner = await name_owner(conn, name)
                    if owner is not None and owner != channel_id:
                        raise NameTaken(name)
                    if owner == channel_id:  # back to a former name: no longer an alias
                        await conn.execute(delete(t.channel_aliases).where(a.name == name))
                    await conn.execute(
                        insert(t.channel_aliases).values(
                            name=old, channel_id=channel_id, renamed_at=now_ms()
                        )
                    )
                    await conn.execute(
                        update(t.channels).where(c.id == channel_id).values(name=name)
                    )
                found = await read_channel(conn, channel_id)
        except IntegrityError as exc:  # the unique indexes: the last word on names
            raise NameTaken(name) from exc
        assert found is not None  # its row is locked: it cannot have gone
        return found

    async def update_channel(
        self,
        channel_id: int,
        *,
        topic: str | None = None,
        purpose: str | None = None,
        archived: bool | None = None,
        default: bool | None = None,
    ) -> None:
        c = t.channels.c
        values: dict[str, Any] = {}
        if topic is not None:
            values["topic"] = topic
        if purpose is not None:
            values["purpose"] = purpose
        if archived is not None:
            # Archived once: archiving again keeps the first time.
            values["archived_at"] = func.coalesce(c.archived_at, now_ms()) if archived else None
        if default is not None:
            values["is_default"] = default
        if not values:
            return
        async with self._write() as conn:
            await conn.execute(update(t.channels).where(c.id == channel_id).values(**values))

    async def default_channels(self) -> list[Channel]:
        c = t.channels.c
        async with self._read() as conn:
            found = await read_channels(conn, c.is_default == true())
        return sorted(found, key=lambda ch: ch.name)  # as public_channels: by code point

    async def set_member_admin(self, channel_id: int, user_id: int, admin: bool) -> bool:
        m = t.memberships.c
        async with self._write() as conn:
            res = await conn.execute(
                update(t.memberships)
                .where(and_(m.channel_id == channel_id, m.user_id == user_id))
                .values(is_admin=admin)
            )
        return bool(res.rowcount)


def by_name(name: str) -> Any:
    """The condition for `get_channel`: the channel with the name now, or the
    one that had it (its alias)."""
    c, a = t.channels.c, t.channel_aliases.c
    return or_(c.name == name, c.id.in_(select(a.channel_id).where(a.name == name)))
