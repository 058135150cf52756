"""REST routes of files: upload (multipart, streamed to the blob store as it
arrives), download (with the headers that keep an uploaded page from
scripting this origin, and Range requests), and download links.

The upload is parsed with python_multipart's streaming parser straight from
the request's body: never whole in memory, nor spooled to disk as
Starlette's `request.form()` would. Its route is exempt from the JSON body
limit (`STREAMED`, see `bodylimit`); each file is held to `max_file_bytes`
and the uploader's quota instead (core.files).
"""

from __future__ import annotations

import collections
import re
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, ConfigDict, Field
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from hubbub.core import events, media
from hubbub.core.accounts import Identity
from hubbub.core.checks import check_channel_name
from hubbub.core.files import unsupported
from hubbub.core.models import Channel, StoredFile, thumbnail_key
from hubbub.core.ports import BlobNotFound
from hubbub.protocol.errors import ChatError, ErrorCode
from hubbub.protocol.frames import FileOut
from hubbub.protocol.limits import Limits
from hubbub.protocol.rules import CHANNEL_RE
from hubbub.server.openapi import errors
from hubbub.server.restkit import (
    MEMBER,
    SIGNED_IN,
    AuthFirstRoute,
    E,
    HubDep,
    IdentityDep,
    UserDep,
    bearer,
    client_address,
)

files = APIRouter(prefix="/api", route_class=AuthFirstRoute)

UPLOAD_PATH = "/api/files"
# Requests whose body is not JSON and has its own limits: (method, path).
STREAMED = frozenset({("POST", UPLOAD_PATH)})

FILE_ID = r"^[A-Za-z0-9_-]{16,64}$"
FileIdPath = Annotated[str, Path(pattern=FILE_ID, description="The file's id.")]
MAX_FIELD = 1024  # bytes of a form field that is no file (`channel`)
MAX_PART_HEADERS = 8 * 1024  # bytes of one part's headers

# Served with every download: the bytes are the user's, never a page of ours.
# `sandbox` makes even a document a browser renders an opaque origin
# without script; `nosniff` makes it trust our Content-Type.
DOWNLOAD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'",
    "Cache-Control": "private",
    "Accept-Ranges": "bytes",
}


def _bad_form(message: str) -> ChatError:
    return ChatError(ErrorCode.invalid_input, message, field="file")


class _Form:
    """The parts of a multipart body, pulled from the request as they are
    read: `next_part()` for the next part's headers, then `data()` for its
    bytes. One chunk of the body at a time is held here."""

    def __init__(self, request: Request, boundary: bytes) -> None:
        self._body = request.stream().__aiter__()
        # (kind, bytes of "data", headers of "headers")
        self._events: collections.deque[tuple[str, bytes, dict[str, bytes]]] = collections.deque()
        self._field = bytearray()
        self._value = bytearray()
        self._headers: dict[str, bytes] = {}
        self._header_bytes = 0
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._begin,
                "on_header_field": self._on_field,
                "on_header_value": self._on_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_done,
                "on_part_data": self._on_data,
                "on_part_end": lambda: self._events.append(("end", b"", {})),
                "on_end": lambda: self._events.append(("done", b"", {})),
            },
        )

    def _begin(self) -> None:
        self._headers, self._header_bytes = {}, 0

    def _on_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]
        self._count(end - start)

    def _on_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]
        self._count(end - start)

    def _count(self, n: int) -> None:
        self._header_bytes += n
        if self._header_bytes > MAX_PART_HEADERS:
            raise _bad_form("a part's headers are too long")

    def _header_end(self) -> None:
        name = self._field.decode("latin-1").strip().lower()
        self._headers[name] = bytes(self._value)  # parsed as bytes: UTF-8 names
        self._field, self._value = bytearray(), bytearray()

    def _headers_done(self) -> None:
        self._events.append(("headers", b"", self._headers))

    def _on_data(self, data: bytes, start: int, end: int) -> None:
        if end > start:
            self._events.append(("data", bytes(data[start:end]), {}))

    async def _next(self) -> tuple[str, bytes, dict[str, bytes]]:
        while not self._events:
            try:
                chunk = await self._body.__anext__()
            except StopAsyncIteration:
                raise _bad_form("the form ended before its closing boundary") from None
            try:
                self._parser.write(chunk)
            except MultipartParseError as exc:
                raise _bad_form(f"not a valid multipart form: {exc}") from None
        return self._events.popleft()

    async def next_part(self) -> tuple[str, str | None] | None:
        """The next part's field name and file name (None: not a file); None
        at the end of the form. What is left of the part before is skipped."""
        while True:
            kind, _, headers = await self._next()
            if kind == "done":
                return None
            if kind == "headers":
                return _disposition(headers.get("content-disposition", b""))

    async def data(self) -> AsyncIterator[bytes]:
        """The bytes of the current part, as they arrive."""
        while True:
            kind, data, _ = await self._next()
            if kind == "end":
                return
            if kind == "data":
                yield data

    async def field(self) -> str:
        value = bytearray()
        async for data in self.data():
            value += data
            if len(value) > MAX_FIELD:
                raise _bad_form(f"a form field is over {MAX_FIELD} bytes")
        return value.decode("utf-8", "replace")


