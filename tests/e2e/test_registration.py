"""Who may create an account, end to end: `--registration open|invite|closed`,
the first account (always allowed, the owner's), invite links (their role,
channels, uses and revocation), `--member-invites`, and the registration
throttle, which invites do not get around. Invite expiry needs a clock:
tests/core/test_admin.py."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from admin_support import (
    PASSWORD,
    api_error,
    create_channel,
    create_invite,
    invites,
    me,
    own_server,
    register,
    sync_register,
    unique,
    user_exists,
)
from support import WAIT, Server, auth

REGISTER = "/api/auth/register"


async def refused(
    http: httpx.AsyncClient, owner: str, username: str, status: int, code: str, **extra: str
) -> None:
    """Registering `username` is refused with `code`, and no account is made."""
    r = await http.post(REGISTER, json={"username": username, "password": PASSWORD, **extra})
    api_error(r, status, code)
    assert "token" not in r.text
    assert not await user_exists(http, owner, username)
    r = await http.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    api_error(r, 401, "bad_credentials")


# --- the three modes, each on a fresh server ----------------------------------------------------


@pytest.mark.parametrize("mode", ["open", "invite", "closed"])
async def test_first_account_is_the_owner_whatever_the_mode(tmp_path: Path, mode: str) -> None:
    with own_server(tmp_path, "--registration", mode) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as http:
            r = await http.get("/api/workspace")
            assert r.status_code == 200, r.text
            assert r.json() == {"registration": mode, "setup": True, "members_may_invite": False}

            r = await http.post(REGISTER, json={"username": "boss", "password": PASSWORD})
            assert r.status_code == 201, r.text
            assert r.json()["user"]["role"] == "owner"
            boss = r.json()["token"]
            assert (await me(http, boss))["role"] == "owner"
            r = await http.get("/api/workspace")
            assert r.json() == {"registration": mode, "setup": False, "members_may_invite": False}

            if mode == "open":
                second = await register(http, "second")
                assert (await me(http, second))["role"] == "member"
            else:
                await refused(http, boss, "second", 403, "registration_closed")
            # a closed server takes no sign-ups, not even with an invite
            if mode == "closed":
                code = (await create_invite(http, boss))["code"]
                await refused(http, boss, "third", 403, "registration_closed", invite=code)
                listed = await invites(http, boss)
                assert [i["uses"] for i in listed.values()] == [0]


# --- invites, on one server in invite mode -----------------------------------------------------


@dataclasses.dataclass
class Workspace:
    server: Server
    owner: str  # the token of `boss`, the owner
    member: str  # a member's token (`mem`, registered with an invite)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """`boss` (owner) made #lobby (public), #hidden (private) and #side (public);
    `mem` registered with a plain invite."""
    with (
        own_server(tmp_path_factory.mktemp("invites"), "--registration", "invite") as server,
        httpx.Client(base_url=server.url, timeout=WAIT) as http,
    ):
        boss = sync_register(http, "boss")
        for body in ({"name": "lobby"}, {"name": "hidden", "private": True}, {"name": "side"}):
            r = http.post("/api/channels", json=body, headers=auth(boss))
            assert r.status_code == 201, r.text
        r = http.post("/api/invites", json={}, headers=auth(boss))
        assert r.status_code == 201, r.text
        mem = sync_register(http, "mem", r.json()["code"])
        yield Workspace(server, boss, mem)


@pytest.fixture
async def http(workspace: Workspace) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=workspace.server.url, timeout=WAIT) as client:
        yield client


async def channel_names(http: httpx.AsyncClient, token: str) -> dict[str, bool]:
    r = await http.get("/api/channels", headers=auth(token))
    assert r.status_code == 200, r.text
    return {c["name"]: c["is_member"] for c in r.json()}


async def test_without_an_invite_nobody_gets_in(
    workspace: Workspace, http: httpx.AsyncClient
) -> None:
    r = await http.get("/api/workspace")
    assert r.json() == {"registration": "invite", "setup": False, "members_may_invite": False}
    await refused(http, workspace.owner, unique("walkin"), 403, "registration_closed")
    # an empty invite is no invite
    await refused(http, workspace.owner, unique("walkin"), 403, "registration_closed", invite="")


async def test_an_invite_registers_a_member_in_its_channels(
    workspace: Workspace, http: httpx.AsyncClient
) -> None:
    invite = await create_invite(http, workspace.owner, channels=["lobby", "hidden"])
    assert invite["role"] == "member" and invite["channels"] == ["lobby", "hidden"]
    assert (invite["max_uses"], invite["uses"], invite["state"]) == (1, 0, "active")
    assert invite["path"] == f"/#/invite/{invite['code']}"
    name = unique("newbie")
    token = await register(http, name, invite=invite["code"])
    assert (await me(http, token))["role"] == "member"
    mine = {c for c, member in (await channel_names(http, token)).items() if member}
    assert mine == {"general", "lobby", "hidden"}  # the invite's, and the default channel
    r = await http.get("/api/channels/hidden/members", headers=auth(workspace.owner))
    assert name in r.json()["members"]
    listed = (await invites(http, workspace.owner))[invite["id"]]
    assert (listed["uses"], listed["state"]) == (1, "used_up")
    assert "code" not in listed  # shown once, when created


async def test_a_used_up_invite_is_invalid(workspace: Workspace, http: httpx.AsyncClient) -> None:
    invite = await create_invite(http, workspace.owner, max_uses=2)
    for _ in range(2):
        await register(http, unique("twice"), invite=invite["code"])
    await refused(
        http, workspace.owner, unique("third"), 403, "invite_invalid", invite=invite["code"]
    )
    listed = (await invites(http, workspace.owner))[invite["id"]]
    assert (listed["uses"], listed["state"]) == (2, "used_up")


async def test_a_revoked_invite_is_invalid(workspace: Workspace, http: httpx.AsyncClient) -> None:
    invite = await create_invite(http, workspace.owner, max_uses=5)
    r = await http.delete(f"/api/invites/{invite['id']}", headers=auth(workspace.owner))
    assert r.status_code == 204, r.text
    await refused(
        http, workspace.owner, unique("late"), 403, "invite_invalid", invite=invite["code"]
    )
    listed = (await invites(http, workspace.owner))[invite["id"]]
    assert (listed["uses"], listed["state"]) == (0, "revoked")
    r = await http.delete("/api/invites/no-such-invite", headers=auth(workspace.owner))
    api_error(r, 404, "not_found")


async def test_forged_and_unknown_codes_are_invalid(
    workspace: Workspace, http: httpx.AsyncClient
) -> None:
    real = (await create_invite(http, workspace.owner))["code"]
    flipped = real[:-1] + ("A" if real[-1] != "A" else "B")
    for code in ["not-a-code", flipped, real + "x", real.upper(), "x" * 200]:
        await refused(http, workspace.owner, unique("forger"), 403, "invite_invalid", invite=code)
    # the real one is still unused
    await register(http, unique("real"), invite=real)


async def test_a_refused_registration_does_not_use_the_invite(
    workspace: Workspace, http: httpx.AsyncClient
) -> None:
    invite = await create_invite(http, workspace.owner)
    for body, status, code in [
        ({"username": "boss", "password": PASSWORD}, 409, "conflict"),  # taken
        ({"username": "Not Valid", "password": PASSWORD}, 400, "invalid_name"),
        ({"username": unique("weak"), "password": "short"}, 400, "weak_password"),
    ]:
        r = await http.post(REGISTER, json={**body, "invite": invite["code"]})
        api_error(r, status, code)
    assert (await invites(http, workspace.owner))[invite["id"]]["uses"] == 0
    await register(http, unique("after"), invite=invite["code"])


async def test_guest_invites_name_channels(workspace: Workspace, http: httpx.AsyncClient) -> None:
    # A guest invited to no channel sees none until someone adds them to one.
    bare = await create_invite(http, workspace.owner, role="guest")
    loner = await register(http, unique("loner"), invite=bare["code"])
    assert (await me(http, loner))["role"] == "guest"
    assert await channel_names(http, loner) == {}
    invite = await create_invite(http, workspace.owner, role="guest", channels=["side"])
    token = await register(http, unique("visitor"), invite=invite["code"])
    assert (await me(http, token))["role"] == "guest"
    # a guest joins no default channel: only the invite's, and sees nothing else
    assert await channel_names(http, token) == {"side": True}


async def test_roles_an_invite_may_give(workspace: Workspace, http: httpx.AsyncClient) -> None:
    invite = await create_invite(http, workspace.owner, role="admin")
    admin = await register(http, unique("adm"), invite=invite["code"])
    assert (await me(http, admin))["role"] == "admin"
    # an admin invites members and guests, not admins or owners
    for role in ("admin", "owner"):
        r = await http.post("/api/invites", json={"role": role}, headers=auth(admin))
        api_error(r, 403, "forbidden")
    member_invite = await create_invite(http, admin)
    token = await register(http, unique("by-admin"), invite=member_invite["code"])
    assert (await me(http, token))["role"] == "member"


async def test_members_may_not_invite_by_default(
    workspace: Workspace, http: httpx.AsyncClient
) -> None:
    before = await invites(http, workspace.owner)
    for body in ({}, {"role": "guest", "channels": ["general"]}):
        r = await http.post("/api/invites", json=body, headers=auth(workspace.member))
        api_error(r, 403, "forbidden")
    assert await invites(http, workspace.owner) == before


async def test_invites_with_bad_input(workspace: Workspace, http: httpx.AsyncClient) -> None:
    before = await invites(http, workspace.owner)
    for body, field in [
        ({"max_uses": 0}, "max_uses"),
        ({"expires_in": 59}, "expires_in"),
        ({"expires_in": 91 * 86400}, "expires_in"),
        ({"role": "king"}, "role"),
        ({"channels": [f"c{i}" for i in range(21)]}, "channels"),
    ]:
        r = await http.post("/api/invites", json=body, headers=auth(workspace.owner))
        err = api_error(r, 400, "invalid_input")
        assert field in err.get("field", ""), err
    # channels the inviter cannot see are not found (a private one looks missing)
    mine = await create_channel(http, workspace.member, unique("mine"), private=True)
    for name in ("no-such-channel", mine["name"]):
        r = await http.post(
            "/api/invites", json={"channels": [name]}, headers=auth(workspace.owner)
        )
        api_error(r, 404, "not_found")
    assert await invites(http, workspace.owner) == before


# --- members' invites and the throttle, each on a server of its own ------------------------------


async def test_member_invites_when_the_server_allows(tmp_path: Path) -> None:
    with own_server(tmp_path, "--registration", "invite", "--member-invites") as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as http:
            r = await http.get("/api/workspace")
            assert r.json()["members_may_invite"] is True
            boss = await register(http, "boss")
            mem = await register(http, "mem", invite=(await create_invite(http, boss))["code"])
            invite = await create_invite(http, mem)
            assert invite["role"] == "member"
            friend = await register(http, "friend", invite=invite["code"])
            assert (await me(http, friend))["role"] == "member"
            # as members or guests only
            for role in ("admin", "owner"):
                r = await http.post("/api/invites", json={"role": role}, headers=auth(mem))
                api_error(r, 403, "forbidden")
            guest_invite = await create_invite(http, mem, role="guest", channels=["general"])
            guest = await register(http, "visitor", invite=guest_invite["code"])
            assert (await me(http, guest))["role"] == "guest"
            # a guest invites nobody; a member still cannot list or revoke invites
            r = await http.post(
                "/api/invites", json={"role": "guest", "channels": ["general"]}, headers=auth(guest)
            )
            api_error(r, 403, "forbidden")
            api_error(await http.get("/api/invites", headers=auth(mem)), 403, "forbidden")
            r = await http.delete(f"/api/invites/{invite['id']}", headers=auth(mem))
            api_error(r, 403, "forbidden")


async def test_invites_do_not_get_around_the_registration_throttle(tmp_path: Path) -> None:
    with own_server(
        tmp_path, "--registration", "invite", "--limit", "registrations_per_hour=3"
    ) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as http:
            boss = await register(http, "boss")  # 1
            invite = await create_invite(http, boss, max_uses=5)
            body = {"password": PASSWORD}
            r = await http.post(REGISTER, json={**body, "username": "a1", "invite": "guess"})  # 2
            api_error(r, 403, "invite_invalid")
            r = await http.post(REGISTER, json={**body, "username": "a2"})  # 3
            api_error(r, 403, "registration_closed")
            # the fourth attempt is throttled, with a good invite or a guessed one
            for code in (invite["code"], "another-guess"):
                r = await http.post(REGISTER, json={**body, "username": "a3", "invite": code})
                err = api_error(r, 429, "registration_throttled")
                assert 0 < err["retry_after"] <= 3600
            assert not await user_exists(http, boss, "a3")
            assert (await invites(http, boss))[invite["id"]]["uses"] == 0
