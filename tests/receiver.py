"""A real HTTP server the tests start, standing for a slash command's or a
webhook's server: it records every request and answers with what the test
programmed (`answer`), on 127.0.0.1 and an ephemeral port."""

from __future__ import annotations

import dataclasses
import http.server
import queue
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from support import WAIT


@dataclasses.dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def form(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(self.body.decode(), keep_blank_values=True))


@dataclasses.dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (a slow server)


class Receiver:
    def __init__(self, port: int = 0) -> None:
        self.requests: queue.Queue[Request] = queue.Queue()
        self.answered = 0  # requests answered so far (a slow one is not, yet)
        self.answer: Callable[[Request], Reply] = lambda _: Reply()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                got = Request(
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )
                receiver.requests.put(got)
                reply = receiver.answer(got)
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(reply.body)))
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(reply.body)
                    receiver.answered += 1
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the caller gave up waiting: as a real slow server sees it

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def next(self, timeout: float = WAIT) -> Request:
        return self.requests.get(timeout=timeout)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def receiving(port: int = 0) -> Iterator[Receiver]:
    """A receiver on `port` (0: an ephemeral one); the same port again is a
    receiver back up after being down (nothing listens there meanwhile)."""
    r = Receiver(port)
    try:
        yield r
    finally:
        r.close()
