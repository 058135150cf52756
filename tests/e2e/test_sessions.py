"""Sessions and one's own account, end to end: every login is a session;
ending one (revoked from another device, logout, log out everywhere, a new
password) refuses its token on REST (401 `session_ended`) and closes its
open WebSockets with 4010 at once, and nothing else; the profile and custom
status, and the `user_updated` event that carries them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from admin_support import (
    PASSWORD,
    PROMPT,
    api_error,
    closed_with,
    login,
    me,
    own_server,
    register,
    unique,
)
from support import WS, Server, auth, online, ws_connect


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with own_server(tmp_path_factory.mktemp("sessions")) as s:
        yield s


async def sessions(http: httpx.AsyncClient, token: str) -> list[dict[str, Any]]:
    r = await http.get("/api/sessions", headers=auth(token))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def session_id(http: httpx.AsyncClient, token: str) -> str:
    (current,) = [s for s in await sessions(http, token) if s["current"]]
    return current["id"]  # type: ignore[no-any-return]


async def is_alive(ws: WS) -> None:
    assert (await ws.request({"action": "ping"}))["type"] == "pong"


async def ended(http: httpx.AsyncClient, server: Server, token: str) -> None:
    """`token`'s session is over: REST refuses it, and so does a new WebSocket."""
    api_error(await http.get("/api/me", headers=auth(token)), 401, "session_ended")
    r = await http.post(
        "/api/channels/general/messages", json={"text": "ghost"}, headers=auth(token)
    )
    api_error(r, 401, "session_ended")
    async with ws_connect(f"{server.ws_url}?token={token}") as ws:
        assert (await closed_with(ws))[0] == 4001
    async with ws_connect(server.ws_url) as ws:
        await ws.send({"action": "auth", "token": token})
        assert (await closed_with(ws))[0] == 4001


def shown(user: dict[str, Any]) -> dict[str, Any]:
    """A user body without the fields REST fills with their defaults
    (`custom_status: null`, `deactivated: false`, `bot: false`; events leave
    them out)."""
    defaults = {"custom_status": None, "deactivated": False, "bot": False}
    return {k: v for k, v in user.items() if k not in defaults or v != defaults[k]}


async def closes_4010(ws: WS) -> None:
    started = time.monotonic()
    code, _ = await closed_with(ws, PROMPT)
    assert code == 4010
    assert time.monotonic() - started < PROMPT


# --- a session per login --------------------------------------------------------------------


async def test_each_login_is_a_session(http: httpx.AsyncClient) -> None:
    name = unique("ann")
    first = await register(http, name)
    r = await http.post(
        "/api/auth/login",
        json={"username": name, "password": PASSWORD},
        headers={"User-Agent": "phone/1.0"},
    )
    assert r.status_code == 200, r.text
    second = r.json()["token"]
    third = await login(http, name)
    listed = await sessions(http, second)
    assert len(listed) == 3 and len({s["id"] for s in listed}) == 3
    assert [s["current"] for s in listed].count(True) == 1
    current = next(s for s in listed if s["current"])
    assert current["device"] == "phone/1.0" and current["address"] == "127.0.0.1"
    assert current["created_at"] <= current["last_used_at"] <= time.time() * 1000 + 1000
    # each token knows its own
    ids = [await session_id(http, t) for t in (first, second, third)]
    assert sorted(ids) == sorted(s["id"] for s in listed)
    # and nobody sees another account's sessions
    other = await register(http, unique("bob"))
    assert {s["id"] for s in await sessions(http, other)}.isdisjoint(ids)


