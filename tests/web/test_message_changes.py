"""A message's life after it is sent (issue #14): edited with "(edited)",
deleted to a tombstone, reacted to with chips, live on every client and the
same for one that was away; none of it makes anything unread."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Locator, Page, WebSocketRoute, expect

from .helpers import User, Web, channel_item, message, message_at, reaction, send

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def two_in_general(web: Web) -> tuple[User, User, Page, Page]:
    """Alice and Bob, each with #general open (everyone is in it)."""
    alice = await web.user("alice", "Alice Chen")
    bob = await web.user("bob", "Bob Martin")
    pa = await web.page(alice, channel="general")
    pb = await web.page(bob, channel="general")
    return alice, bob, pa, pb


async def seq_of(msg: Locator) -> int:
    await expect(msg).to_have_attribute("data-state", "sent")
    return int(await msg.get_attribute("data-seq") or 0)


async def open_editor(page: Page, msg: Locator) -> Locator:
    await msg.hover()
    await msg.get_by_test_id("action-edit").click()
    editor = page.get_by_test_id("edit-input")
    await expect(editor).to_be_focused()
    return editor


async def test_an_edit_shows_live_with_edited(web: Web) -> None:
    _, _, pa, pb = await two_in_general(web)
    await send(pa, "helo team")
    seq = await seq_of(message(pa, "helo team"))
    mine, theirs = message_at(pa, seq), message_at(pb, seq)
    await expect(theirs.get_by_test_id("message-text")).to_have_text("helo team")

    # Only your own messages can be edited or deleted; anyone's reacted to.
    await theirs.hover()
    await expect(theirs.get_by_test_id("action-react")).to_be_visible()
    await expect(theirs.get_by_test_id("action-edit")).to_have_count(0)
    await expect(theirs.get_by_test_id("action-delete")).to_have_count(0)

    # Escape cancels, and changes nothing.
    editor = await open_editor(pa, mine)
    await expect(editor).to_have_value("helo team")
    await editor.fill("something else")
    await editor.press("Escape")
    await expect(pa.get_by_test_id("edit-input")).to_have_count(0)
    await expect(mine.get_by_test_id("message-text")).to_have_text("helo team")
    await expect(mine.get_by_test_id("message-edited")).to_have_count(0)
    await expect(pa.get_by_test_id("composer")).to_be_focused()

    # Enter saves: both see the new text, marked "(edited)" with when.
    editor = await open_editor(pa, mine)
    await editor.fill("hello team")
    await editor.press("Enter")
    await expect(pa.get_by_test_id("edit-input")).to_have_count(0)
    for msg in (mine, theirs):
        await expect(msg.get_by_test_id("message-text")).to_have_text("hello team")
        edited = msg.get_by_test_id("message-edited")
        await expect(edited).to_have_text("(edited)")
        await expect(edited).to_have_attribute("title", re.compile(r"^Edited \S"))
    assert await message(pb, "helo team").count() == 0

    # Shift+Enter breaks the line; Enter saves.
    editor = await open_editor(pa, mine)
    await editor.fill("hello team")
    await editor.press("Shift+Enter")
    await editor.press_sequentially("second line")
    await expect(editor).to_have_value("hello team\nsecond line")
    await editor.press("Enter")
    await expect(theirs.get_by_test_id("message-text")).to_have_text("hello team\nsecond line")
    stored = (await web.history(await web.user("carol"), "general"))[-1]
    assert (stored["seq"], stored["text"]) == (seq, "hello team\nsecond line")
    assert stored["edited_at"] >= stored["created_at"]


async def test_edited_text_stays_text(web: Web) -> None:
    _, _, pa, pb = await two_in_general(web)
    await send(pa, "plain")
    seq = await seq_of(message(pa, "plain"))
    html = '<img src=x onerror="alert(1)"><b>bold?</b> <script>alert(2)</script>'
    editor = await open_editor(pa, message_at(pa, seq))
    await editor.fill(html)
    await editor.press("Enter")
    for page in (pa, pb):
        msg = message_at(page, seq)
        await expect(msg.get_by_test_id("message-text")).to_have_text(html)
        await expect(msg.get_by_test_id("message-edited")).to_be_visible()
        await expect(msg.locator("img, b, script")).to_have_count(0)
    assert web.dialogs == []


