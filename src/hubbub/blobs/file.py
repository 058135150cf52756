"""Blobs as files under one directory (`file:///abs/dir`, `file://relative/dir`).

A key's file is `dir/ab/cd/key`, `abcd` from a hash of the key: keys that
share a prefix (`F123`, `F123.thumb`) still spread evenly, so no directory
holds millions of entries. A write goes to a temporary file beside the final
one, is fsynced, then renamed over it: readers see the old blob or the new
one, never part of one. The blocking calls run in threads, a few per
megabyte: chunks are gathered into writes of `WRITE_BATCH` bytes and read
`READ_BATCH` bytes at a time, so per-chunk overhead stays off the hot path.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
import urllib.parse
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import BinaryIO

from hubbub.blobs import check_key
from hubbub.core.ports import BlobError, BlobNotFound, BlobTooLarge

CHUNK = 64 * 1024  # what `get` yields
READ_BATCH = 16 * CHUNK  # read per thread hop, yielded as CHUNKs
WRITE_BATCH = 1024 * 1024  # gathered before one thread hop writes it
TEMP_SUFFIX = ".part"


def directory_of(url: str) -> Path:
    """`file:///abs/dir` -> /abs/dir, `file://rel/dir` -> rel/dir."""
    scheme, sep, rest = url.partition("://")
    if scheme != "file" or not sep:
        raise ValueError(f"not a file:// URL: {url!r}")
    path = urllib.parse.unquote(rest.partition("?")[0])
    if not path:
        raise ValueError(f"file:// URL without a directory: {url!r}")
    return Path(path)


class FileBlobs:
    def __init__(self, url: str) -> None:
        self.root = directory_of(url)

    def path(self, key: str) -> Path:
        digest = hashlib.sha256(check_key(key).encode()).hexdigest()
        return self.root / digest[:2] / digest[2:4] / key

    async def open(self) -> None:
        try:
            await asyncio.to_thread(self.root.mkdir, parents=True, exist_ok=True)
        except OSError as exc:
            raise BlobError(f"cannot create the blob directory {self.root}: {exc}") from exc

    async def close(self) -> None:
        pass

    async def put(self, key: str, chunks: AsyncIterator[bytes], *, max_bytes: int) -> int:
        final = self.path(key)
        try:
            f, temp = await asyncio.to_thread(_create_temp, final)
        except OSError as exc:
            raise BlobError(f"cannot write blob {key}: {exc}") from exc
        try:
            size = 0
            batch: list[bytes] = []
            batched = 0
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise BlobTooLarge(f"blob {key} is over {max_bytes} bytes")
                batch.append(chunk)
                batched += len(chunk)
                if batched >= WRITE_BATCH:
                    await _blocking(key, f.writelines, batch)
                    batch, batched = [], 0
            await _blocking(key, _commit, f, batch, temp, final)
            return size
        except BaseException:  # the chunks failed, too large, the disk, or cancelled
            await asyncio.shield(asyncio.to_thread(_discard, f, temp))
            raise

    async def size(self, key: str) -> int:
        path = self.path(key)
        try:
            return (await asyncio.to_thread(path.stat)).st_size
        except FileNotFoundError:
            raise BlobNotFound(key) from None
        except OSError as exc:
            raise BlobError(f"cannot read blob {key}: {exc}") from exc

    def get(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        if start < 0 or (end is not None and end < 0):
            raise ValueError(f"invalid range {start}-{end}")
        return self._read(key, self.path(key), start, end)

    async def _read(
        self, key: str, path: Path, start: int, end: int | None
    ) -> AsyncIterator[bytes]:
        try:
            f = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError:
            raise BlobNotFound(key) from None
        except OSError as exc:
            raise BlobError(f"cannot read blob {key}: {exc}") from exc
        try:
            remaining = None if end is None else max(0, end - start)
            await asyncio.to_thread(f.seek, start)
            while remaining is None or remaining > 0:
                n = READ_BATCH if remaining is None else min(READ_BATCH, remaining)
                try:
                    data = await asyncio.to_thread(f.read, n)
                except OSError as exc:
                    raise BlobError(f"cannot read blob {key}: {exc}") from exc
                if not data:
                    return
                if remaining is not None:
                    remaining -= len(data)
                for i in range(0, len(data), CHUNK):
                    yield data[i : i + CHUNK]
        finally:
            f.close()

    async def delete(self, key: str) -> None:
        path = self.path(key)
        try:
            await asyncio.to_thread(path.unlink, missing_ok=True)
        except OSError as exc:
            raise BlobError(f"cannot delete blob {key}: {exc}") from exc

    def presign_get(
        self, key: str, *, filename: str, content_type: str, inline: bool, expires: int
    ) -> str | None:
        return None  # hubbub serves the file itself

    def presign_post(
        self, key: str, *, max_bytes: int, expires: int
    ) -> tuple[str, dict[str, str]] | None:
        return None  # uploads go through hubbub


async def _blocking(key: str, fn: Callable[..., object], *args: object) -> None:
    """`fn(*args)` in a thread; the disk's errors as BlobError (not those of
    the chunks being written: they are the caller's)."""
    try:
        await asyncio.to_thread(fn, *args)
    except OSError as exc:
        raise BlobError(f"cannot write blob {key}: {exc}") from exc


def _create_temp(final: Path) -> tuple[BinaryIO, Path]:
    final.parent.mkdir(parents=True, exist_ok=True)
    # The leading dot keeps it apart from every key (see check_key).
    fd, name = tempfile.mkstemp(dir=final.parent, prefix=".", suffix=TEMP_SUFFIX)
    return os.fdopen(fd, "wb"), Path(name)


def _commit(f: BinaryIO, batch: list[bytes], temp: Path, final: Path) -> None:
    f.writelines(batch)
    f.flush()
    os.fsync(f.fileno())
    f.close()
    os.replace(temp, final)
    # The rename is durable once the directory is synced too.
    fd = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _discard(f: BinaryIO, temp: Path) -> None:
    with contextlib.suppress(OSError):  # abandoned: a failed flush changes nothing
        f.close()
    temp.unlink(missing_ok=True)
