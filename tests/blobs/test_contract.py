"""The Blobs contract (hubbub.core.ports.Blobs), one suite run against every
backend: files in a directory, and S3 (moto's server over HTTP). Then what
only one backend has: S3's multipart parts and presigned URLs."""

from __future__ import annotations

import asyncio
import base64
import calendar
import dataclasses
import hashlib
import json
import os
import socket
import time
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from hubbub.blobs import BlobError, BlobNotFound, Blobs, BlobTooLarge, open_blobs
from hubbub.blobs.file import FileBlobs
from support import WAIT

PART = 8 * 1024 * 1024  # S3Blobs' part size, also more than FileBlobs gathers per write
BACKENDS = ["file", "s3"]


@dataclasses.dataclass
class Backend:
    kind: str
    blobs: Blobs
    # What a write may have left behind that no key names: temporary files,
    # unfinished multipart uploads. Must be empty between writes.
    leftovers: Callable[[], list[str]]


@pytest.fixture(scope="session")
def moto_endpoint(dynamodb: str) -> str:
    """moto's server (tests/conftest.py) serves S3 as well as DynamoDB."""
    return dynamodb


@pytest.fixture(scope="session")
def raw_s3(moto_endpoint: str) -> Any:
    """A plain boto3 client, to look at the bucket behind the backend's back."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def fresh_bucket_url(endpoint: str, *, create: bool = True) -> tuple[str, str]:
    bucket = f"b{uuid.uuid4().hex[:12]}"
    url = f"s3://{bucket}/files?endpoint={endpoint}&region=us-east-1"
    return bucket, url + ("&create=1" if create else "")


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "file":
        root = tmp_path / "blobs"
        blobs: Blobs = open_blobs(f"file://{root}")
        await blobs.open()

        def temp_files() -> list[str]:
            return [f for f in files_under(root) if Path(f).name.startswith(".")]

        yield Backend("file", blobs, temp_files)
    else:
        endpoint = request.getfixturevalue("moto_endpoint")
        bucket, url = fresh_bucket_url(endpoint)
        blobs = open_blobs(url)
        await blobs.open()
        raw = request.getfixturevalue("raw_s3")

        def unfinished_uploads() -> list[str]:
            res = raw.list_multipart_uploads(Bucket=bucket)
            return [u["Key"] for u in res.get("Uploads", [])]

        yield Backend("s3", blobs, unfinished_uploads)
    await blobs.close()


async def chunks_of(data: bytes, size: int = 100_000) -> AsyncIterator[bytes]:
    # An odd chunk size: parts and batches are gathered across chunk boundaries.
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def failing(data: bytes, after: int) -> AsyncIterator[bytes]:
    """`data` in chunks, then an error once `after` bytes went out."""
    sent = 0
    async for chunk in chunks_of(data):
        if sent >= after:
            raise RuntimeError("the client went away")
        yield chunk
        sent += len(chunk)


async def read(blobs: Blobs, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join([c async for c in blobs.get(key, start, end)])


def pattern(n: int) -> bytes:
    """`n` bytes in which every offset's byte differs from its neighbours'."""
    return bytes(i * 7 % 251 for i in range(n))


# --- round trips --------------------------------------------------------------


@pytest.mark.parametrize(
    "size", [0, 1, PART, 2 * PART + 12345], ids=["empty", "1B", "a-part", "parts+tail"]
)
async def test_round_trip(backend: Backend, size: int) -> None:
    data = os.urandom(size)
    written = await backend.blobs.put("k", chunks_of(data), max_bytes=size)
    assert written == size
    assert await backend.blobs.size("k") == size
    assert await read(backend.blobs, "k") == data
    assert backend.leftovers() == []


async def test_20_mib_of_random_data(backend: Backend) -> None:
    data = os.urandom(20 * 1024 * 1024)
    await backend.blobs.put("big", chunks_of(data, 64 * 1024), max_bytes=len(data))
    digest = hashlib.sha256()
    async for chunk in backend.blobs.get("big"):
        assert 0 < len(chunk) <= 64 * 1024
        digest.update(chunk)
    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()


async def test_keys_are_independent(backend: Backend) -> None:
    await backend.blobs.put("F1", chunks_of(b"one"), max_bytes=10)
    await backend.blobs.put("F1.thumb", chunks_of(b"thumb"), max_bytes=10)
    assert await read(backend.blobs, "F1") == b"one"
    assert await read(backend.blobs, "F1.thumb") == b"thumb"


# --- ranges -------------------------------------------------------------------

RANGE_DATA = pattern(200_000)  # more than one 64 KiB chunk


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (0, None),
        (1000, None),  # from an offset
        (0, 10),  # a head
        (65_530, 65_540),  # across a chunk boundary
        (150_000, 10**9),  # an end past the blob's: up to its end
        (199_999, None),  # the last byte
        (200_000, None),  # at the end: nothing
        (300_000, None),  # past the end: nothing
        (300_000, 300_010),
        (500, 500),  # empty
        (500, 100),  # reversed: empty
    ],
)
async def test_ranges(backend: Backend, start: int, end: int | None) -> None:
    await backend.blobs.put("r", chunks_of(RANGE_DATA), max_bytes=len(RANGE_DATA))
    assert await read(backend.blobs, "r", start, end) == RANGE_DATA[start:end]


async def test_range_of_an_empty_blob(backend: Backend) -> None:
    await backend.blobs.put("e", chunks_of(b""), max_bytes=0)
    assert await read(backend.blobs, "e", 0, 10) == b""
    assert await read(backend.blobs, "e", 5) == b""


async def test_negative_range_is_refused(backend: Backend) -> None:
    await backend.blobs.put("r", chunks_of(b"abc"), max_bytes=3)
    with pytest.raises(ValueError):
        await read(backend.blobs, "r", -1)


# --- overwrite, delete, missing -------------------------------------------------


async def test_overwrite(backend: Backend) -> None:
    await backend.blobs.put("k", chunks_of(b"a much longer first version"), max_bytes=100)
    assert await backend.blobs.put("k", chunks_of(b"second"), max_bytes=100) == 6
    assert await read(backend.blobs, "k") == b"second"
    assert await backend.blobs.size("k") == 6


async def test_delete_is_idempotent(backend: Backend) -> None:
    await backend.blobs.put("k", chunks_of(b"x"), max_bytes=1)
    await backend.blobs.delete("k")
    with pytest.raises(BlobNotFound):
        await backend.blobs.size("k")
    with pytest.raises(BlobNotFound):
        await read(backend.blobs, "k")
    await backend.blobs.delete("k")
    await backend.blobs.delete("never-was")


@pytest.mark.parametrize(("start", "end"), [(0, None), (10, 20), (5, 5)])
async def test_missing_key(backend: Backend, start: int, end: int | None) -> None:
    with pytest.raises(BlobNotFound):
        await backend.blobs.size("nope")
    it = backend.blobs.get("nope", start, end)
    with pytest.raises(BlobNotFound):
        await anext(it)


# --- writes that fail keep nothing -----------------------------------------------


@pytest.mark.parametrize("size", [10, 2 * PART + 1], ids=["small", "after-parts"])
async def test_too_large_keeps_nothing(backend: Backend, size: int) -> None:
    with pytest.raises(BlobTooLarge):
        await backend.blobs.put("k", chunks_of(os.urandom(size)), max_bytes=size - 1)
    with pytest.raises(BlobNotFound):
        await backend.blobs.size("k")
    assert backend.leftovers() == []


async def test_exactly_max_bytes_is_allowed(backend: Backend) -> None:
    assert await backend.blobs.put("k", chunks_of(b"12345"), max_bytes=5) == 5


async def test_too_large_keeps_the_old_blob(backend: Backend) -> None:
    await backend.blobs.put("k", chunks_of(b"old"), max_bytes=3)
    with pytest.raises(BlobTooLarge):
        await backend.blobs.put("k", chunks_of(os.urandom(PART + 10)), max_bytes=PART)
    assert await read(backend.blobs, "k") == b"old"
    assert backend.leftovers() == []


@pytest.mark.parametrize("after", [0, 300_000, PART + 1], ids=["at-once", "early", "after-a-part"])
async def test_failing_chunks_keep_nothing(backend: Backend, after: int) -> None:
    data = os.urandom(2 * PART)
    with pytest.raises(RuntimeError, match="went away"):
        await backend.blobs.put("k", failing(data, after), max_bytes=len(data))
    with pytest.raises(BlobNotFound):
        await backend.blobs.size("k")
    assert backend.leftovers() == []


async def test_failing_chunks_keep_the_old_blob(backend: Backend) -> None:
    await backend.blobs.put("k", chunks_of(b"old"), max_bytes=3)
    data = os.urandom(2 * PART)
    with pytest.raises(RuntimeError):
        await backend.blobs.put("k", failing(data, PART + 1), max_bytes=len(data))
    assert await read(backend.blobs, "k") == b"old"
    assert backend.leftovers() == []


async def test_cancelled_write_keeps_nothing(backend: Backend) -> None:
    started = asyncio.Event()

    async def stalls() -> AsyncIterator[bytes]:
        async for chunk in chunks_of(os.urandom(PART + 1)):
            yield chunk
        started.set()
        await asyncio.Event().wait()  # the client stops sending
        yield b""

    task = asyncio.create_task(backend.blobs.put("k", stalls(), max_bytes=10 * PART))
    await asyncio.wait_for(started.wait(), WAIT)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, WAIT)
    with pytest.raises(BlobNotFound):
        await backend.blobs.size("k")
    assert backend.leftovers() == []


# --- keys -------------------------------------------------------------------------

BAD_KEYS = ["", ".", "..", "../x", "a/b", "/abs", ".hidden", "a b", "é", "a\nb", "a\\b", "x" * 201]


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_bad_keys_are_refused(backend: Backend, key: str) -> None:
    with pytest.raises(ValueError):
        await backend.blobs.put(key, chunks_of(b"x"), max_bytes=1)
    with pytest.raises(ValueError):
        await read(backend.blobs, key)
    with pytest.raises(ValueError):
        await backend.blobs.size(key)
    with pytest.raises(ValueError):
        await backend.blobs.delete(key)
    assert backend.leftovers() == []


async def test_the_key_alphabet_is_accepted(backend: Backend) -> None:
    key = "Az09_-.x" + "y" * 192  # 200 characters, the most there may be
    await backend.blobs.put(key, chunks_of(b"ok"), max_bytes=2)
    assert await read(backend.blobs, key) == b"ok"


# --- URLs -----------------------------------------------------------------------


def test_unknown_scheme() -> None:
    with pytest.raises(ValueError, match="unsupported blob URL"):
        open_blobs("ftp://example.com/files")


@pytest.mark.parametrize(
    "url", ["file://", "s3:///prefix", "s3://bucket?nope=1", "s3://?endpoint=http://x"]
)
def test_bad_urls(url: str) -> None:
    with pytest.raises(ValueError):
        open_blobs(url)


async def test_relative_file_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    blobs = open_blobs("file://data/files")
    await blobs.open()
    await blobs.put("k", chunks_of(b"here"), max_bytes=4)
    assert [p.read_bytes() for p in (tmp_path / "data" / "files").rglob("k")] == [b"here"]


async def test_quoted_file_url(tmp_path: Path) -> None:
    """A directory name with `%` or `?` in it, quoted as Settings.blobs_url does."""
    root = tmp_path / "100% sure?"
    blobs = open_blobs("file://" + urllib.parse.quote(str(root)))
    await blobs.open()
    await blobs.put("k", chunks_of(b"x"), max_bytes=1)
    assert files_under(root) and all(p.endswith("/k") for p in files_under(root))


# --- file only ------------------------------------------------------------------


async def test_file_keys_spread_over_directories(tmp_path: Path) -> None:
    blobs = FileBlobs(f"file://{tmp_path}")
    await blobs.open()
    for i in range(64):
        await blobs.put(f"F{i:04d}", chunks_of(b"x"), max_bytes=1)
    top = {Path(p).parts[0] for p in files_under(tmp_path)}
    assert len(top) > 16  # 64 keys with one prefix, over many of 256 directories
    assert all(len(Path(p).parts) == 3 for p in files_under(tmp_path))


async def test_file_has_no_presigned_urls(tmp_path: Path) -> None:
    blobs = FileBlobs(f"file://{tmp_path}")
    assert blobs.presign_get("k", filename="a", content_type="b", inline=True, expires=60) is None
    assert blobs.presign_post("k", max_bytes=1, expires=60) is None


async def test_file_open_fails_clearly(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_bytes(b"")
    with pytest.raises(BlobError, match="cannot create"):
        await open_blobs(f"file://{tmp_path / 'a-file' / 'files'}").open()


async def test_file_put_streams_fast(tmp_path: Path) -> None:
    """Per-chunk overhead stays low: 64 MiB in 64 KiB chunks well inside a
    second on any machine this runs on (measured: about 0.1 s)."""
    blobs = FileBlobs(f"file://{tmp_path}")
    await blobs.open()
    chunk = os.urandom(64 * 1024)

    async def many() -> AsyncIterator[bytes]:
        for _ in range(1024):
            yield chunk

    t0 = time.perf_counter()
    await blobs.put("fast", many(), max_bytes=2**30)
    elapsed = time.perf_counter() - t0
    assert await blobs.size("fast") == 64 * 1024 * 1024
    assert elapsed < 2.0, f"{64 / elapsed:.0f} MB/s"


# --- S3 only --------------------------------------------------------------------


@pytest.fixture
async def s3(moto_endpoint: str, raw_s3: Any) -> AsyncIterator[tuple[Blobs, Any, str]]:
    """An S3Blobs on a fresh bucket, the raw boto3 client, the bucket."""
    bucket, url = fresh_bucket_url(moto_endpoint)
    blobs = open_blobs(url)
    await blobs.open()
    yield blobs, raw_s3, bucket
    await blobs.close()


@pytest.mark.parametrize(
    ("size", "parts"), [(PART, None), (PART + 1, 2), (3 * PART + 5, 4)], ids=["one", "2", "4"]
)
async def test_s3_parts(s3: tuple[Blobs, Any, str], size: int, parts: int | None) -> None:
    """A blob of at most one part is one PutObject; a larger one a multipart
    upload of 8 MiB parts (its ETag ends in -<number of parts>)."""
    blobs, raw, bucket = s3
    await blobs.put("k", chunks_of(os.urandom(size)), max_bytes=size)
    head = raw.head_object(Bucket=bucket, Key="files/k")
    etag = head["ETag"].strip('"')
    assert etag.endswith(f"-{parts}") if parts else "-" not in etag


async def test_s3_missing_bucket(moto_endpoint: str) -> None:
    _, url = fresh_bucket_url(moto_endpoint, create=False)
    with pytest.raises(BlobError, match="create=1"):
        await open_blobs(url).open()


async def test_s3_nodes_creating_the_bucket_at_once(moto_endpoint: str) -> None:
    """Outside us-east-1 S3 refuses to create a bucket twice, even for its owner:
    nodes starting together all check, find none, and create it."""
    bucket = f"b{uuid.uuid4().hex[:12]}"
    url = f"s3://{bucket}?endpoint={moto_endpoint}&region=eu-west-1&create=1"
    nodes = [open_blobs(url) for _ in range(6)]
    await asyncio.gather(*(n.open() for n in nodes))
    await nodes[0].put("k", chunks_of(b"x"), max_bytes=1)
    assert await read(nodes[-1], "k") == b"x"
    await asyncio.gather(*(n.close() for n in nodes))


async def test_s3_unreachable() -> None:
    pytest.importorskip("boto3")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    blobs = open_blobs(f"s3://b?endpoint=http://127.0.0.1:{port}")
    with pytest.raises(BlobError) as info:
        await blobs.open()
    assert not isinstance(info.value, BlobNotFound)


@pytest.mark.parametrize(
    ("filename", "inline", "disposition"),
    [
        ("report.pdf", False, "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"),
        (
            'résumé "v2".png',
            True,
            'inline; filename="r_sum_ _v2_.png"; '
            "filename*=UTF-8''r%C3%A9sum%C3%A9%20%22v2%22.png",
        ),
    ],
)
async def test_s3_presign_get(
    s3: tuple[Blobs, Any, str], filename: str, inline: bool, disposition: str
) -> None:
    blobs, _, _ = s3
    await blobs.put("k", chunks_of(b"the bytes"), max_bytes=100)
    url = blobs.presign_get(
        "k", filename=filename, content_type="image/png", inline=inline, expires=60
    )
    assert url is not None
    async with httpx.AsyncClient(timeout=WAIT) as http:
        res = await http.get(url)
    assert res.status_code == 200
    assert res.content == b"the bytes"
    assert res.headers["content-type"] == "image/png"
    assert res.headers["content-disposition"] == disposition


def post_policy(fields: dict[str, str]) -> dict[str, Any]:
    policy: dict[str, Any] = json.loads(base64.b64decode(fields["policy"]))
    return policy


async def test_s3_presign_post(s3: tuple[Blobs, Any, str]) -> None:
    blobs, _, _ = s3
    form = blobs.presign_post("up", max_bytes=1000, expires=300)
    assert form is not None
    url, fields = form
    async with httpx.AsyncClient(timeout=WAIT) as http:
        res = await http.post(url, data=fields, files={"file": ("a.txt", b"uploaded!")})
    assert res.status_code in (200, 201, 204), res.text
    assert await read(blobs, "up") == b"uploaded!"


async def test_s3_presign_post_is_limited(s3: tuple[Blobs, Any, str]) -> None:
    """S3 refuses a form upload past the policy's `content-length-range`.
    moto does not enforce POST policies, so this checks the signed policy
    that S3 enforces: the range, the key, and the expiry."""
    blobs, _, bucket = s3
    form = blobs.presign_post("up", max_bytes=1000, expires=300)
    assert form is not None
    _, fields = form
    policy = post_policy(fields)
    assert ["content-length-range", 0, 1000] in policy["conditions"]
    assert {"key": "files/up"} in policy["conditions"]
    assert {"bucket": bucket} in policy["conditions"]
    expiry = calendar.timegm(time.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ"))
    assert abs(expiry - time.time() - 300) < 60
