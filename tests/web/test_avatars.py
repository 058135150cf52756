"""Generated avatars (until file uploads exist): each person's initials, from
their display name, on a colour chosen from their username: the same beside
their messages, in a channel's member list, in the administration and in
your account dialog, and the same after a reload."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Locator, Page, expect

from .helpers import Web, admin_member, message, open_account, open_admin

pytestmark = pytest.mark.asyncio(loop_scope="session")


def group_avatar(page: Page, text: str) -> Locator:
    """The avatar at the head of the message group that starts with `text`."""
    return message(page, text).get_by_test_id("avatar")


async def colour(avatar: Locator) -> str:
    """Its background colour (asked again if the list redrew it just then)."""
    await expect(avatar).to_have_css("background-color", re.compile(r"^rgb"))
    for _ in range(20):
        value: str = await avatar.evaluate(
            "el => el.isConnected ? getComputedStyle(el).backgroundColor : ''"
        )
        if value:
            return value
    raise AssertionError("no background colour")


async def expect_colour(avatar: Locator, value: str) -> None:
    await expect(avatar).to_have_css("background-color", value)


async def test_initials_and_colours_everywhere_and_after_a_reload(web: Web) -> None:
    alice = await web.user("alice", "Alice Chen")  # a name with a space: "AC"
    bob = await web.user("bob", "bob")  # a one-word name: "B"
    zoe = await web.user("zoe", "Élodie  van der Berg")  # accents, several spaces: "ÉB"
    await web.join(bob, "general")
    await web.join(zoe, "general")
    await web.post(alice, "general", "hello from alice")
    await web.post(bob, "general", "hello from bob")
    await web.post(zoe, "general", "hello from zoe")

    page = await web.page(alice, channel="general")
    a, b, z = (group_avatar(page, f"hello from {n}") for n in ("alice", "bob", "zoe"))
    await expect(a).to_have_text("AC")
    await expect(b).to_have_text("B")
    await expect(z).to_have_text("ÉB")
    # The message rows keep their parts.
    await expect(message(page, "hello from bob").get_by_test_id("message-author")).to_have_text(
        "bob"
    )
    colours = [await colour(x) for x in (a, b, z)]
    assert all(c.startswith("rgb(") for c in colours), colours
    assert colours[0] != colours[1]  # alice and bob differ (as the palette has it)

    # The member list: the same faces.
    await page.get_by_test_id("member-count").click()
    details = page.get_by_test_id("details-dialog")
    bob_item = details.locator('[data-testid="member-item"][data-username="bob"]')
    await expect(bob_item.get_by_test_id("avatar")).to_have_text("B")
    await expect_colour(bob_item.get_by_test_id("avatar"), colours[1])
    alice_item = details.locator('[data-testid="member-item"][data-username="alice"]')
    await expect(alice_item.get_by_test_id("avatar")).to_have_text("AC")
    await expect_colour(alice_item.get_by_test_id("avatar"), colours[0])
    await page.keyboard.press("Escape")

    # The administration's member list.
    dialog = await open_admin(page)
    row = admin_member(dialog, "zoe")
    await expect(row.get_by_test_id("avatar")).to_have_text("ÉB")
    await expect_colour(row.get_by_test_id("avatar"), colours[2])
    await page.keyboard.press("Escape")

    # Your account: your avatar, following your name as you type it.
    account = await open_account(page)
    mine = account.get_by_test_id("account-avatar").get_by_test_id("avatar")
    await expect(mine).to_have_text("AC")
    await expect_colour(mine, colours[0])
    await account.get_by_test_id("account-display-name").fill("ali")
    await expect(mine).to_have_text("A")
    await expect_colour(mine, colours[0])  # the colour is the username's
    await page.keyboard.press("Escape")

    # A reload, and another person's tab: the same colours.
    await page.reload()
    await web.ready(page)
    await expect(a).to_have_text("AC")
    for x, c in zip((a, b, z), colours, strict=True):
        await expect_colour(x, c)
    pb = await web.page(bob, channel="general")
    await expect(group_avatar(pb, "hello from alice")).to_have_text("AC")
    for n, c in zip(("alice", "bob", "zoe"), colours, strict=True):
        await expect_colour(group_avatar(pb, f"hello from {n}"), c)
