"""`max_body_bytes`: a pure ASGI middleware that refuses a request body past the
limit with 413 `body_too_large`, while it is being read.

Nothing is checked until the app asks for the body: a route that needs a token
checks it first (see `rest.AuthFirstRoute`), so a request without a valid one
gets 401 however big its body is. Then the first `receive()` refuses a
`Content-Length` over the limit before a byte of the body is read (uvicorn sends
no `100 Continue` for it either), and each later one counts the bytes of a body
sent without it (chunked), refusing it as soon as they pass the limit. The body
is never buffered here; what the client still sends is dropped by the server.

FastAPI's own `max_body_size` is not used: it turns any answer to a request
whose `Content-Length` is over the limit into 413 (a 401 too), in plain text.
"""

from __future__ import annotations

import contextlib
from typing import NoReturn

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hubbub.protocol.errors import ChatError, ErrorCode


class _TooLarge(Exception):
    """Raised by `receive()` once the 413 is sent: the app must stop reading."""


class BodyLimit:
    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        exempt: frozenset[tuple[str, str]] = frozenset(),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # (method, path) of requests that limit their own bodies (uploads).
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"], scope["path"]) in self.exempt:
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        received = 0
        started = refused = False

        async def refuse() -> NoReturn:
            nonlocal refused
            if not (started or refused):  # once started, too late: the answer is cut short
                refused = True
                err = ChatError(
                    ErrorCode.body_too_large,
                    f"the request body is larger than max_body_bytes ({self.max_bytes} bytes)",
                )
                response = JSONResponse({"error": err.body()}, status_code=err.code.status)
                await response(scope, receive, send)
            raise _TooLarge

        async def limited_receive() -> Message:
            nonlocal received
            if refused or (declared is not None and declared > self.max_bytes):
                await refuse()
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    await refuse()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:  # the app's answer to the failed read: the 413 went instead
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        # Answered with 413 (or, if the app had begun its answer, cut short).
        with contextlib.suppress(_TooLarge):
            await self.app(scope, limited_receive, guarded_send)


def _content_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
