"""Reconnecting: a server restart mid-conversation, resume without losses or
duplicates, a resume the server cannot do, and a token the server rejects."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page, WebSocket, expect

from support import Server

from .helpers import User, Web, message, send

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def texts_and_seqs(page: Page) -> tuple[list[str], list[int]]:
    items = page.get_by_test_id("message")
    texts = await page.get_by_test_id("message-text").all_text_contents()
    seqs = await items.evaluate_all("els => els.map(e => Number(e.dataset.seq))")
    return texts, seqs


def record(raw: str | bytes, into: list[dict[str, Any]]) -> None:
    frame = json.loads(raw)
    if frame.get("type") == "subscribed":
        into.append({"channel": frame["channel"], "recovered": frame["recovered"]})


async def restart_while_offline(
    web: Web, page: Page, server_factory: Callable[..., Server], *args: str
) -> None:
    """Stop the server, wait for the page to notice, then bring the server back
    while the page is kept offline (so it cannot reconnect yet)."""
    banner = page.get_by_test_id("connection-banner")
    web.server.stop()
    await expect(banner).to_be_visible()
    await expect(banner).to_contain_text("Reconnecting")
    await expect(page.get_by_test_id("app")).to_have_attribute("data-connection", "reconnecting")
    await page.context.set_offline(True)
    web.use(server_factory(*args, data_dir=web.server.data_dir, port=web.server.port))


async def test_server_restart_resumes_without_losses_or_duplicates(
    web: Web, server_factory: Callable[..., Server]
) -> None:
    alice, bob = await web.user("alice"), await web.user("bob")
    # alice is in #general: joined on registering (as is everyone).
    await web.channel(alice, "random")
    await web.join(bob, "general")
    await web.join(bob, "random")
    page = await web.page(alice, channel="general")
    await send(page, "alice before")
    await web.post(bob, "general", "bob before")
    await expect(message(page, "bob before")).to_have_count(1)
    await expect(message(page, "alice before")).to_have_attribute("data-state", "sent")

    await restart_while_offline(web, page, server_factory)
    # The conversation goes on without her...
    for i in range(3):
        await web.post(bob, "general", f"bob while away {i}")
    await web.post(bob, "random", "meanwhile in random")
    # ...and she writes too: queued as pending until the connection is back.
    await send(page, "alice while away")
    queued = message(page, "alice while away")
    await expect(queued).to_have_attribute("data-state", "pending")
    # All of that happened while the page was disconnected.
    await expect(page.get_by_test_id("app")).to_have_attribute("data-connection", "reconnecting")

    await page.context.set_offline(False)
    banner = page.get_by_test_id("connection-banner")
    await expect(banner).to_be_hidden()
    await expect(queued).to_have_attribute("data-state", "sent")
    for i in range(3):
        await expect(message(page, f"bob while away {i}")).to_have_count(1)
    await web.post(bob, "general", "bob after")
    await expect(message(page, "bob after")).to_have_count(1)
    random = page.locator('[data-testid="channel-item"][data-channel="random"]')
    await expect(random.get_by_test_id("unread-badge")).to_have_text("1")

    stored = await web.history(alice, "general")
    texts, seqs = await texts_and_seqs(page)
    assert seqs == [m["seq"] for m in stored] == list(range(1, 8))
    assert texts == [m["text"] for m in stored]
    assert sorted(texts) == sorted(
        ["alice before", "bob before", "alice while away", "bob after"]
        + [f"bob while away {i}" for i in range(3)]
    )
    assert [m["text"] for m in stored].count("alice while away") == 1


async def test_resume_too_far_behind_reloads_history(
    web: Web, server_factory: Callable[..., Server]
) -> None:
    limit = ("--limit", "resume_limit=3")
    web.use(server_factory(*limit))
    alice, bob = await web.user("alice"), await web.user("bob")
    # alice is in #general: joined on registering (as is everyone).
    await web.join(bob, "general")
    await web.post(bob, "general", "first")
    page = await web.page(alice, channel="general")
    await expect(message(page, "first")).to_have_count(1)

    subscribed: list[dict[str, Any]] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda raw: record(raw, subscribed)))
    await restart_while_offline(web, page, server_factory, *limit)
    missed = [f"missed {i}" for i in range(8)]  # more than resume_limit
    for text in missed:
        await web.post(bob, "general", text)
    await page.context.set_offline(False)
    await expect(page.get_by_test_id("connection-banner")).to_be_hidden()
    # The server says it cannot replay that much (recovered: false), so the page
    # pages history instead: nothing missing, nothing twice.
    for text in missed:
        await expect(message(page, text)).to_have_count(1)
    assert {"channel": "general", "recovered": False} in subscribed
    texts, seqs = await texts_and_seqs(page)
    assert texts == ["first", *missed]
    assert seqs == list(range(1, 10))
    await web.post(bob, "general", "live again")
    await expect(message(page, "live again")).to_have_count(1)


async def test_rejected_token_goes_back_to_login(
    web: Web, server_factory: Callable[..., Server]
) -> None:
    alice: User = await web.user("alice")
    # alice is in #general: joined on registering (as is everyone).
    page = await web.page(alice, channel="general")
    # A fresh data dir means a new signing secret: the saved token is now invalid,
    # and the socket is closed with 4001 when the page reconnects.
    port = web.server.port
    web.server.stop()
    await expect(page.get_by_test_id("connection-banner")).to_be_visible()
    web.use(server_factory(port=port))
    await expect(page.get_by_test_id("auth-form")).to_be_visible()
    await expect(page.get_by_test_id("auth-error")).not_to_be_empty()
    assert await page.evaluate("sessionStorage.getItem('hubbub.token')") is None


class SocketLog:
    """Every WebSocket the context's pages open: its URL and, in order, the
    frames the page sent (`>`) and received (`<`)."""

    def __init__(self, ctx: BrowserContext) -> None:
        self.sockets: list[tuple[str, list[tuple[str, dict[str, Any]]]]] = []
        ctx.on("page", lambda page: page.on("websocket", self._opened))

    def _opened(self, ws: WebSocket) -> None:
        frames: list[tuple[str, dict[str, Any]]] = []
        self.sockets.append((ws.url, frames))
        ws.on("framesent", lambda raw: frames.append((">", json.loads(raw))))
        ws.on("framereceived", lambda raw: frames.append(("<", json.loads(raw))))

    @property
    def urls(self) -> list[str]:
        return [url for url, _ in self.sockets]

    def assert_auth_first(self, token: str) -> None:
        """On every socket that reached the server, the page sent `auth` (with
        the token) first, and nothing more until the server's `hello`. (Attempts
        made while the server was down never open and carry no frames.)"""
        opened = [(url, frames) for url, frames in self.sockets if frames]
        assert len(opened) >= 2, self.sockets  # the first connection and the reconnect
        for url, frames in opened:
            assert frames[0] == (">", {"action": "auth", "token": token}), (url, frames[:3])
            hello = next(i for i, (d, f) in enumerate(frames) if d == "<")
            assert frames[hello][1].get("type") == "hello", (url, frames[: hello + 1])
            assert [d for d, _ in frames[1:hello]] == [], (url, frames[: hello + 1])


async def test_token_never_in_the_websocket_url(
    web: Web, server_factory: Callable[..., Server]
) -> None:
    """Proxies log URLs: the token goes in the first frame (`auth`), on the first
    connection and on every reconnect, never in `/ws?token=...`."""
    alice, bob = await web.user("alice"), await web.user("bob")
    # alice is in #general: joined on registering (as is everyone).
    await web.join(bob, "general")
    ctx = await web.context()
    log = SocketLog(ctx)  # before the page loads: its very first socket counts too
    page = await web.page(alice, channel="general", context=ctx)
    await send(page, "before the restart")
    await expect(message(page, "before the restart")).to_have_attribute("data-state", "sent")

    await restart_while_offline(web, page, server_factory)
    await web.post(bob, "general", "while away")
    await page.context.set_offline(False)
    await expect(page.get_by_test_id("connection-banner")).to_be_hidden()
    await expect(page.get_by_test_id("app")).to_have_attribute("data-connection", "open")
    await expect(message(page, "while away")).to_have_count(1)
    await send(page, "after the restart")
    await expect(message(page, "after the restart")).to_have_attribute("data-state", "sent")
    await web.post(bob, "general", "bob after")
    await expect(message(page, "bob after")).to_have_count(1)

    for url in log.urls:
        assert "token=" not in url, url
        assert alice.token not in url, url
        assert url == web.server.ws_url, url
    log.assert_auth_first(alice.token)
    # The reconnect resumed from the last seq the page had seen.
    _, last = log.sockets[-1]
    subscribes = [f for d, f in last if d == ">" and f.get("action") == "subscribe"]
    assert [(f["channel"], f["since"]) for f in subscribes] == [("general", 1)]
