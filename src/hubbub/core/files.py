"""Uploaded files: who may upload and download them, their limits, what a
message carries of them, signed download links, and the sweep that deletes
the files nothing refers to. The Hub holds one (`hub.files`), as it holds
`accounts` and `admin`.

A file is streamed to the blob store under a random id, its type sniffed
from its first bytes (core.media) and, for images, a thumbnail made, before
its row is written: a row always has its blobs. It belongs to the message
its uploader sends with it (see models.StoredFile): until then only its
uploader may read it; after, the channel's members; once the message is
deleted, nobody, and the sweep deletes its blobs, then its row.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import unicodedata
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

import jwt
import orjson

from hubbub.core import auth, media
from hubbub.core.accounts import Identity
from hubbub.core.checks import archived
from hubbub.core.models import Channel, FileInfo, StoredFile, User, thumbnail_key
from hubbub.core.ports import BlobError, BlobNotFound, Blobs, BlobTooLarge, StoreError
from hubbub.protocol.errors import ChatError, ErrorCode

if TYPE_CHECKING:
    from hubbub.core.hub import Hub

log = logging.getLogger("hubbub.files")

MAX_NAME = 255
LINK_TTL = 3600  # seconds a download link (signed or presigned) works
TICKET_TTL = 3600  # seconds a presigned upload form works
ORPHAN_AFTER = 24 * 3600 * 1000  # ms an upload may wait for its message
SWEEP_EVERY = 600.0  # seconds between sweeps
SWEEP_BATCH = 100
# A download link's token: a JWT like a session's, for one file, which a
# session's check refuses (it has an audience; session tokens have none).
LINK_AUDIENCE = "hubbub:file"


def ticket_key(file_id: str) -> str:
    """The blob a presigned upload's ticket leaves for `file_uploaded` (its
    name and channel). A prefix, not a suffix: S3's lifecycle rules match
    key prefixes, and `ticket.` starts no file's key (ids have no dot), so
    the templates' rule expires abandoned tickets' notes and nothing else."""
    return f"ticket.{file_id}"


def clean_name(name: str) -> str:
    """The name a file is kept under: the last part of a path (either
    separator), without control or format characters (a right-to-left
    override could disguise `exe.txt`), at most `MAX_NAME` characters."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    kept = "".join(c for c in base if unicodedata.category(c) not in ("Cc", "Cf", "Cs"))
    kept = kept.strip()[:MAX_NAME].strip()
    return kept if kept not in ("", ".", "..") else "file"


def _file_not_found() -> ChatError:
    return ChatError(ErrorCode.not_found, "no such file", field="file_id")


def unsupported() -> ChatError:
    return ChatError(ErrorCode.unsupported, "this deployment keeps no files")


