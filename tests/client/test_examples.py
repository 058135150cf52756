"""The README's bot example runs as printed and answers."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from hubbub.client import Client
from hubbub.protocol.frames import Message
from support import WAIT, Server

ROOT = Path(__file__).resolve().parents[2]
BOT = ROOT / "examples" / "pingbot.py"


def test_readme_shows_the_bot_verbatim() -> None:
    readme = (ROOT / "README.md").read_text()
    assert BOT.read_text().strip() in readme


async def test_pingbot_answers_ping(server: Server) -> None:
    async with Client(server.url) as ann:
        await ann.register("ann", "correct horse")
        bot_account = await ann.create_bot("pingbot")
        assert bot_account["bot"] is True and bot_account["owner"] == "ann"
        token = (await ann.create_token("pingbot", bot="pingbot"))["token"]
        await ann.create_channel("ops")
        await ann.invite("ops", "pingbot")
        await ann.connect()
        await ann.subscribe("ops")
        env = {
            **os.environ,
            "HUBBUB_SERVER": server.url,
            "HUBBUB_TOKEN": token,
        }
        bot = await asyncio.create_subprocess_exec(sys.executable, str(BOT), env=env)
        try:
            async with asyncio.timeout(WAIT * 2):
                pong = None
                while pong is None:
                    # The bot may not have subscribed yet: ask until it answers.
                    await ann.send("ops", "!ping")
                    try:
                        async with asyncio.timeout(1.0):
                            async for event in ann.events():
                                if isinstance(event, Message) and event.text == "pong":
                                    pong = event
                                    break
                    except TimeoutError:
                        continue
            assert pong.author.username == "pingbot"
        finally:
            bot.terminate()
            await bot.wait()
