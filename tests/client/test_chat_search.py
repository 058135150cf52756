"""`/search` and `/open` in `hubbub chat`, headless against a real server
(the style of test_chat.py, whose helpers these are)."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from hubbub.client.chat import ChatApp
from support import Server, register

from .test_chat import Rest, create, pane, running, submit, wait_for


async def seeded(
    http: httpx.AsyncClient, uname: Callable[[str], str]
) -> tuple[str, Rest, str, Rest]:
    """alice and bob in #general and #random (bob made them)."""
    alice, bob = uname("alice"), uname("bob")
    b = Rest(http, await register(http, bob))
    a = Rest(http, await register(http, alice))
    for name in ("general", "random"):
        await create(b, name)
        await a.call("POST", f"/api/channels/{name}/join")
    return alice, a, bob, b


def marked_line(app: ChatApp) -> str:
    return next((line for line in pane(app).splitlines() if line.startswith("▶")), "")


async def test_search_and_open_a_result_far_back(
    server: Server, http: httpx.AsyncClient, uname: Callable[[str], str]
) -> None:
    alice, a, bob, b = await seeded(http, uname)
    old = (await b.post("general", "the zebracorn launch plan"))["seq"]
    for i in range(30):
        await b.post("general", f"filler {i}")
    await a.post("random", "a zebracorn sighting in random")
    async with running(server, a.token, page_size=10) as (app, pilot):
        await wait_for(pilot, lambda: "filler 29" in pane(app), "the newest page")
        assert "launch plan" not in pane(app)  # far back: not in the first page
        await submit(pilot, "/search zebracorn")
        await wait_for(pilot, lambda: "search: zebracorn (1-2):" in pane(app), "results")
        text = pane(app)
        assert "1. #random #1 " in text and f"{alice}: a zebracorn sighting" in text
        assert f"2. #general #{old} " in text and f"{bob}: the zebracorn launch plan" in text
        assert "/open N opens result N" in text

        await submit(pilot, "/open 2")
        await wait_for(pilot, lambda: "launch plan" in marked_line(app), "the result, marked")
        state = app.channels["general"]
        assert app.active == "general" and state.marked == old and state.detached
        assert "filler 3" in pane(app) and "filler 29" not in pane(app)  # a window around it
        assert "newer messages: /latest" in pane(app)

        # A new message does not show out of place under the old window ...
        await b.post("general", "brand new")
        await wait_for(pilot, lambda: state.last_seq > old + 30, "the live message, counted")
        assert "brand new" not in pane(app)
        # ... Page Down at the end pages newer messages in, until the newest.
        app.log_pane.scroll_end(animate=False)
        await pilot.press("pagedown")
        await wait_for(pilot, lambda: "filler 9" in pane(app), "the next newer page")
        # Another result past the window held: a new window, around it.
        await submit(pilot, '/search "filler 25"')
        await wait_for(pilot, lambda: 'search: "filler 25" (1-1):' in pane(app), "found")
        await submit(pilot, "/open 1")
        await wait_for(pilot, lambda: "filler 25" in marked_line(app), "the other one, marked")
        assert state.detached and state.marked == old + 26
        assert "filler 9" not in pane(app) and "brand new" not in pane(app)  # a new window
        await submit(pilot, "/latest")
        await wait_for(pilot, lambda: "brand new" in pane(app), "back to the newest")
        assert not state.detached and state.marked is None and marked_line(app) == ""
        await b.post("general", "live again")
        await wait_for(pilot, lambda: "live again" in pane(app), "live messages show again")

        # A result in the page held opens where it is, without a window.
        await submit(pilot, "/search zebracorn in:#random")
        await wait_for(pilot, lambda: "search: zebracorn in:#random (1-1):" in pane(app), "one")
        await submit(pilot, "/open 1")
        await wait_for(pilot, lambda: "zebracorn sighting" in marked_line(app), "marked")
        assert app.active == "random" and not app.channels["random"].detached
        assert "Traceback" not in pane(app) and app.is_running


async def test_open_a_reply_sending_and_mistakes(
    server: Server, http: httpx.AsyncClient, uname: Callable[[str], str]
) -> None:
    alice, a, _bob, b = await seeded(http, uname)
    root = (await b.post("general", "release today?"))["seq"]
    await b.call(
        "POST",
        "/api/channels/general/messages",
        json={"text": "the quokka build is green", "thread_root": root},
    )
    for i in range(12):
        await b.post("general", f"chatter {i}")
    for i in range(3):
        await b.post("random", f"marmot {i}")
    async with running(server, a.token, page_size=4) as (app, pilot):
        await wait_for(pilot, lambda: app.active is not None, "a channel open")
        await submit(pilot, "/open 1")
        await wait_for(pilot, lambda: "search first" in pane(app), "no search yet")
        await submit(pilot, "/search nothing-matches-this-xyzzy")
        await wait_for(pilot, lambda: "no messages found" in pane(app), "none")
        await submit(pilot, "/search has:cats")
        await wait_for(pilot, lambda: "(invalid_query)" in pane(app), "the server's message")
        assert "has:" in pane(app)

        # A reply kept in its thread: the channel opens at its root, then the thread.
        await submit(pilot, "/search quokka")
        await wait_for(pilot, lambda: "1. #general" in pane(app), "the reply found")
        await submit(pilot, "/open 1")
        await wait_for(pilot, lambda: "release today?" in marked_line(app), "the root marked")
        await wait_for(pilot, lambda: f"— the thread of #{root} —" in pane(app), "the thread")
        assert app.channels["general"].detached

        # Sending from an old window goes back to the newest first.
        await submit(pilot, "hello from the past")
        await wait_for(pilot, lambda: f"{alice}: hello from the past" in pane(app), "sent")
        assert not app.channels["general"].detached and "chatter 11" in pane(app)

        # More results, a page at a time.
        await submit(pilot, "/search marmot")
        await wait_for(pilot, lambda: "search: marmot (1-3):" in pane(app), "all three")
        await submit(pilot, "/open 9")
        await wait_for(pilot, lambda: "usage: /open N" in pane(app), "out of range")
        assert "Traceback" not in pane(app) and app.is_running


async def test_search_pages(
    server: Server, http: httpx.AsyncClient, uname: Callable[[str], str]
) -> None:
    _alice, a, _bob, b = await seeded(http, uname)
    for i in range(5):
        await b.post("general", f"wombat {i}")
    async with running(server, a.token, page_size=2) as (app, pilot):
        await wait_for(pilot, lambda: app.active is not None, "a channel open")
        await submit(pilot, "/search wombat")
        await wait_for(pilot, lambda: "search: wombat (1-2):" in pane(app), "the first page")
        assert "/search alone: more" in pane(app)
        await submit(pilot, "/search")
        await wait_for(pilot, lambda: "search: wombat (3-4):" in pane(app), "the second")
        await submit(pilot, "/search")
        await wait_for(pilot, lambda: "search: wombat (5-5):" in pane(app), "the last")
        assert "3. #general" in pane(app) and "wombat 0" in pane(app)
        await submit(pilot, "/search")
        await wait_for(pilot, lambda: "usage: /search QUERY" in pane(app), "no more")
        await submit(pilot, "/help")
        await wait_for(pilot, lambda: "/open N" in pane(app), "help lists it")
