"""What the session layer needs of a transport's connection: the driver
interface. The self-hosted server's `Connection` and the Lambda handlers'
`LambdaConnection` implement it; the actions never see anything else.

Capabilities that differ by deployment are attributes here, not forks in the
actions: `pipelined` says whether a send's ack may be written after later
frames were read (the server) or must be awaited within the frame (a Lambda
answers within its invocation); `closes_with_code` says whether a refusal can
be a WebSocket close code (the server) or must be said in an error frame first
(a Lambda can only drop the connection).
"""

from __future__ import annotations

from typing import Any, Protocol, TypedDict

from hubbub.core.models import Channel, Scope, User
from hubbub.protocol.errors import ChatError, CloseCode
from hubbub.session.state import SessionState

FrameId = str | int | None


class Resumed(TypedDict):
    """How a subscription started: the `subscribed` frame's own fields."""

    last_seq: int
    replayed: int
    recovered: bool


class Conn(Protocol):
    session: SessionState
    user: User | None  # set once the state is USER
    session_id: str | None  # the user's session (see core.accounts), set before `admit`
    # What its API token may do (see models.Scope); None: a login, or a guest.
    scopes: tuple[Scope, ...] | None
    room: Channel | None  # the S1 tutorial room it opened on, if any

    @property
    def pipelined(self) -> bool: ...

    @property
    def closes_with_code(self) -> bool: ...

    @property
    def key(self) -> object:
        """Identifies the connection to the rate limiter (for guests)."""

    def send(self, frame: dict[str, Any]) -> None: ...

    def send_error(self, err: ChatError, fid: FrameId = None) -> None: ...

    def close(self, code: CloseCode, reason: str = "") -> None: ...

    async def admit(self, user: User | None, room: Channel | None) -> None:
        """Open as `user` (a guest if None) in `room`: the state moves to USER
        or GUEST, and the driver records it where it keeps connections."""

    async def follow(self, topic: str, *, tutorial: bool = False) -> None:
        """Receive the events of `topic` from now on (`tutorial`: as the S1
        tutorial's `{"messages": [...]}` pushes)."""

    async def resume(self, topic: str, channel: Channel, since: int | None) -> Resumed:
        """Follow a channel's topic, first replaying what came after `since`:
        replay then live, no gap and no duplicate."""

    def unfollow(self, topic: str) -> None:
        """Stop following `topic`; no event of it is written after this call."""

    async def followed(self) -> set[str]: ...

    async def throttle(self, key: str, every: float) -> bool:
        """True (and remembered) unless `key` was let through less than
        `every` seconds ago on this connection."""
