"""Error codes (error frames and HTTP error bodies) and WebSocket close codes.

Each code is documented here once; docs/protocol.md is generated from these
tables, so a code that is used must be listed here to exist at all.
"""

from __future__ import annotations

import enum
from typing import NamedTuple


class _Err(NamedTuple):
    status: int
    doc: str


class ErrorCode(enum.Enum):
    """`code` of an error frame or of an HTTP `{"error": {...}}` body."""

    invalid_json = _Err(400, "The frame or body is not valid JSON.")
    invalid_utf8 = _Err(
        400,
        "A binary frame's payload is not valid UTF-8 (a text frame that is not closes "
        "the connection with 1007).",
    )
    unknown_action = _Err(400, "The frame's `action` is missing or not one the server knows.")
    invalid_input = _Err(
        400,
        "A field is missing, has the wrong type or an invalid value; `field` names it.",
    )
    invalid_query = _Err(
        400, "A search query is malformed (an unknown filter, a bad date): the message says what."
    )
    invalid_name = _Err(400, "A username or channel name does not match the allowed pattern.")
    message_too_long = _Err(400, "Message text is empty or longer than `max_message_chars`.")
    weak_password = _Err(400, "The password is shorter than 8 or longer than 256 characters.")
    not_authenticated = _Err(401, "No token was given, or an action needs a signed-in user.")
    token_invalid = _Err(401, "The token is malformed, forged or signed with another secret.")
    token_expired = _Err(401, "The token's `exp` has passed: log in again.")
    bad_credentials = _Err(401, "Wrong username or password.")
    session_ended = _Err(
        401,
        "The token's session was ended (logged out, revoked from another device, "
        "or the password was changed): log in again.",
    )
    account_deactivated = _Err(
        401,
        "The account was deactivated by an admin: its tokens are refused, and it can no "
        "longer log in or connect.",
    )
    registration_closed = _Err(
        403,
        "This server takes no sign-ups (`--registration closed`), or only with an invite "
        "(`invite`): ask an admin for an invite link.",
    )
    invite_invalid = _Err(
        403, "The invite is unknown, expired, used up or revoked; nothing was created."
    )
    channel_archived = _Err(
        403, "The channel is archived: it is read-only until an admin unarchives it."
    )
    forbidden = _Err(403, "You are signed in but may not do this (e.g. guests sending natively).")
    missing_scope = _Err(
        403,
        "The API token lacks the scope this needs (`read` for reads, `write` for other "
        "actions, `admin` for the admin routes), or this needs a login, not an API token "
        "(managing tokens, bots, sessions and the password).",
    )
    not_a_member = _Err(403, "The action needs membership of a channel you can see but are not in.")
    not_found = _Err(
        404,
        "No such channel, user or route. Private channels and DMs you are not in are "
        "reported as not found, never as forbidden, so their names do not leak.",
    )
    method_not_allowed = _Err(405, "The HTTP method is not allowed on this path.")
    conflict = _Err(
        409, "The name is taken (username, or channel: a channel's former names stay its own)."
    )
    last_owner = _Err(
        409, "The workspace would be left without an active owner: promote another owner first."
    )
    message_deleted = _Err(
        409, "The message was deleted: it can no longer be edited or reacted to."
    )
    file_in_use = _Err(
        409,
        "A file named in a send is attached to another message, or is not yours, or was "
        "uploaded to another channel.",
    )
    too_many_reactions = _Err(
        409, "The message already has `MAX_REACTIONS` (50) different emoji reactions."
    )
    body_too_large = _Err(
        413, "The HTTP request body is larger than `max_body_bytes`; none of it was used."
    )
    file_too_large = _Err(413, "The file is larger than `max_file_bytes`; nothing of it was kept.")
    quota_exceeded = _Err(
        413, "The file would take your files past `file_quota_bytes`; nothing of it was kept."
    )
    rate_limited = _Err(
        429,
        "Too many messages per second, or new channels per hour, for this user; "
        "`retry_after` says when to retry.",
    )
    login_throttled = _Err(
        429,
        "Too many failed logins from this client address, for this account or for all "
        "accounts (see `login_failures`); `retry_after` says when to retry. Logins from "
        "other addresses are not affected.",
    )
    registration_throttled = _Err(
        429,
        "Too many registrations from this client address (`registrations_per_hour`); "
        "`retry_after` says when to retry.",
    )
    too_many_subscriptions = _Err(
        429, "The connection already follows `max_subscriptions` channels."
    )
    internal_error = _Err(500, "A bug in the server; the connection stays open.")
    unsupported = _Err(
        501,
        "This deployment cannot do this (search on DynamoDB, uploads through the WebSocket "
        "where the blob store has no presigned uploads): see docs/deploy-aws.md.",
    )
    integration_failed = _Err(
        502,
        "A custom command's (or webhook's) server did not answer in time, answered with an "
        "error, a redirect or not Slack's JSON, or its URL is one this server does not call "
        "(a private address not allowed): the message says which.",
    )
    unavailable = _Err(
        503, "Storage is unreachable; the message was NOT stored and no ack was sent: retry."
    )

    @property
    def status(self) -> int:
        return self.value.status

    @property
    def doc(self) -> str:
        return self.value.doc


