"""Your own messages never make a channel unread in the web client, whichever
client sent them (another device, a script over REST), and every device and
the server agree on the counts."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from .helpers import Web, channel_item

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_own_messages_from_another_device_are_not_unread(web: Web) -> None:
    alice, bob = await web.user("alice"), await web.user("bob")
    await web.channel(alice, "random")  # both are in #general already
    await web.join(bob, "random")
    tab = await web.page(alice, channel="random")  # alice has the app open elsewhere
    general = channel_item(tab, "general")
    badge = general.get_by_test_id("unread-badge")

    await web.post(bob, "general", "anyone there?")
    await expect(badge).to_have_text("1")

    # Alice answers from her phone: that reads bob's message too, here as well.
    await web.post(alice, "general", "yes, from my phone")
    await expect(badge).to_have_count(0)
    await expect(general).to_have_attribute("data-unread", "0")
    for i in range(3):
        await web.post(alice, "general", f"and more {i}")
    # Bob's next message arrives after all of hers: exactly one unread.
    await web.post(bob, "general", "great")
    await expect(badge).to_have_text("1")
    view = await web.channel_view(alice, "general")
    assert (view["last_read"], view["last_seq"]) == (5, 6)

    # A fresh load (the server's counts) agrees with the live tab.
    tab2 = await web.page(alice, channel="random")
    await expect(channel_item(tab2, "general").get_by_test_id("unread-badge")).to_have_text("1")

    # Messages seeded as alice before she opens the app are not unread either.
    await web.post(alice, "random", "a note")
    for i in range(5):
        await web.post(alice, "general", f"seeded {i}")
    tab3 = await web.page(alice, channel="random")
    for page in (tab, tab2, tab3):
        await expect(channel_item(page, "general")).to_have_attribute("data-unread", "0")
        await expect(channel_item(page, "general").get_by_test_id("unread-badge")).to_have_count(0)
