"""Scrolling back through history, and Esc to mark a channel read."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from .helpers import Web, channel_item, message

pytestmark = pytest.mark.asyncio(loop_scope="session")

COUNT = 120


async def test_scroll_back_loads_older_messages_once_each(web: Web) -> None:
    alice, bob = await web.user("alice"), await web.user("bob")
    # alice is in #general: joined on registering (as is everyone).
    await web.join(bob, "general")
    for i in range(COUNT):
        await web.post(alice, "general", f"history {i:03d}")
    # Read up to date: a channel with unread messages opens at the first of them.
    await web.call("POST", "/api/channels/general/read", bob, {"seq": COUNT})

    page = await web.page(bob, channel="general")
    items = page.get_by_test_id("message")
    await expect(message(page, f"history {COUNT - 1:03d}")).to_be_in_viewport()
    first_page = await items.count()
    assert first_page < COUNT  # paged, not everything at once

    # Scroll to the top until the channel's first message is there.
    listing = page.get_by_test_id("message-list")
    start = page.get_by_test_id("channel-start")
    for _ in range(COUNT // 10):
        if await start.count():
            break
        before = await items.count()
        top = await items.first.get_attribute("data-seq")
        await listing.evaluate("el => { el.scrollTop = 0; }")
        await page.wait_for_function(
            "([n]) => document.querySelectorAll('[data-testid=message]').length > n",
            arg=[before],
        )
        # Older messages went in above without moving what the reader sees.
        await expect(page.locator(f'[data-testid="message"][data-seq="{top}"]')).to_be_in_viewport()
    await expect(start).to_have_count(1)
    await listing.evaluate("el => { el.scrollTop = 0; }")
    await expect(start).to_be_in_viewport()
    await expect(message(page, "history 000")).to_be_in_viewport()
    await expect(message(page, f"history {COUNT - 1:03d}")).not_to_be_in_viewport()

    texts = await page.get_by_test_id("message-text").all_text_contents()
    assert texts == [f"history {i:03d}" for i in range(COUNT)]  # in order, none twice
    seqs = await items.evaluate_all("els => els.map(e => Number(e.dataset.seq))")
    assert seqs == list(range(1, COUNT + 1))

    # Scrolled up, a new message is unread even in the open channel...
    await web.post(alice, "general", "while bob reads old stuff")
    general = channel_item(page, "general")
    await expect(general.get_by_test_id("unread-badge")).to_have_text("1")
    await expect(page.get_by_test_id("jump-latest")).to_be_visible()
    # ...until Esc marks the channel read (on the server too).
    await page.keyboard.press("Escape")
    await expect(general.get_by_test_id("unread-badge")).to_have_count(0)
    await expect(general).to_have_attribute("data-server-read", str(COUNT + 1))
    view = await web.channel_view(bob, "general")
    assert view["last_read"] == view["last_seq"] == COUNT + 1
    assert await page.get_by_test_id("message").count() == COUNT + 1
