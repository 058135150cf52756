"""The Store contract for notification preferences (protocol.notify): what
every backend (tests/store/conftest.py's) must keep and give back."""

from __future__ import annotations

import asyncio

from hubbub.protocol.notify import ChannelPrefs, Schedule, UserPrefs
from hubbub.store import Store


async def test_a_user_without_settings_has_the_defaults_then_keeps_what_they_set(
    store: Store,
) -> None:
    ann = await store.create_user("ann", "Ann", "h")
    bob = await store.create_user("bob", "Bob", "h")
    assert await store.user_prefs(ann.id) == UserPrefs()

    night = Schedule("22:00", "08:00", "Europe/Paris")
    mine = UserPrefs(1_700_000_000_000, night, True, "ann@example.com")
    await store.set_user_prefs(ann.id, mine)
    assert await store.user_prefs(ann.id) == mine
    assert await store.user_prefs(bob.id) == UserPrefs()  # only hers

    # Replaced as a whole: a snooze turned off and the schedule dropped.
    await store.set_user_prefs(ann.id, UserPrefs(None, None, True))
    assert await store.user_prefs(ann.id) == UserPrefs(None, None, True)


async def test_channel_preferences_are_per_member_and_read_both_ways(store: Store) -> None:
    ann = await store.create_user("ann", "Ann", "h")
    bob = await store.create_user("bob", "Bob", "h")
    general = await store.create_channel("general", "public", "", [ann.id, bob.id])
    random = await store.create_channel("random", "public", "", [ann.id, bob.id])
    assert await store.channel_prefs(ann.id) == {}
    assert await store.channel_prefs_of(general.id) == {}

    await store.set_channel_prefs(ann.id, general.id, ChannelPrefs("all"))
    await store.set_channel_prefs(ann.id, random.id, ChannelPrefs("mentions", muted=True))
    await store.set_channel_prefs(bob.id, general.id, ChannelPrefs("nothing"))
    assert await store.channel_prefs(ann.id) == {
        general.id: ChannelPrefs("all"),
        random.id: ChannelPrefs("mentions", muted=True),
    }
    assert await store.channel_prefs(bob.id) == {general.id: ChannelPrefs("nothing")}
    assert await store.channel_prefs_of(general.id) == {
        ann.id: ChannelPrefs("all"),
        bob.id: ChannelPrefs("nothing"),
    }

    await store.set_channel_prefs(ann.id, random.id, ChannelPrefs("all", muted=False))
    assert (await store.channel_prefs(ann.id))[random.id] == ChannelPrefs("all")
    assert await store.channel_prefs_of(random.id) == {ann.id: ChannelPrefs("all")}


async def test_two_devices_saving_at_once_leave_one_row_with_one_of_their_values(
    store: Store,
) -> None:
    ann = await store.create_user("ann", "Ann", "h")
    ch = await store.create_channel("general", "public", "", [ann.id])
    choices = [ChannelPrefs("all"), ChannelPrefs("nothing", muted=True)]
    await asyncio.gather(*(store.set_channel_prefs(ann.id, ch.id, p) for p in choices))
    await asyncio.gather(
        store.set_user_prefs(ann.id, UserPrefs(5)), store.set_user_prefs(ann.id, UserPrefs(6))
    )
    assert (await store.channel_prefs(ann.id))[ch.id] in choices
    assert await store.channel_prefs_of(ch.id) in ({ann.id: p} for p in choices)
    assert (await store.user_prefs(ann.id)).dnd_until in (5, 6)


async def test_digest_users_and_their_marks(store: Store) -> None:
    ann = await store.create_user("ann", "Ann", "h")
    bob = await store.create_user("bob", "Bob", "h")
    cat = await store.create_user("cat", "Cat", "h")
    await store.set_user_prefs(ann.id, UserPrefs(email_digest=True, email="ann@example.com"))
    await store.set_user_prefs(bob.id, UserPrefs(email_digest=True))  # no address: none
    await store.set_user_prefs(cat.id, UserPrefs(email="cat@example.com"))  # digests off
    assert await store.digest_users() == [
        (ann.id, UserPrefs(email_digest=True, email="ann@example.com"))
    ]
    assert await store.digest_marks(ann.id) == {}
    await store.set_digest_marks(ann.id, {3: 17, 4: 2})
    assert await store.digest_marks(ann.id) == {3: 17, 4: 2}
    # Saving the settings keeps the marks (only the digest moves them).
    await store.set_user_prefs(ann.id, UserPrefs(5, None, True, "ann@example.org"))
    assert await store.digest_marks(ann.id) == {3: 17, 4: 2}
    assert await store.digest_marks(bob.id) == {}
