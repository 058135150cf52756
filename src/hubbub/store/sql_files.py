"""Uploaded files on the SQL backends (see models.StoredFile).

A file names its message by (uploader, client_id) in its channel, the key a
send is deduplicated by: attaching files to a message writes only the message
(its `files` column), and whether a file is attached is a join on that key.

`FileOps` is a part of `sql.SQLStore` (which inherits it), as `WorkspaceOps`
is; it uses the store's `_read()`/`_write()`.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from hubbub.core.models import FileInfo, StoredFile
from hubbub.core.ports import StoreError
from hubbub.store import schema as t

f = t.files.c
# The message a file is attached to: its uploader's send with its client_id,
# in its channel (an unclaimed file's NULL client_id joins nothing).
sent = t.messages.alias("sent")
SENT_WITH = and_(
    sent.c.channel_id == f.channel_id,
    sent.c.author_id == f.uploader_id,
    sent.c.client_id == f.client_id,
)


def file_from(row: Any, seq: int | None = None) -> StoredFile:
    """A StoredFile from a row of `files` (every column)."""
    return StoredFile(
        FileInfo(
            row.id,
            row.name,
            row.size,
            row.content_type,
            width=row.width,
            height=row.height,
            thumbnail=bool(row.thumbnail),
        ),
        row.channel_id,
        row.uploader_id,
        row.created_at,
        client_id=row.client_id,
        seq=seq,
    )


class _NotAll(Exception):
    """Some file could not be claimed: roll the claim back."""


class FileOps:
    """The files half of SQLStore (see the module's docstring)."""

    @abc.abstractmethod
    def _read(self) -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
        """A connection for reads (SQLStore's)."""

    @abc.abstractmethod
    def _write(self) -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
        """A connection in a write transaction, committed at the end (SQLStore's)."""

    async def create_file(self, file: StoredFile) -> None:
        i = file.info
        try:
            async with self._write() as conn:
                await conn.execute(
                    insert(t.files).values(
                        id=i.id,
                        channel_id=file.channel_id,
                        uploader_id=file.uploader_id,
                        client_id=file.client_id,
                        name=i.name,
                        size=i.size,
                        content_type=i.content_type,
                        width=i.width,
                        height=i.height,
                        thumbnail=i.thumbnail,
                        created_at=file.created_at,
                    )
                )
        except IntegrityError as exc:
            # Ids are random: a clash, or no such channel or user, is a bug.
            raise StoreError(f"cannot record file {i.id}: {exc.orig}") from exc

    async def get_file(self, file_id: str) -> StoredFile | None:
        q = (
            select(t.files, sent.c.seq)
            .outerjoin(sent, and_(SENT_WITH, sent.c.deleted_at.is_(None)))
            .where(f.id == file_id)
        )
        async with self._read() as conn:
            row = (await conn.execute(q)).first()
        return None if row is None else file_from(row, row.seq)

    async def claim_files(
        self, file_ids: Sequence[str], uploader_id: int, channel_id: int, client_id: str
    ) -> list[StoredFile] | None:
        ids = list(dict.fromkeys(file_ids))
        if not ids:
            return []
        claim = (
            update(t.files)
            .where(
                f.id.in_(ids),
                f.uploader_id == uploader_id,
                f.channel_id == channel_id,
                or_(f.client_id.is_(None), f.client_id == client_id),
            )
            .values(client_id=client_id)
        )
        try:
            async with self._write() as conn:
                # Both backends count the rows matched, a retry's unchanged
                # ones included: every id must have matched.
                if (await conn.execute(claim)).rowcount != len(ids):
                    raise _NotAll
                rows = (await conn.execute(select(t.files).where(f.id.in_(ids)))).all()
        except _NotAll:
            return None
        found = {r.id: file_from(r) for r in rows}
        return [found[i] for i in file_ids]

    async def file_bytes(self, uploader_id: int) -> int:
        q = select(func.coalesce(func.sum(f.size), 0)).where(f.uploader_id == uploader_id)
        async with self._read() as conn:
            return int((await conn.execute(q)).scalar_one())

    async def orphan_files(self, created_before: int, limit: int) -> list[StoredFile]:
        if limit <= 0:
            return []
        # A background sweep: the deleted-message case has no index to use
        # but the join's, so this reads every file; fine for a periodic job.
        q = (
            select(t.files)
            .outerjoin(sent, SENT_WITH)
            .where(
                or_(
                    and_(sent.c.seq.is_(None), f.created_at < created_before),
                    sent.c.deleted_at.is_not(None),
                )
            )
            .order_by(f.created_at, f.id)
            .limit(limit)
        )
        async with self._read() as conn:
            return [file_from(r) for r in (await conn.execute(q)).all()]

    async def delete_file(self, file_id: str) -> None:
        async with self._write() as conn:
            await conn.execute(delete(t.files).where(f.id == file_id))
