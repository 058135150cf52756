"""docs/protocol.md, docs/protocol.schema.json and docs/asyncapi.json, generated
from the wire contract.

`render()` returns the Markdown document, `json_schema()` the JSON Schema of
every frame and `asyncapi()` an AsyncAPI 3.0 document of both WebSocket entry
points; none writes anything. All are built from `frames`, `errors`, `limits`
and `rules` of `hubbub.protocol`, plus the examples and short notes below,
which are checked against the schemas whenever a document is rendered.
`python -m hubbub.docgen` (or `hubbub protocol-doc`) writes the three files
(`--check` exits 1 if they drift). It lives outside the protocol package
because it also checks that every client frame has a route in the session
layer, and takes what a tutorial guest may send from the session's states.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from hubbub import __version__
from hubbub.config import Settings
from hubbub.core import search as search_language
from hubbub.core.mentions import BROADCAST
from hubbub.protocol import frames as f
from hubbub.protocol.errors import CLOSE_DOCS, CloseCode, ErrorCode
from hubbub.protocol.limits import Limits
from hubbub.protocol.rules import CHANNEL_RE, MAX_GUEST_NAME, MAX_REACTIONS, RECENT, TYPING_EVERY
from hubbub.session.actions import ROUTES
from hubbub.session.state import ALLOWS, State
from hubbub.session.tutorial import NO_ROOM

MD_PATH = Path("docs/protocol.md")
SCHEMA_PATH = Path("docs/protocol.schema.json")
ASYNCAPI_PATH = Path("docs/asyncapi.json")

_REF = "#/$defs/{model}"

# --- what the schemas cannot say ---------------------------------------------------

_MSG: dict[str, Any] = {
    "channel": "general",
    "seq": 42,
    "author": {"username": "alice", "display_name": "Alice"},
    "text": "hello",
    "client_id": "c-7f3a9",
    "created_at": 1735689600000,
}
_CHANNEL: dict[str, Any] = {
    "name": "general",
    "kind": "public",
    "topic": "Company-wide",
    "last_seq": 42,
    "member_count": 3,
    "members": None,
}

_FILE_ID = "Jq3vX9sKd0bW4mT7yZp2Lg"
_FILE = {
    "id": _FILE_ID,
    "name": "screenshot.png",
    "size": 48213,
    "content_type": "image/png",
    "width": 1280,
    "height": 720,
    "thumbnail": True,
}

CLIENT_EXAMPLES: dict[type[f.ClientFrame], dict[str, Any]] = {
    f.Auth: {"action": "auth", "token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9..."},
    f.Subscribe: {"action": "subscribe", "id": 1, "channel": "general", "since": 41},
    f.Unsubscribe: {"action": "unsubscribe", "id": 2, "channel": "general"},
    f.Send: {
        "action": "send",
        "id": 3,
        "channel": "general",
        "text": "hello",
        "client_id": "c-7f3a9",
    },
    f.EditMessage: {
        "action": "edit",
        "id": 8,
        "channel": "general",
        "seq": 42,
        "text": "hello, all",
    },
    f.DeleteMessage: {"action": "delete", "id": 9, "channel": "general", "seq": 42},
    f.React: {"action": "react", "id": 10, "channel": "general", "seq": 42, "emoji": ":+1:"},
    f.Unreact: {"action": "unreact", "id": 11, "channel": "general", "seq": 42, "emoji": "👍"},
    f.PinMessage: {"action": "pin", "id": 12, "channel": "general", "seq": 42},
    f.UnpinMessage: {"action": "unpin", "id": 13, "channel": "general", "seq": 42},
    f.Pins: {"action": "pins", "id": 14, "channel": "general"},
    f.History: {"action": "history", "id": 4, "channel": "general", "before": 41, "limit": 50},
    f.Search: {
        "action": "search",
        "id": 18,
        "query": '"release notes" in:#general from:@alice after:2023-11-01',
        "order": "newest",
        "limit": 20,
        "tz": 60,
    },
    f.FileUrl: {"action": "file_url", "id": 19, "file_id": _FILE_ID},
    f.Upload: {
        "action": "upload",
        "id": 20,
        "channel": "general",
        "name": "screenshot.png",
        "size": 48213,
    },
    f.FileUploaded: {"action": "file_uploaded", "id": 21, "file_id": _FILE_ID},
    f.Thread: {"action": "thread", "id": 15, "channel": "general", "seq": 42, "after": 0},
    f.Threads: {"action": "threads", "id": 16},
    f.ReadThread: {
        "action": "read_thread",
        "id": 17,
        "channel": "general",
        "thread_root": 42,
        "seq": 45,
    },
    f.Typing: {"action": "typing", "channel": "general"},
    f.Read: {"action": "read", "id": 5, "channel": "general", "seq": 42},
    f.WatchPresence: {"action": "watch_presence", "id": 6, "usernames": ["alice", "bob"]},
    f.Ping: {"action": "ping", "id": 7},
    f.SendMessage: {
        "action": "sendMessage",
        "room_name": "lobby",
        "user_name": "alice",
        "content": "hi all",
    },
    f.GetRecentMessages: {"action": "getRecentMessages", "room_name": "lobby"},
    f.Command: {"action": "command", "id": 18, "channel": "general", "text": "/shrug ok"},
    f.GetNotifications: {"action": "notifications", "id": 19},
    f.SetNotifications: {
        "action": "set_notifications",
        "id": 20,
        "dnd_minutes": 60,
        "schedule": {"start": "22:00", "end": "08:00", "tz": "Europe/Paris"},
    },
    f.ChannelNotifications: {"action": "channel_notifications", "id": 21, "channel": "general"},
    f.SetChannelNotifications: {
        "action": "set_channel_notifications",
        "id": 22,
        "channel": "random",
        "muted": True,
    },
}

CLIENT_REPLIES: dict[type[f.ClientFrame], str] = {
    f.Auth: "`hello`; a bad token closes the connection with 4001.",
    f.Subscribe: (
        "the replayed `message`, `message_updated` and `skipped` frames (with `since`, "
        "see [Resume](#resume-after-a-reconnect)), then `subscribed`; "
        "from then on the channel's events."
    ),
    f.Unsubscribe: "`unsubscribed`.",
    f.Send: "`ack` after the commit; subscribers (the sender's too) get `message`.",
    f.EditMessage: ("`changed` after the commit; the channel's subscribers get `message_updated`."),
    f.DeleteMessage: (
        "`changed` after the commit; the channel's subscribers get `message_updated`."
    ),
    f.React: (
        "`changed` after the commit; the channel's subscribers get `message_updated` "
        "(nothing, and `seq: null`, if you had reacted so already)."
    ),
    f.Unreact: (
        "`changed` after the commit; the channel's subscribers get `message_updated` "
        "(nothing, and `seq: null`, if you had not reacted so)."
    ),
    f.PinMessage: (
        "`changed` after the commit; the channel's subscribers get `message_updated` "
        "(nothing, and `seq: null`, if it was pinned already)."
    ),
    f.UnpinMessage: (
        "`changed` after the commit; the channel's subscribers get `message_updated` "
        "(nothing, and `seq: null`, if it was not pinned)."
    ),
    f.Pins: "`pins`.",
    f.Thread: "`thread`.",
    f.Threads: "`threads`.",
    f.ReadThread: "`ok` if the frame has an `id`; all of your connections get `thread_read`.",
    f.History: "`history`.",
    f.Search: (
        "`search_results` (see [Search](#search)); a malformed query: `invalid_query`; on "
        "the DynamoDB store: `unsupported`."
    ),
    f.FileUrl: "`file_url` (see [Files](#files)); a file you may not see: `not_found`.",
    f.Upload: (
        "`upload_ticket` where the blob store has presigned uploads (S3: the Lambda "
        "deployment); elsewhere `unsupported` (upload with `POST /api/files`)."
    ),
    f.FileUploaded: (
        "`file` once the upload is checked; `file_too_large` or `quota_exceeded` "
        "(the upload is deleted), `not_found` for an unknown ticket or nothing uploaded."
    ),
    f.Typing: "`ok` if the frame has an `id`; the channel's subscribers get `typing`.",
    f.Read: "`ok` if the frame has an `id`; all of your connections get `read`.",
    f.WatchPresence: "`presence_state`, then `presence` events for the watched users.",
    f.Ping: "`pong`.",
    f.SendMessage: (
        "nothing directly; the room's tutorial connections (the sender's too, if it is "
        'one of them) get `{"messages": [...]}`, its native subscribers get `message`.'
    ),
    f.GetRecentMessages: '`{"messages": [...]}` (no `id` echoed).',
    f.Command: (
        "`command_result`; what it posts in the channel arrives as `message` too. An "
        "unknown command is `not_found`; a custom command whose server fails (too slow, "
        "an error, junk, a redirect, an address not allowed) `integration_failed`."
    ),
    f.GetNotifications: "`notifications`.",
    f.SetNotifications: (
        "`notifications` (your settings now; your other connections get it without `id`). "
        "A bad time of day, time zone or address, or `dnd_until` with `dnd_minutes`, is "
        "`invalid_input`; `email_digest: true` where the server sends no e-mail (no "
        "`--smtp-url`; the Lambda deployment) `unsupported`."
    ),
    f.ChannelNotifications: "`channel_notifications`; `not_a_member` unless you are in it.",
    f.SetChannelNotifications: (
        "`channel_notifications` (your other connections get it without `id`); "
        "`not_a_member` unless you are in it."
    ),
}

# A thread: message 42 with one reply, 44 (its root's change took 45).
_THREAD = {"reply_count": 1, "last_reply_at": 1700000010000, "reply_users": ["bob"]}
_REPLY = {
    **_MSG,
    "seq": 44,
    "author": {"username": "bob", "display_name": "Bob"},
    "text": "on it",
    "client_id": "c-9d8e7",
    "created_at": 1700000010000,
    "thread_root": 42,
}

SERVER_EXAMPLES: dict[type[f.ServerFrame], dict[str, Any]] = {
    f.Hello: {
        "type": "hello",
        "user": {"username": "alice", "display_name": "Alice"},
        "server_version": "0.1.0",
        "limits": Limits().public(),
    },
    f.Ack: {
        "type": "ack",
        "id": 3,
        "channel": "general",
        "seq": 42,
        "client_id": "c-7f3a9",
        "duplicate": False,
        "message": _MSG,
    },
    f.Message: {"type": "message", **_MSG},
    f.MessageUpdated: {
        "type": "message_updated",
        "channel": "general",
        "seq": 43,
        "message": {
            **_MSG,
            "text": "hello, all",
            "edited_at": 1700000009000,
            "reactions": [{"emoji": "👍", "count": 2, "users": ["bob", "carol"]}],
        },
    },
    f.Changed: {
        "type": "changed",
        "id": 8,
        "channel": "general",
        "seq": 43,
        "message": {**_MSG, "text": "hello, all", "edited_at": 1700000009000},
    },
    f.Skipped: {"type": "skipped", "channel": "general", "first": 43, "last": 44},
    f.Subscribed: {
        "type": "subscribed",
        "id": 1,
        "channel": "general",
        "last_seq": 42,
        "replayed": 1,
        "recovered": True,
    },
    f.Unsubscribed: {"type": "unsubscribed", "id": 2, "channel": "general"},
    f.HistoryPage: {
        "type": "history",
        "id": 4,
        "channel": "general",
        "messages": [{**_MSG, "seq": 40, "text": "earlier", "client_id": "c-1b2c3"}],
        "has_more": True,
    },
    f.SearchResults: {
        "type": "search_results",
        "id": 18,
        "query": '"release notes" in:#general from:@alice after:2023-11-01',
        "results": [
            {
                "message": {**_MSG, "text": "the release notes are up"},
                "snippet": "the release notes are up",
                "highlights": [[4, 11], [12, 17]],
            }
        ],
        "more": True,
        "next_offset": 20,
    },
    f.FileLink: {
        "type": "file_url",
        "id": 19,
        "file_id": _FILE_ID,
        "url": f"/api/files/{_FILE_ID}?t=eyJhbGciOiJIUzI1NiJ9...",
        "expires_at": 1700003600000,
    },
    f.UploadTicket: {
        "type": "upload_ticket",
        "id": 20,
        "file_id": _FILE_ID,
        "url": "https://hubbub-files.s3.amazonaws.com/",
        "fields": {"key": f"files/{_FILE_ID}", "policy": "eyJl...", "x-amz-signature": "9f2..."},
        "max_bytes": 536870912,
        "expires_at": 1700000900000,
    },
    f.FileReady: {"type": "file", "id": 21, "file": _FILE},
    f.PinsPage: {
        "type": "pins",
        "id": 14,
        "channel": "general",
        "messages": [{**_MSG, "pinned_by": "bob", "pinned_at": 1700000009000}],
    },
    f.TypingEvent: {"type": "typing", "channel": "general", "user": "bob"},
    f.PresenceEvent: {"type": "presence", "user": "bob", "status": "online"},
    f.MemberEvent: {
        "type": "member_joined",
        "channel": "general",
        "user": "carol",
        "member_count": 4,
    },
    f.ChannelEvent: {"type": "channel_joined", "channel": _CHANNEL},
    f.ChannelUpdated: {
        "type": "channel_updated",
        "channel": {**_CHANNEL, "name": "launch", "topic": "Launch day"},
        "renamed_from": "general",
    },
    f.UserUpdated: {
        "type": "user_updated",
        "user": {
            "username": "bob",
            "display_name": "Bob",
            "role": "admin",
            "custom_status": {"emoji": "🌴", "text": "On holiday", "until": 1700600000000},
        },
    },
    f.SessionEnded: {"type": "session_ended", "sessions": ["oZ3mQ1rJ8kT2vW6xY9aB4cD7"]},
    f.AccountDeactivated: {"type": "account_deactivated"},
    f.ReadEvent: {"type": "read", "channel": "general", "seq": 42},
    f.ThreadPage: {
        "type": "thread",
        "id": 15,
        "channel": "general",
        "root": {**_MSG, **_THREAD},
        "messages": [_REPLY],
        "has_more": False,
    },
    f.ThreadsList: {
        "type": "threads",
        "id": 16,
        "threads": [
            {"channel": "general", "root": {**_MSG, **_THREAD}, "last_read": 42, "unread": 1}
        ],
    },
    f.ThreadReadEvent: {"type": "thread_read", "channel": "general", "thread_root": 42, "seq": 45},
    f.PresenceState: {
        "type": "presence_state",
        "id": 6,
        "users": {"alice": "online", "bob": "offline"},
    },
    f.Pong: {"type": "pong", "id": 7, "time": 1735689600000},
    f.Ok: {"type": "ok", "id": 5},
    f.Error: {
        "type": "error",
        "id": 3,
        "code": "rate_limited",
        "message": "slow down",
        "retry_after": 0.1,
    },
    f.CommandResult: {
        "type": "command_result",
        "id": 18,
        "channel": "general",
        "command": "/shrug",
        "response_type": "in_channel",
        "text": "",
        "message": {**_MSG, "text": "ok ¯\\_(ツ)_/¯", "client_id": None},
    },
    f.EphemeralEvent: {
        "type": "ephemeral",
        "channel": "general",
        "command": "/deploy",
        "text": "staging is live",
    },
    f.NotificationsEvent: {
        "type": "notifications",
        "id": 20,
        "dnd_until": 1_700_003_600_000,
        "schedule": {"start": "22:00", "end": "08:00", "tz": "Europe/Paris"},
        "dnd": True,
        "email_digest": False,
    },
    f.ChannelNotificationsEvent: {
        "type": "channel_notifications",
        "id": 22,
        "channel": "random",
        "level": "mentions",
        "muted": True,
    },
    f.TutorialMessages: {"messages": [{"user_name": "alice", "content": "hi all"}]},
}

SERVER_SENT: dict[type[f.ServerFrame], str] = {
    f.Hello: "Once, when the connection is authenticated (not on tutorial connections).",
    f.Ack: "Answers `send`.",
    f.Message: "To the channel's subscribers; also the replay of `subscribe` with `since`.",
    f.MessageUpdated: (
        "To the channel's subscribers when a message is edited or deleted; also in the "
        "replay of `subscribe` with `since`, for messages changed since."
    ),
    f.Changed: "Answers `edit`, `delete`, `react`, `unreact`, `pin` and `unpin`.",
    f.PinsPage: "Answers `pins`.",
    f.Skipped: (
        "To the channel's subscribers, in the replay of `subscribe` with `since`, where "
        "the places of changes it folded into another frame were (up to the log's last "
        "place: a replay ends where the log does); and, only on the "
        "Lambda deployment, live too, where a send that failed after taking its seq "
        "would have been."
    ),
    f.Subscribed: "Answers `subscribe`.",
    f.Unsubscribed: "Answers `unsubscribe`.",
    f.HistoryPage: "Answers `history`.",
    f.SearchResults: "Answers `search`.",
    f.FileLink: "Answers `file_url`.",
    f.UploadTicket: "Answers `upload`.",
    f.FileReady: "Answers `file_uploaded`.",
    f.TypingEvent: "To the channel's subscribers.",
    f.PresenceEvent: (
        "To connections watching the user (`watch_presence`), when the user's first "
        "connection opens or last one closes."
    ),
    f.MemberEvent: "To the channel's subscribers.",
    f.ChannelEvent: (
        "To all of the user's connections. After `channel_left` the server unsubscribes "
        "them from the channel by itself (no `unsubscribed`)."
    ),
    f.ChannelUpdated: (
        "To the channel's subscribers, when its topic, purpose, name, archived or default "
        "state changes (`renamed_from`: after a rename)."
    ),
    f.UserUpdated: (
        "To connections watching the user (`watch_presence`) and to the user's own, when "
        "their display name, custom status, role or active state changes."
    ),
    f.SessionEnded: (
        "To all of the user's connections; those of the ended sessions then close with 4010."
    ),
    f.AccountDeactivated: "To all of the user's connections, which then close with 4011.",
    f.ReadEvent: "To all of the user's connections (the one that sent `read` too).",
    f.ThreadPage: "Answers `thread`.",
    f.ThreadsList: "Answers `threads`.",
    f.ThreadReadEvent: "To all of the user's connections (the one that sent `read_thread` too).",
    f.PresenceState: "Answers `watch_presence`.",
    f.Pong: "Answers `ping`.",
    f.Ok: "Answers `read`, and `typing` with an `id`.",
    f.Error: "Answers any frame that failed; the connection stays open.",
    f.CommandResult: "Answers `command`.",
    f.EphemeralEvent: (
        "To all of the user's connections: a custom command's later answer through its "
        "`response_url` (never stored)."
    ),
    f.NotificationsEvent: (
        "Answers `notifications` and `set_notifications`; without `id`, to all of the "
        "user's connections when their settings changed (on any device)."
    ),
    f.ChannelNotificationsEvent: (
        "Answers `channel_notifications` and `set_channel_notifications`; without `id`, "
        "to all of the user's connections when a channel's level or mute changed."
    ),
    f.TutorialMessages: (
        "On tutorial connections: one per new message in the room, and the answer "
        "to `getRecentMessages`."
    ),
}

OBJECT_NOTES: dict[str, str] = {
    "Limits": "The limits clients should respect; see [Server limits](#server-limits).",
}

LIMIT_DOCS: dict[str, str] = {
    "max_frame_bytes": (
        "Largest client message in bytes (fragments reassembled); "
        "a larger one closes the connection with 1009."
    ),
    "max_message_chars": (
        "Longest message text in characters; longer or blank text gets `message_too_long`."
    ),
    "messages_per_second": (
        "Sustained sends per second per user (per connection for tutorial guests); "
        "over it: `rate_limited` with `retry_after`."
    ),
    "message_burst": "Sends allowed in a burst before `messages_per_second` applies.",
    "max_connections_per_user": (
        "Open connections per user; one more is closed with 4029 after the upgrade."
    ),
    "max_subscriptions": (
        "Channels one connection may `subscribe` to; one more gets `too_many_subscriptions`."
    ),
    "resume_limit": (
        "Most messages replayed per channel by `subscribe` with `since`; "
        "more missed gives `recovered: false`."
    ),
    "heartbeat_interval": (
        "Seconds: how often an idle client should send `ping` (advice; the server sends no pings)."
    ),
    "idle_timeout": "Seconds without receiving anything before the server closes with 4003.",
    "auth_timeout": "Seconds a connection without `?token=` has to send `auth` (else 4002).",
    "typing_ttl": (
        "Seconds a client should show a `typing` indicator (advice; the server relays at "
        "most one `typing` per connection and channel every {typing_every:g} s)."
    ),
    "presence_ttl": (
        "Seconds after a node's last presence heartbeat before its users count as offline "
        "(a node that died without closing its connections)."
    ),
    "max_buffer_bytes": (
        "Outbound bytes queued for a connection that stopped reading; "
        "past it the connection is closed with 4008. The close frame is queued behind "
        "what the client has not read: a client that reads again within 5 s gets the "
        "4008, one that never does is then cut off (it sees 1006) and, like every "
        "client, resumes with `since` when it reconnects."
    ),
    "socket_send_buffer": (
        "The kernel's send buffer per WebSocket connection (SO_SNDBUF, bytes; the "
        "kernel doubles it; 0 leaves it to the kernel). Kept small so that a client "
        "that stopped reading reaches `max_buffer_bytes` instead of being buffered "
        "by the kernel for megabytes."
    ),
    "max_body_bytes": (
        "Largest HTTP request body in bytes; past it: 413 `body_too_large`, as soon as "
        "`Content-Length` or the bytes received pass it (the rest is never read or kept). "
        "A route that needs a token checks it first: without a valid one, 401 whatever the body."
    ),
    "max_file_bytes": (
        "Largest uploaded file in bytes; past it: 413 `file_too_large`, as soon as the bytes "
        "received pass it (the upload is streamed to the blob store and what was written is "
        "deleted). Also the size limit of a presigned upload on the Lambda deployment."
    ),
    "file_quota_bytes": (
        "Bytes of files one user may keep (every file they uploaded that still exists); an "
        "upload past it: 413 `quota_exceeded`. Deleting the messages frees their files."
    ),
    "max_files_per_message": "Files one message may carry (`files` of `send`).",
    "token_ttl": "Seconds a token from register or login stays valid (its `exp`).",
    "login_failures": (
        "Failed logins from one client address for one account within `login_window`; "
        "past it that address gets `login_throttled` for that account (even with the right "
        "password) until the window ends. Other addresses are not affected, so a stranger's "
        "failures cannot lock the owner out. A successful login forgets them."
    ),
    "login_failures_per_address": (
        "Failed logins from one client address across all accounts within `login_window`; "
        "past it every login from that address gets `login_throttled`."
    ),
    "login_failures_per_account": (
        "Failed logins for one account from all addresses within `login_window`; past it, "
        "addresses that have failed for that account in their own window get "
        "`login_throttled` (one guess per address). Addresses with no failure still log in."
    ),
    "login_window": (
        "Seconds failed logins are counted, from the first one of each count (address and "
        "account, address, account). The counts are shared by all nodes when the bus is Redis."
    ),
    "registrations_per_hour": (
        "Registration attempts (well-formed, whether the name is taken or not) per client "
        "address per hour from the first; past it: `registration_throttled` with `retry_after`. "
        "Shared by all nodes when the bus is Redis."
    ),
    "hook_retry_seconds": (
        "An outgoing webhook's failed delivery is tried again after this many seconds, "
        "doubling after each failure, at most an hour apart, each wait cut by a random "
        "part of up to half (docs/integrations.md, Outgoing webhooks)."
    ),
    "hook_attempts": (
        "Attempts at one message of an outgoing webhook, the first included; after the "
        "last it is a dead letter and the next message goes."
    ),
    "channels_per_hour": (
        "Channels one user may create (`POST /api/channels`, and tutorial rooms created "
        "by naming them): this many at once, then one more every 3600/N s. Each attempt "
        "counts, also one answered 409. Past it: 429 `rate_limited` with `retry_after`. "
        "Guests (where `--guest-rooms create`) share one count. Counted per node: a "
        "cluster of N nodes allows up to N times this."
    ),
}


# --- JSON Schema -------------------------------------------------------------------


def _action(model: type[f.ClientFrame]) -> str:
    return str(model.model_fields["action"].annotation.__args__[0])  # type: ignore[union-attr]


def _types(model: type[f.ServerFrame]) -> tuple[str, ...]:
    field = model.model_fields.get("type")
    return tuple(field.annotation.__args__) if field else ()  # type: ignore[union-attr]


def json_schema() -> dict[str, Any]:
    """One JSON Schema (2020-12) document for every client and server frame."""
    keys, defs_doc = models_json_schema(
        [(m, "validation") for m in (*f.CLIENT_FRAMES, *f.SERVER_FRAMES)],
        ref_template=_REF,
    )
    defs: dict[str, Any] = defs_doc["$defs"]
    assert "ClientFrame" not in defs and "ServerFrame" not in defs
    client_refs = [keys[(m, "validation")] for m in f.CLIENT_FRAMES]
    server_refs = [keys[(m, "validation")] for m in f.SERVER_FRAMES]
    defs["ClientFrame"] = {
        "description": (
            "A frame sent by the client, routed by `action`. Unknown fields are ignored."
        ),
        "oneOf": client_refs,
        "discriminator": {
            "propertyName": "action",
            "mapping": {
                _action(m): r["$ref"] for m, r in zip(f.CLIENT_FRAMES, client_refs, strict=True)
            },
        },
    }
    defs["ServerFrame"] = {
        "description": (
            'A frame sent by the server, told apart by `type` (the S1 tutorial\'s `{"messages": '
            "[...]}` has none)."
        ),
        "oneOf": server_refs,
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "hubbub WebSocket protocol",
        "description": (
            "Every frame on /ws, in both directions. Generated from hubbub.protocol.frames "
            "by `hubbub protocol-doc`; do not edit by hand. See protocol.md."
        ),
        "anyOf": [{"$ref": _REF.format(model=n)} for n in ("ClientFrame", "ServerFrame")],
        "$defs": dict(sorted(defs.items())),
    }


def schema_text() -> str:
    """`json_schema()` as the exact text of docs/protocol.schema.json."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


