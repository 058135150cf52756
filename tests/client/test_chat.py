"""`hubbub chat` driven headless (Textual's `run_test` + Pilot) against a real server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from textual.pilot import Pilot
from textual.widgets import Input, OptionList, RichLog, Static

from hubbub.client.chat import ChatApp, mentions_me
from hubbub.client.sdk import Client
from hubbub.core import mentions
from hubbub.protocol import frames
from support import WAIT, Proxy, Server, auth, register

# --- helpers -------------------------------------------------------------------------


async def wait_for(
    pilot: Pilot[None], predicate: Callable[[], Any], what: str, timeout: float = WAIT
) -> None:
    """Poll `predicate` while the app runs; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def pane(app: ChatApp) -> str:
    return "\n".join(strip.text for strip in app.query_one("#log", RichLog).lines)


def status(app: ChatApp) -> str:
    return str(app.query_one("#status", Static).content)


def topic_bar(app: ChatApp) -> str:
    return str(app.query_one("#topic", Static).content)


def flat(app: ChatApp) -> str:
    """The pane's text without any whitespace: immune to where lines wrap."""
    return "".join(pane(app).split())


def sidebar(app: ChatApp) -> list[str]:
    return [str(o.prompt) for o in app.query_one("#sidebar", OptionList).options]


async def submit(pilot: Pilot[None], text: str) -> None:
    pilot.app.query_one("#input", Input).value = text
    await pilot.press("enter")


@contextlib.asynccontextmanager
async def running(
    server: Server, token: str, *, via: str | None = None, **kwargs: Any
) -> AsyncIterator[tuple[ChatApp, Pilot[None]]]:
    """The app signed in with `token`, on `server` (or through the proxy at `via`)."""
    client = Client(via or server.url, token, max_backoff=0.5)
    app = ChatApp(client, **kwargs)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: app.started, "the app to start")
            yield app, pilot
    finally:
        await client.close()


class Rest:
    """A second user, over REST."""

    def __init__(self, http: httpx.AsyncClient, token: str) -> None:
        self.http = http
        self.token = token

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        r = await self.http.request(method, path, headers=auth(self.token), **kwargs)
        assert r.status_code < 400, r.text
        return r.json()

    async def post(self, channel: str, text: str) -> dict[str, Any]:
        body = {"text": text, "client_id": os.urandom(8).hex()}
        return await self.call("POST", f"/api/channels/{channel}/messages", json=body)  # type: ignore[no-any-return]

    async def history(self, channel: str) -> list[str]:
        page = await self.call("GET", f"/api/channels/{channel}/messages", params={"limit": 200})
        return [m["text"] for m in reversed(page["messages"])]

    async def channel(self, name: str) -> dict[str, Any]:
        return await self.call("GET", f"/api/channels/{name}")  # type: ignore[no-any-return]


@pytest.fixture
async def users(
    http: httpx.AsyncClient, uname: Callable[[str], str]
) -> tuple[str, Rest, str, Rest]:
    """alice and bob, both in #general (created by bob) and #random. bob
    registers first: he is the server's owner, alice a plain member (whose
    power over others' messages the tests check)."""
    alice, bob = uname("alice"), uname("bob")
    b = Rest(http, await register(http, bob))
    a = Rest(http, await register(http, alice))
    for name in ("general", "random"):
        await create(b, name)
        await a.call("POST", f"/api/channels/{name}/join")
    return alice, a, bob, b


async def create(user: Rest, name: str, **body: Any) -> None:
    """Create a public channel, or join it if it exists (a server may put every
    new account in #general)."""
    r = await user.http.post("/api/channels", json={"name": name, **body}, headers=auth(user.token))
    if r.status_code == 409:
        await user.call("POST", f"/api/channels/{name}/join")
    else:
        assert r.status_code == 201, r.text


# --- tests ---------------------------------------------------------------------------


async def test_send_and_receive(server: Server, users: tuple[str, Rest, str, Rest]) -> None:
    alice, a, bob, b = users
    await b.post("general", "before you came")
    async with running(server, a.token) as (app, pilot):
        assert app.active == "general"
        await wait_for(pilot, lambda: "before you came" in pane(app), "history")
        await wait_for(pilot, lambda: f"connected as {alice}" in status(app), "connected")
        assert f"{bob}: before you came" in pane(app)

        # Typed key by key, then Enter.
        await pilot.press(*"hello", "space", *"world", "enter")
        await wait_for(pilot, lambda: f"{alice}: hello world" in pane(app), "own message")
        assert await a.history("general") == ["before you came", "hello world"]
        assert app.query_one("#input", Input).value == ""

        await b.post("general", "hi alice")
        await wait_for(pilot, lambda: f"{bob}: hi alice" in pane(app), "bob's message live")
        lines = pane(app).splitlines()
        assert lines[-1].endswith(f"{bob}: hi alice")
        # "#N HH:MM author: text": N, the seq, is what /edit, /delete and /react take.
        assert re.fullmatch(rf"#3 \d\d:\d\d {bob}: hi alice", lines[-1]), lines[-1]


