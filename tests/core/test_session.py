from __future__ import annotations

import pytest

from hubbub.core.session import TRANSITIONS, Event, InvalidTransition, SessionState, State


def test_happy_path() -> None:
    s = SessionState()
    assert s.state is State.AWAITING_AUTH and not s.open
    assert s.fire(Event.AUTHENTICATED) is State.OPEN and s.open
    assert s.fire(Event.CLOSE_SENT) is State.CLOSING
    assert s.fire(Event.LOST) is State.CLOSED


@pytest.mark.parametrize("state", list(State))
def test_every_state_either_allows_or_refuses_loudly(state: State) -> None:
    for event in Event:
        s = SessionState()
        s.state = state
        if (state, event) in TRANSITIONS:
            assert s.fire(event) is TRANSITIONS[(state, event)]
        else:
            with pytest.raises(InvalidTransition):
                s.fire(event)


def test_closed_is_terminal() -> None:
    assert not [k for k in TRANSITIONS if k[0] is State.CLOSED]