async def test_revoking_another_session(server: Server, http: httpx.AsyncClient) -> None:
    name = unique("ann")
    laptop = await register(http, name)
    phone = await login(http, name)
    phone_id = await session_id(http, phone)
    async with (
        online(server, laptop) as on_laptop,
        online(server, phone) as on_phone,
        online(server, phone) as on_phone_too,
    ):
        r = await http.delete(f"/api/sessions/{phone_id}", headers=auth(laptop))
        assert r.status_code == 204, r.text
        await closes_4010(on_phone)
        await closes_4010(on_phone_too)
        await is_alive(on_laptop)
    await ended(http, server, phone)
    assert (await me(http, laptop))["username"] == name
    assert phone_id not in {s["id"] for s in await sessions(http, laptop)}
    # ending it again, or one that never was, is not found
    for sid in (phone_id, "no-such-session"):
        r = await http.delete(f"/api/sessions/{sid}", headers=auth(laptop))
        api_error(r, 404, "not_found")


async def test_nobody_ends_someone_elses_session(server: Server, http: httpx.AsyncClient) -> None:
    ann, mallory = await register(http, unique("ann")), await register(http, unique("mallory"))
    ann_id = await session_id(http, ann)
    async with online(server, ann) as ws:
        r = await http.delete(f"/api/sessions/{ann_id}", headers=auth(mallory))
        api_error(r, 404, "not_found")
        r = await http.delete("/api/sessions", headers=auth(mallory))  # mallory's own, all
        assert r.status_code == 204
        await is_alive(ws)
    assert (await me(http, ann))["role"] == "member"
    api_error(await http.get("/api/me", headers=auth(mallory)), 401, "session_ended")


async def test_logout_ends_this_session_only(server: Server, http: httpx.AsyncClient) -> None:
    name = unique("ann")
    stays = await register(http, name)
    leaves = await login(http, name)
    async with online(server, stays) as staying, online(server, leaves) as leaving:
        r = await http.post("/api/auth/logout", headers=auth(leaves))
        assert r.status_code == 204, r.text
        await closes_4010(leaving)
        await is_alive(staying)
    await ended(http, server, leaves)
    assert len(await sessions(http, stays)) == 1
    api_error(await http.post("/api/auth/logout"), 401, "not_authenticated")


async def test_log_out_everywhere(server: Server, http: httpx.AsyncClient) -> None:
    name = unique("ann")
    here = await register(http, name)
    others = [await login(http, name) for _ in range(2)]
    async with (
        online(server, here) as on_here,
        online(server, others[0]) as on_a,
        online(server, others[1]) as on_b,
    ):
        r = await http.delete("/api/sessions?keep_current=true", headers=auth(here))
        assert r.status_code == 204, r.text
        await closes_4010(on_a)
        await closes_4010(on_b)
        await is_alive(on_here)
        assert [s["current"] for s in await sessions(http, here)] == [True]
        for token in others:
            await ended(http, server, token)

        r = await http.delete("/api/sessions", headers=auth(here))
        assert r.status_code == 204, r.text
        await closes_4010(on_here)
    await ended(http, server, here)
    again = await login(http, name)  # the account is fine: a new session
    assert len(await sessions(http, again)) == 1


# --- the password -------------------------------------------------------------------------


async def test_a_new_password_ends_the_other_sessions(
    server: Server, http: httpx.AsyncClient
) -> None:
    name = unique("ann")
    here = await register(http, name)
    other = await login(http, name)
    new = "a much better horse"
    async with online(server, here) as on_here, online(server, other) as on_other:
        # a wrong current password changes nothing
        r = await http.put(
            "/api/me/password",
            json={"current_password": "not my password", "new_password": new},
            headers=auth(here),
        )
        api_error(r, 401, "bad_credentials")
        # nor does a weak new one
        r = await http.put(
            "/api/me/password",
            json={"current_password": PASSWORD, "new_password": "short"},
            headers=auth(here),
        )
        api_error(r, 400, "weak_password")
        await is_alive(on_other)
        assert (await me(http, other))["username"] == name
        assert len(await sessions(http, here)) == 2

        r = await http.put(
            "/api/me/password",
            json={"current_password": PASSWORD, "new_password": new},
            headers=auth(here),
        )
        assert r.status_code == 204, r.text
        await closes_4010(on_other)
        await is_alive(on_here)
    await ended(http, server, other)
    assert (await me(http, here))["username"] == name
    assert [s["current"] for s in await sessions(http, here)] == [True]
    r = await http.post("/api/auth/login", json={"username": name, "password": PASSWORD})
    api_error(r, 401, "bad_credentials")
    await login(http, name, new)