async def test_a_webhooks_post_shows_its_name_and_the_account_behind_it(
    server: Server, users: tuple[str, Rest, str, Rest]
) -> None:
    """A Slack-format incoming webhook posted by curl shows up live, under
    its `username` and the account it posts as."""
    alice, a, bob, b = users
    made = await b.call("POST", "/api/hooks", json={"channel": "general", "name": "CI"})
    async with running(server, a.token) as (app, pilot):
        await wait_for(pilot, lambda: f"connected as {alice}" in status(app), "connected")
        out = await asyncio.to_thread(
            subprocess.run,
            [
                "curl",
                "-sS",
                "--max-time",
                "10",
                "-H",
                "Content-Type: application/json",
                "-d",
                '{"text": "build 9 *passed*", "username": "Jenkins"}',
                made["url"],
            ],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        )
        assert out.stdout == "ok"
        await wait_for(
            pilot,
            lambda: f"Jenkins (via {bob}): build 9 *passed*" in pane(app),
            "the hook's message live",
        )


async def test_a_bots_message_is_marked_as_a_bots(
    server: Server, users: tuple[str, Rest, str, Rest]
) -> None:
    """A bot's message (its API token's) shows its username marked [bot]."""
    alice, a, bob, b = users
    await b.call("POST", "/api/bots", json={"username": "ci-bot", "display_name": "CI"})
    token = await b.call(
        "POST", "/api/tokens", json={"name": "ci", "scopes": ["read", "write"], "bot": "ci-bot"}
    )
    await b.call("POST", "/api/channels/general/invite", json={"username": "ci-bot"})
    async with running(server, a.token) as (app, pilot):
        await wait_for(pilot, lambda: f"connected as {alice}" in status(app), "connected")
        await Rest(b.http, token["token"]).post("general", "deploy done")
        await wait_for(pilot, lambda: "ci-bot [bot]: deploy done" in pane(app), "the bot's line")
        await b.post("general", "thanks")
        await wait_for(pilot, lambda: f"{bob}: thanks" in pane(app), "a person's line")
        assert f"{bob} [bot]" not in pane(app)


async def test_markup_is_shown_literally(
    server: Server, users: tuple[str, Rest, str, Rest]
) -> None:
    _, a, bob, b = users
    async with running(server, a.token) as (app, pilot):
        await submit(pilot, "[bold]x[/bold] and [red]")
        await wait_for(pilot, lambda: "[bold]x[/bold] and [red]" in pane(app), "literal text")
        # Stored before Bob's (the history's order below), not only shown.
        await wait_for(pilot, lambda: "unsent" not in status(app), "its ack")
        await b.post("general", "[link=http://evil]click[/link] :smile:")
        await wait_for(
            pilot,
            lambda: f"{bob}: [link=http://evil]click[/link] :smile:" in pane(app),
            "bob's literal text",
        )
        assert await a.history("general") == [
            "[bold]x[/bold] and [red]",
            "[link=http://evil]click[/link] :smile:",
        ]
        await b.call("PUT", "/api/channels/general/topic", json={"topic": "[i]launch[/i]"})
        await wait_for(pilot, lambda: "[i]launch[/i]" in topic_bar(app), "literal topic")


async def test_unread_counts_and_switching(
    server: Server, users: tuple[str, Rest, str, Rest]
) -> None:
    _, a, _, b = users
    await b.post("random", "one")  # unread before the app starts
    async with running(server, a.token) as (app, pilot):
        assert app.active == "general"
        await wait_for(pilot, lambda: "#random (1)" in sidebar(app), "initial unread")
        await b.post("random", "two")
        await b.post("random", "three")
        await wait_for(pilot, lambda: "#random (3)" in sidebar(app), "live unread")
        await b.post("general", "in the active channel")
        await wait_for(pilot, lambda: "in the active channel" in pane(app), "active message")
        assert "#general" in sidebar(app)  # no count on the channel being read

        await pilot.press("ctrl+n")
        assert app.active == "random"
        await wait_for(pilot, lambda: "#random" in sidebar(app), "count cleared")
        await wait_for(pilot, lambda: "three" in pane(app), "random's history")
        assert [ln.split(": ", 1)[1] for ln in pane(app).splitlines()[-3:]] == [
            "one",
            "two",
            "three",
        ]

        async def server_cursor() -> int:
            return (await b.http.get("/api/channels/random", headers=auth(a.token))).json()[
                "last_read"
            ]

        deadline = time.monotonic() + WAIT
        while await server_cursor() != 3:
            assert time.monotonic() < deadline, "mark_read never reached the server"
            await pilot.pause(0.05)

        await pilot.press("ctrl+p")
        assert app.active == "general"
        await b.post("random", "four")
        await wait_for(pilot, lambda: "#random (1)" in sidebar(app), "unread again")
        await pilot.press("alt+down")
        assert app.active == "random"
        await wait_for(pilot, lambda: "four" in pane(app), "four shown")
        assert "#random" in sidebar(app)


