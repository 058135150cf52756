"""REST routes of API tokens and bot accounts (core.tokens): what a script,
a CI job or a bot signs in with. Each needs a login, not an API token."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from hubbub.core.models import SCOPES, Scope
from hubbub.core.tokens import MAX_TOKEN_NAME, bot_bodies, token_body
from hubbub.protocol.frames import UserOut
from hubbub.protocol.rules import MAX_DISPLAY_NAME
from hubbub.server.openapi import errors
from hubbub.server.restkit import JSON_BODY, SIGNED_IN, AuthFirstRoute, Body, E, HubDep, IdentityDep
from hubbub.server.restrules import NOT_ONLY_SPACE, USERNAME_RULE

tokens_api = APIRouter(prefix="/api", route_class=AuthFirstRoute)

BotQuery = Annotated[
    str | None,
    Query(max_length=32, description="A bot you manage: its tokens instead of yours."),
]
MANAGE = (E.forbidden, E.not_found)


class TokenIn(Body):
    name: str = Field(
        min_length=1,
        max_length=MAX_TOKEN_NAME,
        pattern=NOT_ONLY_SPACE,
        description="What it is for, e.g. `CI`.",
    )
    scopes: list[Scope] = Field(
        ["read", "write"],
        min_length=1,
        max_length=len(SCOPES),
        description="`read`: GET routes and WebSocket reads; `write`: everything else; "
        "`admin`: the admin routes (an admin's token only).",
    )
    bot: str | None = Field(None, max_length=32, description="Make it for this bot of yours.")


class TokenOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(description="Names it in lists and to revoke it (it is not the secret).")
    name: str
    scopes: list[Scope]
    created_at: int
    last_used_at: int | None = Field(
        description="ms since the epoch, to within a minute; `null`: never used."
    )
    last_address: str = Field(description="The client address it was last used from.")


class NewTokenOut(TokenOut):
    token: str = Field(
        description="`hbt.<id>.<secret>`, for `Authorization: Bearer` or the WebSocket's "
        "`auth` frame. Shown once: only its hash is kept."
    )


@tokens_api.post(
    "/tokens",
    status_code=201,
    response_model=NewTokenOut,
    tags=["integrations"],
    responses=errors(*SIGNED_IN, *JSON_BODY, *MANAGE),
)
async def create_token(body: TokenIn, identity: IdentityDep, hub: HubDep) -> dict[str, Any]:
    """A long-lived API token for you or a bot you manage (at most 100 each).
    It does not expire; a new password or "log out everywhere" leaves it
    standing: revoke it, or deactivate the account."""
    token, session = await hub.tokens.create(identity, body.name, body.scopes, bot=body.bot)
    return {**token_body(session), "token": token}


@tokens_api.get(
    "/tokens",
    response_model=list[TokenOut],
    tags=["integrations"],
    responses=errors(*SIGNED_IN, E.invalid_input, *MANAGE),
)
async def list_tokens(identity: IdentityDep, hub: HubDep, bot: BotQuery = None) -> list[Any]:
    """Your standing API tokens (or a bot's), the most recently used first."""
    return [token_body(s) for s in await hub.tokens.listed(identity, bot=bot)]


@tokens_api.delete(
    "/tokens/{token_id}",
    status_code=204,
    tags=["integrations"],
    responses=errors(*SIGNED_IN, E.invalid_input, *MANAGE),
)
async def revoke_token(
    token_id: Annotated[str, Path(max_length=64)],
    identity: IdentityDep,
    hub: HubDep,
    bot: BotQuery = None,
) -> Response:
    """Revoke a token: refused from now on on every node within a second;
    its WebSocket connections close (4010)."""
    await hub.tokens.revoke(identity, token_id, bot=bot)
    return Response(status_code=204)


class BotIn(Body):
    username: str = Field(
        max_length=32,
        description="2-32 characters: lowercase letters, digits, `_`, `.`, `-`.",
        json_schema_extra=USERNAME_RULE,
    )
    display_name: str = Field("", max_length=MAX_DISPLAY_NAME)


class BotOut(UserOut):
    owner: str | None = Field(description="The person who manages it (`null`: gone).")


class BotActiveIn(Body):
    active: bool


@tokens_api.post(
    "/bots",
    status_code=201,
    response_model=BotOut,
    tags=["integrations"],
    responses=errors(*SIGNED_IN, *JSON_BODY, E.invalid_name, E.conflict, E.forbidden),
)
async def create_bot(body: BotIn, identity: IdentityDep, hub: HubDep) -> dict[str, Any]:
    """A bot account owned by you (not guests; at most 50): no password, in no
    channel until invited; give it a token with `POST /api/tokens`."""
    bot = await hub.tokens.create_bot(identity, body.username, body.display_name)
    (out,) = await bot_bodies(hub, [bot])
    return out


@tokens_api.get(
    "/bots",
    response_model=list[BotOut],
    tags=["integrations"],
    responses=errors(*SIGNED_IN, E.forbidden),
)
async def list_bots(identity: IdentityDep, hub: HubDep) -> list[dict[str, Any]]:
    """The bots you manage (an admin: every bot), by username."""
    return await bot_bodies(hub, await hub.tokens.bots(identity))


@tokens_api.put(
    "/bots/{username}/active",
    response_model=BotOut,
    tags=["integrations"],
    responses=errors(*SIGNED_IN, *JSON_BODY, *MANAGE),
)
async def set_bot_active(
    username: Annotated[str, Path(max_length=32)],
    body: BotActiveIn,
    identity: IdentityDep,
    hub: HubDep,
) -> dict[str, Any]:
    """Deactivate (`false`) a bot you manage: its tokens end and its
    connections close at once (4011); or bring it back (with new tokens)."""
    bot = await hub.tokens.set_bot_active(identity, username, body.active)
    (out,) = await bot_bodies(hub, [bot])
    return out
