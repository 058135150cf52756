"""Helpers for the browser tests: users and channels over REST, signed-in
pages, and locators for the web client's data-testid hooks."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from playwright.async_api import (
    Browser,
    BrowserContext,
    Dialog,
    Locator,
    Page,
    WebSocketRoute,
    expect,
)

from support import Server, online

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 10_000
PASSWORD = "correct horse battery"

expect.set_options(timeout=TIMEOUT_MS)


@dataclass
class User:
    username: str
    token: str
    display_name: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Web:
    """Users and channels over REST, and signed-in browser pages."""

    def __init__(self, browser: Browser, server: Server, http: httpx.AsyncClient) -> None:
        self.browser = browser
        self.server = server
        self.http = http
        self.contexts: list[BrowserContext] = []
        self.page_errors: list[str] = []
        self.dialogs: list[str] = []

    def use(self, server: Server) -> None:
        """Point the helpers (and new pages) at another server."""
        self.server = server
        self.http.base_url = httpx.URL(server.url)

    # --- REST ---------------------------------------------------------------------

    async def user(self, username: str, display_name: str | None = None) -> User:
        body = {"username": username, "password": PASSWORD}
        if display_name:
            body["display_name"] = display_name
        r = await self.http.post("/api/auth/register", json=body)
        assert r.status_code == 201, r.text
        data = r.json()
        return User(username, data["token"], data["user"]["display_name"])

    async def call(self, method: str, path: str, user: User, body: Any = None) -> Any:
        r = await self.http.request(method, path, json=body, headers=user.headers)
        assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text}"
        return r.json()

    async def channel(
        self, user: User, name: str, *, private: bool = False, topic: str = ""
    ) -> Any:
        body = {"name": name, "private": private, "topic": topic}
        return await self.call("POST", "/api/channels", user, body)

    async def join(self, user: User, name: str) -> Any:
        return await self.call("POST", f"/api/channels/{name}/join", user)

    async def post(self, user: User, channel: str, text: str) -> Any:
        cid = f"t-{os.urandom(6).hex()}"
        body = {"text": text, "client_id": cid}
        return await self.call("POST", f"/api/channels/{channel}/messages", user, body)

    async def history(self, user: User, channel: str) -> list[dict[str, Any]]:
        """Every stored message of `channel`, oldest first."""
        out: list[dict[str, Any]] = []
        after = 0
        while True:
            page = await self.call(
                "GET", f"/api/channels/{channel}/messages?after={after}&limit=200", user
            )
            out += page["messages"]
            if not page["has_more"]:
                return out
            after = out[-1]["seq"]

    async def channel_view(self, user: User, name: str) -> Any:
        return await self.call("GET", f"/api/channels/{name}", user)

    # --- files (REST, as the web app uploads) --------------------------------------------

    async def upload(self, user: User, channel: str, name: str, data: bytes) -> Any:
        """Upload one file to `channel` (`POST /api/files`); its FileOut."""
        r = await self.http.post(
            "/api/files",
            headers=user.headers,
            data={"channel": channel},
            files={"file": (name, data)},
        )
        assert r.status_code == 201, r.text
        files = r.json()  # a list, in the order sent
        assert isinstance(files, list) and len(files) == 1, files
        return files[0]

    async def post_files(self, user: User, channel: str, text: str, ids: list[str]) -> Any:
        """A message with the files `ids` (uploaded by `user` to `channel`)."""
        body = {"text": text, "client_id": f"t-{os.urandom(6).hex()}", "files": ids}
        return await self.call("POST", f"/api/channels/{channel}/messages", user, body)

    # --- message changes (over a WebSocket of the user's own) ------------------------

    async def change(self, user: User, action: str, channel: str, seq: int, **fields: Any) -> Any:
        """`edit`, `delete`, `react` or `unreact` message `seq` as `user`; the `changed` answer."""
        async with online(self.server, user.token) as ws:
            reply = await ws.request({"action": action, "channel": channel, "seq": seq, **fields})
        assert reply["type"] == "changed", reply
        return reply

    async def edit(self, user: User, channel: str, seq: int, text: str) -> Any:
        return await self.change(user, "edit", channel, seq, text=text)

    async def delete(self, user: User, channel: str, seq: int) -> Any:
        return await self.change(user, "delete", channel, seq)

    async def react(self, user: User, channel: str, seq: int, emoji: str) -> Any:
        return await self.change(user, "react", channel, seq, emoji=emoji)

    async def unreact(self, user: User, channel: str, seq: int, emoji: str) -> Any:
        return await self.change(user, "unreact", channel, seq, emoji=emoji)

    # --- threads and pins (REST) -------------------------------------------------------

    async def reply(
        self, user: User, channel: str, root: int, text: str, *, broadcast: bool = False
    ) -> Any:
        """A reply in the thread of message `root` (`broadcast`: also in the channel)."""
        cid = f"t-{os.urandom(6).hex()}"
        body = {"text": text, "client_id": cid, "thread_root": root, "broadcast": broadcast}
        return await self.call("POST", f"/api/channels/{channel}/messages", user, body)

    async def thread(self, user: User, channel: str, root: int) -> Any:
        """The thread of `root`: its root and newest page of replies (newest first)."""
        return await self.call("GET", f"/api/channels/{channel}/messages/{root}/thread", user)

    async def threads(self, user: User) -> list[dict[str, Any]]:
        """The threads `user` follows, the latest reply first."""
        threads: list[dict[str, Any]] = (await self.call("GET", "/api/threads", user))["threads"]
        return threads

    async def pin(self, user: User, channel: str, seq: int) -> Any:
        return await self.call("PUT", f"/api/channels/{channel}/messages/{seq}/pin", user)

    async def unpin(self, user: User, channel: str, seq: int) -> Any:
        return await self.call("DELETE", f"/api/channels/{channel}/messages/{seq}/pin", user)

    async def pins(self, user: User, channel: str) -> list[dict[str, Any]]:
        pinned: list[dict[str, Any]] = (
            await self.call("GET", f"/api/channels/{channel}/pins", user)
        )["messages"]
        return pinned

    # --- browser --------------------------------------------------------------------

    async def context(
        self,
        *,
        width: int = 1280,
        height: int = 800,
        color_scheme: str | None = None,
    ) -> BrowserContext:
        ctx = await self.browser.new_context(
            viewport={"width": width, "height": height},
            color_scheme=color_scheme,  # type: ignore[arg-type]
        )
        ctx.set_default_timeout(TIMEOUT_MS)
        ctx.set_default_navigation_timeout(TIMEOUT_MS)
        self.contexts.append(ctx)
        return ctx

    async def touch_context(self, *, width: int = 390, height: int = 780) -> BrowserContext:
        """A phone: a small touch screen (`pointer: coarse`), no mouse."""
        ctx = await self.browser.new_context(
            viewport={"width": width, "height": height}, has_touch=True, is_mobile=True
        )
        ctx.set_default_timeout(TIMEOUT_MS)
        ctx.set_default_navigation_timeout(TIMEOUT_MS)
        self.contexts.append(ctx)
        return ctx

    async def page(
        self,
        user: User | None = None,
        *,
        channel: str | None = None,
        query: str = "",
        width: int = 1280,
        height: int = 800,
        color_scheme: str | None = None,
        ws_handler: Callable[[WebSocketRoute], Any] | None = None,
        context: BrowserContext | None = None,
        wait_ready: bool = True,
    ) -> Page:
        """A tab (signed in as `user`, with the token in sessionStorage as after a
        login) showing `channel`; it returns once the app is connected (unless
        `wait_ready` is false: once the page has loaded)."""
        ctx = context or await self.context(width=width, height=height, color_scheme=color_scheme)
        page = await ctx.new_page()
        page.on("pageerror", lambda e: self.page_errors.append(str(e)))

        async def on_dialog(dialog: Dialog) -> None:
            self.dialogs.append(dialog.message)
            await dialog.dismiss()

        page.on("dialog", on_dialog)
        if ws_handler is not None:
            await page.route_web_socket(re.compile(r"/ws(\?|$)"), ws_handler)
        if user is not None:
            # Seed the tab's session once, as the login form would.
            await page.add_init_script(
                "if (!sessionStorage.getItem('hubbub.seeded')) {"
                f"sessionStorage.setItem('hubbub.token', {json.dumps(user.token)});"
                "sessionStorage.setItem('hubbub.seeded', '1'); }"
            )
        url = f"{self.server.url}/{query}"
        if channel:
            url += f"#/c/{channel}"
        await page.goto(url)
        if user is not None and wait_ready:
            await self.ready(page)
            if channel:
                await expect(page.get_by_test_id("channel-title")).to_have_text(
                    re.compile(re.escape(channel.removeprefix("dm:")))
                )
        return page

    @staticmethod
    async def ready(page: Page) -> None:
        app = page.get_by_test_id("app")
        await expect(app).to_have_attribute("data-ready", "true")
        await expect(app).to_have_attribute("data-connection", "open")

    async def close(self) -> None:
        for ctx in self.contexts:
            await ctx.close()

    # --- accounts and administration (REST) -------------------------------------------

    async def login(self, username: str, password: str = PASSWORD) -> User:
        """Log in again: a new session of `username`'s (another device), its token."""
        r = await self.http.post(
            "/api/auth/login", json={"username": username, "password": password}
        )
        assert r.status_code == 200, r.text
        data = r.json()
        return User(username, data["token"], data["user"]["display_name"])

    async def invite(
        self,
        user: User,
        *,
        channels: tuple[str, ...] = (),
        role: str = "member",
        max_uses: int = 1,
    ) -> Any:
        """A new invite link (`code`, `path`, ...) made by `user` (an admin)."""
        body = {"channels": list(channels), "role": role, "max_uses": max_uses}
        r = await self.http.post("/api/invites", json=body, headers=user.headers)
        assert r.status_code == 201, r.text
        return r.json()

    async def me_status(self, user: User) -> int:
        """The status of `GET /api/me` with `user`'s token (401 once it is refused)."""
        return (await self.http.get("/api/me", headers=user.headers)).status_code


