"""What a Slack user reaches for in their first hour (issue #20, items 6 and 7):
#general for everyone, Ctrl+K finding channels and people, a people picker
for DMs, display names, joined/left lines, opening at the "New" divider, no
"Ctrl K" hint on a phone, /join and /me, and emoji that draw without an
emoji font on the machine."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib

import pytest
from playwright.async_api import Page, expect

from .helpers import PASSWORD, Web, channel_item, member_event, message, send

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def sign_up(web: Web, username: str, display_name: str) -> Page:
    page = await web.page()
    await page.get_by_test_id("auth-toggle").click()
    await page.get_by_test_id("auth-username").fill(username)
    await page.get_by_test_id("auth-display-name").fill(display_name)
    await page.get_by_test_id("auth-password").fill(PASSWORD)
    await page.get_by_test_id("auth-submit").click()
    await web.ready(page)
    return page


async def test_everyone_lands_in_general(web: Web) -> None:
    # The very first account of a new server: #general, not "No channel".
    ann = await sign_up(web, "ann", "Ann Lee")
    await expect(ann.get_by_test_id("channel-title")).to_have_text("general")
    await expect(channel_item(ann, "general")).to_be_visible()
    await expect(ann.get_by_test_id("member-count-value")).to_have_text("1")
    await expect(ann.get_by_test_id("composer")).to_be_visible()

    # The next one joins the same #general, and ann sees the count go up.
    bob = await sign_up(web, "bob", "Bob Martin")
    await expect(bob.get_by_test_id("channel-title")).to_have_text("general")
    await expect(ann.get_by_test_id("member-count-value")).to_have_text("2")
    await send(bob, "hello everyone")
    await expect(message(ann, "hello everyone")).to_have_attribute("data-state", "sent")


async def test_switcher_finds_channels_to_join_and_people_to_message(web: Web) -> None:
    alice = await web.user("alice", "Alice Chen")
    bob = await web.user("bob", "Bob Martin")
    await web.user("carol", "Carol Diaz")
    await web.channel(alice, "design", topic="Pixels")  # bob is not in it
    page = await web.page(bob, channel="general")
    switcher = page.get_by_test_id("switcher")
    items = switcher.get_by_test_id("switcher-item")

    # A public channel bob is not in: choosing it joins it and opens it.
    await page.keyboard.press("Control+k")
    await page.get_by_test_id("switcher-input").fill("des")
    await expect(items).to_have_count(1)
    await expect(items.first).to_have_attribute("data-kind", "join")
    await expect(items.first).to_have_attribute("data-channel", "design")
    await page.keyboard.press("Enter")
    await expect(switcher).to_have_count(0)
    await expect(page.get_by_test_id("channel-title")).to_have_text("design")
    await expect(channel_item(page, "design")).to_be_visible()
    assert (await web.channel_view(bob, "design"))["is_member"] is True

    # A person, found by display name or username: choosing them opens the DM.
    await page.keyboard.press("Control+k")
    await page.get_by_test_id("switcher-input").fill("diaz")
    person = items.filter(has_text="Carol Diaz")
    await expect(person).to_have_attribute("data-kind", "person")
    await expect(person).to_have_attribute("data-username", "carol")
    await page.get_by_test_id("switcher-input").fill("carol")
    await expect(person).to_be_visible()
    await page.keyboard.press("Enter")
    await expect(page.get_by_test_id("channel-title")).to_have_text("Carol Diaz")
    await expect(channel_item(page, "dm:bob,carol")).to_be_visible()
    # Once there is a DM, the person is found as that DM (once, not twice).
    await page.keyboard.press("Control+k")
    await page.get_by_test_id("switcher-input").fill("carol")
    await expect(items).to_have_count(1)
    await expect(items.first).to_have_attribute("data-kind", "mine")
    await expect(items.first).to_have_attribute("data-channel", "dm:bob,carol")


async def test_new_dm_dialog_is_a_people_picker(web: Web) -> None:
    alice = await web.user("alice", "Alice Chen")
    await web.user("bob", "Bob Martin")
    await web.user("carol", "Carol Diaz")
    await web.user("dave", "Dave Kim")
    page = await web.page(alice, channel="general")
    await page.get_by_test_id("new-dm").click()
    dialog = page.get_by_test_id("dm-dialog")
    search = page.get_by_test_id("dm-usernames")
    options = dialog.get_by_test_id("dm-option")
    chips = dialog.get_by_test_id("dm-chip")

    # Everyone but you is listed, by display name; typing narrows the list.
    await expect(options).to_have_count(3)
    await expect(options.first).to_have_text(re.compile("Bob Martin"))
    await search.press_sequentially("mart")
    await expect(options).to_have_count(1)
    await page.keyboard.press("Enter")  # picks the highlighted person
    await expect(chips).to_have_count(1)
    await expect(chips.first).to_have_attribute("data-username", "bob")
    await expect(chips.first).to_contain_text("Bob Martin")
    await expect(search).to_have_value("")

    # The arrow keys move through the list; a picked person leaves it.
    await expect(options).to_have_count(2)  # carol, dave
    await page.keyboard.press("ArrowDown")
    await expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    await page.keyboard.press("Enter")
    await expect(chips).to_have_count(2)
    await expect(chips.nth(1)).to_have_attribute("data-username", "dave")
    # Backspace in the empty box takes the last one back; a click picks.
    await page.keyboard.press("Backspace")
    await expect(chips).to_have_count(1)
    await search.press_sequentially("car")
    await options.filter(has_text="Carol Diaz").click()
    await expect(chips).to_have_count(2)
    await chips.first.get_by_test_id("dm-chip-remove").click()  # bob, after all, not
    await search.press_sequentially("bob")
    await page.keyboard.press("Enter")

    await page.get_by_test_id("dm-submit").click()
    await expect(dialog).to_have_count(0)
    await expect(page.get_by_test_id("channel-title")).to_have_text("Bob Martin, Carol Diaz")
    await expect(channel_item(page, "dm:alice,bob,carol")).to_be_visible()


async def test_the_dm_picker_finds_people_in_none_of_your_channels(web: Web) -> None:
    alice = await web.user("alice", "Alice Chen")
    eve = await web.user("eve", "Eve Lindqvist")
    await web.call("POST", "/api/channels/general/leave", eve)  # no channel in common now
    page = await web.page(alice, channel="general")
    await page.get_by_test_id("new-dm").click()
    dialog = page.get_by_test_id("dm-dialog")
    options = dialog.get_by_test_id("dm-option")
    await expect(dialog.locator(".pick-empty")).to_have_text("Everyone is picked")
    # By a piece of the display name, from the user directory (GET /api/users?q=).
    await page.get_by_test_id("dm-usernames").press_sequentially("lindq")
    await expect(options).to_have_count(1)
    await expect(options.first).to_contain_text("Eve Lindqvist")
    await page.keyboard.press("Enter")
    await page.get_by_test_id("dm-submit").click()
    await expect(page.get_by_test_id("channel-title")).to_have_text("Eve Lindqvist")


async def test_display_names_in_the_typing_line_and_dm_labels(web: Web) -> None:
    alice = await web.user("alice", "Alice Chen")
    bob = await web.user("bob", "Bob Martin")
    await web.call("POST", "/api/dms", alice, {"usernames": ["bob"]})
    page = await web.page(alice, channel="general")
    dm = channel_item(page, "dm:alice,bob")
    await expect(dm.get_by_test_id("channel-name")).to_have_text("Bob Martin")

    other = await web.page(bob, channel="general")
    await other.get_by_test_id("composer").press_sequentially("hel")
    await expect(page.get_by_test_id("typing-indicator")).to_have_text("Bob Martin is typing…")

    await dm.click()
    await expect(page.get_by_test_id("channel-title")).to_have_text("Bob Martin")
    await expect(page.get_by_test_id("composer")).to_have_attribute(
        "placeholder", "Message Bob Martin"
    )


async def test_joined_and_left_lines(web: Web) -> None:
    alice = await web.user("alice", "Alice Chen")
    await web.post(alice, "general", "first!")
    page = await web.page(alice, channel="general")
    await expect(message(page, "first!")).to_be_visible()

    carol = await web.user("carol", "Carol Diaz")  # registering joins #general
    joined = member_event(page, "Carol Diaz joined #general")
    await expect(joined).to_be_visible()
    await expect(joined).to_have_attribute("data-kind", "joined")
    await web.post(carol, "general", "hi, I'm new")
    await expect(message(page, "hi, I'm new")).to_be_visible()
    await web.call("POST", "/api/channels/general/leave", carol)
    left = member_event(page, "Carol Diaz left #general")
    await expect(left).to_be_visible()
    # In order: the join, carol's message, the leave; and they are not messages.
    order = await page.get_by_test_id("message-list").evaluate(
        """list => [...list.querySelectorAll('.msg, .system-line')].map(
            e => e.dataset.kind || e.querySelector('.msg-text').textContent)"""
    )
    assert order == ["first!", "joined", "hi, I'm new", "left"]
    await expect(page.get_by_test_id("message")).to_have_count(2)
    await expect(page.get_by_test_id("member-count-value")).to_have_text("1")

    # Live only: the history holds messages, not membership changes.
    await page.reload()
    await web.ready(page)
    await expect(message(page, "hi, I'm new")).to_be_visible()
    await expect(page.get_by_test_id("member-event")).to_have_count(0)


async def test_a_channel_with_many_unread_opens_at_the_new_divider(web: Web) -> None:
    alice, bob = await web.user("alice"), await web.user("bob")
    await web.channel(alice, "random")
    for i in range(20):
        await web.post(bob, "general", f"old {i:02d}")
    await web.call("POST", "/api/channels/general/read", alice, {"seq": 20})
    for i in range(80):  # more than one page of history (50) is unread
        await web.post(bob, "general", f"new {i:02d}")
    page = await web.page(alice, channel="random")
    general = channel_item(page, "general")
    await expect(general.get_by_test_id("unread-badge")).to_have_text("80")

    await general.click()
    divider = page.get_by_test_id("new-divider")
    await expect(divider).to_be_in_viewport()
    await expect(message(page, "new 00")).to_be_in_viewport()
    await expect(message(page, "new 79")).not_to_be_in_viewport()
    box = await divider.bounding_box()
    top = await page.get_by_test_id("message-list").bounding_box()
    assert box is not None and top is not None
    assert 0 <= box["y"] - top["y"] < 40, (box, top)  # at the top of the list
    # Not read until seen: the badge stays, and "New messages" leads down.
    await expect(general.get_by_test_id("unread-badge")).to_have_text("80")
    await page.get_by_test_id("jump-latest").click()
    await expect(message(page, "new 79")).to_be_in_viewport()
    await expect(general.get_by_test_id("unread-badge")).to_have_count(0)

    # With nothing unread, a channel opens at its newest message.
    await channel_item(page, "random").click()
    await expect(page.get_by_test_id("channel-title")).to_have_text("random")
    await general.click()
    await expect(message(page, "new 79")).to_be_in_viewport()
    await expect(page.get_by_test_id("new-divider")).to_have_count(0)


async def test_no_ctrl_k_hint_on_a_phone(web: Web) -> None:
    alice = await web.user("alice")
    desk = await web.page(alice, channel="general")
    await expect(desk.get_by_test_id("open-switcher").locator("kbd")).to_be_visible()

    phone = await web.page(alice, channel="general", context=await web.touch_context())
    await phone.get_by_test_id("sidebar-toggle").click()
    jump = phone.get_by_test_id("open-switcher")
    await expect(jump).to_be_in_viewport()
    await expect(jump).to_contain_text("Jump to…")
    await expect(jump.locator("kbd")).to_be_hidden()

    # A tablet: wide enough for the sidebar, but a touch screen.
    tablet = await web.page(
        alice, channel="general", context=await web.touch_context(width=1024, height=768)
    )
    assert await tablet.evaluate("matchMedia('(pointer: coarse)').matches")
    await expect(tablet.get_by_test_id("open-switcher")).to_be_in_viewport()
    await expect(tablet.get_by_test_id("open-switcher").locator("kbd")).to_be_hidden()

    # A narrow window on a desktop is a phone layout too.
    narrow = await web.page(alice, channel="general", width=390, height=780)
    await narrow.get_by_test_id("sidebar-toggle").click()
    await expect(narrow.get_by_test_id("open-switcher")).to_be_in_viewport()
    await expect(narrow.get_by_test_id("open-switcher").locator("kbd")).to_be_hidden()


async def test_slash_commands_are_never_posted_as_text(web: Web) -> None:
    alice, bob = await web.user("alice"), await web.user("bob")
    await web.channel(bob, "design")
    page = await web.page(alice, channel="general")
    composer = page.get_by_test_id("composer")
    notice = page.get_by_test_id("composer-notice")

    # /join joins and opens the channel.
    await send(page, "/join #design")
    await expect(page.get_by_test_id("channel-title")).to_have_text("design")
    assert (await web.channel_view(alice, "design"))["is_member"] is True
    await expect(composer).to_have_value("")

    # /me runs on the server: it posts "*alice waves*".
    await send(page, "/me waves")
    action = message(page, "alice waves")
    await expect(action).to_have_attribute("data-state", "sent")
    await expect(action.get_by_test_id("message-text").locator("strong")).to_have_text(
        "alice waves"
    )

    # An unknown command is refused (the server says so, with a hint) and stays in the box to fix.
    await send(page, "/nope")
    await expect(notice).to_be_visible()
    await expect(notice).to_contain_text("unknown command /nope")
    await expect(notice).to_contain_text('start it with "//"')
    await expect(composer).to_have_value("/nope")
    await composer.press_sequentially(" ok")  # typing on clears the hint
    await expect(notice).to_be_hidden()
    await send(page, "/join #nowhere")
    await expect(notice).to_have_text("There is no channel #nowhere to join.")
    await expect(page.get_by_test_id("channel-title")).to_have_text("design")

    # "//" sends a message that starts with "/".
    await send(page, "//etc/hosts is a file")
    await expect(message(page, "/etc/hosts is a file")).to_have_attribute("data-state", "sent")
    stored = [m["text"] for m in await web.history(alice, "design")]
    assert stored == ["*alice waves*", "/etc/hosts is a file"]
    assert not [m for m in await web.history(alice, "general") if m["text"].startswith("/")]


def system_has_emoji_font() -> bool:
    """Does fontconfig know a font with 🎉 (U+1F389)? Then the browser uses it."""
    if shutil.which("fc-list") is None:
        return False
    out = subprocess.run(["fc-list", ":charset=1f389"], capture_output=True, text=True, check=False)
    return bool(out.stdout.strip())


def colourful_pixels(png: bytes) -> int:
    """Pixels of a screenshot (8-bit RGB/RGBA PNG) that are clearly neither
    grey nor black nor white: an emoji in colour, not text or an empty box."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    width = height = bpp = 0
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos : pos + 8])
        body = png[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and interlace == 0 and ctype in (2, 6), (depth, ctype)
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
    raw, stride = zlib.decompress(idat), width * bpp
    prev, count = bytearray(stride), 0
    for y in range(height):
        kind, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for x in range(stride):  # undo the PNG row filter
            a, b = line[x - bpp] if x >= bpp else 0, prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if kind == 1:
                line[x] = (line[x] + a) & 255
            elif kind == 2:
                line[x] = (line[x] + b) & 255
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        for x in range(0, stride, bpp):
            rgb = line[x : x + 3]
            if max(rgb) - min(rgb) > 60:
                count += 1
        prev = line
    return count


async def test_emoji_draw_with_the_bundled_font_as_a_fallback(web: Web) -> None:
    r = await web.http.get("/fonts/twemoji.woff2")
    assert r.status_code == 200 and r.headers["content-type"] == "font/woff2"
    alice = await web.user("alice")
    await web.post(alice, "general", "party 🎉")
    page = await web.page(alice, channel="general")
    text = message(page, "party 🎉").get_by_test_id("message-text")
    await expect(text).to_be_visible()

    # The bundled font comes after every system emoji font, in text and code.
    for tag, cls in (("span", ""), ("code", "inline-code")):
        stack = await page.evaluate(
            """([tag, cls]) => { const el = document.createElement(tag); el.className = cls;
                document.body.append(el);
                const f = getComputedStyle(el).fontFamily; el.remove(); return f; }""",
            [tag, cls],
        )
        families = [f.strip().strip('"') for f in stack.split(",")]
        assert families[-1] == "hubbub emoji", stack
        assert families.index("Noto Color Emoji") < families.index("hubbub emoji"), stack
        assert families.index("Apple Color Emoji") < families.index("hubbub emoji"), stack

    if system_has_emoji_font():
        pytest.skip("this machine has an emoji font of its own: the fallback is not needed")
    # No emoji font here: the message made the browser fetch the bundled one...
    await page.wait_for_function(
        """() => [...document.fonts].some(f => f.family.replace(/"/g, '') === 'hubbub emoji'
                                           && f.status === 'loaded')""",
        timeout=10_000,
    )
    # ... and the message, drawn before it came, shows the emoji in colour now,
    # not the empty box it had (the list is redrawn once the font is in).
    coloured = 0
    for _ in range(50):
        coloured = colourful_pixels(await text.screenshot(type="png", animations="disabled"))
        if coloured > 30:
            break
    assert coloured > 30, coloured
