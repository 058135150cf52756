"""Issue #14 over REST: editing, deleting and reacting to messages, and the
user directory, against a real server process.

Each route is one call into the hub, so these check what REST adds: the
status codes and bodies (each one documented for its operation), the emoji
in the path, idempotent retries, the events WebSocket followers get, and that
a refused change stores nothing.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from hubbub.core import reactions
from hubbub.protocol.errors import ChatError
from hubbub.protocol.rules import MAX_REACTIONS
from hubbub.server.openapi import alternation
from hubbub.server.rest import emoji_names
from support import Server, auth, online, subscribe, users

MESSAGE = "/api/channels/{name}/messages/{seq}"
REACTION = MESSAGE + "/reactions/{emoji}"
PIN = MESSAGE + "/pin"
PINS = "/api/channels/{name}/pins"


def message_url(channel: str, seq: int | str) -> str:
    return f"/api/channels/{channel}/messages/{seq}"


def reaction_url(channel: str, seq: int | str, emoji: str) -> str:
    return f"{message_url(channel, seq)}/reactions/{quote(emoji, safe='')}"


class Api:
    """REST calls, each answer checked against the live document."""

    def __init__(self, http: httpx.AsyncClient, doc: dict[str, Any]) -> None:
        self.http = http
        self.doc = doc

    async def call(
        self, method: str, url: str, path: str, token: str | None, **kwargs: Any
    ) -> httpx.Response:
        headers = {**kwargs.pop("headers", {}), **(auth(token) if token else {})}
        r = await self.http.request(method, url, headers=headers, **kwargs)
        responses = self.doc["paths"][path][method.lower()]["responses"]
        status = str(r.status_code)
        assert status in responses, (method, url, status, r.text)
        if r.status_code >= 400:
            code = r.json()["error"]["code"]
            assert code in responses[status]["x-error-codes"], (method, url, code)
        return r

    async def edit(self, token: str | None, channel: str, seq: int | str, text: Any) -> Any:
        return await self.call(
            "PATCH", message_url(channel, seq), MESSAGE, token, json={"text": text}
        )

    async def delete(self, token: str | None, channel: str, seq: int | str) -> Any:
        return await self.call("DELETE", message_url(channel, seq), MESSAGE, token)

    async def react(
        self, token: str | None, channel: str, seq: int | str, emoji: str, add: bool = True
    ) -> Any:
        url = reaction_url(channel, seq, emoji)
        return await self.call("PUT" if add else "DELETE", url, REACTION, token)

    async def pin(self, token: str | None, channel: str, seq: int | str, add: bool = True) -> Any:
        url = f"{message_url(channel, seq)}/pin"
        return await self.call("PUT" if add else "DELETE", url, PIN, token)

    async def pins(self, token: str | None, channel: str, **params: Any) -> Any:
        url = f"/api/channels/{channel}/pins"
        return await self.call("GET", url, PINS, token, params=params)

    async def post(self, token: str, channel: str, text: str) -> int:
        r = await self.http.post(
            f"/api/channels/{channel}/messages",
            json={"text": text, "client_id": f"{channel}-{text}"},
            headers=auth(token),
        )
        assert r.status_code == 201, r.text
        seq: int = r.json()["seq"]
        return seq

    async def history(self, token: str, channel: str) -> list[dict[str, Any]]:
        r = await self.http.get(f"/api/channels/{channel}/messages", headers=auth(token))
        assert r.status_code == 200, r.text
        page: list[dict[str, Any]] = r.json()["messages"]
        return page

    async def last_seq(self, token: str, channel: str) -> int:
        r = await self.http.get(f"/api/channels/{channel}", headers=auth(token))
        seq: int = r.json()["last_seq"]
        return seq


def code(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["error"]["code"]


@pytest.fixture
async def api(http: httpx.AsyncClient) -> Api:
    return Api(http, (await http.get("/openapi.json")).json())


@pytest.fixture
async def world(http: httpx.AsyncClient) -> dict[str, str]:
    """alice and bob in #lobby, carol not; #secret is alice's, private."""
    t = await users(http, "alice", "bob", "carol")
    for body in ({"name": "lobby"}, {"name": "secret", "private": True}):
        r = await http.post("/api/channels", json=body, headers=auth(t["alice"]))
        assert r.status_code == 201, r.text
    r = await http.post("/api/channels/lobby/join", headers=auth(t["bob"]))
    assert r.status_code == 200, r.text
    return t


