"""Pins in the web app (issue #14): "Pin to channel" / "Unpin" among a
message's actions, "📌 Pinned by X" on a pinned message, live for everyone in
the channel, and the channel's pinned list (the header's button, the
channel's details), whose items show the message: scrolled to (older pages
fetched to reach it) or, for a reply, in its thread."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from .helpers import (
    User,
    Web,
    channel_messages,
    message,
    message_at,
    message_in,
    send,
    thread_panel,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def two_in_general(web: Web) -> tuple[User, User, Page, Page]:
    """Alice and Bob, each with #general open (everyone is in it)."""
    alice = await web.user("alice", "Alice Chen")
    bob = await web.user("bob", "Bob Martin")
    pa = await web.page(alice, channel="general")
    pb = await web.page(bob, channel="general")
    return alice, bob, pa, pb


async def test_pin_shows_live_and_in_the_pinned_list_until_unpinned(web: Web) -> None:
    alice, bob, pa, pb = await two_in_general(web)
    await send(pa, "Deploy checklist: tag, build, canary, roll out")
    await send(pa, "and not on Fridays")
    mine = message(pa, "Deploy checklist: tag, build, canary, roll out")
    await expect(mine).to_have_attribute("data-state", "sent")
    seq = int(await mine.get_attribute("data-seq") or 0)
    theirs = message_at(pb, seq)
    # Both messages in Bob's list before he points at one: the second arriving
    # after the hover scrolls the list under the pointer, and the first's
    # actions (shown on hover only) would then be out of reach.
    await expect(message(pb, "and not on Fridays")).to_be_visible()

    # Anyone may pin (as in Slack): Bob pins Alice's message.
    await theirs.hover()
    pin = theirs.get_by_test_id("action-pin")
    await expect(pin).to_have_attribute("title", "Pin to channel")
    await pin.click()
    await expect(theirs.get_by_test_id("message-pinned")).to_have_text("📌Pinned by you")
    await expect(mine.get_by_test_id("message-pinned")).to_have_text("📌Pinned by Bob Martin")
    await expect(mine).to_have_attribute("data-pinned", "true")
    await expect(message(pa, "and not on Fridays").get_by_test_id("message-pinned")).to_have_count(
        0
    )
    await mine.hover()
    await expect(mine.get_by_test_id("action-pin")).to_have_attribute("title", "Unpin")
    [stored] = await web.pins(alice, "general")
    assert (stored["seq"], stored["pinned_by"]) == (seq, "bob")

    # The header's "Pinned" list has it; a click shows the message.
    await pa.get_by_test_id("pins-button").click()
    dialog = pa.get_by_test_id("pins-dialog")
    item = dialog.get_by_test_id("pinned-item")
    await expect(item).to_have_count(1)
    await expect(item.get_by_test_id("pinned-text")).to_have_text(
        "Deploy checklist: tag, build, canary, roll out"
    )
    await expect(item.get_by_test_id("pinned-by")).to_have_text("📌 Pinned by Bob Martin")
    await item.click()
    await expect(dialog).to_have_count(0)
    await expect(mine).to_be_in_viewport()
    await expect(mine).to_be_focused()

    # So do the channel's details.
    await pb.get_by_test_id("member-count").click()
    details = pb.get_by_test_id("details-dialog")
    await expect(details.get_by_test_id("pinned-item")).to_have_count(1)
    await expect(details.get_by_test_id("pinned-by")).to_have_text("📌 Pinned by you")
    await details.get_by_test_id("dialog-close").click()
    await expect(details).to_have_count(0)

    # Alice unpins it: gone for both, and from the list.
    await mine.hover()
    await mine.get_by_test_id("action-pin").click()
    await expect(theirs.get_by_test_id("message-pinned")).to_have_count(0)
    await expect(mine.get_by_test_id("message-pinned")).to_have_count(0)
    await expect(theirs).not_to_have_attribute("data-pinned", "true")
    await pb.get_by_test_id("pins-button").click()
    dialog = pb.get_by_test_id("pins-dialog")
    await expect(dialog.get_by_test_id("pinned-empty")).to_be_visible()
    await expect(dialog.get_by_test_id("pinned-item")).to_have_count(0)
    assert await web.pins(bob, "general") == []
    # Pinning changes nothing unread.
    await expect(
        pb.locator('[data-testid="channel-item"][data-channel="general"]')
    ).to_have_attribute("data-unread", "0")


async def test_the_pinned_list_reaches_older_messages_and_replies(web: Web) -> None:
    alice = await web.user("alice", "Alice Chen")
    bob = await web.user("bob", "Bob Martin")
    old = (await web.post(alice, "general", "The <b>oncall</b> rota is in the wiki"))["seq"]
    for i in range(70):
        await web.post(bob, "general", f"chatter {i}")
    root = (await web.post(alice, "general", "Which port does staging use?"))["seq"]
    answer = (await web.reply(bob, "general", root, "8443, behind the proxy"))["seq"]
    await web.pin(bob, "general", old)
    await web.pin(alice, "general", answer)
    await web.call("POST", "/api/channels/general/read", alice, {"seq": 1000})

    pa = await web.page(alice, channel="general")
    await expect(message_at(pa, root)).to_be_visible()
    await expect(message_at(pa, old)).to_have_count(0)  # not in the newest page
    await pa.get_by_test_id("pins-button").click()
    items = pa.get_by_test_id("pins-dialog").get_by_test_id("pinned-item")
    await expect(items).to_have_count(2)
    # The most recently pinned first; text stays text.
    await expect(items.nth(0).get_by_test_id("pinned-by")).to_have_text(
        "📌 Pinned by you · in a thread"
    )
    await expect(items.nth(1).get_by_test_id("pinned-text")).to_have_text(
        "The <b>oncall</b> rota is in the wiki"
    )
    await expect(pa.get_by_test_id("pins-dialog").locator("b")).to_have_count(0)

    # An old one: the pages before are fetched until it is there.
    await items.nth(1).click()
    shown = message_at(pa, old)
    await expect(shown).to_be_in_viewport()
    await expect(shown.get_by_test_id("message-pinned")).to_have_text("📌Pinned by Bob Martin")
    await expect(shown.get_by_test_id("message-text")).to_have_text(
        "The <b>oncall</b> rota is in the wiki"
    )

    # A reply kept in its thread: the thread opens.
    await pa.get_by_test_id("pins-button").click()
    await pa.get_by_test_id("pins-dialog").get_by_test_id("pinned-item").nth(0).click()
    panel = thread_panel(pa)
    reply = message_in(panel, "8443, behind the proxy")
    await expect(reply).to_be_visible()
    await expect(reply.get_by_test_id("message-pinned")).to_have_text("📌Pinned by you")
    assert await message_in(channel_messages(pa), "8443, behind the proxy").count() == 0

    # Unpinned from the panel: off the channel's list too.
    await reply.hover()
    await reply.get_by_test_id("action-pin").click()
    await expect(reply.get_by_test_id("message-pinned")).to_have_count(0)
    assert [m["seq"] for m in await web.pins(bob, "general")] == [old]
    assert web.dialogs == []