# --- AsyncAPI ---------------------------------------------------------------------

_COMPONENT = "#/components/schemas/{model}"

# The frames that answer each client frame directly (the `reply` of its
# operation); an `error` can answer any of them and is added to each.
CLIENT_ANSWERS: dict[type[f.ClientFrame], tuple[type[f.ServerFrame], ...]] = {
    f.Auth: (f.Hello,),
    f.Subscribe: (f.Message, f.MessageUpdated, f.Skipped, f.Subscribed),
    f.Unsubscribe: (f.Unsubscribed,),
    f.Send: (f.Ack,),
    f.EditMessage: (f.Changed,),
    f.DeleteMessage: (f.Changed,),
    f.React: (f.Changed,),
    f.Unreact: (f.Changed,),
    f.PinMessage: (f.Changed,),
    f.UnpinMessage: (f.Changed,),
    f.Pins: (f.PinsPage,),
    f.Thread: (f.ThreadPage,),
    f.Threads: (f.ThreadsList,),
    f.ReadThread: (f.Ok,),
    f.History: (f.HistoryPage,),
    f.Search: (f.SearchResults,),
    f.FileUrl: (f.FileLink,),
    f.Upload: (f.UploadTicket,),
    f.FileUploaded: (f.FileReady,),
    f.Typing: (f.Ok,),
    f.Read: (f.Ok,),
    f.WatchPresence: (f.PresenceState,),
    f.Ping: (f.Pong,),
    f.SendMessage: (),
    f.GetRecentMessages: (f.TutorialMessages,),
    f.Command: (f.CommandResult,),
    f.GetNotifications: (f.NotificationsEvent,),
    f.SetNotifications: (f.NotificationsEvent,),
    f.ChannelNotifications: (f.ChannelNotificationsEvent,),
    f.SetChannelNotifications: (f.ChannelNotificationsEvent,),
}

