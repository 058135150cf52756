"""Your own messages never make a channel unread in the web client, whichever
client sent them (another device, a script over REST), and every device and
the server agree on the counts."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from .helpers import Web, channel_item, message

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


async def test_edits_deletes_and_reactions_are_never_unread(web: Web) -> None:
    alice, bob = await web.user("alice"), await web.user("bob")
    await web.channel(alice, "random")
    await web.join(bob, "random")
    seqs = [(await web.post(bob, "general", f"note {i}"))["seq"] for i in range(3)]
    tab = await web.page(alice, channel="general")  # she reads them
    await expect(message(tab, "note 2")).to_be_visible()
    general = channel_item(tab, "general")
    await expect(general).to_have_attribute("data-unread", "0")
    await channel_item(tab, "random").click()

    # Bob changes what she has read, and reacts to it: nothing new for her.
    await web.edit(bob, "general", seqs[0], "note 0, @alice fixed")
    await web.react(bob, "general", seqs[1], ":eyes:")
    await web.delete(bob, "general", seqs[2])
    await web.react(alice, "general", seqs[0], ":+1:")  # her own, from elsewhere
    await web.post(bob, "random", "over here")  # a live marker: the changes came before
    await expect(message(tab, "over here")).to_have_count(1)
    await expect(general).to_have_attribute("data-unread", "0")
    await expect(general.get_by_test_id("unread-badge")).to_have_count(0)
    await expect(general.get_by_test_id("mention-badge")).to_have_count(0)
    view = await web.channel_view(alice, "general")
    assert (view["unread"], view["mentions"]) == (0, 0)
    assert view["last_seq"] > view["last_read"]  # the changes took seqs, and read none

    # One new message is one unread, however much changes around it.
    new = await web.post(bob, "general", "a new one")
    await expect(general.get_by_test_id("unread-badge")).to_have_text("1")
    await web.react(bob, "general", new["seq"], ":tada:")
    await web.edit(bob, "general", new["seq"], "a new one, @alice")
    await expect(general.get_by_test_id("mention-badge")).to_have_text("@1")
    await expect(general).to_have_attribute("data-unread", "1")
    fresh = await web.page(alice, channel="random")  # the server's counts agree
    await expect(channel_item(fresh, "general")).to_have_attribute("data-unread", "1")
    await expect(channel_item(fresh, "general").get_by_test_id("mention-badge")).to_have_text("@1")

    # Deleted before she looked: nothing left to read, on either tab.
    await web.delete(bob, "general", new["seq"])
    for page in (tab, fresh):
        await expect(channel_item(page, "general")).to_have_attribute("data-unread", "0")
        await expect(channel_item(page, "general").get_by_test_id("mention-badge")).to_have_count(0)
