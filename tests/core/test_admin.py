"""Workspace administration in the core, with a clock the test moves (the
end-to-end tests cannot): invites expire, custom statuses clear themselves,
old sessions drop out of the list; and what only the operator can try (the
last owner deactivated through `hubbub admin`), and races a real server makes
hard to line up (concurrent uses of one invite, concurrent first accounts)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from hubbub.bus.memory import MemoryBus
from hubbub.core import auth
from hubbub.core.accounts import invite_body
from hubbub.core.hub import Hub
from hubbub.core.models import Status
from hubbub.protocol.errors import ChatError, ErrorCode
from hubbub.protocol.limits import Limits, Registration
from hubbub.store import open_store

PASSWORD = "correct horse"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    @property
    def ms(self) -> int:
        return int(self.now * 1000)


@pytest.fixture
def clock() -> Clock:
    return Clock()


MakeHub = Callable[..., Awaitable[Hub]]


@pytest.fixture
async def make_hub(tmp_path: Path, clock: Clock) -> AsyncIterator[MakeHub]:
    hubs: list[Hub] = []

    async def make(registration: Registration = "invite") -> Hub:
        store = open_store(f"sqlite:///{tmp_path / f'hub{len(hubs)}.db'}")
        limits = Limits(registrations_per_hour=1000, login_failures=1000)
        h = Hub(store, MemoryBus(), limits, clock=clock, registration=registration)
        await h.start()
        hubs.append(h)
        return h

    yield make
    for h in hubs:
        await h.stop()


@pytest.fixture
async def hub(make_hub: MakeHub) -> Hub:
    return await make_hub()


async def code_of(awaitable: object) -> ErrorCode:
    with pytest.raises(ChatError) as e:
        await awaitable  # type: ignore[misc]
    return e.value.code


async def test_an_invite_expires(hub: Hub, clock: Clock) -> None:
    owner, _ = await hub.register("boss", PASSWORD)
    assert owner.role == "owner"
    code, invite = await hub.accounts.create_invite(owner, max_uses=5, expires_in=60)
    assert invite.expires_at == clock.ms + 60_000
    clock.now += 59
    early, _ = await hub.register("early", PASSWORD, invite=code)
    assert early.role == "member"
    clock.now += 1  # exactly at `expires_at`: over
    assert await code_of(hub.register("late", PASSWORD, invite=code)) is ErrorCode.invite_invalid
    assert await hub.store.get_user_by_name("late") is None
    (stored,) = await hub.accounts.invites(owner)
    assert stored.uses == 1
    assert invite_body(stored, clock.ms)["state"] == "expired"
    assert invite_body(stored, clock.ms - 1)["state"] == "active"


async def test_invite_expiry_bounds(hub: Hub) -> None:
    owner, _ = await hub.register("boss", PASSWORD)
    for expires_in in (59, 90 * 86400 + 1):
        refused = hub.accounts.create_invite(owner, expires_in=expires_in)
        assert await code_of(refused) is ErrorCode.invalid_input
    assert await hub.accounts.invites(owner) == []


async def test_an_invite_is_used_at_most_max_uses_times_at_once(hub: Hub) -> None:
    owner, _ = await hub.register("boss", PASSWORD)
    code, _ = await hub.accounts.create_invite(owner, max_uses=2)
    results = await asyncio.gather(
        *(hub.register(f"rush{i}", PASSWORD, invite=code) for i in range(6)),
        return_exceptions=True,
    )
    made = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(made) == 2
    assert all(isinstance(e, ChatError) and e.code is ErrorCode.invite_invalid for e in refused)
    (stored,) = await hub.accounts.invites(owner)
    assert stored.uses == 2
    names = {u.username for u in (await hub.search_users("rush", limit=10))[0]}
    assert names == {u.username for u, _ in made}  # type: ignore[union-attr]


@pytest.mark.parametrize("mode", ["invite", "closed"])
async def test_only_one_first_account_when_they_race(make_hub: MakeHub, mode: Registration) -> None:
    """The first account may register whatever the mode: of several at once,
    one is the owner, and the others are refused as any later sign-up is."""
    hub = await make_hub(mode)
    results = await asyncio.gather(
        *(hub.register(f"first{i}", PASSWORD) for i in range(4)), return_exceptions=True
    )
    made = [r for r in results if not isinstance(r, BaseException)]
    assert [u.role for u, _ in made] == ["owner"]  # type: ignore[union-attr]
    for r in results:
        if isinstance(r, BaseException):
            assert isinstance(r, ChatError) and r.code is ErrorCode.registration_closed, r
    users = (await hub.search_users("first", limit=10))[0]
    assert [u.username for u in users] == [made[0][0].username]  # type: ignore[index]


async def test_a_custom_status_clears_itself(hub: Hub, clock: Clock) -> None:
    owner, _ = await hub.register("boss", PASSWORD)
    ann, _ = await hub.register(
        "ann", PASSWORD, invite=(await hub.accounts.create_invite(owner))[0]
    )
    until = clock.ms + 60_000
    updated = await hub.accounts.update_profile(ann, status=Status(":coffee:", "lunch", until))
    shown = {"emoji": "☕", "text": "lunch", "until": until}
    assert hub.user_body(updated)["custom_status"] == shown
    clock.now += 59
    assert hub.user_body(await hub.user_by_name("ann"))["custom_status"] == shown
    clock.now += 1
    assert "custom_status" not in hub.user_body(await hub.user_by_name("ann"))
    # an end already past is taken: the status shows as none at once
    await hub.accounts.update_profile(ann, status=Status("", "late", clock.ms))
    assert "custom_status" not in hub.user_body(await hub.user_by_name("ann"))


async def test_old_sessions_drop_out_of_the_list(hub: Hub, clock: Clock) -> None:
    user, _first = await hub.register("boss", PASSWORD)
    clock.now += hub.limits.token_ttl / 2
    _, second = await hub.login("boss", PASSWORD)
    assert len(await hub.accounts.sessions(user)) == 2
    clock.now += hub.limits.token_ttl / 2 + 1  # the first token has expired by now
    (left,) = await hub.accounts.sessions(user)
    assert left.id == auth.read_token(hub.secret, second).session_id


async def test_the_operator_cannot_remove_the_last_owner(hub: Hub) -> None:
    boss, _ = await hub.register("boss", PASSWORD)
    code, _ = await hub.accounts.create_invite(boss, role="owner")
    await hub.register("second", PASSWORD, invite=code)
    # with two owners, one may go ...
    assert (await hub.admin.set_active(None, "second", False)).active is False
    # ... but not the last one, deactivated or demoted
    assert await code_of(hub.admin.set_active(None, "boss", False)) is ErrorCode.last_owner
    for role in ("admin", "member", "guest"):
        assert await code_of(hub.admin.set_role(None, "boss", role)) is ErrorCode.last_owner
    assert (await hub.user_by_name("boss")).role == "owner"
    assert (await hub.user_by_name("boss")).active
    # back again, the deactivated owner counts again
    await hub.admin.set_active(None, "second", True)
    assert (await hub.admin.set_role(None, "boss", "member")).role == "member"
    entries = await hub.store.audit_log(None, 10)
    assert [(e.actor, e.action, e.target) for e in entries] == [
        ("", "user.role", "@boss"),
        ("", "user.activate", "@second"),
        ("", "user.deactivate", "@second"),
        ("boss", "invite.create", entries[-1].target),
    ]


async def test_a_deactivated_accounts_tokens_say_so(hub: Hub) -> None:
    boss, _ = await hub.register("boss", PASSWORD)
    code, _ = await hub.accounts.create_invite(boss)
    _, token = await hub.register("ann", PASSWORD, invite=code)
    assert (await hub.authenticate(token)).user.username == "ann"
    await hub.admin.set_active(boss, "ann", False)
    assert await code_of(hub.authenticate(token)) is ErrorCode.account_deactivated
    assert await code_of(hub.login("ann", PASSWORD)) is ErrorCode.account_deactivated
    # reactivated: a new login works; the old token stays dead
    await hub.admin.set_active(boss, "ann", True)
    _, again = await hub.login("ann", PASSWORD)
    assert (await hub.authenticate(again)).user.active
    assert await code_of(hub.authenticate(token)) is ErrorCode.session_ended


async def test_ones_own_profile_shows_at_once(hub: Hub) -> None:
    """What PATCH /api/me changed, the next GET /api/me (on the same node)
    shows: the session cache must not hand back the account as it was."""
    boss, token = await hub.register("boss", PASSWORD)
    await hub.authenticate(token)  # cached, as each REST request leaves it
    await hub.accounts.update_profile(
        boss, display_name="The Boss", status=Status("", "busy", None)
    )
    user = (await hub.authenticate(token)).user
    assert (user.display_name, user.status.text) == ("The Boss", "busy")


async def test_a_password_reset_by_the_operator_ends_every_session(hub: Hub) -> None:
    _boss, token = await hub.register("boss", PASSWORD)
    _, other = await hub.login("boss", PASSWORD)
    await hub.admin.reset_password("boss", "a new password")
    for t in (token, other):
        assert await code_of(hub.authenticate(t)) is ErrorCode.session_ended
    assert await code_of(hub.login("boss", PASSWORD)) is ErrorCode.bad_credentials
    await hub.login("boss", "a new password")
    (entry,) = await hub.store.audit_log(None, 10)
    assert (entry.actor, entry.action, entry.target) == ("", "user.password", "@boss")