# What a tutorial guest can be sent: its room's pushes, `pong` and errors. A
# tutorial connection never gets `hello` (see `Engine.login`).
GUEST_RECEIVES: tuple[type[f.ServerFrame], ...] = (f.TutorialMessages, f.Pong, f.Error)
_NOT_ON_TUTORIAL: tuple[type[f.ServerFrame], ...] = (f.Hello,)

_SIGNED_IN_ONLY = (
    "Only on a signed-in tutorial connection (`?token=` too); a guest gets `forbidden`."
)
_SIGNED_IN_GETS = "Only on a signed-in tutorial connection (`?token=` too)."


def _wire_name(model: type[f.ClientFrame] | type[f.ServerFrame]) -> str:
    """How the frame is told apart on the wire, for titles."""
    if issubclass(model, f.ClientFrame):
        return f"action {_action(model)}"
    types = _types(model)
    return "type " + " / ".join(types) if types else "messages (no type)"


def _message(model: type[f.ClientFrame] | type[f.ServerFrame]) -> dict[str, Any]:
    example: dict[str, Any]
    if issubclass(model, f.ClientFrame):
        example, when = CLIENT_EXAMPLES[model], f"Answer: {CLIENT_REPLIES[model]}"
    else:
        example, when = SERVER_EXAMPLES[model], SERVER_SENT[model]
    model.model_validate(example)
    message: dict[str, Any] = {
        "name": model.__name__,
        "title": _wire_name(model),
        "summary": when,
    }
    doc = _doc(model)
    if model is f.Error:
        codes = ", ".join(f"`{c.name}`" for c in ErrorCode)
        doc = f"`code` is one of {codes} ([Error codes](protocol.md#error-codes))."
    if doc:
        message["description"] = doc
    message["contentType"] = "application/json"
    message["payload"] = {"$ref": _COMPONENT.format(model=model.__name__)}
    if "id" in model.model_fields:
        message["correlationId"] = {"$ref": "#/components/correlationIds/frameId"}
    message["examples"] = [{"name": model.__name__, "payload": example}]
    return message


