"""The web client as two or more people use it: sign-up and log-in, channels,
DMs, presence, typing, unread and mention badges, keyboard and phone layout."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.async_api import expect

from support import Server

from .helpers import PASSWORD, Web, channel_item, message, send

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_two_users_chat_in_a_channel(web: Web) -> None:
    # Alice signs up in the browser and creates a channel from the sidebar.
    alice = await web.page()
    await alice.get_by_test_id("auth-toggle").click()
    await alice.get_by_test_id("auth-username").fill("alice")
    await alice.get_by_test_id("auth-display-name").fill("Alice Chen")
    await alice.get_by_test_id("auth-password").fill(PASSWORD)
    await alice.get_by_test_id("auth-submit").click()
    await web.ready(alice)
    await expect(alice.get_by_test_id("me-name")).to_have_text("Alice Chen")
    await alice.get_by_test_id("create-channel").click()
    await alice.get_by_test_id("create-name").fill("Lobby")  # lowercased as typed
    await alice.get_by_test_id("create-topic").fill("Say hi")
    await alice.get_by_test_id("create-submit").click()
    await expect(alice.get_by_test_id("channel-title")).to_have_text("lobby")
    await expect(alice.get_by_test_id("channel-topic")).to_have_text("Say hi")
    await expect(alice.get_by_test_id("member-count-value")).to_have_text("1")

    # Bob (registered elsewhere) logs in with the form and joins from the browser.
    await web.user("bob")
    bob = await web.page()
    await bob.get_by_test_id("auth-username").fill("bob")
    await bob.get_by_test_id("auth-password").fill(PASSWORD)
    await bob.get_by_test_id("auth-submit").click()
    await web.ready(bob)
    await bob.get_by_test_id("browse-channels").click()
    item = bob.locator('[data-testid="browse-item"][data-channel="lobby"]')
    await expect(item).to_contain_text("Say hi")
    await item.get_by_test_id("join-button").click()
    await expect(bob.get_by_test_id("channel-title")).to_have_text("lobby")
    await expect(alice.get_by_test_id("member-count-value")).to_have_text("2")  # live
    await expect(bob.get_by_test_id("member-count-value")).to_have_text("2")

    await send(alice, "hi bob, welcome")
    await send(bob, "thanks alice!")
    for page in (alice, bob):
        for text in ("hi bob, welcome", "thanks alice!"):
            await expect(message(page, text)).to_have_count(1)
            await expect(message(page, text)).to_have_attribute("data-state", "sent")
        seqs = await page.get_by_test_id("message").evaluate_all(
            "els => els.map(e => Number(e.dataset.seq))"
        )
        assert seqs == [1, 2]
    # Grouped by author: each message starts its own group, with the author's name.
    await expect(message(bob, "hi bob, welcome").get_by_test_id("message-author")).to_have_text(
        "Alice Chen"
    )

    # Shift+Enter is a newline, Enter sends.
    composer = alice.get_by_test_id("composer")
    await composer.fill("line one")
    await composer.press("Shift+Enter")
    await composer.press_sequentially("line two")
    await composer.press("Enter")
    await expect(message(bob, "line one\nline two")).to_have_count(1)

    # Sign out: back to the log-in form, and a reload stays signed out.
    await bob.get_by_test_id("logout").click()
    await expect(bob.get_by_test_id("auth-form")).to_be_visible()
    await bob.reload()
    await expect(bob.get_by_test_id("auth-form")).to_be_visible()
    assert await bob.evaluate("sessionStorage.getItem('hubbub.token')") is None


async def test_bad_password_is_reported(web: Web) -> None:
    await web.user("carol")
    page = await web.page()
    await page.get_by_test_id("auth-username").fill("carol")
    await page.get_by_test_id("auth-password").fill("not the password")
    await page.get_by_test_id("auth-submit").click()
    await expect(page.get_by_test_id("auth-error")).to_have_text("Wrong username or password.")


async def test_private_channel_is_invisible_to_non_members(web: Web) -> None:
    alice, bob = await web.user("alice"), await web.user("bob")
    # alice is in #general: joined on registering (as is everyone).
    await web.join(bob, "general")
    pa = await web.page(alice, channel="general")
    await pa.get_by_test_id("create-channel").click()
    await pa.get_by_test_id("create-name").fill("secret-plans")
    await pa.get_by_test_id("create-private").check()
    await pa.get_by_test_id("create-submit").click()
    await expect(pa.get_by_test_id("channel-title")).to_have_text("secret-plans")
    await send(pa, "for members only")
    await expect(message(pa, "for members only")).to_have_attribute("data-state", "sent")
    assert (await web.channel_view(alice, "secret-plans"))["kind"] == "private"

    pb = await web.page(bob, channel="general")
    await expect(channel_item(pb, "general")).to_be_visible()
    await expect(channel_item(pb, "secret-plans")).to_have_count(0)
    await pb.get_by_test_id("browse-channels").click()
    browse = pb.get_by_test_id("browse-dialog")
    await expect(browse.locator('[data-channel="general"]')).to_be_visible()
    await expect(browse.get_by_test_id("browse-item")).to_have_count(1)
    await expect(browse).not_to_contain_text("secret")
    await pb.keyboard.press("Escape")
    await expect(browse).to_have_count(0)
    # Not even by URL.
    await pb.evaluate("location.hash = '#/c/secret-plans'")
    await expect(pb.get_by_test_id("channel-title")).to_have_text("general")
    await expect(pb.get_by_text("for members only")).to_have_count(0)

    # Invited, Bob sees it appear live.
    await web.call("POST", "/api/channels/secret-plans/invite", alice, {"username": "bob"})
    await expect(channel_item(pb, "secret-plans")).to_be_visible()
    await channel_item(pb, "secret-plans").click()
    await expect(message(pb, "for members only")).to_have_count(1)


async def test_direct_message_with_presence(web: Web) -> None:
    alice, bob = await web.user("alice"), await web.user("bob", "Bob Martin")
    # alice is in #general: joined on registering (as is everyone).
    await web.join(bob, "general")
    pa = await web.page(alice, channel="general")
    pb = await web.page(bob, channel="general")

    await pa.get_by_test_id("new-dm").click()
    await pa.get_by_test_id("dm-usernames").fill("@bob")
    await pa.get_by_test_id("dm-submit").click()
    await expect(pa.get_by_test_id("channel-title")).to_have_text("Bob Martin")  # display name
    dm = channel_item(pa, "dm:alice,bob")
    await expect(dm.get_by_test_id("presence-dot")).to_have_attribute("data-status", "online")
    await send(pa, "psst, bob")

    # Bob gets the DM live, counted as a mention (every unread DM is for you).
    dm_b = channel_item(pb, "dm:alice,bob")
    await expect(dm_b.get_by_test_id("channel-name")).to_have_text("alice")
    await expect(dm_b.get_by_test_id("mention-badge")).to_have_text("1")
    await expect(dm_b).to_have_attribute("data-unread", "1")
    await expect(dm_b.get_by_test_id("presence-dot")).to_have_attribute("data-status", "online")
    await dm_b.click()
    await expect(message(pb, "psst, bob")).to_have_count(1)
    await expect(dm_b.get_by_test_id("mention-badge")).to_have_count(0)
    await expect(dm_b.get_by_test_id("unread-badge")).to_have_count(0)
    await send(pb, "what's up?")
    await expect(message(pa, "what's up?")).to_have_count(1)

    # A group DM by usernames.
    await web.user("carol")
    await pa.get_by_test_id("new-dm").click()
    await pa.get_by_test_id("dm-usernames").fill("bob, carol")
    await pa.get_by_test_id("dm-submit").click()
    await expect(pa.get_by_test_id("channel-title")).to_have_text("Bob Martin, carol")
    await expect(channel_item(pb, "dm:alice,bob,carol")).to_be_visible()

    # Bob closes his tab: Alice sees him go offline.
    await pb.context.close()
    await expect(dm.get_by_test_id("presence-dot")).to_have_attribute("data-status", "offline")


async def test_typing_indicator_expires(web: Web, server_factory: Callable[..., Server]) -> None:
    web.use(server_factory("--limit", "typing_ttl=1.5"))
    alice, bob, carol = await web.user("alice"), await web.user("bob"), await web.user("carol")
    # alice is in #general: joined on registering (as is everyone).
    await web.join(bob, "general")
    await web.join(carol, "general")
    pa = await web.page(alice, channel="general")
    pb = await web.page(bob, channel="general")
    pc = await web.page(carol, channel="general")
    typing = pa.get_by_test_id("typing-indicator")

    await pb.get_by_test_id("composer").press_sequentially("hel")
    await expect(typing).to_have_text("bob is typing…")
    await expect(typing).to_have_text("")  # gone after typing_ttl with no message
    await expect(pb.get_by_test_id("typing-indicator")).to_have_text("")  # never yourself

    await pc.get_by_test_id("composer").press_sequentially("hello")
    await expect(typing).to_have_text("carol is typing…")
    await pc.get_by_test_id("composer").press("Enter")
    await expect(message(pa, "hello")).to_have_count(1)
    await expect(typing).to_have_text("")  # the message ends it at once


async def test_unread_and_mentions_rise_live_and_clear_on_every_device(web: Web) -> None:
    alice, bob = await web.user("alice"), await web.user("bob")
    await web.channel(alice, "random")  # both are in #general already
    await web.join(bob, "random")
    await web.post(alice, "general", "before bob looked")
    # Bob on two devices, both looking at #random.
    tab1 = await web.page(bob, channel="random")
    tab2 = await web.page(bob, channel="random")
    for tab in (tab1, tab2):  # the server's counts on load
        await expect(channel_item(tab, "general").get_by_test_id("unread-badge")).to_have_text("1")

    await web.post(alice, "general", "one")
    await web.post(alice, "general", "two, @bob can you look?")
    await web.post(alice, "general", "three")
    await web.post(alice, "random", "in random")  # Bob is looking: read at once
    for tab in (tab1, tab2):
        general = channel_item(tab, "general")
        await expect(general.get_by_test_id("unread-badge")).to_have_text("4")
        await expect(general.get_by_test_id("mention-badge")).to_have_text("@1")
        await expect(general).to_have_class(re.compile(r"\bunread\b"))
        await expect(message(tab, "in random")).to_have_count(1)
        await expect(channel_item(tab, "random").get_by_test_id("unread-badge")).to_have_count(0)

    # Reading #general on one device clears it on both.
    await channel_item(tab1, "general").click()
    await expect(message(tab1, "three")).to_be_visible()
    await expect(tab1.get_by_test_id("new-divider")).to_be_visible()
    await expect(message(tab1, "two, @bob can you look?")).to_have_class(re.compile("mentioned"))
    for tab in (tab1, tab2):
        general = channel_item(tab, "general")
        await expect(general.get_by_test_id("unread-badge")).to_have_count(0)
        await expect(general.get_by_test_id("mention-badge")).to_have_count(0)
    view = await web.channel_view(bob, "general")
    assert view["last_read"] == view["last_seq"] == 4
    assert view["mentions"] == 0

    # A fresh load agrees with what the live tabs show.
    tab3 = await web.page(bob, channel="random")
    await expect(channel_item(tab3, "general").get_by_test_id("unread-badge")).to_have_count(0)


async def test_ctrl_k_switches_channel(web: Web) -> None:
    alice = await web.user("alice")
    for name in ("random", "design"):  # and #general, joined on registering
        await web.channel(alice, name)
    page = await web.page(alice, channel="general")
    await page.keyboard.press("Control+k")
    switcher = page.get_by_test_id("switcher")
    await expect(switcher).to_be_visible()
    await page.get_by_test_id("switcher-input").fill("ran")
    await expect(switcher.get_by_test_id("switcher-item")).to_have_count(1)
    await page.keyboard.press("Enter")
    await expect(switcher).to_have_count(0)
    await expect(page.get_by_test_id("channel-title")).to_have_text("random")
    assert page.url.endswith("#/c/random")
    # Arrow keys move the selection.
    await page.keyboard.press("Control+k")
    await page.get_by_test_id("switcher-input").fill("")
    await page.keyboard.press("ArrowDown")
    await page.keyboard.press("Enter")
    await expect(page.get_by_test_id("channel-title")).to_have_text("general")
    # Each switch is a history entry: Back returns to the previous channel.
    await page.go_back()
    await expect(page.get_by_test_id("channel-title")).to_have_text("random")


async def test_phone_width_collapses_the_sidebar(web: Web) -> None:
    alice = await web.user("alice")
    await web.call("PUT", "/api/channels/general/topic", alice, {"topic": "Everything"})
    await web.channel(alice, "random")
    page = await web.page(alice, channel="general", width=390, height=780)
    sidebar = page.get_by_test_id("sidebar")
    await expect(sidebar).not_to_be_in_viewport()
    await expect(page.get_by_test_id("composer")).to_be_in_viewport()
    await page.get_by_test_id("sidebar-toggle").click()
    await expect(sidebar).to_be_in_viewport()
    await channel_item(page, "random").click()
    await expect(page.get_by_test_id("channel-title")).to_have_text("random")
    await expect(sidebar).not_to_be_in_viewport()
    await send(page, "from my phone")
    await expect(message(page, "from my phone")).to_have_attribute("data-state", "sent")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # nothing sticks out sideways
