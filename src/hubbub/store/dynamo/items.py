"""Items as boto3's low-level client sees them (`{"attr": {"S": "..."}}`):
encoding attribute values, reading them back, and the keys and rows of the
store's own items."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from hubbub.core.models import ROLES, Role, Status, StoredMessage, User
from hubbub.store import files_json

T = TypeVar("T")
Item = dict[str, Any]


# --- attribute values -----------------------------------------------------------


def S(value: str) -> dict[str, str]:  # DynamoDB's own type letters
    return {"S": value}


def N(value: int) -> dict[str, str]:
    return {"N": str(value)}


def get_int(item: Item, key: str) -> int:
    return int(item[key]["N"])


def get_str(item: Item, key: str) -> str:
    return str(item[key]["S"])


def get_opt_str(item: Item, key: str) -> str | None:
    return str(item[key]["S"]) if key in item else None


def get_opt_int(item: Item, key: str) -> int | None:
    return int(item[key]["N"]) if key in item else None


def get_bool(item: Item, key: str, default: bool = False) -> bool:
    return bool(item[key]["BOOL"]) if key in item else default


def chunks(seq: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """`seq` in slices of at most `size` (the API's per-request limits)."""
    for i in range(0, len(seq), size):
        yield seq[i : i + size]


def now_ms() -> int:
    return int(time.time() * 1000)


# --- the store's items ------------------------------------------------------------


def member_key(channel_id: int, user_id: int) -> Item:
    return {"pk": S(f"user#{user_id}"), "sk": S(f"channel#{channel_id}")}


def sent_key(author_id: int, client_id: str) -> str:
    return f"sent#{author_id}#{client_id}"


def role_of(item: Item) -> Role:
    """The user item's role (items written before roles existed: a member)."""
    role = item.get("role", {}).get("S", "member")
    return next((r for r in ROLES if r == role), "member")


def user_of(item: Item) -> User:
    """A `user#<id>` item as a User. Attributes added with the workspace
    (`role`, `active`, `status_*`) or with bots (`bot`, `owner_id`) may be
    missing from older items: their defaults then."""
    return User(
        get_int(item, "id"),
        get_str(item, "username"),
        get_str(item, "display_name"),
        get_str(item, "password_hash"),
        role=role_of(item),
        active=get_bool(item, "active", True),
        status=Status(
            item.get("status_emoji", {}).get("S", ""),
            item.get("status_text", {}).get("S", ""),
            get_opt_int(item, "status_until"),
        ),
        bot=get_bool(item, "bot"),
        owner_id=get_opt_int(item, "owner_id"),
    )


# A message's reactions: per emoji, who (a list of usernames, in the order
# they reacted) and when (a list beside it), so that emoji are shown by their
# earliest reaction, as the SQL store orders them.
REACTED = "rx#"
REACTED_AT = "rxat#"


def reactions_of(item: Item) -> tuple[tuple[str, tuple[str, ...]], ...]:
    found = []
    for name, value in item.items():
        if name.startswith(REACTED):
            e = name[len(REACTED) :]
            times = item.get(REACTED_AT + e, {}).get("L", [])
            first = int(times[0]["N"]) if times else 0
            found.append((first, e, tuple(v["S"] for v in value.get("L", []))))
    return tuple((e, users) for _, e, users in sorted(found))


def message_of(item: Item, channel: str, *, duplicate: bool = False) -> StoredMessage:
    """A message item as a StoredMessage in channel `channel`: the channel's
    name NOW (`names.channel_name`), not the `channel` attribute stored with
    it, which is the name it had when the message was written."""
    return StoredMessage(
        get_int(item, "channel_id"),
        channel,
        get_int(item, "seq"),
        get_opt_str(item, "author"),
        get_str(item, "author_name"),
        get_str(item, "text"),
        get_opt_str(item, "client_id"),
        get_int(item, "created_at"),
        duplicate=duplicate,
        edited_at=get_int(item, "edited_at") if "edited_at" in item else None,
        deleted="deleted_at" in item,
        reactions=reactions_of(item),
        pinned_by=get_opt_str(item, "pinned_by"),
        pinned_at=get_int(item, "pinned_at") if "pinned_at" in item else None,
        thread_root=get_int(item, "thread_root") if "thread_root" in item else None,
        broadcast=bool(item.get("broadcast", {}).get("BOOL", False)),
        reply_count=get_int(item, "reply_count") if "reply_count" in item else 0,
        last_reply_at=get_int(item, "last_reply_at") if "last_reply_at" in item else None,
        reply_users=tuple(u["S"] for u in item.get("reply_users", {}).get("L", [])),
        files=files_json.loads(get_opt_str(item, "files")),
        shown_name=get_opt_str(item, "shown_name"),
        author_bot=get_bool(item, "author_bot"),
    )