def _query(properties: dict[str, Any], required: Sequence[str]) -> dict[str, Any]:
    query: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        query["required"] = list(required)
    return query


_TOKEN_QUERY: dict[str, Any] = {
    "type": "string",
    "description": (
        "A JWT from `POST /api/auth/register` or `POST /api/auth/login`. An invalid, "
        "expired or unknown token: the upgrade succeeds, then the server closes with 4001."
    ),
}


def _channels(
    native: Sequence[type[BaseModel]], tutorial: Sequence[type[BaseModel]]
) -> dict[str, Any]:
    def messages(models: Sequence[type[BaseModel]]) -> dict[str, Any]:
        return {m.__name__: {"$ref": f"#/components/messages/{m.__name__}"} for m in models}

    def ws(query: dict[str, Any]) -> dict[str, Any]:
        return {"ws": {"method": "GET", "query": query, "bindingVersion": "0.1.0"}}

    return {
        "native": {
            "address": "/ws",
            "title": "Native protocol",
            "description": (
                "hubbub's own protocol (no `?room_name=`). With `?token=` the connection "
                "is signed in and the first frame is `hello`; without it the first frame "
                "must be `auth` (within `auth_timeout`, else 4002). See [Authentication]"
                "(protocol.md#authentication) in protocol.md."
            ),
            "servers": [{"$ref": "#/servers/selfHosted"}],
            "messages": messages(native),
            "bindings": ws(_query({"token": _TOKEN_QUERY}, ())),
        },
        "tutorial": {
            "address": "/ws",
            "title": "S1 tutorial protocol",
            "description": (
                "The protocol of the AWS API Gateway WebSocket chat tutorial, chosen by "
                "`?room_name=`: `sendMessage`, `getRecentMessages` and pushes of "
                '`{"messages": [...]}`. Without `?token=` the connection is a guest '
                "(only where the server runs with `--allow-guests`, else 4001), which may "
                "send only `sendMessage`, `getRecentMessages` and `ping`; with it, a "
                "signed-in user who may use every native frame but `auth`, and gets no "
                "`hello`. A room that cannot be used closes the connection with 4004. See "
                "[S1 tutorial protocol](protocol.md#s1-tutorial-protocol) in protocol.md."
            ),
            "servers": [{"$ref": "#/servers/selfHosted"}],
            "messages": messages(tutorial),
            "bindings": ws(
                _query(
                    {
                        "room_name": {
                            "type": "string",
                            "pattern": CHANNEL_RE.pattern,
                            "description": "The room: the public channel of that name.",
                        },
                        "token": _TOKEN_QUERY,
                    },
                    ["room_name"],
                )
            ),
        },
    }


def _operations(
    channel: str,
    clients: Sequence[type[f.ClientFrame]],
    servers: Sequence[type[f.ServerFrame]],
    guest: tuple[frozenset[type[f.ClientFrame]], Sequence[type[f.ServerFrame]]] | None,
) -> dict[str, Any]:
    """One `receive` operation per client frame (with the frames that answer
    it as its `reply`) and one `send` per server frame, on `channel`. With
    `guest`, those a guest cannot use say so."""

    def ref(model: type[BaseModel]) -> dict[str, str]:
        return {"$ref": f"#/channels/{channel}/messages/{model.__name__}"}

    chan = {"$ref": f"#/channels/{channel}"}
    out: dict[str, Any] = {}
    for c in clients:
        desc = f"Answer: {CLIENT_REPLIES[c]}"
        if guest is not None and c not in guest[0]:
            desc += " " + _SIGNED_IN_ONLY
        answers: tuple[type[f.ServerFrame], ...] = (*CLIENT_ANSWERS[c], f.Error)
        out[f"{channel}Receive{c.__name__}"] = {
            "action": "receive",
            "channel": chan,
            "title": f"Receive {_action(c)}",
            "description": desc,
            "messages": [ref(c)],
            "reply": {
                "channel": chan,
                "messages": [ref(m) for m in answers],
            },
        }
    for s in servers:
        desc = SERVER_SENT[s]
        if guest is not None and s not in guest[1]:
            desc += " " + _SIGNED_IN_GETS
        out[f"{channel}Send{s.__name__}"] = {
            "action": "send",
            "channel": chan,
            "title": f"Send {_wire_name(s)}",
            "description": desc,
            "messages": [ref(s)],
        }
    return out