async def test_own_messages_from_another_client_are_not_unread(
    server: Server, users: tuple[str, Rest, str, Rest]
) -> None:
    _, a, _, b = users
    await a.post("random", "seeded before the app started")  # e.g. `hubbub send`
    async with running(server, a.token) as (app, pilot):
        assert app.active == "general"
        state = app.channels["random"]
        assert (state.last_read, state.last_seq) == (1, 1)
        assert "#random" in sidebar(app)

        await b.post("random", "anyone?")
        await wait_for(pilot, lambda: "#random (1)" in sidebar(app), "bob's message unread")
        # alice answers from another device: that reads bob's message too.
        await a.post("random", "yes, from my phone")
        await wait_for(pilot, lambda: state.last_seq == 3, "alice's own message live")
        assert "#random" in sidebar(app) and state.unread == 0
        await a.post("random", "and more")
        await b.post("random", "great")
        await wait_for(pilot, lambda: state.last_seq == 5, "both messages live")
        assert "#random (1)" in sidebar(app)
        assert (await b.channel("random"))["last_seq"] == 5
        assert (await a.channel("random"))["last_read"] == 4


async def test_unread_counts_only_new_messages_from_others(
    server: Server, users: tuple[str, Rest, str, Rest]
) -> None:
    alice, a, _, b = users
    first = (await b.post("random", "one"))["seq"]  # unread before the app starts
    proxy = await Proxy(server.port).start()
    try:
        async with running(server, a.token, via=proxy.url) as (app, pilot):
            assert app.active == "general"
            state = app.channels["random"]
            await wait_for(pilot, lambda: "#random (1)" in sidebar(app), "the server's count")
            # An edit and reactions take seqs in the channel's log, but are not
            # unread: only bob's next message is (events come in order, so once
            # it counts, the changes before it have been seen).
            path = f"/api/channels/random/messages/{first}"
            await b.call("PATCH", path, json={"text": "one!"})
            await b.call("PUT", f"{path}/reactions/:tada:")
            await a.call("PUT", f"{path}/reactions/:+1:")  # alice, from another client
            await b.post("random", "two")
            await wait_for(pilot, lambda: "#random (2)" in sidebar(app), "bob's message counts")
            assert state.last_read < first and app.client.last_seq["random"] == first + 4
            # Alice's own message from another client is not unread (and reads
            # what came before it, on every device).
            mine = (await a.post("random", "mine, from my phone"))["seq"]
            await wait_for(pilot, lambda: state.last_read == mine, "her own message live")
            assert sidebar(app)[1] == "#random" and state.unread == 0

            # Mentions: `(unread, @mentions)`; @here is one for everyone but its author.
            here = (await b.post("random", "@here standup"))["seq"]
            await wait_for(pilot, lambda: "#random (1, @1)" in sidebar(app), "@here counts")
            gone = (await b.post("random", "soon to go"))["seq"]
            await wait_for(pilot, lambda: "#random (2, @1)" in sidebar(app), "another")
            await b.call("DELETE", f"/api/channels/random/messages/{gone}")
            await wait_for(pilot, lambda: "#random (1, @1)" in sidebar(app), "a delete uncounts")
            await b.call("PATCH", f"/api/channels/random/messages/{here}", json={"text": "hi"})
            await wait_for(pilot, lambda: "#random (1)" in sidebar(app), "edited out")
            await b.post("random", f"@{alice}: you?")
            await wait_for(pilot, lambda: "#random (2, @1)" in sidebar(app), "a mention of her")
            assert state.unread == 2

            # Away for a moment: what came meanwhile (a message, a reaction)
            # counts once, as the server counts it, after reconnecting.
            seen = app.client.reconnects
            proxy.cut()
            await b.post("random", "while you were away @everyone")
            await b.call("PUT", f"{path}/reactions/:eyes:")
            await wait_for(pilot, lambda: app.client.reconnects > seen, "reconnected")
            await wait_for(pilot, lambda: "#random (3, @2)" in sidebar(app), "counted once")
            view = await a.channel("random")
            assert (view["unread"], view["mentions"]) == (3, 2)

            # Reading the channel resets it, here and on the server.
            await pilot.press("ctrl+n")
            assert app.active == "random"
            await wait_for(pilot, lambda: "while you were away" in pane(app), "random shown")
            assert sidebar(app)[1] == "#random" and state.unread == state.mentions == 0
            deadline = time.monotonic() + WAIT
            while (await a.channel("random"))["unread"] != 0:
                assert time.monotonic() < deadline, "mark_read never reached the server"
                await pilot.pause(0.05)
            await pilot.press("ctrl+p")
            await b.post("random", "and again")
            await wait_for(pilot, lambda: "#random (1)" in sidebar(app), "unread again")
            assert "connection_lost" not in pane(app) and "unexpected" not in pane(app)
    finally:
        await proxy.close()


@pytest.mark.parametrize(
    "text",
    [
        "@here",
        "@here.",
        "hi @channel!",
        "@everyone, lunch",
        "@hereafter",
        "@here.b",
        "@channels",
        "@everyone_else",
        "mail here@channel.org",
        "here, channel, everyone",
        "@ann",
        "@ann.",
        "@anna",
        "@ann-b",
        "@ann.b",
        "(@ann)",
        "x@ann",
        "@Ann",
    ],
)
def test_the_mention_rule_is_the_servers(text: str) -> None:
    for me in ("ann", "ann.b", None):
        theirs = mentions.mentions(text, me) if me else mentions.mention_re("x" * 40).search(text)
        assert mentions_me(text, me) == bool(theirs), (text, me)


