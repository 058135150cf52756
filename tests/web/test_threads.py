"""Threads in the web app (issue #14): "Reply in thread" opens the side panel
(the root, its replies, a composer with "Also send to #channel"); a reply
stays in its thread, and the root shows "N replies" live; a reply also sent
to the channel shows there with "replied to a thread"; the "Threads" view
lists the threads you follow with their unread replies, which opening the
thread clears; a deleted root leaves its thread readable."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from support import online

from .helpers import (
    User,
    Web,
    channel_messages,
    message,
    message_at,
    message_in,
    open_thread,
    reaction,
    send,
    send_reply,
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


async def test_a_reply_stays_in_its_thread_and_the_root_counts_it_live(web: Web) -> None:
    alice, _, pa, pb = await two_in_general(web)
    await send(pa, "Where are the release notes?")
    root_a = message_in(channel_messages(pa), "Where are the release notes?")
    await expect(root_a).to_have_attribute("data-state", "sent")
    seq = int(await root_a.get_attribute("data-seq") or 0)
    root_b = message_at(pb, seq)
    await expect(root_b).to_be_visible()

    # Bob opens the thread first (nothing in it yet), from the hover action.
    panel_b = await open_thread(pb, root_b)
    await expect(panel_b.get_by_test_id("thread-channel")).to_have_text("#general")
    await expect(
        message_in(panel_b.get_by_test_id("thread-root"), "Where are the release notes?")
    ).to_be_visible()
    await expect(panel_b.get_by_test_id("thread-divider-count")).to_have_text("No replies yet")
    await expect(panel_b.get_by_test_id("thread-composer")).to_be_focused()

    # Alice replies from her panel: Shift+Enter breaks the line, Enter sends.
    panel_a = await open_thread(pa, root_a)
    # Replies in the panel have no "Reply in thread" of their own; the root neither.
    await panel_a.get_by_test_id("thread-root").get_by_test_id("message").hover()
    await expect(panel_a.get_by_test_id("action-react")).to_be_visible()
    await expect(panel_a.get_by_test_id("action-reply")).to_have_count(0)
    composer = panel_a.get_by_test_id("thread-composer")
    await composer.fill("In the wiki,")
    await composer.press("Shift+Enter")
    await composer.press_sequentially("under Releases")
    await expect(composer).to_have_value("In the wiki,\nunder Releases")
    await composer.press("Enter")
    await expect(composer).to_have_value("")
    reply_a = message_in(panel_a, "In the wiki,\nunder Releases")
    await expect(reply_a).to_have_attribute("data-state", "sent")

    # Bob: the reply in his open panel, "1 reply" under the root, nothing new
    # in the channel itself.
    await expect(message_in(panel_b, "In the wiki,\nunder Releases")).to_be_visible()
    await expect(panel_b.get_by_test_id("thread-divider-count")).to_have_text("1 reply")
    summary = root_b.get_by_test_id("thread-summary")
    await expect(summary.get_by_test_id("thread-reply-count")).to_have_text("1 reply")
    await expect(summary.get_by_test_id("thread-last-reply")).to_have_text(
        re.compile(r"^Last reply today at ")
    )
    await expect(summary.get_by_test_id("thread-participants")).to_have_attribute(
        "data-users", "alice"
    )
    await expect(summary.get_by_test_id("thread-participants")).to_have_attribute(
        "title", "Alice Chen"
    )
    for page in (pa, pb):
        await expect(channel_messages(page).get_by_test_id("message")).to_have_count(1)
        assert await message_in(channel_messages(page), "In the wiki,\nunder Releases").count() == 0
    # ... and it made nothing unread in the channel.
    await expect(
        pb.locator('[data-testid="channel-item"][data-channel="general"]')
    ).to_have_attribute("data-unread", "0")

    # Edits, reactions and deletes of replies show in place, live.
    reply_b = message_in(panel_b, "In the wiki,\nunder Releases")
    seq_reply = int(await reply_b.get_attribute("data-seq") or 0)
    await reply_b.hover()
    await expect(reply_b.get_by_test_id("action-edit")).to_have_count(0)
    await reply_b.get_by_test_id("action-react").click()
    await pb.get_by_test_id("emoji-picker").locator('[data-emoji="👍"]').click()
    await expect(reaction(message_at(pa, seq_reply), "👍")).to_have_attribute(
        "aria-pressed", "false"
    )
    await expect(reaction(reply_b, "👍")).to_have_attribute("aria-pressed", "true")
    # A click on your own chip takes the reaction back (the model finds replies too).
    await reaction(reply_b, "👍").click()
    await expect(message_at(pa, seq_reply).get_by_test_id("reaction")).to_have_count(0)

    mine = message_at(pa, seq_reply)
    await mine.hover()
    await mine.get_by_test_id("action-edit").click()
    editor = panel_a.get_by_test_id("edit-input")
    await expect(editor).to_be_focused()
    await editor.fill("In the wiki, under Releases (2.3)")
    await editor.press("Enter")
    fixed = message_at(pb, seq_reply)
    await expect(fixed.get_by_test_id("message-text")).to_have_text(
        "In the wiki, under Releases (2.3)"
    )
    await expect(fixed.get_by_test_id("message-edited")).to_be_visible()
    await expect(panel_a.get_by_test_id("thread-composer")).to_be_focused()

    # Escape closes the panel; so does its close button.
    await panel_a.get_by_test_id("thread-composer").press("Escape")
    await expect(thread_panel(pa)).to_have_count(0)
    await panel_b.get_by_test_id("thread-close").click()
    await expect(thread_panel(pb)).to_have_count(0)

    # The summary opens the thread again, with what it holds now.
    await summary.click()
    await expect(message_in(thread_panel(pb), "In the wiki, under Releases (2.3)")).to_be_visible()
    stored = await web.thread(alice, "general", seq)
    assert [m["text"] for m in stored["messages"]] == ["In the wiki, under Releases (2.3)"]
    assert web.dialogs == []


async def test_also_send_to_channel_shows_the_reply_in_the_channel(web: Web) -> None:
    _, _, pa, pb = await two_in_general(web)
    await send(pa, "Lunch at noon?")
    root_a = message(pa, "Lunch at noon?")
    await expect(root_a).to_have_attribute("data-state", "sent")
    seq = int(await root_a.get_attribute("data-seq") or 0)
    await expect(message_at(pb, seq)).to_be_visible()

    panel = await open_thread(pa, root_a)
    await expect(panel.get_by_test_id("thread-broadcast-label")).to_have_text(
        "Also send to #general"
    )
    await send_reply(pa, "Yes, the usual place", broadcast=True)
    # The box is unticked again for the next reply.
    await expect(panel.get_by_test_id("thread-broadcast")).not_to_be_checked()
    await expect(message_in(panel, "Yes, the usual place")).to_have_attribute("data-state", "sent")
    await expect(panel.get_by_test_id("thread-broadcast-note")).to_have_text(
        "Also sent to the channel"
    )

    # Bob (no thread open) sees it in the channel, saying which thread it is in.
    shown = message_in(channel_messages(pb), "Yes, the usual place")
    await expect(shown).to_be_visible()
    await expect(shown.get_by_test_id("thread-context")).to_have_text(
        "replied to a thread: Lunch at noon?"
    )
    await expect(
        message_at(pb, seq).get_by_test_id("thread-summary").get_by_test_id("thread-reply-count")
    ).to_have_text("1 reply")
    # Alice too, in her channel view.
    await expect(message_in(channel_messages(pa), "Yes, the usual place")).to_be_visible()

    # A plain reply after it stays in the thread.
    await send_reply(pa, "I'll book a table")
    await expect(message_in(panel, "I'll book a table")).to_have_attribute("data-state", "sent")
    await expect(
        message_at(pb, seq).get_by_test_id("thread-summary").get_by_test_id("thread-reply-count")
    ).to_have_text("2 replies")
    assert await message_in(channel_messages(pb), "I'll book a table").count() == 0

    # Its "replied to a thread" line opens the thread.
    await shown.get_by_test_id("thread-context").click()
    panel_b = thread_panel(pb)
    await expect(
        message_in(panel_b.get_by_test_id("thread-root"), "Lunch at noon?")
    ).to_be_visible()
    await expect(message_in(panel_b, "Yes, the usual place")).to_be_visible()
    await expect(message_in(panel_b, "I'll book a table")).to_be_visible()


async def test_the_threads_view_lists_unread_replies_until_the_thread_is_opened(
    web: Web,
) -> None:
    alice = await web.user("alice", "Alice Chen")
    bob = await web.user("bob", "Bob Martin")
    root = (await web.post(alice, "general", "Who can review the migration PR?"))["seq"]
    other = (await web.post(bob, "general", "Standup moved to 10"))["seq"]
    first = (await web.reply(bob, "general", root, "I can, after lunch"))["seq"]
    pa = await web.page(alice, channel="general")
    pa2 = await web.page(alice, channel="general")  # another tab of hers

    # Alice started the thread: she follows it, and Bob's reply is unread.
    nav, nav2 = pa.get_by_test_id("threads-nav"), pa2.get_by_test_id("threads-nav")
    await expect(nav.get_by_test_id("threads-badge")).to_have_text("1")
    await expect(nav2.get_by_test_id("threads-badge")).to_have_text("1")
    async with online(web.server, alice.token) as ws:  # hears her `thread_read`s
        await nav.click()
        dialog = pa.get_by_test_id("threads-dialog")
        item = dialog.get_by_test_id("thread-item")
        await expect(item).to_have_count(1)
        await expect(item.get_by_test_id("thread-item-channel")).to_have_text("#general")
        await expect(item.get_by_test_id("thread-item-excerpt")).to_have_text(
            "Who can review the migration PR?"
        )
        await expect(item.get_by_test_id("thread-item-unread")).to_have_text("1")

        # Opening it shows the thread and reads it: the badge goes, on every
        # tab of hers and on the server.
        await item.click()
        await expect(dialog).to_have_count(0)
        panel = thread_panel(pa)
        await expect(message_in(panel, "I can, after lunch")).to_be_visible()
        await expect(panel.get_by_test_id("thread-composer")).to_be_focused()
        await expect(nav.get_by_test_id("threads-badge")).to_be_hidden()
        await ws.expect("thread_read", channel="general", thread_root=root, seq=first)
        await expect(nav2.get_by_test_id("threads-badge")).to_be_hidden()
        assert await followed_unread(web, alice) == [0]

        # A new reply while the thread is open is read at once.
        done = (await web.reply(bob, "general", root, "Done: two comments"))["seq"]
        await expect(message_in(panel, "Done: two comments")).to_be_visible()
        await ws.expect("thread_read", channel="general", thread_root=root, seq=done)
        assert await followed_unread(web, alice) == [0]
        await expect(nav).to_have_attribute("data-unread", "0")

    # Closed, a reply in a thread she follows counts again, live.
    await panel.get_by_test_id("thread-close").click()
    await expect(panel).to_have_count(0)
    await web.reply(bob, "general", root, "Also: please rebase")
    await expect(nav.get_by_test_id("threads-badge")).to_have_text("1")
    await expect(nav2.get_by_test_id("threads-badge")).to_have_text("1")
    # A thread she does not follow is not listed.
    await web.reply(bob, "general", other, "(ignore this)")
    await nav.click()
    item = pa.get_by_test_id("threads-dialog").get_by_test_id("thread-item")
    await expect(item).to_have_count(1)
    await expect(item).to_have_attribute("data-root", str(root))
    await expect(item.get_by_test_id("thread-item-unread")).to_have_text("1")
    await item.click()
    await expect(message_in(thread_panel(pa), "Also: please rebase")).to_be_visible()
    await expect(nav.get_by_test_id("threads-badge")).to_be_hidden()
    await expect(nav2.get_by_test_id("threads-badge")).to_be_hidden()


async def followed_unread(web: Web, user: User) -> list[int]:
    return [t["unread"] for t in await web.threads(user)]


async def test_a_deleted_root_leaves_its_thread_readable(web: Web) -> None:
    alice, bob, pa, pb = await two_in_general(web)
    await send(pa, "wrong channel, sorry")
    root_a = message(pa, "wrong channel, sorry")
    await expect(root_a).to_have_attribute("data-state", "sent")
    seq = int(await root_a.get_attribute("data-seq") or 0)
    await web.reply(bob, "general", seq, "no worries")
    panel_b = await open_thread(pb, message_at(pb, seq))
    await expect(message_in(panel_b, "no worries")).to_be_visible()

    await root_a.hover()
    await root_a.get_by_test_id("action-delete").click()
    await pa.get_by_test_id("delete-confirm").click()

    # Bob's open panel: the root is a tombstone, the reply still there, and
    # the thread takes no new replies.
    await expect(
        panel_b.get_by_test_id("thread-root").get_by_test_id("message-tombstone")
    ).to_be_visible()
    await expect(message_in(panel_b, "no worries")).to_be_visible()
    await expect(panel_b.get_by_test_id("thread-closed")).to_be_visible()
    await expect(panel_b.get_by_test_id("thread-composer")).to_be_hidden()

    # In the channel the tombstone keeps its summary, which still opens the thread.
    tomb = message_at(pa, seq)
    await expect(tomb.get_by_test_id("message-tombstone")).to_be_visible()
    await tomb.get_by_test_id("thread-summary").click()
    panel_a = thread_panel(pa)
    await expect(message_in(panel_a, "no worries")).to_be_visible()
    stored = await web.thread(alice, "general", seq)
    assert stored["root"]["deleted"] is True
    assert [m["text"] for m in stored["messages"]] == ["no worries"]


async def test_thread_text_stays_text_and_older_replies_load_on_request(web: Web) -> None:
    alice = await web.user("alice", "Alice Chen")
    bob = await web.user("bob", "Bob Martin")
    root = (await web.post(alice, "general", "<b>load</b> test"))["seq"]
    for i in range(55):
        await web.reply(bob, "general", root, f"reply {i}")
    pa = await web.page(alice, channel="general")
    summary = message_at(pa, root).get_by_test_id("thread-summary")
    await expect(summary.get_by_test_id("thread-reply-count")).to_have_text("55 replies")
    await summary.click()
    panel = thread_panel(pa)
    replies = panel.get_by_test_id("thread-messages").locator(
        '[data-testid="message"][data-thread-root]'
    )
    # The newest page first, at the bottom; the older ones on request.
    await expect(replies).to_have_count(50)
    await expect(message_in(panel, "reply 54")).to_be_in_viewport()
    assert await message_in(panel, "reply 4").count() == 0
    await panel.get_by_test_id("thread-load-earlier").click()
    await expect(replies).to_have_count(55)
    await expect(message_in(panel, "reply 0")).to_have_count(1)
    await expect(panel.get_by_test_id("thread-load-earlier")).to_have_count(0)

    html = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    await send_reply(pa, html)
    await expect(message_in(panel, html)).to_have_attribute("data-state", "sent")
    await expect(panel.get_by_test_id("thread-root").get_by_test_id("message-text")).to_have_text(
        "<b>load</b> test"
    )
    await expect(panel.locator(".msg-text img, .msg-text b, .msg-text script")).to_have_count(0)
    await expect(summary.get_by_test_id("thread-reply-count")).to_have_text("56 replies")
    assert web.dialogs == []
