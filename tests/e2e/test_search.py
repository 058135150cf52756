"""Search and "jump to a message" end to end, on real `hubbub serve` processes
over SQLite and PostgreSQL (and DynamoDB, which answers `unsupported`): who
sees what, edits and deletes, every filter over REST and WebSocket, malformed
queries, history `around` a message, the SDK and `hubbub search`."""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from aws_support import start_aws_local, store_url
from hubbub.client.sdk import Client, HubbubError
from services import drop_database, fresh_postgres_database, require_postgres
from session.drivers import LIMITS as DRIVER_LIMITS
from session.drivers import AwsDriver
from support import WAIT, Server, auth, online, register, send, start_server, ws_connect

LIMITS = ("--limit", "messages_per_second=1000,message_burst=1000,channels_per_hour=1000")


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, str]]:
    """One server per database for the module, and the token of its owner
    (its first account). Each test uses words and names of its own, so tests
    cannot see each other's messages."""
    database = None
    extra: tuple[str, ...] = ()
    if request.param == "postgres":
        require_postgres()  # skips outside CI, fails under CI=true
        database = asyncio.run(fresh_postgres_database())
        extra = ("--database-url", database)
    server = start_server(tmp_path_factory.mktemp("search"), *LIMITS, *extra)

    async def first() -> str:
        async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as http:
            return await register(http, "owner")

    try:
        yield server, asyncio.run(first())
    finally:
        server.stop()
        if database is not None:
            asyncio.run(drop_database(database))


@pytest.fixture
def server(deployment: tuple[Server, str]) -> Server:
    return deployment[0]


