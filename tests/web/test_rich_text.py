"""Rich text in messages (format.js): code blocks, lists, quotes, strikethrough,
bold, italic, links and mentions drawn as elements built node by node, and
whatever HTML a message holds shown as the characters typed."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import Locator, Page, expect

from .helpers import User, Web, message_at

pytestmark = pytest.mark.asyncio(loop_scope="session")

CODE = 'def f(x):\n    return *x* + _y_  # <b>not bold</b> `tick`\n\n    print("' + "z" * 300 + '")'

RICH = "\n".join(
    [
        "Notes: *bold*, **also bold**, _italic_, ~gone~ and ~~gone too~~,",
        "see https://example.com/notes or [the docs](https://example.com/docs), cc @bob",
        "```python",
        CODE,
        "```",
        "- first",
        "- second *b*",
        "  - nested",
        "* third",
        "1. one",
        "2. two",
        "> quoted _words_",
        "> second line",
        "thanks!",
    ]
)


async def two_in_general(web: Web) -> tuple[User, User, Page]:
    alice, bob = await web.user("alice"), await web.user("bob")
    await web.join(bob, "general")
    return alice, bob, await web.page(bob, channel="general")


def text_of(page: Page, seq: int) -> Locator:
    return message_at(page, seq).get_by_test_id("message-text")


async def test_another_users_rich_message_renders_as_elements(web: Web) -> None:
    alice, _, pb = await two_in_general(web)
    sent = await web.post(alice, "general", RICH)
    body = text_of(pb, sent["seq"])

    # The code block: exactly the code, line breaks and all, nothing formatted.
    code = body.locator("pre > code")
    await expect(code).to_have_count(1)
    assert await code.text_content() == CODE
    await expect(code).to_have_class("language-python")
    await expect(code.locator("*")).to_have_count(0)
    style = await body.locator("pre").evaluate(
        """el => { const s = getComputedStyle(el);
            return [s.whiteSpace, s.overflowX, s.fontFamily,
                    el.scrollWidth > el.clientWidth, el.getBoundingClientRect().width]; }"""
    )
    white_space, overflow_x, font, scrolls, width = style
    assert (white_space, overflow_x, scrolls) == ("pre", "auto", True), style
    assert "monospace" in font, font
    assert width <= await message_at(pb, sent["seq"]).evaluate("el => el.clientWidth")

    # Lists: three bullets (one with a list nested in it), two numbers.
    await expect(body.locator("ul.md-list > li")).to_have_count(4)
    await expect(body.locator(":scope > ul > li")).to_have_count(3)
    await expect(body.locator(":scope > ul > li").nth(0)).to_have_text("first")
    await expect(body.locator(":scope > ul > li").nth(2)).to_have_text("third")
    await expect(body.locator(":scope > ul > li").nth(1).locator("ul > li")).to_have_text("nested")
    await expect(body.locator("ol > li")).to_have_text(["one", "two"])

    # The quote keeps its two lines, formatted.
    quote = body.locator("blockquote")
    await expect(quote).to_have_count(1)
    assert await quote.text_content() == "quoted words\nsecond line"
    border = await quote.evaluate("el => getComputedStyle(el).borderLeftStyle")
    assert border == "solid"

    # Inline marks.
    await expect(body.locator("strong")).to_have_text(["bold", "also bold", "b"])
    await expect(body.locator("em")).to_have_text(["italic", "words"])
    await expect(body.locator("s")).to_have_text(["gone", "gone too"])
    deco = await body.locator("s").first.evaluate("el => getComputedStyle(el).textDecorationLine")
    assert deco == "line-through"

    # Links: the bare URL, and [text](url) showing its URL on hover.
    links = body.locator("a")
    await expect(links).to_have_count(2)
    await expect(links.nth(0)).to_have_text("https://example.com/notes")
    await expect(links.nth(0)).to_have_attribute("href", "https://example.com/notes")
    await expect(links.nth(1)).to_have_text("the docs")
    await expect(links.nth(1)).to_have_attribute("href", "https://example.com/docs")
    await expect(links.nth(1)).to_have_attribute("title", "https://example.com/docs")
    for i in range(2):
        await expect(links.nth(i)).to_have_attribute("rel", "noopener noreferrer")

    # The mention of bob, read by bob.
    await expect(body.locator(".mention-me")).to_have_text("@bob")
    await expect(message_at(pb, sent["seq"])).to_have_class(re.compile(r"\bmentioned\b"))

    # The first lines keep their line break; the text after the blocks is there.
    first = await body.evaluate("el => el.firstChild.textContent")
    assert first.startswith("Notes: ")
    assert await body.evaluate("el => el.lastChild.textContent") == "thanks!"
    assert "gone too,\nsee " in (await body.text_content() or "")


HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "<script>window.__pwned=1</script> and <b>x</b>",
    "[click](javascript:alert(1)) javascript:alert(2) [x](data:text/html,hi)",
    "- <img src=x onerror=alert(3)>\n> <b>quoted</b>\n```\n<script>window.__pwned=2</script>\n```",
]


async def test_html_and_javascript_links_stay_text(web: Web) -> None:
    alice, _, pb = await two_in_general(web)
    seqs = [(await web.post(alice, "general", text))["seq"] for text in HOSTILE]
    bodies = [text_of(pb, seq) for seq in seqs]
    await expect(bodies[0]).to_have_text(HOSTILE[0])
    await expect(bodies[1]).to_have_text(HOSTILE[1])
    await expect(bodies[2]).to_have_text(HOSTILE[2])
    await expect(bodies[3].locator("li")).to_have_text("<img src=x onerror=alert(3)>")
    await expect(bodies[3].locator("blockquote")).to_have_text("<b>quoted</b>")
    assert await bodies[3].locator("pre code").text_content() == (
        "<script>window.__pwned=2</script>"
    )
    listing = pb.get_by_test_id("message-list")
    for tag in ("img", "script", "b", "a", "iframe"):
        await expect(listing.locator(f'[data-testid="message-text"] {tag}')).to_have_count(0)
    assert await pb.evaluate("typeof window.__pwned") == "undefined"
    assert web.dialogs == []


async def test_here_and_channel_highlight_the_message_for_everyone_else(web: Web) -> None:
    alice, _, pb = await two_in_general(web)
    pa = await web.page(alice, channel="general")
    here = await web.post(alice, "general", "@here standup in 5")
    channel = await web.post(alice, "general", "ping @channel, please")
    plain = await web.post(alice, "general", "no one in particular (a@here.test)")
    for seq, word in ((here["seq"], "@here"), (channel["seq"], "@channel")):
        await expect(text_of(pb, seq).locator(".mention-all")).to_have_text(word)
        await expect(message_at(pb, seq)).to_have_class(re.compile(r"\bmentioned\b"))
        # Not for the one who wrote it.
        await expect(text_of(pa, seq).locator(".mention-all")).to_have_text(word)
        await expect(message_at(pa, seq)).not_to_have_class(re.compile(r"\bmentioned\b"))
    await expect(text_of(pb, plain["seq"])).to_have_text("no one in particular (a@here.test)")
    await expect(message_at(pb, plain["seq"])).not_to_have_class(re.compile(r"\bmentioned\b"))
    await expect(text_of(pb, plain["seq"]).locator(".mention")).to_have_count(0)


# The formatter's edge cases, as trees: [tag, children...] for elements, strings
# for text (adjacent ones merged, as on screen).
EDGE_CASES: list[tuple[str, list[Any]]] = [
    ("~5 min, or ~10", ["~5 min, or ~10"]),
    ("__init__ and a~b~c", ["__init__ and a~b~c"]),
    ("*https://x.test/a*", [["strong", ["a", "https://x.test/a"]]]),
    ("*not\nbold*", ["*not\nbold*"]),
    ("use ```inline``` here", ["use ", ["code", "inline"], " here"]),
    ("```one line```", [["pre", ["code", "one line"]]]),
    ("```\nnot closed *x*", [["pre", ["code", "not closed *x*"]]]),
    ("```\na\n```\n```\nb\n```", [["pre", ["code", "a"]], ["pre", ["code", "b"]]]),
    ("```\nfirst\nlast```\nafter", [["pre", ["code", "first\nlast"]], "after"]),
    ("```x = 1\ny = 2```", [["pre", ["code", "x = 1\ny = 2"]]]),
    ("3. three\n4. four", [["ol", ["li", "three"], ["li", "four"]]]),
    ("- a\n\n- b", [["ul", ["li", "a"], ["li", "b"]]]),
    ("- a\n1. b", [["ul", ["li", "a"]], ["ol", ["li", "b"]]]),
    ("-not a list\n*not either*", ["-not a list\n", ["strong", "not either"]]),
    (">_< no quote", [">_< no quote"]),
    ("> a\n>\n> b", [["blockquote", "a\n\nb"]]),
    ("> - in a quote", [["blockquote", ["ul", ["li", "in a quote"]]]]),
    ("[a *b*](https://x.test/)", [["a", "a ", ["strong", "b"]]]),
    ("[x](https://x.test/ y)", ["[x](", ["a", "https://x.test/"], " y)"]),
    ("@everyone @channelx", [["span", "@everyone"], " ", ["span", "@channelx"]]),
]


async def test_formatter_edge_cases(web: Web) -> None:
    alice = await web.user("alice")
    page = await web.page(alice)
    for text, want in EDGE_CASES:
        got = await page.evaluate(
            """async (text) => {
                const { formatText } = await import('/js/format.js');
                const tree = (n) => {
                    if (n.nodeType === Node.TEXT_NODE) return n.data;
                    const kids = [];
                    for (const t of [...n.childNodes].map(tree)) {
                        if (typeof t === 'string' && typeof kids.at(-1) === 'string') {
                            kids[kids.length - 1] += t;
                        } else kids.push(t);
                    }
                    return [n.tagName.toLowerCase(), ...kids];
                };
                const box = document.createElement('div');
                box.append(...formatText(text, 'bob'));
                return tree(box).slice(1);
            }""",
            text,
        )
        assert got == want, text
    # The mention rule: @here, @channel and @everyone are for every reader.
    checks = await page.evaluate(
        """async () => {
            const { mentions } = await import('/js/format.js');
            return [mentions('@here hi', 'bob'), mentions('hi @channel', 'bob'),
                    mentions('@everyone', 'bob'), mentions('@heres', 'bob'),
                    mentions('@here.x', 'bob'), mentions('@bob', 'bob'), mentions('@bobby', 'bob'),
                    mentions('@here', null)];
        }"""
    )
    assert checks == [True, True, True, False, False, True, False, False]
