"""The Store contract for running a workspace: roles, deactivation, profiles,
sessions, invites, the audit log and channel administration (renames with
aliases, archiving, default channels, channel admins). Every backend must pass
every test here (the backends are tests/store/conftest.py's)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable

import pytest

from hubbub.core.models import Invite, NewMessage, Session, Status, StoredMessage
from hubbub.store import NameTaken, Store


def msg(channel_id: int, author_id: int, text: str, client_id: str) -> NewMessage:
    return NewMessage(channel_id, author_id, None, text, client_id, 1)


def session(sid: str, user_id: int, last_used_at: int, device: str = "curl/8") -> Session:
    return Session(sid, user_id, 1, last_used_at, device=device, address="10.0.0.1")


async def get_session(store: Store, session_id: str) -> Session | None:
    found = await store.session_and_user(session_id)
    return None if found is None else found[0]


def invite(
    iid: str, code_hash: str, created_by: int, *, created_at: int = 1, max_uses: int = 2
) -> Invite:
    return Invite(
        iid,
        code_hash,
        created_by,
        created_at,
        expires_at=1_000,
        max_uses=max_uses,
        role="guest",
        channels=("general", "random"),
    )


# --- users: roles, deactivation, profiles ----------------------------------------


async def test_a_user_has_a_role_and_users_with_role_lists_the_active_ones(store: Store) -> None:
    ann = await store.create_user("ann", "Ann", "h", role="owner")
    bob = await store.create_user("bob", "Bob", "h")
    cat = await store.create_user("cat", "Cat", "h", role="admin")
    await store.create_user("dan", "Dan", "h", role="guest")
    assert (ann.role, bob.role, cat.role) == ("owner", "member", "admin")
    assert (bob.active, bob.status) == (True, Status())
    assert await store.get_user(ann.id) == ann
    assert await store.get_user_by_name("cat") == cat
    assert [u.username for u in await store.users_with_role("owner")] == ["ann"]
    assert [u.username for u in await store.users_with_role("guest")] == ["dan"]

    await store.set_role(bob.id, "admin")
    found = await store.get_user(bob.id)
    assert found is not None and found.role == "admin"
    assert [u.username for u in await store.users_with_role("admin")] == ["bob", "cat"]
    assert await store.users_with_role("member") == []

    await store.set_active(cat.id, False)  # a deactivated admin is no one's admin
    assert [u.username for u in await store.users_with_role("admin")] == ["bob"]
    await store.set_active(cat.id, True)
    admins = await store.users_with_role("admin")
    assert [u.username for u in admins] == ["bob", "cat"]
    assert all(u.role == "admin" and u.active for u in admins)


async def test_deactivating_ends_every_session_and_reactivating_keeps_them_ended(
    store: Store,
) -> None:
    ann = await store.create_user("ann", "Ann", "h")
    bob = await store.create_user("bob", "Bob", "h")
    for s in (session("a1", ann.id, 10), session("a2", ann.id, 20), session("b1", bob.id, 5)):
        await store.create_session(s)

    await store.set_active(ann.id, False)
    gone = await store.get_user(ann.id)
    assert gone is not None and not gone.active
    by_name = await store.get_user_by_name("ann")  # the account keeps its name
    assert by_name is not None and not by_name.active
    assert await store.sessions_for(ann.id) == []
    for sid in ("a1", "a2"):
        ended = await get_session(store, sid)
        assert ended is not None and ended.ended_at is not None
    assert [s.id for s in await store.sessions_for(bob.id)] == ["b1"]  # others' stay
    # Search lists deactivated accounts too (an empty query: everyone).
    assert [(u.username, u.active) for u in await store.search_users("", None, 10)] == [
        ("ann", False),
        ("bob", True),
    ]

    await store.set_active(ann.id, True)
    back = await store.get_user(ann.id)
    assert back is not None and back.active
    assert await store.sessions_for(ann.id) == []  # reactivating revives no session
    a1 = await get_session(store, "a1")
    assert a1 is not None and a1.ended_at is not None


async def test_update_profile_changes_what_is_given(store: Store) -> None:
    ann = await store.create_user("ann", "Ann", "h", role="admin")
    renamed = await store.update_profile(ann.id, display_name="Ann Arbor")
    assert renamed is not None
    assert (renamed.display_name, renamed.status, renamed.role) == ("Ann Arbor", Status(), "admin")
    assert await store.get_user(ann.id) == renamed

    away = Status("🌴", "On holiday", until=1_700_000_000_000)
    now = await store.update_profile(ann.id, status=away)
    assert now is not None and now.status == away and now.display_name == "Ann Arbor"
    assert await store.get_user(ann.id) == now
    assert await store.get_user_by_name("ann") == now
    assert await store.search_users("arbor", None, 10) == [now]

    forever = Status("", "in a meeting")  # no end: until cleared
    both = await store.update_profile(ann.id, display_name="Ann", status=forever)
    assert both is not None and (both.display_name, both.status) == ("Ann", forever)
    assert both.status.until is None

    cleared = await store.update_profile(ann.id, status=Status())
    assert cleared is not None and cleared.status == Status() and cleared.display_name == "Ann"
    same = await store.update_profile(ann.id)  # nothing given: nothing changes
    assert same == cleared
    assert await store.update_profile(ann.id + 1000, display_name="Nobody") is None
    assert await store.get_user_by_name("ann") == cleared


# --- sessions ----------------------------------------------------------------------


async def test_sessions_are_listed_most_recently_used_first(store: Store) -> None:
    ann = await store.create_user("ann", "Ann", "h")
    bob = await store.create_user("bob", "Bob", "h")
    s1 = session("s1", ann.id, 10, device="Firefox")
    await store.create_session(s1)
    await store.create_session(session("s2", ann.id, 30))
    await store.create_session(session("s3", ann.id, 20))
    await store.create_session(session("b1", bob.id, 99))
    assert await store.session_and_user("s1") == (s1, ann)
    assert await store.session_and_user("b1") == (session("b1", bob.id, 99), bob)
    assert await store.session_and_user("nope") is None
    assert [s.id for s in await store.sessions_for(ann.id)] == ["s2", "s3", "s1"]
    assert await store.sessions_for(ann.id + 1000) == []


async def test_ending_sessions_only_one_all_but_one_or_all(store: Store) -> None:
    ann = await store.create_user("ann", "Ann", "h")
    bob = await store.create_user("bob", "Bob", "h")
    for sid, used in (("s1", 10), ("s2", 30), ("s3", 20), ("s4", 40)):
        await store.create_session(session(sid, ann.id, used))
    await store.create_session(session("b1", bob.id, 5))

    assert await store.end_sessions(ann.id, 100, only="s3") == ["s3"]
    assert [s.id for s in await store.sessions_for(ann.id)] == ["s4", "s2", "s1"]
    ended = await get_session(store, "s3")
    assert ended is not None and ended.ended_at == 100
    assert await store.end_sessions(ann.id, 110, only="s3") == []  # ended already
    assert await store.end_sessions(ann.id, 110, only="b1") == []  # not ann's
    b1 = await get_session(store, "b1")
    assert b1 is not None and b1.ended_at is None

    assert sorted(await store.end_sessions(ann.id, 120, keep="s2")) == ["s1", "s4"]
    assert [s.id for s in await store.sessions_for(ann.id)] == ["s2"]
    assert await store.end_sessions(ann.id, 130) == ["s2"]
    assert await store.sessions_for(ann.id) == []
    assert await store.end_sessions(ann.id, 140) == []
    # An end is recorded once: a later call does not move it.
    for sid, at in (("s3", 100), ("s1", 120), ("s2", 130)):
        s = await get_session(store, sid)
        assert s is not None and s.ended_at == at
    assert [s.id for s in await store.sessions_for(bob.id)] == ["b1"]


async def test_a_touch_moves_the_last_use_forward_only(store: Store) -> None:
    ann = await store.create_user("ann", "Ann", "h")
    await store.create_session(session("s1", ann.id, 10))
    await store.create_session(session("s2", ann.id, 20))
    await store.touch_session("s1", 50, "192.0.2.7")
    s1 = await get_session(store, "s1")
    assert s1 is not None and (s1.last_used_at, s1.address) == (50, "192.0.2.7")
    assert (s1.created_at, s1.device) == (1, "curl/8")
    assert [s.id for s in await store.sessions_for(ann.id)] == ["s1", "s2"]
    await store.touch_session("s1", 40, "192.0.2.8")  # late: the time stays
    again = await get_session(store, "s1")
    assert again is not None and again.last_used_at == 50
    await store.touch_session("nope", 60, "192.0.2.9")  # an unknown one: nothing
    assert await get_session(store, "nope") is None


# --- API tokens and bots ----------------------------------------------------------------


def api_token(sid: str, user_id: int, scopes: tuple[str, ...] = ("read",)) -> Session:
    return Session(
        sid,
        user_id,
        1,
        0,
        name=f"CI {sid}",
        scopes=scopes,
        key_hash="ab" * 32,  # type: ignore[arg-type]
    )


async def test_an_api_token_is_a_session_with_a_name_scopes_and_a_key_hash(
    store: Store,
) -> None:
    ann = await store.create_user("ann", "Ann", "h")
    token = api_token("t1", ann.id, ("read", "write", "admin"))
    await store.create_session(token)
    await store.create_session(session("s1", ann.id, 10))
    assert await get_session(store, "t1") == token
    login = await get_session(store, "s1")
    assert login is not None and login.scopes is None and not login.is_token
    assert login.name == "" and login.key_hash == ""
    # both are the user's, listed together (the core tells them apart)
    assert [s.id for s in await store.sessions_for(ann.id)] == ["s1", "t1"]
    await store.touch_session("t1", 50, "192.0.2.7")  # its first use is recorded
    used = await get_session(store, "t1")
    assert used is not None and used.last_used_at == 50 and used.scopes == token.scopes


async def test_logging_out_everywhere_ends_logins_only_deactivating_ends_tokens_too(
    store: Store,
) -> None:
    ann = await store.create_user("ann", "Ann", "h")
    for s in (session("s1", ann.id, 10), session("s2", ann.id, 20), api_token("t1", ann.id)):
        await store.create_session(s)
    assert await store.end_sessions(ann.id, 100, only="t1", logins_only=True) == []
    assert await store.end_sessions(ann.id, 100, keep="s2", logins_only=True) == ["s1"]
    assert await store.end_sessions(ann.id, 110, logins_only=True) == ["s2"]
    assert [s.id for s in await store.sessions_for(ann.id)] == ["t1"]
    assert await store.end_sessions(ann.id, 120, only="t1") == ["t1"]  # revoked
    await store.create_session(api_token("t2", ann.id))
    await store.set_active(ann.id, False)
    assert await store.sessions_for(ann.id) == []
    t2 = await get_session(store, "t2")
    assert t2 is not None and t2.ended_at is not None


async def test_a_bot_is_a_user_with_an_owner_and_bots_lists_every_one(store: Store) -> None:
    ann = await store.create_user("ann", "Ann", "h")
    ci = await store.create_user("ci-bot", "CI", "!", bot_owner=ann.id)
    assert ci.bot and ci.owner_id == ann.id and ci.role == "member"
    assert await store.get_user(ci.id) == ci
    assert await store.get_user_by_name("ci-bot") == ci
    assert not ann.bot and ann.owner_id is None
    deploy = await store.create_user("deploy", "Deploy", "!", bot_owner=ann.id)
    await store.set_active(deploy.id, False)
    assert [(b.username, b.active) for b in await store.bots()] == [
        ("ci-bot", True),
        ("deploy", False),
    ]
    with pytest.raises(NameTaken):
        await store.create_user("ci-bot", "Again", "!", bot_owner=ann.id)


# --- invites --------------------------------------------------------------------------


async def test_an_invite_is_used_up_to_max_uses_and_a_use_can_be_taken_back(
    store: Store,
) -> None:
    ann = await store.create_user("ann", "Ann", "h", role="owner")
    inv = invite("i1", "hash1", ann.id, max_uses=2)
    await store.create_invite(inv)
    assert await store.invites() == [inv]

    first = await store.use_invite("hash1", 10)
    assert first == dataclasses.replace(inv, uses=1)
    second = await store.use_invite("hash1", 11)
    assert second is not None and second.uses == 2
    assert await store.use_invite("hash1", 12) is None  # used up: nothing counted
    assert [i.uses for i in await store.invites()] == [2]

    await store.unuse_invite("hash1")  # the registration failed
    assert [i.uses for i in await store.invites()] == [1]
    third = await store.use_invite("hash1", 13)
    assert third is not None and third.uses == 2
    assert (third.role, third.channels) == ("guest", ("general", "random"))


async def test_an_expired_revoked_or_unknown_invite_is_not_usable(store: Store) -> None:
    ann = await store.create_user("ann", "Ann", "h", role="owner")
    await store.create_invite(invite("old", "h-old", ann.id, created_at=1))
    await store.create_invite(invite("new", "h-new", ann.id, created_at=2))
    assert [i.id for i in await store.invites()] == ["new", "old"]  # the newest first

    assert await store.use_invite("h-old", 1_000) is None  # expires_at is not > now
    assert await store.use_invite("h-old", 5_000) is None
    ok = await store.use_invite("h-old", 999)
    assert ok is not None and ok.uses == 1

    assert await store.revoke_invite("new") is True
    assert await store.use_invite("h-new", 10) is None
    listed = {i.id: i for i in await store.invites()}
    assert listed["new"].revoked and listed["new"].uses == 0
    assert not listed["old"].revoked and listed["old"].uses == 1
    assert await store.revoke_invite("nope") is False

    assert await store.use_invite("unknown", 10) is None
    await store.unuse_invite("unknown")  # nothing to take back: no error
    assert len(await store.invites()) == 2


async def test_concurrent_uses_of_an_invite_never_exceed_max_uses(
    make_store: Callable[[], Store],
) -> None:
    # Two store instances on one database stand in for two server processes.
    first, second = make_store(), make_store()
    await first.open()
    await second.open()
    ann = await first.create_user("ann", "Ann", "h", role="owner")
    await first.create_invite(invite("i1", "hash1", ann.id, max_uses=3))
    results = await asyncio.gather(
        *((first if i % 2 else second).use_invite("hash1", 10) for i in range(10))
    )
    used = [r for r in results if r is not None]
    assert sorted(r.uses for r in used) == [1, 2, 3]
    assert [i.uses for i in await second.invites()] == [3]


# --- the audit log ----------------------------------------------------------------------


async def test_the_audit_log_pages_newest_first(store: Store) -> None:
    for i in range(5):
        await store.add_audit(100 + i, "ann", f"action.{i}", f"@u{i}", f'{{"n": {i}}}')
    await store.add_audit(200, "", "user.deactivate", "@bob")  # the operator, no detail
    page = await store.audit_log(None, 3)
    assert [e.action for e in page] == ["user.deactivate", "action.4", "action.3"]
    assert page[0].id > page[1].id > page[2].id
    assert (page[0].at, page[0].actor, page[0].target, page[0].detail) == (200, "", "@bob", "{}")
    assert (page[1].at, page[1].actor, page[1].detail) == (104, "ann", '{"n": 4}')
    rest = await store.audit_log(page[-1].id, 10)
    assert [e.action for e in rest] == ["action.2", "action.1", "action.0"]
    assert await store.audit_log(rest[-1].id, 10) == []
    assert await store.audit_log(None, 0) == []


# --- channels: renames and aliases --------------------------------------------------------


async def test_a_renamed_channel_keeps_its_history_and_its_old_name(store: Store) -> None:
    ann = await store.create_user("ann", "Ann", "h")
    ch = await store.create_channel("general", "public", "hi", [ann.id])
    await store.append_messages([msg(ch.id, ann.id, "before", "c1")])

    renamed = await store.rename_channel(ch.id, "lobby")
    assert (renamed.id, renamed.name, renamed.topic, renamed.last_seq) == (
        ch.id,
        "lobby",
        "hi",
        1,
    )
    for name in ("general", "lobby"):  # the old name finds the channel
        found = await store.get_channel(name)
        assert found is not None and (found.id, found.name) == (ch.id, "lobby")
    by_id = await store.get_channel_by_id(ch.id)
    assert by_id is not None and by_id.name == "lobby"
    assert [m.channel.name for m in await store.channels_for(ann.id)] == ["lobby"]
    assert [c.name for c in await store.public_channels()] == ["lobby"]

    [after] = await store.append_messages([msg(ch.id, ann.id, "after", "c2")])
    assert isinstance(after, StoredMessage) and after.channel == "lobby"
    history = await store.messages(ch.id, after=0, limit=10)
    assert [(m.text, m.channel) for m in history] == [("before", "lobby"), ("after", "lobby")]
    logged = await store.log_after(ch.id, 0, 10)
    assert [e.message.channel for e in logged] == ["lobby", "lobby"]


async def test_a_name_a_channel_has_or_had_is_taken_for_every_other(store: Store) -> None:
    ann = await store.create_user("ann", "Ann", "h")
    ch = await store.create_channel("general", "public", "", [ann.id])
    other = await store.create_channel("random", "public", "", [ann.id])
    await store.rename_channel(ch.id, "lobby")

    for name in ("lobby", "general"):  # its current and its former name
        with pytest.raises(NameTaken):
            await store.rename_channel(other.id, name)
        with pytest.raises(NameTaken):
            await store.create_channel(name, "private", "", [ann.id])
    with pytest.raises(NameTaken):
        await store.rename_channel(ch.id, "random")  # another's current name
    still = await store.get_channel_by_id(other.id)
    assert still is not None and still.name == "random"
    found = await store.get_channel("general")
    assert found is not None and found.id == ch.id  # nothing moved
    assert len(await store.all_channels(0, 10)) == 2  # nothing created


async def test_renaming_back_to_a_former_name_is_allowed(store: Store) -> None:
    ann = await store.create_user("ann", "Ann", "h")
    ch = await store.create_channel("general", "public", "", [ann.id])
    other = await store.create_channel("random", "public", "", [ann.id])
    await store.rename_channel(ch.id, "lobby")
    await store.rename_channel(ch.id, "hall")
    back = await store.rename_channel(ch.id, "general")
    assert (back.id, back.name) == (ch.id, "general")
    for name in ("general", "lobby", "hall"):
        found = await store.get_channel(name)
        assert found is not None and (found.id, found.name) == (ch.id, "general")
    for name in ("lobby", "hall"):  # still its aliases: nobody else may take them
        with pytest.raises(NameTaken):
            await store.rename_channel(other.id, name)
    again = await store.rename_channel(ch.id, "lobby")
    assert again.name == "lobby"
    found = await store.get_channel("general")
    assert found is not None and found.name == "lobby"


# --- channels: fields, default channels, listing ---------------------------------------------


async def test_create_channel_with_purpose_and_default(store: Store) -> None:
    ann = await store.create_user("ann", "Ann", "h")
    ch = await store.create_channel(
        "general", "public", "the topic", [ann.id], purpose="Everyone", default=True
    )
    assert (ch.purpose, ch.default, ch.archived) == ("Everyone", True, False)
    plain = await store.create_channel("random", "public", "", [ann.id])
    assert (plain.purpose, plain.default, plain.archived) == ("", False, False)
    found = await store.get_channel("general")
    assert found is not None and (found.purpose, found.default) == ("Everyone", True)
    assert await store.get_channel_by_id(ch.id) == found
    assert await store.get_channel_by_id(ch.id + 1000) is None


async def test_update_channel_changes_only_what_is_given(store: Store) -> None:
    ann = await store.create_user("ann", "Ann", "h")
    ch = await store.create_channel("general", "public", "t0", [ann.id], purpose="p0")

    async def now() -> tuple[str, str, bool, bool]:
        c = await store.get_channel_by_id(ch.id)
        assert c is not None
        return (c.topic, c.purpose, c.archived, c.default)

    await store.update_channel(ch.id, topic="t1")
    assert await now() == ("t1", "p0", False, False)
    await store.update_channel(ch.id, purpose="p1")
    assert await now() == ("t1", "p1", False, False)
    await store.update_channel(ch.id, archived=True)
    assert await now() == ("t1", "p1", True, False)
    await store.update_channel(ch.id, default=True)
    assert await now() == ("t1", "p1", True, True)
    await store.update_channel(ch.id, archived=False, default=False)
    assert await now() == ("t1", "p1", False, False)
    await store.update_channel(ch.id)  # nothing given
    assert await now() == ("t1", "p1", False, False)
    await store.update_channel(ch.id, topic="", purpose="")  # empty is a value
    assert await now() == ("", "", False, False)
    # The fields come with every read of the channel.
    await store.update_channel(ch.id, purpose="p2", archived=True)
    [m] = await store.channels_for(ann.id)
    assert (m.channel.purpose, m.channel.archived) == ("p2", True)
    got = await store.membership(ch.id, ann.id)
    assert got is not None and (got.channel.purpose, got.channel.archived) == ("p2", True)


async def test_default_channels_are_listed_by_name(store: Store) -> None:
    ann = await store.create_user("ann", "Ann", "h")
    await store.create_channel("random", "public", "", [ann.id], default=True)
    general = await store.create_channel("general", "public", "", [ann.id], default=True)
    await store.create_channel("other", "public", "", [ann.id])
    assert await store.default_channels() == [
        c for c in await store.public_channels() if c.name in ("general", "random")
    ]
    assert [c.name for c in await store.default_channels()] == ["general", "random"]
    await store.update_channel(general.id, default=False)
    assert [c.name for c in await store.default_channels()] == ["random"]
    other = await store.get_channel("other")
    assert other is not None
    await store.update_channel(other.id, default=True)
    assert [c.name for c in await store.default_channels()] == ["other", "random"]


async def test_all_channels_pages_by_id_private_ones_and_dms_too(store: Store) -> None:
    ann = await store.create_user("ann", "Ann", "h")
    bob = await store.create_user("bob", "Bob", "h")
    made = [
        await store.create_channel("general", "public", "", [ann.id]),
        await store.create_channel("secret", "private", "", [bob.id]),
        await store.create_channel("dm:ann,bob", "dm", "", [ann.id, bob.id]),
        await store.create_channel("random", "public", "", []),
    ]
    ids = [c.id for c in made]
    assert ids == sorted(ids)
    first = await store.all_channels(0, 3)
    assert first == made[:3]
    assert first[2].members == ("ann", "bob") and first[1].kind == "private"
    assert await store.all_channels(first[-1].id, 3) == made[3:]
    assert await store.all_channels(ids[-1], 3) == []
    assert [c.id for c in await store.all_channels(ids[0], 10)] == ids[1:]


# --- channel admins ------------------------------------------------------------------------------


async def test_channel_admins_from_creation_and_made_later(store: Store) -> None:
    ann = await store.create_user("ann", "Ann", "h")
    bob = await store.create_user("bob", "Bob", "h")
    cat = await store.create_user("cat", "Cat", "h")
    ch = await store.create_channel("team", "private", "", [ann.id, bob.id], admin_ids=[ann.id])

    async def admin(user_id: int) -> bool | None:
        m = await store.membership(ch.id, user_id)
        return None if m is None else m.admin

    assert (await admin(ann.id), await admin(bob.id), await admin(cat.id)) == (True, False, None)
    [mine] = await store.channels_for(ann.id)
    assert mine.admin and mine.channel.id == ch.id
    [bobs] = await store.channels_for(bob.id)
    assert not bobs.admin

    assert await store.set_member_admin(ch.id, bob.id, True) is True
    assert await admin(bob.id) is True
    assert await store.set_member_admin(ch.id, ann.id, False) is True
    assert await admin(ann.id) is False
    assert await store.set_member_admin(ch.id, cat.id, True) is False  # not a member
    assert await admin(cat.id) is None

    assert await store.add_member(ch.id, cat.id, admin=True) is True
    assert await admin(cat.id) is True
    dan = await store.create_user("dan", "Dan", "h")
    assert await store.add_member(ch.id, dan.id) is True
    assert await admin(dan.id) is False
    assert await store.member_names(ch.id) == ["ann", "bob", "cat", "dan"]