@pytest.fixture
async def web(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as client:
        yield client


@pytest.fixture
def owner(deployment: tuple[Server, str], web: httpx.AsyncClient) -> User:
    return User(web, "owner", deployment[1])


def word() -> str:
    """A word no other test's messages have (letters and digits: one term)."""
    return "w" + uuid.uuid4().hex[:10]


class User:
    def __init__(self, http: httpx.AsyncClient, name: str, token: str) -> None:
        self.http, self.name, self.token = http, name, token

    async def call(self, method: str, path: str, status: int = 200, **kw: Any) -> Any:
        r = await self.http.request(method, path, headers=auth(self.token), **kw)
        assert r.status_code == status, r.text
        return r.json() if r.content else None

    async def post(self, channel: str, text: str, **extra: Any) -> dict[str, Any]:
        body = {"text": text, "client_id": uuid.uuid4().hex, **extra}
        return await self.call("POST", f"/api/channels/{channel}/messages", 201, json=body)  # type: ignore[no-any-return]

    async def channel(self, name: str, *, private: bool = False) -> str:
        await self.call("POST", "/api/channels", 201, json={"name": name, "private": private})
        return name

    async def search(self, q: str, status: int = 200, **params: Any) -> Any:
        return await self.call("GET", "/api/search", status, params={"q": q, **params})

    async def texts(self, q: str, **params: Any) -> list[str]:
        return [r["message"]["text"] for r in (await self.search(q, **params))["results"]]


async def people(http: httpx.AsyncClient, *bases: str) -> list[User]:
    out = []
    for base in bases:
        name = f"{base}{uuid.uuid4().hex[:6]}"
        out.append(User(http, name, await register(http, name)))
    return out


def chan(base: str) -> str:
    return f"{base}-{uuid.uuid4().hex[:6]}"


# --- permissions ---------------------------------------------------------------------


async def test_results_are_only_what_you_may_read(server: Server, web: httpx.AsyncClient) -> None:
    ann, bob, cat, dan = await people(web, "ann", "bob", "cat", "dan")
    w = word()
    secret = await ann.channel(chan("secret"), private=True)
    await ann.call("POST", f"/api/channels/{secret}/invite", json={"username": cat.name})
    public = await ann.channel(chan("open"))
    await ann.post(secret, f"the {w} plan")
    await ann.post(public, f"the {w} notice")
    dm = (await ann.call("POST", "/api/dms", json={"usernames": [dan.name]}))["name"]
    await ann.post(dm, f"psst {w}")

    every = [f"psst {w}", f"the {w} notice", f"the {w} plan"]  # newest first
    assert await ann.texts(w) == every
    # bob is in none of them: the public channel only (any member may read it).
    assert await bob.texts(w) == [f"the {w} notice"]
    assert await cat.texts(w) == [f"the {w} notice", f"the {w} plan"]
    assert await dan.texts(w) == [f"psst {w}", f"the {w} notice"]

    # Removed from the private channel: its messages leave cat's results at once.
    await ann.call("DELETE", f"/api/channels/{secret}/members/{cat.name}")
    assert await cat.texts(w) == [f"the {w} notice"]
    # Nor does naming it find it: the same answer as a channel that does not exist.
    nothing = chan("nothing")
    hidden = (await cat.search(f"{w} in:#{secret}", 400))["error"]
    missing = (await cat.search(f"{w} in:#{nothing}", 400))["error"]
    assert hidden["code"] == missing["code"] == "invalid_query"
    assert hidden["message"].replace(secret, "X") == missing["message"].replace(nothing, "X")
    # Others' DMs, by name or as `in:@user`: never; your own: yes.
    assert (await bob.search(f"{w} in:{dm}", 400))["error"]["code"] == "invalid_query"
    assert (await bob.search(f"{w} in:@{ann.name}", 400))["error"]["code"] == "invalid_query"
    assert await dan.texts(f"{w} in:@{ann.name}") == [f"psst {w}"]
    assert await ann.texts(f"{w} in:{dm}") == [f"psst {w}"]
    # ... and over the WebSocket alike.
    async with online(server, bob.token) as ws:
        reply = await ws.request({"action": "search", "query": w})
        assert reply["type"] == "search_results" and reply["query"] == w
        assert [r["message"]["text"] for r in reply["results"]] == [f"the {w} notice"]
        err = await ws.request({"action": "search", "query": f"{w} in:#{secret}"})
        assert (err["type"], err["code"]) == ("error", "invalid_query")
        assert err["message"] == hidden["message"]


async def test_guests_see_only_their_own_channels(web: httpx.AsyncClient, owner: User) -> None:
    ann, gus = await people(web, "ann", "gus")
    w = word()
    public = await ann.channel(chan("lobby"))
    await ann.post(public, f"{w} for everyone")
    assert await gus.texts(w) == [f"{w} for everyone"]
    await owner.call("PUT", f"/api/users/{gus.name}/role", json={"role": "guest"})
    assert await gus.texts(w) == []
    assert (await gus.search(f"{w} in:#{public}", 400))["error"]["code"] == "invalid_query"
    await ann.call("POST", f"/api/channels/{public}/invite", json={"username": gus.name})
    assert await gus.texts(w) == [f"{w} for everyone"]


# --- kept current ----------------------------------------------------------------------


async def test_edits_deletes_and_replies_are_reflected(
    server: Server, web: httpx.AsyncClient
) -> None:
    (ann,) = await people(web, "ann")
    before, after, reply_word = word(), word(), word()
    room = await ann.channel(chan("room"))
    seq = (await ann.post(room, f"first {before}"))["seq"]
    assert await ann.texts(before) == [f"first {before}"]
    await ann.call("PATCH", f"/api/channels/{room}/messages/{seq}", json={"text": f"now {after}"})
    assert await ann.texts(before) == []
    found = (await ann.search(after))["results"]
    assert [(r["message"]["seq"], r["message"]["text"]) for r in found] == [(seq, f"now {after}")]
    assert found[0]["message"]["edited_at"] is not None
    await ann.post(room, f"a {reply_word}", thread_root=seq)
    assert await ann.texts(reply_word) == [f"a {reply_word}"]
    await ann.call("DELETE", f"/api/channels/{room}/messages/{seq}")
    assert await ann.texts(after) == []
    async with online(server, ann.token) as ws:
        reply = await ws.request({"action": "search", "query": after})
        assert reply["results"] == [] and reply["more"] is False and reply["next_offset"] is None


# --- the query language ------------------------------------------------------------------


async def upload(user: User, channel: str) -> str:
    r = await user.http.post(
        "/api/files",
        headers=auth(user.token),
        data={"channel": channel},
        files=[("file", ("notes.txt", b"some notes\n", "text/plain"))],
    )
    assert r.status_code == 201, r.text
    body = r.json()
    return str((body[0] if isinstance(body, list) else body)["id"])


async def test_every_filter_over_rest_and_websocket(server: Server, web: httpx.AsyncClient) -> None:
    ann, bob = await people(web, "ann", "bob")
    w, other = word(), word()
    one, two = await ann.channel(chan("one")), await ann.channel(chan("two"))
    await bob.call("POST", f"/api/channels/{one}/join")
    await bob.call("POST", f"/api/channels/{two}/join")
    texts = {
        "plain": f"{w} deploy went fine",
        "link": f"{w} see https://example.com/x",
        "phrase": f"the release notes {w}",
        "scrambled": f"notes about the release {w}",
        "bob": f"{w} from bob in two",
        "both": f"{w} {other}",
        "accent": f"{w} Café",
    }
    root = (await ann.post(one, texts["plain"]))["seq"]
    await ann.post(one, texts["link"])
    await ann.post(one, texts["phrase"])
    await ann.post(one, texts["scrambled"])
    await bob.post(two, texts["bob"])
    await ann.post(two, texts["both"])
    await ann.post(two, texts["accent"])
    reply = f"{w} replying"
    await bob.post(one, reply, thread_root=root)
    filed = f"{w} with a file"
    await ann.post(one, filed, files=[await upload(ann, one)])

    today = datetime.datetime.now(datetime.UTC).date()
    day = datetime.timedelta(days=1)
    cases = {
        f"{w} in:#{one}": {texts[k] for k in ("plain", "link", "phrase", "scrambled")}
        | {reply, filed},
        f"{w} in:{two} in:#{one} from:@{bob.name}": {texts["bob"], reply},
        f"{w} from:{bob.name}": {texts["bob"], reply},
        f"{w} has:link": {texts["link"]},
        f"{w} has:file": {filed},
        f"{w} is:thread": {texts["plain"], reply},
        f'"release notes" {w}': {texts["phrase"]},
        f"release notes {w}": {texts["phrase"], texts["scrambled"]},
        f"{w} {other}": {texts["both"]},
        f"{w} -{other} in:#{two}": {texts["bob"], texts["accent"]},
        f"{w} cafe": {texts["accent"]},
        f"{w} CAFÉ": {texts["accent"]},
        f"{w} depl*": {texts["plain"]},
        f"{w[:6]}* deploy": {texts["plain"]},
        f"{w} on:{today}": set(texts.values()) | {reply, filed},
        f"{w} on:{today - day}": set(),
        f"{w} after:{today - day} before:{today + day}": set(texts.values()) | {reply, filed},
        f"{w} after:{today}": set(),
        f"{w} during:{today:%Y-%m}": set(texts.values()) | {reply, filed},
        f"{w} during:{today.year - 1}": set(),
        f"in:#{two} from:@{bob.name} {w}": {texts["bob"]},
    }
    async with online(server, ann.token) as ws:
        for q, want in cases.items():
            got = await ann.texts(q, limit=100)
            assert set(got) == want, q
            assert len(got) == len(want), q
            frame = await ws.request({"action": "search", "query": q, "limit": 100})
            assert [r["message"]["text"] for r in frame["results"]] == got, q

    # Dates are the user's: 14 hours east, "tomorrow" in UTC may be their today.
    now_east = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=14)).date()
    assert set(await ann.texts(f"{w} on:{now_east} in:#{two}", tz=14 * 60)) == {
        texts["bob"],
        texts["both"],
        texts["accent"],
    }

    # Filters alone list what they match.
    assert await ann.texts(f"in:#{two} from:@{bob.name}") == [texts["bob"]]