async def test_scroll_back(server: Server, users: tuple[str, Rest, str, Rest]) -> None:
    _, a, _, b = users
    for i in range(1, 121):
        await b.post("general", f"msg {i:03}")
    async with running(server, a.token) as (app, pilot):
        await wait_for(pilot, lambda: "msg 120" in pane(app), "the newest page")
        assert "msg 071" in pane(app) and "msg 070" not in pane(app)  # last 50
        for _ in range(40):
            if "msg 070" in pane(app):
                break
            await pilot.press("pageup")
            await pilot.pause(0.05)
        await wait_for(pilot, lambda: "msg 070" in pane(app), "Page Up at the top")
        assert "msg 021" in pane(app) and "msg 020" not in pane(app)
        await submit(pilot, "/more")
        await wait_for(pilot, lambda: "msg 001" in pane(app), "/more")
        await wait_for(pilot, lambda: "the beginning of #general" in pane(app), "the start")
        texts = [ln.split(": ", 1)[1] for ln in pane(app).splitlines() if "msg " in ln]
        assert texts == [f"msg {i:03}" for i in range(1, 121)]  # in order, no duplicates


async def test_slash_commands(server: Server, users: tuple[str, Rest, str, Rest]) -> None:
    alice, a, bob, b = users
    await b.call("POST", "/api/channels", json={"name": "lounge"})
    async with running(server, a.token) as (app, pilot):
        await submit(pilot, "/help")
        await wait_for(pilot, lambda: "/join #channel" in pane(app), "/help")
        assert '"* you waves"' in pane(app)

        await submit(pilot, "/who")
        await wait_for(pilot, lambda: "members of #general (2)" in pane(app), "/who")
        assert alice in pane(app) and bob in pane(app)

        await submit(pilot, "/create #proj")
        await wait_for(pilot, lambda: app.active == "proj", "/create")
        assert "#proj" in sidebar(app)
        assert (await a.channel("proj"))["is_member"] is True

        await submit(pilot, "/create secret --private")
        await wait_for(pilot, lambda: app.active == "secret", "/create --private")
        assert (await a.channel("secret"))["kind"] == "private"

        await submit(pilot, "/join #lounge")
        await wait_for(pilot, lambda: app.active == "lounge", "/join")
        assert "#lounge" in sidebar(app)
        assert alice in (await b.call("GET", "/api/channels/lounge/members"))["members"]

        await submit(pilot, "/topic Launch day")
        await wait_for(pilot, lambda: "Launch day" in topic_bar(app), "/topic")
        assert (await b.channel("lounge"))["topic"] == "Launch day"

        await submit(pilot, "/me waves")
        # An action line, the name once: "HH:MM * alice waves" (not "alice: *alice waves*").
        await wait_for(pilot, lambda: "(sending…)" not in pane(app), "/me acknowledged")
        await wait_for(pilot, lambda: f" * {alice} waves" in pane(app), "/me")
        assert f"{alice}: *{alice} waves*" not in pane(app)
        assert pane(app).count(f"{alice} waves") == 1
        assert await a.history("lounge") == [f"*{alice} waves*"]  # readable by every client
        await b.post("lounge", f"*{alice} waves*")  # bob cannot write alice's actions
        await wait_for(pilot, lambda: f"{bob}: *{alice} waves*" in pane(app), "bob's text")

        await submit(pilot, "/leave")
        await wait_for(pilot, lambda: "#lounge" not in sidebar(app), "/leave")
        assert app.active != "lounge"
        assert alice not in (await b.call("GET", "/api/channels/lounge/members"))["members"]
        await b.post("lounge", "after you left")  # no longer followed: no error, no count

        async with Client(server.url, b.token) as bob_sdk:
            await bob_sdk.connect()  # bob online
            await submit(pilot, f"/dm @{bob}")
            dm = "dm:" + ",".join(sorted([alice, bob]))
            await wait_for(pilot, lambda: app.active == dm, "/dm")
            assert f"● @{bob}" in sidebar(app)
            await wait_for(pilot, lambda: f"{bob} online" in status(app), "presence online")
            await bob_sdk.subscribe(dm)
            await bob_sdk.send(dm, "psst")
            await wait_for(pilot, lambda: f"{bob}: psst" in pane(app), "DM message")
        await wait_for(pilot, lambda: f"{bob} offline" in status(app), "presence offline")
        assert f"○ @{bob}" in sidebar(app)


