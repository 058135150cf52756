"""The composer: Enter sends, Shift+Enter breaks the line and the box grows
(up to a limit, then scrolls), and "@" offers the people to mention."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, Route, expect

from .helpers import User, Web, message_at

pytestmark = pytest.mark.asyncio(loop_scope="session")

# Counts the /api/users answers the app has finished with: the counter moves in
# a task queued once the answer is parsed, so after the code awaiting it ran.
COUNT_USER_ANSWERS = """
window.__userAnswers = 0;
const json = Response.prototype.json;
Response.prototype.json = async function () {
    const body = await json.call(this);
    if (this.url.includes('/api/users?')) setTimeout(() => window.__userAnswers++, 0);
    return body;
};
"""


async def texts(web: Web, user: User) -> list[str]:
    return [m["text"] for m in await web.history(user, "general")]


async def height(page: Page) -> float:
    box = await page.get_by_test_id("composer").bounding_box()
    assert box is not None
    return box["height"]


async def test_enter_sends_and_shift_enter_breaks_the_line(web: Web) -> None:
    alice = await web.user("alice")
    page = await web.page(alice, channel="general")
    composer = page.get_by_test_id("composer")
    await expect(composer).to_have_js_property("tagName", "TEXTAREA")

    await composer.press_sequentially("hello")
    await composer.press("Enter")
    await expect(message_at(page, 1)).to_have_attribute("data-state", "sent")
    await expect(composer).to_have_value("")
    assert await texts(web, alice) == ["hello"]

    one_line = await height(page)
    await composer.press_sequentially("line one")
    await composer.press("Shift+Enter")
    await composer.press_sequentially("line two")
    await expect(composer).to_have_value("line one\nline two")
    assert await height(page) > one_line  # it grew with the second line
    await composer.press("Enter")
    await expect(message_at(page, 2)).to_have_attribute("data-state", "sent")
    assert await message_at(page, 2).get_by_test_id("message-text").text_content() == (
        "line one\nline two"
    )
    assert await texts(web, alice) == ["hello", "line one\nline two"]
    await expect(composer).to_have_value("")
    assert await height(page) == one_line  # and shrank back once sent

    # Many lines: it stops growing and scrolls instead.
    for i in range(30):
        await composer.press_sequentially(f"row {i}")
        await composer.press("Shift+Enter")
    box = await composer.evaluate(
        """el => [el.getBoundingClientRect().height, el.scrollHeight, el.clientHeight,
                  getComputedStyle(el).maxHeight]"""
    )
    tall, scroll_height, client_height, max_height = box
    assert tall <= float(max_height.removesuffix("px")), box
    assert scroll_height > client_height, box
    assert await texts(web, alice) == ["hello", "line one\nline two"]  # nothing sent


async def test_mention_autocomplete_inserts_the_username_without_sending(web: Web) -> None:
    alice = await web.user("alice")
    ann = await web.user("ann", "Ann Lee")
    await web.user("andy")
    await web.user("carla")
    await web.join(ann, "general")
    page = await web.page(alice, channel="general")
    composer = page.get_by_test_id("composer")
    options = page.get_by_test_id("mention-option")

    await composer.press_sequentially("lunch @an")
    await expect(page.get_by_test_id("mention-options")).to_be_visible()
    await expect(options).to_have_count(2)  # andy and ann; not carla, not me
    await expect(options.nth(1)).to_have_attribute("data-username", "ann")
    await expect(options.nth(1)).to_contain_text("Ann Lee")
    await composer.press("ArrowDown")
    await expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    await composer.press("Enter")  # picks ann: does not send
    await expect(composer).to_have_value("lunch @ann ")
    await expect(page.get_by_test_id("mention-options")).to_be_hidden()
    await composer.press_sequentially("at noon?")
    await composer.press("Enter")  # the list is closed: sends
    await expect(message_at(page, 1)).to_have_attribute("data-state", "sent")
    assert await texts(web, alice) == ["lunch @ann at noon?"]
    await expect(page.get_by_test_id("message")).to_have_count(1)

    # Tab picks too; Up wraps round to the last option, @channel.
    await composer.press_sequentially("@c")
    await expect(options).to_have_count(2)  # carla, then @channel
    await expect(options.nth(0)).to_have_attribute("data-username", "carla")
    await composer.press("ArrowUp")
    await expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    await composer.press("Tab")
    await expect(composer).to_have_value("@channel ")
    await expect(composer).to_be_focused()

    # Escape closes the list and leaves the text; Enter then sends it as typed.
    await composer.press_sequentially("ask @ca")
    await expect(options).to_have_count(1)
    await composer.press("Escape")
    await expect(page.get_by_test_id("mention-options")).to_be_hidden()
    await expect(composer).to_have_value("@channel ask @ca")
    await composer.press("Enter")
    await expect(message_at(page, 2)).to_have_attribute("data-state", "sent")
    assert await texts(web, alice) == ["lunch @ann at noon?", "@channel ask @ca"]


async def test_mention_autocomplete_ignores_a_stale_answer(web: Web) -> None:
    alice = await web.user("alice")
    await web.user("ann")
    await web.user("carla")
    ctx = await web.context()
    await ctx.add_init_script(COUNT_USER_ANSWERS)
    held: list[Route] = []

    async def hold(route: Route) -> None:
        held.append(route)  # let through below, after the answer for "an"

    q_a, q_an = re.compile(r"/api/users\?q=a&"), re.compile(r"/api/users\?q=an&")
    page = await web.page(alice, channel="general", context=ctx)
    await page.route(q_a, hold)
    composer = page.get_by_test_id("composer")
    options = page.get_by_test_id("mention-option")
    async with page.expect_request(q_a):
        await composer.press_sequentially("@a")
    async with page.expect_response(q_an):
        await composer.press_sequentially("n")
    await expect(options).to_have_count(1)
    await expect(options).to_have_attribute("data-username", "ann")
    await page.wait_for_function("() => window.__userAnswers === 1")

    # The answer for "a" (carla, ann) comes last: the list stays the one for "an".
    await held[0].continue_()
    await page.wait_for_function("() => window.__userAnswers === 2")
    await expect(options).to_have_count(1)
    await expect(options).to_have_attribute("data-username", "ann")
