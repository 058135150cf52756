"""Issue #19, defect 3: HTTP request bodies are limited, and the token comes first.

A body larger than `max_body_bytes` gets 413 `body_too_large` with the standard
error body, as soon as its `Content-Length` or the bytes received so far pass the
limit: the server never waits for (or holds) the rest. A route that needs a token
checks it before it reads the body at all, so a request without a valid token
gets 401 whatever it carries: bad JSON, a wrong content type, megabytes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from hubbub.protocol.errors import ErrorCode
from hubbub.protocol.limits import Limits
from support import WAIT, Server, auth, start_server

MAX = Limits().max_body_bytes
PASSWORD = "correct horse"
JSON = {"content-type": "application/json"}
CHUNK = 64 * 1024


def api_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text[:300]
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert list(body) == ["error"], body
    err: dict[str, Any] = body["error"]
    assert {"code", "message"} <= set(err) <= {"code", "message", "field", "retry_after"}, err
    assert err["code"] == code, err
    assert ErrorCode[code].status == status
    assert isinstance(err["message"], str) and err["message"]
    return err


def padded(obj: dict[str, Any], size: int) -> bytes:
    """`obj` as JSON of exactly `size` bytes, grown by an ignored `pad` field."""
    bare = json.dumps({**obj, "pad": ""}).encode()
    assert len(bare) <= size
    return json.dumps({**obj, "pad": "x" * (size - len(bare))}).encode()


async def chunked(body: bytes) -> AsyncIterator[bytes]:
    """`body` as a streamed request: httpx sends it chunked, without Content-Length."""
    for i in range(0, len(body), CHUNK):
        yield body[i : i + CHUNK]


def content(body: bytes, how: str) -> bytes | AsyncIterator[bytes]:
    return chunked(body) if how == "chunked" else body


async def raw(server: Server, head: bytes, body: bytes = b"") -> httpx.Response:
    """Send a request head and part of a body on a bare socket, never finish
    the body, and read the answer the server gives before it ever could."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(head + body)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), WAIT)
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        while (line := await asyncio.wait_for(reader.readline(), WAIT)) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        data = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), WAIT)
        return httpx.Response(status, headers=headers, content=data)
    finally:
        writer.close()


def head(path: str, *headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    return ("\r\n".join([*lines, *headers]) + "\r\n\r\n").encode()


# --- a server shared by the module ---------------------------------------------------------------


@dataclasses.dataclass
class World:
    server: Server
    alice: str  # a token


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    server = start_server(
        tmp_path_factory.mktemp("body-limit"),
        "--limit",
        "messages_per_second=1000,message_burst=1000",
    )
    try:
        with httpx.Client(base_url=server.url, timeout=WAIT) as http:
            r = http.post("/api/auth/register", json={"username": "alice", "password": PASSWORD})
            assert r.status_code == 201, r.text
            token = r.json()["token"]  # alice is in #general: joined on registering
        yield World(server, token)
    finally:
        server.stop()


@pytest.fixture
async def api(world: World) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=world.server.url, timeout=WAIT) as client:
        yield client


async def texts(api: httpx.AsyncClient, token: str) -> list[str]:
    r = await api.get(
        "/api/channels/general/messages", params={"after": 0, "limit": 200}, headers=auth(token)
    )
    assert r.status_code == 200, r.text
    return [m["text"] for m in r.json()["messages"]]


async def cannot_log_in(api: httpx.AsyncClient, username: str) -> None:
    r = await api.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    api_error(r, 401, "bad_credentials")


# --- over the limit: 413, nothing stored ---------------------------------------------------------


@pytest.mark.parametrize("how", ["length", "chunked"])
async def test_a_body_over_the_limit_gets_413(api: httpx.AsyncClient, how: str) -> None:
    username = f"big-{how}"
    body = padded({"username": username, "password": PASSWORD}, MAX + 1)
    r = await api.post("/api/auth/register", content=content(body, how), headers=JSON)
    err = api_error(r, 413, "body_too_large")
    assert str(MAX) in err["message"]
    await cannot_log_in(api, username)  # the account was not created


