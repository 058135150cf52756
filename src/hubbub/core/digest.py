"""The e-mail digest: a user with digests on, an address, and no connection
anywhere (the presence directory) gets one e-mail listing the unread messages
that would have notified them (protocol.notify: mentions and DMs by default,
what their channel levels say), once the oldest of them is `delay` old: it
lists all of them then, the newer ones too (one e-mail, not one per message).

Never twice for one message: each user's digest keeps, per channel, the last
seq it covered (Store.digest_marks), moved only after the mail server took
the message. Never for what was read: it reads from the read cursor at the
moment it writes the e-mail, and a message read before then is not unread.
Never during do-not-disturb: it waits until that ends.

The loop runs on the node that has a mailer (`--smtp-url`): set it on one
node of a cluster. The Lambda deployment has no scheduler to run it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from hubbub.core.models import StoredMessage
from hubbub.core.ports import Mailer, MailError, StoreError
from hubbub.protocol.notify import (
    ChannelPrefs,
    Incoming,
    UserPrefs,
    dnd_active,
    notifies,
)

if TYPE_CHECKING:
    from hubbub.core.hub import Hub

log = logging.getLogger("hubbub.digest")

DEFAULT_DELAY = 600.0  # seconds a message waits before it goes in a digest
PAGE = 200  # messages read per channel and round
MAX_LISTED = 50  # messages written out in one e-mail (the rest: counted)
TEXT_CHARS = 300


def interval_for(delay: float) -> float:
    """How often the digest looks: often enough that a message waits about
    `delay`, never busier than 4 times a second, at least once a minute."""
    return min(60.0, max(0.25, delay / 4))


class Digests:
    def __init__(self, hub: Hub, mailer: Mailer, delay: float = DEFAULT_DELAY) -> None:
        self.hub = hub
        self.mailer = mailer
        self.delay_ms = int(delay * 1000)
        self.interval = interval_for(delay)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.run_once()
            except StoreError as exc:  # the store is down: try again next round
                log.warning("digest: %s", exc)
            except Exception:
                log.exception("digest round failed")

    async def run_once(self) -> int:
        """One round over every user who wants digests; the e-mails sent."""
        hub = self.hub
        now = int(hub.clock() * 1000)
        wanted = await hub.store.digest_users()
        online = await hub.online_among([uid for uid, _ in wanted])
        sent = 0
        for user_id, prefs in wanted:
            if user_id in online or prefs.email is None or dnd_active(prefs, now):
                continue
            with contextlib.suppress(MailError):
                sent += await self._one(user_id, prefs, prefs.email, now)
        return sent

    async def _one(self, user_id: int, prefs: UserPrefs, to: str, now: int) -> int:
        store = self.hub.store
        user = await store.get_user(user_id)
        if user is None or not user.active:
            return 0
        marks = await store.digest_marks(user_id)
        levels = await store.channel_prefs(user_id)
        cutoff = now - self.delay_ms
        found: list[tuple[str, StoredMessage]] = []
        moved = dict(marks)
        for m in await store.channels_for(user_id):
            ch = m.channel
            after = max(m.last_read, marks.get(ch.id, 0))
            if ch.last_seq <= after:
                continue
            channel_prefs = levels.get(ch.id, ChannelPrefs())
            rows = await store.messages(ch.id, after=after, limit=PAGE)
            for row in rows:
                moved[ch.id] = row.seq
                incoming = Incoming(ch.kind, row.author or "", row.text, deleted=row.deleted)
                # Do-not-disturb is checked above for the whole digest; here,
                # the levels and mutes.
                if notifies(channel_prefs, UserPrefs(), incoming, user.username, now):
                    label = "a direct message" if ch.kind == "dm" else f"#{ch.name}"
                    found.append((label, row))
        if not found:
            if moved != marks:  # nothing there for them: not looked at again
                await store.set_digest_marks(user_id, moved)
            return 0
        if min(m.created_at for _, m in found) > cutoff:
            return 0  # the oldest has not waited long enough: all of it waits
        await self.mailer.send(to, _subject(found), _body(self.hub.public_url, found))
        await store.set_digest_marks(user_id, moved)
        log.info("digest sent to user %s: %d messages", user_id, len(found))
        return 1


def _subject(found: list[tuple[str, StoredMessage]]) -> str:
    n = len(found)
    return f"hubbub: {n} unread {'message' if n == 1 else 'messages'} for you"


def _body(public_url: str, found: list[tuple[str, StoredMessage]]) -> str:
    lines = ["While you were away:", ""]
    for label, m in found[:MAX_LISTED]:
        text = m.text if len(m.text) <= TEXT_CHARS else m.text[: TEXT_CHARS - 1] + "…"
        who = m.shown_name or m.author_name or m.author or "someone"
        lines.append(f"{who} in {label}: {text}")
        lines.append(f"  {public_url}/#/c/{m.channel}")
    if len(found) > MAX_LISTED:
        lines.append(f"... and {len(found) - MAX_LISTED} more.")
    lines += ["", "You get this because e-mail digests are on in your notification settings."]
    return "\n".join(lines)
