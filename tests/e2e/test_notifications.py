"""Notification preferences over REST against a real server (issue #17):
`GET/PUT /api/notifications`, `GET/PUT /api/channels/{name}/notifications`,
the channel list carrying each channel's level and mute, a change pushed to
the user's open WebSockets at once, and each bad input a documented error."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from admin_support import api_error, create_channel, own_server, unique
from support import WAIT, Server, auth, online, register


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with own_server(tmp_path_factory.mktemp("notify")) as s:
        yield s


@pytest.fixture
async def http(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as client:
        yield client


async def test_settings_round_trip_and_reach_an_open_socket(
    server: Server, http: httpx.AsyncClient
) -> None:
    ann = await register(http, unique("ann"))
    r = await http.get("/api/notifications", headers=auth(ann))
    assert r.status_code == 200, r.text
    assert r.json() == {
        "dnd_until": None,
        "schedule": None,
        "dnd": False,
        "email_digest": False,
        "email": None,
    }

    async with online(server, ann) as ws:
        night = {"start": "23:00", "end": "23:00", "tz": "America/New_York"}  # empty: never on
        r = await http.put(
            "/api/notifications",
            json={"dnd_minutes": 60, "schedule": night, "email": "ann@example.com"},
            headers=auth(ann),
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["dnd"] is True and body["schedule"] == night
        assert (body["email"], body["email_digest"]) == ("ann@example.com", False)
        assert isinstance(body["dnd_until"], int)
        assert await ws.expect("notifications") == {"type": "notifications", **body}

    # Only what is given changes; null clears.
    r = await http.put("/api/notifications", json={"dnd_until": None}, headers=auth(ann))
    assert r.json() == {
        "dnd_until": None,
        "schedule": night,
        "dnd": False,
        "email_digest": False,
        "email": "ann@example.com",
    }
    r = await http.put("/api/notifications", json={"schedule": None}, headers=auth(ann))
    assert r.json()["schedule"] is None and r.json()["email"] == "ann@example.com"


async def test_channel_level_and_mute_show_in_the_channel_list(
    server: Server, http: httpx.AsyncClient
) -> None:
    ann, bob = await register(http, unique("ann")), await register(http, unique("bob"))
    name = unique("ops")
    await create_channel(http, ann, name)
    path = f"/api/channels/{name}/notifications"
    r = await http.get(path, headers=auth(ann))
    assert r.json() == {"channel": name, "level": "mentions", "muted": False}

    async with online(server, ann) as ws:
        r = await http.put(path, json={"level": "all", "muted": True}, headers=auth(ann))
        assert r.json() == {"channel": name, "level": "all", "muted": True}
        assert await ws.expect("channel_notifications") == {
            "type": "channel_notifications",
            "channel": name,
            "level": "all",
            "muted": True,
        }
    r = await http.put(path, json={"muted": False}, headers=auth(ann))
    assert r.json() == {"channel": name, "level": "all", "muted": False}  # the level stays

    listed = {c["name"]: c for c in (await http.get("/api/channels", headers=auth(ann))).json()}
    assert (listed[name]["notify"], listed[name]["muted"]) == ("all", False)
    assert (listed["general"]["notify"], listed["general"]["muted"]) == ("mentions", False)
    one = (await http.get(f"/api/channels/{name}", headers=auth(ann))).json()
    assert one["notify"] == "all"

    # Bob is not in it: not_a_member, and his list shows the default.
    api_error(await http.put(path, json={"level": "all"}, headers=auth(bob)), 403, "not_a_member")
    theirs = {c["name"]: c for c in (await http.get("/api/channels", headers=auth(bob))).json()}
    assert theirs[name]["notify"] == "mentions"


async def test_bad_input_is_a_documented_error(http: httpx.AsyncClient) -> None:
    ann = await register(http, unique("ann"))
    h = auth(ann)

    async def bad(path: str, body: object, status: int, code: str) -> dict[str, object]:
        return api_error(await http.put(path, json=body, headers=h), status, code)

    err = await bad(
        "/api/notifications",
        {"schedule": {"start": "22:00", "end": "08:00", "tz": "Nowhere/Land"}},
        400,
        "invalid_input",
    )
    assert err["field"] == "schedule.tz"
    await bad(
        "/api/notifications",
        {"schedule": {"start": "10pm", "end": "08:00", "tz": "UTC"}},
        400,
        "invalid_input",
    )
    err = await bad("/api/notifications", {"dnd_minutes": 5, "dnd_until": 1}, 400, "invalid_input")
    assert err["field"] == "dnd_minutes"
    err = await bad("/api/notifications", {"dnd_until": 4_000_000_000_000}, 400, "invalid_input")
    assert err["field"] == "dnd_until"
    # This server has no --smtp-url: digests cannot be turned on (and are not stored).
    err = await bad("/api/notifications", {"email_digest": True}, 501, "unsupported")
    assert "--smtp-url" in str(err["message"])
    err = await bad("/api/notifications", {"email": "not an address"}, 400, "invalid_input")
    assert err["field"] == "email"
    await bad("/api/channels/general/notifications", {"level": "loud"}, 400, "invalid_input")
    await bad("/api/channels/nope-none/notifications", {"muted": True}, 404, "not_found")
    api_error(await http.get("/api/notifications"), 401, "not_authenticated")
    r = await http.get("/api/notifications", headers=h)
    got = r.json()
    assert (got["dnd_until"], got["schedule"], got["email_digest"]) == (None, None, False)


async def test_an_admin_sees_someones_address_nobody_else_does(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with own_server(tmp_path_factory.mktemp("notify-admin")) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as http:
            boss = await register(http, "boss")  # the first account: the owner
            ann, bob = await register(http, "ann"), await register(http, "bob")
            r = await http.put(
                "/api/notifications", json={"email": "ann@example.com"}, headers=auth(ann)
            )
            assert r.status_code == 200, r.text
            r = await http.get("/api/admin/users/ann/email", headers=auth(boss))
            assert r.json() == {"username": "ann", "email": "ann@example.com"}
            r = await http.get("/api/admin/users/bob/email", headers=auth(boss))
            assert r.json() == {"username": "bob", "email": None}
            api_error(
                await http.get("/api/admin/users/ann/email", headers=auth(bob)), 403, "forbidden"
            )
            api_error(
                await http.get("/api/admin/users/nobody/email", headers=auth(boss)),
                404,
                "not_found",
            )
