"""Desktop notifications in the web app (issue #17), in real Chromium against a
real server: with the permission granted to the test's browser context, a
mention while the tab is hidden shows one notification (its title and body
checked), a muted channel (muted from the channel's menu) and do-not-disturb
(from the user menu) show none, and clicking one opens the channel at that
message. The prompt that asks for the permission never asks by itself.

`window.Notification` is wrapped by an init script that records what is shown
(and calls the real one), and the page is made "hidden" by overriding
`document.visibilityState` / `hidden` and dispatching `visibilitychange`."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page, expect

from .helpers import TIMEOUT_MS, Web, channel_item, message_at

pytestmark = pytest.mark.asyncio(loop_scope="session")

RECORD = """
(() => {
  const Real = window.Notification;
  const shown = [];
  window.__shown = shown;
  // A subclass: the real constructor runs (the permission check included),
  // and statics (permission, requestPermission) are inherited.
  class Recorded extends Real {
    constructor(title, options = {}) {
      super(title, options);
      shown.push({ title, body: options.body, tag: options.tag, n: this });
    }
  }
  window.Notification = Recorded;
  let hidden = false;
  Object.defineProperty(Document.prototype, "visibilityState", {
    configurable: true,
    get: () => (hidden ? "hidden" : "visible"),
  });
  Object.defineProperty(Document.prototype, "hidden", { configurable: true, get: () => hidden });
  window.__setHidden = (value) => {
    hidden = value;
    document.dispatchEvent(new Event("visibilitychange"));
  };
})();
"""


async def context(web: Web, *, granted: bool) -> BrowserContext:
    ctx = await web.browser.new_context(
        viewport={"width": 1280, "height": 800},
        permissions=["notifications"] if granted else [],
    )
    ctx.set_default_timeout(TIMEOUT_MS)
    web.contexts.append(ctx)
    await ctx.add_init_script(RECORD)
    return ctx


async def shown(page: Page) -> list[dict[str, Any]]:
    return await page.evaluate(  # type: ignore[no-any-return]
        "window.__shown.map(({ title, body, tag }) => ({ title, body, tag }))"
    )


async def shown_count(page: Page, n: int) -> None:
    """Wait (bounded) until `n` notifications were shown. Polled through
    `evaluate`: `wait_for_function` evaluates a string in the page, which the
    app's Content-Security-Policy (no `unsafe-eval`) refuses."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while (count := await page.evaluate("window.__shown.length")) != n:
        assert count < n, f"{count} notifications shown, expected {n}"
        assert time.monotonic() < deadline, f"{count} notifications shown, expected {n}"
        await asyncio.sleep(0.05)


async def test_a_mention_while_hidden_notifies_a_muted_channel_does_not_and_a_click_opens_it(
    web: Web,
) -> None:
    alice = await web.user("alice", "Alice Chen")
    bob = await web.user("bob", "Bob Martin")
    await web.join(bob, "general")
    await web.channel(bob, "quiet")
    await web.call("POST", "/api/channels/quiet/invite", bob, {"username": "alice"})
    ctx = await context(web, granted=True)
    page = await web.page(alice, channel="quiet", context=ctx)
    # Permission granted already: no prompt.
    await expect(page.get_by_test_id("notify-prompt")).to_be_hidden()

    # Mute #quiet from its header menu: stored on the server, dimmed in the sidebar.
    await page.get_by_test_id("channel-notify-button").click()
    dialog = page.get_by_test_id("channel-notifications")
    await dialog.get_by_test_id("notify-mute").check()
    await expect(channel_item(page, "quiet")).to_have_attribute("data-muted", "true")
    await expect(channel_item(page, "quiet")).to_have_class(re.compile(r"\bmuted\b"))
    await dialog.get_by_test_id("dialog-close").click()
    view = await web.channel_view(alice, "quiet")
    assert (view["notify"], view["muted"]) == ("mentions", True)

    # Visible: nothing is shown, whatever comes.
    await web.post(bob, "general", "@alice while you look")
    await expect(channel_item(page, "general")).to_have_attribute("data-unread", "1")
    assert await shown(page) == []

    await page.evaluate("window.__setHidden(true)")
    target = await web.post(bob, "general", "@alice the deploy is blocked")
    await shown_count(page, 1)
    assert await shown(page) == [
        {
            "title": "Bob Martin in #general",
            "body": "@alice the deploy is blocked",
            "tag": f"general:{target['seq']}",
        }
    ]
    # Not mentioned (level `mentions`): none.
    await web.post(bob, "general", "just chatting")
    # Muted: none, even for a mention. The unread count moving says the page
    # has handled the message.
    await web.post(bob, "quiet", "@alice you will not hear this")
    await expect(channel_item(page, "quiet")).to_have_attribute("data-unread", "1")
    await expect(channel_item(page, "general")).to_have_attribute("data-unread", "3")
    assert len(await shown(page)) == 1

    # A DM is always worth a notification.
    dm = await web.call("POST", "/api/dms", bob, {"usernames": ["alice"]})
    await expect(channel_item(page, dm["name"])).to_have_count(1)
    await web.post(bob, dm["name"], "psst, got a minute?")
    await shown_count(page, 2)
    assert (await shown(page))[1]["title"] == "Bob Martin"
    assert (await shown(page))[1]["body"] == "psst, got a minute?"

    # The click: the window comes back and the channel opens at that message.
    await page.evaluate("window.__setHidden(false)")
    await page.evaluate("window.__shown[0].n.onclick()")
    await expect(page.get_by_test_id("channel-title")).to_have_text(re.compile("general"))
    jumped = message_at(page, target["seq"])
    await expect(jumped).to_be_in_viewport()
    await expect(jumped).to_have_class(re.compile(r"\bjumped\b"))


