"""Running a workspace, end to end: roles and who may change them,
deactivation (tokens refused, WebSockets closed with 4011, messages kept),
moderation, the audit log; and what channel admins do to a channel: rename
(the old name keeps working), archive (read-only), purpose, default, removing
a member; and guests, who see only the channels they were invited to."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from admin_support import (
    PASSWORD,
    PROMPT,
    api_error,
    audit,
    closed_with,
    create_channel,
    create_invite,
    frames_until_pong,
    history,
    login,
    me,
    own_server,
    post,
    register,
    sync_register,
    unique,
)
from support import WAIT, WS, Server, auth, online, send, subscribe, ws_connect


@dataclasses.dataclass
class World:
    server: Server
    owner: str  # `boss`'s token: the first account, the owner


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with (
        own_server(tmp_path_factory.mktemp("admin")) as server,
        httpx.Client(base_url=server.url, timeout=WAIT) as http,
    ):
        yield World(server, sync_register(http, "boss"))


@pytest.fixture
async def http(world: World) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=world.server.url, timeout=WAIT) as client:
        yield client


async def people(http: httpx.AsyncClient, *bases: str) -> list[tuple[str, str]]:
    """A fresh member per base name: (username, token) each."""
    out = []
    for base in bases:
        name = unique(base)
        out.append((name, await register(http, name)))
    return out


async def set_role(http: httpx.AsyncClient, token: str, username: str, role: str) -> httpx.Response:
    return await http.put(f"/api/users/{username}/role", json={"role": role}, headers=auth(token))


async def set_active(
    http: httpx.AsyncClient, token: str, username: str, active: bool
) -> httpx.Response:
    return await http.put(
        f"/api/users/{username}/active", json={"active": active}, headers=auth(token)
    )


async def an_admin(http: httpx.AsyncClient, world: World) -> tuple[str, str]:
    ((name, token),) = await people(http, "adm")
    r = await set_role(http, world.owner, name, "admin")
    assert r.status_code == 200 and r.json()["role"] == "admin", r.text
    return name, token


async def user(http: httpx.AsyncClient, token: str, username: str) -> dict[str, Any]:
    r = await http.get(f"/api/users/{username}", headers=auth(token))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def patch(http: httpx.AsyncClient, token: str, channel: str, **body: Any) -> httpx.Response:
    return await http.patch(f"/api/channels/{channel}", json=body, headers=auth(token))


async def join(http: httpx.AsyncClient, token: str, channel: str) -> None:
    r = await http.post(f"/api/channels/{channel}/join", headers=auth(token))
    assert r.status_code == 200, r.text


async def listing(http: httpx.AsyncClient, token: str, **params: Any) -> dict[str, bool]:
    r = await http.get("/api/channels", params=params, headers=auth(token))
    assert r.status_code == 200, r.text
    return {c["name"]: c["is_member"] for c in r.json()}


def actions(entries: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(e["actor"], e["action"], e["target"]) for e in entries]


async def is_alive(ws: WS) -> None:
    assert (await ws.request({"action": "ping"}))["type"] == "pong"


# --- roles ---------------------------------------------------------------------------------


async def test_members_may_not_use_admin_routes(world: World, http: httpx.AsyncClient) -> None:
    (m, m_token), (t, t_token) = await people(http, "mem", "target")
    audit_before = await audit(http, world.owner, limit=5)
    h = auth(m_token)
    for r in [
        await set_role(http, m_token, t, "admin"),
        await set_role(http, m_token, m, "admin"),  # nor themselves
        await set_role(http, m_token, t, "guest"),
        await set_active(http, m_token, t, False),
        await http.get("/api/audit", headers=h),
        await http.get("/api/invites", headers=h),
        await http.post("/api/invites", json={}, headers=h),
        await http.delete("/api/invites/whatever", headers=h),
        await patch(http, m_token, "general", default=False),
        await patch(http, m_token, "general", archived=True),
        await patch(http, m_token, "general", name=unique("hijacked")),
    ]:
        api_error(r, 403, "forbidden")
    # nothing changed
    assert (await me(http, t_token))["role"] == "member"
    assert (await me(http, m_token))["role"] == "member"
    r = await http.get("/api/channels/general", headers=auth(world.owner))
    assert (r.json()["name"], r.json()["archived"], r.json()["default"]) == (
        "general",
        False,
        True,
    )
    assert await audit(http, world.owner, limit=5) == audit_before


async def test_owners_make_admins_and_admins_cannot_touch_owners(
    world: World, http: httpx.AsyncClient
) -> None:
    (a, a_token), (other, other_token), (m, _) = await people(http, "adm", "adm2", "mem")
    for name in (a, other):
        r = await set_role(http, world.owner, name, "admin")
        assert r.status_code == 200, r.text
        assert r.json()["role"] == "admin"
    assert (await me(http, a_token))["role"] == "admin"
    entry = (await audit(http, world.owner, limit=1))[0]
    assert actions([entry]) == [("boss", "user.role", f"@{other}")]
    assert entry["detail"] == {"old": "member", "new": "admin"}

    # an admin manages members and guests ...
    assert (await set_role(http, a_token, m, "guest")).json()["role"] == "guest"
    assert (await set_role(http, a_token, m, "member")).json()["role"] == "member"
    # ... but makes no admins or owners, and leaves owners and other admins alone
    for r in [
        await set_role(http, a_token, m, "admin"),
        await set_role(http, a_token, m, "owner"),
        await set_role(http, a_token, "boss", "member"),
        await set_active(http, a_token, "boss", False),
        await set_role(http, a_token, other, "member"),
        await set_active(http, a_token, other, False),
        await set_active(http, a_token, a, False),  # nor themselves
    ]:
        api_error(r, 403, "forbidden")
    assert (await me(http, world.owner))["role"] == "owner"
    assert (await me(http, other_token))["role"] == "admin"
    assert (await user(http, world.owner, m))["role"] == "member"
    api_error(await set_role(http, world.owner, "nobody-at-all", "admin"), 404, "not_found")
    api_error(await set_role(http, world.owner, m, "king"), 400, "invalid_input")

    # a role is checked as it is now: a demoted admin is refused at once
    r = await set_role(http, world.owner, a, "member")
    assert r.status_code == 200 and r.json()["role"] == "member"
    api_error(await http.get("/api/audit", headers=auth(a_token)), 403, "forbidden")
    api_error(await set_role(http, a_token, m, "guest"), 403, "forbidden")


async def test_the_last_owner_stays_one(tmp_path: Path) -> None:
    with own_server(tmp_path) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as http:
            boss = await register(http, "boss")
            second = await register(http, "second")
            for role in ("admin", "member", "guest"):
                api_error(await set_role(http, boss, "boss", role), 409, "last_owner")
            api_error(await set_active(http, boss, "boss", False), 403, "forbidden")
            assert (await me(http, boss))["role"] == "owner"
            # with a second owner, either may step down, but not both
            assert (await set_role(http, boss, "second", "owner")).json()["role"] == "owner"
            r = await set_role(http, second, "boss", "member")
            assert r.status_code == 200 and r.json()["role"] == "member", r.text
            api_error(await set_role(http, second, "second", "admin"), 409, "last_owner")
            # the demoted owner is a plain member now
            api_error(await set_role(http, boss, "boss", "owner"), 403, "forbidden")
            # a deactivated owner does not count as one
            assert (await set_role(http, second, "boss", "owner")).status_code == 200
            r = await set_active(http, second, "boss", False)
            assert r.status_code == 200 and r.json()["deactivated"] is True, r.text
            api_error(await set_role(http, second, "second", "member"), 409, "last_owner")
            entries = actions(await audit(http, second, limit=4))
            assert entries == [
                ("second", "user.deactivate", "@boss"),
                ("second", "user.role", "@boss"),
                ("second", "user.role", "@boss"),
                ("boss", "user.role", "@second"),
            ]


# --- deactivation ---------------------------------------------------------------------------


async def test_deactivation_ends_everything_but_the_messages(
    world: World, http: httpx.AsyncClient
) -> None:
    admin, admin_token = await an_admin(http, world)
    (v, v_token), (_w, w_token) = await people(http, "victim", "witness")
    v_other = await login(http, v)
    r = await post(http, v_token, "general", "my last words", unique("words"))
    assert r.status_code == 201, r.text
    seq = r.json()["seq"]
    async with (
        online(world.server, v_token) as v1,
        online(world.server, v_other) as v2,
        online(world.server, w_token) as witness,
    ):
        r = await set_active(http, admin_token, v, False)
        assert r.status_code == 200, r.text
        assert r.json()["deactivated"] is True
        started = time.monotonic()
        for ws in (v1, v2):
            assert (await closed_with(ws, PROMPT))[0] == 4011
        assert time.monotonic() - started < PROMPT
        await is_alive(witness)
    for token in (v_token, v_other):
        api_error(await http.get("/api/me", headers=auth(token)), 401, "account_deactivated")
        r = await post(http, token, "general", "from beyond")
        api_error(r, 401, "account_deactivated")
        async with ws_connect(f"{world.server.ws_url}?token={token}") as ws:
            assert (await closed_with(ws))[0] == 4001
    r = await http.post("/api/auth/login", json={"username": v, "password": PASSWORD})
    api_error(r, 401, "account_deactivated")
    assert "token" not in r.text
    # the messages stay, and everyone can see the account was deactivated
    assert (seq, v, "my last words") in await history(http, w_token, "general")
    shown = await user(http, w_token, v)
    assert shown["deactivated"] is True and shown["status"] == "offline"
    entry = (await audit(http, world.owner, limit=1))[0]
    assert actions([entry]) == [(admin, "user.deactivate", f"@{v}")]
    # reactivated: a new login works; the old tokens stay dead
    r = await set_active(http, admin_token, v, True)
    assert r.status_code == 200 and not r.json().get("deactivated"), r.text
    fresh = await login(http, v)
    assert (await me(http, fresh))["username"] == v
    for token in (v_token, v_other):
        r = await http.get("/api/me", headers=auth(token))
        assert r.status_code == 401, r.text
        async with ws_connect(f"{world.server.ws_url}?token={token}") as ws:
            assert (await closed_with(ws))[0] == 4001
    async with online(world.server, fresh) as ws:
        await is_alive(ws)
    entry = (await audit(http, world.owner, limit=1))[0]
    assert actions([entry]) == [(admin, "user.activate", f"@{v}")]


async def test_inviting_a_deactivated_account_is_refused_as_a_bad_request(
    world: World, http: httpx.AsyncClient
) -> None:
    """Nobody can put a deactivated account in a channel; the refusal is
    about the target, so it is not a 401 (which says the caller's own token
    is bad, and makes clients sign out)."""
    (v, _), (w, w_token) = await people(http, "victim", "inviter")
    assert (await set_active(http, world.owner, v, False)).status_code == 200
    name = unique("club")
    await create_channel(http, w_token, name)
    r = await http.post(f"/api/channels/{name}/invite", json={"username": v}, headers=auth(w_token))
    assert 400 <= r.status_code < 500 and r.status_code != 401, r.text
    assert "www-authenticate" not in r.headers
    r = await http.get(f"/api/channels/{name}/members", headers=auth(w_token))
    assert r.json()["members"] == [w]
    assert (await me(http, w_token))["username"] == w


# --- moderation -----------------------------------------------------------------------------


async def test_admins_delete_anyones_message_and_it_is_audited(
    world: World, http: httpx.AsyncClient
) -> None:
    admin, admin_token = await an_admin(http, world)
    (author, author_token), (_m, m_token) = await people(http, "author", "mem")
    r = await post(http, author_token, "general", "something regrettable", unique("r"))
    seq = r.json()["seq"]
    # a member may not delete it
    r = await http.delete(f"/api/channels/general/messages/{seq}", headers=auth(m_token))
    api_error(r, 403, "forbidden")
    assert (seq, author, "something regrettable") in await history(http, m_token, "general")
    async with online(world.server, m_token) as watcher:
        await subscribe(watcher, "general")
        r = await http.delete(f"/api/channels/general/messages/{seq}", headers=auth(admin_token))
        assert r.status_code == 200, r.text
        assert r.json()["message"]["deleted"] is True and r.json()["message"]["text"] == ""
        updated = await watcher.expect("message_updated")
        assert updated["message"]["seq"] == seq and updated["message"]["deleted"] is True
    assert (seq, author, "") in await history(http, m_token, "general")
    entry = (await audit(http, world.owner, limit=1))[0]
    assert actions([entry]) == [(admin, "message.delete", f"#general {seq}")]
    assert entry["detail"] == {"author": author}


async def test_admins_moderate_public_channels_they_are_not_in(
    world: World, http: httpx.AsyncClient
) -> None:
    admin, admin_token = await an_admin(http, world)
    ((author, author_token),) = await people(http, "author")
    name = unique("elsewhere")
    await create_channel(http, author_token, name)
    r = await post(http, author_token, name, "spam spam spam", unique("spam"))
    seq = r.json()["seq"]
    r = await http.delete(f"/api/channels/{name}/messages/{seq}", headers=auth(admin_token))
    assert r.status_code == 200, r.text
    assert (seq, author, "") in await history(http, author_token, name)
    entry = (await audit(http, world.owner, limit=1))[0]
    assert actions([entry]) == [(admin, "message.delete", f"#{name} {seq}")]


# --- the audit log ----------------------------------------------------------------------------


async def test_the_audit_log_lists_every_admin_action_newest_first(tmp_path: Path) -> None:
    with own_server(tmp_path) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as http:
            started = int(time.time() * 1000)
            boss = await register(http, "boss")
            ann, bob = await register(http, "ann"), await register(http, "bob")
            await join(http, bob, "general")
            assert (await set_role(http, boss, "ann", "admin")).status_code == 200
            invite = await create_invite(http, ann)
            assert (
                await http.delete(f"/api/invites/{invite['id']}", headers=auth(ann))
            ).status_code == 204
            await create_channel(http, boss, "plans")
            assert (await patch(http, boss, "plans", name="roadmap")).status_code == 200
            assert (await patch(http, boss, "roadmap", archived=True)).status_code == 200
            assert (await patch(http, boss, "roadmap", archived=False)).status_code == 200
            assert (await patch(http, ann, "roadmap", default=True)).status_code == 200
            await join(http, bob, "roadmap")
            r = await http.delete("/api/channels/roadmap/members/bob", headers=auth(boss))
            assert r.status_code == 200, r.text
            seq = (await post(http, bob, "general", "oops", "oops")).json()["seq"]
            r = await http.delete(f"/api/channels/general/messages/{seq}", headers=auth(ann))
            assert r.status_code == 200, r.text
            assert (await set_active(http, ann, "bob", False)).status_code == 200
            assert (await set_active(http, boss, "bob", True)).status_code == 200
            # not audited: what members do to their own things
            assert (await patch(http, boss, "roadmap", purpose="what we do")).status_code == 200

            expected = [
                ("boss", "user.activate", "@bob"),
                ("ann", "user.deactivate", "@bob"),
                ("ann", "message.delete", f"#general {seq}"),
                ("boss", "channel.remove", "#roadmap"),
                ("ann", "channel.default", "#roadmap"),
                ("boss", "channel.unarchive", "#roadmap"),
                ("boss", "channel.archive", "#roadmap"),
                ("boss", "channel.rename", "#roadmap"),
                ("ann", "invite.revoke", f"invite {invite['id']}"),
                ("ann", "invite.create", f"invite {invite['id']}"),
                ("boss", "user.role", "@ann"),
            ]
            everything = await audit(http, boss)
            assert actions(everything) == expected
            ids = [e["id"] for e in everything]
            assert ids == sorted(ids, reverse=True) and len(set(ids)) == len(ids)
            assert all(started <= e["at"] <= time.time() * 1000 + 1000 for e in everything)
            by_action = {e["action"]: e["detail"] for e in everything}
            assert by_action["channel.rename"] == {"old": "plans"}
            assert by_action["channel.remove"] == {"user": "bob"}
            assert by_action["channel.default"] == {"default": True}
            assert by_action["invite.create"] == {"role": "member", "max_uses": 1}

            # pages of 4, with `before`
            pages: list[dict[str, Any]] = []
            before: int | None = None
            while True:
                params: dict[str, Any] = {"limit": 4}
                if before is not None:
                    params["before"] = before
                page = await audit(http, boss, **params)
                if not page:
                    break
                assert len(page) <= 4
                pages += page
                before = page[-1]["id"]
            assert pages == everything
            assert await audit(http, boss, before=min(ids)) == []
            for params in ({"limit": 0}, {"limit": 1000}, {"before": 0}, {"before": "x"}):
                r = await http.get("/api/audit", params=params, headers=auth(boss))
                api_error(r, 400, "invalid_input")


# --- channels: rename --------------------------------------------------------------------------


async def test_a_renamed_channel_keeps_its_history_and_subscribers(
    world: World, http: httpx.AsyncClient
) -> None:
    (c, c_token), (_s, s_token) = await people(http, "creator", "sub")
    old, new = unique("proj"), unique("project")
    await create_channel(http, c_token, old)
    await join(http, s_token, old)
    before = [
        (await post(http, c_token, old, f"m{i}", unique("m"))).json()["seq"] for i in range(2)
    ]
    async with online(world.server, s_token) as sub, online(world.server, c_token) as mine:
        await subscribe(sub, old)
        await send(sub, old, "before the rename")
        r = await patch(http, c_token, old, name=new)
        assert r.status_code == 200, r.text
        assert r.json()["name"] == new
        updated = await sub.expect("channel_updated")
        assert updated["renamed_from"] == old and updated["channel"]["name"] == new
        # the old name still works for everything, and messages carry the new one
        r = await post(http, c_token, old, "after, by the old name", unique("a"))
        assert r.status_code == 201 and r.json()["channel"] == new, r.text
        got = await sub.expect("message", text="after, by the old name")
        assert got["channel"] == new
        ack = await send(mine, old, "over the websocket, by the old name")
        assert ack["message"]["channel"] == new
        got = await sub.expect("message", text="over the websocket, by the old name")
        assert got["channel"] == new
        ack = await send(sub, new, "by the new name")
        assert ack["message"]["channel"] == new
    texts = [t for _, _, t in await history(http, s_token, new)]
    assert texts == [
        "m0",
        "m1",
        "before the rename",
        "after, by the old name",
        "over the websocket, by the old name",
        "by the new name",
    ]
    assert await history(http, s_token, old) == await history(http, s_token, new)
    assert before == [1, 2]
    r = await http.get(f"/api/channels/{old}", headers=auth(s_token))
    assert r.status_code == 200 and r.json()["name"] == new
    names = await listing(http, s_token)
    assert new in names and old not in names
    entry = (await audit(http, world.owner, limit=1))[0]
    assert actions([entry]) == [(c, "channel.rename", f"#{new}")]
    assert entry["detail"] == {"old": old}


async def test_renames_that_are_refused(world: World, http: httpx.AsyncClient) -> None:
    _admin, admin_token = await an_admin(http, world)
    (_c, c_token), (_m, m_token) = await people(http, "creator", "mem")
    x, y, x2 = unique("xx"), unique("yy"), unique("xx-new")
    await create_channel(http, c_token, x)
    await create_channel(http, c_token, y)
    secret = (await create_channel(http, c_token, unique("secret"), private=True))["name"]
    await join(http, m_token, y)
    assert (await patch(http, c_token, x, name=x2)).status_code == 200
    for name, taken in [(y, "general"), (y, x2), (y, x)]:  # x is x2's former name
        r = await patch(http, c_token, name, name=taken)
        api_error(r, 409, "conflict")
    # nor can a new channel take a former name
    r = await http.post("/api/channels", json={"name": x}, headers=auth(m_token))
    api_error(r, 409, "conflict")
    for bad in ("Bad Name", "", "x" * 81, "dm:someone"):
        r = await patch(http, c_token, y, name=bad)
        assert r.status_code == 400, (bad, r.text)
        assert r.json()["error"]["code"] in ("invalid_name", "invalid_input"), r.text
    api_error(await patch(http, c_token, y, name="Bad Name"), 400, "invalid_name")
    # a member who did not create it may not; a non-member of a private one does not see it
    api_error(await patch(http, m_token, y, name=unique("mine")), 403, "forbidden")
    api_error(await patch(http, m_token, secret, name=unique("mine")), 404, "not_found")
    for name in (x2, y):
        r = await http.get(f"/api/channels/{name}", headers=auth(c_token))
        assert r.status_code == 200 and r.json()["name"] == name
    # a workspace admin may, in a channel they are not in; back to a former name too
    r = await patch(http, admin_token, x2, name=x)
    assert r.status_code == 200 and r.json()["name"] == x, r.text
    r = await http.get(f"/api/channels/{x2}", headers=auth(c_token))
    assert r.status_code == 200 and r.json()["name"] == x


# --- channels: archive -------------------------------------------------------------------------


async def test_an_archived_channel_is_read_only(world: World, http: httpx.AsyncClient) -> None:
    (c, c_token), (_s, s_token), (_o, o_token) = await people(http, "creator", "sub", "outsider")
    name = unique("arch")
    await create_channel(http, c_token, name)
    await join(http, s_token, name)
    seq = (await post(http, c_token, name, "the record", unique("rec"))).json()["seq"]
    async with online(world.server, s_token) as sub:
        await subscribe(sub, name)
        await send(sub, name, "before")  # the send path knows s is a member now
        r = await patch(http, c_token, name, archived=True)
        assert r.status_code == 200 and r.json()["archived"] is True, r.text
        updated = await sub.expect("channel_updated")
        assert updated["channel"]["archived"] is True
        kept = await history(http, s_token, name)

        err = await sub.request(
            {"action": "send", "channel": name, "text": "after", "client_id": unique("ws")}
        )
        assert (err["type"], err.get("code")) == ("error", "channel_archived"), err
        for token in (c_token, s_token):
            api_error(await post(http, token, name, "after", unique("r")), 403, "channel_archived")
        base = f"/api/channels/{name}/messages/{seq}"
        for r in [
            await http.patch(base, json={"text": "rewritten"}, headers=auth(c_token)),
            await http.put(f"{base}/reactions/%F0%9F%91%8D", headers=auth(s_token)),
            await http.delete(base, headers=auth(c_token)),
            await http.put(
                f"/api/channels/{name}/topic", json={"topic": "t"}, headers=auth(c_token)
            ),
            await patch(http, s_token, name, purpose="p"),
        ]:
            api_error(r, 403, "channel_archived")
        for frame in [
            {"action": "edit", "channel": name, "seq": seq, "text": "rewritten"},
            {"action": "react", "channel": name, "seq": seq, "emoji": "👍"},
        ]:
            err = await sub.request(frame)
            assert (err["type"], err.get("code")) == ("error", "channel_archived"), err
        later = [f for f in await frames_until_pong(sub) if f["type"] == "message"]
        assert [f["text"] for f in later if f["seq"] > kept[-1][0]] == []

    # still readable (by members, and as a public channel by anyone), nothing stored
    assert await history(http, s_token, name) == kept
    assert await history(http, o_token, name) == kept
    assert [t for _, _, t in kept] == ["the record", "before"]
    # hidden from non-members' lists (and from joining); members still see it
    assert name not in await listing(http, o_token)
    assert (await listing(http, s_token))[name] is True
    assert name in await listing(http, o_token, archived="true")
    r = await http.post(f"/api/channels/{name}/join", headers=auth(o_token))
    api_error(r, 403, "channel_archived")

    # unarchived: writable again
    r = await patch(http, c_token, name, archived=False)
    assert r.status_code == 200 and r.json()["archived"] is False, r.text
    assert (await post(http, s_token, name, "back", unique("b"))).status_code == 201
    async with online(world.server, s_token) as sub:
        await send(sub, name, "back over the websocket")
    assert name in await listing(http, o_token)
    entries = actions(await audit(http, world.owner, limit=2))
    assert entries == [(c, "channel.unarchive", f"#{name}"), (c, "channel.archive", f"#{name}")]


async def test_an_archived_channel_takes_no_thread_replies(
    world: World, http: httpx.AsyncClient
) -> None:
    """The first send after archiving, where the send path still knows the
    member (from a send before): a reply is refused as a message is."""
    (_c, c_token), (_s, s_token) = await people(http, "creator", "sub")
    name = unique("arch")
    await create_channel(http, c_token, name)
    await join(http, s_token, name)
    root = (await post(http, c_token, name, "the root", unique("root"))).json()["seq"]
    async with online(world.server, s_token) as sub:
        await send(sub, name, "before")
        assert (await patch(http, c_token, name, archived=True)).status_code == 200
        err = await sub.request(
            {
                "action": "send",
                "channel": name,
                "text": "a reply",
                "client_id": unique("ws"),
                "thread_root": root,
            }
        )
        assert (err["type"], err.get("code")) == ("error", "channel_archived"), err
    r = await http.post(
        f"/api/channels/{name}/messages",
        json={"text": "a reply", "thread_root": root},
        headers=auth(s_token),
    )
    api_error(r, 403, "channel_archived")
    r = await http.get(f"/api/channels/{name}/messages/{root}/thread", headers=auth(s_token))
    assert r.status_code == 200 and r.json()["messages"] == [], r.text
    assert r.json()["root"]["reply_count"] == 0


async def test_only_channel_admins_archive(world: World, http: httpx.AsyncClient) -> None:
    (_c, c_token), (_m, m_token) = await people(http, "creator", "mem")
    name = unique("keep")
    await create_channel(http, c_token, name)
    await join(http, m_token, name)
    api_error(await patch(http, m_token, name, archived=True), 403, "forbidden")
    r = await http.get(f"/api/channels/{name}", headers=auth(m_token))
    assert r.json()["archived"] is False
    assert (await post(http, m_token, name, "still open", unique("o"))).status_code == 201


# --- channels: purpose, default, members ------------------------------------------------------


async def test_any_member_sets_the_purpose(world: World, http: httpx.AsyncClient) -> None:
    (_c, c_token), (_m, m_token), (_o, o_token) = await people(http, "creator", "mem", "outsider")
    name = unique("purp")
    await create_channel(http, c_token, name)
    await join(http, m_token, name)
    async with online(world.server, c_token) as ws:
        await subscribe(ws, name)
        r = await patch(http, m_token, name, purpose="where plans are made")
        assert r.status_code == 200 and r.json()["purpose"] == "where plans are made", r.text
        updated = await ws.expect("channel_updated")
        assert updated["channel"]["purpose"] == "where plans are made"
        assert updated.get("renamed_from") is None
    api_error(await patch(http, o_token, name, purpose="mine now"), 403, "not_a_member")
    api_error(await patch(http, m_token, name, purpose="x" * 10_000), 400, "invalid_input")
    r = await http.get(f"/api/channels/{name}", headers=auth(o_token))
    assert r.json()["purpose"] == "where plans are made"


async def test_new_accounts_join_the_default_channels(tmp_path: Path) -> None:
    with own_server(tmp_path) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as http:
            boss = await register(http, "boss")
            mem = await register(http, "mem")
            await create_channel(http, mem, "welcome")
            await create_channel(http, mem, "quiet", private=True)
            api_error(await patch(http, mem, "welcome", default=True), 403, "forbidden")
            api_error(await patch(http, boss, "quiet", default=True), 404, "not_found")
            r = await patch(http, boss, "welcome", default=True)
            assert r.status_code == 200 and r.json()["default"] is True, r.text
            newbie = await register(http, "newbie")
            mine = {n for n, member in (await listing(http, newbie)).items() if member}
            assert mine == {"general", "welcome"}
            # no longer default: the next one does not join it
            assert (await patch(http, boss, "welcome", default=False)).json()["default"] is False
            later = await register(http, "later")
            mine = {n for n, member in (await listing(http, later)).items() if member}
            assert mine == {"general"}


async def test_general_stops_being_joined_when_it_is_no_longer_default(
    tmp_path: Path,
) -> None:
    with own_server(tmp_path) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as http:
            boss = await register(http, "boss")
            r = await patch(http, boss, "general", default=False)
            assert r.status_code == 200 and r.json()["default"] is False, r.text
            newbie = await register(http, "newbie")
            assert {n for n, member in (await listing(http, newbie)).items() if member} == set()
            r = await http.get("/api/channels/general", headers=auth(boss))
            assert (r.json()["default"], r.json()["member_count"]) == (False, 1)


async def test_channel_admins_remove_members(world: World, http: httpx.AsyncClient) -> None:
    (c, c_token), (r_name, r_token), (o, o_token) = await people(
        http, "creator", "removed", "other"
    )
    name = unique("club")
    await create_channel(http, c_token, name)
    for token in (r_token, o_token):
        await join(http, token, name)
    async with (
        online(world.server, r_token) as removed,
        online(world.server, c_token) as creator,
    ):
        await subscribe(removed, name)
        await subscribe(creator, name)
        # another member may not
        r = await http.delete(f"/api/channels/{name}/members/{r_name}", headers=auth(o_token))
        api_error(r, 403, "forbidden")
        r = await http.get(f"/api/channels/{name}/members", headers=auth(c_token))
        assert set(r.json()["members"]) == {c, r_name, o}

        r = await http.delete(f"/api/channels/{name}/members/{r_name}", headers=auth(c_token))
        assert r.status_code == 200 and r.json()["member_count"] == 2, r.text
        left = await removed.expect("channel_left")
        assert left["channel"]["name"] == name
        gone = await creator.expect("member_left")
        assert gone["user"] == r_name
        await send(creator, name, "without them")
        await creator.expect("message", text="without them")
        # it went to every follower at once: none of it to the removed connection
        assert [f for f in await frames_until_pong(removed) if f["type"] == "message"] == []
    r = await http.get(f"/api/channels/{name}/members", headers=auth(c_token))
    assert set(r.json()["members"]) == {c, o}
    api_error(await post(http, r_token, name, "let me back", unique("b")), 403, "not_a_member")
    r = await http.delete(f"/api/channels/{name}/members/{r_name}", headers=auth(c_token))
    api_error(r, 403, "not_a_member")
    r = await http.delete(f"/api/channels/{name}/members/nobody-here", headers=auth(c_token))
    api_error(r, 404, "not_found")
    entry = (await audit(http, world.owner, limit=1))[0]
    assert actions([entry]) == [(c, "channel.remove", f"#{name}")]
    assert entry["detail"] == {"user": r_name}

    # out of a private channel, it is gone from sight
    secret = unique("secret")
    await create_channel(http, c_token, secret, private=True)
    r = await http.post(
        f"/api/channels/{secret}/invite", json={"username": o}, headers=auth(c_token)
    )
    assert r.status_code == 200, r.text
    r = await http.delete(f"/api/channels/{secret}/members/{o}", headers=auth(c_token))
    assert r.status_code == 200, r.text
    api_error(await http.get(f"/api/channels/{secret}", headers=auth(o_token)), 404, "not_found")


# --- guests ------------------------------------------------------------------------------------


async def test_guests_see_only_their_channels(world: World, http: httpx.AsyncClient) -> None:
    ((_host, host_token),) = await people(http, "host")
    room, other, secret = unique("guestroom"), unique("public"), unique("secret")
    await create_channel(http, host_token, room)
    await create_channel(http, host_token, other)
    await create_channel(http, host_token, secret, private=True)
    await post(http, host_token, other, "not for guests", unique("n"))
    await join(http, world.owner, room)  # an inviter names channels they are in
    invite = await create_invite(http, world.owner, role="guest", channels=[room])
    guest_name = unique("guest")
    guest = await register(http, guest_name, invite=invite["code"])
    assert (await me(http, guest))["role"] == "guest"
    assert await listing(http, guest) == {room: True}
    assert (await listing(http, guest, after="a")) == {}

    for name in ("general", other, secret, "no-such-channel"):
        for method, path in [
            ("GET", f"/api/channels/{name}"),
            ("GET", f"/api/channels/{name}/messages"),
            ("GET", f"/api/channels/{name}/members"),
        ]:
            r = await http.request(method, path, headers=auth(guest))
            api_error(r, 404, "not_found")
        r = await http.post(f"/api/channels/{name}/join", headers=auth(guest))
        assert r.status_code in (403, 404), r.text
        api_error(await post(http, guest, name, "hi", unique("g")), 404, "not_found")
    r = await http.post("/api/channels", json={"name": unique("guestmade")}, headers=auth(guest))
    api_error(r, 403, "forbidden")
    assert await listing(http, guest) == {room: True}

    async with online(world.server, guest) as ws:
        for name in ("general", other):
            err = await ws.request({"action": "subscribe", "channel": name})
            assert (err["type"], err.get("code")) == ("error", "not_found"), err
        await subscribe(ws, room)
        ack = await send(ws, room, "hello from a guest")
        assert ack["message"]["author"]["username"] == guest_name
    assert (ack["seq"], guest_name, "hello from a guest") in await history(http, host_token, room)


async def test_guests_make_no_rooms_through_the_tutorial_protocol(
    world: World, http: httpx.AsyncClient
) -> None:
    ((_host, host_token),) = await people(http, "host")
    room, other = unique("guestroom"), unique("public")
    await create_channel(http, host_token, room)
    await create_channel(http, host_token, other)
    await join(http, world.owner, room)
    invite = await create_invite(http, world.owner, role="guest", channels=[room])
    guest = await register(http, unique("guest"), invite=invite["code"])
    async with online(world.server, guest) as ws:
        # no posting in channels that are not theirs, and no new rooms
        made = unique("guestroom-made")
        for room_name in (other, made):
            frame = {"action": "sendMessage", "room_name": room_name, "content": "sneaking in"}
            try:
                err = await ws.request(frame, timeout=PROMPT)
            except TimeoutError:
                pytest.fail(f"a guest's sendMessage to {room_name!r} got no error")
            assert err["type"] == "error" and err["code"] in ("not_found", "forbidden"), err
    made_too = unique("guestroom-made")
    async with ws_connect(f"{world.server.ws_url}?token={guest}&room_name={made_too}") as ws:
        assert (await closed_with(ws))[0] == 4004
    for name in (made, made_too):
        r = await http.get(f"/api/channels/{name}", headers=auth(world.owner))
        api_error(r, 404, "not_found")
    assert "sneaking in" not in [t for _, _, t in await history(http, host_token, other)]