async def test_edit_delete_and_react_to_messages(
    server: Server, users: tuple[str, Rest, str, Rest]
) -> None:
    alice, a, bob, b = users
    theirs = (await b.post("general", "bob's draft"))["seq"]
    async with running(server, a.token) as (app, pilot):
        await wait_for(pilot, lambda: f"#{theirs} " in pane(app), "history, with its #seq")
        await submit(pilot, "my first try")
        await wait_for(pilot, lambda: "(sending…)" not in pane(app), "sent")
        mine = max(app.channels["general"].messages)

        # /edit with no number: your last message (Slack's Up arrow).
        await submit(pilot, "/edit my second try")
        await wait_for(pilot, lambda: "my second try (edited)" in pane(app), "edited")
        assert "my first try" not in pane(app)  # the line replaced, not another added
        assert (await a.history("general"))[-1] == "my second try"
        # Up in the empty input line: your last message, ready to change.
        field = app.query_one("#input", Input)
        await pilot.press("up")
        assert field.value == f"/edit {mine} my second try"
        assert field.cursor_position == len(field.value)
        field.value = ""
        await submit(pilot, f"/edit #{mine}")  # the same, by number
        await wait_for(pilot, lambda: field.value == f"/edit {mine} my second try", "prefilled")
        field.value = ""

        # Someone else's change shows live, in place.
        body = {"text": "bob's final"}
        await b.call("PATCH", f"/api/channels/general/messages/{theirs}", json=body)
        await wait_for(pilot, lambda: f"{bob}: bob's final (edited)" in pane(app), "live edit")
        assert "bob's draft" not in pane(app)
        assert pane(app).count(f"{bob}: ") == 1

        # Reactions: under the message, counted; /react again takes yours back.
        await submit(pilot, f"/react {theirs} :+1:")
        await wait_for(pilot, lambda: "👍 1" in pane(app), "your reaction")
        await b.call("PUT", f"/api/channels/general/messages/{theirs}/reactions/%F0%9F%91%8D")
        await b.call("PUT", f"/api/channels/general/messages/{theirs}/reactions/:tada:")
        await wait_for(pilot, lambda: "👍 2  🎉 1" in pane(app), "bob's reactions, live")
        await submit(pilot, f"/react {theirs} :thumbsup:")  # yours already, by another name
        await wait_for(pilot, lambda: "👍 1  🎉 1" in pane(app), "yours taken back")
        await submit(pilot, "/react 🎉")  # no number: the newest message (yours)
        await wait_for(pilot, lambda: "🎉 1" in pane(app).split(f"#{mine} ")[1], "on yours")

        # Deleting: yours, not theirs.
        await submit(pilot, f"/delete {mine}")
        await wait_for(pilot, lambda: f"{alice}: (message deleted)" in pane(app), "tombstone")
        assert "my second try" not in pane(app)
        assert (await a.history("general"))[-1] == ""
        await submit(pilot, f"/delete {theirs}")
        await wait_for(pilot, lambda: "(forbidden)" in pane(app), "not yours to delete")
        await submit(pilot, f"/edit {theirs} mine now")
        await wait_for(pilot, lambda: pane(app).count("(forbidden)") == 2, "nor to edit")
        await submit(pilot, "/edit nothing of mine left")
        await wait_for(pilot, lambda: "no message of yours" in pane(app), "no last message")
        await submit(pilot, "/react 12345 :nope:")
        await wait_for(pilot, lambda: "(invalid_input)" in pane(app), "not an emoji")
        await submit(pilot, "/delete")
        await wait_for(pilot, lambda: "usage: /delete N" in pane(app), "usage")
        assert "Traceback" not in pane(app) and app.is_running
        assert await b.history("general") == ["bob's final", ""]


async def test_threads_and_pins(server: Server, users: tuple[str, Rest, str, Rest]) -> None:
    alice, a, _bob, b = users
    root = (await b.post("general", "release today?"))["seq"]
    async with running(server, a.token) as (app, pilot):
        await wait_for(pilot, lambda: f"#{root} " in pane(app), "history")
        await submit(pilot, f"/reply {root} after lunch")
        await wait_for(pilot, lambda: "1 reply" in pane(app), "the root's summary, live")
        assert "after lunch" not in pane(app).split("replied in the thread")[0]
        # bob's reply stays in its thread: the channel shows the summary only,
        # and nothing unread.
        await b.call(
            "POST",
            "/api/channels/general/messages",
            json={"text": "fine by me", "thread_root": root},
        )
        await wait_for(pilot, lambda: "2 replies" in pane(app), "bob's reply, in the summary")
        assert "fine by me" not in pane(app)
        await submit(pilot, f"/thread {root}")
        await wait_for(pilot, lambda: "fine by me" in pane(app), "the thread shown")
        assert pane(app).index("after lunch") < pane(app).index("fine by me")
        # Also sent to the channel: a line of its own there.
        await submit(pilot, f"/reply --channel {root} shipping now")
        await wait_for(
            pilot,
            lambda: f"{alice}: shipping now (in the thread of #{root})" in pane(app),
            "shared",
        )

        await submit(pilot, f"/pin {root}")
        await wait_for(pilot, lambda: f"📌 pinned by {alice}" in pane(app), "pinned")
        await submit(pilot, "/pins")
        await wait_for(pilot, lambda: "pinned in #general (1):" in pane(app), "the pinned list")
        await submit(pilot, f"/unpin {root}")
        held = app.channels["general"].messages
        await wait_for(pilot, lambda: held[root].pinned_by is None, "unpinned")
        assert (await b.call("GET", "/api/channels/general/pins"))["messages"] == []
        await submit(pilot, "/reply 99999 hello?")
        await wait_for(pilot, lambda: "(not_found)" in pane(app), "no such thread")
        await submit(pilot, "/thread")
        await wait_for(pilot, lambda: "usage: /thread N" in pane(app), "usage")
        assert "Traceback" not in pane(app) and app.is_running


