"""Incoming webhooks end to end (issue #17): a Slack-format body posted by
`curl` to the hook's URL shows up in its channel, live on the WebSocket and
in REST history, as the hook's account with Slack's `username` override as
the name shown; `payload=` forms, blocks and attachments degrade to text;
a retry with the same Idempotency-Key posts once. Every bad input gets its
documented error and stores nothing: a wrong secret (404), a body that is
not JSON (400) or too large (413), a deactivated account (403), an archived
channel (403), the send rate (429 with Retry-After)."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from admin_support import (
    api_error,
    create_channel,
    history,
    own_server,
    register,
    unique,
)
from support import WAIT, Server, auth, online, start_server, subscribe


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with own_server(tmp_path_factory.mktemp("hooks")) as s:
        yield s


async def new_hook(
    http: httpx.AsyncClient, token: str, channel: str, name: str = "CI", **body: Any
) -> dict[str, Any]:
    r = await http.post(
        "/api/hooks", json={"channel": channel, "name": name, **body}, headers=auth(token)
    )
    assert r.status_code == 201, r.text
    made: dict[str, Any] = r.json()
    return made


def curl(url: str, *args: str) -> tuple[int, str]:
    """POST with the real curl, as a CI job would: (status, body)."""
    out = subprocess.run(
        ["curl", "-sS", "--max-time", str(WAIT), "-w", "\n%{http_code}", "-X", "POST", *args, url],
        capture_output=True,
        text=True,
        timeout=WAIT + 5,
        check=True,
    ).stdout
    body, _, status = out.rpartition("\n")
    return int(status), body


async def acurl(url: str, *args: str) -> tuple[int, str]:
    return await asyncio.to_thread(curl, url, *args)


async def test_curl_posts_slack_json_into_the_channel_live_and_in_history(
    server: Server, http: httpx.AsyncClient, owner: str
) -> None:
    ann = await register(http, unique("ann"))
    channel = unique("builds")
    await create_channel(http, ann, channel)
    made = await new_hook(http, ann, channel, "CI")
    assert made["url"].startswith(f"{server.url}/hooks/")
    assert made["channel"] == channel and made["poster"] == made["created_by"]

    async with online(server, ann) as ws:
        await subscribe(ws, channel)
        body = {"text": "Build <https://ci.example/1|#1> passed &amp; <!here>", "username": "CI"}
        status, text = await acurl(
            made["url"], "-H", "Content-Type: application/json", "-d", json.dumps(body)
        )
        assert (status, text) == (200, "ok")
        live = await ws.expect("message", channel=channel)
    assert live["text"] == "Build [#1](https://ci.example/1) passed & @here"
    assert live["shown_name"] == "CI"
    assert live["author"]["username"] == made["poster"]
    assert live["author"]["display_name"] == made["poster"]  # the account's own, unchanged
    assert (await history(http, ann, channel))[-1][2] == live["text"]


async def test_a_form_payload_and_blocks_and_attachments_degrade_to_their_text(
    http: httpx.AsyncClient,
) -> None:
    ann = await register(http, unique("ann"))
    channel = unique("alerts")
    await create_channel(http, ann, channel)
    url = (await new_hook(http, ann, channel))["url"]

    # `curl -d payload=...`: a form, as Slack's own examples send it.
    payload = json.dumps({"text": "from a form"})
    assert await acurl(url, "--data-urlencode", f"payload={payload}") == (200, "ok")
    blocks = {
        "text": "fallback only",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Deploy"}},
            {"type": "divider"},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "*prod* is live"},
                "fields": [{"type": "mrkdwn", "text": "v1.2"}],
            },
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "by ci"}]},
        ],
    }
    r = await http.post(url, json=blocks)
    assert (r.status_code, r.text) == (200, "ok")
    attachments = {
        "attachments": [
            {
                "fallback": "unused",
                "pretext": "Nightly",
                "title": "Report",
                "title_link": "https://ci.example/r",
                "text": "3 failures",
                "fields": [{"title": "Suite", "value": "api", "short": True}],
            },
            {"fallback": "only a fallback"},
        ]
    }
    r = await http.post(url, json=attachments)
    assert (r.status_code, r.text) == (200, "ok")

    texts = [t for _, _, t in await history(http, ann, channel)]
    assert texts[-3:] == [
        "from a form",
        "Deploy\n*prod* is live\nv1.2\nby ci",
        "Nightly\n*[Report](https://ci.example/r)*\n3 failures\n*Suite* api\nonly a fallback",
    ]


async def test_the_same_idempotency_key_posts_once(http: httpx.AsyncClient) -> None:
    ann = await register(http, unique("ann"))
    channel = unique("once")
    await create_channel(http, ann, channel)
    url = (await new_hook(http, ann, channel))["url"]
    for _ in range(3):
        r = await http.post(url, json={"text": "deployed"}, headers={"Idempotency-Key": "run-7"})
        assert (r.status_code, r.text) == (200, "ok")
    assert [t for _, _, t in await history(http, ann, channel)].count("deployed") == 1
    r = await http.post(url, json={"text": "x"}, headers={"Idempotency-Key": "k" * 65})
    api_error(r, 400, "invalid_input")


async def test_bad_bodies_and_wrong_secrets_get_their_errors_and_store_nothing(
    server: Server, http: httpx.AsyncClient
) -> None:
    ann = await register(http, unique("ann"))
    channel = unique("strict")
    await create_channel(http, ann, channel)
    url = (await new_hook(http, ann, channel))["url"]
    before = await history(http, ann, channel)

    api_error(
        await http.post(f"{server.url}/hooks/not-a-hook", json={"text": "x"}), 404, "not_found"
    )
    api_error(await http.post(url + "x", json={"text": "x"}), 404, "not_found")
    assert (await acurl(f"{server.url}/hooks/{'a' * 200}", "-d", "{}"))[0] == 404
    status, text = await acurl(url, "-H", "Content-Type: application/json", "-d", "{not json")
    assert status == 400 and json.loads(text)["error"]["code"] == "invalid_json"
    api_error(await http.post(url, json=["text"]), 400, "invalid_input")
    api_error(await http.post(url, json={"text": 5}), 400, "invalid_input")
    api_error(await http.post(url, json={"attachments": "x"}), 400, "invalid_input")
    api_error(await http.post(url, data={"text": "no payload"}), 400, "invalid_input")
    api_error(await http.post(url, json={"text": "   "}), 400, "message_too_long")
    api_error(await http.post(url, json={}), 400, "message_too_long")
    deep: Any = {"type": "section", "text": "bottom"}
    for _ in range(40):
        deep = {"type": "context", "elements": [deep]}
    api_error(await http.post(url, json={"blocks": [deep]}), 400, "invalid_input")
    big = {"text": "x" * (2 * 1024 * 1024)}
    api_error(await http.post(url, json=big), 413, "body_too_large")
    assert await history(http, ann, channel) == before

    # Longer than a message may be, within the body limit: cut, as Slack does.
    r = await http.post(url, json={"text": "y" * 20_000})
    assert r.status_code == 200, r.text
    last = (await history(http, ann, channel))[-1][2]
    assert len(last) == 10_000 and last.endswith("…")


async def test_a_hook_can_post_as_a_bot_which_joins_the_private_channel(
    http: httpx.AsyncClient,
) -> None:
    ann = await register(http, unique("ann"))
    channel = unique("secret")
    await create_channel(http, ann, channel, private=True)
    bot = unique("deploybot")
    r = await http.post("/api/bots", json={"username": bot}, headers=auth(ann))
    assert r.status_code == 201, r.text
    made = await new_hook(http, ann, channel, "deploys", bot=bot)
    assert (made["poster"], made["created_by"]) == (bot, made["created_by"])
    r = await http.post(made["url"], json={"text": "shipped"})
    assert (r.status_code, r.text) == (200, "ok")
    assert (await history(http, ann, channel))[-1][1:] == (bot, "shipped")

    # Its account deactivated: the hook stops, with a reason, storing nothing.
    r = await http.put(f"/api/bots/{bot}/active", json={"active": False}, headers=auth(ann))
    assert r.status_code == 200, r.text
    api_error(await http.post(made["url"], json={"text": "again"}), 403, "forbidden")
    assert (await history(http, ann, channel))[-1][2] == "shipped"


async def test_hooks_are_listed_without_secrets_and_deleted_by_their_maker_or_an_admin(
    http: httpx.AsyncClient, owner: str
) -> None:
    ann = await register(http, unique("ann"))
    bob = await register(http, unique("bob"))
    channel = unique("listed")
    await create_channel(http, ann, channel)
    one = await new_hook(http, ann, channel, "one")
    two = await new_hook(http, ann, channel, "two")

    r = await http.get("/api/hooks", headers=auth(ann))
    assert r.status_code == 200, r.text
    assert [h["name"] for h in r.json()] == ["two", "one"]
    assert all("url" not in h and one["url"].rsplit("/", 1)[1] not in str(h) for h in r.json())
    r = await http.get("/api/hooks", headers=auth(bob))
    assert r.json() == []
    everyone = (await http.get("/api/hooks", headers=auth(owner))).json()
    assert {one["id"], two["id"]} <= {h["id"] for h in everyone}

    api_error(await http.delete(f"/api/hooks/{one['id']}", headers=auth(bob)), 403, "forbidden")
    api_error(await http.delete("/api/hooks/nope", headers=auth(ann)), 404, "not_found")
    r = await http.delete(f"/api/hooks/{one['id']}", headers=auth(ann))
    assert r.status_code == 204
    api_error(await http.post(one["url"], json={"text": "gone"}), 404, "not_found")
    r = await http.delete(f"/api/hooks/{two['id']}", headers=auth(owner))
    assert r.status_code == 204
    assert (await http.get("/api/hooks", headers=auth(ann))).json() == []


async def test_making_a_hook_needs_a_login_membership_and_a_live_channel(
    http: httpx.AsyncClient, owner: str
) -> None:
    ann = await register(http, unique("ann"))
    bob = await register(http, unique("bob"))
    channel = unique("members")
    await create_channel(http, ann, channel, private=True)
    body = {"channel": channel, "name": "x"}
    api_error(await http.post("/api/hooks", json=body, headers=auth(bob)), 404, "not_found")
    r = await http.post("/api/tokens", json={"name": "t"}, headers=auth(ann))
    token = r.json()["token"]
    api_error(await http.post("/api/hooks", json=body, headers=auth(token)), 403, "missing_scope")
    api_error(
        await http.post("/api/hooks", json={**body, "name": " "}, headers=auth(ann)),
        400,
        "invalid_input",
    )
    api_error(
        await http.post("/api/hooks", json={**body, "bot": "nobody"}, headers=auth(ann)),
        404,
        "not_found",
    )
    api_error(await http.post("/api/hooks", json=body), 401, "not_authenticated")

    public = unique("public")
    await create_channel(http, ann, public)
    url = (await new_hook(http, ann, public))["url"]
    r = await http.patch(f"/api/channels/{public}", json={"archived": True}, headers=auth(owner))
    assert r.status_code == 200, r.text
    api_error(await http.post(url, json={"text": "late"}), 403, "channel_archived")
    again = {"channel": public, "name": "x"}
    api_error(await http.post("/api/hooks", json=again, headers=auth(ann)), 403, "channel_archived")


async def test_a_hook_is_held_to_its_accounts_send_rate(tmp_path: Any) -> None:
    server = start_server(tmp_path, "--limit", "messages_per_second=0.5,message_burst=2")
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as http:
            ann = await register(http, "ann")
            await create_channel(http, ann, "rated")
            url = (await new_hook(http, ann, "rated"))["url"]
            answers = [await http.post(url, json={"text": f"m{i}"}) for i in range(3)]
            assert [a.status_code for a in answers] == [200, 200, 429]
            api_error(answers[2], 429, "rate_limited")
            assert int(answers[2].headers["retry-after"]) >= 1
            assert [t for _, _, t in await history(http, ann, "rated")][-2:] == ["m0", "m1"]
    finally:
        server.stop()
