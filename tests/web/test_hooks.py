"""Incoming webhooks on the integrations page (your menu, "Integrations"):
make one for a channel (its URL shown once, with a curl line), see what
Slack's incoming-webhook JSON posts through it (the `username` override shown
as the name, marked "via @account" so a hook cannot pass for a person), and
delete it (its URL is a 404 from then on); make one that posts as a bot.
And an outgoing one: made on the page, delivering signed, its answer shown,
its deliveries counted on its row."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re

import pytest
from playwright.async_api import expect

from receiver import Reply, receiving

from .helpers import Web, menu, message

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_a_hook_made_in_the_web_app_posts_until_deleted(web: Web) -> None:
    ann = await web.user("ann", "Ann Lee")
    page = await web.page(ann, channel="general")
    await menu(page, "integrations")
    dialog = page.get_by_test_id("integrations-dialog")
    hooks = dialog.get_by_test_id("hook-list")
    await expect(hooks).to_contain_text("No webhooks.")
    form = dialog.get_by_test_id("hook-form")
    await expect(form.get_by_test_id("hook-channel")).to_have_value("general")  # the open one
    await expect(form.get_by_test_id("hook-bot")).to_have_value("")  # as me
    await form.get_by_test_id("hook-name").fill("CI builds")
    await form.get_by_test_id("hook-create").click()
    link = dialog.get_by_test_id("hook-link")
    await expect(link).to_have_value(re.compile(r"^http://.+/hooks/[A-Za-z0-9_-]{20,}$"))
    url = await link.input_value()
    secret = url.rsplit("/", 1)[1]
    await expect(dialog.get_by_test_id("hook-curl")).to_have_value(
        f"curl -X POST -H 'Content-Type: application/json' -d '{{\"text\":\"Hello\"}}' {url}"
    )
    rows = hooks.get_by_test_id("hook-item")
    await expect(rows).to_have_count(1)
    for part in ("CI builds", "#general", "posts as @ann", "made by @ann"):
        await expect(rows).to_contain_text(part)
    assert secret not in await hooks.inner_text()  # the list never holds it
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()

    # A script posts Slack's JSON to it: the message arrives live, named as
    # the script asked, with the account it came from beside that name.
    r = await web.http.post(url, json={"text": "build *green*", "username": "CI"})
    assert r.status_code == 200 and r.text == "ok", r.text
    posted = message(page, "build green")
    await expect(posted).to_be_visible()
    await expect(posted).to_have_attribute("data-author", "ann")
    await expect(posted.get_by_test_id("message-author")).to_have_text("CI")
    await expect(posted.get_by_test_id("message-via")).to_have_text("via @ann")
    await expect(posted.locator(".msg-text strong")).to_have_text("green")
    # ann's own message after it is hers, under her own name (a group of its
    # own, not the hook's): the app did not take "CI" for her name.
    await web.post(ann, "general", "that was me")
    mine = message(page, "that was me")
    await expect(mine.get_by_test_id("message-author")).to_have_text("Ann Lee")
    await expect(mine.get_by_test_id("message-via")).to_have_count(0)
    await expect(mine.get_by_test_id("message-bot")).to_have_count(0)  # a person's

    # Reopened, the page lists the hook but never shows its URL again.
    await menu(page, "integrations")
    await expect(rows).to_have_count(1)
    await expect(dialog.get_by_test_id("hook-link")).to_have_count(0)
    assert secret not in await dialog.inner_text()

    await rows.get_by_test_id("hook-delete").click()
    await expect(hooks).to_contain_text("No webhooks.")
    r = await web.http.post(url, json={"text": "too late"})
    assert r.status_code == 404, r.text


async def test_a_hook_posts_as_a_bot_picked_in_the_form(web: Web) -> None:
    ann = await web.user("ann", "Ann Lee")
    bot = await web.call(
        "POST", "/api/bots", ann, {"username": "deploy-bot", "display_name": "Deployer"}
    )
    assert bot["username"] == "deploy-bot", bot
    page = await web.page(ann, channel="general")
    await menu(page, "integrations")
    dialog = page.get_by_test_id("integrations-dialog")
    form = dialog.get_by_test_id("hook-form")
    pick = form.get_by_test_id("hook-bot")
    await expect(pick.locator('option[value="deploy-bot"]')).to_have_text("Deployer (@deploy-bot)")
    await pick.select_option("deploy-bot")
    await form.get_by_test_id("hook-name").fill("deploys")
    await form.get_by_test_id("hook-create").click()
    link = dialog.get_by_test_id("hook-link")
    await expect(link).to_have_value(re.compile(r"/hooks/"))
    url = await link.input_value()
    await expect(dialog.get_by_test_id("hook-result")).to_contain_text("as @deploy-bot")
    row = dialog.get_by_test_id("hook-item")
    await expect(row).to_contain_text("posts as @deploy-bot")
    await expect(row).to_contain_text("made by @ann")
    await page.keyboard.press("Escape")

    # Without a username override it is the bot's own message, under its name;
    # with one, that name, marked as coming from the bot.
    r = await web.http.post(url, json={"text": "deployed v3"})
    assert r.status_code == 200, r.text
    plain = message(page, "deployed v3")
    await expect(plain).to_have_attribute("data-author", "deploy-bot")
    await expect(plain.get_by_test_id("message-author")).to_have_text("Deployer")
    await expect(plain.get_by_test_id("message-via")).to_have_count(0)
    await expect(plain.get_by_test_id("message-bot")).to_have_text("BOT")  # a bot's, marked
    r = await web.http.post(url, json={"text": "rolled back v3", "username": "Ann Lee"})
    assert r.status_code == 200, r.text
    named = message(page, "rolled back v3")
    await expect(named).to_have_attribute("data-author", "deploy-bot")
    await expect(named.get_by_test_id("message-author")).to_have_text("Ann Lee")
    await expect(named.get_by_test_id("message-via")).to_have_text("via @deploy-bot")


async def test_an_outgoing_hook_made_in_the_web_app_delivers_and_its_answer_shows(
    web: Web,
) -> None:
    """The integrations page makes an outgoing webhook for the open channel;
    the test's receiver gets the channel's messages signed with the secret
    the page shows; its answer appears in the channel; the row says how
    many were delivered; Delete ends it."""
    ann = await web.user("ann", "Ann Lee")
    page = await web.page(ann, channel="general")
    with receiving() as receiver:
        receiver.answer = lambda req: Reply(
            body=json.dumps({"text": f"filed: {req.form['text']}"}).encode()
        )
        await menu(page, "integrations")
        dialog = page.get_by_test_id("integrations-dialog")
        outgoing = dialog.get_by_test_id("outgoing-list")
        await expect(outgoing).to_contain_text("No webhooks.")
        form = dialog.get_by_test_id("outgoing-form")
        await expect(form.get_by_test_id("outgoing-channel")).to_have_value("general")
        await form.get_by_test_id("outgoing-name").fill("Tickets")
        await form.get_by_test_id("outgoing-url").fill(f"{receiver.url}/tickets")
        await form.get_by_test_id("outgoing-triggers").fill("ticket, bug")
        await form.get_by_test_id("outgoing-create").click()
        shown = dialog.get_by_test_id("outgoing-secret")
        await expect(shown).to_have_value(re.compile(r"^[0-9a-f]{64}$"))
        secret = await shown.input_value()
        row = outgoing.get_by_test_id("outgoing-item")
        await expect(row).to_contain_text("#general starting with ticket, bug")
        await expect(row.get_by_test_id("outgoing-state")).to_have_text("0 delivered")
        await page.keyboard.press("Escape")

        await web.post(ann, "general", "no trigger here")
        await web.post(ann, "general", "ticket: the printer is on fire")
        got = await asyncio.to_thread(receiver.next)
        assert got.path == "/tickets" and got.form["trigger_word"] == "ticket"
        stamp = got.headers["x-slack-request-timestamp"]
        mac = hmac.new(secret.encode(), f"v0:{stamp}:".encode() + got.body, hashlib.sha256)
        assert got.headers["x-slack-signature"] == f"v0={mac.hexdigest()}"
        answer = message(page, "filed: ticket: the printer is on fire")
        await expect(answer).to_have_attribute("data-author", "ann")

        await menu(page, "integrations")
        await expect(row.get_by_test_id("outgoing-state")).to_have_text("1 delivered")
        await row.get_by_test_id("outgoing-show-secret").click()
        await expect(row.get_by_test_id("outgoing-item-secret")).to_have_value(secret)
        await row.get_by_test_id("outgoing-delete").click()
        await expect(outgoing).to_contain_text("No webhooks.")
        await page.keyboard.press("Escape")
        await web.post(ann, "general", "ticket: after it was deleted")
        await expect(message(page, "ticket: after it was deleted")).to_be_visible()
    assert receiver.requests.empty()
