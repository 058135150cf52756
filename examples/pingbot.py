"""A bot that answers `!ping` with `pong` in every channel it is in."""

import asyncio
import os

from hubbub.client import Client
from hubbub.protocol.frames import Message


async def main() -> None:
    async with Client(os.environ.get("HUBBUB_SERVER", "http://127.0.0.1:8000")) as hub:
        await hub.login(os.environ["BOT_USER"], os.environ["BOT_PASSWORD"])
        await hub.connect()
        for channel in await hub.channels():
            if channel["is_member"]:
                await hub.subscribe(channel["name"])
        async for event in hub.events():
            if isinstance(event, Message) and event.text.strip() == "!ping":
                await hub.send(event.channel, "pong")


asyncio.run(main())