async def test_snippets_orders_and_pages(web: httpx.AsyncClient) -> None:
    (ann,) = await people(web, "ann")
    w = word()
    room = await ann.channel(chan("pages"))
    for i in range(7):
        await ann.post(room, f"{w} number {i}")
    long = "lorem " * 60 + f"{w} Deploy " + "ipsum " * 60
    await ann.post(room, long)
    await ann.post(room, f"{w} {w} {w} again and again")

    page = await ann.search(w, limit=4)
    assert page["query"] == w and page["more"] is True and page["next_offset"] == 4
    seen = [r["message"]["seq"] for r in page["results"]]
    while page["more"]:
        page = await ann.search(w, limit=4, offset=page["next_offset"])
        seen += [r["message"]["seq"] for r in page["results"]]
    assert seen == sorted(seen, reverse=True) and len(set(seen)) == 9  # newest first, once each
    assert page["next_offset"] is None

    hit = next(r for r in (await ann.search(f"{w} deploy"))["results"])
    assert hit["message"]["text"] == long
    snippet = hit["snippet"]
    assert len(snippet) < len(long) and snippet.startswith("…") and snippet.endswith("…")
    marked = [snippet[a:b] for a, b in hit["highlights"]]
    assert marked == [w, "Deploy"]

    best = (await ann.search(w, order="relevance"))["results"][0]
    assert best["message"]["text"] == f"{w} {w} {w} again and again"
    assert [best["snippet"][a:b] for a, b in best["highlights"]] == [w, w, w]


