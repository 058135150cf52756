"""Slash commands in the web app: the composer sends every `/word ...` line
but `/join` to the server (`POST /api/channels/{name}/commands`). What a
command posts shows as any message; what it answers for you only shows as
an "Only visible to you" line that is never stored (gone after a reload, not
unread); a refusal is the server's message over the box, the line kept to
fix. A custom command's server is a real HTTP server (tests/receiver.py),
answering now and later through its response_url. "/" in an empty box lists
the commands. An admin registers custom commands on the integrations page."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re

import pytest
from playwright.async_api import Locator, Page, expect

from receiver import Reply, receiving

from .helpers import Web, channel_item, menu, message, send

pytestmark = pytest.mark.asyncio(loop_scope="session")


def ephemeral(page: Page, text: str) -> Locator:
    """The "Only visible to you" line whose whole text is `text`."""
    body = page.get_by_test_id("ephemeral-text").filter(has_text=re.compile(f"^{re.escape(text)}$"))
    return page.get_by_test_id("ephemeral").filter(has=body)


async def test_shrug_and_me_post_in_the_channel(web: Web) -> None:
    alice = await web.user("alice")
    page = await web.page(alice, channel="general")
    composer = page.get_by_test_id("composer")

    await send(page, "/shrug hello")
    shrug = message(page, "hello ¯\\_(ツ)_/¯")
    await expect(shrug).to_have_attribute("data-state", "sent")
    await expect(shrug).to_have_attribute("data-author", "alice")
    await expect(shrug.get_by_test_id("message-text").locator("em")).to_have_count(0)
    await expect(composer).to_have_value("")

    # /me is the server's: "*alice waves*", shown in bold.
    await send(page, "/me waves")
    action = message(page, "alice waves")
    await expect(action).to_have_attribute("data-state", "sent")
    await expect(action.get_by_test_id("message-text").locator("strong")).to_have_text(
        "alice waves"
    )
    await expect(page.get_by_test_id("ephemeral")).to_have_count(0)
    stored = [m["text"] for m in await web.history(alice, "general")]
    assert stored == ["hello ¯\\_(ツ)_/¯", "*alice waves*"]


async def test_an_answer_for_you_only_is_never_kept(web: Web) -> None:
    alice, bob = await web.user("alice"), await web.user("bob")
    await web.channel(alice, "ops", topic="Launch day")
    await web.join(bob, "ops")
    page = await web.page(alice, channel="ops")
    composer = page.get_by_test_id("composer")
    watcher = await web.page(bob, channel="general")

    await send(page, "/topic")
    line = ephemeral(page, "The topic of #ops: Launch day")
    await expect(line).to_be_visible()
    await expect(line.get_by_test_id("ephemeral-label")).to_have_text("Only visible to you")
    await expect(line).to_have_attribute("data-command", "/topic")
    await expect(composer).to_have_value("")

    # /help's lines stay lines; its dismiss button takes an answer away.
    await send(page, "/help")
    help_line = page.get_by_test_id("ephemeral").filter(has_text="/shrug [text]")
    await expect(help_line).to_be_visible()
    help_text = await help_line.get_by_test_id("ephemeral-text").inner_text()
    assert "/shrug [text]" in help_text and help_text.count("\n") >= 5, help_text
    await help_line.get_by_test_id("ephemeral-dismiss").click()
    await expect(help_line).to_have_count(0)
    await expect(page.get_by_test_id("ephemeral")).to_have_count(1)

    # Only alice sees it: bob's ops is not unread, and has no such line.
    await expect(channel_item(watcher, "ops")).to_have_attribute("data-unread", "0")
    await channel_item(watcher, "ops").click()
    await expect(watcher.get_by_test_id("channel-title")).to_have_text("ops")
    await expect(watcher.get_by_test_id("ephemeral")).to_have_count(0)

    # Not stored: gone after a reload (the list is back: a message after it shows).
    await web.post(bob, "ops", "after the reload")
    await page.reload()
    await web.ready(page)
    await expect(message(page, "after the reload")).to_be_visible()
    await expect(page.get_by_test_id("ephemeral")).to_have_count(0)
    assert [m["text"] for m in await web.history(alice, "ops")] == ["after the reload"]


async def test_a_refused_command_stays_in_the_box(web: Web) -> None:
    alice = await web.user("alice")
    page = await web.page(alice, channel="general")
    composer = page.get_by_test_id("composer")
    notice = page.get_by_test_id("composer-notice")

    await send(page, "/nope")
    await expect(notice).to_contain_text("unknown command /nope (try /help)")
    await expect(notice).to_have_attribute("data-kind", "error")
    await expect(composer).to_have_value("/nope")
    await composer.press_sequentially(" x")  # typing on clears it
    await expect(notice).to_be_hidden()

    # A built-in's own refusal: /me needs an action.
    await send(page, "/me")
    await expect(notice).to_have_attribute("data-kind", "error")
    await expect(notice).to_be_visible()
    await expect(composer).to_have_value("/me")

    await expect(page.get_by_test_id("ephemeral")).to_have_count(0)
    assert await web.history(alice, "general") == []


async def test_a_custom_command_answers_now_and_later(web: Web) -> None:
    owner = await web.user("owner")  # the first account: the workspace's owner
    alice = await web.user("alice")
    await web.channel(alice, "ops")
    with receiving() as receiver:
        receiver.answer = lambda req: Reply(body='{"text": "Deploying…"}'.encode())
        body = {"command": "/deploy", "url": f"{receiver.url}/slack", "usage": "[env]"}
        await web.call("POST", "/api/custom-commands", owner, body)
        page = await web.page(alice, channel="ops")

        await send(page, "/deploy staging")
        await expect(ephemeral(page, "Deploying…")).to_be_visible()
        await expect(ephemeral(page, "Deploying…")).to_have_attribute("data-command", "/deploy")
        form = receiver.next().form  # it was asked before it answered
        assert (form["command"], form["text"], form["user_name"], form["channel_name"]) == (
            "/deploy",
            "staging",
            "alice",
            "ops",
        )

        # Later, through its response_url: on alice's socket, in the open channel.
        r = await web.http.post(form["response_url"], json={"text": "staging is live"})
        assert r.status_code == 200, r.text
        await expect(ephemeral(page, "staging is live")).to_be_visible()
        await expect(page.get_by_test_id("ephemeral")).to_have_count(2)

        # One for a channel that is not open waits there, not unread.
        await channel_item(page, "general").click()
        await expect(page.get_by_test_id("channel-title")).to_have_text("general")
        r = await web.http.post(form["response_url"], json={"text": "all green"})
        assert r.status_code == 200, r.text
        await expect(channel_item(page, "ops")).to_have_attribute("data-unread", "0")
        await expect(page.get_by_test_id("ephemeral")).to_have_count(0)
        await channel_item(page, "ops").click()
        await expect(ephemeral(page, "all green")).to_be_visible()
        await expect(page.get_by_test_id("ephemeral")).to_have_count(3)

        # Its server failing is the server's message over the box.
        receiver.answer = lambda req: Reply(status=500)
        await send(page, "/deploy prod")
        notice = page.get_by_test_id("composer-notice")
        await expect(notice).to_contain_text("/deploy failed")
        await expect(notice).to_have_attribute("data-kind", "error")
        await expect(page.get_by_test_id("composer")).to_have_value("/deploy prod")
    assert await web.history(alice, "ops") == []


async def test_slash_in_an_empty_box_lists_the_commands(web: Web) -> None:
    owner = await web.user("owner")
    body = {"command": "/deploy", "url": "http://127.0.0.1:9/slack", "description": "ships it"}
    await web.call("POST", "/api/custom-commands", owner, body)
    page = await web.page(owner, channel="general")
    composer = page.get_by_test_id("composer")
    options = page.get_by_test_id("command-options")

    await composer.press_sequentially("/")
    await expect(options).to_be_visible()
    shrug = options.locator('[data-testid="command-option"][data-command="/shrug"]')
    await expect(shrug.get_by_test_id("command-usage")).to_have_text("/shrug [text]")
    await expect(shrug.get_by_test_id("command-description")).not_to_be_empty()
    deploy = options.locator('[data-testid="command-option"][data-command="/deploy"]')
    await expect(deploy.get_by_test_id("command-description")).to_have_text("ships it")

    # Letters narrow it; Tab puts the command in the box.
    await composer.press_sequentially("sh")
    await expect(options.get_by_test_id("command-option")).to_have_count(1)
    await composer.press("Tab")
    await expect(composer).to_have_value("/shrug ")
    await expect(options).to_be_hidden()
    await composer.press_sequentially("done")
    await composer.press("Enter")
    await expect(message(page, "done ¯\\_(ツ)_/¯")).to_be_visible()
    await expect(composer).to_have_value("")

    # Escape closes it; a command typed in full runs on Enter.
    await composer.press_sequentially("/")
    await expect(options).to_be_visible()
    await composer.press("Escape")
    await expect(options).to_be_hidden()
    await composer.press_sequentially("help")
    await expect(options).to_be_visible()
    await composer.press("Enter")
    await expect(page.get_by_test_id("ephemeral").filter(has_text="/shrug [text]")).to_be_visible()
    await expect(options).to_be_hidden()
    # Not after text: "a /" lists nothing.
    await composer.press_sequentially("a /")
    await expect(options).to_be_hidden()


async def test_an_admin_registers_a_command_on_the_integrations_page_and_it_runs(
    web: Web,
) -> None:
    """The owner registers /ticket on the integrations page (its signing
    secret shown); anyone then runs it from the composer, signed with that
    secret; removed there, it is an unknown command. A member sees no such
    section."""
    boss, bob = await web.user("boss"), await web.user("bob")  # the first is the owner
    page = await web.page(boss, channel="general")
    with receiving() as receiver:
        receiver.answer = lambda req: Reply(body=b'{"text": "ticket #12 filed"}')
        await menu(page, "integrations")
        dialog = page.get_by_test_id("integrations-dialog")
        listed = dialog.get_by_test_id("command-list")
        await expect(listed).to_contain_text("No custom commands.")
        form = dialog.get_by_test_id("command-form")
        await form.get_by_test_id("command-name").fill("/ticket")
        await form.get_by_test_id("command-url").fill(f"{receiver.url}/slash")
        await form.get_by_test_id("command-usage").fill("[summary]")
        await form.get_by_test_id("command-description").fill("Files a ticket")
        await form.get_by_test_id("command-create").click()
        shown = dialog.get_by_test_id("command-secret")
        await expect(shown).to_have_value(re.compile(r"^[0-9a-f]{64}$"))
        secret = await shown.input_value()
        row = listed.get_by_test_id("command-item")
        await expect(row).to_contain_text("/ticket [summary]")
        await expect(row).to_contain_text(f"Files a ticket · → {receiver.url}/slash")
        await row.get_by_test_id("command-show-secret").click()
        await expect(row.get_by_test_id("command-item-secret")).to_have_value(secret)
        await page.keyboard.press("Escape")

        other = await web.page(bob, channel="general")
        await send(other, "/ticket printer on fire")
        await expect(ephemeral(other, "ticket #12 filed")).to_be_visible()
        got = await asyncio.to_thread(receiver.next)
        assert got.form["user_name"] == "bob" and got.form["text"] == "printer on fire"
        stamp = got.headers["x-slack-request-timestamp"]
        mac = hmac.new(secret.encode(), f"v0:{stamp}:".encode() + got.body, hashlib.sha256)
        assert got.headers["x-slack-signature"] == f"v0={mac.hexdigest()}"
        await menu(other, "integrations")
        await expect(other.get_by_test_id("integrations-dialog")).to_be_visible()
        await expect(other.get_by_test_id("command-list")).to_have_count(0)
        await other.keyboard.press("Escape")

        await menu(page, "integrations")
        await row.get_by_test_id("command-delete").click()
        await expect(listed).to_contain_text("No custom commands.")
    await page.keyboard.press("Escape")
    await send(page, "/ticket again")
    await expect(page.get_by_test_id("composer-notice")).to_contain_text("unknown command /ticket")
