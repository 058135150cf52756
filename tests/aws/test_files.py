"""Files on the Lambda deployment, end to end: `hubbub aws-local --blob-url
s3://...` (the real handlers, DynamoDB and S3 from moto over HTTP). API
Gateway's frames cannot carry files, so an upload is a presigned S3 POST
(`upload` -> `upload_ticket`, then `file_uploaded`) and a download a
presigned S3 GET (`file_url`)."""

from __future__ import annotations

import contextlib
import io
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from PIL import Image

from aws_support import AwsLocal, start_aws_local
from hubbub.client.sdk import Client
from hubbub.store.dynamo import DynamoStore
from session.drivers import LIMITS, Account, AwsDriver
from support import WAIT, WS, subscribe, ws_connect

MAX_FILE = 100_000  # max_file_bytes here: small, to go past it cheaply
PAGE = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"


@pytest.fixture(scope="module")
def bucket() -> str:
    return f"f{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def s3(dynamodb: str) -> Any:
    """A plain client of moto's S3 (the same server as DynamoDB), to look at
    the bucket behind hubbub's back."""
    return boto3.client(
        "s3",
        endpoint_url=dynamodb,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


@pytest.fixture(scope="module")
def aws_files(dynamodb: str, bucket: str) -> Iterator[AwsLocal]:
    blob_url = f"s3://{bucket}/files?endpoint={dynamodb}&region=us-east-1&create=1"
    limits = f"{LIMITS},max_file_bytes={MAX_FILE}"
    server = start_aws_local(dynamodb, "--limit", limits, "--blob-url", blob_url)
    yield server
    server.stop()


@pytest.fixture
async def drv(aws_files: AwsLocal) -> AsyncIterator[AwsDriver]:
    store = DynamoStore(aws_files.url)
    await store.open()
    try:
        yield AwsDriver(aws_files, store)
    finally:
        await store.close()


@contextlib.asynccontextmanager
async def signed_in(aws: AwsLocal, account: Account) -> AsyncIterator[WS]:
    """A connection past `hello` (`$connect` cannot push one: `auth`)."""
    async with ws_connect(aws.ws_url) as ws:
        await ws.send({"action": "auth", "token": account.token})
        await ws.expect("hello")
        yield ws


def objects(s3: Any, bucket: str) -> set[str]:
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="files/")
    return {o["Key"] for o in listed.get("Contents", [])}


def png(size: tuple[int, int] = (640, 480)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, "teal").save(buf, "PNG")
    return buf.getvalue()


async def post_form(ticket: dict[str, Any], name: str, data: bytes) -> httpx.Response:
    async with httpx.AsyncClient(timeout=WAIT) as http:
        return await http.post(ticket["url"], data=ticket["fields"], files=[("file", (name, data))])


async def test_presigned_upload_send_and_download(
    aws_files: AwsLocal, drv: AwsDriver, tmp_path: Path, s3: Any, bucket: str
) -> None:
    ann, ben, eve = [await drv.account(n) for n in ("ann", "ben", "eve")]
    room = await drv.channel("shared", ann, ben)
    page, image = tmp_path / "page.html", tmp_path / "chart.png"
    page.write_bytes(PAGE)
    image.write_bytes(png())

    client = Client(aws_files.http_url + "/local", ann.token, timeout=WAIT)
    async with client, signed_in(aws_files, ben) as bws, signed_in(aws_files, eve) as ews:
        await client.connect()
        await subscribe(bws, room)
        html = await client.upload_presigned(room, page)
        pic = await client.upload_presigned(room, image)
        # Its type from its bytes, a thumbnail made from what S3 holds.
        assert (html.name, html.size, html.content_type) == ("page.html", len(PAGE), "text/html")
        assert (pic.content_type, pic.width, pic.height, pic.thumbnail) == (
            "image/png",
            640,
            480,
            True,
        )
        # The tickets' notes are gone once the files are recorded.
        assert objects(s3, bucket) == {
            f"files/{html.id}",
            f"files/{pic.id}",
            f"files/{pic.id}.thumb",
        }

        sent = await client.send(room, "see attached", files=[html.id, pic.id])
        assert [f.id for f in sent.files] == [html.id, pic.id]
        got = await bws.expect("message", channel=room)
        assert [f["id"] for f in got["files"]] == [html.id, pic.id]
        assert got["files"][0]["content_type"] == "text/html"

        link = await bws.request({"action": "file_url", "file_id": html.id})
        assert link["type"] == "file_url" and link["file_id"] == html.id
        # A presigned S3 URL: the download does not go through hubbub at all.
        assert link["url"].startswith(f"{s3.meta.endpoint_url}/{bucket}/files/{html.id}?")
        async with httpx.AsyncClient(timeout=WAIT) as http:
            r = await http.get(link["url"])
            assert r.status_code == 200 and r.content == PAGE
            # Never shown as a page: it could script whatever origin shows it.
            assert r.headers["content-disposition"].startswith("attachment;")
            assert 'filename="page.html"' in r.headers["content-disposition"]
            assert "html" not in r.headers["content-type"]

            thumb = await bws.request({"action": "file_url", "file_id": pic.id, "thumbnail": True})
            r = await http.get(thumb["url"])
            assert r.status_code == 200 and r.content.startswith(b"\x89PNG")
            assert r.headers["content-disposition"].startswith("inline;")
            assert max(Image.open(io.BytesIO(r.content)).size) < 640

        # Not a member: as if there were no such file.
        for fid in (html.id, "NoSuchFileAtAll0000"):
            err = await ews.request({"action": "file_url", "file_id": fid})
            assert (err["type"], err["code"]) == ("error", "not_found")
        err = await ews.request({"action": "upload", "channel": room, "name": "x", "size": 1})
        assert (err["type"], err["code"]) == ("error", "not_a_member")