class Files:
    def __init__(self, hub: Hub, blobs: Blobs | None) -> None:
        self.hub = hub
        self.blobs = blobs
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.blobs is None:
            return
        await self.blobs.open()
        self._sweeper = asyncio.create_task(self._sweep_forever())

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        if self.blobs is not None:
            await self.blobs.close()

    def _store(self) -> Blobs:
        if self.blobs is None:
            raise unsupported()
        return self.blobs

    def _presigning(self) -> Blobs:
        """The blob store, if it takes presigned uploads (S3); else
        `unsupported` (a form for a key that is never used tells)."""
        blobs = self._store()
        if blobs.presign_post(auth.new_public_id(), max_bytes=1, expires=60) is None:
            raise ChatError(
                ErrorCode.unsupported,
                "upload files with POST /api/files here: the WebSocket carries none",
            )
        return blobs

    def _now(self) -> int:
        return int(self.hub.clock() * 1000)

    # --- uploads ----------------------------------------------------------------

    async def upload_channel(self, user: User, channel_name: str) -> Channel:
        """The channel if `user` may upload to it: a member (guests too, where
        they are), not archived."""
        self._store()
        channel = (await self.hub.member_channel(user, channel_name)).channel
        if channel.archived:
            raise archived(channel)
        return channel

    async def room_left(self, user: User) -> tuple[int, ErrorCode]:
        """The most bytes the user's next file may have, and the error past
        it: `max_file_bytes`, or less where the quota is nearer."""
        limits = self.hub.limits
        left = limits.file_quota_bytes - await self.hub.store.file_bytes(user.id)
        if left < limits.max_file_bytes:
            if left <= 0:
                raise _quota_exceeded(limits.file_quota_bytes)
            return left, ErrorCode.quota_exceeded
        return limits.max_file_bytes, ErrorCode.file_too_large

    async def upload(
        self, user: User, channel_name: str, filename: str, chunks: AsyncIterator[bytes]
    ) -> StoredFile:
        """Store a file in the channel from `chunks`: its row once its blobs
        are whole. Past `max_file_bytes` or the quota while streaming (413
        `file_too_large`, `quota_exceeded`), or if `chunks` fails, nothing is
        left."""
        channel = await self.upload_channel(user, channel_name)
        return await self.upload_to(user, channel, filename, chunks)

    async def upload_to(
        self, user: User, channel: Channel, filename: str, chunks: AsyncIterator[bytes]
    ) -> StoredFile:
        """`upload`, the channel already checked (`upload_channel`)."""
        blobs = self._store()
        max_bytes, past = await self.room_left(user)
        file_id = auth.new_public_id()
        head = bytearray()

        async def watched() -> AsyncIterator[bytes]:
            async for chunk in chunks:
                if len(head) < media.HEAD_BYTES:
                    head.extend(chunk[: media.HEAD_BYTES - len(head)])
                yield chunk

        try:
            size = await blobs.put(file_id, watched(), max_bytes=max_bytes)
        except BlobTooLarge:
            if past is ErrorCode.quota_exceeded:
                raise _quota_exceeded(self.hub.limits.file_quota_bytes) from None
            raise _too_large(self.hub.limits.max_file_bytes) from None
        name = clean_name(filename)
        return await self._record(user, channel.id, file_id, name, size, bytes(head))

    async def _record(
        self, user: User, channel_id: int, file_id: str, name: str, size: int, head: bytes
    ) -> StoredFile:
        """The row of a file whose blob is stored (its type from `head`, a
        thumbnail for images); on any failure, the blobs go again."""
        try:
            content_type = media.sniff(head, name)
            info = FileInfo(file_id, name, size, content_type)
            if content_type in media.THUMBNAIL_TYPES and size <= media.MAX_THUMBNAIL_SOURCE:
                info = await self._thumbnail(info)
            # Checked again now that its size is known: concurrent uploads
            # of one user may each have fitted alone.
            used = await self.hub.store.file_bytes(user.id)
            if used + size > self.hub.limits.file_quota_bytes:
                raise _quota_exceeded(self.hub.limits.file_quota_bytes)
            stored = StoredFile(info, channel_id, user.id, self._now())
            await self.hub.store.create_file(stored)
            return stored
        except BaseException:
            await asyncio.shield(self._delete_blobs(file_id))
            raise

    async def _thumbnail(self, info: FileInfo) -> FileInfo:
        blobs = self._store()
        data = b"".join([chunk async for chunk in blobs.get(info.id)])
        made = await asyncio.to_thread(media.thumbnail, data)
        if made is None:
            return info
        thumb, width, height = made
        await blobs.put(thumbnail_key(info.id), _once(thumb), max_bytes=len(thumb))
        return dataclasses.replace(info, width=width, height=height, thumbnail=True)

    async def _delete_blobs(self, file_id: str) -> None:
        """Both blobs of a file (there may be no thumbnail: no error)."""
        blobs = self._store()
        for key in (file_id, thumbnail_key(file_id)):
            try:
                await blobs.delete(key)
            except BlobError as exc:  # the next sweep tries again (if it has a row)
                log.warning("blob %s not deleted: %s", key, exc)

    async def discard(self, files: Sequence[StoredFile]) -> None:
        """Take back files just uploaded (a multipart request failed after
        them): their blobs, then their rows."""
        for file in files:
            await self._delete_blobs(file.id)
            await self.hub.store.delete_file(file.id)

    # --- presigned uploads (where the blob store has them: S3) ------------------

    async def ticket(self, user: User, channel_name: str, name: str, size: int) -> dict[str, Any]:
        """An `upload_ticket`: a form to POST the file straight to the blob
        store, refused there past the size it may have. `file_uploaded`
        then records it. `unsupported` where the store has no such forms."""
        blobs = self._presigning()
        channel = await self.upload_channel(user, channel_name)
        max_bytes, past = await self.room_left(user)
        if size > max_bytes:
            if past is ErrorCode.quota_exceeded:
                raise _quota_exceeded(self.hub.limits.file_quota_bytes)
            raise _too_large(self.hub.limits.max_file_bytes)
        file_id = auth.new_public_id()
        form = blobs.presign_post(file_id, max_bytes=max_bytes, expires=TICKET_TTL)
        assert form is not None  # _presigning() said so
        # What `file_uploaded` needs, kept beside the blob-to-be (no row yet:
        # a row always has its blob).
        note = orjson.dumps(
            {"channel_id": channel.id, "uploader_id": user.id, "name": clean_name(name)}
        )
        await blobs.put(ticket_key(file_id), _once(note), max_bytes=len(note))
        url, fields = form
        return {
            "file_id": file_id,
            "url": url,
            "fields": fields,
            "max_bytes": max_bytes,
            "expires_at": self._now() + TICKET_TTL * 1000,
        }

    async def uploaded(self, user: User, file_id: str) -> StoredFile:
        """Record a file uploaded with a ticket of the user's: its size from
        the blob store, its type from a ranged read of its head, a thumbnail
        for images. Again: the same file."""
        blobs = self._presigning()
        found = await self.hub.store.get_file(file_id)
        if found is not None:
            if found.uploader_id != user.id:
                raise _file_not_found()
            return found
        try:
            note = orjson.loads(b"".join([c async for c in blobs.get(ticket_key(file_id))]))
        except BlobNotFound:
            raise _file_not_found() from None
        if note["uploader_id"] != user.id:
            raise _file_not_found()
        try:
            size = await blobs.size(file_id)
        except BlobNotFound:
            raise ChatError(
                ErrorCode.not_found,
                "nothing was uploaded with this ticket: POST the file to its url first",
                field="file_id",
            ) from None
        max_bytes, past = await self.room_left(user)
        if size > max_bytes:
            await self._delete_blobs(file_id)
            await blobs.delete(ticket_key(file_id))
            if past is ErrorCode.quota_exceeded:
                raise _quota_exceeded(self.hub.limits.file_quota_bytes)
            raise _too_large(self.hub.limits.max_file_bytes)
        head = b"".join([c async for c in blobs.get(file_id, 0, media.HEAD_BYTES)])
        stored = await self._record(user, note["channel_id"], file_id, note["name"], size, head)
        await blobs.delete(ticket_key(file_id))
        return stored

    # --- attaching ------------------------------------------------------------------

    async def for_send(
        self, user: User, channel_id: int, client_id: str, file_ids: Sequence[str]
    ) -> tuple[FileInfo, ...]:
        """Claim files for the user's send `client_id` in the channel (all or
        none): each theirs, uploaded there, and attached to no other message
        (409 `file_in_use` otherwise)."""
        ids = list(dict.fromkeys(file_ids))
        if not ids:
            return ()
        self._store()
        most = self.hub.limits.max_files_per_message
        if len(ids) > most:
            raise ChatError(
                ErrorCode.invalid_input, f"at most {most} files per message", field="files"
            )
        claimed = await self.hub.store.claim_files(ids, user.id, channel_id, client_id)
        if claimed is None:
            raise ChatError(
                ErrorCode.file_in_use,
                "a file is not yours, was uploaded to another channel, is attached "
                "to another message, or does not exist",
                field="files",
            )
        return tuple(f.info for f in claimed)

    # --- downloads ---------------------------------------------------------------

    async def readable(self, user: User, file_id: str) -> StoredFile:
        """The file if `user` may download it: a member of its channel, its
        message there and not deleted; or its uploader, before it is sent.
        404 `not_found` otherwise, whether or not it exists."""
        self._store()
        file = await self.hub.store.get_file(file_id)
        if file is None:
            raise _file_not_found()
        if file.seq is not None:
            if await self.hub.store.membership(file.channel_id, user.id) is not None:
                return file
        elif file.client_id is None and file.uploader_id == user.id:
            return file
        raise _file_not_found()

    def link(
        self, user: User, session_id: str, file: StoredFile, *, thumbnail: bool = False
    ) -> tuple[str, int]:
        """A URL that downloads the file (or its thumbnail) for `LINK_TTL`,
        and when it stops (ms): the blob store's presigned URL where it has
        them, else this server's with a token for this file and session."""
        blobs = self._store()
        if thumbnail and not file.info.thumbnail:
            raise ChatError(ErrorCode.not_found, "this file has no thumbnail", field="thumbnail")
        expires_at = (int(time.time()) + LINK_TTL) * 1000
        content_type = (
            media.thumbnail_type(file.info.content_type)
            if thumbnail
            else media.served_type(file.info.content_type)
        )
        presigned = blobs.presign_get(
            thumbnail_key(file.id) if thumbnail else file.id,
            filename=file.info.name,
            content_type=content_type,
            inline=thumbnail or media.is_inline(file.info.content_type),
            expires=LINK_TTL,
        )
        if presigned is not None:
            return presigned, expires_at
        token = jwt.encode(
            {
                "sub": str(user.id),
                "sid": session_id,
                "fid": file.id,
                "aud": LINK_AUDIENCE,
                "exp": expires_at // 1000,
            },
            self.hub.secret,
            algorithm=auth.ALGORITHM,
        )
        path = f"/api/files/{file.id}" + ("/thumbnail" if thumbnail else "")
        return f"{path}?t={token}", expires_at

    async def link_identity(self, token: str, file_id: str) -> Identity:
        """Who a download link's token stands for, if it is for this file and
        its session stands (as a session token is checked)."""
        try:
            claims = jwt.decode(
                token,
                self.hub.secret,
                algorithms=[auth.ALGORITHM],
                audience=LINK_AUDIENCE,
                options={"require": ["exp", "sub", "sid", "fid", "aud"]},
            )
            if claims["fid"] != file_id or not isinstance(claims["sid"], str):
                raise ValueError("another file")
            found = auth.Claims(int(claims["sub"]), claims["sid"])
        except jwt.ExpiredSignatureError:
            raise ChatError(
                ErrorCode.token_expired, "this link expired: ask for a new one"
            ) from None
        except (jwt.InvalidTokenError, ValueError, TypeError):
            raise ChatError(ErrorCode.token_invalid, "invalid link") from None
        return await self.hub.accounts.identify(found)

    # --- deleting ------------------------------------------------------------------

    async def attached(self, channel_id: int, seq: int) -> tuple[FileInfo, ...]:
        """The files of message `seq` (before it is deleted: a deleted
        message carries none)."""
        if self.blobs is None:
            return ()
        entries = await self.hub.store.log_after(channel_id, seq - 1, 1)
        if not entries or entries[0].seq != seq or entries[0].is_change:
            return ()
        return entries[0].message.files

    async def release(self, files: Sequence[FileInfo]) -> None:
        """After their message was deleted: the files nothing shows any more
        go (their blobs, then their rows). Best effort: the sweep does it
        later otherwise."""
        try:
            for info in files:
                file = await self.hub.store.get_file(info.id)
                if file is not None and file.seq is None:
                    await self._forget(file)
        except (StoreError, BlobError) as exc:
            log.warning("files of a deleted message kept for the sweep: %s", exc)

    async def _forget(self, file: StoredFile) -> None:
        await self._delete_blobs(file.id)
        await self.hub.store.delete_file(file.id)

    async def sweep(self, now: int) -> int:
        """Delete every orphan (see Store.orphan_files): uploads whose message
        never came within `ORPHAN_AFTER`, files of deleted messages. How many."""
        if self.blobs is None:
            return 0
        done = 0
        while True:
            batch = await self.hub.store.orphan_files(now - ORPHAN_AFTER, SWEEP_BATCH)
            for file in batch:
                await self._forget(file)
            done += len(batch)
            if len(batch) < SWEEP_BATCH:
                return done

    async def _sweep_forever(self) -> None:
        while True:
            try:
                swept = await self.sweep(self._now())
                if swept:
                    log.info("swept %d orphaned files", swept)
            except (StoreError, BlobError) as exc:
                log.warning("file sweep failed: %s", exc)
            await asyncio.sleep(SWEEP_EVERY)


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


def _too_large(limit: int) -> ChatError:
    return ChatError(
        ErrorCode.file_too_large, f"files may have at most {limit} bytes (max_file_bytes)"
    )


def _quota_exceeded(quota: int) -> ChatError:
    return ChatError(
        ErrorCode.quota_exceeded, f"your files may take at most {quota} bytes (file_quota_bytes)"
    )
