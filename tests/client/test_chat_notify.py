"""`hubbub chat` and notifications (issue #17), headless against a real
server: the bell rings for what the preferences allow (the server's rule),
`/mute` and `/dnd` run on the server and silence it, a muted channel is shown
as such, and a change made on another device reaches the app at once."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from support import Server, register

from .test_chat import Rest, create, pane, running, sidebar, status, submit, wait_for


async def test_the_bell_follows_the_preferences(
    server: Server, http: httpx.AsyncClient, uname: Callable[[str], str]
) -> None:
    alice = uname("alice")
    b = Rest(http, await register(http, uname("bob")))
    a = Rest(http, await register(http, alice))
    for name in ("general", "random"):
        await create(b, name)
        await a.call("POST", f"/api/channels/{name}/join")
    async with running(server, a.token, channel="general") as (app, pilot):
        await b.post("general", "just chatting")
        await wait_for(pilot, lambda: "just chatting" in pane(app), "bob's message")
        assert app.bells == 0  # level `mentions`: nothing for a plain message
        await b.post("general", f"@{alice} can you look?")
        await wait_for(pilot, lambda: app.bells == 1, "the bell for a mention")

        # /mute runs on the server: the channel shows muted, and stays quiet.
        await submit(pilot, "/mute")
        await wait_for(pilot, lambda: "Muted #general" in pane(app), "/mute's answer")
        await wait_for(pilot, lambda: "#general (muted)" in sidebar(app), "shown muted")
        assert (await a.channel("general"))["muted"] is True
        await b.post("general", f"@{alice} muted ping")
        await wait_for(pilot, lambda: "muted ping" in pane(app), "the muted message")
        await submit(pilot, "/mute")
        await wait_for(pilot, lambda: "#general (muted)" not in sidebar(app), "unmuted")

        # Do not disturb: shown in the status line, and no bell.
        await submit(pilot, "/dnd 30m")
        await wait_for(pilot, lambda: "do not disturb" in status(app), "DND in the status")
        await b.post("general", f"@{alice} during dnd")
        await wait_for(pilot, lambda: "during dnd" in pane(app), "the message during DND")
        await submit(pilot, "/dnd off")
        await wait_for(pilot, lambda: "do not disturb" not in status(app), "DND off")
        assert app.bells == 1

        # Another device sets #random to every message: the app follows.
        await a.call("PUT", "/api/channels/random/notifications", json={"level": "all"})
        await wait_for(pilot, lambda: app.channels["random"].notify == "all", "the change")
        await b.post("random", "anything at all")
        await wait_for(pilot, lambda: app.bells == 2, "the bell under `all`")
        # A DM always rings; your own messages never do.
        dm = await b.call("POST", "/api/dms", json={"usernames": [alice]})
        # (Followed once the server answered its subscribe: last_seq is set then.)
        await wait_for(pilot, lambda: dm["name"] in app.client.last_seq, "the DM followed")
        await b.post(dm["name"], "psst")
        await wait_for(pilot, lambda: app.bells == 3, "the bell for a DM")
        await a.post("general", f"@{alice} a note to self")
        await wait_for(pilot, lambda: "a note to self" in pane(app), "own message")
        assert app.bells == 3