async def test_an_upload_past_max_file_bytes_is_refused(
    aws_files: AwsLocal, drv: AwsDriver, s3: Any, bucket: str
) -> None:
    ann = await drv.account("ann")
    room = await drv.channel("big", ann)
    async with signed_in(aws_files, ann) as ws:
        err = await ws.request(
            {"action": "upload", "channel": room, "name": "huge.bin", "size": MAX_FILE + 1}
        )
        assert (err["type"], err["code"]) == ("error", "file_too_large")

        # A client that said less than it then sends: S3 would refuse the POST
        # (the policy's content-length-range); moto does not, so this is the
        # check `file_uploaded` makes itself.
        ticket = await ws.request({"action": "upload", "channel": room, "name": "a", "size": 10})
        assert ticket["type"] == "upload_ticket" and ticket["max_bytes"] == MAX_FILE
        fid = ticket["file_id"]
        assert (await post_form(ticket, "a.bin", b"\0" * (MAX_FILE + 1))).status_code < 300
        assert f"files/{fid}" in objects(s3, bucket)
        err = await ws.request({"action": "file_uploaded", "file_id": fid})
        assert (err["type"], err["code"]) == ("error", "file_too_large")
        # Nothing left of it: not its bytes, nor its ticket, nor a row.
        assert not {k for k in objects(s3, bucket) if fid in k}
        err = await ws.request({"action": "file_url", "file_id": fid})
        assert (err["type"], err["code"]) == ("error", "not_found")
        err = await ws.request(
            {"action": "send", "channel": room, "text": "", "client_id": "c1", "files": [fid]}
        )
        assert (err["type"], err["code"]) == ("error", "file_in_use")

        # Exactly the limit is fine.
        ticket = await ws.request(
            {"action": "upload", "channel": room, "name": "b.bin", "size": MAX_FILE}
        )
        assert (await post_form(ticket, "b.bin", b"\1" * MAX_FILE)).status_code < 300
        ready = await ws.request({"action": "file_uploaded", "file_id": ticket["file_id"]})
        assert ready["type"] == "file" and ready["file"]["size"] == MAX_FILE


async def test_file_uploaded_without_an_upload(aws_files: AwsLocal, drv: AwsDriver) -> None:
    ann, ben = await drv.account("ann"), await drv.account("ben")
    room = await drv.channel("early", ann, ben)
    async with signed_in(aws_files, ann) as ws, signed_in(aws_files, ben) as bws:
        ticket = await ws.request({"action": "upload", "channel": room, "name": "a", "size": 3})
        fid = ticket["file_id"]
        err = await ws.request({"action": "file_uploaded", "file_id": fid})
        assert (err["type"], err["code"], err["field"]) == ("error", "not_found", "file_id")
        assert "nothing was uploaded" in err["message"]
        # Someone else's ticket, or none at all: no such file.
        err = await bws.request({"action": "file_uploaded", "file_id": fid})
        assert (err["code"], err["message"]) == ("not_found", "no such file")
        err = await ws.request({"action": "file_uploaded", "file_id": "NeverTicketed000000"})
        assert (err["code"], err["message"]) == ("not_found", "no such file")
        # The ticket still works once the file is there.
        assert (await post_form(ticket, "a.txt", b"abc")).status_code < 300
        ready = await ws.request({"action": "file_uploaded", "file_id": fid})
        assert ready["file"] == {
            "id": fid,
            "name": "a",
            "size": 3,
            "content_type": "text/plain",
        }
        # Saying it again is the same file, not a second one.
        again = await ws.request({"action": "file_uploaded", "file_id": fid})
        assert again["file"] == ready["file"]
        # A file alone is a message (no text needed).
        ack = await ws.request(
            {"action": "send", "channel": room, "text": "", "client_id": "c2", "files": [fid]}
        )
        assert ack["type"] == "ack" and [f["id"] for f in ack["message"]["files"]] == [fid]


async def test_search_on_dynamodb_is_unsupported(aws_files: AwsLocal, drv: AwsDriver) -> None:
    ann = await drv.account("ann")
    async with signed_in(aws_files, ann) as ws:
        err = await ws.request({"action": "search", "query": "has:file"})
        assert (err["type"], err["code"]) == ("error", "unsupported")


async def test_without_a_blob_url_there_are_no_files(dynamodb: str) -> None:
    aws = start_aws_local(dynamodb, "--limit", LIMITS)
    store = DynamoStore(aws.url)
    try:
        await store.open()
        drv = AwsDriver(aws, store)
        ann = await drv.account("ann")
        room = await drv.channel("plain", ann)
        async with signed_in(aws, ann) as ws:
            for frame in (
                {"action": "upload", "channel": room, "name": "a.txt", "size": 1},
                {"action": "file_uploaded", "file_id": "NeverTicketed000000"},
                {"action": "file_url", "file_id": "NeverTicketed000000"},
                {"action": "send", "channel": room, "text": "x", "files": ["NeverTicketed000000"]},
            ):
                err = await ws.request({"client_id": "c1", **frame} if "text" in frame else frame)
                assert (err["type"], err["code"]) == ("error", "unsupported"), frame
    finally:
        await store.close()
        aws.stop()