# --- each route ----------------------------------------------------------------------


async def test_edit_delete_react_and_history_shows_them(api: Api, world: dict[str, str]) -> None:
    alice, bob = world["alice"], world["bob"]
    first = await api.post(alice, "lobby", "ship it?")
    second = await api.post(alice, "lobby", "oops")

    r = await api.edit(alice, "lobby", first, "ship it!")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["seq"] == second + 1  # the change's place in the log
    message = body["message"]
    assert (message["seq"], message["text"]) == (first, "ship it!")
    assert message["edited_at"] >= message["created_at"] and not message["deleted"]

    # A shortcode and the emoji itself are one reaction.
    r = await api.react(bob, "lobby", first, ":+1:")
    assert r.status_code == 200, r.text
    assert r.json()["seq"] == second + 2
    assert r.json()["message"]["reactions"] == [{"emoji": "👍", "count": 1, "users": ["bob"]}]
    r = await api.react(alice, "lobby", first, "👍")
    assert r.json()["message"]["reactions"] == [
        {"emoji": "👍", "count": 2, "users": ["bob", "alice"]}
    ]
    r = await api.react(alice, "lobby", first, ":tada:")
    assert [x["emoji"] for x in r.json()["message"]["reactions"]] == ["👍", "🎉"]
    r = await api.react(bob, "lobby", first, ":thumbsup:", add=False)
    assert r.status_code == 200 and r.json()["seq"] is not None
    left = r.json()["message"]["reactions"]
    assert left == [
        {"emoji": "👍", "count": 1, "users": ["alice"]},
        {"emoji": "🎉", "count": 1, "users": ["alice"]},
    ]

    r = await api.delete(alice, "lobby", second)
    assert r.status_code == 200, r.text
    tomb = r.json()["message"]
    assert (tomb["seq"], tomb["text"], tomb["deleted"]) == (second, "", True)

    # History: every message in its state now (newest first).
    now, then = await api.history(bob, "lobby")
    assert (now["seq"], now["text"], now["deleted"]) == (second, "", True)
    assert (then["seq"], then["text"]) == (first, "ship it!")
    assert then["edited_at"] == message["edited_at"]
    assert then["reactions"] == left
    assert await api.last_seq(bob, "lobby") == second + 6


async def test_pins_and_the_pinned_list(api: Api, world: dict[str, str]) -> None:
    alice, bob, carol = world["alice"], world["bob"], world["carol"]
    first = await api.post(alice, "lobby", "the plan")
    second = await api.post(alice, "lobby", "lunch")
    r = await api.pin(bob, "lobby", first)  # anyone in the channel may pin
    assert r.status_code == 200, r.text
    assert r.json()["seq"] == second + 1
    assert r.json()["message"]["pinned_by"] == "bob"
    again = await api.pin(alice, "lobby", first)
    assert again.status_code == 200 and again.json()["seq"] is None
    await api.pin(alice, "lobby", second)
    r = await api.pins(carol, "lobby")  # a public channel: readable, like history
    assert r.status_code == 200, r.text
    assert [(m["seq"], m["pinned_by"]) for m in r.json()["messages"]] == [
        (second, "alice"),
        (first, "bob"),
    ]
    assert [m["seq"] for m in (await api.pins(bob, "lobby", limit=1)).json()["messages"]] == [
        second
    ]
    r = await api.pin(bob, "lobby", second, add=False)
    assert r.status_code == 200 and r.json()["message"]["pinned_by"] is None
    # History shows who pinned what, in its state now.
    now, then = await api.history(bob, "lobby")
    assert (now["pinned_by"], then["pinned_by"]) == (None, "bob")

    # Bad input, each documented; nothing changes.
    before = await api.last_seq(bob, "lobby")
    assert code(await api.pin(carol, "lobby", first)) == (403, "not_a_member")
    assert code(await api.pin(bob, "lobby", 999)) == (404, "not_found")
    assert code(await api.pin(None, "lobby", first)) == (401, "not_authenticated")
    assert code(await api.pins(carol, "secret")) == (404, "not_found")
    assert code(await api.pins(bob, "lobby", limit=0)) == (400, "invalid_input")
    await api.delete(alice, "lobby", second)
    assert code(await api.pin(bob, "lobby", second)) == (409, "message_deleted")
    assert await api.last_seq(bob, "lobby") == before + 1  # the delete only
    assert [m["seq"] for m in (await api.pins(bob, "lobby")).json()["messages"]] == [first]


