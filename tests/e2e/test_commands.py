"""Slash commands end to end (issue #17): the built-ins run on the server for
every client (WebSocket `command`, REST), and a custom command registered by
an admin POSTs Slack's signed slash-command payload to a real HTTP server
the test starts, answering ephemerally (for the user only, never stored) or
in the channel, now or later through its response_url. Every failure of its
server (too slow, 500, junk, a redirect, a private address not allowed) is
a clear error for the user."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from admin_support import api_error, create_channel, history, own_server, register, unique
from receiver import Receiver, Reply, receiving
from support import WAIT, Server, auth, online, start_server, subscribe


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # The receivers are on 127.0.0.1: this server is allowed to call it.
    with own_server(tmp_path_factory.mktemp("commands"), "--outbound-allow", "127.0.0.1") as s:
        yield s


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as r:
        yield r


async def run(http: httpx.AsyncClient, token: str, channel: str, text: str) -> httpx.Response:
    return await http.post(
        f"/api/channels/{channel}/commands", json={"text": text}, headers=auth(token)
    )


async def register_command(
    http: httpx.AsyncClient, owner: str, name: str, url: str, **extra: Any
) -> dict[str, Any]:
    r = await http.post(
        "/api/custom-commands", json={"command": name, "url": url, **extra}, headers=auth(owner)
    )
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


# --- built-ins ---------------------------------------------------------------------------


async def test_built_ins_on_the_websocket(
    server: Server, http: httpx.AsyncClient, owner: str
) -> None:
    ann_name, bob_name = unique("ann"), unique("bob")
    ann, bob = await register(http, ann_name), await register(http, bob_name)
    channel = unique("room")
    await create_channel(http, ann, channel)
    async with online(server, ann) as ws:
        await subscribe(ws, channel)
        answer = await ws.request(
            {"action": "command", "channel": channel, "text": "/shrug it works", "client_id": "s1"}
        )
        assert answer["type"] == "command_result" and answer["response_type"] == "in_channel"
        assert answer["message"]["text"] == "it works ¯\\_(ツ)_/¯"
        live = await ws.expect("message", channel=channel)
        assert live["seq"] == answer["message"]["seq"]

        answer = await ws.request({"action": "command", "channel": channel, "text": "/me waves"})
        assert answer["message"]["text"] == f"*{ann_name} waves*"

        answer = await ws.request(
            {"action": "command", "channel": channel, "text": "/topic Launch day"}
        )
        assert answer["response_type"] == "ephemeral" and "Launch day" in answer["text"]
        assert answer["message"] is None
        answer = await ws.request({"action": "command", "channel": channel, "text": "/TOPIC"})
        assert answer["text"] == f"The topic of #{channel}: Launch day"

        answer = await ws.request(
            {"action": "command", "channel": channel, "text": f"/invite @{bob_name}"}
        )
        assert answer["text"] == f"Added {bob_name} to #{channel}."
        answer = await ws.request(
            {"action": "command", "channel": channel, "text": f"/kick @{bob_name}"}
        )
        assert answer["text"] == f"Removed {bob_name} from #{channel}."

        answer = await ws.request({"action": "command", "channel": channel, "text": "/help"})
        assert "/shrug [text]" in answer["text"] and "/invite @user [#channel]" in answer["text"]

        err = await ws.request({"action": "command", "channel": channel, "text": "/nope"})
        assert (err["type"], err["code"]) == ("error", "not_found")
        assert "unknown command /nope" in err["message"]
        err = await ws.request({"action": "command", "channel": channel, "text": "shrug"})
        assert (err["type"], err["code"]) == ("error", "invalid_input")
        err = await ws.request({"action": "command", "channel": channel, "text": "/me"})
        assert (err["type"], err["code"]) == ("error", "invalid_input")
        err = await ws.request({"action": "command", "channel": "nowhere", "text": "/shrug"})
        assert (err["type"], err["code"]) == ("error", "not_found")
    texts = [t for _, _, t in await history(http, ann, channel)]
    assert texts == ["it works ¯\\_(ツ)_/¯", f"*{ann_name} waves*"]  # nothing ephemeral stored

    # bob, not in it any more: /join brings him back, /leave takes him out
    r = await run(http, bob, "general", f"/join #{channel}")
    assert (r.status_code, r.json()["text"]) == (200, f"You joined #{channel}.")
    r = await run(http, bob, channel, "/leave")
    assert r.json()["text"] == f"You left #{channel}."
    api_error(await run(http, bob, channel, "/shrug"), 403, "not_a_member")


async def test_built_ins_over_rest_and_their_refusals(http: httpx.AsyncClient, owner: str) -> None:
    ann = await register(http, unique("ann"))
    bob_name = unique("bob")
    bob = await register(http, bob_name)
    channel = unique("rest")
    await create_channel(http, ann, channel)
    r = await run(http, ann, channel, "/shrug")
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["command"], body["response_type"]) == ("/shrug", "in_channel")
    assert body["message"]["text"] == "¯\\_(ツ)_/¯"
    await http.post(f"/api/channels/{channel}/join", headers=auth(bob))
    # bob is no channel admin: he cannot kick
    api_error(await run(http, bob, channel, "/kick @" + bob_name + "x"), 403, "forbidden")
    api_error(await run(http, ann, channel, "/invite"), 400, "invalid_input")
    api_error(await run(http, ann, channel, "/invite @nobody-here"), 404, "not_found")
    r = await http.post(
        f"/api/channels/{channel}/commands", json={"text": "no slash"}, headers=auth(ann)
    )
    api_error(r, 400, "invalid_input")
    r = await http.post(f"/api/channels/{channel}/commands", json={"text": "/shrug"})
    api_error(r, 401, "not_authenticated")
    listed = (await http.get("/api/commands", headers=auth(ann))).json()
    assert {"/me", "/shrug", "/topic", "/invite", "/kick", "/join", "/leave", "/help"} <= {
        c["command"] for c in listed
    }


# --- custom commands ---------------------------------------------------------------------


async def test_a_custom_command_gets_slacks_signed_payload_and_answers_both_ways(
    server: Server, http: httpx.AsyncClient, owner: str, receiver: Receiver
) -> None:
    name = unique("deploy").replace("-", "")
    made = await register_command(
        http, owner, f"/{name}", f"{receiver.url}/slack", description="deploys", usage="[env]"
    )
    assert made["command"] == f"/{name}" and len(made["signing_secret"]) == 64
    ann_name = unique("ann")
    ann = await register(http, ann_name)
    channel = unique("ops")
    await create_channel(http, ann, channel)

    receiver.answer = lambda req: Reply(
        body=json.dumps({"response_type": "ephemeral", "text": "Deploying *staging*…"}).encode()
    )
    async with online(server, ann) as ws, online(server, ann) as other:
        await subscribe(ws, channel)
        answer = await ws.request(
            {"action": "command", "channel": channel, "text": f"/{name} staging now"}
        )
        assert answer["response_type"] == "ephemeral"
        assert answer["text"] == "Deploying *staging*…" and answer["message"] is None

        req = receiver.next()
        form = req.form
        assert req.path == "/slack"
        assert req.headers["content-type"] == "application/x-www-form-urlencoded"
        assert (form["command"], form["text"], form["user_name"], form["channel_name"]) == (
            f"/{name}",
            "staging now",
            ann_name,
            channel,
        )
        assert form["token"] == made["token"] and form["team_id"] == "hubbub"
        assert form["response_url"].startswith(f"{server.url}/commands/respond/")
        stamp = req.headers["x-slack-request-timestamp"]
        expected = (
            "v0="
            + hmac.new(
                made["signing_secret"].encode(),
                b"v0:" + stamp.encode() + b":" + req.body,
                hashlib.sha256,
            ).hexdigest()
        )
        assert hmac.compare_digest(req.headers["x-slack-signature"], expected)

        # Later, through response_url: ephemeral reaches ann's connections only.
        r = await http.post(form["response_url"], json={"text": "staging is live"})
        assert (r.status_code, r.text) == (200, "ok")
        for conn in (ws, other):
            later = await conn.expect("ephemeral")
            assert (later["channel"], later["command"], later["text"]) == (
                channel,
                f"/{name}",
                "staging is live",
            )
        # ... and in_channel is posted, as ann, under the answer's name.
        r = await http.post(
            form["response_url"],
            json={"response_type": "in_channel", "text": "deployed v9", "username": "Deployer"},
        )
        assert r.status_code == 200, r.text
        live = await ws.expect("message", channel=channel)
        assert (live["text"], live["author"]["username"], live["shown_name"]) == (
            "deployed v9",
            ann_name,
            "Deployer",
        )

        # An in_channel first answer is posted at once.
        receiver.answer = lambda req: Reply(
            body=json.dumps({"response_type": "in_channel", "text": "rolled back"}).encode()
        )
        answer = await ws.request({"action": "command", "channel": channel, "text": f"/{name}"})
        assert answer["response_type"] == "in_channel"
        assert answer["message"]["text"] == "rolled back"
        # Plain text is an ephemeral answer; an empty 200 says nothing.
        receiver.answer = lambda req: Reply(body=b"just for you", content_type="text/plain")
        answer = await ws.request({"action": "command", "channel": channel, "text": f"/{name}"})
        assert (answer["response_type"], answer["text"]) == ("ephemeral", "just for you")
        receiver.answer = lambda req: Reply(body=b"")
        answer = await ws.request({"action": "command", "channel": channel, "text": f"/{name}"})
        assert (answer["response_type"], answer["text"]) == ("ephemeral", "")

    texts = [t for _, _, t in await history(http, ann, channel)]
    assert texts == ["deployed v9", "rolled back"]  # the ephemeral ones were never stored
    help_text = (await run(http, ann, channel, "/help")).json()["text"]
    assert f"/{name} [env]" in help_text and "deploys" in help_text

    # A forged or truncated response_url is a 404.
    api_error(await http.post(form["response_url"] + "0", json={"text": "x"}), 404, "not_found")
    api_error(await http.post(f"{server.url}/commands/respond/x.y", json={}), 404, "not_found")


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        (Reply(status=500, body=b"boom"), "answered 500"),
        (Reply(body=b"{not json"), "does not parse"),
        (Reply(body=b"[1, 2]"), "not a JSON object"),
        (Reply(body=b'{"response_type": "shout", "text": "x"}'), "response_type"),
        (Reply(status=302, headers={"Location": "http://10.0.0.1/"}), "redirect"),
        (Reply(delay=4.0), "no answer within 3 s"),
    ],
    ids=["500", "junk", "not-an-object", "bad-type", "redirect", "timeout"],
)
async def test_a_custom_commands_failures_are_clear_errors(
    http: httpx.AsyncClient, owner: str, receiver: Receiver, reply: Reply, why: str
) -> None:
    name = unique("flaky").replace("-", "")
    await register_command(http, owner, name, receiver.url)
    ann = await register(http, unique("ann"))
    channel = unique("fail")
    await create_channel(http, ann, channel)
    receiver.answer = lambda req: reply
    r = await run(http, ann, channel, f"/{name}")
    err = api_error(r, 502, "integration_failed")
    assert err["message"].startswith(f"/{name} failed: ") and why in err["message"]
    assert await history(http, ann, channel) == []


async def test_managing_custom_commands_is_for_admins(
    http: httpx.AsyncClient, owner: str, receiver: Receiver
) -> None:
    ann = await register(http, unique("ann"))
    body = {"command": "/mine", "url": receiver.url}
    api_error(
        await http.post("/api/custom-commands", json=body, headers=auth(ann)), 403, "forbidden"
    )
    api_error(await http.get("/api/custom-commands", headers=auth(ann)), 403, "forbidden")
    r = await http.post(
        "/api/custom-commands", json={**body, "command": "/shrug"}, headers=auth(owner)
    )
    api_error(r, 409, "conflict")
    r = await http.post(
        "/api/custom-commands", json={**body, "url": "ftp://x/"}, headers=auth(owner)
    )
    api_error(r, 400, "invalid_input")
    name = unique("gone").replace("-", "")
    await register_command(http, owner, name, receiver.url)
    again = {"command": name, "url": receiver.url}
    api_error(
        await http.post("/api/custom-commands", json=again, headers=auth(owner)), 409, "conflict"
    )
    listed = (await http.get("/api/custom-commands", headers=auth(owner))).json()
    assert f"/{name}" in {c["command"] for c in listed}
    r = await http.delete(f"/api/custom-commands/{name}", headers=auth(owner))
    assert r.status_code == 204
    api_error(
        await http.delete(f"/api/custom-commands/{name}", headers=auth(owner)), 404, "not_found"
    )
    channel = unique("after")
    await create_channel(http, ann, channel)
    api_error(await run(http, ann, channel, f"/{name}"), 404, "not_found")


async def test_private_addresses_are_refused_unless_allowed(tmp_path: Path) -> None:
    """SSRF: a server not told otherwise calls public addresses only, at
    registration (a literal address) and when run (a name that resolves to
    one, checked on the connection itself)."""
    with own_server(tmp_path) as server, receiving() as receiver:
        async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as http:
            owner = await register(http, "boss")
            for url in (
                receiver.url,
                "http://10.1.2.3/x",
                "http://[::1]:9/",
                "http://169.254.169.254/",
            ):
                r = await http.post(
                    "/api/custom-commands", json={"command": "/x", "url": url}, headers=auth(owner)
                )
                err = api_error(r, 400, "invalid_input")
                assert "--outbound-allow" in err["message"]
            port = receiver.url.rsplit(":", 1)[1]
            await register_command(http, owner, "/local", f"http://localhost:{port}/")
            await create_channel(http, owner, "here")
            err = api_error(await run(http, owner, "here", "/local"), 502, "integration_failed")
            assert "--outbound-allow" in err["message"]
            assert receiver.requests.empty()  # nothing reached it


async def test_running_custom_commands_is_held_to_the_send_rate(tmp_path: Path) -> None:
    """Each run is a request to another server: nobody can make hubbub flood it."""
    limits = "messages_per_second=0.5,message_burst=2"
    server = start_server(tmp_path, "--outbound-allow", "127.0.0.1", "--limit", limits)
    try:
        with receiving() as receiver:
            async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as http:
                owner = await register(http, "boss")
                await register_command(http, owner, "/ping", receiver.url)
                await create_channel(http, owner, "rated")
                answers = [await run(http, owner, "rated", "/ping") for _ in range(3)]
                assert [a.status_code for a in answers] == [200, 200, 429]
                api_error(answers[2], 429, "rate_limited")
                assert receiver.requests.qsize() == 2  # the third never left
    finally:
        server.stop()
