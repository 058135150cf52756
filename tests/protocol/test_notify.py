"""The notification rule (protocol.notify), as a table of cases."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest

from hubbub.protocol.notify import (
    ChannelPrefs,
    Incoming,
    Schedule,
    UserPrefs,
    check_clock,
    check_zone,
    dnd_active,
    in_schedule,
    notifies,
)

NOW = 1_700_000_000_000
ALL = ChannelPrefs("all")
MENTIONS = ChannelPrefs("mentions")
NOTHING = ChannelPrefs("nothing")
MUTED = ChannelPrefs("all", muted=True)
FREE = UserPrefs()
SNOOZED = UserPrefs(dnd_until=NOW + 60_000)
SNOOZE_OVER = UserPrefs(dnd_until=NOW - 1)


def msg(text: str, *, kind: str = "public", author: str = "bob", **kw: bool) -> Incoming:
    return Incoming(kind, author, text, **kw)  # type: ignore[arg-type]


CASES = [
    # (channel prefs, user prefs, message, notified?)
    (MENTIONS, FREE, msg("hello"), False),
    (MENTIONS, FREE, msg("hi @ann"), True),
    (MENTIONS, FREE, msg("hi @anna"), False),  # another name
    (MENTIONS, FREE, msg("@here standup"), True),
    (MENTIONS, FREE, msg("@channel deploy"), True),
    (MENTIONS, FREE, msg("@everyone lunch"), True),
    (MENTIONS, FREE, msg("no mention", kind="dm"), True),  # a DM counts as a mention
    (ALL, FREE, msg("hello"), True),
    (ALL, FREE, msg("a reply", in_channel=False), False),  # thread-only chatter
    (ALL, FREE, msg("a reply @ann", in_channel=False), True),
    (MENTIONS, FREE, msg("a reply @ann", in_channel=False), True),
    (NOTHING, FREE, msg("hi @ann"), False),
    (NOTHING, FREE, msg("psst", kind="dm"), False),
    (MUTED, FREE, msg("hi @ann"), False),
    (MUTED, FREE, msg("@channel"), False),
    (ChannelPrefs("mentions", muted=True), FREE, msg("psst", kind="dm"), False),
    (ALL, SNOOZED, msg("hi @ann"), False),
    (ALL, SNOOZED, msg("psst", kind="dm"), False),
    (ALL, SNOOZE_OVER, msg("hi @ann"), True),
    (ALL, FREE, msg("me @ann", author="ann"), False),  # never my own
    (ALL, FREE, msg("psst", kind="dm", author="ann"), False),
    (ALL, FREE, msg("@ann", deleted=True), False),
]


@pytest.mark.parametrize(("channel", "user", "message", "expected"), CASES)
def test_the_rule(
    channel: ChannelPrefs, user: UserPrefs, message: Incoming, expected: bool
) -> None:
    assert notifies(channel, user, message, "ann", NOW) is expected


def at(hour: int, minute: int, tz: str) -> int:
    local = datetime.datetime(2026, 12, 3, hour, minute, tzinfo=zoneinfo.ZoneInfo(tz))
    return int(local.timestamp() * 1000)


@pytest.mark.parametrize(
    ("hour", "minute", "inside"),
    [(21, 59, False), (22, 0, True), (23, 30, True), (3, 0, True), (7, 59, True), (8, 0, False)],
)
def test_a_schedule_across_midnight_in_its_own_time_zone(
    hour: int, minute: int, inside: bool
) -> None:
    night = Schedule("22:00", "08:00", "Europe/Paris")
    now = at(hour, minute, "Europe/Paris")
    assert in_schedule(night, now) is inside
    assert dnd_active(UserPrefs(schedule=night), now) is inside
    # The same instant read in another zone is another local time.
    assert notifies(ALL, UserPrefs(schedule=night), msg("@ann"), "ann", now) is not inside


def test_a_daytime_schedule_and_an_empty_one() -> None:
    lunch = Schedule("12:00", "13:00", "UTC")
    assert in_schedule(lunch, at(12, 30, "UTC"))
    assert not in_schedule(lunch, at(13, 0, "UTC"))
    assert not in_schedule(Schedule("09:00", "09:00", "UTC"), at(9, 0, "UTC"))
    # In New York 12:30 UTC is 07:30.
    assert not in_schedule(Schedule("12:00", "13:00", "America/New_York"), at(12, 30, "UTC"))


@pytest.mark.parametrize("bad", ["24:00", "7:00", "07:60", "", "noon", "07:00:00"])
def test_a_time_of_day_is_hh_mm(bad: str) -> None:
    with pytest.raises(ValueError):
        check_clock(bad)
    assert check_clock("07:30") == 450


@pytest.mark.parametrize("bad", ["", "Mars/Olympus", "../etc/passwd", "/etc/localtime", "x" * 65])
def test_a_time_zone_must_be_a_known_name(bad: str) -> None:
    with pytest.raises(ValueError):
        check_zone(bad)
    assert check_zone("Asia/Tokyo").key == "Asia/Tokyo"
