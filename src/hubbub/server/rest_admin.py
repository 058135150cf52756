"""REST routes of running a workspace: roles, deactivation, the audit log,
and what channel admins and workspace admins change about a channel."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from hubbub.core import events
from hubbub.core.admin import MAX_AUDIT_PAGE
from hubbub.protocol.frames import ChannelOut, UserOut
from hubbub.protocol.rules import MAX_PURPOSE, MAX_TOPIC
from hubbub.server.openapi import errors
from hubbub.server.restkit import (
    CHANNEL,
    JSON_BODY,
    MEMBER,
    SIGNED_IN,
    AdminRoute,
    AuthFirstRoute,
    Body,
    E,
    HubDep,
    UserDep,
    user_out,
)

# People and the audit log: an API token needs the `admin` scope for them.
admin = APIRouter(prefix="/api", route_class=AdminRoute)
# A channel's settings and members: its own admins' too, so `write` will do.
channel_admin = APIRouter(prefix="/api", route_class=AuthFirstRoute)


class RoleIn(Body):
    role: Literal["owner", "admin", "member", "guest"]


class ActiveIn(Body):
    active: bool


MANAGE = (E.forbidden, E.not_found, E.last_owner)


@admin.put(
    "/users/{username}/role",
    response_model=UserOut,
    tags=["admin"],
    responses=errors(*SIGNED_IN, *JSON_BODY, *MANAGE),
)
async def set_role(username: str, body: RoleIn, user: UserDep, hub: HubDep) -> dict[str, Any]:
    """Give someone a role. Admins manage members and guests; only owners
    make or unmake admins and owners; the last active owner stays one."""
    return user_out(hub, await hub.admin.set_role(user, username, body.role))


@admin.put(
    "/users/{username}/active",
    response_model=UserOut,
    tags=["admin"],
    responses=errors(*SIGNED_IN, *JSON_BODY, *MANAGE),
)
async def set_active(username: str, body: ActiveIn, user: UserDep, hub: HubDep) -> dict[str, Any]:
    """Deactivate (`false`) or reactivate an account. Deactivating ends its
    sessions: its tokens are refused on every node within a second, and its
    WebSocket connections close at once (4011). Its messages stay."""
    return user_out(hub, await hub.admin.set_active(user, username, body.active))


class AuditOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: int
    at: int = Field(description="ms since the epoch")
    actor: str = Field(description="Who (a username; empty: the operator's `hubbub admin`).")
    action: str = Field(description="What, e.g. `user.deactivate`, `channel.rename`.")
    target: str = Field(description="To what, e.g. `@ann`, `#general`.")
    detail: dict[str, Any]


@admin.get(
    "/audit",
    response_model=list[AuditOut],
    tags=["admin"],
    responses=errors(*SIGNED_IN, E.invalid_input, E.forbidden),
)
async def audit_log(
    user: UserDep,
    hub: HubDep,
    before: Annotated[int | None, Query(ge=1, description="Entries with ids below.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_AUDIT_PAGE)] = 50,
) -> list[dict[str, Any]]:
    """The audit log of administrative actions, newest first (admins)."""
    return [
        {
            "id": e.id,
            "at": e.at,
            "actor": e.actor,
            "action": e.action,
            "target": e.target,
            "detail": orjson.loads(e.detail),
        }
        for e in await hub.admin.audit_log(user, before=before, limit=limit)
    ]


class ChannelPatch(Body):
    name: str | None = Field(
        None,
        max_length=80,
        description="A new name; the old one keeps addressing the channel (docs/protocol.md).",
    )
    topic: str | None = Field(None, max_length=MAX_TOPIC)
    purpose: str | None = Field(None, max_length=MAX_PURPOSE)
    archived: bool | None = Field(None, description="Read-only, and hidden from lists.")
    default: bool | None = Field(None, description="New accounts join it (public only).")


@channel_admin.patch(
    "/channels/{name}",
    response_model=ChannelOut,
    tags=["channels"],
    responses=errors(
        *SIGNED_IN,
        *JSON_BODY,
        *MEMBER,
        E.forbidden,
        E.invalid_name,
        E.conflict,
        E.channel_archived,
    ),
)
async def update_channel(
    name: str, body: ChannelPatch, user: UserDep, hub: HubDep
) -> dict[str, Any]:
    """Change what is given. Topic and purpose: any member (not while
    archived). Name and archived: the channel's admins (its creator) and
    workspace admins. Default: workspace admins. Unarchiving comes first and
    archiving last, so one request can unarchive and rename."""
    channel = None
    if body.archived is False:
        channel = await hub.admin.set_archived(user, name, False)
    if body.name is not None:
        channel = await hub.admin.rename_channel(user, name, body.name)
        name = channel.name
    if body.topic is not None:
        channel = await hub.set_topic(user, name, body.topic)
    if body.purpose is not None:
        channel = await hub.admin.set_purpose(user, name, body.purpose)
    if body.default is not None:
        channel = await hub.admin.set_default(user, name, body.default)
    if body.archived:
        channel = await hub.admin.set_archived(user, name, True)
    if channel is None:
        channel, _ = await hub.channel_for(user, name)
    return events.channel_body(channel)


@channel_admin.delete(
    "/channels/{name}/members/{username}",
    response_model=ChannelOut,
    tags=["channels"],
    responses=errors(*SIGNED_IN, *CHANNEL, E.not_a_member, E.forbidden),
)
async def remove_member(name: str, username: str, user: UserDep, hub: HubDep) -> dict[str, Any]:
    """Take someone out of the channel (its admins, workspace admins; a DM
    has none). They can come back only as anyone could: a public channel
    by joining, a private one by an invite."""
    return events.channel_body(await hub.admin.remove_member(user, name, username))
