"""What every request hubbub makes to another server (a custom slash
command, an outgoing webhook) shares: the check of its URL, made when the
integration is registered, and Slack's request signature."""

from __future__ import annotations

import hashlib
import hmac

from hubbub.core.ports import Outbound, OutboundError
from hubbub.protocol.errors import ChatError, ErrorCode

MAX_URL = 2000


def check_url(outbound: Outbound | None, url: str) -> None:
    """A ChatError unless this server would call `url` (core.ports.Outbound)."""
    if outbound is None:
        raise ChatError(ErrorCode.unsupported, "this server makes no outgoing requests")
    if len(url) > MAX_URL:
        raise ChatError(ErrorCode.invalid_input, "the URL is too long", field="url")
    try:
        outbound.check(url)
    except OutboundError as exc:
        raise ChatError(ErrorCode.invalid_input, str(exc), field="url") from None


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's request signature: `v0=` and the hex HMAC-SHA256 of
    `v0:<timestamp>:<body>` with the signing secret."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
