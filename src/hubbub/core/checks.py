"""Checks of what clients name, and the errors they answer with, shared by
the hub and the admin actions."""

from __future__ import annotations

from hubbub.core.models import Channel
from hubbub.protocol.errors import ChatError, ErrorCode
from hubbub.protocol.rules import CHANNEL_RE


def check_channel_name(name: str) -> str:
    if not CHANNEL_RE.fullmatch(name):
        raise ChatError(
            ErrorCode.invalid_name,
            "channel name must be 1-80 characters: lowercase letters, digits, '_', '-'",
            field="name",
        )
    return name


def not_found(name: str) -> ChatError:
    return ChatError(ErrorCode.not_found, f"no channel {name!r}")


def archived(channel: Channel) -> ChatError:
    return ChatError(
        ErrorCode.channel_archived, f"#{channel.name} is archived: it is read-only", field="channel"
    )
