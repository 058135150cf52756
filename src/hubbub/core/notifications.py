"""Notification preferences as a service: read, checked, stored, and every
change pushed to the user's own connections (their user topic), so another
tab or device updates at once. The rule that applies them is
`protocol.notify.notifies`; the clients run it, and the e-mail digest.

Changing preferences is the user's own business: no role is needed, and a
channel's preferences need its membership (a DM's too).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from hubbub.core import events
from hubbub.core.models import Channel, User
from hubbub.core.ports import StoreError
from hubbub.core.roles import require_admin
from hubbub.protocol.errors import ChatError, ErrorCode
from hubbub.protocol.notify import (
    EMAIL_RE,
    LEVELS,
    MAX_EMAIL,
    ChannelPrefs,
    Level,
    Schedule,
    UserPrefs,
    check_clock,
    check_zone,
    dnd_active,
)

if TYPE_CHECKING:
    from hubbub.core.hub import Hub

# The longest snooze (`dnd_until` further ahead is refused): Slack's is a day
# or "until tomorrow"; a week covers a long weekend without being forever.
MAX_SNOOZE_MS = 7 * 24 * 3600 * 1000


class Unset:
    """A field the change leaves as it is (None means "clear it")."""


UNSET = Unset()


def user_prefs_body(prefs: UserPrefs, now_ms: int) -> dict[str, Any]:
    """protocol.frames.NotificationsOut."""
    s = prefs.schedule
    until = prefs.dnd_until if prefs.dnd_until is not None and prefs.dnd_until > now_ms else None
    return {
        "dnd_until": until,
        "schedule": None if s is None else {"start": s.start, "end": s.end, "tz": s.tz},
        "dnd": dnd_active(prefs, now_ms),
        "email_digest": prefs.email_digest,
        "email": prefs.email,
    }


def channel_prefs_body(channel: Channel, prefs: ChannelPrefs) -> dict[str, Any]:
    """protocol.frames.ChannelNotificationsOut."""
    return {"channel": channel.name, "level": prefs.level, "muted": prefs.muted}


def check_schedule(start: str, end: str, tz: str) -> Schedule:
    for name, value in (("schedule.start", start), ("schedule.end", end)):
        try:
            check_clock(value)
        except ValueError as exc:
            raise ChatError(ErrorCode.invalid_input, str(exc), field=name) from None
    try:
        check_zone(tz)
    except ValueError as exc:
        raise ChatError(ErrorCode.invalid_input, str(exc), field="schedule.tz") from None
    return Schedule(start, end, tz)


def check_email(address: str | None) -> str | None:
    """An address to send digests to ("" or None: none)."""
    if not address:
        return None
    address = address.strip()
    if len(address) > MAX_EMAIL or not EMAIL_RE.match(address):
        raise ChatError(ErrorCode.invalid_input, "not an e-mail address", field="email")
    return address


def check_level(level: str) -> Level:
    for known in LEVELS:
        if level == known:
            return known
    raise ChatError(ErrorCode.invalid_input, f"level is one of {', '.join(LEVELS)}", field="level")


class Notifications:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def now_ms(self) -> int:
        return int(self.hub.clock() * 1000)

    async def user_prefs(self, user: User) -> UserPrefs:
        try:
            return await self.hub.store.user_prefs(user.id)
        except StoreError as exc:
            raise _unavailable(exc) from None

    async def settings(self, user: User) -> dict[str, Any]:
        return user_prefs_body(await self.user_prefs(user), self.now_ms())

    async def update(
        self,
        user: User,
        *,
        dnd_until: int | Unset | None = UNSET,
        schedule: Schedule | Unset | None = UNSET,
        email_digest: bool | Unset = UNSET,
        email: str | Unset | None = UNSET,
    ) -> dict[str, Any]:
        """Change some of the user's own settings; the others stay. Returns
        (and pushes to all of the user's connections) the settings now."""
        now = self.now_ms()
        if email_digest is True and self.hub.digests is None:
            # Said, not silently stored: the user would wait for mail that
            # never comes (no --smtp-url here, or the Lambda deployment).
            raise ChatError(
                ErrorCode.unsupported,
                "this server sends no e-mail (it has no --smtp-url): digests cannot be turned on",
            )
        if isinstance(dnd_until, int):
            if dnd_until > now + MAX_SNOOZE_MS:
                raise ChatError(
                    ErrorCode.invalid_input,
                    "do not disturb can be snoozed for at most 7 days",
                    field="dnd_until",
                )
            if dnd_until <= now:
                dnd_until = None  # a time that has passed: off
        old = await self.user_prefs(user)
        new = UserPrefs(
            old.dnd_until if isinstance(dnd_until, Unset) else dnd_until,
            old.schedule if isinstance(schedule, Unset) else schedule,
            old.email_digest if isinstance(email_digest, Unset) else email_digest,
            old.email if isinstance(email, Unset) else email,
        )
        if new != old:
            try:
                await self.hub.store.set_user_prefs(user.id, new)
            except StoreError as exc:
                raise _unavailable(exc) from None
        body = user_prefs_body(new, now)
        await self.hub.publish(events.user_topic(user.id), {"type": "notifications", **body})
        return body

    async def apply(self, user: User, given: dict[str, Any]) -> dict[str, Any]:
        """`update` from a frame's or a request body's fields as given (left
        out: unchanged; `null`: cleared): `dnd_until` or `dnd_minutes` (not
        both), `schedule` ({start, end, tz}), `email_digest`."""
        changes: dict[str, Any] = {}
        minutes = given.get("dnd_minutes")
        if minutes is not None:
            if "dnd_until" in given:
                raise ChatError(
                    ErrorCode.invalid_input,
                    "give dnd_until or dnd_minutes, not both",
                    field="dnd_minutes",
                )
            changes["dnd_until"] = self.now_ms() + minutes * 60_000
        elif "dnd_until" in given:
            changes["dnd_until"] = given["dnd_until"]
        if "schedule" in given:
            s = given["schedule"]
            changes["schedule"] = (
                None if s is None else check_schedule(s["start"], s["end"], s["tz"])
            )
        if given.get("email_digest") is not None:
            changes["email_digest"] = given["email_digest"]
        if "email" in given:
            changes["email"] = check_email(given["email"])
        return await self.update(user, **changes)

    async def email_of(self, admin: User, username: str) -> tuple[User, str | None]:
        """Someone's digest address, for a workspace admin (who may need to
        reach them); nobody else sees it but its owner."""
        require_admin(admin)
        user = await self.hub.user_by_name(username)
        return user, (await self.user_prefs(user)).email

    async def snooze(self, user: User, minutes: int | None) -> dict[str, Any]:
        """Do not disturb for `minutes` from now (None: off)."""
        until = None if minutes is None else self.now_ms() + minutes * 60_000
        return await self.update(user, dnd_until=until)

    async def channel(self, user: User, name: str) -> tuple[Channel, ChannelPrefs]:
        channel = (await self.hub.member_channel(user, name)).channel
        return channel, (await self.all_channels(user)).get(channel.id, ChannelPrefs())

    async def all_channels(self, user: User) -> dict[int, ChannelPrefs]:
        try:
            return await self.hub.store.channel_prefs(user.id)
        except StoreError as exc:
            raise _unavailable(exc) from None

    async def set_channel(
        self, user: User, name: str, *, level: Level | None = None, muted: bool | None = None
    ) -> tuple[Channel, ChannelPrefs]:
        """Change the user's level or mute (None: as it is) in a channel they
        are in; pushed to all of their connections."""
        channel, old = await self.channel(user, name)
        new = dataclasses.replace(
            old,
            level=old.level if level is None else level,
            muted=old.muted if muted is None else muted,
        )
        if new != old:
            try:
                await self.hub.store.set_channel_prefs(user.id, channel.id, new)
            except StoreError as exc:
                raise _unavailable(exc) from None
        await self.hub.publish(
            events.user_topic(user.id),
            {"type": "channel_notifications", **channel_prefs_body(channel, new)},
        )
        return channel, new


def _unavailable(exc: StoreError) -> ChatError:
    return ChatError(ErrorCode.unavailable, f"storage unavailable: {exc}")
