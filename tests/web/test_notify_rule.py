"""The web app's notification rule (web/js/notify-rule.js) is the server's
(protocol.notify): the same table of cases, run in Chromium, gives the same
answers, schedules in time zones included."""

from __future__ import annotations

from typing import Any

import pytest

from hubbub.protocol.notify import ChannelPrefs, Incoming, Schedule, UserPrefs, notifies
from protocol.test_notify import CASES, NOW, at

from .helpers import Web

pytestmark = pytest.mark.asyncio(loop_scope="session")

RUN = """async (cases) => {
  const rule = await import("/js/notify-rule.js");
  return cases.map((c) => rule.notifies(c.prefs, c.settings, c.message, "ann", c.now, c.kind));
}"""


def case(channel: ChannelPrefs, user: UserPrefs, m: Incoming, now: int) -> dict[str, Any]:
    """A case as the web app holds it: the channel's fields, the `notifications`
    frame, a message frame."""
    s = user.schedule
    return {
        "prefs": {"level": channel.level, "muted": channel.muted},
        "settings": {
            "dnd_until": user.dnd_until,
            "schedule": None if s is None else {"start": s.start, "end": s.end, "tz": s.tz},
        },
        "message": {
            "author": {"username": m.author},
            "text": m.text,
            "thread_root": None if m.in_channel else 1,
            "deleted": m.deleted,
        },
        "kind": m.kind,
        "now": now,
    }


async def test_the_web_rule_is_the_servers(web: Web) -> None:
    ann = await web.user("ann")
    page = await web.page(ann, channel="general")
    table = [(c, u, m, NOW) for c, u, m, _ in CASES]
    night = UserPrefs(schedule=Schedule("22:00", "08:00", "Asia/Tokyo"))
    everything = ChannelPrefs("all")
    hello = Incoming("public", "bob", "hello")
    for hour, minute in [(21, 59), (22, 0), (3, 30), (7, 59), (8, 0), (12, 0)]:
        table.append((everything, night, hello, at(hour, minute, "Asia/Tokyo")))
    expected = [notifies(c, u, m, "ann", now) for c, u, m, now in table]
    assert True in expected and False in expected  # the table tells the two apart
    got = await page.evaluate(RUN, [case(*row) for row in table])
    assert got == expected
