"""Refused for good: the server will not take this page's connection, and
retrying cannot change that. The web app must say why and stop, not show
"Reconnecting..." for ever (issue #20).

- The page's Origin is not one of the server's (`--public-url`): the handshake
  gets a 403, which a browser reports as a plain 1006. The app learns that the
  server is up from a same-origin `GET /api/me` and, after a few handshakes
  refused while it answers, says the origin is not allowed and stops.
- The token is no longer accepted (close 4001): back to the sign-in screen,
  saying why, with no further attempt.

Handshake attempts are counted with Playwright's `websocket` event, which
fires for every `new WebSocket(...)`, refused or not."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from playwright.async_api import BrowserContext, Page, expect

from support import Server

from .helpers import Web

pytestmark = pytest.mark.asyncio(loop_scope="session")

REFUSALS_FOR_GOOD = 3  # socket.js: refused handshakes (server up) before it stops


class Handshakes:
    """Every WebSocket the page (or the context's pages) opens, by URL."""

    def __init__(self, where: Page | BrowserContext) -> None:
        self.urls: list[str] = []
        self._grew = asyncio.Event()
        if isinstance(where, BrowserContext):
            where.on("page", self._watch)
        else:
            self._watch(where)

    def _watch(self, page: Page) -> None:
        page.on("websocket", lambda ws: self._seen(ws.url))

    def _seen(self, url: str) -> None:
        self.urls.append(url)
        self._grew.set()

    def __len__(self) -> int:
        return len(self.urls)

    async def reach(self, n: int, timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while len(self.urls) < n:
                self._grew.clear()
                await self._grew.wait()


async def test_refused_origin_says_why_and_stops_retrying(
    web: Web, server_factory: Callable[..., Server]
) -> None:
    # The operator gave the proxy's URL, but the page is opened on the node
    # itself: its origin (http://127.0.0.1:PORT) is not this server's.
    web.use(server_factory("--public-url", "https://chat.example.com"))
    alice = await web.user("alice")
    await web.channel(alice, "lobby")
    ctx = await web.context()
    attempts = Handshakes(ctx)  # from the page's very first socket
    page = await web.page(alice, channel="lobby", context=ctx, wait_ready=False)

    banner = page.get_by_test_id("connection-banner")
    await expect(banner).to_have_attribute("data-state", "refused")
    await expect(banner).to_be_visible()
    await expect(banner).to_have_attribute("role", "alert")
    detail = page.get_by_test_id("connection-refused-detail")
    await expect(detail).to_contain_text("Origin not allowed")
    await expect(detail).to_contain_text("--public-url")
    await expect(detail).to_contain_text(web.server.url)  # this page's origin, named
    await expect(banner).not_to_contain_text("Reconnecting")
    await expect(page.get_by_test_id("app")).to_have_attribute("data-connection", "refused")
    assert 1 <= len(attempts) <= REFUSALS_FOR_GOOD, attempts.urls

    # Bounded: no attempt while the page sits there, nor when the network
    # "comes back" or the tab becomes visible (what normally retries at once).
    seen = len(attempts)
    await ctx.set_offline(True)
    await ctx.set_offline(False)
    await page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    await asyncio.sleep(4)
    assert len(attempts) == seen, attempts.urls
    await expect(banner).to_have_attribute("data-state", "refused")

    # "Try again" tries again (the operator may have fixed it), a bounded
    # number of times, and lands on the same reason.
    await page.get_by_test_id("connection-retry").click()
    await expect(page.get_by_test_id("app")).to_have_attribute("data-connection", "refused")
    await expect(page.get_by_test_id("connection-retry")).to_be_visible()
    await asyncio.sleep(1)
    assert seen < len(attempts) <= seen + REFUSALS_FOR_GOOD, attempts.urls
    # The REST side works all along: the app is still signed in.
    await expect(page.get_by_test_id("auth-form")).to_have_count(0)


async def test_transient_failures_keep_retrying_then_connect(
    web: Web, server_factory: Callable[..., Server]
) -> None:
    """The other side of the coin: a server that is down is not a refusal.
    Attempts go on (the probe finds no server) and the page connects as soon
    as the server is back."""
    alice = await web.user("alice")
    await web.channel(alice, "lobby")
    page = await web.page(alice, channel="lobby")
    attempts = Handshakes(page)
    port, data_dir = web.server.port, web.server.data_dir
    web.server.stop()
    app = page.get_by_test_id("app")
    await expect(app).to_have_attribute("data-connection", "reconnecting")
    await attempts.reach(REFUSALS_FOR_GOOD + 1, timeout=10)  # still trying (backoff)
    await expect(app).to_have_attribute("data-connection", "reconnecting")
    # Back while the page is offline; back online, it retries at once.
    await page.context.set_offline(True)
    web.use(server_factory(data_dir=data_dir, port=port))
    await page.context.set_offline(False)
    await expect(app).to_have_attribute("data-connection", "open")
    await expect(page.get_by_test_id("connection-banner")).to_be_hidden()


async def test_expired_token_goes_to_login_saying_why_and_stops(
    web: Web, server_factory: Callable[..., Server]
) -> None:
    ttl = 6.0  # long enough for the page to load and connect first
    web.use(server_factory("--limit", f"token_ttl={ttl:g}"))
    alice = await web.user("alice")
    expires = time.monotonic() + ttl
    await web.channel(alice, "lobby")
    page = await web.page(alice, channel="lobby")
    attempts = Handshakes(page)

    # The server restarts (same data, same secret) once the token has expired,
    # while the page is kept offline; back online, it reconnects at once and
    # its `auth` frame is answered with close 4001 "token expired".
    port, data_dir = web.server.port, web.server.data_dir
    web.server.stop()
    await expect(page.get_by_test_id("app")).to_have_attribute("data-connection", "reconnecting")
    await page.context.set_offline(True)
    await asyncio.sleep(max(0.0, expires - time.monotonic()) + 0.5)
    web.use(server_factory("--limit", f"token_ttl={ttl:g}", data_dir=data_dir, port=port))
    before = len(attempts)
    await page.context.set_offline(False)

    await expect(page.get_by_test_id("auth-form")).to_be_visible()
    await expect(page.get_by_test_id("auth-error")).to_have_text(
        "Your session expired. Please sign in again."
    )
    assert await page.evaluate("sessionStorage.getItem('hubbub.token')") is None
    after = len(attempts)
    assert after - before <= 2, attempts.urls  # the one told 4001 (and one that was offline)
    await asyncio.sleep(3)
    assert len(attempts) == after, attempts.urls  # and none since