# --- locators shared by the tests ------------------------------------------------------


def message(page: Page, text: str) -> Locator:
    """The message whose whole text is `text`."""
    body = page.get_by_test_id("message-text").filter(has_text=re.compile(f"^{re.escape(text)}$"))
    return page.get_by_test_id("message").filter(has=body)


def channel_item(page: Page, name: str) -> Locator:
    return page.locator(f'[data-testid="channel-item"][data-channel="{name}"]')


async def send(page: Page, text: str) -> None:
    composer = page.get_by_test_id("composer")
    await composer.fill(text)
    await composer.press("Enter")


def member_event(page: Page, text: str) -> Locator:
    """The "X joined #c" / "X left #c" line whose whole text is `text`."""
    line = page.get_by_test_id("member-event-text").filter(
        has_text=re.compile(f"^{re.escape(text)}$")
    )
    return page.get_by_test_id("member-event").filter(has=line)


def message_at(page: Page, seq: int) -> Locator:
    """The message whose seq is `seq` (whatever its text now)."""
    return page.locator(f'[data-testid="message"][data-seq="{seq}"]')


def reaction(msg: Locator, emoji: str) -> Locator:
    """The reaction chip for `emoji` under the message `msg`."""
    return msg.locator(f'[data-testid="reaction"][data-emoji="{emoji}"]')


