"""The Store protocol: everything the core persists, behind one interface.

Backends are chosen by URL (`store.open_store`). Every backend passes the same
contract suite in tests/store/test_contract.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from hubbub.core.models import (
    AppendRejected,
    Channel,
    ChannelKind,
    Membership,
    NewMessage,
    StoredMessage,
    User,
)


class StoreError(Exception):
    """The backend is unreachable or failed; nothing was committed."""


class NameTaken(Exception):
    pass


class Store(Protocol):
    async def open(self) -> None:
        """Connect and bring the schema up to date (migrations)."""

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise StoreError unless a round trip to the backend succeeds."""

    async def get_or_set_meta(self, key: str, value: str) -> str:
        """Store `value` under `key` unless a value is there; return the stored one.
        Nodes racing on first start all end up with the same value."""

    # users
    async def create_user(self, username: str, display_name: str, password_hash: str) -> User:
        """Raise NameTaken if the username exists."""

    async def get_user(self, user_id: int) -> User | None: ...

    async def get_user_by_name(self, username: str) -> User | None: ...

    async def update_password_hash(self, user_id: int, password_hash: str) -> None: ...

    # channels
    async def create_channel(
        self,
        name: str,
        kind: ChannelKind,
        topic: str,
        member_ids: Sequence[int],
    ) -> Channel:
        """Create a channel with its first members. Raise NameTaken if it exists."""

    async def get_channel(self, name: str) -> Channel | None: ...

    async def set_topic(self, channel_id: int, topic: str) -> None: ...

    async def channels_for(self, user_id: int) -> list[Membership]:
        """Every channel the user is a member of, with their read cursor."""

    async def public_channels(self) -> list[Channel]: ...

    async def membership(self, channel_id: int, user_id: int) -> Membership | None: ...

    async def add_member(self, channel_id: int, user_id: int) -> bool:
        """Add with the read cursor at the channel's last seq; False if already a member."""

    async def remove_member(self, channel_id: int, user_id: int) -> bool:
        """Return False if not a member."""

    async def member_names(self, channel_id: int) -> list[str]: ...

    async def set_last_read(self, channel_id: int, user_id: int, seq: int) -> int:
        """Move the cursor forward only; return the cursor after the update."""

    # messages
    async def append_messages(
        self, batch: Sequence[NewMessage]
    ) -> list[StoredMessage | AppendRejected]:
        """Store a batch in ONE transaction (group commit), in order.

        Each message gets the channel's next `seq` inside that transaction. A
        message whose (author_id, client_id) was stored before is not stored
        again: the original comes back with `duplicate=True`. A message whose
        author is not a member of the channel comes back as AppendRejected.
        """

    async def count_mentions(self, channel_id: int, after: int, username: str) -> int:
        """How many messages after `after` mention `@username` (core.mentions)."""

    async def messages(
        self,
        channel_id: int,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int,
    ) -> list[StoredMessage]:
        """With `after`: seq > after, oldest first. Otherwise seq < before (or
        the newest), newest first."""
