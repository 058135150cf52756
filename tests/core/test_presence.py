from __future__ import annotations

from hubbub.core.presence import Presence


def test_online_until_last_connection_closes() -> None:
    p = Presence()
    assert p.connect(1) is True
    assert p.connect(1) is False
    assert p.connections(1) == 2
    assert p.disconnect(1) is False and p.is_online(1)
    assert p.disconnect(1) is True and not p.is_online(1)
