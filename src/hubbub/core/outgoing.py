"""Outgoing webhooks, one message at a time and without I/O: which messages
a hook takes, the request it makes for one (Slack's outgoing-webhook payload,
signed as Slack signs a request), and what its receiver's answer asks to post.
core.delivery sends them, in order, durably.

The payload is Slack's: form-encoded `token`, `team_id`, `team_domain`,
`service_id`, `channel_id`, `channel_name`, `timestamp`, `user_id`,
`user_name`, `text`, `trigger_word`, with hubbub's `seq` and (a reply)
`thread_root`; or the same fields as a JSON object (`format: json`, as
Mattermost offers). Every request carries `X-Slack-Request-Timestamp` and
`X-Slack-Signature` (HMAC-SHA256 of `v0:<timestamp>:<body>` with the hook's
signing secret), and `Idempotency-Key`: the delivery's id, the same on every
attempt at that message, so a receiver that honours it never acts twice.

A hook takes its channel's new messages and replies (not edits, reactions or
deleted messages), those starting with one of its trigger words if it has
any (as Slack's do), and never a bot's or a hook's answer (`is_answer`), so
that two hooks answering each other cannot loop.
"""

from __future__ import annotations

import dataclasses
import urllib.parse
from collections.abc import Sequence
from typing import Any, Literal

import orjson

from hubbub.core.callout import signature
from hubbub.core.models import Integration, StoredMessage
from hubbub.core.ports import OutboundAnswer
from hubbub.core.slack_message import message_text
from hubbub.protocol.errors import ChatError
from hubbub.protocol.rules import MAX_DISPLAY_NAME

Format = Literal["form", "json"]
FORMATS: tuple[Format, ...] = ("form", "json")
MAX_TRIGGERS = 10
MAX_TRIGGER = 32  # characters of one trigger word
TIMEOUT = 10.0  # seconds a receiver has to answer one delivery
MAX_ANSWER = 256 * 1024  # bytes of an answer read at most


def delivery_id(hook: Integration, seq: int) -> str:
    """The `Idempotency-Key` of hook's delivery of message `seq` (and the
    client_id of what its answer posts, so that is never posted twice)."""
    return f"hook-{hook.id}-{seq}"


def is_answer(message: StoredMessage) -> bool:
    """Whether `message` is what an outgoing hook's receiver answered."""
    return (message.client_id or "").startswith("hook-")


def check_triggers(triggers: Sequence[str]) -> list[str]:
    """The trigger words as kept (stripped, lowercased, no repeats), or
    ValueError saying what is wrong."""
    out: list[str] = []
    for word in triggers:
        word = word.strip().lower()
        if not word or len(word) > MAX_TRIGGER or any(c.isspace() for c in word):
            raise ValueError(f"a trigger is one word of 1-{MAX_TRIGGER} characters")
        if word not in out:
            out.append(word)
    if len(out) > MAX_TRIGGERS:
        raise ValueError(f"at most {MAX_TRIGGERS} trigger words")
    return out


def trigger_word(hook: Integration, message: StoredMessage) -> str | None:
    """The trigger word `message` starts with ("" for a hook taking every
    message), or None when the hook does not take it."""
    if message.deleted:
        return None
    triggers: list[str] = hook.config.get("triggers", [])
    if not triggers:
        return ""
    text = message.text.lstrip().lower()
    return next((t for t in triggers if text.startswith(t)), None)


@dataclasses.dataclass(frozen=True, slots=True)
class Request:
    body: bytes
    headers: dict[str, str]


def request(
    hook: Integration,
    message: StoredMessage,
    author_id: int,
    trigger: str,
    *,
    team_domain: str,
    now: float,
) -> Request:
    """The signed POST delivering `message` (by user `author_id`) to `hook`."""
    fields: dict[str, Any] = {
        "token": hook.config["token"],
        "team_id": "hubbub",
        "team_domain": team_domain,
        "service_id": hook.id,
        "channel_id": str(message.channel_id),
        "channel_name": message.channel,
        # Slack's message timestamp: seconds, with the fraction after a dot.
        "timestamp": f"{message.created_at // 1000}.{message.created_at % 1000:03d}000",
        "user_id": str(author_id),
        "user_name": message.author or message.author_name,  # a guest: its chosen name
        "text": message.text,
        "trigger_word": trigger,
        "seq": str(message.seq),
    }
    if message.thread_root is not None:
        fields["thread_root"] = str(message.thread_root)
    if hook.config.get("format") == "json":
        body = orjson.dumps(fields)
        media = "application/json"
    else:
        body = urllib.parse.urlencode(fields).encode()
        media = "application/x-www-form-urlencoded"
    stamp = str(int(now))
    return Request(
        body,
        {
            "Content-Type": media,
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signature(hook.config["signing_secret"], stamp, body),
            "Idempotency-Key": delivery_id(hook, message.seq),
        },
    )


@dataclasses.dataclass(frozen=True, slots=True)
class Reply:
    """What a receiver's answer asks to post (as the hook's account)."""

    text: str
    shown_name: str | None


def reply_of(answer: OutboundAnswer, max_chars: int) -> Reply | None:
    """A 2xx answer's reply: Slack's `{"text": ...}` (or blocks and
    attachments, degraded to text, and a `username`), or None for an empty or
    text-less one. ValueError for one that is not such JSON: the delivery
    still counts (the receiver got it), but nothing is posted."""
    if not answer.body.strip():
        return None
    if not answer.content_type.lower().startswith("application/json"):
        return None  # Slack ignores a plain answer to an outgoing webhook too
    try:
        data = orjson.loads(answer.body)
    except orjson.JSONDecodeError:
        raise ValueError("its answer is JSON that does not parse") from None
    if not isinstance(data, dict):
        raise ValueError("its answer is not a JSON object")
    try:
        text = message_text(data)
    except ChatError as exc:
        raise ValueError(f"its answer is not Slack's message JSON: {exc.message}") from None
    if not text.strip():
        return None
    if len(text) > max_chars:
        text = text[: max_chars - 1] + "…"
    name = data.get("username")
    shown = " ".join(name.split())[:MAX_DISPLAY_NAME] if isinstance(name, str) else ""
    return Reply(text, shown or None)
