"""A real SMTP server for the tests (aiosmtpd), on 127.0.0.1 and a free
port: every message it takes is put on a queue, parsed."""

from __future__ import annotations

import contextlib
import email
import email.message
import email.policy
import queue
import socket
from collections.abc import Iterator
from typing import Any

from aiosmtpd.controller import Controller


class Inbox:
    def __init__(self) -> None:
        self.received: queue.Queue[email.message.EmailMessage] = queue.Queue()
        self.port = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(msg, email.message.EmailMessage)
        self.received.put(msg)
        return "250 OK"

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def smtp_server() -> Iterator[Inbox]:
    inbox = Inbox()
    inbox.port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()  # returns once it answers on the port
    try:
        yield inbox
    finally:
        controller.stop()