MALFORMED = [
    ("has:cats", "has:"),
    ("is:urgent", "is:"),
    ("before:2024-13-01", "before:"),
    ("on:yesterday", "on:"),
    ("during:2024-5-1", "during:"),
    ('"not closed', "quote"),
    ("in:", "in:"),
    ("from:@", "from:"),
    ("from:@nobody-at-all", "nobody-at-all"),
    ("-alone", "-word"),
    ("...", "nothing to search"),
    (" ".join(f"t{i}" for i in range(40)), "too many"),
    ("after:2024-05-02 before:2024-05-01", "dates"),
]


async def test_malformed_queries_say_what_is_wrong(server: Server, web: httpx.AsyncClient) -> None:
    (ann,) = await people(web, "ann")
    async with online(server, ann.token) as ws:
        for q, part in MALFORMED:
            err = (await ann.search(q, 400))["error"]
            assert err["code"] == "invalid_query", q
            assert part in err["message"], (q, err)
            frame = await ws.request({"action": "search", "query": q})
            assert (frame["type"], frame["code"], frame["message"]) == (
                "error",
                "invalid_query",
                err["message"],
            )
        # Bad parameters are the usual 400 invalid_input.
        bad: list[dict[str, str | int]] = [
            {"q": ""},
            {"q": "x", "limit": 0},
            {"q": "x", "order": "oldest"},
            {"q": "x", "tz": 24 * 60},
        ]
        for params in bad:
            r = await web.get("/api/search", params=params, headers=auth(ann.token))
            assert (r.status_code, r.json()["error"]["code"]) == (400, "invalid_input"), params
        r = await web.get("/api/search", params={"q": "x"})
        assert r.status_code == 401
        frame = await ws.request({"action": "search", "query": "x", "limit": 101})
        assert (frame["type"], frame["code"]) == ("error", "invalid_input")


# --- jump to a message ---------------------------------------------------------------------


async def test_history_around_a_message(server: Server, web: httpx.AsyncClient) -> None:
    (ann,) = await people(web, "ann")
    room = await ann.channel(chan("long"))
    seqs = [(await ann.post(room, f"m{i}"))["seq"] for i in range(30)]
    url = f"/api/channels/{room}/messages"

    async def around(seq: int, limit: int) -> tuple[list[int], bool]:
        page = await ann.call("GET", url, params={"around": seq, "limit": limit})
        return [m["seq"] for m in page["messages"]], page["has_more"]

    # Half the page before it, then it and the rest after, oldest first.
    assert await around(seqs[14], 10) == (seqs[9:19], True)
    assert await around(seqs[14], 9) == (seqs[10:19], True)
    # Near the start: fewer before, more after; near the end: no newer ones.
    assert await around(seqs[1], 10) == (seqs[0:10], True)
    assert await around(seqs[27], 10) == (seqs[22:30], False)
    assert await around(seqs[29], 1) == ([seqs[29]], False)
    # Past the newest: the newest half page, nothing newer.
    assert await around(seqs[29] + 1000, 6) == (seqs[27:30], False)
    # A reply kept in its thread is not in the channel: its neighbours are.
    reply = (await ann.post(room, "in the thread", thread_root=seqs[0]))["seq"]
    got, more = await around(reply, 4)
    assert reply not in got and got == seqs[28:30] and more is False
    # `around` goes before `before` and `after`.
    page = await ann.call("GET", url, params={"around": seqs[14], "limit": 10, "before": 3})
    assert [m["seq"] for m in page["messages"]] == seqs[9:19]

    async with online(server, ann.token) as ws:
        page = await ws.request(
            {"action": "history", "channel": room, "around": seqs[14], "limit": 10}
        )
        assert page["type"] == "history"
        assert ([m["seq"] for m in page["messages"]], page["has_more"]) == (seqs[9:19], True)
        page = await ws.request(
            {"action": "history", "channel": room, "around": seqs[3], "after": seqs[20], "limit": 2}
        )
        assert [m["seq"] for m in page["messages"]] == seqs[2:4]

    # Others' private channels: not found, around or not.
    secret = await ann.channel(chan("private"), private=True)
    (bob,) = await people(web, "bob")
    await bob.call("GET", f"/api/channels/{secret}/messages", 404, params={"around": 1})


# --- the SDK and the CLI -----------------------------------------------------------------


async def test_sdk_search_and_history_around(server: Server, web: httpx.AsyncClient) -> None:
    (ann,) = await people(web, "ann")
    w = word()
    room = await ann.channel(chan("sdk"))
    seqs = [(await ann.post(room, f"{w} {i}"))["seq"] for i in range(5)]
    async with Client(server.url, ann.token) as client:
        found, following = await client.search(w, limit=3)
        assert [r.message.seq for r in found] == seqs[:1:-1] and following == 3
        found, following = await client.search(w, offset=3, limit=3, order="relevance")
        assert len(found) == 2 and following is None
        page, newer = await client.history(room, around=seqs[2], limit=2)
        assert ([m.seq for m in page], newer) == (seqs[1:3], True)
        with pytest.raises(HubbubError) as bad:
            await client.search("has:cats")
        assert (bad.value.code, bad.value.status) == ("invalid_query", 400)