async def test_threads_over_rest(api: Api, world: dict[str, str]) -> None:
    alice, bob, carol = world["alice"], world["bob"], world["carol"]
    root = await api.post(alice, "lobby", "release notes?")
    path = "/api/channels/{name}/messages"

    async def reply(token: str | None, body: dict[str, Any]) -> httpx.Response:
        url = "/api/channels/lobby/messages"
        return await api.call("POST", url, path, token, json=body)

    r = await reply(bob, {"text": "drafting", "client_id": "t1", "thread_root": root})
    assert r.status_code == 201, r.text
    first = r.json()
    assert (first["thread_root"], first["seq"]) == (root, root + 1)
    again = await reply(bob, {"text": "drafting", "client_id": "t1", "thread_root": root})
    assert again.status_code == 200 and again.json()["duplicate"]
    r = await reply(alice, {"text": "thanks", "thread_root": first["seq"], "broadcast": True})
    assert r.status_code == 201 and r.json()["broadcast"], r.text

    thread_path = MESSAGE + "/thread"
    r = await api.call("GET", f"{message_url('lobby', root)}/thread", thread_path, carol)
    assert r.status_code == 200, r.text  # a public channel: readable, like history
    page = r.json()
    assert (page["root"]["reply_count"], page["root"]["reply_users"]) == (2, ["bob", "alice"])
    assert [m["text"] for m in page["messages"]] == ["thanks", "drafting"]  # newest first
    assert [m["seq"] for m in await api.history(bob, "lobby")] == [root + 3, root]

    r = await api.call("GET", "/api/threads", "/api/threads", bob)
    assert [(t["root"]["seq"], t["unread"]) for t in r.json()["threads"]] == [(root, 1)]
    read_path = thread_path + "/read"
    r = await api.call(
        "POST", f"{message_url('lobby', root)}/thread/read", read_path, bob, json={"seq": root + 3}
    )
    assert r.json() == {"last_read": root + 3}

    # Bad input, each documented; nothing is stored.
    before = await api.last_seq(bob, "lobby")
    assert code(await reply(bob, {"text": "?", "thread_root": 999})) == (404, "not_found")
    assert code(await reply(bob, {"text": "?", "thread_root": "x"})) == (400, "invalid_input")
    assert code(await reply(bob, {"text": "?", "thread_root": 0})) == (400, "invalid_input")
    assert code(await reply(carol, {"text": "?", "thread_root": root})) == (403, "not_a_member")
    missing = await api.call("GET", f"{message_url('lobby', 999)}/thread", thread_path, bob)
    assert code(missing) == (404, "not_found")
    secret = await api.call("GET", f"{message_url('secret', 1)}/thread", thread_path, bob)
    assert code(secret) == (404, "not_found")
    bad = await api.call("GET", "/api/threads", "/api/threads", bob, params={"limit": 0})
    assert code(bad) == (400, "invalid_input")
    assert await api.last_seq(bob, "lobby") == before
    await api.delete(alice, "lobby", root)
    gone = await reply(bob, {"text": "late", "thread_root": root})
    assert code(gone) == (409, "message_deleted")


async def test_retries_change_nothing_and_say_so(api: Api, world: dict[str, str]) -> None:
    alice, bob = world["alice"], world["bob"]
    seq = await api.post(alice, "lobby", "once")
    edited = await api.edit(alice, "lobby", seq, "twice")
    again = await api.edit(alice, "lobby", seq, "twice")  # the same PATCH, retried
    assert edited.json()["seq"] is not None and again.status_code == 200
    assert again.json() == {**edited.json(), "seq": None}

    assert (await api.react(bob, "lobby", seq, "🎉")).json()["seq"] is not None
    assert (await api.react(bob, "lobby", seq, ":tada:")).json()["seq"] is None
    assert (await api.react(alice, "lobby", seq, "🎉", add=False)).json()["seq"] is None
    before = await api.last_seq(alice, "lobby")

    gone = await api.delete(alice, "lobby", seq)
    assert gone.json()["seq"] == before + 1
    retried = await api.delete(alice, "lobby", seq)
    assert retried.status_code == 200 and retried.json() == {**gone.json(), "seq": None}
    assert await api.last_seq(alice, "lobby") == before + 1  # one change, once


