"""Sending: pending then confirmed by the ack, Retry with the same client_id,
and chat text rendered as text (with a small, safe formatting subset).

Where a test needs the network to misbehave, Playwright's WebSocket routing
sits between the page and the real server: it can hold frames back, drop them,
or answer in the server's place, deterministically."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.async_api import WebSocketRoute, expect

from .helpers import Web, message, send

pytestmark = pytest.mark.asyncio(loop_scope="session")


class Wire:
    """Forwards frames between the page and the server, recording the page's
    `send` frames and the server's acks. While `holding`, server frames about a
    sent message (ack and echo: they carry a client_id) are kept back until
    `release()`; while `dropping`, they are lost."""

    def __init__(self) -> None:
        self.page_ws: WebSocketRoute | None = None
        self.sends: list[dict[str, Any]] = []
        self.acks: list[dict[str, Any]] = []
        self.holding = False
        self.dropping = False
        self.held: list[str | bytes] = []
        self.fail_next_send = False

    def __call__(self, ws: WebSocketRoute) -> None:
        self.page_ws = ws
        server = ws.connect_to_server()

        def from_page(raw: str | bytes) -> None:
            frame = json.loads(raw)
            if frame.get("action") == "send":
                self.sends.append(frame)
                if self.fail_next_send:
                    # Answer as a server whose storage is down does.
                    self.fail_next_send = False
                    error = {
                        "type": "error",
                        "id": frame.get("id"),
                        "code": "unavailable",
                        "message": "storage unavailable, nothing stored",
                    }
                    ws.send(json.dumps(error))
                    return
            server.send(raw)

        def from_server(raw: str | bytes) -> None:
            frame = json.loads(raw)
            if frame.get("type") == "ack":
                self.acks.append(frame)
            if frame.get("client_id"):
                if self.dropping:
                    return
                if self.holding:
                    self.held.append(raw)
                    return
            ws.send(raw)

        ws.on_message(from_page)
        server.on_message(from_server)

    def release(self) -> None:
        assert self.page_ws is not None
        self.holding = False
        for raw in self.held:
            self.page_ws.send(raw)
        self.held.clear()


async def test_pending_until_the_ack_confirms_it(web: Web) -> None:
    alice, bob = await web.user("alice"), await web.user("bob")
    # alice is in #general: joined on registering (as is everyone).
    await web.join(bob, "general")
    wire = Wire()
    page = await web.page(alice, channel="general", ws_handler=wire)
    pb = await web.page(bob, channel="general")

    wire.holding = True
    await send(page, "are you getting this?")
    mine = message(page, "are you getting this?")
    await expect(mine).to_have_attribute("data-state", "pending")
    await expect(mine.get_by_test_id("message-status")).to_have_text("Sending…")
    await expect(mine).not_to_have_attribute("data-seq", re.compile("."))
    # The server has it (Bob sees it) but Alice has no ack yet: still pending.
    await expect(message(pb, "are you getting this?")).to_have_count(1)
    assert len(wire.sends) == 1
    await expect(mine).to_have_attribute("data-client-id", wire.sends[0]["client_id"])
    await expect(mine).to_have_attribute("data-state", "pending")

    wire.release()
    await expect(mine).to_have_attribute("data-state", "sent")
    await expect(mine).to_have_attribute("data-seq", "1")
    await expect(mine.get_by_test_id("message-status")).to_have_count(0)
    await expect(page.get_by_test_id("message")).to_have_count(1)  # confirmed, not added


async def test_retry_after_an_error_reuses_the_client_id(web: Web) -> None:
    alice = await web.user("alice")
    # alice is in #general: joined on registering (as is everyone).
    wire = Wire()
    page = await web.page(alice, channel="general", ws_handler=wire)

    wire.fail_next_send = True
    await send(page, "second time lucky")
    mine = message(page, "second time lucky")
    await expect(mine).to_have_attribute("data-state", "failed")
    await expect(mine.get_by_test_id("message-status")).to_contain_text("storage unavailable")
    assert await web.history(alice, "general") == []

    await mine.get_by_test_id("retry-button").click()
    await expect(mine).to_have_attribute("data-state", "sent")
    assert len(wire.sends) == 2
    assert wire.sends[0]["client_id"] == wire.sends[1]["client_id"]
    stored = await web.history(alice, "general")
    assert [(m["text"], m["client_id"]) for m in stored] == [
        ("second time lucky", wire.sends[0]["client_id"])
    ]
    await expect(page.get_by_test_id("message")).to_have_count(1)


async def test_retry_after_a_lost_ack_makes_no_duplicate(web: Web) -> None:
    alice = await web.user("alice")
    # alice is in #general: joined on registering (as is everyone).
    wire = Wire()
    # A short ack timeout so the test need not wait 10 s for the Retry button.
    page = await web.page(alice, channel="general", query="?ack_timeout=1500", ws_handler=wire)

    # The server stores the message, but the page never hears so and gives up.
    wire.dropping = True
    await send(page, "did it arrive?")
    mine = message(page, "did it arrive?")
    await expect(mine).to_have_attribute("data-state", "failed")
    await expect(mine.get_by_test_id("message-status")).to_contain_text("No response")
    assert [m["text"] for m in await web.history(alice, "general")] == ["did it arrive?"]

    wire.dropping = False
    await mine.get_by_test_id("retry-button").click()
    await expect(mine).to_have_attribute("data-state", "sent")
    cid = wire.sends[0]["client_id"]
    assert [s["client_id"] for s in wire.sends] == [cid, cid]
    assert wire.acks[-1]["duplicate"] is True  # the server recognised the retry
    stored = await web.history(alice, "general")
    assert [(m["text"], m["client_id"]) for m in stored] == [("did it arrive?", cid)]
    await expect(page.get_by_test_id("message")).to_have_count(1)


async def test_html_is_shown_as_text_and_never_runs(web: Web) -> None:
    alice, bob = await web.user("alice"), await web.user("bob")
    # alice is in #general: joined on registering (as is everyone).
    await web.join(bob, "general")
    pa = await web.page(alice, channel="general")
    pb = await web.page(bob, channel="general")
    payloads = [
        "<img src=x onerror=alert(1)>",
        "<script>window.__pwned=1</script>",
        '<a href="javascript:alert(1)">click</a> javascript:alert(2)',
        "<b>not bold html</b> <svg onload=alert(3)> &lt;i&gt;",
    ]
    for text in payloads:
        await send(pa, text)
    for page in (pa, pb):
        for text in payloads:
            await expect(message(page, text)).to_have_count(1)
        listing = page.get_by_test_id("message-list")
        for tag in ("img", "script", "svg", "b", "a"):
            assert await listing.locator(f'[data-testid="message-text"] {tag}').count() == 0, tag
        assert await page.evaluate("typeof window.__pwned") == "undefined"
    # A fresh page (history over REST, not live frames) renders it the same way.
    pc = await web.page(bob, channel="general")
    await expect(message(pc, payloads[0])).to_have_count(1)
    assert await pc.locator('[data-testid="message-list"] img').count() == 0
    assert web.dialogs == []


async def test_safe_formatting_subset(web: Web) -> None:
    alice, bob = await web.user("alice"), await web.user("bob")
    # alice is in #general: joined on registering (as is everyone).
    await web.join(bob, "general")
    pb = await web.page(bob, channel="general")
    text = (
        "*bold* and _italic_ and `code *not bold*` see https://example.com/a_b?q=1&r=(2). "
        "snake_case_name stays, 2*3*4 too, hey @bob"
    )
    await web.post(alice, "general", text)
    item = pb.locator('[data-testid="message"][data-seq="1"]')
    body = item.get_by_test_id("message-text")
    # The markers are gone, the words are all there.
    await expect(body).to_have_text(
        "bold and italic and code *not bold* see https://example.com/a_b?q=1&r=(2). "
        "snake_case_name stays, 2*3*4 too, hey @bob"
    )
    await expect(body.locator("strong")).to_have_text("bold")
    await expect(body.locator("em")).to_have_text("italic")
    await expect(body.locator("code")).to_have_text("code *not bold*")
    link = body.locator("a")
    await expect(link).to_have_count(1)
    await expect(link).to_have_text("https://example.com/a_b?q=1&r=(2)")
    await expect(link).to_have_attribute("href", "https://example.com/a_b?q=1&r=(2)")
    await expect(link).to_have_attribute("target", "_blank")
    await expect(link).to_have_attribute("rel", "noopener noreferrer")
    await expect(body.locator(".mention-me")).to_have_text("@bob")
    await expect(item).to_have_class(re.compile(r"\bmentioned\b"))


FORMAT_CASES: list[tuple[str, list[Any]]] = [
    ("snake_case_name and 2*3*4", ["snake_case_name and 2*3*4"]),
    ("*bold* _it_", [["strong", "bold"], " ", ["em", "it"]]),
    ("_*both*_", [["em", ["strong", "both"]]]),
    ("** and * lone", ["** and * lone"]),
    ("`<b>*x*</b>`", [["code", "<b>*x*</b>"]]),
    ("javascript:alert(1) data:text/html,x", ["javascript:alert(1) data:text/html,x"]),
    (
        "(see https://x.test/a).",
        ["(see ", ["a", "https://x.test/a"], ")."],
    ),
    (
        "https://en.wikipedia.org/wiki/Foo_(bar)",
        [["a", "https://en.wikipedia.org/wiki/Foo_(bar)"]],
    ),
    ("mail a@bob.test, ping @bob.", ["mail a@bob.test, ping ", ["span", "@bob"], "."]),
]


async def test_formatter_tokenizes_into_text_and_elements(web: Web) -> None:
    alice = await web.user("alice")
    page = await web.page(alice)
    for text, want in FORMAT_CASES:
        got = await page.evaluate(
            """async (text) => {
                const { formatText } = await import('/js/format.js');
                const tree = (n) => n.nodeType === Node.TEXT_NODE
                    ? n.data
                    : [n.tagName.toLowerCase(), ...[...n.childNodes].map(tree)];
                // Adjacent text nodes read as one string, as on screen.
                const merged = [];
                for (const t of formatText(text, 'bob').map(tree)) {
                    if (typeof t === 'string' && typeof merged.at(-1) === 'string') {
                        merged[merged.length - 1] += t;
                    } else merged.push(t);
                }
                return merged;
            }""",
            text,
        )
        assert got == want, text
