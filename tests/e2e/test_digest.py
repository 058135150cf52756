"""E-mail digests end to end (issue #17): a real `hubbub serve` sending to a
real SMTP server the test starts (aiosmtpd). An offline user with digests on
gets one e-mail of their unread mentions and DMs once they are
`--digest-delay` old: never what they read meanwhile, never a message twice,
never plain chatter under the default level, and nothing for a user who is
online."""

from __future__ import annotations

import asyncio
import email.message
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from admin_support import own_server
from mail_support import Inbox, smtp_server
from support import WAIT, Server, auth, online, register

DELAY = 2.0  # seconds: a message read within it is never mailed


@pytest.fixture(scope="module")
def inbox() -> Iterator[Inbox]:
    with smtp_server() as box:
        yield box


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, inbox: Inbox) -> Iterator[Server]:
    with own_server(
        tmp_path_factory.mktemp("digest"),
        "--smtp-url",
        inbox.url,
        "--smtp-from",
        "hubbub@example.com",
        "--digest-delay",
        str(DELAY),
    ) as s:
        yield s


@pytest.fixture
async def http(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as client:
        yield client


async def next_mail(inbox: Inbox) -> email.message.EmailMessage:
    """The next message the SMTP server takes (the digest waits DELAY first)."""
    return await asyncio.to_thread(inbox.received.get, timeout=WAIT + DELAY * 2)


def text_of(msg: email.message.EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


async def post(http: httpx.AsyncClient, token: str, channel: str, text: str) -> int:
    r = await http.post(
        f"/api/channels/{channel}/messages", json={"text": text}, headers=auth(token)
    )
    assert r.status_code == 201, r.text
    return int(r.json()["seq"])


async def test_an_offline_user_gets_unread_mentions_and_dms_once(
    server: Server, http: httpx.AsyncClient, inbox: Inbox
) -> None:
    bob = await register(http, "bob")
    alice = await register(http, "alice")
    carol = await register(http, "carol")
    for token, address in ((alice, "alice@example.com"), (carol, "carol@example.com")):
        r = await http.put(
            "/api/notifications",
            json={"email_digest": True, "email": address},
            headers=auth(token),
        )
        assert r.status_code == 200 and r.json()["email"] == address, r.text
    dm = (await http.post("/api/dms", json={"usernames": ["alice"]}, headers=auth(bob))).json()

    async with online(server, carol):  # carol is here the whole time: no e-mail for her
        # Read at once (well within DELAY): never mailed.
        seen = await post(http, bob, "general", "@alice read before the digest")
        r = await http.post("/api/channels/general/read", json={"seq": seen}, headers=auth(alice))
        assert r.status_code == 200, r.text
        await post(http, bob, "general", "@carol you are online")
        await post(http, bob, "general", "plain chatter")  # level `mentions`: not for her
        await post(http, bob, "general", "@alice first mention")
        await post(http, bob, dm["name"], "a dm for alice")

        first = await next_mail(inbox)
        assert first["To"] == "alice@example.com"
        assert first["From"] == "hubbub@example.com"
        assert first["Subject"] == "hubbub: 2 unread messages for you"
        body = text_of(first)
        assert "bob in #general: @alice first mention" in body
        assert "bob in a direct message: a dm for alice" in body
        assert "plain chatter" not in body
        assert "read before the digest" not in body
        assert "you are online" not in body

        # Later mentions: a new e-mail with them only, never the first ones again.
        await post(http, bob, "general", "@alice second mention")
        second = await next_mail(inbox)
        assert second["To"] == "alice@example.com"
        assert "second mention" in text_of(second)
        assert "first mention" not in text_of(second) and "a dm for" not in text_of(second)
        # Every round that mailed alice looked at carol too: she got nothing,
        # which the digest after a third mention shows (rounds run one by one).
        await post(http, bob, "general", "@here third mention")
        third = await next_mail(inbox)
        assert third["To"] == "alice@example.com" and "third mention" in text_of(third)
        assert inbox.received.empty()