# --- errors ----------------------------------------------------------------------------


async def test_every_refusal_is_documented_and_stores_nothing(
    api: Api, world: dict[str, str]
) -> None:
    alice, bob, carol = world["alice"], world["bob"], world["carol"]
    mine = await api.post(alice, "lobby", "alice's")
    gone = await api.post(alice, "lobby", "to delete")
    assert (await api.react(bob, "lobby", gone, "😂")).status_code == 200
    assert (await api.delete(alice, "lobby", gone)).status_code == 200
    secret = await api.post(alice, "secret", "hush")
    before = {name: await api.history(alice, name) for name in ("lobby", "secret")}
    last = {name: await api.last_seq(alice, name) for name in ("lobby", "secret")}

    refusals: list[tuple[str, Any, tuple[int, str]]] = [
        # 401: no token, a forged one (checked before anything else).
        ("no token", api.edit(None, "lobby", mine, "x"), (401, "not_authenticated")),
        ("forged", api.delete("forged", "lobby", mine), (401, "token_invalid")),
        ("no token", api.react(None, "lobby", mine, "👍"), (401, "not_authenticated")),
        ("no token", api.react(None, "lobby", mine, "👍", add=False), (401, "not_authenticated")),
        # 403: someone else's message; a channel you are not in.
        ("bob edits", api.edit(bob, "lobby", mine, "mine now"), (403, "forbidden")),
        ("bob deletes", api.delete(bob, "lobby", mine), (403, "forbidden")),
        ("carol edits", api.edit(carol, "lobby", mine, "x"), (403, "not_a_member")),
        ("carol reacts", api.react(carol, "lobby", mine, "👍"), (403, "not_a_member")),
        ("carol deletes", api.delete(carol, "lobby", mine), (403, "not_a_member")),
        # 404: no such message, no such channel, a private one you cannot see.
        ("no message", api.edit(alice, "lobby", 999, "x"), (404, "not_found")),
        ("seq 0", api.delete(alice, "lobby", 0), (404, "not_found")),
        ("past 64 bits", api.react(alice, "lobby", 2**70, "👍"), (404, "not_found")),
        ("no channel", api.react(alice, "nope", 1, "👍", add=False), (404, "not_found")),
        ("private", api.edit(bob, "secret", secret, "x"), (404, "not_found")),
        ("private", api.react(bob, "secret", secret, "👍"), (404, "not_found")),
        # 409: a deleted message.
        ("edit deleted", api.edit(alice, "lobby", gone, "back"), (409, "message_deleted")),
        ("react deleted", api.react(bob, "lobby", gone, "👍"), (409, "message_deleted")),
        ("unreact deleted", api.react(bob, "lobby", gone, "😂", add=False),
         (409, "message_deleted")),
        # 400: not an emoji, not a seq, no text, bad bodies.
        ("a word", api.react(bob, "lobby", mine, "yes"), (400, "invalid_input")),
        ("no such code", api.react(bob, "lobby", mine, ":not_an_emoji:"), (400, "invalid_input")),
        ("two emoji", api.react(bob, "lobby", mine, "👍👍"), (400, "invalid_input")),
        ("padded", api.react(bob, "lobby", mine, " 👍"), (400, "invalid_input")),
        ("unreact a word", api.react(bob, "lobby", mine, "yes", add=False),
         (400, "invalid_input")),
        ("seq abc", api.delete(alice, "lobby", "abc"), (400, "invalid_input")),
        ("seq -1", api.edit(alice, "lobby", -1, "x"), (400, "invalid_input")),
        ("blank", api.edit(alice, "lobby", mine, "   "), (400, "message_too_long")),
        ("too long", api.edit(alice, "lobby", mine, "x" * 100_000), (400, "message_too_long")),
        ("not text", api.edit(alice, "lobby", mine, 5), (400, "invalid_input")),
        ("no body", api.call("PATCH", message_url("lobby", mine), MESSAGE, alice),
         (400, "invalid_input")),
        ("bad json", api.call("PATCH", message_url("lobby", mine), MESSAGE, alice,
                              content=b"{nope", headers={"content-type": "application/json"}),
         (400, "invalid_json")),
    ]  # fmt: skip
    for what, request, expected in refusals:
        r = await request
        assert code(r) == expected, (what, r.text)
    r = await api.react(bob, "lobby", mine, "yes")
    assert r.json()["error"]["field"] == "emoji"
    r = await api.edit(alice, "lobby", 999, "x")
    assert r.json()["error"]["field"] == "seq"
    r = await api.edit(None, "lobby", mine, "x")
    assert r.headers["www-authenticate"] == "Bearer"

    # Nothing stored changed, nothing took a seq.
    for name in ("lobby", "secret"):
        assert await api.history(alice, name) == before[name], name
        assert await api.last_seq(alice, name) == last[name], name


