"""Blobs as objects in an S3 bucket:
`s3://bucket/prefix?endpoint=http://127.0.0.1:9000&region=us-east-1&create=1`.

boto3 blocks, so every call runs in a thread. A write streams: its chunks
are gathered into parts of `PART_SIZE` bytes sent as a multipart upload
(aborted on any failure, so no half-written parts linger and cost), and a
blob of at most one part is a single PutObject. S3 makes either atomic.
Downloads and uploads can bypass hubbub: `presign_get` and `presign_post`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import os
import urllib.parse
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from hubbub import boto
from hubbub.blobs import check_key
from hubbub.core.ports import BlobError, BlobNotFound, BlobTooLarge

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

PART_SIZE = 8 * 1024 * 1024  # S3 wants at least 5 MiB for every part but the last
CHUNK = 64 * 1024  # what `get` yields
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}  # a missing bucket is an error

T = TypeVar("T")


@dataclasses.dataclass(frozen=True, slots=True)
class S3Config:
    bucket: str
    prefix: str  # "" or ending in "/"
    region: str
    endpoint: str | None = None
    create: bool = False

    @classmethod
    def from_url(cls, url: str) -> S3Config:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(f"not an s3://bucket/prefix URL: {url!r}")
        q = dict(urllib.parse.parse_qsl(parts.query))
        unknown = set(q) - {"endpoint", "region", "create"}
        if unknown:
            raise ValueError(f"unknown s3:// parameter(s): {', '.join(sorted(unknown))}")
        prefix = urllib.parse.unquote(parts.path).strip("/")
        return cls(
            bucket=parts.netloc,
            prefix=prefix + "/" if prefix else "",
            region=q.get("region") or os.environ.get("AWS_REGION") or "us-east-1",
            endpoint=q.get("endpoint") or None,
            create=q.get("create", "").lower() in ("1", "true", "yes"),
        )


def make_client(cfg: S3Config) -> S3Client:
    client: S3Client = boto.client(
        "s3",
        region=cfg.region,
        endpoint=cfg.endpoint,
        read_timeout=60,  # a part is 8 MiB
        signature_version="s3v4",
        # A local endpoint has no per-bucket host names.
        s3={"addressing_style": "path" if cfg.endpoint else "auto"},
    )
    return client


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def content_disposition(filename: str, *, inline: bool) -> str:
    """RFC 6266: an ASCII fallback for old clients, and the real name in
    `filename*` (RFC 8187, UTF-8, percent-encoded)."""
    fallback = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename
    )
    encoded = urllib.parse.quote(filename, safe="!#$&+^`|~")
    kind = "inline" if inline else "attachment"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


class S3Blobs:
    def __init__(self, url: str) -> None:
        self.cfg = S3Config.from_url(url)
        self._client: S3Client | None = None

    @property
    def client(self) -> S3Client:
        if self._client is None:
            self._client = make_client(self.cfg)
        return self._client

    def object_key(self, key: str) -> str:
        return self.cfg.prefix + check_key(key)

    async def _call(self, key: str, fn: Callable[..., T], **kwargs: Any) -> T:
        """`fn(**kwargs)` in a thread, with boto's errors as ours."""
        try:
            return await asyncio.to_thread(fn, **kwargs)
        except ClientError as exc:
            if _code(exc) in _NOT_FOUND:
                raise BlobNotFound(key) from None
            raise BlobError(f"S3 failed on {key}: {exc}") from exc
        except BotoCoreError as exc:
            raise BlobError(f"S3 is unreachable: {exc}") from exc

    async def open(self) -> None:
        bucket = self.cfg.bucket
        try:
            await self._call(bucket, self.client.head_bucket, Bucket=bucket)
        except BlobNotFound:
            if not self.cfg.create:
                raise BlobError(
                    f"S3 bucket {bucket!r} does not exist (create it, or add create=1 to the URL)"
                ) from None
            kwargs: dict[str, Any] = {"Bucket": bucket}
            if self.cfg.region != "us-east-1":  # S3 refuses the default region named
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.cfg.region}
            try:
                await self._call(bucket, self.client.create_bucket, **kwargs)
            except BlobError as exc:
                cause = exc.__cause__
                # Another node, starting at the same time, created it first.
                if not (
                    isinstance(cause, ClientError) and _code(cause) == "BucketAlreadyOwnedByYou"
                ):
                    raise

    async def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def put(self, key: str, chunks: AsyncIterator[bytes], *, max_bytes: int) -> int:
        target = {"Bucket": self.cfg.bucket, "Key": self.object_key(key)}
        upload_id: str | None = None
        parts: list[CompletedPartTypeDef] = []
        buffer = bytearray()
        size = 0
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise BlobTooLarge(f"blob {key} is over {max_bytes} bytes")
                buffer += chunk
                # Strictly more than a part: the last part is never empty, and
                # a blob of exactly one part is one PutObject.
                while len(buffer) > PART_SIZE:
                    if upload_id is None:
                        res = await self._call(key, self.client.create_multipart_upload, **target)
                        upload_id = res["UploadId"]
                    await self._upload_part(key, target, upload_id, parts, buffer[:PART_SIZE])
                    del buffer[:PART_SIZE]
            if upload_id is None:
                await self._call(key, self.client.put_object, Body=bytes(buffer), **target)
                return size
            await self._upload_part(key, target, upload_id, parts, buffer)
            await self._call(
                key,
                self.client.complete_multipart_upload,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
                **target,
            )
            return size
        except BaseException:
            if upload_id is not None:
                abort = functools.partial(
                    self.client.abort_multipart_upload,
                    Bucket=target["Bucket"],
                    Key=target["Key"],
                    UploadId=upload_id,
                )
                # The first error is the one to tell; should the abort fail
                # too, an S3 lifecycle rule is the last resort.
                with contextlib.suppress(ClientError, BotoCoreError):
                    await asyncio.shield(asyncio.to_thread(abort))
            raise

    async def _upload_part(
        self,
        key: str,
        target: dict[str, str],
        upload_id: str,
        parts: list[CompletedPartTypeDef],
        data: bytearray,
    ) -> None:
        number = len(parts) + 1
        res = await self._call(
            key,
            self.client.upload_part,
            UploadId=upload_id,
            PartNumber=number,
            Body=bytes(data),
            **target,
        )
        parts.append({"ETag": res["ETag"], "PartNumber": number})

    async def size(self, key: str) -> int:
        res = await self._call(
            key, self.client.head_object, Bucket=self.cfg.bucket, Key=self.object_key(key)
        )
        return res["ContentLength"]

    def get(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        if start < 0 or (end is not None and end < 0):
            raise ValueError(f"invalid range {start}-{end}")
        return self._read(key, self.object_key(key), start, end)

    async def _read(
        self, key: str, object_key: str, start: int, end: int | None
    ) -> AsyncIterator[bytes]:
        target = {"Bucket": self.cfg.bucket, "Key": object_key}
        if end is not None and end <= start:
            await self._call(key, self.client.head_object, **target)  # missing: BlobNotFound
            return
        if start or end is not None:
            target["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        try:
            res = await self._call(key, self.client.get_object, **target)
        except BlobError as exc:
            cause = exc.__cause__
            if isinstance(cause, ClientError) and _code(cause) == "InvalidRange":
                return  # starts at or past the end: nothing to send
            raise
        body = res["Body"]
        try:
            while True:
                try:
                    data = await asyncio.to_thread(body.read, CHUNK)
                except (BotoCoreError, OSError) as exc:
                    raise BlobError(f"S3 failed reading {key}: {exc}") from exc
                if not data:
                    return
                yield data
        finally:
            body.close()

    async def delete(self, key: str) -> None:
        await self._call(
            key, self.client.delete_object, Bucket=self.cfg.bucket, Key=self.object_key(key)
        )

    def presign_get(
        self, key: str, *, filename: str, content_type: str, inline: bool, expires: int
    ) -> str | None:
        return self.client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.cfg.bucket,
                "Key": self.object_key(key),
                "ResponseContentDisposition": content_disposition(filename, inline=inline),
                "ResponseContentType": content_type,
            },
            ExpiresIn=expires,
        )

    def presign_post(
        self, key: str, *, max_bytes: int, expires: int
    ) -> tuple[str, dict[str, str]] | None:
        post = self.client.generate_presigned_post(
            self.cfg.bucket,
            self.object_key(key),
            Conditions=[["content-length-range", 0, max_bytes]],
            ExpiresIn=expires,
        )
        return post["url"], dict(post["fields"])
