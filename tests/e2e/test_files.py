"""Files end to end, against a real server: upload (multipart, streamed) and
download, several files on a message, thumbnails, the size limit and the
quota, nothing left behind by a refused or cut-short upload, downloads for
members only, a deleted message's files gone, uploaded pages served so they
cannot script this origin, Range requests, signed links, and the WebSocket's
file actions."""

from __future__ import annotations

import asyncio
import io
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jwt
from PIL import Image

from support import WAIT, Server, auth, online, register, subscribe

PNG_SIZE = (800, 600)


def png(size: tuple[int, int] = PNG_SIZE, colour: str = "red") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "PNG")
    return buf.getvalue()


def blobs_of(server: Server) -> list[Path]:
    """Every file in the server's blob store (temporary ones too)."""
    root = server.data_dir / "files"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def file_rows(server: Server) -> list[tuple[Any, ...]]:
    with sqlite3.connect(server.data_dir / "hubbub.db") as db:
        return db.execute("SELECT id, name, size FROM files").fetchall()


async def upload(
    http: httpx.AsyncClient,
    token: str,
    *parts: tuple[str, bytes],
    channel: str = "general",
) -> httpx.Response:
    return await http.post(
        "/api/files",
        data={"channel": channel},
        files=[("file", (name, data)) for name, data in parts],
        headers=auth(token),
    )


async def uploaded(http: httpx.AsyncClient, token: str, name: str, data: bytes, **kw: Any) -> str:
    r = await upload(http, token, (name, data), **kw)
    assert r.status_code == 201, r.text
    return str(r.json()[0]["id"])