def asyncapi() -> dict[str, Any]:
    """An AsyncAPI 3.0 document of both WebSocket entry points (`/ws` and the S1
    tutorial's `/ws?room_name=`), its payloads the frames' JSON Schemas."""
    models: list[type[f.ClientFrame] | type[f.ServerFrame]] = [*f.CLIENT_FRAMES, *f.SERVER_FRAMES]
    _, defs_doc = models_json_schema([(m, "validation") for m in models], ref_template=_COMPONENT)
    schemas: dict[str, Any] = defs_doc["$defs"]
    assert all(m.__name__ in schemas for m in models)

    native_clients = [
        m
        for m in f.CLIENT_FRAMES
        if any(m in ALLOWS[s].frames for s in (State.AWAITING_AUTH, State.USER))
    ]
    tutorial_clients = [m for m in f.CLIENT_FRAMES if m in ALLOWS[State.USER].frames]
    guest_clients = ALLOWS[State.GUEST].frames
    tutorial_servers = [m for m in f.SERVER_FRAMES if m not in _NOT_ON_TUTORIAL]
    assert guest_clients <= set(tutorial_clients) and set(GUEST_RECEIVES) <= set(tutorial_servers)
    assert set(CLIENT_ANSWERS) == set(f.CLIENT_FRAMES)

    settings = Settings()
    closes = "\n".join(f"- {int(c)} `{c.name}`: {CLOSE_DOCS[c]}" for c in CloseCode)
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "hubbub WebSocket protocol",
            "version": __version__,
            "description": (
                "hubbub's real-time protocol: JSON frames over one WebSocket connection. "
                "Generated from `hubbub.protocol` by `hubbub protocol-doc`, like "
                "[protocol.md](protocol.md) (the prose, with every rule) and "
                "[protocol.schema.json](protocol.schema.json) (the same frame schemas); "
                "do not edit by hand.\n\n"
                "The application this document describes is the hubbub server, so its "
                "operations are the server's (AsyncAPI 3: `send` is what the application "
                "sends, `receive` what it receives): `receive` for each frame a client "
                "sends, with the frames that answer it as its `reply`, and `send` for each "
                "frame the server sends. A client does the opposite of each.\n\n"
                "Every frame is one JSON object in one WebSocket message (UTF-8). Client "
                "frames are routed by `action` and may carry an `id`, echoed by the frame "
                "that answers; server frames carry `type`, except the S1 tutorial's "
                '`{"messages": [...]}`. Failures are `error` frames and the connection '
                "stays open; the server closes it with these codes:\n\n" + closes
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "selfHosted": {
                "host": "{host}:{port}",
                "protocol": "ws",
                "title": "hubbub serve",
                "description": (
                    "A self-hosted `hubbub serve` (`wss` behind a TLS proxy); the same "
                    "port serves the REST API under `/api/`. The AWS Lambda deployment "
                    "([deploy-aws.md](deploy-aws.md)) speaks the same frames at its API "
                    "Gateway stage URL, `wss://{api-id}.execute-api.{region}.amazonaws.com/"
                    "{stage}`, with the same query parameters; what differs there (no "
                    "`hello` after `?token=`, HTTP statuses instead of close codes on "
                    "connect) is in [Differences from `hubbub serve`]"
                    "(deploy-aws.md#differences-from-hubbub-serve)."
                ),
                "variables": {
                    "host": {
                        "default": settings.host,
                        "description": "The host `hubbub serve --host` listens on.",
                    },
                    "port": {
                        "default": str(settings.port),
                        "description": "The port `hubbub serve --port` listens on.",
                    },
                },
            }
        },
        "channels": _channels(
            [*native_clients, *f.SERVER_FRAMES], [*tutorial_clients, *tutorial_servers]
        ),
        "operations": {
            **_operations("native", native_clients, f.SERVER_FRAMES, None),
            **_operations(
                "tutorial", tutorial_clients, tutorial_servers, (guest_clients, GUEST_RECEIVES)
            ),
        },
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "messages": {m.__name__: _message(m) for m in models},
            "correlationIds": {
                "frameId": {
                    "description": (
                        "The optional `id` of a client frame, echoed as `id` by the server "
                        "frame that answers it (`null` if it had none)."
                    ),
                    "location": "$message.payload#/id",
                }
            },
        },
    }


def asyncapi_text() -> str:
    """`asyncapi()` as the exact text of docs/asyncapi.json."""
    return json.dumps(asyncapi(), indent=2, ensure_ascii=False) + "\n"


# --- Markdown helpers --------------------------------------------------------------


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _object_heading(name: str) -> str:
    return f"object `{name}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return out


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _example(value: dict[str, Any]) -> list[str]:
    text = _json(value)
    if len(text) > 96:
        text = json.dumps(value, indent=2, ensure_ascii=False)
    return ["```json", text, "```"]


def _doc(model: type[BaseModel]) -> str:
    """The model's own docstring (not an inherited one), as one paragraph."""
    raw = model.__dict__.get("__doc__")
    if not raw:
        return ""
    return " ".join(inspect.cleandoc(raw).split())


def _members(schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """`schema` and every alternative nested in its `anyOf`s."""
    yield schema
    for alt in schema.get("anyOf", ()):
        yield from _members(alt)


def _type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{_anchor(_object_heading(name))})"
    if "const" in schema:
        return f"`{_json(schema['const'])}`"
    if "enum" in schema:
        return " or ".join(f"`{_json(v)}`" for v in schema["enum"])
    if "anyOf" in schema:
        parts: list[str] = []
        for alt in schema["anyOf"]:
            t = _type(alt)
            if t not in parts:
                parts.append(t)
        return " or ".join(parts)
    kind = schema.get("type")
    if kind == "array":
        return f"array of {_type(schema.get('items', {}))}"
    if kind == "object" and "additionalProperties" in schema:
        return f"object: string to {_type(schema['additionalProperties'])}"
    return str(kind or "any")


