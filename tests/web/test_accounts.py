"""Accounts in the web app: who may sign up (open, invite-only, closed, and the
first account of a new workspace, its owner's), invite links, and your
account dialog: display name and custom status (seen by others), a new
password, your sessions (revoking one signs that device out at once), and
signing out for real (the token is refused afterwards)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.async_api import expect

from support import Server

from .helpers import (
    PASSWORD,
    User,
    Web,
    channel_item,
    expect_signed_out,
    fill_sign_up,
    menu,
    open_account,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_open_sign_up_and_the_first_account_is_the_owner(web: Web) -> None:
    # A new workspace (open sign-up, as the test server runs): the sign-in
    # screen says the first account sets it up.
    page = await web.page()
    await expect(page.get_by_test_id("auth")).to_have_attribute("data-setup", "true")
    toggle = page.get_by_test_id("auth-toggle")
    await expect(toggle).to_have_text("Set up this workspace")
    await toggle.click()
    await expect(page.get_by_test_id("auth-lead")).to_contain_text(
        "You are setting up this workspace"
    )
    await fill_sign_up(page, "ann", "Ann Lee")
    await web.ready(page)
    # The owner has the administration in their menu.
    await page.get_by_test_id("user-menu").click()
    await expect(page.get_by_test_id("menu-admin")).to_be_visible()

    # The next visitor: anyone may sign up, as a member, with nothing said of setting up.
    other = await web.page()
    await expect(other.get_by_test_id("auth")).to_have_attribute("data-setup", "false")
    await expect(other.get_by_test_id("auth-toggle")).to_have_text("Create an account")
    await other.get_by_test_id("auth-toggle").click()
    await expect(other.get_by_test_id("auth-lead")).not_to_contain_text("setting up")
    await fill_sign_up(other, "bob")
    await web.ready(other)
    await other.get_by_test_id("user-menu").click()
    await expect(other.get_by_test_id("menu-account")).to_be_visible()
    await expect(other.get_by_test_id("menu-admin")).to_have_count(0)


async def test_invite_only_sign_up(web: Web, server_factory: Callable[..., Server]) -> None:
    web.use(server_factory("--registration", "invite"))
    # An empty invite-only workspace still takes its first account: the owner's.
    first = await web.page()
    await expect(first.get_by_test_id("auth")).to_have_attribute("data-registration", "invite")
    await first.get_by_test_id("auth-toggle").click()
    await expect(first.get_by_test_id("auth-lead")).to_contain_text(
        "You are setting up this workspace"
    )
    await fill_sign_up(first, "ann", "Ann Lee")
    await web.ready(first)
    ann = await web.login("ann")
    users = await web.call("GET", "/api/users?q=ann", ann)
    assert users[0]["role"] == "owner"

    # From now on: no sign-up form without an invite, and a line saying how.
    page = await web.page()
    await expect(page.get_by_test_id("auth-form")).to_have_attribute("data-mode", "login")
    await expect(page.get_by_test_id("auth-toggle")).to_have_count(0)
    await expect(page.get_by_test_id("auth-no-signup")).to_contain_text("invitation")

    # An invite link opens the sign-up form; the account joins the invite's channels.
    await web.channel(ann, "lobby")
    await web.post(ann, "lobby", "welcome aboard")
    invite = await web.invite(ann, channels=("lobby",))
    guest = await (await web.context()).new_page()
    await guest.goto(web.server.url + invite["path"])
    await expect(guest.get_by_test_id("auth-form")).to_have_attribute("data-mode", "register")
    await expect(guest.get_by_test_id("auth")).to_have_attribute("data-invited", "true")
    await expect(guest.get_by_role("heading", name="You were invited")).to_be_visible()
    await fill_sign_up(guest, "cid", "Cid")
    await web.ready(guest)
    await expect(channel_item(guest, "lobby")).to_be_visible()
    assert "invite" not in guest.url
    await channel_item(guest, "lobby").click()
    await expect(guest.get_by_test_id("message-text")).to_have_text(["welcome aboard"])

    # The same link again: used up, and the server says so.
    late = await (await web.context()).new_page()
    await late.goto(web.server.url + invite["path"])
    await fill_sign_up(late, "dee")
    await expect(late.get_by_test_id("auth-error")).to_contain_text(
        "this invite is expired, used up or unknown"
    )
    await expect(late.get_by_test_id("auth-form")).to_be_visible()


async def test_closed_sign_up(web: Web, server_factory: Callable[..., Server]) -> None:
    web.use(server_factory("--registration", "closed"))
    # Not even a closed workspace is left without an owner.
    page = await web.page()
    await expect(page.get_by_test_id("auth-toggle")).to_have_text("Set up this workspace")
    await web.user("ann")
    await page.reload()
    await expect(page.get_by_test_id("auth")).to_have_attribute("data-setup", "false")
    await expect(page.get_by_test_id("auth-form")).to_have_attribute("data-mode", "login")
    await expect(page.get_by_test_id("auth-toggle")).to_have_count(0)
    await expect(page.get_by_test_id("auth-no-signup")).to_have_text(re.compile("made by an admin"))


async def test_display_name_and_status_are_seen_by_others(web: Web) -> None:
    alice, bob = await web.user("alice", "Alice Chen"), await web.user("bob", "Bob Martin")
    dm = await web.call("POST", "/api/dms", bob, {"usernames": ["alice"]})
    await web.post(alice, dm["name"], "hi bob")
    pb = await web.page(bob, channel="general")
    dm_item = channel_item(pb, dm["name"])
    await expect(dm_item.get_by_test_id("channel-name")).to_have_text("Alice Chen")

    pa = await web.page(alice, channel="general")
    dialog = await open_account(pa)
    await dialog.get_by_test_id("account-display-name").fill("Alice Cooper")
    await dialog.get_by_test_id("status-emoji-input").fill("🌴")
    await dialog.get_by_test_id("status-text").fill("On holiday")
    await dialog.get_by_test_id("status-clear-after").select_option("hour")
    await dialog.get_by_test_id("profile-save").click()
    await expect(pa.get_by_test_id("toast").filter(has_text="Profile saved.")).to_be_visible()
    await expect(pa.get_by_test_id("me-name")).to_have_text("Alice Cooper")
    mine = pa.get_by_test_id("me").get_by_test_id("status-emoji")
    await expect(mine).to_have_text("🌴")
    await expect(mine).to_have_attribute("title", "On holiday")

    # Bob sees both at once, beside her name in the sidebar and the DM's header.
    await expect(dm_item.get_by_test_id("channel-name")).to_have_text("Alice Cooper")
    mark = dm_item.get_by_test_id("status-emoji")
    await expect(mark).to_have_text("🌴")
    await expect(mark).to_have_attribute("title", "On holiday")
    await dm_item.click()
    await expect(pb.get_by_test_id("channel-title").get_by_test_id("status-emoji")).to_have_text(
        "🌴"
    )
    me = await web.call("GET", "/api/users/alice", bob)
    assert me["display_name"] == "Alice Cooper"
    assert me["custom_status"]["text"] == "On holiday" and me["custom_status"]["until"]

    # Cleared: gone on both sides.
    await dialog.get_by_test_id("dialog-close").click()
    await expect(dialog).to_have_count(0)
    dialog = await open_account(pa)
    await expect(dialog.get_by_test_id("status-text")).to_have_value("On holiday")
    await dialog.get_by_test_id("status-clear").click()
    await expect(mine).to_have_count(0)
    await expect(mark).to_have_count(0)


async def test_sessions_revoke_and_sign_out_everywhere(web: Web) -> None:
    alice = await web.user("alice")  # this device's session
    laptop, phone = await web.login("alice"), await web.login("alice")
    here = await web.page(alice, channel="general")
    on_laptop = await web.page(laptop, channel="general")
    on_phone = await web.page(phone, channel="general")

    dialog = await open_account(here)
    rows = dialog.get_by_test_id("session-item")
    await expect(rows).to_have_count(3)
    current = rows.filter(has=here.get_by_test_id("session-current"))
    await expect(current).to_have_count(1)
    await expect(current).to_contain_text("This device")
    await expect(current).to_contain_text("127.0.0.1")

    # Revoke the laptop's: that tab is signed out at once, saying why; the others stay.
    laptop_id = await session_id(web, laptop)
    await dialog.locator(f'[data-session="{laptop_id}"]').get_by_test_id("session-revoke").click()
    await expect(rows).to_have_count(2)
    await expect_signed_out(on_laptop, "session was ended")
    await expect(on_phone.get_by_test_id("app")).to_have_attribute("data-connection", "open")

    # Everywhere else: the last other tab goes too; this one stays.
    await dialog.get_by_test_id("sessions-revoke-others").click()
    await expect_signed_out(on_phone, "session was ended")
    await expect(rows).to_have_count(1)
    await expect(here.get_by_test_id("app")).to_have_attribute("data-connection", "open")
    assert await web.me_status(laptop) == 401 and await web.me_status(phone) == 401

    # Signing out ends this session on the server too.
    async with here.expect_response("**/api/auth/logout") as logout:
        await dialog.get_by_test_id("account-signout").click()
    assert (await logout.value).status == 204
    await expect(here.get_by_test_id("auth-form")).to_be_visible()
    await expect(here.get_by_test_id("auth-error")).to_be_empty()
    assert await web.me_status(alice) == 401


async def test_new_password_signs_the_other_sessions_out(web: Web) -> None:
    alice = await web.user("alice")
    other = await web.login("alice")
    here = await web.page(alice, channel="general")
    there = await web.page(other, channel="general")
    dialog = await open_account(here)
    await dialog.get_by_test_id("password-current").fill("not it at all")
    await dialog.get_by_test_id("password-new").fill("a brand new password")
    await dialog.get_by_test_id("password-save").click()
    await expect(dialog.get_by_test_id("password-error")).to_have_text(
        "That is not your current password."
    )
    await dialog.get_by_test_id("password-current").fill(PASSWORD)
    await dialog.get_by_test_id("password-save").click()
    await expect(dialog.get_by_test_id("password-done")).to_contain_text(
        "other sessions were signed out"
    )
    await expect_signed_out(there, "session was ended")
    await expect(dialog.get_by_test_id("session-item")).to_have_count(1)
    await expect(here.get_by_test_id("app")).to_have_attribute("data-connection", "open")
    # The new password signs in; the menu's Sign out works as the dialog's.
    await here.keyboard.press("Escape")
    await expect(dialog).to_have_count(0)
    await menu(here, "signout")
    await here.get_by_test_id("auth-username").fill("alice")
    await here.get_by_test_id("auth-password").fill("a brand new password")
    await here.get_by_test_id("auth-submit").click()
    await web.ready(here)


async def session_id(web: Web, user: User) -> str:
    """The id of the session of `user`'s token."""
    sessions = await web.call("GET", "/api/sessions", user)
    return str(next(s["id"] for s in sessions if s["current"]))


