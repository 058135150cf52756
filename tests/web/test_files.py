"""Files in the web app, in real Chromium against a real server: uploads by
the composer's file picker and by drag and drop (a progress bar each, a
remove button), images inline for everyone at their own proportions with a
lightbox, other files as a card that downloads under its own name, files in
threads, a file past the server's limit refused with the server's words, and
an uploaded HTML page that never gets to run in hubbub's origin."""

from __future__ import annotations

import base64
import io
import os
import re
from collections.abc import Callable

import pytest
from PIL import Image
from playwright.async_api import FilePayload, Locator, Page, expect

from support import Server

from .helpers import Web, message, message_at, open_thread

pytestmark = pytest.mark.asyncio(loop_scope="session")


def png(width: int, height: int, color: tuple[int, int, int] = (18, 100, 163)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


async def pick(page: Page, name: str, mime: str, data: bytes, scope: str = "file-input") -> None:
    payload: FilePayload = {"name": name, "mimeType": mime, "buffer": data}
    await page.get_by_test_id(scope).set_input_files(files=[payload])


async def drop(page: Page, target: str, name: str, mime: str, data: bytes) -> None:
    """Drag a file over `target` (a CSS selector) and drop it, as a file
    manager would: dragenter, dragover, then drop with a DataTransfer holding it."""
    await page.evaluate(
        """([selector, name, mime, b64]) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], name, { type: mime }));
            const el = document.querySelector(selector);
            const init = { bubbles: true, cancelable: true, dataTransfer: dt };
            el.dispatchEvent(new DragEvent("dragenter", init));
            el.dispatchEvent(new DragEvent("dragover", init));
            window.__dropTransfer = dt;
        }""",
        [target, name, mime, base64.b64encode(data).decode()],
    )
    # The overlay says where it goes while the file is over the channel.
    await expect(page.locator(f"{target} [data-testid=drop-overlay]")).to_be_visible()
    await page.evaluate(
        """(selector) => {
            const el = document.querySelector(selector);
            const dt = window.__dropTransfer;
            const init = { bubbles: true, cancelable: true, dataTransfer: dt };
            el.dispatchEvent(new DragEvent("drop", init));
        }""",
        target,
    )
    await expect(page.locator(f"{target} [data-testid=drop-overlay]")).to_be_hidden()


async def loaded(img: Locator) -> None:
    """`img` has loaded an image (an img with no src yet is `complete` too:
    the decoded width says it is a picture)."""
    handle = await img.element_handle()
    await img.page.wait_for_function("el => el.complete && el.naturalWidth > 0", arg=handle)


async def test_picked_image_shows_inline_for_others_and_opens_in_the_lightbox(web: Web) -> None:
    alice, bob = await web.user("alice", "Alice Chen"), await web.user("bob", "Bob Martin")
    await web.join(bob, "general")
    a = await web.page(alice, channel="general")
    b = await web.page(bob, channel="general")
    data = png(640, 480)

    await pick(a, "sunset.png", "image/png", data)
    tray = a.get_by_test_id("pending-file")
    await expect(tray).to_have_count(1)
    await expect(tray.get_by_test_id("pending-file-name")).to_have_text("sunset.png")
    await expect(tray).to_have_attribute("data-state", "done")
    composer = a.get_by_test_id("composer")
    await composer.fill("the view from the office")
    await composer.press("Enter")
    await expect(a.get_by_test_id("pending-file")).to_have_count(0)

    # Bob sees it inline, its thumbnail at the image's proportions (4:3).
    msg = message(b, "the view from the office")
    img = msg.get_by_test_id("attachment-img")
    await expect(img).to_be_visible()
    await loaded(img)
    box = await img.bounding_box()
    assert box is not None
    assert abs(box["width"] / box["height"] - 640 / 480) < 0.02, box
    assert box["height"] <= 241
    # The space was kept before the image came: the attributes say its size.
    assert await img.get_attribute("width") == "320"
    assert await img.get_attribute("height") == "240"

    await msg.get_by_test_id("attachment").click()
    box_el = b.get_by_test_id("lightbox")
    await expect(box_el).to_be_visible()
    await expect(box_el.get_by_test_id("lightbox-name")).to_have_text("sunset.png")
    await expect(box_el.get_by_test_id("lightbox-size")).to_have_text(
        re.compile(r"^\d+(\.\d)? KB$|^\d+ B$")
    )
    full = box_el.get_by_test_id("lightbox-img")
    await loaded(full)
    assert await full.evaluate("el => [el.naturalWidth, el.naturalHeight]") == [640, 480]
    async with b.expect_download() as dl:
        await box_el.get_by_test_id("lightbox-download").click()
    assert (await dl.value).suggested_filename == "sunset.png"
    await b.keyboard.press("Escape")
    await expect(box_el).to_have_count(0)
    # A click closes it too.
    await msg.get_by_test_id("attachment").click()
    await expect(box_el).to_be_visible()
    await box_el.get_by_test_id("lightbox-img").click()
    await expect(box_el).to_have_count(0)


async def test_dropped_file_is_a_card_that_downloads_under_its_name(web: Web) -> None:
    alice, bob = await web.user("alice"), await web.user("bob")
    await web.join(bob, "general")
    a = await web.page(alice, channel="general")
    b = await web.page(bob, channel="general")
    data = b"ts,level,line\n" + b"2026-01-01,info,started\n" * 200

    await drop(a, "[data-testid=channel-view]", "server-log.csv", "text/csv", data)
    pending = a.get_by_test_id("pending-file")
    await expect(pending).to_have_attribute("data-state", "done")
    # No text: the file alone is the message.
    await a.get_by_test_id("composer").press("Enter")
    await expect(pending).to_have_count(0)

    card = b.get_by_test_id("attachment").filter(has_text="server-log.csv")
    await expect(card).to_be_visible()
    await expect(card).to_have_attribute("data-kind", "file")
    await expect(card.get_by_test_id("file-name")).to_have_text("server-log.csv")
    await expect(card.get_by_test_id("file-size")).to_have_text(f"{len(data) / 1024:.1f} KB")
    await expect(card.get_by_test_id("file-type")).to_contain_text("text/")
    await expect(card.get_by_test_id("file-icon")).to_be_visible()
    link = card.get_by_test_id("file-download")
    await expect(link).to_have_attribute("href", re.compile(r"^/api/files/|^http"))
    async with b.expect_download() as dl:
        await link.click()
    download = await dl.value
    assert download.suggested_filename == "server-log.csv"
    path = await download.path()
    assert path.read_bytes() == data
    # The message has no text of its own, and nothing stands in its place.
    msg = b.get_by_test_id("message").filter(has=card)
    await expect(msg.get_by_test_id("message-text")).to_have_count(0)


async def test_pending_file_can_be_removed_and_waits_for_enter(web: Web) -> None:
    alice = await web.user("alice")
    a = await web.page(alice, channel="general")
    await pick(a, "first.txt", "text/plain", b"one")
    await pick(a, "second.txt", "text/plain", b"two")
    tray = a.get_by_test_id("pending-file")
    await expect(tray).to_have_count(2)
    await expect(tray.nth(0)).to_have_attribute("data-state", "done")
    await expect(tray.nth(1)).to_have_attribute("data-state", "done")
    await tray.filter(has_text="first.txt").get_by_test_id("pending-file-remove").click()
    await expect(tray).to_have_count(1)
    composer = a.get_by_test_id("composer")
    await composer.fill("only the second")
    await composer.press("Enter")
    msg = message(a, "only the second")
    await expect(msg).to_have_attribute("data-state", "sent")  # stored: acked
    await expect(msg.get_by_test_id("attachment")).to_have_count(1)
    await expect(msg.get_by_test_id("file-name")).to_have_text("second.txt")
    stored = (await web.history(alice, "general"))[-1]
    assert [f["name"] for f in stored["files"]] == ["second.txt"]


async def test_files_in_a_thread(web: Web) -> None:
    alice, bob = await web.user("alice"), await web.user("bob")
    await web.join(bob, "general")
    root = (await web.post(alice, "general", "screenshots of the bug, please"))["seq"]
    b = await web.page(bob, channel="general")
    panel = await open_thread(b, message_at(b, root))
    await pick(b, "bug.png", "image/png", png(300, 600), scope="thread-file-input")
    await expect(panel.get_by_test_id("pending-file")).to_have_attribute("data-state", "done")
    reply = panel.get_by_test_id("thread-composer")
    await reply.fill("here it is")
    await reply.press("Enter")

    a = await web.page(alice, channel="general")
    panel_a = await open_thread(a, message_at(a, root))
    img = panel_a.get_by_test_id("attachment-img")
    await expect(img).to_be_visible()
    await loaded(img)
    # A tall image: 240 high, half as wide.
    assert await img.get_attribute("height") == "240"
    assert await img.get_attribute("width") == "120"


async def test_files_past_the_limits_are_refused_with_a_message(
    web: Web, server_factory: Callable[..., Server]
) -> None:
    web.use(server_factory("--limit", "max_file_bytes=2000,file_quota_bytes=3000"))
    alice, bob = await web.user("alice"), await web.user("bob")
    # What the server says past the quota, for the page to show in its words.
    assert (await web.upload(bob, "general", "one.bin", os.urandom(1500)))["size"] == 1500
    r = await web.http.post(
        "/api/files",
        headers=bob.headers,
        data={"channel": "general"},
        files={"file": ("two.bin", os.urandom(1800))},
    )
    assert r.status_code == 413 and r.json()["error"]["code"] == "quota_exceeded"
    said = r.json()["error"]["message"]

    a = await web.page(alice, channel="general")
    # Past max_file_bytes (hello says it): refused before it is sent.
    await pick(a, "huge.bin", "application/octet-stream", os.urandom(5000))
    failed = a.get_by_test_id("pending-file").filter(has_text="huge.bin")
    await expect(failed).to_have_attribute("data-state", "failed")
    await expect(failed.get_by_test_id("pending-file-error")).to_have_text(
        "huge.bin is larger than the limit of 2 KB."
    )
    await failed.get_by_test_id("pending-file-remove").click()
    # Past the quota: the server's 413, in its words, in the tray and a toast.
    await pick(a, "first.bin", "application/octet-stream", os.urandom(1500))
    first = a.get_by_test_id("pending-file").filter(has_text="first.bin")
    await expect(first).to_have_attribute("data-state", "done")
    await pick(a, "second.bin", "application/octet-stream", os.urandom(1800))
    second = a.get_by_test_id("pending-file").filter(has_text="second.bin")
    await expect(second).to_have_attribute("data-state", "failed")
    await expect(second.get_by_test_id("pending-file-error")).to_contain_text(said)
    toast = a.get_by_test_id("toast").filter(has_text="second.bin")
    await expect(toast).to_contain_text(said)
    await expect(toast).to_have_class(re.compile(r"toast-error"))
    # Enter does not send a message without its file.
    composer = a.get_by_test_id("composer")
    await composer.fill("with the second file")
    await composer.press("Enter")
    await expect(a.get_by_test_id("composer-notice")).to_contain_text("could not be uploaded")
    await expect(message(a, "with the second file")).to_have_count(0)
    # Removed, the text goes with the file that did upload.
    await second.get_by_test_id("pending-file-remove").click()
    await composer.press("Enter")
    sent = message(a, "with the second file")
    await expect(sent).to_have_attribute("data-state", "sent")
    await expect(sent.get_by_test_id("file-name")).to_have_text(["first.bin"])
    await first.wait_for(state="detached")


async def test_a_message_without_files_shows_nothing_for_them(web: Web) -> None:
    alice = await web.user("alice")
    await web.post(alice, "general", "just words")
    a = await web.page(alice, channel="general")
    plain = message(a, "just words")
    await expect(plain).to_be_visible()
    await expect(plain.get_by_test_id("attachments")).to_have_count(0)
    await expect(plain).not_to_contain_text("null")  # not even a stray "null"


PAGE_SCRIPT = """<!doctype html><html><head><title>pwned</title></head><body>
<script>
  document.title = "pwned";
  try { localStorage.setItem("pwned", "yes"); } catch (e) {}
  try { sessionStorage.setItem("pwned", "yes"); } catch (e) {}
  try {
    const token = sessionStorage.getItem("hubbub.token");
    localStorage.setItem("stolen", String(token));
  } catch (e) {}
  try { window.opener && window.opener.postMessage("pwned", "*"); } catch (e) {}
  try { window.parent !== window && window.parent.postMessage("pwned", "*"); } catch (e) {}
</script><p>hello</p></body></html>"""


async def test_uploaded_html_never_runs_in_the_apps_origin(web: Web) -> None:
    alice = await web.user("alice")
    f = await web.upload(alice, "general", "invoice.html", PAGE_SCRIPT.encode())
    await web.post_files(alice, "general", "the invoice", [f["id"]])
    link = await web.call("GET", f"/api/files/{f['id']}/link", alice)
    url = link["url"]
    absolute = url if url.startswith("http") else f"{web.server.url}{url}"
    # The server's answer: an attachment, never sniffed, sandboxed if rendered.
    head = await web.http.get(absolute)
    assert head.status_code == 200
    assert head.headers["content-disposition"].startswith("attachment")
    assert head.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in head.headers["content-security-policy"]
    assert "text/html" not in head.headers["content-type"]

    page = await web.page(alice, channel="general")
    await page.evaluate(
        """() => {
            window.__messages = [];
            window.addEventListener("message", (ev) => window.__messages.push(String(ev.data)));
        }"""
    )
    card = message(page, "the invoice").get_by_test_id("attachment")
    await expect(card).to_have_attribute("data-kind", "file")  # never shown inline

    # 1. The card's link downloads the page: it is not opened.
    async with page.expect_download() as dl:
        await card.get_by_test_id("file-download").click()
    assert (await dl.value).suggested_filename == "invoice.html"

    # 2. Navigated to in a tab of its own (a link opened in a new tab, or the
    # URL pasted): it downloads there too, and the tab shows nothing of it.
    tab = await page.context.new_page()
    async with tab.expect_download() as dl2:
        try:
            await tab.goto(absolute)
        except Exception as exc:  # Playwright: "Download is starting"
            assert "Download is starting" in str(exc), exc
    assert (await dl2.value).suggested_filename == "invoice.html"
    assert await tab.title() != "pwned"

    # The app's origin never saw the page's script: no storage written, no
    # title changed, no message posted, and the session is still its own.
    state = await page.evaluate(
        """() => ({
            local: localStorage.getItem("pwned"),
            stolen: localStorage.getItem("stolen"),
            session: sessionStorage.getItem("pwned"),
            title: document.title,
            messages: window.__messages,
        })"""
    )
    assert state["local"] is None and state["stolen"] is None and state["session"] is None, state
    assert state["messages"] == [], state
    assert state["title"] != "pwned" and "hubbub" in state["title"], state
    assert await page.evaluate("() => sessionStorage.getItem('hubbub.token')") == alice.token
    await expect(page.get_by_test_id("app")).to_have_attribute("data-connection", "open")


async def test_pasted_image_goes_with_the_message(web: Web) -> None:
    alice = await web.user("alice")
    a = await web.page(alice, channel="general")
    composer = a.get_by_test_id("composer")
    await composer.fill("pasted screenshot")
    # A screenshot on the clipboard, pasted into the box (as Ctrl+V would).
    await composer.evaluate(
        """(el, b64) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], "image.png", { type: "image/png" }));
            const init = { clipboardData: dt, bubbles: true, cancelable: true };
            el.dispatchEvent(new ClipboardEvent("paste", init));
        }""",
        base64.b64encode(png(200, 100)).decode(),
    )
    await expect(a.get_by_test_id("pending-file")).to_have_attribute("data-state", "done")
    await expect(composer).to_have_value("pasted screenshot")  # nothing pasted as text
    await composer.press("Enter")
    sent = message(a, "pasted screenshot")
    await expect(sent).to_have_attribute("data-state", "sent")  # drawn again once acked
    img = sent.get_by_test_id("attachment-img")
    await loaded(img)
    assert await img.get_attribute("width") == "200"
    assert await img.get_attribute("height") == "100"


async def test_progress_bar_and_enter_before_the_upload_is_done(web: Web) -> None:
    alice, bob = await web.user("alice"), await web.user("bob")
    await web.join(bob, "general")
    a = await web.page(alice, channel="general")
    # Every progress value the bar shows, as it shows them.
    await a.evaluate(
        """() => {
            window.__progress = [];
            const tray = document.querySelector("[data-testid=pending-files]");
            new MutationObserver(() => {
                for (const bar of tray.querySelectorAll("[data-testid=upload-progress]")) {
                    window.__progress.push(Number(bar.getAttribute("aria-valuenow")));
                }
            }).observe(tray, { subtree: true, childList: true, attributes: true });
        }"""
    )
    data = os.urandom(6 * 1024 * 1024)
    composer = a.get_by_test_id("composer")
    await composer.fill("the big dump")
    await pick(a, "core.dump", "application/octet-stream", data)
    # Enter while it uploads: the message waits for its file, then goes.
    await composer.press("Enter")
    b = await web.page(bob, channel="general")
    card = message(b, "the big dump").get_by_test_id("attachment")
    await expect(card.get_by_test_id("file-name")).to_have_text("core.dump")
    await expect(card.get_by_test_id("file-size")).to_have_text("6 MB")
    progress: list[int] = await a.evaluate("window.__progress")
    assert progress, "no progress bar was shown"
    assert progress == sorted(progress) and all(0 <= p <= 100 for p in progress), progress
    stored = (await web.history(alice, "general"))[-1]
    assert stored["text"] == "the big dump" and stored["files"][0]["size"] == len(data)