# --- profile and custom status -----------------------------------------------------------------


async def test_profile_and_status_reach_watchers(server: Server, http: httpx.AsyncClient) -> None:
    ann, bob = unique("ann"), unique("bob")
    ann_token, bob_token = await register(http, ann), await register(http, bob)
    until = int(time.time() * 1000) + 3_600_000
    async with online(server, bob_token) as watcher, online(server, ann_token) as own:
        state = await watcher.request({"action": "watch_presence", "usernames": [ann]})
        assert state["users"] == {ann: "online"}
        r = await http.patch(
            "/api/me",
            json={
                "display_name": "  Ann Lee ",
                "custom_status": {"emoji": ":coffee:", "text": "at lunch", "until": until},
            },
            headers=auth(ann_token),
        )
        assert r.status_code == 200, r.text
        status = {"emoji": "☕", "text": "at lunch", "until": until}
        expected = {"username": ann, "display_name": "Ann Lee", "role": "member"}
        assert shown(r.json()) == {**expected, "custom_status": status}
        for ws in (watcher, own):  # the watcher, and ann's own connections
            event = await ws.expect("user_updated")
            assert shown(event["user"]) == {**expected, "custom_status": status}
        r = await http.get(f"/api/users/{ann}", headers=auth(bob_token))
        assert shown(r.json()) == {**expected, "custom_status": status, "status": "online"}
        assert (await me(http, ann_token))["custom_status"] == status

        # `{}` clears the status; the display name stays
        r = await http.patch("/api/me", json={"custom_status": {}}, headers=auth(ann_token))
        assert r.status_code == 200 and shown(r.json()) == expected, r.text
        event = await watcher.expect("user_updated")
        assert shown(event["user"]) == expected
        r = await http.get(f"/api/users/{ann}", headers=auth(bob_token))
        assert shown(r.json()) == {**expected, "status": "online"}


async def test_bad_profile_changes_change_nothing(http: httpx.AsyncClient) -> None:
    token = await register(http, unique("ann"))
    before = await me(http, token)
    for body, field in [
        ({"display_name": "   "}, "display_name"),
        ({"display_name": "x" * 200}, "display_name"),
        ({"custom_status": {"emoji": "not an emoji", "text": "x"}}, "custom_status.emoji"),
        ({"custom_status": {"text": "x" * 1000}}, "custom_status.text"),
    ]:
        r = await http.patch("/api/me", json=body, headers=auth(token))
        err = api_error(r, 400, "invalid_input")
        assert err.get("field") == field, (body, err)
    assert await me(http, token) == before


async def test_an_ended_session_cannot_change_anything(
    server: Server, http: httpx.AsyncClient
) -> None:
    name = unique("ann")
    token = await register(http, name)
    keeper = await login(http, name)
    r = await http.post("/api/auth/logout", headers=auth(token))
    assert r.status_code == 204
    for method, path, body in [
        ("PATCH", "/api/me", {"display_name": "hijacked"}),
        ("PUT", "/api/me/password", {"current_password": PASSWORD, "new_password": "x" * 12}),
        ("DELETE", "/api/sessions", None),
        ("GET", "/api/sessions", None),
    ]:
        r = await http.request(method, path, json=body, headers=auth(token))
        api_error(r, 401, "session_ended")
    assert (await me(http, keeper))["display_name"] == name
    assert len(await sessions(http, keeper)) == 1
    await login(http, name)  # the password did not change