async def test_members_invite_people_where_the_workspace_lets_them(
    web: Web, server_factory: Callable[..., Server]
) -> None:
    # Without --member-invites a member's menu has no "Invite people".
    await web.user("alice")
    bob = await web.user("bob")
    pb = await web.page(bob, channel="general")
    await pb.get_by_test_id("user-menu").click()
    await expect(pb.get_by_test_id("menu-account")).to_be_visible()
    await expect(pb.get_by_test_id("menu-invite")).to_have_count(0)

    web.use(server_factory("--registration", "invite", "--member-invites"))
    owner = await web.user("olive")  # a new workspace's first account
    await web.channel(owner, "lobby")
    await web.post(owner, "lobby", "welcome to the lobby")
    code = (await web.invite(owner))["path"].rsplit("/", 1)[1]
    r = await web.http.post(
        "/api/auth/register", json={"username": "max", "password": PASSWORD, "invite": code}
    )
    assert r.status_code == 201, r.text
    max_ = User("max", r.json()["token"], "max")
    assert r.json()["user"]["role"] == "member"
    await web.join(max_, "lobby")

    # Max, a member: "Invite people" makes a guest's link into #lobby.
    pm = await web.page(max_, channel="general")
    await menu(pm, "invite")
    dialog = pm.get_by_test_id("invite-dialog")
    await expect(dialog).to_be_visible()
    await expect(dialog.get_by_test_id("invite-role").locator("option")).to_have_text(
        ["Member", "Guest"]
    )
    await dialog.get_by_test_id("invite-role").select_option("guest")
    await dialog.get_by_test_id("invite-create").click()
    await expect(dialog.get_by_test_id("invite-error")).to_contain_text("pick at least one")
    await dialog.locator('[data-testid="invite-channel"][data-channel="lobby"]').check()
    await dialog.get_by_test_id("invite-create").click()
    link = dialog.get_by_test_id("invite-link")
    await expect(link).to_have_value(re.compile(re.escape(web.server.url) + r"/#/invite/\S+"))
    url = await link.input_value()
    await dialog.get_by_test_id("invite-copy").click()
    await expect(dialog.get_by_test_id("invite-copied")).not_to_be_empty()

    # It signs someone up: a guest, in #lobby only.
    ctx = await web.context()
    pn = await ctx.new_page()
    await pn.goto(url)
    await fill_sign_up(pn, "nina", "Nina Park")
    await web.ready(pn)
    await expect(channel_item(pn, "lobby")).to_have_count(1)
    await expect(channel_item(pn, "general")).to_have_count(0)
    nina = await web.login("nina")
    me = await web.call("GET", "/api/me", nina)
    assert me["role"] == "guest"