async def test_a_message_takes_at_most_max_reactions_emoji(api: Api, world: dict[str, str]) -> None:
    alice, bob = world["alice"], world["bob"]
    seq = await api.post(alice, "lobby", "vote")
    faces = [chr(0x1F600 + i) for i in range(MAX_REACTIONS + 1)]
    for face in faces[:MAX_REACTIONS]:
        r = await api.react(bob, "lobby", seq, face)
        assert r.status_code == 200, r.text
    last = await api.last_seq(alice, "lobby")
    r = await api.react(alice, "lobby", seq, faces[-1])
    assert code(r) == (409, "too_many_reactions")
    assert r.json()["error"]["field"] == "emoji"
    assert await api.last_seq(alice, "lobby") == last
    # One already there can still be added to.
    r = await api.react(alice, "lobby", seq, faces[0])
    assert r.status_code == 200 and r.json()["message"]["reactions"][0]["count"] == 2


async def test_changes_are_rate_limited_like_sends(server_factory: Any) -> None:
    server = server_factory("--limit", "messages_per_second=0.001,message_burst=2")
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        api = Api(http, (await http.get("/openapi.json")).json())
        t = await users(http, "ann")
        r = await http.post("/api/channels", json={"name": "c"}, headers=auth(t["ann"]))
        assert r.status_code == 201, r.text
        seq = await api.post(t["ann"], "c", "hi")  # one of the burst of 2
        assert (await api.react(t["ann"], "c", seq, "👍")).status_code == 200
        r = await api.edit(t["ann"], "c", seq, "hello")
        assert code(r) == (429, "rate_limited")
        assert int(r.headers["retry-after"]) >= 1
        assert (await api.history(t["ann"], "c"))[0]["text"] == "hi"


# --- events ------------------------------------------------------------------------------


async def test_followers_get_message_updated_for_rest_changes(
    server: Server, api: Api, world: dict[str, str]
) -> None:
    alice, bob = world["alice"], world["bob"]
    seq = await api.post(alice, "lobby", "draft")
    async with online(server, bob) as ws:
        await subscribe(ws, "lobby")
        edited = (await api.edit(alice, "lobby", seq, "final")).json()
        event = await ws.expect("message_updated")
        assert (event["channel"], event["seq"]) == ("lobby", edited["seq"])
        assert event["message"]["text"] == "final" and event["message"]["seq"] == seq
        assert event["message"]["edited_at"] == edited["message"]["edited_at"]

        reacted = (await api.react(alice, "lobby", seq, ":heart:")).json()
        event = await ws.expect("message_updated")
        assert event["seq"] == reacted["seq"] == edited["seq"] + 1
        assert event["message"]["reactions"] == [{"emoji": "❤️", "count": 1, "users": ["alice"]}]

        await api.edit(alice, "lobby", seq, "final")  # changes nothing: no event
        deleted = (await api.delete(alice, "lobby", seq)).json()
        event = await ws.expect("message_updated")
        assert event["seq"] == deleted["seq"] == reacted["seq"] + 1  # nothing in between
        assert event["message"]["deleted"] is True and event["message"]["text"] == ""
        assert "reactions" not in event["message"]  # gone with the text


# --- the emoji in the path -----------------------------------------------------------


def test_every_documented_emoji_name_is_one_reaction() -> None:
    """`emoji_names` (what the document lists) is exactly what the core
    takes: each name is an emoji or the shortcode of one."""
    names = emoji_names()
    assert len(names) > 5000
    assert {"👍", ":+1:", ":thumbsup:", ":thumbs_up:", "🇫🇷", "👩‍💻"} <= names
    for name in names:
        emoji = reactions.normalize(name)
        assert name == emoji or name.startswith(":"), name
    for word in ("yes", ":+1", ":nope:", "👍👍", " 👍", ""):
        assert word not in names
        if word.strip() in ("", "yes", ":+1", ":nope:", "👍👍"):
            with pytest.raises(ChatError):
                reactions.normalize(word)


