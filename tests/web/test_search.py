"""Search in the web app, in real Chromium against a real server: the header's
box (Ctrl+F in the app), results with their matches marked, the filter chips
writing the query's words, paging, a malformed query's message, and opening a
result far back in history: the channel opens at it, highlighted, without
showing messages that come meanwhile out of place, until "Jump to recent
messages" goes back to the present."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from .helpers import Web, channel_item, message, message_at

pytestmark = pytest.mark.asyncio(loop_scope="session")

FILLER = 230


async def search(page: Page, query: str) -> None:
    box = page.get_by_test_id("search-input")
    await box.fill(query)
    await box.press("Enter")
    await expect(page.get_by_test_id("search-panel")).to_be_visible()


async def test_search_opens_a_result_far_back_highlighted_in_context(web: Web) -> None:
    alice, bob = await web.user("alice", "Alice Chen"), await web.user("bob", "Bob Martin")
    await web.join(bob, "general")
    await web.post(alice, "general", "before the needle")
    target = (
        await web.post(bob, "general", "The Zeppelin deploy key lives in the vault <b>now</b>")
    )["seq"]
    for i in range(FILLER):
        await web.post(alice, "general", f"filler {i:03d}")
    await web.call("POST", "/api/channels/general/read", alice, {"seq": 10_000})

    page = await web.page(alice, channel="general")
    await expect(message(page, f"filler {FILLER - 1:03d}")).to_be_in_viewport()
    await expect(message_at(page, target)).to_have_count(0)  # not in the first page

    await search(page, "zeppelin")
    results = page.get_by_test_id("search-result")
    await expect(results).to_have_count(1)
    hit = results.first
    await expect(hit.get_by_test_id("search-result-channel")).to_have_text("#general")
    await expect(hit.get_by_test_id("search-result-author")).to_have_text("Bob Martin")
    snippet = hit.get_by_test_id("search-snippet")
    await expect(snippet.locator("mark")).to_have_text(["Zeppelin"])
    # The message's text is text: its markup is shown, never made elements.
    await expect(snippet).to_contain_text("<b>now</b>")
    assert await snippet.locator("b").count() == 0

    await hit.click()
    jumped = message_at(page, target)
    await expect(jumped).to_be_in_viewport()
    await expect(jumped).to_have_class(re.compile(r"\bjumped\b"))
    # Its neighbours are there, the newest messages are not: a window far back.
    await expect(message(page, "before the needle")).to_be_visible()
    await expect(message(page, "filler 000")).to_be_visible()
    await expect(message(page, f"filler {FILLER - 1:03d}")).to_have_count(0)
    jump = page.get_by_test_id("jump-latest")
    await expect(jump).to_be_visible()
    await expect(jump).to_have_text(re.compile("Jump to recent messages"))

    # A message that comes now is not shown below the old ones, out of place;
    # it counts as unread (the bottom here is not the present).
    await web.post(bob, "general", "meanwhile, in the present")
    await expect(channel_item(page, "general").get_by_test_id("unread-badge")).to_have_text("1")
    await expect(message(page, "meanwhile, in the present")).to_have_count(0)

    # Back to the present: the newest page, live again.
    await jump.click()
    await expect(message(page, "meanwhile, in the present")).to_be_in_viewport()
    await expect(message_at(page, target)).to_have_count(0)
    await web.post(bob, "general", "and live again")
    await expect(message(page, "and live again")).to_be_in_viewport()
    texts = await page.get_by_test_id("message-text").all_text_contents()
    assert texts[-3:] == [f"filler {FILLER - 1:03d}", "meanwhile, in the present", "and live again"]


async def test_scrolling_down_from_a_result_reaches_the_present(web: Web) -> None:
    alice = await web.user("alice")
    target = (await web.post(alice, "general", "quartz marker"))["seq"]
    for i in range(120):
        await web.post(alice, "general", f"after {i:03d}")
    page = await web.page(alice, channel="general")
    await search(page, "quartz")
    await page.get_by_test_id("search-result").first.click()
    await expect(message_at(page, target)).to_be_in_viewport()
    listing = page.get_by_test_id("message-list")
    items = page.get_by_test_id("message")
    newer = page.get_by_test_id("history-loading-newer")
    await expect(newer).to_have_count(1)
    for _ in range(10):
        if not await newer.count():
            break
        before = await items.count()
        await listing.evaluate("el => { el.scrollTop = el.scrollHeight; }")
        # Newer messages went in below (or the present was reached).
        await page.wait_for_function(
            "([n]) => !document.querySelector('[data-testid=history-loading-newer]') || "
            "document.querySelectorAll('[data-testid=message]').length > n",
            arg=[before],
        )
    await expect(newer).to_have_count(0)
    await expect(message(page, "after 119")).to_have_count(1)
    seqs = await items.evaluate_all("els => els.map(e => Number(e.dataset.seq))")
    assert seqs == sorted(set(seqs)) and seqs[-1] == target + 120  # in order, no gaps or twins
    assert seqs == list(range(seqs[0], seqs[-1] + 1))
    # Live again: a new message shows at the bottom.
    await web.post(alice, "general", "fresh one")
    await expect(message(page, "fresh one")).to_have_count(1)


async def test_ctrl_f_focuses_the_search_box(web: Web) -> None:
    alice = await web.user("alice")
    page = await web.page(alice, channel="general")
    await expect(page.get_by_test_id("composer")).to_be_focused()
    await page.keyboard.press("Control+f")
    await expect(page.get_by_test_id("search-input")).to_be_focused()
    await page.keyboard.press("Escape")
    await expect(page.get_by_test_id("composer")).to_be_focused()
    await page.keyboard.press("Meta+f")
    await expect(page.get_by_test_id("search-input")).to_be_focused()


async def test_a_malformed_query_shows_the_servers_message(web: Web) -> None:
    alice = await web.user("alice")
    r = await web.http.get("/api/search", params={"q": "has:cats"}, headers=alice.headers)
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_query"
    said = r.json()["error"]["message"]
    page = await web.page(alice, channel="general")
    await search(page, "has:cats")
    await expect(page.get_by_test_id("search-error")).to_have_text(said)
    await expect(page.get_by_test_id("search-result")).to_have_count(0)


async def test_filter_chips_write_the_query_and_more_pages(web: Web) -> None:
    alice, bob = await web.user("alice", "Alice Chen"), await web.user("bob", "Bob Martin")
    await web.join(bob, "general")
    await web.channel(alice, "ops")
    await web.join(bob, "ops")
    for i in range(25):
        await web.post(alice, "general", f"rocket launch {i:02d}")
    await web.post(bob, "ops", "rocket fuel https://example.com/fuel")
    root = (await web.post(bob, "ops", "rocket thread root"))["seq"]
    await web.reply(alice, "ops", root, "rocket reply in a thread")

    page = await web.page(alice, channel="general")
    await search(page, "rocket")
    results = page.get_by_test_id("search-result")
    await expect(results).to_have_count(20)  # a page
    more = page.get_by_test_id("search-more")
    await expect(more).to_be_visible()
    await more.click()
    await expect(results).to_have_count(28)
    await expect(more).to_be_hidden()

    box = page.get_by_test_id("search-input")
    await page.get_by_test_id("search-filter-channel").select_option("#ops")
    await expect(box).to_have_value("rocket in:#ops")
    await expect(results).to_have_count(3)
    await expect(page.get_by_test_id("search-result-channel")).to_have_text(["#ops"] * 3)

    await page.get_by_test_id("search-filter-person").select_option("@bob")
    await expect(box).to_have_value("rocket in:#ops from:@bob")
    await expect(results).to_have_count(2)

    links = page.get_by_test_id("search-filter-has-link")
    await links.click()
    await expect(box).to_have_value("rocket in:#ops from:@bob has:link")
    await expect(links).to_have_attribute("aria-pressed", "true")
    await expect(results).to_have_count(1)
    await expect(results.first.get_by_test_id("search-snippet")).to_contain_text("fuel")
    await links.click()
    await expect(box).to_have_value("rocket in:#ops from:@bob")

    await page.get_by_test_id("search-filter-person").select_option("")
    await page.get_by_test_id("search-filter-is-thread").click()
    await expect(box).to_have_value("rocket in:#ops is:thread")
    # A thread's first message and its reply (not the one without replies).
    await expect(results.get_by_test_id("search-snippet")).to_have_text(
        ["rocket reply in a thread", "rocket thread root"]
    )

    # Dates: today, from and to, is "on:" today (the days are the browser's).
    today = await page.evaluate(
        "() => { const d = new Date(); "
        "return new Date(d - d.getTimezoneOffset() * 60000).toISOString().slice(0, 10); }"
    )
    await page.get_by_test_id("search-filter-from").fill(today)
    await expect(box).to_have_value(re.compile(r"^rocket in:#ops is:thread after:\d{4}-\d\d-\d\d$"))
    await expect(results).to_have_count(2)
    await page.get_by_test_id("search-filter-to").fill(today)
    await expect(box).to_have_value(f"rocket in:#ops is:thread on:{today}")
    await expect(results).to_have_count(2)

    # Typed by hand, the chips follow the text.
    await search(page, "rocket has:file")
    await expect(page.get_by_test_id("search-filter-has-file")).to_have_attribute(
        "aria-pressed", "true"
    )
    await expect(page.get_by_test_id("search-empty")).to_be_visible()

    # Relevance order asks again, with the same query.
    await search(page, "rocket")
    await page.get_by_test_id("search-order").select_option("relevance")
    await expect(page.get_by_test_id("search-panel")).to_have_attribute("data-state", "done")
    await expect(results).to_have_count(20)

    # Opening the result of a reply kept in its thread opens the thread.
    await search(page, '"reply in a thread"')
    await results.first.click()
    await expect(page.get_by_test_id("channel-title")).to_have_text(re.compile("ops"))
    await expect(page.get_by_test_id("thread-panel")).to_be_visible()
    await expect(page.get_by_test_id("search-panel")).to_have_count(0)
