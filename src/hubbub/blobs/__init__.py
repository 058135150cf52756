"""Blob stores (the bytes of uploaded files), chosen by URL: `file:///dir` or
`s3://bucket/prefix?...`. Imports are lazy so that boto3 is needed only by
those who keep their files in S3."""

from __future__ import annotations

import re

from hubbub.core.ports import BlobError, BlobNotFound, Blobs, BlobTooLarge

__all__ = ["BlobError", "BlobNotFound", "BlobTooLarge", "Blobs", "check_key", "open_blobs"]

# Keys name files on disk and objects in S3: a safe alphabet, and no leading
# dot, so that no key is `.` or `..` nor looks like a temporary file.
_KEY = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")
MAX_KEY_LENGTH = 200  # far under a file name's 255 bytes and S3's 1024


def check_key(key: str) -> str:
    """`key`, or ValueError if it is not a blob key."""
    if len(key) > MAX_KEY_LENGTH or not _KEY.fullmatch(key):
        raise ValueError(f"invalid blob key {key!r}: [A-Za-z0-9_.-]+, not starting with '.'")
    return key


def open_blobs(url: str) -> Blobs:
    scheme = url.partition("://")[0]
    if scheme == "file":
        from hubbub.blobs.file import FileBlobs

        return FileBlobs(url)
    if scheme == "s3":
        from hubbub.blobs.s3 import S3Blobs

        return S3Blobs(url)
    raise ValueError(f"unsupported blob URL scheme {scheme!r} (file://, s3://)")
