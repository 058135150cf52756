"""Files in a cluster: two `hubbub serve` nodes on one PostgreSQL and one
(private) Redis. With a shared `s3://` blob store (moto over HTTP) a file
uploaded on one node is downloaded on the other, thumbnail too, and
deleting its message on either deletes it for all; with each node's default
`file://` store (its own data dir) the other node has no bytes to serve:
a cluster needs a shared blob store (docs/deploy.md)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import boto3
import httpx
import pytest
from PIL import Image

from services import PrivateRedis, drop_database, fresh_postgres_database
from support import WAIT, Server, auth, online, register, start_server, subscribe

LIMITS = "messages_per_second=1000,message_burst=1000"


@contextlib.asynccontextmanager
async def two_nodes(
    tmp_path_factory: pytest.TempPathFactory, *extra: str
) -> AsyncIterator[tuple[Server, Server]]:
    redis = PrivateRedis()  # skips (or fails under CI) without Redis
    pg = await fresh_postgres_database()  # ... and without PostgreSQL
    redis.start()
    nodes: list[Server] = []
    try:
        args = ("--database-url", pg, "--bus-url", redis.url, "--limit", LIMITS, *extra)
        root = tmp_path_factory.mktemp("files-cluster")
        nodes += [start_server(root / n, *args) for n in ("a", "b")]
        yield nodes[0], nodes[1]
    finally:
        for node in nodes:
            node.stop()
        redis.kill()
        await drop_database(pg)


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (900, 500), "orange").save(buf, "PNG")
    return buf.getvalue()


async def setup(a: httpx.AsyncClient) -> tuple[str, str, str]:
    """The owner ann and ben, both in a new public channel; their tokens and its name."""
    ann, ben = await register(a, "ann"), await register(a, "ben")
    room = f"r{uuid.uuid4().hex[:8]}"
    r = await a.post("/api/channels", json={"name": room}, headers=auth(ann))
    assert r.status_code == 201, r.text
    r = await a.post(f"/api/channels/{room}/join", headers=auth(ben))
    assert r.status_code < 300, r.text
    return ann, ben, room


async def upload(http: httpx.AsyncClient, token: str, room: str, name: str, data: bytes) -> Any:
    files = [("file", (name, data))]
    r = await http.post("/api/files", data={"channel": room}, files=files, headers=auth(token))
    assert r.status_code == 201, r.text
    return r.json()[0]


async def test_a_shared_s3_store_serves_every_node(
    tmp_path_factory: pytest.TempPathFactory, dynamodb: str
) -> None:
    bucket = f"c{uuid.uuid4().hex[:12]}"
    blob_url = f"s3://{bucket}/files?endpoint={dynamodb}&region=us-east-1&create=1"
    s3 = boto3.client(
        "s3",
        endpoint_url=dynamodb,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )

    def objects() -> set[str]:
        listed = s3.list_objects_v2(Bucket=bucket)
        return {o["Key"] for o in listed.get("Contents", [])}

    async with (
        two_nodes(tmp_path_factory, "--blob-url", blob_url) as (node_a, node_b),
        httpx.AsyncClient(base_url=node_a.url, timeout=WAIT) as a,
        httpx.AsyncClient(base_url=node_b.url, timeout=WAIT) as b,
    ):
        ann, ben, room = await setup(a)
        data = png()
        async with online(node_b, ben) as bws:
            await subscribe(bws, room)
            file = await upload(a, ann, room, "chart.png", data)
            assert file["thumbnail"] and (file["width"], file["height"]) == (900, 500)
            fid = file["id"]
            assert objects() == {f"files/{fid}", f"files/{fid}.thumb"}
            body = {"text": "the chart", "client_id": "c1", "files": [fid]}
            r = await a.post(f"/api/channels/{room}/messages", json=body, headers=auth(ann))
            assert r.status_code == 201, r.text
            seq = r.json()["seq"]
            got = await bws.expect("message", channel=room)  # by Redis, from node A
            assert got["seq"] == seq and [f["id"] for f in got["files"]] == [fid]

        r = await b.get(f"/api/files/{fid}", headers=auth(ben))
        assert r.status_code == 200 and r.content == data
        r = await b.get(f"/api/files/{fid}/thumbnail", headers=auth(ben))
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        assert max(Image.open(io.BytesIO(r.content)).size) <= 360

        r = await b.delete(f"/api/channels/{room}/messages/{seq}", headers=auth(ann))
        assert r.status_code == 200, r.text
        for who in (ann, ben):
            r = await a.get(f"/api/files/{fid}", headers=auth(who))
            assert r.status_code == 404, r.text
        # Its blobs go with it (node B deletes them once the delete is in).
        deadline = time.monotonic() + WAIT
        while objects():
            assert time.monotonic() < deadline, f"left in S3: {objects()}"
            await asyncio.sleep(0.05)


async def test_each_nodes_own_file_store_is_not_shared(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The documented limitation: the rows are shared (PostgreSQL), the bytes
    are on the disk of the node that took the upload."""
    async with (
        two_nodes(tmp_path_factory) as (node_a, node_b),
        httpx.AsyncClient(base_url=node_a.url, timeout=WAIT) as a,
        httpx.AsyncClient(base_url=node_b.url, timeout=WAIT) as b,
    ):
        ann, ben, room = await setup(a)
        file = await upload(a, ann, room, "notes.txt", b"only on node a\n")
        body = {"text": "notes", "client_id": "c1", "files": [file["id"]]}
        r = await a.post(f"/api/channels/{room}/messages", json=body, headers=auth(ann))
        assert r.status_code == 201, r.text
        r = await a.get(f"/api/files/{file['id']}", headers=auth(ben))
        assert r.status_code == 200 and r.content == b"only on node a\n"
        # Node B knows the file (the message shows it) but has no bytes.
        r = await b.get(f"/api/channels/{room}/messages", headers=auth(ben))
        assert [f["id"] for f in r.json()["messages"][0]["files"]] == [file["id"]]
        r = await b.get(f"/api/files/{file['id']}", headers=auth(ben))
        assert r.status_code == 404, r.text
