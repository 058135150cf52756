"""DynamoDB on this machine: moto's server over HTTP, in a thread.

DynamoDB makes every request atomic (an `UpdateItem ADD`, a conditional put, a
transaction). moto's threaded server runs requests concurrently against
unlocked Python state, so concurrent writers could see torn updates that the
real service never shows: here requests are served one at a time, as a lock
around moto's WSGI app, while connections are still accepted concurrently.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from werkzeug.serving import BaseWSGIServer

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _serialised(app: WSGIApp) -> WSGIApp:
    lock = threading.Lock()

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with lock:
            return list(app(environ, start_response))  # the whole body, inside the lock

    return serve


class LocalDynamoDB:
    """`with LocalDynamoDB() as db: db.endpoint` -> `http://127.0.0.1:PORT`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self.port = host, port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        try:
            from moto.moto_server.werkzeug_app import (
                DomainDispatcherApplication,
                MotoRequestHandler,
                create_backend_app,
            )
            from werkzeug.serving import make_server
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError(
                "local DynamoDB needs moto: pip install 'hubbub[aws-local]'"
            ) from exc
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per request otherwise
        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(
            self.host,
            self.port,
            _serialised(app),
            threaded=True,
            request_handler=MotoRequestHandler,
        )
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="local-dynamodb", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> LocalDynamoDB:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
