"""REST routes of notification preferences (core.notifications): yours
(do-not-disturb, its schedule, e-mail digests) and a channel's (level,
mute). The WebSocket frames `notifications`, `set_notifications`,
`channel_notifications` and `set_channel_notifications` do the same; every
change reaches all of your connections."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from hubbub.core.notifications import MAX_SNOOZE_MS, channel_prefs_body
from hubbub.protocol import frames
from hubbub.protocol.frames import ChannelNotificationsOut, NotificationsOut
from hubbub.protocol.notify import MAX_EMAIL, Level
from hubbub.server.openapi import errors
from hubbub.server.restkit import (
    JSON_BODY,
    MEMBER,
    SIGNED_IN,
    AdminRoute,
    AuthFirstRoute,
    Body,
    E,
    HubDep,
    UserDep,
)

notify_api = APIRouter(prefix="/api", route_class=AuthFirstRoute)
notify_admin = APIRouter(prefix="/api", route_class=AdminRoute)


class EmailOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str
    email: str | None = Field(description="Where their digests go; `null`: none given.")


class NotificationsIn(Body):
    """Fields left out stay as they are; `null` clears one."""

    dnd_until: int | None = Field(
        None,
        ge=0,
        le=2**53,
        description="Do not disturb until then (ms since the epoch, at most "
        f"{MAX_SNOOZE_MS // 86_400_000} days ahead); a past time or `null`: off.",
    )
    dnd_minutes: int | None = Field(
        None, ge=1, le=MAX_SNOOZE_MS // 60_000, description="Or: for this many minutes from now."
    )
    schedule: frames.DndSchedule | None = Field(
        None, description="Do not disturb every day in this window; `null`: no schedule."
    )
    email_digest: bool | None = Field(
        None,
        description="E-mail unread mentions and DMs while offline (to `email`; sent only "
        "where the server has `--smtp-url`).",
    )
    email: str | None = Field(
        None,
        max_length=MAX_EMAIL,
        description='Where digests go (`""` or `null`: nowhere); 400 `invalid_input` '
        "(`field: email`) for what is not an address.",
    )


class ChannelNotificationsIn(Body):
    level: Level | None = Field(
        None, description="`all`, `mentions` (the default) or `nothing`; left out: as it is."
    )
    muted: bool | None = Field(None, description="Left out: as it is.")


@notify_api.get(
    "/notifications",
    response_model=NotificationsOut,
    tags=["notifications"],
    responses=errors(*SIGNED_IN),
)
async def get_notifications(hub: HubDep, user: UserDep) -> dict[str, Any]:
    """Your notification settings; `dnd` says whether do-not-disturb is on now."""
    return await hub.notifications.settings(user)


@notify_api.put(
    "/notifications",
    response_model=NotificationsOut,
    tags=["notifications"],
    responses=errors(*SIGNED_IN, *JSON_BODY, E.unsupported),
)
async def put_notifications(body: NotificationsIn, hub: HubDep, user: UserDep) -> dict[str, Any]:
    """Change some of your notification settings (give `dnd_until` or
    `dnd_minutes`, not both: 400 `invalid_input`). A schedule's unknown time
    zone is 400 `invalid_input` with `field: schedule.tz`. Turning
    `email_digest` on where the server sends no e-mail (no `--smtp-url`) is 501
    `unsupported`. All of your connections get a `notifications` event."""
    return await hub.notifications.apply(user, body.model_dump(include=body.model_fields_set))


@notify_api.get(
    "/channels/{name}/notifications",
    response_model=ChannelNotificationsOut,
    tags=["notifications"],
    responses=errors(*SIGNED_IN, *MEMBER),
)
async def get_channel_notifications(name: str, hub: HubDep, user: UserDep) -> dict[str, Any]:
    """Your level and mute in a channel (or DM) you are in."""
    channel, prefs = await hub.notifications.channel(user, name)
    return channel_prefs_body(channel, prefs)


@notify_api.put(
    "/channels/{name}/notifications",
    response_model=ChannelNotificationsOut,
    tags=["notifications"],
    responses=errors(*SIGNED_IN, *MEMBER, *JSON_BODY),
)
async def put_channel_notifications(
    name: str, body: ChannelNotificationsIn, hub: HubDep, user: UserDep
) -> dict[str, Any]:
    """Set your level or mute in a channel you are in. All of your
    connections get a `channel_notifications` event."""
    channel, prefs = await hub.notifications.set_channel(
        user, name, level=body.level, muted=body.muted
    )
    return channel_prefs_body(channel, prefs)


@notify_admin.get(
    "/admin/users/{username}/email",
    response_model=EmailOut,
    tags=["admin"],
    responses=errors(*SIGNED_IN, E.forbidden, E.not_found),
)
async def get_email(username: str, hub: HubDep, user: UserDep) -> dict[str, Any]:
    """Someone's e-mail address (the one their digests go to): workspace
    admins only (403 `forbidden` otherwise; an API token needs `admin`)."""
    who, email = await hub.notifications.email_of(user, username)
    return {"username": who.username, "email": email}