def hubbub(server: Server, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "HUBBUB_SERVER": server.url,
        "HUBBUB_TOKEN": token,
        "HUBBUB_CONFIG": "/nonexistent/hubbub/config.json",
        "TZ": "UTC",
    }
    return subprocess.run(
        [sys.executable, "-m", "hubbub", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


async def test_cli_search(server: Server, web: httpx.AsyncClient) -> None:
    ann, bob = await people(web, "ann", "bob")
    w = word()
    room = await ann.channel(chan("cli"))
    for i in range(3):
        await ann.post(room, f"{w} line {i}")
    await bob.call("POST", f"/api/channels/{room}/join")
    await bob.post(room, f"{w} {w} from bob")

    done = await asyncio.to_thread(hubbub, server, ann.token, "search", w, "--limit", "2")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"[#{room} #4 ") and lines[0].endswith(
        f"] {bob.name}: {w} {w} from bob"
    )
    assert lines[1].endswith(f"] {ann.name}: {w} line 2")
    assert "more: --offset 2" in done.stderr

    done = await asyncio.to_thread(
        hubbub,
        server,
        ann.token,
        "search",
        f"{w} from:@{ann.name}",
        "--json",
        "--order",
        "relevance",
    )
    assert done.returncode == 0, done.stderr
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert sorted(r["message"]["text"] for r in results) == [f"{w} line {i}" for i in range(3)]
    assert all(r["snippet"][a:b] == w for r in results for a, b in r["highlights"])

    done = await asyncio.to_thread(hubbub, server, ann.token, "search", f"{w} nothing-like-it")
    assert (done.returncode, done.stdout) == (0, "")
    assert "no messages found" in done.stderr
    done = await asyncio.to_thread(hubbub, server, ann.token, "search", "before:2024-99-01")
    assert done.returncode == 1 and "before:" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


# --- DynamoDB -----------------------------------------------------------------------------


async def test_dynamodb_answers_unsupported(dynamodb: str, tmp_path: Any) -> None:
    url = store_url(dynamodb, f"s{uuid.uuid4().hex[:8]}-", create=True)
    server = start_server(tmp_path / "dynamo", *LIMITS, "--database-url", url)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as http:
            (ann,) = await people(http, "ann")
            room = await ann.channel(chan("dyn"))
            seqs = [(await ann.post(room, f"m{i}"))["seq"] for i in range(4)]
            err = (await ann.search("anything", 501))["error"]
            assert err["code"] == "unsupported" and err["message"]
            # Jumping to a message needs no index: it works here too.
            page = await ann.call(
                "GET", f"/api/channels/{room}/messages", params={"around": seqs[2], "limit": 2}
            )
            assert [m["seq"] for m in page["messages"]] == seqs[1:3] and page["has_more"]
            async with online(server, ann.token) as ws:
                frame = await ws.request({"action": "search", "query": "anything"})
                assert (frame["type"], frame["code"]) == ("error", "unsupported")
    finally:
        server.stop()


async def test_lambda_answers_unsupported(dynamodb: str) -> None:
    """The Lambda deployment runs the same action table: `search` there is
    `unsupported` too, and `history` `around` works."""
    from hubbub.store.dynamo import DynamoStore

    aws = start_aws_local(dynamodb, "--limit", DRIVER_LIMITS)
    store = DynamoStore(aws.url)
    try:
        await store.open()
        drv = AwsDriver(aws, store)
        ann = await drv.account("ann")
        room = await drv.channel("dyn", ann)
        async with ws_connect(aws.ws_url) as ws:  # `$connect` cannot push `hello`: `auth`
            await ws.send({"action": "auth", "token": ann.token})
            await ws.expect("hello")
            frame = await ws.request({"action": "search", "query": "anything"})
            assert (frame["type"], frame["code"]) == ("error", "unsupported")
            seqs = [(await send(ws, room, f"m{i}"))["seq"] for i in range(4)]
            page = await ws.request(
                {"action": "history", "channel": room, "around": seqs[2], "limit": 2}
            )
            assert [m["seq"] for m in page["messages"]] == seqs[1:3] and page["has_more"]
    finally:
        await store.close()
        aws.stop()