async def test_errors_are_one_line_not_tracebacks(
    server: Server, users: tuple[str, Rest, str, Rest]
) -> None:
    _, a, _, _ = users
    async with running(server, a.token) as (app, pilot):
        await submit(pilot, "/join #nope")
        await wait_for(pilot, lambda: "no channel 'nope'" in pane(app), "join error")
        assert "no channel 'nope'" in status(app)
        await submit(pilot, "/create #general")
        await wait_for(pilot, lambda: "(conflict)" in pane(app), "conflict")
        await submit(pilot, "/dm nobody-at-all")
        await wait_for(pilot, lambda: "(not_found)" in status(app), "dm error")
        await submit(pilot, "/frobnicate")
        await wait_for(pilot, lambda: "unknown command /frobnicate" in pane(app), "unknown")
        await submit(pilot, "x" * 20_000)  # over max_message_chars
        await wait_for(pilot, lambda: "(message_too_long)" in pane(app), "too long")
        assert "Traceback" not in pane(app)
        assert app.is_running and app.active == "general"
        await submit(pilot, "still fine")
        await wait_for(pilot, lambda: "still fine" in pane(app), "app still works")


async def test_typing_indicator_expires(
    server_factory: Callable[..., Server], uname: Callable[[str], str]
) -> None:
    server = server_factory("--limit", "typing_ttl=1")
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as h:
        alice, bob = uname("alice"), uname("bob")
        a = Rest(h, await register(h, alice))
        b = Rest(h, await register(h, bob))
        await create(b, "general")
        await a.call("POST", "/api/channels/general/join")
        async with Client(server.url, b.token) as bob_sdk, running(server, a.token) as (app, pilot):
            await bob_sdk.connect()
            await bob_sdk.subscribe("general")
            await bob_sdk.typing("general")
            await wait_for(pilot, lambda: f"{bob} is typing" in status(app), "typing shown")
            await wait_for(pilot, lambda: "typing" not in status(app), "typing expired", 5)

            # alice typing reaches bob.
            await pilot.press("h", "i")

            async def bob_sees_typing() -> frames.TypingEvent:
                async for event in bob_sdk.events():
                    if isinstance(event, frames.TypingEvent) and event.user == alice:
                        return event
                raise AssertionError("events ended")

            got = await asyncio.wait_for(bob_sees_typing(), WAIT)
            assert got.channel == "general"


async def test_survives_server_restart(
    server: Server, server_factory: Callable[..., Server], users: tuple[str, Rest, str, Rest]
) -> None:
    alice, a, bob, b = users
    async with running(server, a.token) as (app, pilot):
        await wait_for(pilot, lambda: f"connected as {alice}" in status(app), "connected")
        await submit(pilot, "before restart")
        # Its ack, not its pending line (shown at once), before the server stops.
        await wait_for(pilot, lambda: "unsent" not in status(app), "first message's ack")
        assert "before restart" in pane(app) and "(sending…)" not in pane(app)

        server.stop()
        await wait_for(pilot, lambda: "reconnecting" in status(app), "reconnecting shown")
        await submit(pilot, "typed while down")
        await wait_for(pilot, lambda: "1 unsent" in status(app), "unsent shown")
        # Shown at once, marked as not yet acknowledged (as in the web app).
        await wait_for(pilot, lambda: "typed while down" in pane(app), "the pending line")
        line = next(ln for ln in pane(app).splitlines() if "typed while down" in ln)
        assert f"{alice}: typed while down" in line and "(sending…)" in line

        again = server_factory(data_dir=server.data_dir, port=server.port)
        await wait_for(pilot, lambda: f"connected as {alice}" in status(app), "reconnected", 20)
        await wait_for(pilot, lambda: "(sending…)" not in pane(app), "re-sent after restart")
        assert pane(app).count("typed while down") == 1
        await wait_for(pilot, lambda: "unsent" not in status(app), "the ack")
        assert "connection_lost" not in pane(app)

        async with httpx.AsyncClient(base_url=again.url, timeout=10) as h:
            b2 = Rest(h, b.token)
            await b2.post("general", "after restart")
            await wait_for(pilot, lambda: f"{bob}: after restart" in pane(app), "live again")
            await b2.post("random", "unread after restart")
            await wait_for(pilot, lambda: "#random (1)" in sidebar(app), "unread after restart")
            await submit(pilot, "mine after restart")
            await wait_for(pilot, lambda: "mine after restart" in pane(app), "own after restart")
            assert await Rest(h, a.token).history("general") == [
                "before restart",
                "typed while down",
                "after restart",
                "mine after restart",
            ]
        texts = [ln.split(": ", 1)[1] for ln in pane(app).splitlines() if ": " in ln]
        assert texts.count("typed while down") == 1


async def test_a_failed_send_says_why_and_can_be_discarded(
    server: Server, users: tuple[str, Rest, str, Rest]
) -> None:
    _, a, _, _ = users
    async with running(server, a.token) as (app, pilot):
        await submit(pilot, "y" * 20_000)  # over max_message_chars: refused, not retried
        await wait_for(pilot, lambda: "notsent:" in flat(app), "the failed line")
        assert "(message_too_long)—/retryor/discard" in flat(app)
        assert "(20000characters)" in flat(app)  # not 20,000 characters of it
        assert "1 not sent (/retry)" in status(app)
        await submit(pilot, "/discard")
        await wait_for(pilot, lambda: "notsent:" not in flat(app), "discarded")
        assert "not sent" not in status(app)
        assert await a.history("general") == []


