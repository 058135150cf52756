"""core.files on a real blob store: presigned uploads and downloads on S3
(moto's server over HTTP: the Lambda deployment's path), and the sweep of
orphans (uploads never sent, after a day)."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from hubbub.blobs import open_blobs
from hubbub.bus.memory import MemoryBus
from hubbub.core.files import ORPHAN_AFTER
from hubbub.core.hub import Hub
from hubbub.core.models import User, thumbnail_key
from hubbub.core.ports import BlobNotFound, Blobs
from hubbub.protocol.errors import ChatError, ErrorCode
from hubbub.protocol.limits import Limits
from hubbub.store import open_store


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (720, 360), "blue").save(buf, "PNG")
    return buf.getvalue()


async def make_hub(tmp_path: Path, blobs_url: str, clock: Clock, **limits: int) -> Hub:
    hub = Hub(
        open_store(f"sqlite:///{tmp_path / f'{uuid.uuid4().hex}.db'}"),
        MemoryBus(),
        Limits(**limits),
        clock=clock,
        blobs=open_blobs(blobs_url),
    )
    await hub.start()
    return hub


@pytest.fixture
async def s3_hub(dynamodb: str, tmp_path: Path) -> AsyncIterator[Hub]:
    """A hub whose files are in a fresh bucket of moto's S3."""
    bucket = f"b{uuid.uuid4().hex[:12]}"
    url = f"s3://{bucket}/files?endpoint={dynamodb}&region=us-east-1&create=1"
    hub = await make_hub(tmp_path, url, Clock(), max_file_bytes=100_000)
    yield hub
    await hub.stop()


async def user(hub: Hub, name: str) -> User:
    found, _ = await hub.register(name, "correct horse")
    return found


async def post_form(url: str, fields: dict[str, str], data: bytes) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(url, data=fields, files={"file": ("upload", data)})


async def code_of(awaitable: object) -> ErrorCode:
    with pytest.raises(ChatError) as err:
        await awaitable  # type: ignore[misc]
    return err.value.code


async def test_presigned_upload_and_download(s3_hub: Hub) -> None:
    hub = s3_hub
    alice, bob = await user(hub, "alice"), await user(hub, "bob")
    ticket = await hub.files.ticket(alice, "general", "pic.png", len(png()))
    assert ticket["max_bytes"] == 100_000
    r = await post_form(ticket["url"], ticket["fields"], png())
    assert r.status_code in (200, 201, 204), r.text
    # Bob cannot claim alice's upload.
    assert await code_of(hub.files.uploaded(bob, ticket["file_id"])) is ErrorCode.not_found
    stored = await hub.files.uploaded(alice, ticket["file_id"])
    info = stored.info
    assert (info.size, info.content_type) == (len(png()), "image/png")
    assert (info.width, info.height, info.thumbnail) == (720, 360, True)
    assert (await hub.files.uploaded(alice, ticket["file_id"])).info == info  # again: the same

    await hub.send(alice, "general", "", "c-1", files=[info.id])
    readable = await hub.files.readable(bob, info.id)
    url, _ = hub.files.link(bob, "s", readable)
    async with httpx.AsyncClient(timeout=10) as http:
        r = await http.get(url)
        assert r.status_code == 200 and r.content == png()
        assert r.headers["content-disposition"].startswith("inline;")
        thumb_url, _ = hub.files.link(bob, "s", readable, thumbnail=True)
        r = await http.get(thumb_url)
        with Image.open(io.BytesIO(r.content)) as thumb:
            assert thumb.size == (360, 180)


async def test_presigned_limits(s3_hub: Hub) -> None:
    hub = s3_hub
    alice = await user(hub, "alice")
    assert await code_of(hub.files.ticket(alice, "general", "big", 100_001)) is (
        ErrorCode.file_too_large
    )
    # More than the ticket said: S3 refuses the form past `max_bytes` (moto
    # lets it through), and what got in anyway is refused, and deleted.
    ticket = await hub.files.ticket(alice, "general", "liar.bin", 10)
    r = await post_form(ticket["url"], ticket["fields"], b"\x00" * 100_001)
    if r.status_code < 300:
        refused = await code_of(hub.files.uploaded(alice, ticket["file_id"]))
        assert refused is ErrorCode.file_too_large
    assert hub.files.blobs is not None
    assert not await blob_exists(hub.files.blobs, ticket["file_id"])
    assert await hub.store.get_file(ticket["file_id"]) is None
    assert await code_of(hub.files.uploaded(alice, ticket["file_id"])) is ErrorCode.not_found
    # Never uploaded at all.
    other = await hub.files.ticket(alice, "general", "never.bin", 10)
    assert await code_of(hub.files.uploaded(alice, other["file_id"])) is ErrorCode.not_found


async def test_no_presigned_uploads_on_a_directory(tmp_path: Path) -> None:
    hub = await make_hub(tmp_path, f"file://{tmp_path / 'files'}", Clock())
    try:
        alice = await user(hub, "alice")
        assert await code_of(hub.files.ticket(alice, "general", "a", 1)) is ErrorCode.unsupported
    finally:
        await hub.stop()


async def test_no_blob_store_no_files(tmp_path: Path) -> None:
    hub = Hub(open_store(f"sqlite:///{tmp_path / 'x.db'}"), MemoryBus(), Limits())
    await hub.start()
    try:
        alice = await user(hub, "alice")
        assert await code_of(hub.files.ticket(alice, "general", "a", 1)) is ErrorCode.unsupported
        fid = "A" * 24
        assert await code_of(hub.files.readable(alice, fid)) is ErrorCode.unsupported
        assert await code_of(hub.send(alice, "general", "x", "c", files=[fid])) is (
            ErrorCode.unsupported
        )
    finally:
        await hub.stop()


async def blob_exists(blobs: Blobs, key: str) -> bool:
    try:
        await blobs.size(key)
    except BlobNotFound:
        return False
    return True


async def test_sweep_deletes_uploads_never_sent_after_a_day(tmp_path: Path) -> None:
    clock = Clock()
    hub = await make_hub(tmp_path, f"file://{tmp_path / 'files'}", clock)
    try:
        alice = await user(hub, "alice")
        blobs = hub.files.blobs
        assert blobs is not None

        async def one(data: bytes) -> AsyncIterator[bytes]:
            yield data

        lost = await hub.files.upload(alice, "general", "lost.png", one(png()))
        sent = await hub.files.upload(alice, "general", "sent.png", one(png()))
        await hub.send(alice, "general", "", "c-1", files=[sent.id])
        clock.now += ORPHAN_AFTER / 1000 - 1
        assert await hub.files.sweep(int(clock.now * 1000)) == 0  # not a day yet
        clock.now += 2
        assert await hub.files.sweep(int(clock.now * 1000)) == 1
        assert await hub.store.get_file(lost.id) is None
        assert not await blob_exists(blobs, lost.id)
        assert not await blob_exists(blobs, thumbnail_key(lost.id))
        assert await blob_exists(blobs, sent.id) and await blob_exists(
            blobs, thumbnail_key(sent.id)
        )
    finally:
        await hub.stop()