@pytest.mark.parametrize("how", ["length", "chunked"])
async def test_a_body_at_the_limit_is_read(api: httpx.AsyncClient, how: str) -> None:
    username = f"fits-{how}"
    body = padded({"username": username, "password": PASSWORD}, MAX)
    r = await api.post("/api/auth/register", content=content(body, how), headers=JSON)
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("how", ["length", "chunked"])
async def test_a_big_valid_message_gets_413_and_stores_nothing(
    api: httpx.AsyncClient, world: World, how: str
) -> None:
    before = await texts(api, world.alice)
    body = padded({"text": "too big", "client_id": f"big-{how}"}, MAX + 1)
    r = await api.post(
        "/api/channels/general/messages",
        content=content(body, how),
        headers={**JSON, **auth(world.alice)},
    )
    api_error(r, 413, "body_too_large")
    assert await texts(api, world.alice) == before
    # A normal request on the same server still works.
    r = await api.post(
        "/api/channels/general/messages",
        json={"text": f"normal {how}", "client_id": f"normal-{how}"},
        headers=auth(world.alice),
    )
    assert r.status_code == 201, r.text
    assert await texts(api, world.alice) == [*before, f"normal {how}"]


# --- refused while reading, not after ------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/auth/register", "/api/channels/general/messages"])
async def test_a_declared_length_over_the_limit_is_refused_before_the_body(
    world: World, path: str
) -> None:
    # 50 MB announced, none of it sent: the answer cannot wait for the body.
    r = await raw(
        world.server, head(path, "Content-Length: 52428800", f"Authorization: Bearer {world.alice}")
    )
    api_error(r, 413, "body_too_large")


@pytest.mark.parametrize("path", ["/api/auth/register", "/api/channels/general/messages"])
async def test_a_chunked_body_is_refused_as_it_passes_the_limit(world: World, path: str) -> None:
    # Chunks past the limit, and never the last chunk: the server answers anyway.
    chunk = b"%x\r\n%s\r\n" % (CHUNK, b" " * CHUNK)
    r = await raw(
        world.server,
        head(path, "Transfer-Encoding: chunked", f"Authorization: Bearer {world.alice}"),
        chunk * (MAX // CHUNK + 1),
    )
    api_error(r, 413, "body_too_large")


# --- the token comes first -----------------------------------------------------------------------

FIVE_MB = 5 * 1024 * 1024
FORM = "application/x-www-form-urlencoded"

BODIES: dict[str, Callable[[], tuple[bytes | AsyncIterator[bytes], dict[str, str]]]] = {
    "5 MB of text": lambda: (b"a" * FIVE_MB, {"content-type": "text/plain"}),
    "5 MB of bad JSON": lambda: (b"{" * FIVE_MB, JSON),
    "5 MB, no content type": lambda: (b"\xff" * FIVE_MB, {}),
    "5 MB chunked": lambda: (chunked(b"[" * FIVE_MB), JSON),
    "bad JSON": lambda: (b"{nope", JSON),
    "a form": lambda: (
        b"text=hi&client_id=x",
        {"content-type": "application/x-www-form-urlencoded"},
    ),
}
TOKENS = {"no token": (None, "not_authenticated"), "a bad token": ("nope", "token_invalid")}


@pytest.mark.parametrize("body", list(BODIES))
@pytest.mark.parametrize("token", list(TOKENS))
async def test_no_valid_token_gets_401_whatever_the_body(
    api: httpx.AsyncClient, world: World, body: str, token: str
) -> None:
    before = await texts(api, world.alice)
    data, headers = BODIES[body]()
    value, code = TOKENS[token]
    if value is not None:
        headers = {**headers, **auth(value)}
    r = await api.post("/api/channels/general/messages", content=data, headers=headers)
    api_error(r, 401, code)
    assert r.headers["www-authenticate"] == "Bearer"
    assert await texts(api, world.alice) == before


# --- configurable, and documented in OpenAPI -----------------------------------------------------


async def test_the_limit_can_be_set(server_factory: Callable[..., Server]) -> None:
    server = server_factory("--limit", "max_body_bytes=1000")
    async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as api:
        body = padded({"username": "small", "password": PASSWORD}, 1001)
        r = await api.post("/api/auth/register", content=body, headers=JSON)
        api_error(r, 413, "body_too_large")
        body = padded({"username": "small", "password": PASSWORD}, 1000)
        r = await api.post("/api/auth/register", content=body, headers=JSON)
        assert r.status_code == 201, r.text


async def test_openapi_lists_413_where_a_body_is_read(api: httpx.AsyncClient) -> None:
    r = await api.get("/openapi.json")
    assert r.status_code == 200
    checked = 0
    for path, ops in r.json()["paths"].items():
        for method, op in ops.items():
            if "requestBody" in op:
                checked += 1
                assert "413" in op["responses"], (method, path)
                # Signed-in routes check the token before the body (401 first).
                if op.get("security"):
                    assert "401" in op["responses"], (method, path)
            else:
                assert "413" not in op["responses"], (method, path)
    assert checked >= 8