def api_error(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code, r.text


async def until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_upload_and_download(server: Server, http: httpx.AsyncClient) -> None:
    alice = await register(http, "alice")
    data = png()
    # As a browser sends it: the name's UTF-8 bytes as they are.
    name = "../../etc/scre\x01en\u202eshot.png".encode()
    body = (
        b'--b\r\nContent-Disposition: form-data; name="channel"\r\n\r\ngeneral\r\n'
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="' + name + b'"\r\n'
        b"Content-Type: text/html\r\n\r\n" + data + b"\r\n--b--\r\n"
    )
    r = await http.post(
        "/api/files",
        content=body,
        headers={**auth(alice), "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert r.status_code == 201, r.text
    (out,) = r.json()  # a list, even of one
    assert out["name"] == "screenshot.png"  # basename, control and bidi characters gone
    assert (out["size"], out["content_type"]) == (len(data), "image/png")
    assert (out["width"], out["height"], out["thumbnail"]) == (*PNG_SIZE, True)

    r = await http.get(f"/api/files/{out['id']}", headers=auth(alice))
    assert r.status_code == 200, r.text
    assert r.content == data
    h = r.headers
    assert h["content-type"] == "image/png"
    assert h["content-disposition"] == (
        "inline; filename=\"screenshot.png\"; filename*=UTF-8''screenshot.png"
    )
    assert h["x-content-type-options"] == "nosniff"
    assert h["content-security-policy"] == "sandbox; default-src 'none'"
    assert h["accept-ranges"] == "bytes"
    assert h["cache-control"] == "private"
    assert h["content-length"] == str(len(data))

    r = await http.get(f"/api/files/{out['id']}/thumbnail", headers=auth(alice))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    assert r.headers["x-content-type-options"] == "nosniff"
    with Image.open(io.BytesIO(r.content)) as thumb:
        assert thumb.size == (360, 270)

    # Without a token: refused before anything of the file is looked at.
    api_error(await http.get(f"/api/files/{out['id']}"), 401, "not_authenticated")
    # A file with no thumbnail has none to download.
    text_id = await uploaded(http, alice, "notes.txt", b"plain words\n")
    api_error(
        await http.get(f"/api/files/{text_id}/thumbnail", headers=auth(alice)), 404, "not_found"
    )
    r = await http.get(f"/api/files/{text_id}", headers=auth(alice))
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.content == b"plain words\n"


async def test_several_files_on_one_message_reach_members(
    server: Server, http: httpx.AsyncClient
) -> None:
    alice, bob = await register(http, "alice"), await register(http, "bob")
    r = await upload(http, alice, ("red.png", png()), ("report.pdf", b"%PDF-1.4\n%\xe2\xe3\n"))
    assert r.status_code == 201, r.text
    first, second = r.json()
    assert second["content_type"] == "application/pdf"
    assert second["width"] is None and not second["thumbnail"]
    async with online(server, bob) as bws, online(server, alice) as aws:
        await subscribe(bws, "general")
        ack = await aws.request(
            {
                "action": "send",
                "channel": "general",
                "text": "",
                "client_id": "with-files-1",
                "files": [first["id"], second["id"]],
            }
        )
        assert ack["type"] == "ack", ack
        assert [f["id"] for f in ack["message"]["files"]] == [first["id"], second["id"]]
        seen = await bws.expect("message", client_id="with-files-1")
    assert seen["text"] == ""
    assert seen["files"] == [
        {
            "id": first["id"],
            "name": "red.png",
            "size": first["size"],
            "content_type": "image/png",
            "width": 800,
            "height": 600,
            "thumbnail": True,
        },
        {
            "id": second["id"],
            "name": "report.pdf",
            "size": second["size"],
            "content_type": "application/pdf",
        },
    ]
    r = await http.get("/api/channels/general/messages", headers=auth(bob))
    (message,) = [m for m in r.json()["messages"] if m["client_id"] == "with-files-1"]
    assert [f["id"] for f in message["files"]] == [first["id"], second["id"]]
    # Bob, a member, downloads them now that they are sent.
    r = await http.get(f"/api/files/{second['id']}", headers=auth(bob))
    assert r.status_code == 200 and r.content == b"%PDF-1.4\n%\xe2\xe3\n"
    assert r.headers["content-disposition"].startswith("inline;")


async def test_rest_send_with_files_and_a_retry(server: Server, http: httpx.AsyncClient) -> None:
    alice = await register(http, "alice")
    fid = await uploaded(http, alice, "a.png", png())
    body = {"text": "look", "files": [fid], "client_id": "rest-files-1"}
    r = await http.post("/api/channels/general/messages", json=body, headers=auth(alice))
    assert r.status_code == 201, r.text
    assert [f["id"] for f in r.json()["files"]] == [fid]
    # The same send again (a retry) finds the same files: no error, no copy.
    r = await http.post("/api/channels/general/messages", json=body, headers=auth(alice))
    assert r.status_code == 200 and r.json()["duplicate"], r.text
    # Another message may not take them.
    again = {"text": "again", "files": [fid], "client_id": "rest-files-2"}
    r = await http.post("/api/channels/general/messages", json=again, headers=auth(alice))
    api_error(r, 409, "file_in_use")
    # Empty text without files is still refused.
    r = await http.post("/api/channels/general/messages", json={"text": ""}, headers=auth(alice))
    api_error(r, 400, "message_too_long")


async def test_size_limit_and_quota(server_factory: Callable[..., Server]) -> None:
    server = server_factory("--limit", "max_file_bytes=100000,file_quota_bytes=250000")
    async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as http:
        alice = await register(http, "alice")
        r = await upload(http, alice, ("big.bin", b"\x01" * 100_001))
        api_error(r, 413, "file_too_large")
        assert blobs_of(server) == [] and file_rows(server) == []
        # A good file, then a bad one in the same request: neither is kept.
        r = await upload(http, alice, ("ok.bin", b"\x01" * 10), ("big.bin", b"\x01" * 200_000))
        api_error(r, 413, "file_too_large")
        assert blobs_of(server) == [] and file_rows(server) == []

        await uploaded(http, alice, "one.bin", b"\x02" * 100_000)
        await uploaded(http, alice, "two.bin", b"\x03" * 100_000)
        r = await upload(http, alice, ("three.bin", b"\x04" * 60_000))
        api_error(r, 413, "quota_exceeded")
        assert len(file_rows(server)) == 2 and len(blobs_of(server)) == 2
        await uploaded(http, alice, "fits.bin", b"\x05" * 50_000)  # exactly the quota
        api_error(await upload(http, alice, ("one-more.bin", b"x")), 413, "quota_exceeded")
        # The quota is per user.
        bob = await register(http, "bob")
        await uploaded(http, bob, "bobs.bin", b"\x06" * 100_000)
        assert len(file_rows(server)) == 4


async def test_interrupted_upload_leaves_nothing(server: Server, http: httpx.AsyncClient) -> None:
    alice = await register(http, "alice")
    boundary = "cutshort"
    start = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="channel"\r\n\r\ngeneral\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        'filename="half.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()
    head = (
        f"POST /api/files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {alice}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(start) + 5_000_000}\r\n\r\n"
    ).encode()
    _, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(head + start + b"\x07" * 2_000_000)  # 2 MB of 5: then gone
    await writer.drain()
    # The blob is being written: a temporary file exists until the cut.
    await until(lambda: bool(blobs_of(server)), "the upload to start")
    writer.transport.abort()
    await until(lambda: not blobs_of(server), "the partial blob to go")
    assert file_rows(server) == []
    # The server is fine: the next upload works.
    await uploaded(http, alice, "whole.bin", b"\x08" * 1000)
    assert len(blobs_of(server)) == 1


async def test_downloads_are_for_members_only(server: Server, http: httpx.AsyncClient) -> None:
    alice, carol = await register(http, "alice"), await register(http, "carol")
    r = await http.post(
        "/api/channels", json={"name": "secret", "private": True}, headers=auth(alice)
    )
    assert r.status_code == 201, r.text
    # Carol cannot upload to a private channel she is not in.
    api_error(await upload(http, carol, ("x.png", png()), channel="secret"), 404, "not_found")
    fid = await uploaded(http, alice, "plan.png", png(), channel="secret")
    body = {"text": "the plan", "files": [fid]}
    r = await http.post("/api/channels/secret/messages", json=body, headers=auth(alice))
    assert r.status_code == 201, r.text
    for path in (f"/api/files/{fid}", f"/api/files/{fid}/thumbnail", f"/api/files/{fid}/link"):
        api_error(await http.get(path, headers=auth(carol)), 404, "not_found")
        assert (await http.get(path, headers=auth(alice))).status_code == 200
    # A file not yet sent is its uploader's alone, even in a public channel.
    draft = await uploaded(http, alice, "draft.txt", b"not yet")
    api_error(await http.get(f"/api/files/{draft}", headers=auth(carol)), 404, "not_found")
    # A file that does not exist answers the same.
    api_error(
        await http.get("/api/files/AAAAAAAAAAAAAAAAAAAAAAAA", headers=auth(carol)), 404, "not_found"
    )
    # Once carol is invited she can read it; once she leaves, no more.
    r = await http.post(
        "/api/channels/secret/invite", json={"username": "carol"}, headers=auth(alice)
    )
    assert r.status_code == 200, r.text
    assert (await http.get(f"/api/files/{fid}", headers=auth(carol))).status_code == 200
    assert (await http.post("/api/channels/secret/leave", headers=auth(carol))).status_code == 200
    api_error(await http.get(f"/api/files/{fid}", headers=auth(carol)), 404, "not_found")


async def test_a_deleted_message_takes_its_files(server: Server, http: httpx.AsyncClient) -> None:
    alice, bob = await register(http, "alice"), await register(http, "bob")
    fid = await uploaded(http, alice, "gone.png", png())
    keep = await uploaded(http, alice, "kept.txt", b"stays")
    assert len(blobs_of(server)) == 3  # the image, its thumbnail, the text
    r = await http.post(
        "/api/channels/general/messages", json={"text": "", "files": [fid]}, headers=auth(alice)
    )
    seq = r.json()["seq"]
    r = await http.post(
        "/api/channels/general/messages", json={"text": "k", "files": [keep]}, headers=auth(alice)
    )
    assert r.status_code == 201
    assert (await http.get(f"/api/files/{fid}", headers=auth(bob))).status_code == 200
    r = await http.delete(f"/api/channels/general/messages/{seq}", headers=auth(alice))
    assert r.status_code == 200, r.text
    assert "files" not in r.json()["message"] or not r.json()["message"]["files"]
    # At once: 404 for everyone, the blobs and the row gone.
    for token in (alice, bob):
        api_error(await http.get(f"/api/files/{fid}", headers=auth(token)), 404, "not_found")
        api_error(
            await http.get(f"/api/files/{fid}/thumbnail", headers=auth(token)), 404, "not_found"
        )
    assert [row[0] for row in file_rows(server)] == [keep]
    assert len(blobs_of(server)) == 1
    r = await http.get(f"/api/files/{keep}", headers=auth(bob))
    assert r.status_code == 200 and r.content == b"stays"


async def test_pages_and_svg_are_attachments(server: Server, http: httpx.AsyncClient) -> None:
    alice, bob = await register(http, "alice"), await register(http, "bob")
    html = b"<!DOCTYPE html><html><body><script>fetch('/api/me')</script></body></html>"
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>x()</script></svg>'
    xml = b'<?xml version="1.0"?><x:script xmlns:x="http://www.w3.org/1999/xhtml">a()</x:script>'
    r = await upload(http, alice, ("page.png", html), ("pic.svg", svg), ("data.xml", xml))
    assert r.status_code == 201, r.text
    files = r.json()
    assert [f["content_type"] for f in files] == ["text/html", "image/svg+xml", "application/xml"]
    r = await http.post(
        "/api/channels/general/messages",
        json={"text": "", "files": [f["id"] for f in files]},
        headers=auth(alice),
    )
    assert r.status_code == 201, r.text
    served_as = ["application/octet-stream", "image/svg+xml", "application/xml"]
    for f, served in zip(files, served_as, strict=True):
        r = await http.get(f"/api/files/{f['id']}", headers=auth(bob))
        assert r.status_code == 200
        assert r.headers["content-type"] == served  # never text/html
        assert r.headers["content-disposition"].startswith("attachment;"), f
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["content-security-policy"] == "sandbox; default-src 'none'"


async def test_range_requests(server: Server, http: httpx.AsyncClient) -> None:
    alice = await register(http, "alice")
    data = bytes(range(256)) * 400  # 102,400 bytes
    fid = await uploaded(http, alice, "data.bin", data)
    url = f"/api/files/{fid}"

    async def get(range_: str, **extra: str) -> httpx.Response:
        return await http.get(url, headers={**auth(alice), "Range": range_, **extra})

    r = await get("bytes=10-19")
    assert r.status_code == 206 and r.content == data[10:20]
    assert r.headers["content-range"] == f"bytes 10-19/{len(data)}"
    assert r.headers["content-length"] == "10"
    r = await get("bytes=100000-")
    assert r.status_code == 206 and r.content == data[100000:]
    r = await get("bytes=-5")
    assert r.status_code == 206 and r.content == data[-5:]
    r = await get("bytes=102000-999999999")  # an end past the end: up to the end
    assert r.status_code == 206 and r.content == data[102000:]
    r = await get(f"bytes={len(data)}-")
    assert r.status_code == 416
    assert r.headers["content-range"] == f"bytes */{len(data)}"
    # Several ranges, or a stale If-Range: the whole file.
    r = await get("bytes=0-1,5-6")
    assert r.status_code == 200 and r.content == data
    r = await get("bytes=0-1", **{"If-Range": '"something else"'})
    assert r.status_code == 200 and r.content == data
    r = await get("bytes=0-1", **{"If-Range": r.headers["etag"]})
    assert r.status_code == 206 and r.content == data[:2]


def server_secret(server: Server) -> str:
    with sqlite3.connect(server.data_dir / "hubbub.db") as db:
        (value,) = db.execute("SELECT value FROM meta WHERE key = 'jwt_secret'").fetchone()
    return str(value)


async def test_signed_links(server: Server, http: httpx.AsyncClient) -> None:
    alice, bob = await register(http, "alice"), await register(http, "bob")
    one = await uploaded(http, alice, "one.png", png())
    two = await uploaded(http, alice, "two.txt", b"two")
    r = await http.get(f"/api/files/{one}/link", headers=auth(alice))
    assert r.status_code == 200, r.text
    link = r.json()
    assert link["expires_at"] > time.time() * 1000 + 3500_000
    assert link["url"].startswith(f"/api/files/{one}?t=")
    r = await http.get(link["url"])  # no Authorization: the link is enough
    assert r.status_code == 200 and r.content == png()
    token = link["url"].split("?t=", 1)[1]
    r = await http.get(f"/api/files/{one}/thumbnail?t={token}")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    # For that file only.
    api_error(await http.get(f"/api/files/{two}?t={token}"), 401, "token_invalid")
    # Never as a session's token.
    api_error(await http.get("/api/me", headers=auth(token)), 401, "token_invalid")
    r = await http.get(f"/api/files/{one}/link?thumbnail=true", headers=auth(alice))
    assert r.json()["url"].startswith(f"/api/files/{one}/thumbnail?t=")
    # Bob, who may not see the file, gets no link.
    api_error(await http.get(f"/api/files/{one}/link", headers=auth(bob)), 404, "not_found")
    # An expired link (signed as the server signs them, an hour ago).
    claims = jwt.decode(token, options={"verify_signature": False})
    stale = jwt.encode(
        {**claims, "exp": int(time.time()) - 60}, server_secret(server), algorithm="HS256"
    )
    api_error(await http.get(f"/api/files/{one}?t={stale}"), 401, "token_expired")
    # A forged one.
    forged = jwt.encode({**claims, "fid": two}, "not the secret" * 4, algorithm="HS256")
    api_error(await http.get(f"/api/files/{two}?t={forged}"), 401, "token_invalid")
    # The link ends with its session.
    assert (await http.post("/api/auth/logout", headers=auth(alice))).status_code == 204
    await until_refused(http, link["url"])


async def until_refused(http: httpx.AsyncClient, url: str) -> None:
    """Sessions are cached for half a second: refused within WAIT."""
    deadline = time.monotonic() + WAIT
    while (r := await http.get(url)).status_code == 200:
        assert time.monotonic() < deadline, "the link outlived its session"
        await asyncio.sleep(0.1)
    api_error(r, 401, "session_ended")


async def test_websocket_file_actions(server: Server, http: httpx.AsyncClient) -> None:
    alice, bob = await register(http, "alice"), await register(http, "bob")
    mine = await uploaded(http, alice, "mine.png", png())
    async with online(server, bob) as ws:
        # Someone else's file cannot be attached.
        reply = await ws.request(
            {
                "action": "send",
                "channel": "general",
                "text": "hi",
                "client_id": "b1",
                "files": [mine],
            }
        )
        assert reply["type"] == "error" and reply["code"] == "file_in_use", reply
        # Nor can bob get a link to it before it is sent.
        reply = await ws.request({"action": "file_url", "file_id": mine})
        assert reply["type"] == "error" and reply["code"] == "not_found", reply
        # This server takes uploads over HTTP only.
        reply = await ws.request(
            {"action": "upload", "channel": "general", "name": "a.bin", "size": 10}
        )
        assert reply["type"] == "error" and reply["code"] == "unsupported", reply
        reply = await ws.request({"action": "file_uploaded", "file_id": mine})
        assert reply["type"] == "error" and reply["code"] == "unsupported", reply
        # More files than a message takes.
        many = [f"{'A' * 20}{i:04d}" for i in range(11)]
        reply = await ws.request(
            {"action": "send", "channel": "general", "text": "x", "client_id": "b2", "files": many}
        )
        assert reply["type"] == "error" and reply["code"] == "invalid_input", reply
    async with online(server, alice) as ws:
        ack = await ws.request(
            {"action": "send", "channel": "general", "text": "", "client_id": "a1", "files": [mine]}
        )
        assert ack["type"] == "ack", ack
    async with online(server, bob) as ws:
        reply = await ws.request({"action": "file_url", "file_id": mine, "thumbnail": True})
        assert reply["type"] == "file_url" and reply["file_id"] == mine, reply
    r = await http.get(reply["url"])
    assert r.status_code == 200
    with Image.open(io.BytesIO(r.content)) as thumb:
        assert thumb.size == (360, 270)


async def test_bad_forms(server: Server, http: httpx.AsyncClient) -> None:
    alice = await register(http, "alice")
    # The file before the channel.
    r = await http.post(
        "/api/files",
        files=[("file", ("a.txt", b"a")), ("channel", (None, b"general"))],
        headers=auth(alice),
    )
    api_error(r, 400, "invalid_input")
    # No file at all; not multipart; a channel that does not exist.
    r = await http.post("/api/files", data={"channel": "general"}, files={}, headers=auth(alice))
    assert r.status_code == 400
    r = await http.post("/api/files", json={"channel": "general"}, headers=auth(alice))
    api_error(r, 400, "invalid_input")
    api_error(await upload(http, alice, ("a.txt", b"a"), channel="nowhere"), 404, "not_found")
    # A body cut before the closing boundary.
    r = await http.post(
        "/api/files",
        content=b'--b\r\nContent-Disposition: form-data; name="channel"\r\n\r\ngeneral\r\n'
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="x"\r\n\r\nabc',
        headers={**auth(alice), "Content-Type": "multipart/form-data; boundary=b"},
    )
    api_error(r, 400, "invalid_input")
    assert blobs_of(server) == [] and file_rows(server) == []
    # The channel may come in the query instead (a bad name: 400).
    r = await http.post(
        "/api/files?channel=general", files={"file": ("q.txt", b"q")}, headers=auth(alice)
    )
    assert r.status_code == 201 and r.json()[0]["name"] == "q.txt", r.text
    r = await http.post(
        "/api/files?channel=Not%20a%20name", files={"file": ("q.txt", b"q")}, headers=auth(alice)
    )
    api_error(r, 400, "invalid_name")
    # A JSON body's limit does not apply to uploads (1 MB by default).
    big = b"\x09" * (3 * 1024 * 1024)
    fid = await uploaded(http, alice, "big.bin", big)
    r = await http.get(f"/api/files/{fid}", headers=auth(alice))
    assert r.content == big