def _disposition(value: bytes) -> tuple[str, str | None]:
    kind, options = parse_options_header(value)
    if kind != b"form-data" or b"name" not in options:
        raise _bad_form("each part needs Content-Disposition: form-data; name=...")
    filename = options.get(b"filename")
    return options[b"name"].decode("utf-8", "replace"), (
        None if filename is None else filename.decode("utf-8", "replace")
    )


def _boundary(request: Request) -> bytes:
    kind, options = parse_options_header(request.headers.get("content-type"))
    boundary = options.get(b"boundary", b"")
    if kind != b"multipart/form-data" or not 1 <= len(boundary) <= 70:
        raise _bad_form("send the files as multipart/form-data (with a boundary)")
    return boundary


# `channel` in the query (documented as required, so a generated client
# sends it there), or as the form's first field, before any file: either
# way it is known before a byte of a file is read.
UPLOAD_BODY: dict[str, Any] = {
    "parameters": [
        {
            "name": "channel",
            "in": "query",
            "required": True,
            "description": "The channel's name (or a form field `channel` before the files).",
            "schema": {"type": "string", "maxLength": 80, "pattern": CHANNEL_RE.pattern},
        }
    ],
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": Limits().max_files_per_message,
                            "items": {"type": "string", "format": "binary"},
                            "description": "One part per file (at most "
                            "`max_files_per_message`), each at most `max_file_bytes`.",
                        },
                    },
                },
                "encoding": {"file": {"contentType": "application/octet-stream"}},
            }
        },
    },
}