def _constraints(schema: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for s in _members(schema):
        lo, hi = s.get("minLength"), s.get("maxLength")
        if lo is not None or hi is not None:
            out.append(f"Length {lo or 0}-{hi}." if hi is not None else f"Length >= {lo}.")
        lo, hi = s.get("minimum"), s.get("maximum")
        if lo is not None and hi is not None:
            out.append(f"Range {lo}-{hi}.")
        elif lo is not None:
            out.append(f"Minimum {lo}.")
        elif hi is not None:
            out.append(f"Maximum {hi}.")
        if s.get("maxItems") is not None:
            out.append(f"At most {s['maxItems']} items.")
    return out


def _description(schema: dict[str, Any]) -> str:
    for s in _members(schema):
        if s.get("description"):
            return " ".join(str(s["description"]).split())
    return ""


def _fields(
    model_schema: dict[str, Any], *, sent_by_server: bool, overrides: dict[str, str]
) -> list[str]:
    required = set(model_schema.get("required", ()))
    rows = []
    for name, prop in model_schema.get("properties", {}).items():
        if name in required:
            presence = "always" if sent_by_server else "yes"
        elif "default" in prop:
            presence = f"no (default `{_json(prop['default'])}`)"
        else:
            presence = "no"
        notes = [overrides.get(name) or _description(prop), *_constraints(prop)]
        rows.append([f"`{name}`", _type(prop), presence, " ".join(n for n in notes if n)])
    header = ["field", "type", "present" if sent_by_server else "required", "notes"]
    return _table(header, rows)


# --- the document -------------------------------------------------------------------

_SERVER_ID = "The `id` of the client frame this answers, or `null` if it had none."


def _heading_for_server(model: type[f.ServerFrame]) -> str:
    types = _types(model)
    if not types:
        return '`{"messages": [...]}` (no `type`)'
    return "type " + " / ".join(f"`{t}`" for t in types)


def _overview(limits: Limits) -> list[str]:
    return [
        "## Overview",
        "",
        "### Connecting",
        "",
        "- Connect to `ws://HOST:PORT/ws` (`wss://` behind a TLS proxy). The same port "
        "serves the REST API under `/api/`.",
        "- The handshake is refused with an HTTP status before any WebSocket frame: "
        "`404` when the path is not `/ws`, `403` when the `Origin` is not allowed.",
        "- `Origin`: a handshake without one (wscat, bots, scripts) is allowed; a browser "
        "page is allowed when its `Origin` is one of the server's public origins "
        "(`--public-url` / `HUBBUB_PUBLIC_URL`, by default the address it listens on; the "
        "`Host` header is never trusted for this, so DNS rebinding gets 403) or is listed "
        "with `--allowed-origin` / `HUBBUB_ALLOWED_ORIGIN` (`*` allows all). Behind a "
        "proxy, set `--public-url` to the address people open (docs/deploy.md).",
        "- Compression is not negotiated.",
        "",
        "### Authentication",
        "",
        "- `?token=TOKEN` on the handshake URL (a token from `POST /api/auth/register` or "
        "`POST /api/auth/login`, or an API token from `POST /api/tokens`). The server "
        "logs the URL with `token=[redacted]`. A valid token: the first frame is "
        "`hello`. An invalid, expired or unknown token: the upgrade succeeds, then the "
        "connection is closed with 4001.",
        "- Without `?token=` (and without `?room_name=`), the first frame must be `auth`. "
        "Any other frame first gets an `error` with `not_authenticated` and the connection "
        "stays open; a bad token in `auth` closes it with 4001; no `auth` within "
        f"`auth_timeout` ({limits.auth_timeout:g} s by default) closes it with 4002.",
        "- `?room_name=` opens an S1 tutorial connection (see "
        f"[S1 tutorial protocol](#{_anchor('S1 tutorial protocol')})).",
        "- A user who already has `max_connections_per_user` connections open is closed with 4029.",
        "",
        "### Frames",
        "",
        "- Every frame is one JSON object in one WebSocket message, UTF-8. The server sends "
        "text frames; clients may send text frames or binary frames holding UTF-8 JSON. "
        "Fragmented messages are reassembled; a message over `max_frame_bytes` closes the "
        "connection with 1009. A text message that is not valid UTF-8 closes it with 1007 "
        "(RFC 6455), at the first fragment that cannot be UTF-8; invalid UTF-8 in a binary "
        "frame is an `invalid_utf8` error frame.",
        "- Client frames are routed by `action`. An optional `id` (string or integer) is "
        'echoed as `id` in the frame that answers. Field types are strict (`"5"` is not '
        "an integer, `1.0` is not an integer); unknown fields are ignored.",
        '- Server frames carry `type`, except the S1 tutorial\'s `{"messages": [...]}`.',
        "- A connection's frames are handled one at a time, in order, so answers come "
        "in the order of the frames they answer (events may come in between).",
        "- Bad input of any kind gets an `error` frame with a code from "
        f"[Error codes](#{_anchor('Error codes')}), with `id` echoed when the frame was a "
        "JSON object with a string or integer `id`. The connection stays open.",
        '- A missing field is reported as `"<field> not in message dict"` (the S1 '
        "tutorial's wording) with `field` set; other invalid fields as `\"<field>: "
        '<reason>"`.',
        "- Any data received counts as activity. Send `ping` when idle for "
        f"`heartbeat_interval` ({limits.heartbeat_interval:g} s); after `idle_timeout` "
        f"({limits.idle_timeout:g} s) of silence the server closes with 4003 (it looks "
        "every quarter of `idle_timeout`, so the close comes up to that much later).",
        "",
        "### Order, acknowledgement, retries",
        "",
        "- Each channel numbers its messages `seq` = 1, 2, 3, ... in commit order; "
        "clocks play no part (`created_at` is for display).",
        "- `ack` is sent only after the message is committed to the database. If storage "
        "fails, the answer is `unavailable` and nothing was stored.",
        "- A retried `send` with the same `client_id` (same sender) is not stored twice: "
        "the `ack` has `duplicate: true` and the original message and `seq`.",
        "",
        "### Sessions and accounts",
        "",
        "- Every token belongs to a session (one per login or registration). A session "
        "can be ended: `POST /api/auth/logout`, `DELETE /api/sessions/{id}` (from another "
        "device), `DELETE /api/sessions` (everywhere), a new password "
        "(`PUT /api/me/password` ends every other session), or an admin deactivating the "
        "account. From then on its token is refused everywhere within a second: REST "
        "answers 401 `session_ended` (or `account_deactivated`), a new connection is "
        "closed with 4001. Its open connections get `session_ended` (or "
        "`account_deactivated`) and are closed with 4010 (or 4011) at once, on every node: "
        "the end travels on the user's own topic, so no frame costs a database query. "
        "Clients must not reconnect with the same token after 4010 or 4011.",
        "- Accounts and the workspace are run over REST (`/docs`, tags `auth`, `users`, "
        "`admin`): sessions, password, profile and custom status, invites, roles, "
        "deactivation, channel settings, the audit log. The WebSocket carries what they "
        "change: `user_updated`, `channel_updated`, `session_ended`, "
        "`account_deactivated`. Guests (role `guest`) see only the channels they are in: "
        "others are `not_found`, as private channels are.",
        "- An API token (`hbt.<id>.<secret>`, from `POST /api/tokens`, tag "
        "`integrations`; docs/integrations.md) is a session too and is used as a JWT is: "
        "`?token=`, the `auth` frame, or `Authorization: Bearer`. It does not expire; a "
        'new password and "log out everywhere" leave it standing; revoking it '
        "(`DELETE /api/tokens/{id}`) or deactivating the account ends it as above. It "
        "may do only what its scopes allow: `read` for `subscribe`, `unsubscribe`, "
        "`pins`, `history`, `search`, `file_url`, `thread`, `threads`, "
        "`watch_presence` and `getRecentMessages` (and REST `GET`), `write` for every "
        "other action but `auth` and `ping` (and other REST methods), `admin` for the "
        "admin routes; anything else is refused with `missing_scope` (403), and the "
        "connection stays open. Bots are accounts marked `bot: true` (`UserOut`), "
        "without a password, signed in only through tokens.",
        "- On the Lambda deployment a connection's session is checked at each of its "
        "frames instead (no process holds the connection between frames): a connection "
        "of an ended session gets the error and is closed at its next frame, and events "
        "published by `hubbub serve` on the same tables do not reach Lambda connections "
        "(docs/deploy-aws.md).",
        "",
        "### How clients address channels",
        "",
        "- Frames and REST paths name channels by name (`general`, `dm:ann,bob`). A "
        "channel can be renamed (`PATCH /api/channels/{name}` with `name`, by its admins "
        "or workspace admins); its old name stays its own for good: every frame and path "
        "that names the channel by the old name still reaches it, and no other channel "
        "can take that name. So a rename breaks nothing in flight: a `send` or "
        "`subscribe` naming the old name works, a subscription stays, and resuming with "
        "`since` continues the same log.",
        "- Events name the channel by its current name. After a rename its subscribers "
        "get `channel_updated` with `renamed_from`: a client keyed by name moves its state "
        "(cursor, history, selection) from `renamed_from` to `channel.name` (the SDK and "
        "the terminal client do). A client that missed the event and sees an unknown name "
        "in a `message` should reload its channel list (`GET /api/channels`, which lists "
        "current names).",
        "- An archived channel is read-only: `send`, `edit`, `delete`, `react`, `pin`, "
        "replies, `join` and `invite` get `channel_archived`; history, threads and pins "
        "stay readable; it is hidden from `GET /api/channels` for non-members unless "
        "`?archived=true`.",
        "",
    ]


def _resume(limits: Limits) -> list[str]:
    return [
        "## The channel's log",
        "",
        "Each channel has one log, numbered by `seq` from 1 without gaps: every message "
        "sent there takes the next `seq`, and so does every change to a message "
        "(`edit`, `delete`). A message keeps the `seq` it was sent at for good: it is "
        "its id. A change is announced as `message_updated`, whose `seq` is the "
        "change's own place in the log and whose `message` is the message's state now "
        "(`message.seq` is the message's id). So `seq` is both a message's id and a "
        "position in everything that happened in the channel, and a client that keeps "
        "the last `seq` it saw can always catch up on all of it.",
        "",
        "- History (`history`, REST) returns messages in their state now: edited text "
        "with `edited_at`, a deleted message as a tombstone (`deleted: true`, empty "
        "`text`). Unread and mention counts count messages, never changes.",
        "- A message mentions you (a channel's `mentions` count) when its text has "
        "`@` and your username, not followed by more of a name (`@ann` and `@ann.` "
        "mention ann; `@anna`, `@ann-b` and `@ann.b` do not), or "
        + ", ".join(f"`@{w}`" for w in BROADCAST[:-1])
        + f" or `@{BROADCAST[-1]}`, which mention every member but the author (as in "
        "Slack): no account can be named so (registering one is `conflict`). Your own "
        "messages never mention you, nor are they unread; a deleted message counts as "
        "neither.",
        "- A change holds no content of its own: the message is stored once, in its "
        "state now. A delete removes the text (and the reactions) from storage, not "
        "only from view, and unpins it.",
        "- Threads: a `send` with `thread_root` is a reply in that message's thread (a "
        "reply to a reply goes to its root). A reply takes the next `seq`, as any "
        "message does, and its root's change (`reply_count`, `last_reply_at`, "
        "`reply_users`) takes the one after, so a client catching up gets both, and a "
        "client that never left gets `message` for the reply, then `message_updated` for "
        "the root. A reply stays in its thread (`thread`; REST "
        "`GET /api/channels/{name}/messages/{seq}/thread`): channel history leaves it "
        "out, and it is never unread in the channel, unless it was sent with "
        '`broadcast: true` ("also send to channel"). A deleted root keeps its thread: '
        "its replies stay readable, and it takes no new ones; a deleted reply stays a "
        "tombstone in the thread and in `reply_count`. The root's author, everyone who "
        "replied and everyone mentioned in a reply follow the thread: `threads` (REST "
        "`GET /api/threads`) lists them, the latest reply first, with the replies by "
        "others after your cursor in each (`read_thread` moves it).",
        "- Pins (`pin`, `unpin`) are changes too: any member may pin a message, as in "
        "Slack; the message shows `pinned_by` and `pinned_at`, and `pins` (REST: "
        "`GET /api/channels/{name}/pins`) lists the channel's pinned messages, the most "
        "recently pinned first.",
        "- Reactions (`react`, `unreact`) are changes too. A reaction is one emoji, sent "
        "as itself or as a `:shortcode:` (Slack's and GitHub's aliases) and stored as the "
        f"emoji; a message has at most {MAX_REACTIONS} different ones. Changes that change "
        "nothing (the same edit again, a second delete, a reaction made twice) take no "
        "`seq` and send no event, so retrying one is safe.",
        "",
        "Why one numbering rather than a message seq plus a revision per message: one "
        "cursor resumes everything (messages and changes, in the order they happened), "
        "the gap check stays `seq == last + 1`, and every store already had a per-channel "
        "counter to take it from. The cost: seqs of messages are no longer contiguous "
        "among themselves, so a client counts unread messages, not seq differences.",
        "",
        "## Resume after a reconnect",
        "",
        "Subscriptions belong to a connection. After reconnecting, a client subscribes "
        "again to each channel with `since` set to the last `seq` it has seen there:",
        "",
        "1. The server replays the log after `since`, oldest first, each message once: "
        "one sent after `since` as a `message` frame in its state now, at its own `seq`; "
        "one the client already had and that changed since as a `message_updated` at the "
        "place of its last change. The places that leave empty (changes folded into a "
        "later frame) come as `skipped` frames, so that `seq` still rises by one from frame "
        "to frame. Then any live events that arrived meanwhile (no duplicates, no gaps), "
        "then `subscribed` with `replayed` (how many `message` and `message_updated` "
        "frames were replayed), `last_seq` and `recovered: true`.",
        f"2. If more than `resume_limit` ({limits.resume_limit} by default) places of the "
        "log were missed, or `since` is beyond the channel's last `seq` (the server does "
        "not have what the client saw), nothing is replayed: `subscribed` has `recovered: "
        "false`, `replayed: 0` and the channel's `last_seq`. The client must page "
        "`history` itself (for example with `after: since`, repeated while `has_more`). "
        "Live events follow as usual.",
        "3. Without `since` (or `null`) only new events are sent: `replayed: 0`, "
        "`recovered: true`.",
        "",
        "A client that reconnects with its last `seq` ends with exactly the state of every "
        "message that a client which never disconnected has. The server never resumes "
        "silently with a hole. A message a client sent but got no `ack` for can be sent "
        "again with the same `client_id`.",
        "",
        "### `skipped`",
        "",
        "A channel's events reach each connection in `seq` order, and a client can count "
        "on `seq` rising by one: an event whose `seq` is more than one past the last it "
        "has is a hole, and the client subscribes again with `since` to fill it (the SDK "
        "does). A `skipped` frame (`first` to `last`) says those places hold nothing for "
        "the client: count them as seen and show nothing. A replay sends them for the "
        "places it folded. The Lambda deployment also sends them live: it takes seqs "
        "from a counter before the commit, so a seq can end up holding nothing (a send "
        "that failed after its seq was taken); `hubbub serve` takes seqs inside the "
        "commit and never has such places. On DynamoDB a seq taken inside the commit "
        "would need a transaction on the channel's counter with every concurrent writer, "
        "serialising every send of a channel; a place named where it is reached costs "
        "nothing when there is none. docs/deploy-aws.md says what keeping the order "
        "costs there.",
        "",
    ]


def _search() -> list[str]:
    limit = f.Search.model_fields["limit"]
    return [
        "## Search",
        "",
        "`search` (and `GET /api/search?q=&order=&offset=&limit=&tz=`, which answers "
        "the same body without `type` and `id`) finds messages by the words of their "
        "text, in every channel you may read: those you are a member of (your DMs "
        "included) and every public channel (archived ones too); guests only their own "
        "channels. Never a private channel or DM you are not in: leaving or being "
        "removed from one takes its messages out of your results at once. The index "
        "follows every send, edit and delete: an edited message is found by its words "
        "now, a deleted one never.",
        "",
        "The query language (Slack's):",
        "",
        "- `word`: a whole word of the text, in any case and with or without Latin "
        "accents (`cafe` finds `Café`). Several words: all of them, anywhere in the "
        "text. Words are split as the index splits text: letters and digits, so "
        "`don't` or `v1.2` is a phrase of its parts.",
        f"- `deplo*`: words beginning so (at least {search_language.MIN_PREFIX} letters "
        "before the `*`).",
        '- `"quoted phrase"`: its words next to each other, in order.',
        '- `-word`, `-"a phrase"`: leave out messages that have it (with a word or '
        "phrase to search for).",
        "- `in:#channel` (or `in:channel`, `in:dm:ann,bob`, `in:@ann` for your DM with "
        "ann): only there. A channel you cannot read answers as one that does not exist "
        "(`invalid_query`), so a query cannot tell which private channels there are.",
        "- `from:@user` (or `from:user`): only their messages. Several `in:` or several "
        "`from:`: any of them.",
        "- `after:YYYY-MM-DD` (from the next day on, as in Slack), `before:YYYY-MM-DD` "
        "(up to the day before), `on:YYYY-MM-DD`, `during:YYYY-MM` or `during:YYYY`: "
        "days in your time zone, given as `tz`, your offset from UTC in minutes.",
        "- `has:file`, `has:link` (`http://` or `https://` in the text), `is:thread` (a "
        "reply, or a message with replies).",
        "- A word with a colon that is none of these keys (`http://x`, `foo:bar`) is "
        "words. Filters alone (no word) list what they match.",
        "",
        "A malformed query is `invalid_query` (REST: 400) with a message that says what "
        f"is wrong: a known key with a bad value (`has:cats`, `before:2024-13-01`, "
        "`in:` empty), a channel you cannot read, a user who does not exist, an unclosed "
        "quote, nothing to search for, or more than "
        f"{search_language.MAX_TERMS} terms.",
        "",
        "Results come newest first (`order: newest`), or best match first (`relevance`: "
        "the full-text index's rank, where the words weigh most in the text). Each has "
        "the message as "
        "history has it, a `snippet` of its text around the first match (the whole text "
        "if short; `…` where cut) and `highlights`, the `[start, end)` offsets (Unicode "
        "code points) of the matched words in the snippet. Page with `offset` "
        f"(`limit` at most {_bound(limit, 'le')} a page): while `more` is true, "
        "`next_offset` is the next page's.",
        "",
        "To open a result where it was said, ask `history` with `around` set to its "
        "`seq` (REST: `GET /api/channels/{name}/messages?around=SEQ`): up to half the "
        "page before it, then it and the messages after it, oldest first; `has_more` "
        "says whether there are newer ones. A reply kept in its thread is not in the "
        "channel's history: open its thread (`thread_root`) instead.",
        "",
        "The DynamoDB store (the Lambda deployment, or `hubbub serve` on a "
        "`dynamodb://` URL) has no full-text index: `search` answers `unsupported` "
        "(REST: 501) there, never an empty page.",
        "",
    ]


def _files() -> list[str]:
    limits = Limits()
    return [
        "## Files",
        "",
        "A file is uploaded first, then attached to a message: `POST /api/files` "
        "(`multipart/form-data`, `?channel=NAME` or a `channel` field before the files, "
        "one or more `file` parts) streams each file to the blob store (`--blob-url`: a "
        "directory by default, or S3) and answers 201 with a list of files, in the order "
        "sent; then `send` (or `POST /api/channels/{name}/messages`) with `files: [id, "
        "...]` attaches them (at most `max_files_per_message`, "
        f"{limits.max_files_per_message}; `text` may then be empty). Only the uploader "
        "may attach a file, only to a message in the channel it was uploaded to, and "
        "only to one message (`file_in_use`); a retried send with the same `client_id` "
        "attaches the same files again, never twice. A file not attached within 24 hours "
        "is deleted.",
        "",
        "A file's type is detected from its content, never from its name or the "
        "upload's `Content-Type`; images (PNG, JPEG, GIF, WebP, up to 25 MB) get their "
        "dimensions and a thumbnail (at most 360 px a side). Every message that carries "
        "files has them in `files` (`FileOut`), in every frame and REST body.",
        "",
        f"Past `max_file_bytes` ({limits.max_file_bytes // 2**20} MiB by default), an "
        "upload is refused with 413 `file_too_large` as soon as the bytes pass it; past "
        f"the uploader's `file_quota_bytes` ({limits.file_quota_bytes // 2**30} GiB), "
        "413 `quota_exceeded`. Nothing of a refused or interrupted upload is kept.",
        "",
        "Downloads: `GET /api/files/{id}` and `/api/files/{id}/thumbnail`, for members "
        "of the file's channel while its message exists (its uploader too, before it is "
        "sent); to anyone else, and after the message is deleted, 404 `not_found`, as "
        "for a file that never existed. A browser cannot send a bearer token with `<img "
        "src>`, so `GET /api/files/{id}/link` (or the `file_url` frame) gives a URL "
        "signed for that file and user, good for an hour. Every download carries "
        "`Content-Disposition` (with the file's name), `X-Content-Type-Options: nosniff` "
        "and `Content-Security-Policy: sandbox`; only images, plain text, PDF, audio and "
        "video are `inline`, and everything a browser could run (HTML, SVG, XML, "
        "scripts, unknown types) is an `attachment`, so an uploaded page can never "
        "script hubbub's origin. Range requests are answered (206, or 416).",
        "",
        "Deleting a message deletes its files: from then on they are 404, and their "
        "blobs are removed.",
        "",
        "On the Lambda deployment (API Gateway's WebSocket cannot carry files, and there "
        "is no REST API), `upload` asks for an `upload_ticket`: a presigned S3 form to "
        "POST the file to (refused by S3 past `max_bytes`), then `file_uploaded` has it "
        "checked (size, type, thumbnail) and answers `file`; `file_url` answers a "
        "presigned S3 URL. Elsewhere `upload` answers `unsupported`.",
        "",
    ]


def _bound(field: Any, name: str) -> Any:
    return next(getattr(m, name) for m in field.metadata if hasattr(m, name))


def _tutorial(recent: int, max_guest_name: int, room_pattern: str) -> list[str]:
    return [
        "## S1 tutorial protocol",
        "",
        "The protocol of the AWS API Gateway WebSocket chat tutorial, so `wscat` and its "
        "clients work unchanged:",
        "",
        "- Connect to `/ws?room_name=ROOM`. A room is the public channel of that name, "
        "so native clients share its messages. A room name must match "
        f"`{room_pattern}`.",
        "- Anonymous connections (guests) exist only when the server runs with "
        "`--allow-guests` (or `HUBBUB_ALLOW_GUESTS=1`); otherwise `?room_name=` without "
        "`?token=` is closed with 4001. `?token=JWT&room_name=ROOM` is a signed-in "
        "tutorial connection and works without guests; the user joins the room, which "
        "is created if no channel has that name (within `channels_per_hour`); a private "
        "channel or DM they are not in closes the connection with 4004.",
        "- Which rooms guests may use is `--guest-rooms` (`HUBBUB_GUEST_ROOMS`). "
        "`existing` (the default): only public channels that exist. Every other name "
        "(invalid, private channel, DM, or unused) gets one and the same answer, so a "
        "guest cannot tell them apart: on connect, close 4004 with reason "
        f'`"{NO_ROOM}"` (on Lambda: `$connect` answers 404 with that body); '
        f'`sendMessage` to it, an `error` frame with `not_found` and `"{NO_ROOM}"`. '
        "`create`: a guest naming an unused room creates it (all guests together within "
        "`channels_per_hour`, counted as one user). This reveals which names are taken: "
        "a name whose room cannot be created and used is a private channel or a DM (or "
        "invalid), though never what it holds or who is in it.",
        "- `sendMessage` posts `content` to `room_name` (or the connection's room). A "
        "guest names itself with `user_name`, or `username` (the variant some versions "
        f"of the tutorial send), trimmed to {max_guest_name} characters (`guest` if "
        "blank). A `token` in the frame posts as that account instead (it joins the "
        "room). A guest's `sendMessage` into an archived room gets `channel_archived` "
        "(the room stays readable).",
        "- `sendMessage` frames may be written back to back without waiting: on `hubbub "
        "serve` each is checked in order and committed together with the others, and "
        "what the connection is told still comes in the order of its frames (the push "
        "of each message it posted to its own room, each error, then the answer to a "
        "later frame: a `getRecentMessages` after sends includes them). On Lambda each "
        "frame is committed within its invocation.",
        "- `getRecentMessages` answers with the room's last "
        f'{recent} messages, oldest first: `{{"messages": [{{"user_name": ..., "content": '
        "...}]}`. A room the connection may not read (unused, invalid, private, a DM it "
        'is not in) answers `{"messages": []}`, as an empty room does, whatever the mode.',
        "- Creating a channel (`POST /api/channels`) whose name is taken answers 409 "
        "`conflict` for every taken name, whatever kind of channel has it (as Slack and "
        "Mattermost do). That reveals that the name is taken, not whether it is public "
        "or private, nor anything in it.",
        '- Each new message in the room is pushed as `{"messages": [{"user_name": ..., '
        '"content": ...}]}` (one message per push). `user_name` is the author\'s username, '
        "or a guest's chosen name.",
        "- Guests may send only `sendMessage`, `getRecentMessages` and `ping`; other "
        "actions get `forbidden`.",
        "- Missing fields give `error` frames worded as in the tutorial: "
        '`"content not in message dict"`, `"room_name not in message dict"` (no '
        '`room_name` and no `?room_name=`), `"user_name not in message dict"` (a guest '
        "with neither `user_name` nor `username`).",
        "",
    ]


def render() -> str:
    """The complete protocol document (Markdown). Writes nothing."""
    assert set(ROUTES) == set(f.CLIENT_FRAMES), "a client frame no driver answers"
    schema = json_schema()
    defs: dict[str, Any] = schema["$defs"]
    limits = Limits()
    out = [
        "# hubbub WebSocket protocol",
        "",
        "> Generated by `hubbub protocol-doc` from `src/hubbub/protocol/`; do not edit by "
        "hand. The same frames as JSON Schema: [protocol.schema.json](protocol.schema.json); "
        "both WebSocket entry points, their frames and which side sends each, as an "
        "AsyncAPI 3 document: [asyncapi.json](asyncapi.json).",
        "",
    ]
    out += _overview(limits)

    out += _client_frames(defs)
    out += _server_frames(defs)

    out += ["## Objects in server frames", ""]
    frame_names = {m.__name__ for m in (*f.CLIENT_FRAMES, *f.SERVER_FRAMES)}
    objects = _objects(defs, [m.__name__ for m in f.SERVER_FRAMES], frame_names)
    assert set(OBJECT_NOTES) <= set(objects), "a note for an object no frame uses"
    for name in objects:
        out += [f"### {_object_heading(name)}", ""]
        if desc := OBJECT_NOTES.get(name) or " ".join(
            str(defs[name].get("description", "")).split()
        ):
            out += [desc, ""]
        out += _fields(defs[name], sent_by_server=True, overrides={})
        out.append("")

    out += _resume(limits)
    out += _search()
    out += _files()
    out += _tutorial(RECENT, MAX_GUEST_NAME, CHANNEL_RE.pattern)

    out += [
        "## Error codes",
        "",
        "The `code` of an `error` frame, and of the REST API's "
        '`{"error": {"code", "message", "field"?, "retry_after"?}}` bodies, which use the '
        "HTTP status shown.",
        "",
    ]
    out += _table(
        ["code", "HTTP", "meaning"],
        [[f"`{c.name}`", str(c.status), c.doc] for c in ErrorCode],
    )
    out += [
        "",
        "## Close codes",
        "",
        "The code of the WebSocket close frame the server sends. 1xxx are RFC 6455, 4xxx "
        "are hubbub's. The close reason is a short text (at most 120 bytes).",
        "",
    ]
    out += _table(
        ["code", "name", "meaning"],
        [[str(c.value), f"`{c.name}`", CLOSE_DOCS[c]] for c in CloseCode],
    )

    public = limits.public()
    out += [
        "",
        "## Server limits",
        "",
        "Defaults below. Override with `--limit name=value` on `hubbub serve` (repeatable, "
        "or comma-separated: `--limit messages_per_second=50,message_burst=100`) or with "
        "`HUBBUB_LIMIT` in the environment (same syntax, several separated by spaces). "
        "Limits marked *hello* are sent to clients in `hello`.",
        "",
    ]
    rows = []
    for fld in dataclasses.fields(Limits):
        value = getattr(limits, fld.name)
        rows.append(
            [
                f"`{fld.name}`",
                f"`{value!r}`",
                "hello" if fld.name in public else "",
                LIMIT_DOCS[fld.name].format(typing_every=TYPING_EVERY),
            ]
        )
    out += _table(["limit", "default", "in", "meaning"], rows)
    out.append("")
    return "\n".join(out)


M = TypeVar("M", bound=BaseModel)


def _frames(
    defs: dict[str, Any],
    *,
    title: str,
    columns: list[str],
    models: Sequence[type[M]],
    heading: Callable[[type[M]], str],
    label: Callable[[type[M]], str],
    lead: Callable[[type[M]], str],
    examples: Mapping[type[M], dict[str, Any]],
    sent_by_server: bool,
) -> list[str]:
    """A section of frames: an index table, then each frame's heading, doc,
    fields and an example (checked against the frame's own schema)."""
    out = [f"## {title}", ""]
    out += _table(columns, [[f"[{label(m)}](#{_anchor(heading(m))})", lead(m)] for m in models])
    out.append("")
    for model in models:
        example = examples[model]
        model.model_validate(example)  # an example that does not validate is a bug here
        out += [f"### {heading(model)}", ""]
        if doc := _doc(model):
            out += [doc, ""]
        out += [lead(model) if sent_by_server else f"Answer: {lead(model)}", ""]
        overrides = {"id": _SERVER_ID} if sent_by_server else {}
        out += _fields(defs[model.__name__], sent_by_server=sent_by_server, overrides=overrides)
        out += ["", *_example(example), ""]
    return out


def _client_frames(defs: dict[str, Any]) -> list[str]:
    return _frames(
        defs,
        title="Client frames",
        columns=["action", "answer"],
        models=f.CLIENT_FRAMES,
        heading=lambda m: f"action `{_action(m)}`",
        label=lambda m: f"`{_action(m)}`",
        lead=lambda m: CLIENT_REPLIES[m],
        examples=CLIENT_EXAMPLES,
        sent_by_server=False,
    )


def _server_frames(defs: dict[str, Any]) -> list[str]:
    return _frames(
        defs,
        title="Server frames",
        columns=["frame", "when"],
        models=f.SERVER_FRAMES,
        heading=_heading_for_server,
        label=_heading_for_server,
        lead=lambda m: SERVER_SENT[m],
        examples=SERVER_EXAMPLES,
        sent_by_server=True,
    )


def _objects(defs: dict[str, Any], roots: Sequence[str], skip: set[str]) -> list[str]:
    """Names of the objects the server frames refer to, in order of first use."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                name = ref.rsplit("/", 1)[-1]
                if name not in skip and name not in found:
                    found.append(name)
                    walk(defs[name])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for root in roots:
        walk(defs[root])
    return found


# --- command line ---------------------------------------------------------------------


def outputs() -> dict[Path, str]:
    """What each generated file must contain, by path relative to the repository."""
    return {MD_PATH: render(), SCHEMA_PATH: schema_text(), ASYNCAPI_PATH: asyncapi_text()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hubbub.docgen",
        description=(
            "Write docs/protocol.md, docs/protocol.schema.json and docs/asyncapi.json "
            "from the code."
        ),
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if a file is out of date")
    parser.add_argument("--root", type=Path, default=Path("."), help="repository root")
    args = parser.parse_args(argv)
    stale = []
    for rel, text in outputs().items():
        path = args.root / rel
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    for path in stale:
        print(f"{path} is out of date: run `python -m hubbub.docgen`", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
