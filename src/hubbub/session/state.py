"""The life of one client connection, as one transition table (after h11/wsproto),
and what each state lets a client do.

Every driver (the self-hosted server's asyncio connection, the Lambda handlers'
row in the connections table) keeps its connection's state here and nowhere
else: an event that is not allowed in the current state raises instead of being
quietly ignored, and a frame the state does not allow gets the state's refusal.
"""

from __future__ import annotations

import enum

from hubbub.protocol import frames as f
from hubbub.protocol.errors import ChatError, ErrorCode


class State(enum.Enum):
    AWAITING_AUTH = "awaiting_auth"  # upgraded, no identity yet: only `auth`, within auth_timeout
    AUTHENTICATING = "authenticating"  # a token or room came with the handshake: being checked
    USER = "user"  # open as an account: every native action
    GUEST = "guest"  # open as an S1 tutorial guest in one room (`?room_name=`)
    CLOSING = "closing"  # close frame sent; waiting for the peer or the timeout
    CLOSED = "closed"  # transport gone


class Event(enum.Enum):
    PRESENTED = "presented"  # identity given at the handshake (`?token=`, `?room_name=`)
    AUTHENTICATED = "authenticated"  # a valid token: a user
    ADMITTED = "admitted"  # a guest let into their room
    CLOSE_SENT = "close_sent"
    LOST = "lost"


_LIVE = (State.AWAITING_AUTH, State.AUTHENTICATING, State.USER, State.GUEST)

TRANSITIONS: dict[tuple[State, Event], State] = {
    (State.AWAITING_AUTH, Event.PRESENTED): State.AUTHENTICATING,
    (State.AWAITING_AUTH, Event.AUTHENTICATED): State.USER,  # an `auth` frame
    (State.AUTHENTICATING, Event.AUTHENTICATED): State.USER,
    (State.AUTHENTICATING, Event.ADMITTED): State.GUEST,
    **{(s, Event.CLOSE_SENT): State.CLOSING for s in _LIVE},
    **{(s, Event.LOST): State.CLOSED for s in _LIVE},
    (State.CLOSING, Event.LOST): State.CLOSED,
}

OPEN = frozenset({State.USER, State.GUEST})  # frames are routed
SENDING = frozenset(_LIVE)  # frames may still be written to the client


class Allows:
    """The client frames a state routes, and the error every other one gets."""

    __slots__ = ("frames", "refusal")

    def __init__(self, frames: frozenset[type[f.ClientFrame]], refusal: ChatError) -> None:
        self.frames = frames
        self.refusal = refusal

    def refuse(self) -> ChatError:
        """A fresh error each time: a raised exception keeps its traceback."""
        r = self.refusal
        return ChatError(r.code, r.message, field=r.field)


_NOT_YET = ChatError(ErrorCode.not_authenticated, "send an auth frame first")
_TUTORIAL: frozenset[type[f.ClientFrame]] = frozenset({f.SendMessage, f.GetRecentMessages, f.Ping})

ALLOWS: dict[State, Allows] = {
    State.AWAITING_AUTH: Allows(frozenset({f.Auth}), _NOT_YET),
    State.AUTHENTICATING: Allows(frozenset(), _NOT_YET),
    State.USER: Allows(
        frozenset(f.CLIENT_FRAMES) - {f.Auth},
        ChatError(ErrorCode.invalid_input, "already authenticated", field="action"),
    ),
    State.GUEST: Allows(
        _TUTORIAL,
        ChatError(ErrorCode.forbidden, "guests may only use sendMessage and getRecentMessages"),
    ),
    # Closing and closed connections read nothing more: the drivers drop
    # their frames before routing, so these refusals are never written.
    State.CLOSING: Allows(frozenset(), _NOT_YET),
    State.CLOSED: Allows(frozenset(), _NOT_YET),
}


class InvalidTransition(RuntimeError):
    pass


class SessionState:
    __slots__ = ("state",)

    def __init__(self, state: State = State.AWAITING_AUTH) -> None:
        self.state = state

    def fire(self, event: Event) -> State:
        try:
            self.state = TRANSITIONS[(self.state, event)]
        except KeyError:
            raise InvalidTransition(f"cannot {event.value} while {self.state.value}") from None
        return self.state

    @property
    def open(self) -> bool:
        return self.state in OPEN