async def test_up_in_an_empty_composer_edits_your_last_message(web: Web) -> None:
    _, bob, pa, pb = await two_in_general(web)
    await send(pa, "first")
    await send(pa, "second")
    await expect(message(pa, "second")).to_have_attribute("data-state", "sent")
    await web.post(bob, "general", "bob's")  # after yours: still yours is edited
    await expect(message(pa, "bob's")).to_have_count(1)

    composer = pa.get_by_test_id("composer")
    await composer.fill("a draft")
    await composer.press("ArrowUp")  # not empty: Up stays in the composer
    await expect(pa.get_by_test_id("edit-input")).to_have_count(0)
    await composer.fill("")
    await composer.press("ArrowUp")
    editor = pa.get_by_test_id("edit-input")
    await expect(editor).to_be_focused()
    await expect(editor).to_have_value("second")
    await editor.fill("second, edited")
    await editor.press("Enter")
    await expect(message(pb, "second, edited")).to_have_count(1)
    await expect(message(pb, "second, edited").get_by_test_id("message-edited")).to_be_visible()
    await expect(message(pb, "first").get_by_test_id("message-edited")).to_have_count(0)
    await expect(composer).to_be_focused()


async def test_delete_asks_then_leaves_a_tombstone(web: Web) -> None:
    alice, _, pa, pb = await two_in_general(web)
    await send(pa, "oops, wrong channel")
    await send(pa, "this one stays")
    seq = await seq_of(message(pa, "oops, wrong channel"))
    await expect(message(pb, "oops, wrong channel")).to_have_count(1)

    mine = message_at(pa, seq)
    dialog = pa.get_by_test_id("delete-dialog")
    await mine.hover()
    await mine.get_by_test_id("action-delete").click()
    await expect(dialog).to_be_visible()
    await expect(dialog.get_by_test_id("delete-preview")).to_contain_text("oops, wrong channel")
    await dialog.get_by_test_id("delete-cancel").click()
    await expect(dialog).to_have_count(0)
    await expect(mine.get_by_test_id("message-text")).to_have_text("oops, wrong channel")

    await mine.hover()
    await mine.get_by_test_id("action-delete").click()
    await expect(dialog.get_by_test_id("delete-confirm")).to_be_focused()
    await pa.keyboard.press("Enter")
    await expect(dialog).to_have_count(0)
    for page in (pa, pb):
        gone = message_at(page, seq)
        await expect(gone).to_have_attribute("data-deleted", "true")
        await expect(gone.get_by_test_id("message-tombstone")).to_have_text(
            "This message was deleted."
        )
        await expect(gone.get_by_test_id("message-text")).to_have_count(0)
        await expect(gone.get_by_test_id("message-actions")).to_have_count(0)
        await expect(message(page, "this one stays")).to_have_count(1)
    stored = {m["seq"]: m for m in await web.history(alice, "general")}
    assert stored[seq]["deleted"] is True and stored[seq]["text"] == ""


async def test_reactions_chips_count_and_toggle(web: Web) -> None:
    alice, _, pa, pb = await two_in_general(web)
    await send(pa, "ship it?")
    seq = await seq_of(message(pa, "ship it?"))
    on_a, on_b = message_at(pa, seq), message_at(pb, seq)

    # Bob reacts from the picker's palette.
    await on_b.hover()
    await on_b.get_by_test_id("action-react").click()
    picker = pb.get_by_test_id("emoji-picker")
    await expect(picker.get_by_test_id("emoji-input")).to_be_focused()
    await picker.locator('[data-testid="emoji-choice"][data-emoji="👍"]').click()
    await expect(picker).to_have_count(0)
    for msg in (on_a, on_b):
        await expect(reaction(msg, "👍").get_by_test_id("reaction-count")).to_have_text("1")
    await expect(reaction(on_b, "👍")).to_have_attribute("aria-pressed", "true")
    await expect(reaction(on_a, "👍")).to_have_attribute("aria-pressed", "false")
    await expect(reaction(on_a, "👍")).to_have_attribute("title", "Bob Martin reacted with 👍")

    # Alice clicks the chip: her reaction is added to the count.
    await reaction(on_a, "👍").click()
    for msg in (on_a, on_b):
        await expect(reaction(msg, "👍").get_by_test_id("reaction-count")).to_have_text("2")
    await expect(reaction(on_a, "👍")).to_have_class(re.compile(r"\bmine\b"))
    await expect(reaction(on_b, "👍")).to_have_attribute(
        "title", "Alice Chen and you reacted with 👍"
    )

    # Clicking again takes it back; the last one gone, the chip goes.
    await reaction(on_b, "👍").click()
    await expect(reaction(on_a, "👍").get_by_test_id("reaction-count")).to_have_text("1")
    await expect(reaction(on_b, "👍")).to_have_attribute("aria-pressed", "false")
    await reaction(on_a, "👍").click()
    for msg in (on_a, on_b):
        await expect(reaction(msg, "👍")).to_have_count(0)
        await expect(msg.get_by_test_id("reactions")).to_have_count(0)

    # Any emoji by :shortcode:, from the keyboard only.
    await on_b.hover()
    react_button = on_b.get_by_test_id("action-react")
    await react_button.focus()
    await pb.keyboard.press("Enter")
    field = picker.get_by_test_id("emoji-input")
    await expect(field).to_be_focused()
    await field.fill("not an emoji")
    await field.press("Enter")
    await expect(picker.get_by_test_id("emoji-error")).to_contain_text("is not an emoji")
    await field.fill(":tada:")
    await field.press("Enter")
    await expect(picker).to_have_count(0)
    await expect(react_button).to_be_focused()  # back where the keyboard was
    for msg in (on_a, on_b):
        await expect(reaction(msg, "🎉").get_by_test_id("reaction-count")).to_have_text("1")
    stored = {m["seq"]: m for m in await web.history(alice, "general")}
    assert stored[seq]["reactions"] == [{"emoji": "🎉", "count": 1, "users": ["bob"]}]