@files.post(
    "/files",
    status_code=201,
    response_model=list[FileOut],
    tags=["files"],
    openapi_extra=UPLOAD_BODY,
    responses=errors(
        *SIGNED_IN,
        E.invalid_input,
        E.invalid_name,
        *MEMBER,
        E.channel_archived,
        E.file_too_large,
        E.quota_exceeded,
        E.unsupported,
    ),
)
async def upload(request: Request, hub: HubDep, user: UserDep) -> Any:
    """Upload files to a channel (`?channel=`, or a form field `channel`
    before the files), as `multipart/form-data` with one or more `file`
    parts. Each is streamed to the
    file store as it arrives; its type is detected from its content (not its
    name or the part's Content-Type), and images get a thumbnail and their
    dimensions. The answer: the files, a list in the order sent, to attach
    to a message with `files: [id]` on a send, which must follow within 24
    hours. Past `max_file_bytes`, or your `file_quota_bytes`, 413, and
    nothing of this request is kept; so too if the request is cut short."""
    if hub.files.blobs is None:
        raise unsupported()
    form = _Form(request, _boundary(request))
    channel: Channel | None = None
    if (named := request.query_params.get("channel")) is not None:
        channel = await hub.files.upload_channel(user, check_channel_name(named))
    stored: list[StoredFile] = []
    try:
        while (part := await form.next_part()) is not None:
            name, filename = part
            if name == "file" and filename is not None:
                if channel is None:
                    raise _bad_form("send the `channel` field before the files")
                if len(stored) >= hub.limits.max_files_per_message:
                    raise _bad_form(f"at most {hub.limits.max_files_per_message} files")
                stored.append(await hub.files.upload_to(user, channel, filename, form.data()))
            elif name == "channel" and filename is None and channel is None:
                named = check_channel_name(await form.field())
                channel = await hub.files.upload_channel(user, named)
            else:
                async for _ in form.data():  # an unknown field: skipped
                    pass
        if not stored:
            raise _bad_form("no `file` part in the form")
    except BaseException:
        await hub.files.discard(stored)
        raise
    bodies = [events.file_body(f.info) for f in stored]
    return bodies


async def download_identity(
    request: Request,
    hub: HubDep,
    file_id: FileIdPath,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    t: Annotated[
        str | None,
        Query(max_length=2000, description="A download link's token (`/link`), for this file."),
    ] = None,
) -> Identity:
    """Who downloads: a link's `?t=` token, else the bearer token."""
    if t is not None:
        return await hub.files.link_identity(t, file_id)
    if creds is None:
        raise ChatError(ErrorCode.not_authenticated, "send Authorization: Bearer <token>")
    return await hub.authenticate(creds.credentials, address=client_address(request))


DownloaderDep = Annotated[Identity, Depends(download_identity)]
DOWNLOAD_ERRORS = errors(*SIGNED_IN, E.invalid_input, E.not_found, E.unsupported)
RANGE_DOC: dict[int | str, dict[str, Any]] = {
    206: {"content": {"*/*": {}}, "description": "The part asked for with `Range: bytes=...`."},
    416: {"description": "The range starts past the end (`Content-Range: bytes */size`)."},
}


@files.get(
    "/files/{file_id}",
    tags=["files"],
    response_class=Response,
    responses={
        # Its type is the one detected at upload (never text/html): any.
        200: {"content": {"*/*": {}}, "description": "The file, with its detected type."},
        **RANGE_DOC,
        **DOWNLOAD_ERRORS,
    },
)
async def download(
    request: Request, file_id: FileIdPath, hub: HubDep, who: DownloaderDep
) -> Response:
    """The file, if you may see it (a member of its channel; its uploader
    before it is sent): else 404. As an attachment, except types a browser
    shows safely (images, plain text, PDF, audio, video); never as HTML or
    SVG; with `X-Content-Type-Options: nosniff` and a sandboxing CSP.
    `Range: bytes=...` (one range) answers 206."""
    file = await hub.files.readable(who.user, file_id)
    info = file.info
    return await _serve(
        request,
        hub,
        file.id,
        info.size,
        media.served_type(info.content_type),
        media.disposition(info.name, inline=media.is_inline(info.content_type)),
    )


