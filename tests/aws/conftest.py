"""Fixtures for the Lambda tests: a fresh table prefix per test and a recording
Management API. The session's moto server over HTTP is the `dynamodb` fixture
of tests/conftest.py (shared with tests/session)."""

from __future__ import annotations

import http.server
import json
import threading
import urllib.parse
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("boto3")
pytest.importorskip("moto")

from aws_support import store_url
from support import WAIT

__all__ = ["ManagementApi", "store_url"]  # test_handlers imports both from here


@pytest.fixture
def prefix() -> str:
    return f"a{uuid.uuid4().hex[:10]}-"


class ManagementApi:
    """API Gateway's Management API as the handlers see it: records what is
    posted to each connection; connections in `gone` answer 410."""

    def __init__(self) -> None:
        self.posted: dict[str, list[Any]] = {}
        self.deleted: list[str] = []
        self.gone: set[str] = set()
        self.changed = threading.Condition()
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _id(self) -> str:
                return urllib.parse.unquote(self.path.rsplit("/@connections/", 1)[1])

            def _answer(self, status: int, body: bytes = b"", error: str | None = None) -> None:
                self.send_response(status)
                if error:
                    self.send_header("x-amzn-ErrorType", error)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                cid = self._id()
                data = self.rfile.read(int(self.headers.get("content-length", 0)))
                if cid in api.gone:
                    self._answer(410, b'{"message": "Gone"}', "GoneException")
                    return
                with api.changed:
                    api.posted.setdefault(cid, []).append(json.loads(data))
                    api.changed.notify_all()
                self._answer(200)

            def do_DELETE(self) -> None:
                with api.changed:
                    api.deleted.append(self._id())
                    api.changed.notify_all()
                self._answer(204)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def frames(self, connection_id: str) -> list[Any]:
        with self.changed:
            return list(self.posted.get(connection_id, []))

    def take(self, connection_id: str) -> list[Any]:
        with self.changed:
            return self.posted.pop(connection_id, [])

    def wait_for(self, connection_id: str, count: int) -> list[Any]:
        with self.changed:
            ok = self.changed.wait_for(
                lambda: len(self.posted.get(connection_id, [])) >= count, WAIT
            )
            assert ok, f"{connection_id} got {self.posted.get(connection_id)}"
            return list(self.posted[connection_id])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def management() -> Iterator[ManagementApi]:
    api = ManagementApi()
    yield api
    api.close()