async def test_a_send_that_timed_out_is_marked_and_retried_once(
    server: Server, server_factory: Callable[..., Server], users: tuple[str, Rest, str, Rest]
) -> None:
    alice, a, _, _ = users
    client = Client(server.url, a.token, timeout=1.0, max_backoff=0.3)
    app = ChatApp(client)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: f"connected as {alice}" in status(app), "connected")
            server.stop()
            await wait_for(pilot, lambda: "reconnecting" in status(app), "reconnecting")
            await submit(pilot, "lost in the void")
            await wait_for(pilot, lambda: "(sending…)" in pane(app), "pending")
            await wait_for(
                pilot,
                lambda: "notsent:noanswerfromtheserver(timeout)" in flat(app),
                "given up after the SDK's ack timeout",
                timeout=15,
            )
            # "(sending…)", not "sending": a connection error may say "without sending a response"
            assert "1 not sent" in status(app) and "(sending…)" not in pane(app)

            again = server_factory(data_dir=server.data_dir, port=server.port)
            await wait_for(pilot, lambda: f"connected as {alice}" in status(app), "back", 20)
            await submit(pilot, "/retry")
            await wait_for(
                pilot,
                lambda: "not sent" not in pane(app) and "(sending…)" not in pane(app),
                "sent on retry",
            )
            assert pane(app).count("lost in the void") == 1
            assert "not sent" not in status(app)
            async with httpx.AsyncClient(base_url=again.url, timeout=10) as h:
                assert await Rest(h, a.token).history("general") == ["lost in the void"]
    finally:
        await client.close()


async def test_status_notice_clears_once_a_command_works(
    server: Server, users: tuple[str, Rest, str, Rest]
) -> None:
    _, a, _, b = users
    await create(b, "scrollback")
    async with running(server, a.token) as (app, pilot):
        await submit(pilot, "/join #nope")
        await wait_for(pilot, lambda: "no channel 'nope'" in status(app), "the error")
        await submit(pilot, "/join #scrollback")
        await wait_for(pilot, lambda: app.active == "scrollback", "/join worked")
        await wait_for(pilot, lambda: "nope" not in status(app), "the old error gone", 2)


async def test_opening_a_channel_you_are_not_in(
    server: Server, users: tuple[str, Rest, str, Rest]
) -> None:
    """`hubbub chat -c NAME`: a public channel is joined, a DM opened, and what
    cannot be opened is said plainly (never another channel opened silently)."""
    alice, a, bob, b = users
    await create(b, "scrollback")
    await b.call("POST", "/api/channels", json={"name": "secret", "private": True})
    async with running(server, a.token, channel="#scrollback") as (app, pilot):
        await wait_for(pilot, lambda: app.active == "scrollback", "joined and opened")
        assert "#scrollback" in sidebar(app)
        assert alice in (await b.call("GET", "/api/channels/scrollback/members"))["members"]
        assert "not in" not in status(app) and "not in" not in pane(app)
    async with running(server, a.token, channel="secret") as (app, pilot):
        await wait_for(pilot, lambda: "(showing #general instead)" in pane(app), "the fallback")
        assert "cannot open secret: no channel 'secret'" in pane(app)
        assert "cannot open secret" in status(app)
    async with running(server, a.token, channel=f"@{bob}") as (app, pilot):
        dm = "dm:" + ",".join(sorted([alice, bob]))
        await wait_for(pilot, lambda: app.active == dm, "the DM with bob")
        assert f"@{bob}" in topic_bar(app)


