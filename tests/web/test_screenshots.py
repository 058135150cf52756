"""Screenshots of the channel view for the docs, in the light and dark themes
(docs/screenshots/channel-light.png and channel-dark.png, 1280x800), of
messages that were reacted to, edited and deleted (reactions.png), of a
thread open in the side panel, with a pinned message (thread-panel.png),
of the Administration dialog's members and their roles (admin.png), and of
files (an image inline, a document's card) with search results beside them
(files-search.png)."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from playwright.async_api import expect

from support import Server, ws_connect

from .helpers import (
    User,
    Web,
    admin_member,
    channel_item,
    message,
    message_at,
    message_in,
    open_admin,
    thread_panel,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

# The README's copies are refreshed only on request
# (HUBBUB_UPDATE_SCREENSHOTS=1 ./scripts/test tests/web/test_screenshots.py),
# so a test run leaves the work tree clean.
DOCS_SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

CONVERSATION = [
    ("bob", "Morning all! Release 2.3 is out, with *resume after restarts* and the new web app."),
    ("bob", "Release notes: https://hubbub.example.com/releases/2.3"),
    ("carol", "Nice! The new sidebar looks _so_ much cleaner."),
    ("carol", "@alice can you double-check the `--allow-guests` docs before we announce it?"),
    (
        "dave",
        "Heads up: staging restarts at 3pm for the Postgres upgrade. Clients reconnect "
        "on their own and resume from their last `seq`, so nothing gets lost.",
    ),
    ("alice", "On it. I'll post a summary in #engineering once I'm done."),
    ("erin", "Lunch & learn on Thursday: *why seq beats timestamps*. Bring questions!"),
    ("bob", "Count me in."),
]


async def test_channel_view_screenshots(
    web: Web, server_factory: Callable[..., Server], tmp_path: Path
) -> None:
    shots_dir = DOCS_SHOTS if os.environ.get("HUBBUB_UPDATE_SCREENSHOTS") else tmp_path
    # A long typing_ttl keeps the indicator up for both shots.
    web.use(server_factory("--limit", "typing_ttl=60"))
    names = {
        "alice": "Alice Chen",
        "bob": "Bob Martin",
        "carol": "Carol Diaz",
        "dave": "Dave Kim",
        "erin": "Erin Novak",
    }
    users: dict[str, User] = {u: await web.user(u, d) for u, d in names.items()}
    alice = users["alice"]
    general = "/api/channels/general/topic"  # made by alice's registration
    await web.call(
        "PUT", general, alice, {"topic": "Company-wide announcements and work-based matters"}
    )
    await web.channel(alice, "design", topic="Pixels and prototypes")
    await web.channel(alice, "engineering", topic="Build, ship, repeat")
    await web.channel(alice, "random", topic="Non-work banter")
    await web.channel(alice, "leadership", private=True, topic="Planning")
    for u in ("bob", "carol", "dave", "erin"):
        await web.join(users[u], "general")
        await web.join(users[u], "random")
    await web.join(users["bob"], "engineering")
    await web.join(users["dave"], "engineering")
    await web.join(users["carol"], "design")
    await web.call("POST", "/api/channels/leadership/invite", alice, {"username": "erin"})

    for author, text in CONVERSATION:
        sent = await web.post(users[author], "general", text)
        if author == "alice":  # she has read everything up to her own message
            await web.call("POST", "/api/channels/general/read", alice, {"seq": sent["seq"]})
    await web.post(users["dave"], "engineering", "CI is green again after the flaky test fix.")
    await web.post(users["dave"], "engineering", "@alice the migration PR is ready for review")
    await web.post(users["bob"], "engineering", "I'll take the second look.")
    for i in range(5):
        await web.post(users["erin"], "random", f"photo dump {i}")
    await web.call("POST", "/api/dms", alice, {"usernames": ["bob"]})
    await web.call("POST", "/api/dms", alice, {"usernames": ["erin"]})
    group = await web.call("POST", "/api/dms", users["carol"], {"usernames": ["alice", "dave"]})
    await web.post(users["carol"], group["name"], "Dinner Friday?")
    await web.post(users["dave"], group["name"], "Yes!")

    bob_url = f"{web.server.ws_url}?token={users['bob'].token}"
    carol_url = f"{web.server.ws_url}?token={users['carol'].token}"
    async with ws_connect(bob_url) as bob_ws, ws_connect(carol_url) as carol_ws:
        await bob_ws.expect("hello")
        await carol_ws.expect("hello")
        page = await web.page(alice, channel="general", width=1280, height=800)
        await expect(message(page, "Count me in.")).to_be_in_viewport()
        dm_bob = channel_item(page, "dm:alice,bob")
        await expect(dm_bob.get_by_test_id("presence-dot")).to_have_attribute(
            "data-status", "online"
        )
        await carol_ws.request({"action": "typing", "channel": "general"})
        typing = page.get_by_test_id("typing-indicator")
        await expect(typing).to_have_text("Carol Diaz is typing…")
        await expect(
            channel_item(page, "engineering").get_by_test_id("mention-badge")
        ).to_be_visible()
        await page.mouse.move(640, 300)  # no hover highlight on a message
        await page.mouse.move(1270, 60)

        shots_dir.mkdir(parents=True, exist_ok=True)
        for scheme in ("light", "dark"):
            await page.emulate_media(color_scheme=scheme)
            assert await page.evaluate(f"matchMedia('(prefers-color-scheme: {scheme})').matches")
            await page.screenshot(path=shots_dir / f"channel-{scheme}.png")
    for scheme in ("light", "dark"):
        assert (shots_dir / f"channel-{scheme}.png").stat().st_size > 10_000


async def test_reactions_screenshot(
    web: Web, server_factory: Callable[..., Server], tmp_path: Path
) -> None:
    shots_dir = DOCS_SHOTS if os.environ.get("HUBBUB_UPDATE_SCREENSHOTS") else tmp_path
    web.use(server_factory())
    names = {"alice": "Alice Chen", "bob": "Bob Martin", "carol": "Carol Diaz", "dave": "Dave Kim"}
    users: dict[str, User] = {u: await web.user(u, d) for u, d in names.items()}
    alice, bob, carol, dave = (users[u] for u in names)
    await web.channel(alice, "design", topic="Pixels and prototypes")
    for u in (bob, carol, dave):
        await web.join(u, "design")

    async def post(user: User, text: str) -> int:
        seq: int = (await web.post(user, "design", text))["seq"]
        return seq

    flow = await post(
        bob, "First pass at the new onboarding flow: https://hubbub.example.com/design/onboarding"
    )
    bigger = await post(
        carol, "Love the illustrations. Could the sign-up button be bigger on phones?"
    )
    bumped = await post(bob, "Good call: bumped it to 40px.")
    oops = await post(dave, "wrong channel, sorry")
    ship = await post(alice, "Looks great to me. Ship it! 🚀")
    await web.edit(bob, "design", bumped, "Good call: bumped it to 44px, the touch target minimum.")
    await web.delete(dave, "design", oops)
    for user, seq, emoji in [
        (alice, flow, ":tada:"),
        (carol, flow, ":tada:"),
        (dave, flow, ":tada:"),
        (carol, flow, ":heart_eyes:"),
        (bob, bigger, ":+1:"),
        (alice, bigger, ":+1:"),
        (carol, bumped, ":white_check_mark:"),
        (bob, ship, ":rocket:"),
        (carol, ship, ":rocket:"),
        (dave, ship, ":rocket:"),
        (bob, ship, ":heart:"),
        (dave, ship, ":100:"),
    ]:
        await web.react(user, "design", seq, emoji)
    await web.call("POST", "/api/channels/design/read", alice, {"seq": 1000})

    page = await web.page(alice, channel="design", width=1280, height=800)
    last = message_at(page, ship)
    await expect(last.get_by_test_id("reaction")).to_have_count(3)
    await expect(message_at(page, flow).get_by_test_id("reaction").first).to_have_attribute(
        "title", "Carol Diaz, Dave Kim and you reacted with 🎉"
    )
    await expect(message_at(page, oops).get_by_test_id("message-tombstone")).to_be_visible()
    await page.emulate_media(color_scheme="light")
    await last.hover()  # its actions: react, edit, delete
    await expect(last.get_by_test_id("action-edit")).to_be_visible()
    shots_dir.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=shots_dir / "reactions.png")
    assert (shots_dir / "reactions.png").stat().st_size > 10_000


async def test_thread_panel_screenshot(
    web: Web, server_factory: Callable[..., Server], tmp_path: Path
) -> None:
    shots_dir = DOCS_SHOTS if os.environ.get("HUBBUB_UPDATE_SCREENSHOTS") else tmp_path
    web.use(server_factory())
    names = {"alice": "Alice Chen", "bob": "Bob Martin", "carol": "Carol Diaz", "dave": "Dave Kim"}
    users: dict[str, User] = {u: await web.user(u, d) for u, d in names.items()}
    alice, bob, carol, dave = (users[u] for u in names)
    await web.channel(alice, "engineering", topic="Build, ship, repeat")
    for u in (bob, carol, dave):
        await web.join(u, "engineering")

    async def post(user: User, text: str) -> int:
        seq: int = (await web.post(user, "engineering", text))["seq"]
        return seq

    async def reply(user: User, root: int, text: str, broadcast: bool = False) -> int:
        seq: int = (await web.reply(user, "engineering", root, text, broadcast=broadcast))["seq"]
        return seq

    await post(dave, "CI is green again after the flaky test fix.")
    plan = await post(
        alice,
        "Postgres upgrade plan for Thursday: drain node 2, upgrade, let clients resume "
        "from their last `seq`, then node 1. Objections?",
    )
    await reply(bob, plan, "Looks good. Can we keep the old primary around for an hour?")
    await reply(alice, plan, "Yes: it stays read-only until we are sure.")
    await reply(carol, plan, "I'll watch the reconnect graphs while it runs.")
    tested = await reply(
        dave, plan, "Dry run on staging went fine: every client resumed, no gaps.", True
    )
    await reply(bob, plan, "Great, ship it 🚀")
    await post(carol, "Reminder: retro at 4pm.")
    for user, emoji in [(alice, ":tada:"), (bob, ":tada:"), (carol, ":+1:")]:
        await web.react(user, "engineering", tested, emoji)
    await web.pin(bob, "engineering", plan)
    await web.call("POST", "/api/channels/engineering/read", alice, {"seq": 1000})

    page = await web.page(alice, channel="engineering", width=1280, height=800)
    root = message_at(page, plan)
    summary = root.get_by_test_id("thread-summary")
    await expect(summary.get_by_test_id("thread-reply-count")).to_have_text("5 replies")
    await expect(root.get_by_test_id("message-pinned")).to_have_text("📌Pinned by Bob Martin")
    await summary.click()
    panel = thread_panel(page)
    await expect(message_in(panel, "Great, ship it 🚀")).to_be_visible()
    await expect(message_at(page, tested).last.get_by_test_id("reaction")).to_have_count(2)
    await page.emulate_media(color_scheme="light")
    await page.mouse.move(640, 790)  # no hover highlight on a message
    shots_dir.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=shots_dir / "thread-panel.png")
    assert (shots_dir / "thread-panel.png").stat().st_size > 10_000


async def test_admin_members_screenshot(
    web: Web, server_factory: Callable[..., Server], tmp_path: Path
) -> None:
    shots_dir = DOCS_SHOTS if os.environ.get("HUBBUB_UPDATE_SCREENSHOTS") else tmp_path
    web.use(server_factory())
    names = {
        "alice": "Alice Chen",
        "bob": "Bob Martin",
        "carol": "Carol Diaz",
        "dave": "Dave Kim",
        "erin": "Erin Novak",
        "frank": "Frank Osei",
    }
    users: dict[str, User] = {u: await web.user(u, d) for u, d in names.items()}
    alice = users["alice"]  # the first account: the owner
    await web.call("PUT", "/api/users/bob/role", alice, {"role": "admin"})
    await web.call("PUT", "/api/users/erin/role", alice, {"role": "guest"})
    await web.call("PUT", "/api/users/frank/active", alice, {"active": False})
    await web.call(
        "PATCH", "/api/me", users["carol"], {"custom_status": {"emoji": "🌴", "text": "On holiday"}}
    )
    for u in ("bob", "carol", "dave"):
        await web.join(users[u], "general")
    await web.post(users["bob"], "general", "Welcome aboard, everyone!")
    await web.call("POST", "/api/channels/general/read", alice, {"seq": 1000})

    page = await web.page(alice, channel="general", width=1280, height=800)
    await page.emulate_media(color_scheme="light")
    dialog = await open_admin(page)
    await expect(dialog.get_by_test_id("admin-member")).to_have_count(len(names))
    await expect(admin_member(dialog, "bob")).to_have_attribute("data-role", "admin")
    await expect(admin_member(dialog, "erin")).to_have_attribute("data-role", "guest")
    await expect(admin_member(dialog, "frank").get_by_test_id("deactivated-flag")).to_be_visible()
    await expect(admin_member(dialog, "carol").get_by_test_id("status-emoji")).to_be_visible()
    await dialog.get_by_test_id("admin-search").blur()  # no focus ring in the shot
    await page.mouse.move(5, 795)
    shots_dir.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=shots_dir / "admin.png")
    assert (shots_dir / "admin.png").stat().st_size > 10_000


def _mockup_png() -> bytes:
    """A small made-up design mockup (a gradient, a header bar, cards) for the files shot."""
    img = Image.new("RGB", (960, 600))
    draw = ImageDraw.Draw(img)
    for y in range(600):
        t = y / 600
        draw.line([(0, y), (960, y)], fill=(int(63 + 40 * t), int(14 + 90 * t), int(64 + 99 * t)))
    draw.rectangle([0, 0, 960, 70], fill=(255, 255, 255))
    draw.rectangle([30, 22, 200, 48], fill=(29, 155, 209))
    for i in range(3):
        x = 60 + i * 300
        draw.rounded_rectangle([x, 130, x + 260, 470], radius=18, fill=(255, 255, 255))
        draw.rectangle([x + 24, 160, x + 236, 300], fill=(232, 245, 250))
        draw.rectangle([x + 24, 330, x + 200, 350], fill=(209, 210, 211))
        draw.rectangle([x + 24, 370, x + 160, 388], fill=(225, 225, 225))
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


async def test_files_and_search_screenshot(
    web: Web, server_factory: Callable[..., Server], tmp_path: Path
) -> None:
    shots_dir = DOCS_SHOTS if os.environ.get("HUBBUB_UPDATE_SCREENSHOTS") else tmp_path
    web.use(server_factory())
    names = {"alice": "Alice Chen", "bob": "Bob Martin", "carol": "Carol Diaz"}
    users: dict[str, User] = {u: await web.user(u, d) for u, d in names.items()}
    alice, bob, carol = (users[u] for u in names)
    await web.channel(alice, "design", topic="Pixels and prototypes")
    for u in (bob, carol):
        await web.join(u, "design")
    await web.post(carol, "design", "Kickoff for the new onboarding flow: mockups by Friday?")
    await web.post(bob, "design", "First pass at the onboarding mockup is up in Figma.")
    shot = await web.upload(bob, "design", "onboarding-mockup.png", _mockup_png())
    await web.post_files(
        bob, "design", "Exported the onboarding mockup, three cards:", [shot["id"]]
    )
    report = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n" + b"0" * 180_000
    doc = await web.upload(carol, "design", "usability-study.pdf", report)
    await web.post_files(
        carol, "design", "And the usability study notes that back the mockup choices.", [doc["id"]]
    )
    await web.post(alice, "design", "Love it. Shipping the onboarding mockup to engineering.")
    await web.call("POST", "/api/channels/design/read", alice, {"seq": 1000})

    page = await web.page(alice, channel="design", width=1280, height=800)
    await page.emulate_media(color_scheme="light")
    img = page.get_by_test_id("attachment-img")
    await page.wait_for_function(
        "el => el.complete && el.naturalWidth > 0", arg=await img.element_handle()
    )
    await expect(page.get_by_test_id("file-name")).to_have_text("usability-study.pdf")
    box = page.get_by_test_id("search-input")
    await box.fill("mockup")
    await box.press("Enter")
    results = page.get_by_test_id("search-result")
    await expect(results).to_have_count(4)
    await expect(results.first.locator("mark")).to_have_text(["mockup"])
    await box.blur()
    await page.mouse.move(640, 790)
    shots_dir.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=shots_dir / "files-search.png")
    assert (shots_dir / "files-search.png").stat().st_size > 10_000