async def test_do_not_disturb_from_the_user_menu_silences_and_shows_that_it_is_on(
    web: Web,
) -> None:
    alice = await web.user("alice", "Alice Chen")
    bob = await web.user("bob", "Bob Martin")
    await web.join(bob, "general")
    ctx = await context(web, granted=True)
    page = await web.page(alice, channel="general", context=ctx)
    other = await web.page(alice, channel="general")  # another tab of hers
    indicator = page.get_by_test_id("dnd-indicator")
    await expect(indicator).to_be_hidden()

    await page.get_by_test_id("user-menu").click()
    await page.get_by_test_id("menu-dnd").click()
    dialog = page.get_by_test_id("dnd-dialog")
    await dialog.get_by_test_id("dnd-1h").click()
    await expect(dialog.get_by_test_id("dnd-state")).to_have_text(re.compile("paused until"))
    await expect(indicator).to_be_visible()
    # Stored on the server, and pushed to her other tab at once.
    await expect(other.get_by_test_id("dnd-indicator")).to_be_visible()
    assert (await web.call("GET", "/api/notifications", alice))["dnd"] is True

    await page.evaluate("window.__setHidden(true)")
    await web.post(bob, "general", "@alice are you there?")
    await expect(channel_item(page, "general")).to_have_attribute("data-unread", "1")
    assert await shown(page) == []

    await dialog.get_by_test_id("dnd-off").click()
    await expect(indicator).to_be_hidden()
    await expect(other.get_by_test_id("dnd-indicator")).to_be_hidden()
    await web.post(bob, "general", "@alice now?")
    await shown_count(page, 1)
    assert (await shown(page))[0]["body"] == "@alice now?"


# Headless Chromium cannot show its permission prompt (an unasked permission
# reads "denied"): this stands in for it, as a user who has not been asked
# yet and says "Allow" when asked. Each ask is counted.
UNASKED = """
(() => {
  let state = "default";
  window.__asked = 0;
  Object.defineProperty(window.Notification, "permission", {
    configurable: true,
    get: () => state,
  });
  window.Notification.requestPermission = async () => {
    window.__asked++;
    state = "granted";
    return state;
  };
})();
"""


async def test_the_permission_is_asked_only_from_the_prompt(web: Web) -> None:
    alice = await web.user("alice", "Alice Chen")
    ctx = await context(web, granted=True)
    await ctx.add_init_script(UNASKED)
    page = await web.page(alice, channel="general", context=ctx)
    prompt = page.get_by_test_id("notify-prompt")
    await expect(prompt).to_be_visible()
    # Loading the page asked nothing.
    assert await page.evaluate("window.__asked") == 0
    await prompt.get_by_test_id("notify-enable").click()
    await expect(prompt).to_be_hidden()
    assert await page.evaluate("window.__asked") == 1

    # "Not now" hides it, and is remembered on this browser.
    other = await context(web, granted=True)
    await other.add_init_script(UNASKED)
    page = await web.page(alice, channel="general", context=other)
    prompt = page.get_by_test_id("notify-prompt")
    await prompt.get_by_test_id("notify-dismiss").click()
    await expect(prompt).to_be_hidden()
    await page.reload()
    await web.ready(page)
    await expect(prompt).to_be_hidden()
    assert await page.evaluate("window.__asked") == 0
