"""A bot that answers `!ping` with `pong` in every channel it is in."""

import asyncio
import os

from hubbub.client import Client
from hubbub.protocol.frames import Message


async def main() -> None:
    server = os.environ.get("HUBBUB_SERVER", "http://127.0.0.1:8000")
    # An API token (`hubbub token create --bot NAME ...`): no password here.
    async with Client(server, token=os.environ["HUBBUB_TOKEN"]) as hub:
        await hub.connect()
        for channel in await hub.channels():
            if channel["is_member"]:
                await hub.subscribe(channel["name"])
        async for event in hub.events():
            if isinstance(event, Message) and event.text.strip() == "!ping":
                await hub.send(event.channel, "pong")


asyncio.run(main())
