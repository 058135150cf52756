"""The integrations page (your menu, "Integrations", #17): make an API token
(shown once, then listed without its secret), see it used, revoke it; make a
bot, give it a token, see what it posts, and deactivate it."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from .helpers import Web, menu, message

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_a_token_made_in_the_web_app_works_until_revoked(web: Web) -> None:
    ann = await web.user("ann")
    page = await web.page(ann, channel="general")
    await menu(page, "integrations")
    dialog = page.get_by_test_id("integrations-dialog")
    mine = dialog.locator('[data-testid=token-list][data-bot=""]')
    await expect(mine).to_contain_text("No tokens.")
    form = dialog.get_by_test_id("token-form").first
    await form.get_by_test_id("token-name").fill("deploy script")
    await form.get_by_test_id("token-create").click()
    link = dialog.get_by_test_id("token-link")
    await expect(link).to_have_value(re.compile(r"^hbt\."))
    token = await link.input_value()
    rows = mine.get_by_test_id("token-item")
    await expect(rows).to_have_count(1)
    await expect(rows).to_contain_text("deploy script")
    await expect(rows).to_contain_text("read, write")
    await expect(rows).to_contain_text("never used")
    assert token not in await dialog.inner_text()  # only the field holds it

    # the script posts with it; the page, reopened, says it was used
    r = await web.http.post(
        "/api/channels/general/messages",
        json={"text": "deployed v2", "client_id": "deploy-1"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 201, r.text
    await expect(message(page, "deployed v2")).to_be_visible()
    await page.keyboard.press("Escape")
    await menu(page, "integrations")
    await expect(mine.get_by_test_id("token-item")).to_contain_text("last used")

    await mine.get_by_test_id("token-revoke").click()
    await expect(mine).to_contain_text("No tokens.")
    r = await web.http.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "session_ended"


async def test_a_bot_with_its_own_token_posts_as_a_bot(web: Web) -> None:
    ann = await web.user("ann")
    page = await web.page(ann, channel="general")
    await menu(page, "integrations")
    dialog = page.get_by_test_id("integrations-dialog")
    await dialog.get_by_test_id("bot-username").fill("ci-bot")
    await dialog.get_by_test_id("bot-display-name").fill("CI")
    await dialog.get_by_test_id("bot-create").click()
    bot = dialog.locator('[data-testid=bot-item][data-bot="ci-bot"]')
    await expect(bot).to_contain_text("BOT")
    await expect(bot).to_contain_text("owner @ann")
    await bot.get_by_test_id("token-name").fill("builds")
    await bot.get_by_test_id("token-create").click()
    token = await bot.get_by_test_id("token-link").input_value()
    assert token.startswith("hbt.")
    await expect(bot.get_by_test_id("token-item")).to_contain_text("builds")
    # ann's own list stays empty: that token is the bot's
    await expect(dialog.locator('[data-testid=token-list][data-bot=""]')).to_contain_text(
        "No tokens."
    )
    headers = {"Authorization": f"Bearer {token}"}
    assert (await web.http.post("/api/channels/general/join", headers=headers)).status_code == 200
    r = await web.http.post(
        "/api/channels/general/messages",
        json={"text": "build 7 passed", "client_id": "b-7"},
        headers=headers,
    )
    assert r.status_code == 201 and r.json()["author"]["username"] == "ci-bot", r.text
    await expect(message(page, "build 7 passed")).to_be_visible()

    # deactivating it ends its token at once
    await bot.get_by_test_id("bot-toggle").click()
    await expect(bot).to_contain_text("deactivated")
    r = await web.http.get("/api/me", headers=headers)
    assert r.status_code == 401 and r.json()["error"]["code"] == "account_deactivated"
