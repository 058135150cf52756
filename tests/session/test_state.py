"""The connection state table: every transition either happens or raises, and
each state's allowed actions are what the protocol documents."""

from __future__ import annotations

import pytest

from hubbub.protocol import frames as f
from hubbub.protocol.errors import ErrorCode
from hubbub.session.state import (
    ALLOWS,
    OPEN,
    SENDING,
    TRANSITIONS,
    Event,
    InvalidTransition,
    SessionState,
    State,
)


def test_a_user_by_auth_frame() -> None:
    s = SessionState()
    assert s.state is State.AWAITING_AUTH and not s.open
    assert s.fire(Event.AUTHENTICATED) is State.USER and s.open
    assert s.fire(Event.CLOSE_SENT) is State.CLOSING
    assert s.fire(Event.LOST) is State.CLOSED


def test_a_token_or_room_on_the_handshake() -> None:
    s = SessionState()
    assert s.fire(Event.PRESENTED) is State.AUTHENTICATING and not s.open
    assert s.fire(Event.ADMITTED) is State.GUEST and s.open
    with pytest.raises(InvalidTransition):
        s.fire(Event.AUTHENTICATED)  # a guest does not become a user on this connection


@pytest.mark.parametrize("state", list(State))
def test_every_state_either_allows_or_refuses_loudly(state: State) -> None:
    for event in Event:
        s = SessionState(state)
        if (state, event) in TRANSITIONS:
            assert s.fire(event) is TRANSITIONS[(state, event)]
        else:
            with pytest.raises(InvalidTransition):
                s.fire(event)


def test_closed_is_terminal_and_each_state_is_left_once() -> None:
    assert not [k for k in TRANSITIONS if k[0] is State.CLOSED]
    # Leaving USER is when presence uncounts a connection: it must have no
    # way back in, or a connection could be uncounted twice.
    assert not [
        k
        for k, to in TRANSITIONS.items()
        if to is State.USER and k[0] is not State.AWAITING_AUTH and k[0] is not State.AUTHENTICATING
    ]


def test_what_each_state_allows() -> None:
    every = set(f.CLIENT_FRAMES)
    assert ALLOWS[State.AWAITING_AUTH].frames == {f.Auth}
    assert ALLOWS[State.USER].frames == every - {f.Auth}
    assert ALLOWS[State.GUEST].frames == {f.SendMessage, f.GetRecentMessages, f.Ping}
    assert not ALLOWS[State.AUTHENTICATING].frames
    assert set(ALLOWS) == set(State)
    refusals = {s: ALLOWS[s].refuse().code for s in State}
    assert refusals[State.AWAITING_AUTH] is ErrorCode.not_authenticated
    assert refusals[State.USER] is ErrorCode.invalid_input
    assert refusals[State.GUEST] is ErrorCode.forbidden
    assert ALLOWS[State.GUEST].refuse() is not ALLOWS[State.GUEST].refuse()


def test_open_and_sending_states() -> None:
    assert {State.USER, State.GUEST} == OPEN
    assert {State.AWAITING_AUTH, State.AUTHENTICATING, State.USER, State.GUEST} == SENDING
