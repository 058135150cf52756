"""The life of one client connection, as one transition table (after h11/wsproto).

Transports feed it events; an event that is not allowed in the current state
raises instead of being quietly ignored.
"""

from __future__ import annotations

import enum


class State(enum.Enum):
    AWAITING_AUTH = "awaiting_auth"  # upgraded, no identity yet: only `auth` is accepted
    OPEN = "open"  # authenticated (user or tutorial guest): every action is routed
    CLOSING = "closing"  # close frame sent; waiting for the peer or the timeout
    CLOSED = "closed"  # transport gone


class Event(enum.Enum):
    AUTHENTICATED = "authenticated"
    CLOSE_SENT = "close_sent"
    LOST = "lost"


TRANSITIONS: dict[tuple[State, Event], State] = {
    (State.AWAITING_AUTH, Event.AUTHENTICATED): State.OPEN,
    (State.AWAITING_AUTH, Event.CLOSE_SENT): State.CLOSING,
    (State.AWAITING_AUTH, Event.LOST): State.CLOSED,
    (State.OPEN, Event.CLOSE_SENT): State.CLOSING,
    (State.OPEN, Event.LOST): State.CLOSED,
    (State.CLOSING, Event.LOST): State.CLOSED,
}


class InvalidTransition(RuntimeError):
    pass


class SessionState:
    __slots__ = ("state",)

    def __init__(self) -> None:
        self.state = State.AWAITING_AUTH

    def fire(self, event: Event) -> State:
        try:
            self.state = TRANSITIONS[(self.state, event)]
        except KeyError:
            raise InvalidTransition(f"cannot {event.value} while {self.state.value}") from None
        return self.state

    @property
    def open(self) -> bool:
        return self.state is State.OPEN
