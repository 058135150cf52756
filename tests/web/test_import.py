"""A Slack export, imported with `hubbub import`, as the web app shows it: its
channels, authors, threads and reactions, in real Chromium; importing it
again changes nothing."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from support import start_server
from transfer.slack_fixture import build_slack_export

from .helpers import PASSWORD, Web, channel_item, message_at, reaction

pytestmark = pytest.mark.asyncio(loop_scope="session")


def hubbub(*args: str, stdin: str | None = None) -> str:
    r = subprocess.run(
        [sys.executable, "-m", "hubbub", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout + r.stderr


def plain(m: dict[str, Any]) -> bool:
    """Text the web app shows as it is (no link, mention or markup to render)."""
    return bool(re.fullmatch(r"[A-Za-z0-9 ,.!?']+", m["text"]))


async def test_a_slack_export_in_the_web_app(web: Web, tmp_path: Path) -> None:
    summary = build_slack_export(tmp_path / "slack.zip", channels=3, users=5, messages=1000)
    data = tmp_path / "data"
    first = hubbub("import", str(summary.path), "--data-dir", str(data))
    reader = summary.usernames[0]
    hubbub(
        "admin", "reset-password", reader, "--password-stdin", "--data-dir", str(data),
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    server = start_server(data)
    try:
        web.use(server)
        user = await web.login(reader)
        channels = sorted({m.channel for m in summary.messages})
        assert len(channels) >= 3
        before = {c: await web.history(user, c) for c in channels if c in summary.channels}
        assert sum(len(h) for h in before.values()) > 0

        channel = next(c for c in channels if reader in summary.channels.get(c, ()))
        page = await web.page(user, channel=channel)
        for name in summary.channels:
            if reader in summary.channels[name]:
                await expect(channel_item(page, name)).to_be_visible()
        shown = before[channel][-40:]  # within the newest page the app loads
        # Authors by their display names, and the text as Slack had it.
        m = next(m for m in reversed(shown) if plain(m) and not m["deleted"])
        msg = message_at(page, m["seq"])
        await expect(msg.get_by_test_id("message-text")).to_have_text(m["text"])
        await expect(msg).to_contain_text(summary.display_names[m["author"]["username"]])
        # Threads: the root shows its replies; reactions: their emoji and counts.
        root = next((m for m in reversed(shown) if m.get("reply_count")), None)
        assert root is not None, "the newest page holds no thread root"
        await expect(message_at(page, root["seq"])).to_contain_text(
            re.compile(rf"{root['reply_count']} repl(y|ies)")
        )
        reacted = next((m for m in reversed(shown) if m.get("reactions")), None)
        assert reacted is not None, "the newest page holds no reaction"
        chip = reaction(message_at(page, reacted["seq"]), reacted["reactions"][0]["emoji"])
        await expect(chip).to_contain_text(str(reacted["reactions"][0]["count"]))

        # Again: nothing new anywhere, and the page shows the same.
        second = hubbub("import", str(summary.path), "--data-dir", str(data))
        assert second != first
        after = {c: await web.history(user, c) for c in before}
        assert after == before
        await page.reload()
        await web.ready(page)
        await expect(message_at(page, m["seq"]).get_by_test_id("message-text")).to_have_text(
            m["text"]
        )
    finally:
        server.stop()