async def test_the_documented_emoji_pattern_is_the_names(http: httpx.AsyncClient) -> None:
    doc = (await http.get("/openapi.json")).json()
    schema = doc["components"]["schemas"]["Emoji"]
    for method in ("put", "delete"):
        params = {p["name"]: p for p in doc["paths"][REACTION][method]["parameters"]}
        assert params["emoji"]["schema"] == {"$ref": "#/components/schemas/Emoji"}
    names = emoji_names()
    assert schema["pattern"] == alternation(sorted(names))
    pattern = re.compile(schema["pattern"])
    assert all(pattern.search(n) for n in names)
    for word in ("yes", ":+1", ":+1::+1:", "👍👍", " 👍", "👍 ", "", "x👍", ":+1:x"):
        assert not pattern.search(word), word
    assert schema["maxLength"] >= max(map(len, names))


def test_alternation_matches_exactly_its_words() -> None:
    words = ["a", "ab", "abc", "b.c", "(x)", "a|b", "+1", "$", "🎖", "🎗"]
    pattern = re.compile(alternation(words))
    for w in words:
        assert pattern.search(w), w
    for w in ["", "abcd", "bxc", "x", "a|", "+", "ac", "🎖🎗", "1"]:
        assert not pattern.search(w), w


# --- the user directory --------------------------------------------------------------


async def test_the_user_directory_searches_and_pages(http: httpx.AsyncClient) -> None:
    doc = (await http.get("/openapi.json")).json()
    api = Api(http, doc)
    people = {
        "ann": "Ann Lee",
        "joanna": "Jo",
        "bob": "Bobby ANNE",
        "carl": "Émile Zola",
        "d_x": "100%",
        "dax": "Dax",
    }
    tokens = {}
    for name, display in people.items():
        r = await http.post(
            "/api/auth/register",
            json={"username": name, "password": "correct horse", "display_name": display},
        )
        assert r.status_code == 201, r.text
        tokens[name] = r.json()["token"]
    t = tokens["ann"]

    async def search(**params: Any) -> httpx.Response:
        return await api.call("GET", "/api/users", "/api/users", t, params=params)

    everyone = await search()
    assert everyone.status_code == 200
    assert [u["username"] for u in everyone.json()] == sorted(people)
    assert everyone.json()[0] == {
        "username": "ann",
        "display_name": "Ann Lee",
        "role": "owner",  # the first account of the server
        "custom_status": None,
        "deactivated": False,
        "bot": False,
    }
    assert "link" not in everyone.headers

    # Substring of the username or the display name, in any case.
    found = await search(q="ANN")
    assert [u["username"] for u in found.json()] == ["ann", "bob", "joanna"]
    assert [u["username"] for u in (await search(q=" émile ")).json()] == ["carl"]
    assert [u["username"] for u in (await search(q="ÉMILE")).json()] == ["carl"]
    # `_` and `%` are themselves, not wildcards.
    assert [u["username"] for u in (await search(q="d_")).json()] == ["d_x"]
    assert [u["username"] for u in (await search(q="0%")).json()] == ["d_x"]
    assert (await search(q="zzz")).json() == []

    # Pages, as GET /api/channels: Link and X-Next-After while there are more.
    first = await search(q="a", limit=2)
    assert [u["username"] for u in first.json()] == ["ann", "bob"]
    assert first.headers["x-next-after"] == "bob"
    link = first.headers["link"]
    assert link.startswith("</api/users?") and link.endswith('>; rel="next"')
    second = await http.get(link[1 : link.index(">")], headers=auth(t))
    assert [u["username"] for u in second.json()] == ["carl", "dax"]
    third = await search(q="a", limit=2, after=second.headers["x-next-after"])
    assert [u["username"] for u in third.json()] == ["joanna"]
    assert "x-next-after" not in third.headers

    r = await search(limit=0)
    assert code(r) == (400, "invalid_input")
    r = await search(q="x" * 81)
    assert code(r) == (400, "invalid_input")
    r = await api.call("GET", "/api/users", "/api/users", None)
    assert code(r) == (401, "not_authenticated")
