"""API tokens and bots, end to end (issue #17): a token works on REST and on
the WebSocket (`?token=` and the `auth` frame) like a login's, within its
scopes; it is shown once, listed without its secret with its last use, and
revoking it refuses it at once and closes its connections; a new password
and "log out everywhere" leave it standing, deactivating the account ends
it. A bot is an account without a password, owned by a person, managed by
them and by admins. Managing tokens needs a login, not a token."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from admin_support import (
    PASSWORD,
    PROMPT,
    api_error,
    closed_with,
    create_channel,
    me,
    own_server,
    post,
    register,
    unique,
)
from support import Server, auth, online, send, subscribe, ws_connect


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with own_server(tmp_path_factory.mktemp("tokens")) as s:
        yield s


async def new_token(
    http: httpx.AsyncClient, login_token: str, name: str = "CI", **body: Any
) -> dict[str, Any]:
    r = await http.post("/api/tokens", json={"name": name, **body}, headers=auth(login_token))
    assert r.status_code == 201, r.text
    made: dict[str, Any] = r.json()
    assert made["token"].startswith(f"hbt.{made['id']}.")
    return made


async def tokens(http: httpx.AsyncClient, login_token: str, **params: Any) -> list[Any]:
    r = await http.get("/api/tokens", params=params, headers=auth(login_token))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_a_token_works_on_rest_and_websocket_and_shows_its_last_use(
    server: Server, http: httpx.AsyncClient, owner: str
) -> None:
    name = unique("ann")
    ann = await register(http, name)
    made = await new_token(http, ann, "deploy script")
    assert made["scopes"] == ["read", "write"] and made["last_used_at"] is None
    token = made["token"]
    assert (await me(http, token))["username"] == name
    r = await post(http, token, "general", "from a script")
    assert r.status_code == 201, r.text
    assert r.json()["author"]["username"] == name
    (listed,) = await tokens(http, ann)
    assert "token" not in listed and listed["id"] == made["id"]
    assert listed["last_used_at"] is not None and listed["last_address"] == "127.0.0.1"
    # the WebSocket, both ways of signing in
    async with online(server, token) as ws:
        await subscribe(ws, "general")
        ack = await send(ws, "general", "from a bot loop")
        assert ack["type"] == "ack", ack
    async with ws_connect(server.ws_url) as ws:
        await ws.send({"action": "auth", "token": token})
        hello = await ws.expect("hello")
        assert hello["user"]["username"] == name
    # a token is not a login: it is not among the sessions
    r = await http.get("/api/sessions", headers=auth(ann))
    assert made["id"] not in {s["id"] for s in r.json()}


async def test_a_read_token_reads_and_is_refused_every_write(
    server: Server, http: httpx.AsyncClient
) -> None:
    ann = await register(http, unique("ann"))
    token = (await new_token(http, ann, "dashboard", scopes=["read"]))["token"]
    r = await http.get("/api/channels/general/messages", headers=auth(token))
    assert r.status_code == 200, r.text
    api_error(await post(http, token, "general", "nope"), 403, "missing_scope")
    api_error(
        await http.post("/api/channels/general/join", headers=auth(token)), 403, "missing_scope"
    )
    async with online(server, token) as ws:
        assert (await subscribe(ws, "general"))["channel"] == "general"
        reply = await ws.request(
            {"action": "send", "channel": "general", "text": "nope", "client_id": "c-read-1"}
        )
        assert reply["type"] == "error" and reply["code"] == "missing_scope", reply
        reply = await ws.request({"action": "typing", "channel": "general"})
        assert reply["type"] == "error" and reply["code"] == "missing_scope", reply
        assert (await ws.request({"action": "ping"}))["type"] == "pong"
    # and nothing was stored
    r = await http.get("/api/channels/general/messages", headers=auth(ann))
    assert "nope" not in [m["text"] for m in r.json()["messages"]]


async def test_a_token_cannot_manage_tokens_sessions_or_the_password(
    http: httpx.AsyncClient,
) -> None:
    ann = await register(http, unique("ann"))
    token = (await new_token(http, ann, scopes=["read", "write"]))["token"]
    refused = [
        await http.post("/api/tokens", json={"name": "more"}, headers=auth(token)),
        await http.get("/api/tokens", headers=auth(token)),
        await http.post("/api/bots", json={"username": unique("b")}, headers=auth(token)),
        await http.get("/api/sessions", headers=auth(token)),
        await http.delete("/api/sessions", headers=auth(token)),
        await http.put(
            "/api/me/password",
            json={"current_password": PASSWORD, "new_password": "another horse"},
            headers=auth(token),
        ),
    ]
    for r in refused:
        api_error(r, 403, "missing_scope")
    assert len(await tokens(http, ann)) == 1


async def test_revoking_a_token_refuses_it_and_closes_its_connections(
    server: Server, http: httpx.AsyncClient
) -> None:
    ann = await register(http, unique("ann"))
    kept, revoked = await new_token(http, ann, "kept"), await new_token(http, ann, "gone")
    async with online(server, revoked["token"]) as ws, online(server, kept["token"]) as other:
        r = await http.delete(f"/api/tokens/{revoked['id']}", headers=auth(ann))
        assert r.status_code == 204, r.text
        code, _ = await closed_with(ws, PROMPT)
        assert code == 4010
        assert (await other.request({"action": "ping"}))["type"] == "pong"
    api_error(await http.get("/api/me", headers=auth(revoked["token"])), 401, "session_ended")
    assert [t["id"] for t in await tokens(http, ann)] == [kept["id"]]
    api_error(
        await http.delete(f"/api/tokens/{revoked['id']}", headers=auth(ann)), 404, "not_found"
    )
    # a login's session is not a token: this route does not end it
    logins = (await http.get("/api/sessions", headers=auth(ann))).json()
    r = await http.delete(f"/api/tokens/{logins[0]['id']}", headers=auth(ann))
    api_error(r, 404, "not_found")
    assert (await me(http, ann))["username"]


async def test_a_new_password_and_logging_out_everywhere_leave_tokens_deactivation_ends_them(
    server: Server, http: httpx.AsyncClient, owner: str
) -> None:
    name = unique("ann")
    ann = await register(http, name)
    token = (await new_token(http, ann))["token"]
    r = await http.put(
        "/api/me/password",
        json={"current_password": PASSWORD, "new_password": "another horse"},
        headers=auth(ann),
    )
    assert r.status_code == 204, r.text
    assert (await http.delete("/api/sessions", headers=auth(ann))).status_code == 204
    api_error(await http.get("/api/me", headers=auth(ann)), 401, "session_ended")
    assert (await me(http, token))["username"] == name
    async with online(server, token) as ws:
        r = await http.put(f"/api/users/{name}/active", json={"active": False}, headers=auth(owner))
        assert r.status_code == 200, r.text
        assert (await closed_with(ws, PROMPT))[0] == 4011
    api_error(await http.get("/api/me", headers=auth(token)), 401, "account_deactivated")


async def test_bad_tokens_are_refused_with_token_invalid(
    server: Server, http: httpx.AsyncClient
) -> None:
    ann = await register(http, unique("ann"))
    made = await new_token(http, ann)
    forged = f"hbt.{made['id']}.{'x' * 43}"
    for bad in (forged, "hbt.", "hbt.nodot", f"hbt.{made['id']}.", "hbt." + "a" * 70 + ".k"):
        api_error(await http.get("/api/me", headers=auth(bad)), 401, "token_invalid")
    async with ws_connect(f"{server.ws_url}?token={forged}") as ws:
        assert (await closed_with(ws))[0] == 4001
    # the real one still works: a forged secret changed nothing
    assert (await me(http, made["token"]))["username"]


async def test_scopes_and_names_are_checked(http: httpx.AsyncClient, owner: str) -> None:
    ann = await register(http, unique("ann"))
    for body in (
        {"name": "x", "scopes": ["root"]},
        {"name": "x", "scopes": []},
        {"name": "x", "scopes": "read"},
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 81},
    ):
        r = await http.post("/api/tokens", json=body, headers=auth(ann))
        api_error(r, 400, "invalid_input")
    r = await http.post("/api/tokens", json={"name": "x", "scopes": ["admin"]}, headers=auth(ann))
    api_error(r, 403, "forbidden")  # a member's token cannot be an admin's
    assert await tokens(http, ann) == []


async def test_admin_routes_need_the_admin_scope(http: httpx.AsyncClient, owner: str) -> None:
    target = unique("carl")
    await register(http, target)
    writer = (await new_token(http, owner, "ops", scopes=["read", "write"]))["token"]
    admin = (await new_token(http, owner, "provisioning", scopes=["read", "admin"]))["token"]
    body = {"role": "guest"}
    r = await http.put(f"/api/users/{target}/role", json=body, headers=auth(writer))
    api_error(r, 403, "missing_scope")
    api_error(await http.get("/api/audit", headers=auth(writer)), 403, "missing_scope")
    r = await http.put(f"/api/users/{target}/role", json=body, headers=auth(admin))
    assert r.status_code == 200 and r.json()["role"] == "guest", r.text
    # its `admin` scope is not `write`
    api_error(await post(http, admin, "general", "hi"), 403, "missing_scope")


# --- bots ----------------------------------------------------------------------------------


async def test_a_bot_posts_with_its_token_and_shows_as_a_bot(
    server: Server, http: httpx.AsyncClient
) -> None:
    ann = await register(http, unique("ann"))
    name = unique("ci-bot")
    r = await http.post(
        "/api/bots", json={"username": name, "display_name": "CI"}, headers=auth(ann)
    )
    assert r.status_code == 201, r.text
    bot = r.json()
    assert bot["bot"] is True and bot["display_name"] == "CI" and bot["owner"].startswith("ann-")
    assert bot["role"] == "member"
    channel = unique("builds")
    await create_channel(http, ann, channel)
    made = await new_token(http, ann, "builds", bot=name)
    r = await http.post(f"/api/channels/{channel}/join", headers=auth(made["token"]))
    assert r.status_code == 200, r.text
    async with online(server, ann) as ws:
        await subscribe(ws, channel)
        r = await post(http, made["token"], channel, "build 42 passed")
        assert r.status_code == 201, r.text
        got = await ws.expect("message")
        assert got["author"]["username"] == name and got["text"] == "build 42 passed"
    r = await http.get(f"/api/users/{name}", headers=auth(ann))
    assert r.json()["bot"] is True
    assert [t["name"] for t in await tokens(http, ann, bot=name)] == ["builds"]
    assert await tokens(http, ann) == []  # the bot's, not ann's
    listed = (await http.get("/api/bots", headers=auth(ann))).json()
    assert [b["username"] for b in listed] == [name]
    # a bot has no password: no login gets in
    for password in (PASSWORD, "!", ""):
        r = await http.post("/api/auth/login", json={"username": name, "password": password})
        assert r.status_code in (400, 401), r.text


async def test_only_the_owner_or_an_admin_manages_a_bot(
    server: Server, http: httpx.AsyncClient, owner: str
) -> None:
    ann, mallory = await register(http, unique("ann")), await register(http, unique("mallory"))
    name = unique("bot")
    r = await http.post("/api/bots", json={"username": name}, headers=auth(ann))
    assert r.status_code == 201, r.text
    for r in (
        await http.post("/api/tokens", json={"name": "x", "bot": name}, headers=auth(mallory)),
        await http.get("/api/tokens", params={"bot": name}, headers=auth(mallory)),
        await http.put(f"/api/bots/{name}/active", json={"active": False}, headers=auth(mallory)),
    ):
        api_error(r, 403, "forbidden")
    assert name not in [
        b["username"] for b in (await http.get("/api/bots", headers=auth(mallory))).json()
    ]
    # a person is not a bot
    r = await http.post("/api/tokens", json={"name": "x", "bot": "boss"}, headers=auth(ann))
    api_error(r, 404, "not_found")
    # the workspace's admins manage every bot
    made = await new_token(http, owner, "by the owner", bot=name)
    assert name in [
        b["username"] for b in (await http.get("/api/bots", headers=auth(owner))).json()
    ]
    async with online(server, made["token"]) as ws:
        r = await http.put(f"/api/bots/{name}/active", json={"active": False}, headers=auth(ann))
        assert r.status_code == 200 and r.json()["deactivated"] is True, r.text
        assert (await closed_with(ws, PROMPT))[0] == 4011
    api_error(await http.get("/api/me", headers=auth(made["token"])), 401, "account_deactivated")
    r = await http.put(f"/api/bots/{name}/active", json={"active": True}, headers=auth(ann))
    assert r.status_code == 200, r.text
    assert r.json()["deactivated"] is False
    # back, with its old tokens still ended
    api_error(await http.get("/api/me", headers=auth(made["token"])), 401, "session_ended")


async def test_bad_bot_requests(http: httpx.AsyncClient) -> None:
    ann = await register(http, unique("ann"))
    taken = unique("bot")
    assert (
        await http.post("/api/bots", json={"username": taken}, headers=auth(ann))
    ).status_code == 201
    api_error(
        await http.post("/api/bots", json={"username": taken}, headers=auth(ann)), 409, "conflict"
    )
    for bad in ("A", "x", "no spaces", "here"):
        r = await http.post("/api/bots", json={"username": bad}, headers=auth(ann))
        assert r.status_code in (400, 409), r.text
    r = await http.put("/api/bots/nobody/active", json={"active": False}, headers=auth(ann))
    api_error(r, 404, "not_found")
    r = await http.post(
        "/api/bots", json={"username": unique("b"), "display_name": "x" * 81}, headers=auth(ann)
    )
    api_error(r, 400, "invalid_input")