@files.get(
    "/files/{file_id}/thumbnail",
    tags=["files"],
    response_class=Response,
    responses={
        200: {"content": {"image/jpeg": {}, "image/png": {}}, "description": "The thumbnail."},
        **RANGE_DOC,
        **DOWNLOAD_ERRORS,
    },
)
async def thumbnail(
    request: Request, file_id: FileIdPath, hub: HubDep, who: DownloaderDep
) -> Response:
    """An image's thumbnail (at most 360 px a side; JPEG for JPEGs, PNG
    otherwise), for whoever may download the file; 404 if it has none."""
    file = await hub.files.readable(who.user, file_id)
    if not file.info.thumbnail:
        raise ChatError(ErrorCode.not_found, "this file has no thumbnail")
    key = thumbnail_key(file.id)
    blobs = hub.files.blobs
    assert blobs is not None  # readable() said so
    try:
        size = await blobs.size(key)
    except BlobNotFound:
        raise ChatError(ErrorCode.not_found, "this file has no thumbnail") from None
    base = file.info.name.rsplit(".", 1)[0] or "file"
    kind = media.thumbnail_type(file.info.content_type)
    name = f"{base}-thumbnail.{kind.rsplit('/', 1)[1].replace('jpeg', 'jpg')}"
    return await _serve(request, hub, key, size, kind, media.disposition(name, inline=True))


_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def _wanted(request: Request, size: int, etag: str) -> tuple[int, int] | None:
    """The one byte range asked for, [start, end), or None for the whole
    file (no Range, one this does not serve, several, or a stale If-Range).
    ChatError-free: an unsatisfiable one is (size, size)."""
    header = request.headers.get("range")
    if header is None:
        return None
    if_range = request.headers.get("if-range")
    if if_range is not None and if_range != etag:
        return None
    m = _RANGE.fullmatch(header.strip())
    if m is None or (not m.group(1) and not m.group(2)):
        return None  # malformed, or several ranges: the whole file, as RFC 9110 allows
    if not m.group(1):  # the last n bytes
        n = int(m.group(2))
        return (max(0, size - n), size) if n > 0 else (size, size)
    start = int(m.group(1))
    end = min(int(m.group(2)) + 1, size) if m.group(2) else size
    if m.group(2) and int(m.group(2)) < start:
        return None  # invalid: ignored
    return (start, end) if start < size else (size, size)


async def _serve(
    request: Request, hub: HubDep, key: str, size: int, content_type: str, disposition: str
) -> Response:
    blobs = hub.files.blobs
    assert blobs is not None
    etag = f'"{key}"'  # a blob never changes: its key tags it
    headers = {**DOWNLOAD_HEADERS, "Content-Disposition": disposition, "ETag": etag}
    span = _wanted(request, size, etag)
    status = 200
    start, end = 0, size
    if span is not None:
        start, end = span
        if start >= size:
            return Response(
                status_code=416,
                headers={**DOWNLOAD_HEADERS, "Content-Range": f"bytes */{size}"},
            )
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    headers["Content-Length"] = str(end - start)
    chunks = blobs.get(key, start, end)
    try:  # read before answering: a missing blob is a 404, not a cut download
        first = await chunks.__anext__()
    except StopAsyncIteration:
        first = b""
    except BlobNotFound:
        raise ChatError(ErrorCode.not_found, "no such file") from None

    async def body() -> AsyncIterator[bytes]:
        yield first
        async for chunk in chunks:
            yield chunk

    return StreamingResponse(body(), status_code=status, headers=headers, media_type=content_type)


class LinkOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(
        description="GET it, without a token: this server's path with `?t=` (relative), "
        "or a presigned URL of the file store."
    )
    expires_at: int = Field(description="ms since the epoch.")


@files.get(
    "/files/{file_id}/link",
    response_model=LinkOut,
    tags=["files"],
    responses=errors(*SIGNED_IN, E.invalid_input, E.not_found, E.unsupported),
)
async def link(
    file_id: FileIdPath,
    hub: HubDep,
    identity: IdentityDep,
    thumbnail: Annotated[bool, Query(description="A link to the thumbnail.")] = False,
) -> dict[str, Any]:
    """A URL that downloads the file (or its thumbnail) without a token, for
    an hour (for `<img src>`, a download button, another program). It works
    for this file only, and as long as your session does."""
    file = await hub.files.readable(identity.user, file_id)
    url, expires_at = hub.files.link(identity.user, identity.session.id, file, thumbnail=thumbnail)
    return {"url": url, "expires_at": expires_at}