class CloseCode(enum.IntEnum):
    """WebSocket close codes the server sends. 1xxx are RFC 6455, 4xxx are hubbub's."""

    normal = 1000
    going_away = 1001
    protocol_error = 1002
    invalid_data = 1007
    message_too_big = 1009
    internal_error = 1011
    auth_failed = 4001
    auth_timeout = 4002
    heartbeat_timeout = 4003
    room_unavailable = 4004
    session_ended = 4010
    account_deactivated = 4011
    slow_consumer = 4008
    too_many_connections = 4029


CLOSE_DOCS: dict[CloseCode, str] = {
    CloseCode.normal: "The client asked to close, or the server closed cleanly.",
    CloseCode.going_away: "The server is shutting down; reconnect (to another node) and resume.",
    CloseCode.protocol_error: "The peer broke RFC 6455 framing.",
    CloseCode.invalid_data: "A text message was not valid UTF-8 (RFC 6455 section 8.1).",
    CloseCode.message_too_big: "A frame was larger than `max_frame_bytes` (see `hello`).",
    CloseCode.internal_error: "The server hit an unexpected error on this connection.",
    CloseCode.auth_failed: "The `auth` frame or `?token=` was missing, invalid or expired.",
    CloseCode.auth_timeout: "No `auth` frame within `auth_timeout` seconds of connecting.",
    CloseCode.heartbeat_timeout: "Nothing received for `idle_timeout` seconds; send `ping`.",
    CloseCode.room_unavailable: (
        "A tutorial (`?room_name=`) connection's room cannot be used. A guest gets "
        "one reason, `no such room`, whatever the cause (invalid, private, a DM, or "
        "unused where guests may not create rooms); a user whose room closes because "
        "they left it, or who is over `channels_per_hour`, is told so."
    ),
    CloseCode.session_ended: (
        "The connection's session was ended: logged out (here or everywhere), revoked "
        "from another device, or the password was changed. Log in again; do not retry "
        "with the same token."
    ),
    CloseCode.account_deactivated: (
        "An admin deactivated the account: every connection of it, on every node, "
        "closes with this code. Do not reconnect."
    ),
    CloseCode.slow_consumer: (
        "The connection stopped reading and its outbound buffer passed `max_buffer_bytes`; "
        "reconnect and resume with `since`."
    ),
    CloseCode.too_many_connections: "The user already has `max_connections_per_user` open.",
}


class ChatError(Exception):
    """An error the client caused or must handle; carries its documented code."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        field: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.retry_after = retry_after

    def http_headers(self) -> dict[str, str]:
        """The headers an HTTP answer with this error carries."""
        headers = {}
        if self.retry_after is not None:
            headers["Retry-After"] = str(max(1, round(self.retry_after)))
        if self.code.status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return headers

    def body(self) -> dict[str, object]:
        err: dict[str, object] = {"code": self.code.name, "message": self.message}
        if self.field is not None:
            err["field"] = self.field
        if self.retry_after is not None:
            err["retry_after"] = round(self.retry_after, 3)
        return err