class Gate:
    """Passes the page's WebSocket through to the server until `cut()`, which
    drops it (both ends) and turns away new ones until `restore()`."""

    def __init__(self) -> None:
        self.down = False
        self.ends: list[WebSocketRoute] = []
        self.received: list[dict[str, Any]] = []

    async def __call__(self, ws: WebSocketRoute) -> None:
        if self.down:
            await ws.close(code=1001, reason="offline")
            return
        server = ws.connect_to_server()

        def from_server(raw: str | bytes) -> None:
            self.received.append(json.loads(raw))
            ws.send(raw)

        server.on_message(from_server)
        self.ends = [ws, server]

    async def cut(self, ctx: BrowserContext) -> None:
        self.down = True
        await ctx.set_offline(True)
        for end in self.ends:
            await end.close(code=1001, reason="cut")

    async def restore(self, ctx: BrowserContext) -> None:
        self.down = False
        await ctx.set_offline(False)  # the page's `online` event: it reconnects at once


async def test_a_client_that_was_away_shows_every_change(web: Web) -> None:
    alice, bob = await web.user("alice", "Alice Chen"), await web.user("bob", "Bob Martin")
    texts = ["to be edited", "to be deleted", "to be liked", "untouched"]
    seqs = [(await web.post(alice, "general", t))["seq"] for t in texts]
    gate = Gate()
    pb = await web.page(bob, channel="general", ws_handler=gate)
    for t in texts:
        await expect(message(pb, t)).to_have_count(1)

    # Bob's connection drops; meanwhile the messages change, some more than once.
    await gate.cut(pb.context)
    await expect(pb.get_by_test_id("app")).to_have_attribute("data-connection", "reconnecting")
    await web.edit(alice, "general", seqs[0], "edited once")
    await web.edit(alice, "general", seqs[0], "edited twice")
    await web.delete(alice, "general", seqs[1])
    await web.react(alice, "general", seqs[2], ":heart:")
    await web.react(bob, "general", seqs[2], "❤️")  # from his phone
    await web.react(alice, "general", seqs[2], "🚀")
    await web.unreact(alice, "general", seqs[2], "🚀")

    # A page opened now shows the messages as they are (from history)...
    fresh = await web.page(bob, channel="general")
    # ...and the one that was away catches up by resuming: the same state.
    await gate.restore(pb.context)
    await web.ready(pb)
    for page in (pb, fresh):
        edited = message_at(page, seqs[0])
        await expect(edited.get_by_test_id("message-text")).to_have_text("edited twice")
        await expect(edited.get_by_test_id("message-edited")).to_be_visible()
        await expect(message_at(page, seqs[1]).get_by_test_id("message-tombstone")).to_be_visible()
        liked = message_at(page, seqs[2])
        await expect(reaction(liked, "❤️").get_by_test_id("reaction-count")).to_have_text("2")
        await expect(reaction(liked, "❤️")).to_have_attribute("aria-pressed", "true")
        await expect(reaction(liked, "🚀")).to_have_count(0)
        await expect(message(page, "untouched")).to_have_count(1)
        await expect(message(page, "untouched").get_by_test_id("message-edited")).to_have_count(0)
        assert await message(page, "to be edited").count() == 0
        assert await message(page, "to be deleted").count() == 0
    # It came back by replay, not by reloading the history.
    kinds = [f["type"] for f in gate.received if f.get("channel") == "general"]
    assert "message_updated" in kinds, kinds
    subscribed = [f for f in gate.received if f["type"] == "subscribed"]
    assert subscribed and all(f["recovered"] for f in subscribed), subscribed

    # Nothing of it is unread, and the resumed page has no hole: the next
    # message arrives live.
    await web.post(alice, "general", "back to normal")
    for page in (pb, fresh):
        await expect(message(page, "back to normal")).to_have_count(1)
        await expect(channel_item(page, "general")).to_have_attribute("data-unread", "0")
    assert (await web.channel_view(bob, "general"))["unread"] == 0
