"""REST routes of one's own account: sessions (log out, here or everywhere),
password, profile and custom status; and invites, and what the workspace
lets a visitor do (`GET /api/workspace`, read before signing in)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from hubbub.core.accounts import (
    MAX_INVITE_CHANNELS,
    MAX_INVITE_DAYS,
    MAX_INVITE_USES,
    invite_body,
    session_body,
)
from hubbub.core.models import Status
from hubbub.protocol.frames import UserOut
from hubbub.protocol.limits import Registration
from hubbub.protocol.rules import MAX_DISPLAY_NAME, MAX_STATUS_TEXT
from hubbub.server.openapi import errors
from hubbub.server.restkit import (
    CHANNEL,
    JSON_BODY,
    SIGNED_IN,
    STORE,
    AuthFirstRoute,
    Body,
    E,
    HubDep,
    IdentityDep,
    JsonInt,
    LoginDep,
    UserDep,
    client_address,
    user_out,
)
from hubbub.server.restrules import EMOJI_MAX, NOT_ONLY_SPACE, PASSWORD_RULE, emoji_names

account = APIRouter(prefix="/api", route_class=AuthFirstRoute)


class WorkspaceOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    registration: Registration = Field(
        description="Who may create an account: `open` (anyone), `invite` (with an "
        "invite code), `closed` (nobody; accounts come from `hubbub admin`)."
    )
    setup: bool = Field(
        description="No owner yet: the next account registered is the owner's, "
        "whatever `registration` says."
    )
    members_may_invite: bool


@account.get("/workspace", response_model=WorkspaceOut, tags=["auth"], responses=errors(*STORE))
async def workspace(hub: HubDep) -> dict[str, Any]:
    """What a visitor may do here (no token needed): the sign-in page reads it."""
    return {
        "registration": hub.registration,
        "setup": not await hub.store.users_with_role("owner"),
        "members_may_invite": hub.members_may_invite,
    }


# --- sessions --------------------------------------------------------------------------


class SessionOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    device: str = Field(description="The User-Agent it logged in with.")
    address: str = Field(description="The client address it was last used from.")
    created_at: int
    last_used_at: int = Field(description="ms since the epoch, to within a minute.")
    current: bool = Field(description="The session of the token of this request.")


@account.post("/auth/logout", status_code=204, tags=["auth"], responses=errors(*SIGNED_IN))
async def logout(identity: IdentityDep, hub: HubDep) -> Response:
    """End this token's session: it is refused from now on, on every node
    within a second, and its WebSocket connections close (4010)."""
    await hub.accounts.end_sessions(identity.user, only=identity.session.id)
    return Response(status_code=204)


@account.get(
    "/sessions", response_model=list[SessionOut], tags=["auth"], responses=errors(*SIGNED_IN)
)
async def sessions(identity: LoginDep, hub: HubDep) -> list[dict[str, Any]]:
    """Your sessions that stand (one per login), the most recently used first
    (API tokens: `GET /api/tokens`). Needs a login, not an API token."""
    return [
        session_body(s, identity.session.id) for s in await hub.accounts.sessions(identity.user)
    ]


@account.delete(
    "/sessions/{session_id}",
    status_code=204,
    tags=["auth"],
    responses=errors(*SIGNED_IN, E.invalid_input, E.not_found),
)
async def end_session(
    session_id: Annotated[str, Path(max_length=64)], identity: LoginDep, hub: HubDep
) -> Response:
    """Revoke one of your logins (another device's, or this one; an API
    token: `DELETE /api/tokens/{id}`)."""
    await hub.accounts.end_session(identity.user, session_id)
    return Response(status_code=204)


@account.delete(
    "/sessions", status_code=204, tags=["auth"], responses=errors(*SIGNED_IN, E.invalid_input)
)
async def end_sessions(
    identity: LoginDep,
    hub: HubDep,
    keep_current: Annotated[
        bool, Query(description="End every session but this request's.")
    ] = False,
) -> Response:
    """Log out everywhere: every login of yours (but this one, with
    `keep_current`). API tokens stand: revoke them one by one."""
    await hub.accounts.end_sessions(
        identity.user, keep=identity.session.id if keep_current else None, logins_only=True
    )
    return Response(status_code=204)


# --- password and profile ----------------------------------------------------------------


class PasswordIn(Body):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024, json_schema_extra=PASSWORD_RULE)


@account.put(
    "/me/password",
    status_code=204,
    tags=["users"],
    responses=errors(*SIGNED_IN, *JSON_BODY, E.bad_credentials, E.weak_password, E.login_throttled),
)
async def change_password(
    request: Request, body: PasswordIn, identity: LoginDep, hub: HubDep
) -> Response:
    """A new password, given the current one (wrong ones are throttled as
    logins are). Every other login of yours ends; this one and your API
    tokens stay."""
    await hub.accounts.change_password(
        identity, body.current_password, body.new_password, address=client_address(request)
    )
    return Response(status_code=204)


def _status_emoji(value: str) -> str:
    if value and value not in emoji_names():
        raise ValueError("not an emoji: give one emoji, or its :shortcode:")
    return value


class StatusIn(Body):
    emoji: Annotated[str, AfterValidator(_status_emoji)] = Field(
        "", max_length=EMOJI_MAX, description="One emoji or its `:shortcode:`; empty: none."
    )
    text: str = Field("", max_length=MAX_STATUS_TEXT)
    until: JsonInt | None = Field(
        None, description="When it clears by itself (ms since the epoch); null: never."
    )


class ProfileIn(Body):
    display_name: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_DISPLAY_NAME,
        json_schema_extra={"pattern": NOT_ONLY_SPACE},
    )
    custom_status: StatusIn | None = Field(
        None, description="A custom status; `{}` (no emoji, no text) clears it."
    )


@account.patch(
    "/me", response_model=UserOut, tags=["users"], responses=errors(*SIGNED_IN, *JSON_BODY)
)
async def update_me(body: ProfileIn, user: UserDep, hub: HubDep) -> dict[str, Any]:
    """Change your display name and/or custom status (what is given)."""
    status = None
    if body.custom_status is not None:
        s = body.custom_status
        status = Status(s.emoji, s.text, s.until if (s.emoji or s.text) else None)
    updated = await hub.accounts.update_profile(user, display_name=body.display_name, status=status)
    return user_out(hub, updated)


# --- invites ------------------------------------------------------------------------------


class InviteLinkIn(Body):
    max_uses: JsonInt = Field(1, ge=1, le=MAX_INVITE_USES)
    expires_in: JsonInt = Field(
        7 * 86400, ge=60, le=MAX_INVITE_DAYS * 86400, description="Seconds from now."
    )
    role: Literal["owner", "admin", "member", "guest"] = "member"
    channels: list[str] = Field(
        [],
        max_length=MAX_INVITE_CHANNELS,
        description="Channels (you can see) the new account joins; a guest's only ones.",
    )


class InviteOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    role: str
    channels: list[str]
    max_uses: int
    uses: int
    created_at: int
    expires_at: int
    state: Literal["active", "used_up", "expired", "revoked"]


class NewInviteOut(InviteOut):
    code: str = Field(description="Shown once: only its hash is kept.")
    path: str = Field(description="The web app's sign-up link, relative to this server.")


@account.post(
    "/invites",
    status_code=201,
    response_model=NewInviteOut,
    tags=["admin"],
    responses=errors(*SIGNED_IN, *JSON_BODY, E.forbidden, *CHANNEL, E.not_a_member),
)
async def create_invite(body: InviteLinkIn, user: UserDep, hub: HubDep) -> dict[str, Any]:
    """An invite link (admins; members too with `--member-invites`, as
    members or guests only)."""
    code, invite = await hub.accounts.create_invite(
        user,
        max_uses=body.max_uses,
        expires_in=body.expires_in,
        role=body.role,
        channels=tuple(body.channels),
    )
    return {
        **invite_body(invite, invite.created_at),
        "code": code,
        "path": f"/#/invite/{code}",
    }


@account.get(
    "/invites",
    response_model=list[InviteOut],
    tags=["admin"],
    responses=errors(*SIGNED_IN, E.forbidden),
)
async def list_invites(user: UserDep, hub: HubDep) -> list[dict[str, Any]]:
    """Every invite, the newest first (admins)."""
    now = int(hub.clock() * 1000)
    return [invite_body(i, now) for i in await hub.accounts.invites(user)]


@account.delete(
    "/invites/{invite_id}",
    status_code=204,
    tags=["admin"],
    responses=errors(*SIGNED_IN, E.invalid_input, E.forbidden, E.not_found),
)
async def revoke_invite(
    invite_id: Annotated[str, Path(max_length=64)], user: UserDep, hub: HubDep
) -> Response:
    """Revoke an invite: its link registers no one from now on (admins)."""
    await hub.accounts.revoke_invite(user, invite_id)
    return Response(status_code=204)