# --- threads and pins -------------------------------------------------------------------


def channel_messages(page: Page) -> Locator:
    """The open channel's message list (not the thread panel)."""
    return page.get_by_test_id("message-list")


def thread_panel(page: Page) -> Locator:
    return page.get_by_test_id("thread-panel")


def message_in(scope: Locator, text: str) -> Locator:
    """The message whose whole text is `text`, inside `scope` (a list, the panel)."""
    # `has` is relative to each message: built from the page, not from `scope`.
    text_re = re.compile(f"^{re.escape(text)}$")
    body = scope.page.get_by_test_id("message-text").filter(has_text=text_re)
    return scope.get_by_test_id("message").filter(has=body)


async def open_thread(page: Page, msg: Locator) -> Locator:
    """Open `msg`'s thread from its "Reply in thread" action; the panel."""
    await msg.hover()
    await msg.get_by_test_id("action-reply").click()
    panel = thread_panel(page)
    await expect(panel).to_be_visible()
    return panel


async def send_reply(page: Page, text: str, *, broadcast: bool = False) -> None:
    """Type `text` in the thread panel's composer (ticking "Also send to") and press Enter."""
    panel = thread_panel(page)
    if broadcast:
        await panel.get_by_test_id("thread-broadcast").check()
    composer = panel.get_by_test_id("thread-composer")
    await composer.fill(text)
    await composer.press("Enter")


# --- accounts and administration ----------------------------------------------------------


async def menu(page: Page, item: str) -> None:
    """Pick `item` ("account", "admin", "signout") from your menu (the sidebar's foot)."""
    await page.get_by_test_id("user-menu").click()
    await page.get_by_test_id(f"menu-{item}").click()


async def open_account(page: Page) -> Locator:
    await menu(page, "account")
    dialog = page.get_by_test_id("account-dialog")
    await expect(dialog).to_be_visible()
    return dialog


async def open_admin(page: Page, tab: str = "members") -> Locator:
    """The administration dialog, on `tab` ("members", "invites", "audit")."""
    await menu(page, "admin")
    dialog = page.get_by_test_id("admin-dialog")
    await expect(dialog).to_be_visible()
    if tab != "members":
        await dialog.get_by_test_id(f"admin-tab-{tab}").click()
    await expect(dialog.get_by_test_id("admin-panel")).to_have_attribute("data-tab", tab)
    return dialog


def admin_member(scope: Page | Locator, username: str) -> Locator:
    """`username`'s row in the administration's member list."""
    return scope.locator(f'[data-testid="admin-member"][data-username="{username}"]')


async def expect_signed_out(page: Page, reason: str | re.Pattern[str]) -> None:
    """The tab is back on the sign-in screen, saying `reason` (a part of it),
    and has forgotten its token."""
    await expect(page.get_by_test_id("auth-form")).to_be_visible()
    await expect(page.get_by_test_id("auth-error")).to_contain_text(reason)
    assert await page.evaluate("sessionStorage.getItem('hubbub.token')") is None


async def fill_sign_up(
    page: Page, username: str, display_name: str | None = None, password: str = PASSWORD
) -> None:
    """Fill in and send the sign-up form (already showing)."""
    await expect(page.get_by_test_id("auth-form")).to_have_attribute("data-mode", "register")
    await page.get_by_test_id("auth-username").fill(username)
    if display_name:
        await page.get_by_test_id("auth-display-name").fill(display_name)
    await page.get_by_test_id("auth-password").fill(password)
    await page.get_by_test_id("auth-submit").click()