# --- the command ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra_env", "message"),
    [
        ({}, "not logged in"),
        ({"HUBBUB_TOKEN": "forged"}, "run `hubbub login` again"),
        ({"HUBBUB_SERVER": "http://127.0.0.1:9", "HUBBUB_TOKEN": "t"}, "cannot reach"),
    ],
)
def test_chat_command_clear_errors(
    server: Server, tmp_path: Path, extra_env: dict[str, str], message: str
) -> None:
    cfg = tmp_path / "cfg" / "config.json"
    env = {k: v for k, v in os.environ.items() if k != "HUBBUB_TOKEN"}
    env.update({"HUBBUB_CONFIG": str(cfg), "HUBBUB_SERVER": server.url, **extra_env})
    r = subprocess.run(
        [sys.executable, "-m", "hubbub", "chat"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert r.returncode == 1, r.stderr
    assert message in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pty")
def test_chat_command_in_a_terminal(
    server: Server, tmp_path: Path, uname: Callable[[str], str]
) -> None:
    """`hubbub chat` in a real (pseudo) terminal: it connects, sends what is
    typed, and Ctrl+Q leaves with status 0."""
    import pty
    import select

    name = uname("zed")
    env = {k: v for k, v in os.environ.items() if k != "HUBBUB_TOKEN"}
    env.update(
        HUBBUB_CONFIG=str(tmp_path / "config.json"),
        HUBBUB_SERVER=server.url,
        HUBBUB_PASSWORD="correct horse",
        TERM="xterm-256color",
    )
    r = subprocess.run(
        [sys.executable, "-m", "hubbub", "register", "-u", name],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    token = json.loads((tmp_path / "config.json").read_text())["profiles"]["default"]["token"]
    with httpx.Client(base_url=server.url) as h:
        h.post("/api/channels", json={"name": "general"}, headers=auth(token))
        body = {"text": "welcome", "client_id": "w1"}
        h.post("/api/channels/general/messages", json=body, headers=auth(token))

        pid, fd = pty.fork()
        if pid == 0:  # pragma: no cover - the child
            argv = [sys.executable, "-m", "hubbub", "chat", "-c", "#general"]
            os.execve(sys.executable, argv, env)
        screen = b""
        eof = False

        def read_until(done: Callable[[], bool], what: str) -> None:
            """Keep reading the screen (the child must never block on it)."""
            nonlocal screen, eof
            deadline = time.monotonic() + WAIT * 2
            while not done():
                assert time.monotonic() < deadline, f"timed out waiting for {what}"
                if eof:  # the child closed the terminal: just poll
                    time.sleep(0.05)
                    continue
                ready, _, _ = select.select([fd], [], [], 0.1)
                if ready:
                    try:
                        screen += os.read(fd, 65536)
                    except OSError:
                        eof = True

        try:

            def opened() -> bool:  # the app opened #general and marked it read
                return bool(h.get("/api/channels/general", headers=auth(token)).json()["last_read"])

            read_until(opened, "the app to open #general")
            read_until(lambda: b"welcome" in screen, "the message on screen")
            os.write(fd, b"hi from a terminal\r")

            def stored() -> bool:
                page = h.get("/api/channels/general/messages", headers=auth(token)).json()
                return [m["text"] for m in page["messages"]] == ["hi from a terminal", "welcome"]

            read_until(stored, "the message")
            os.write(fd, b"\x11")  # Ctrl+Q
            waited = (0, 0)

            def exited() -> bool:
                nonlocal waited
                waited = os.waitpid(pid, os.WNOHANG)
                return waited[0] != 0

            read_until(exited, "hubbub chat to quit")
            assert os.waitstatus_to_exitcode(waited[1]) == 0
        finally:
            with contextlib.suppress(ChildProcessError, ProcessLookupError):
                if os.waitpid(pid, os.WNOHANG)[0] == 0:
                    os.kill(pid, 9)
                    os.waitpid(pid, 0)
            os.close(fd)


async def test_running_a_channel_from_the_terminal(
    server: Server, users: tuple[str, Rest, str, Rest]
) -> None:
    """/purpose, /rename, /archive, /unarchive, /kick and /status, each seen by
    the server and by the other user; a rename by someone else moves the app's
    channel to its new name, history and all."""
    alice, a, bob, b = users
    await a.call("POST", "/api/channels", json={"name": "lab"})  # alice's: she is its admin
    await b.call("POST", "/api/channels/lab/join")
    await b.post("lab", "first words")
    async with running(server, a.token, channel="lab") as (app, pilot):
        await wait_for(pilot, lambda: "first words" in pane(app), "lab's history")
        await submit(pilot, "/purpose Where experiments happen")
        await wait_for(pilot, lambda: "purpose: Where experiments happen" in pane(app), "/purpose")
        assert (await b.channel("lab"))["purpose"] == "Where experiments happen"

        await submit(pilot, "/rename #workshop")
        await wait_for(pilot, lambda: app.active == "workshop", "/rename")
        assert "#workshop" in sidebar(app) and "#lab" not in sidebar(app)
        assert (await b.channel("lab"))["name"] == "workshop"  # the old name still works
        await b.post("workshop", "after the rename")
        await wait_for(pilot, lambda: "after the rename" in pane(app), "live after the rename")
        assert "first words" in pane(app)

        # A rename by someone else (bob is a workspace admin) moves us too.
        await b.call("PATCH", "/api/channels/workshop", json={"name": "studio"})
        await wait_for(pilot, lambda: app.active == "studio", "a rename by bob")
        await b.post("studio", "in the studio")
        await wait_for(pilot, lambda: "in the studio" in pane(app), "live after bob's rename")

        await submit(pilot, "/archive")
        await wait_for(pilot, lambda: "is archived" in pane(app), "/archive")
        await submit(pilot, "not any more")
        await wait_for(pilot, lambda: "channel_archived" in pane(app), "a send refused")
        assert (await b.channel("studio"))["archived"] is True
        await submit(pilot, "/unarchive")
        await wait_for(pilot, lambda: "takes messages again" in pane(app), "/unarchive")

        await submit(pilot, f"/kick @{bob}")
        await wait_for(pilot, lambda: f"removed {bob}" in pane(app), "/kick")
        members = (await a.call("GET", "/api/channels/studio/members"))["members"]
        assert bob not in members and alice in members

        await submit(pilot, "/status :coffee: back in five")
        await wait_for(pilot, lambda: "status: :coffee: back in five" in pane(app), "/status")
        me = await b.call("GET", f"/api/users/{alice}")
        assert (
            me["custom_status"]["emoji"] == "☕" and me["custom_status"]["text"] == "back in five"
        )
        await submit(pilot, "/status")
        await wait_for(pilot, lambda: "status cleared" in pane(app), "/status alone")
        assert (await b.call("GET", f"/api/users/{alice}"))["custom_status"] is None
