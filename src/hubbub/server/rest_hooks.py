"""REST routes of webhooks (core.hooks): `POST /hooks/{secret}`, Slack's
incoming-webhook call; `/api/hooks` to manage incoming ones and
`/api/outgoing-hooks` outgoing ones (a login's)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from hubbub.core import outgoing
from hubbub.core.callout import MAX_URL
from hubbub.core.hooks import MAX_HOOK_NAME, MAX_IDEMPOTENCY_KEY
from hubbub.protocol.rules import CHANNEL_RE, OUTBOUND_URL_RE
from hubbub.server.openapi import errors
from hubbub.server.restkit import (
    JSON_BODY,
    MEMBER,
    SIGNED_IN,
    STORE,
    AuthFirstRoute,
    Body,
    E,
    HubDep,
    IdentityDep,
)
from hubbub.server.restrules import NOT_ONLY_SPACE

hooks_api = APIRouter(prefix="/api", route_class=AuthFirstRoute)
# The Slack-shaped URL, outside /api: no token, the secret is the credential.
hook_posts = APIRouter()

SLACK_BODY: dict[str, Any] = {
    "type": "object",
    "description": "Slack's incoming-webhook body. `blocks` and `attachments` degrade "
    "to their text; `icon_emoji`, `icon_url`, `channel` and `thread_ts` are accepted "
    "and ignored.",
    "properties": {
        "text": {"type": "string", "description": "Slack mrkdwn (`<url|label>`, `<!here>`)."},
        "username": {"type": "string", "description": "The name shown on this message."},
        "blocks": {"type": "array", "items": {"type": "object"}},
        "attachments": {"type": "array", "items": {"type": "object"}},
        "icon_emoji": {"type": "string"},
        "icon_url": {"type": "string"},
    },
}
POST_DOC: dict[str, Any] = {
    "parameters": [
        {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "description": "A retry with the same key posts nothing new (hubbub's own).",
            "schema": {"type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY},
        }
    ],
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": SLACK_BODY},
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["payload"],
                    "properties": {"payload": {"type": "string", "description": "The JSON."}},
                }
            },
        },
    },
}


@hook_posts.post(
    "/hooks/{secret}",
    response_model=None,
    tags=["integrations"],
    openapi_extra=POST_DOC,
    responses={
        200: {
            "description": "Posted (or posted before, with the same `Idempotency-Key`).",
            "content": {"text/plain": {"schema": {"type": "string", "enum": ["ok"]}}},
        },
        **errors(
            *JSON_BODY,
            E.message_too_long,
            E.not_found,
            E.forbidden,
            E.not_a_member,
            E.channel_archived,
            E.rate_limited,
            *STORE,
        ),
    },
)
async def post_hook(
    secret: Annotated[str, Path(description="The hook's secret (any other: 404).")],
    request: Request,
    hub: HubDep,
) -> Response:
    """Post into the hook's channel, as Slack's incoming webhooks take it: a
    JSON body (`text`, `blocks`, `attachments`, `username`), or a form whose
    `payload` is that JSON. Answers `ok` as Slack does. A wrong secret is a
    404; the hook's account's send rate applies (429 with `Retry-After`)."""
    await hub.hooks.post(
        secret,
        await request.body(),
        request.headers.get("content-type", ""),
        idempotency_key=request.headers.get("idempotency-key"),
    )
    return PlainTextResponse("ok")


class HookIn(Body):
    channel: str = Field(max_length=80, pattern=CHANNEL_RE.pattern)
    name: str = Field(
        min_length=1,
        max_length=MAX_HOOK_NAME,
        pattern=NOT_ONLY_SPACE,
        description="What it is for, e.g. `CI`.",
    )
    bot: str | None = Field(
        None, max_length=32, description="Post as this bot of yours (added to the channel)."
    )


class HookOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(description="Names it in lists and to delete it (it is not the secret).")
    name: str
    channel: str
    poster: str = Field(description="The account its messages are from.")
    created_by: str
    created_at: int


class NewHookOut(HookOut):
    url: str = Field(description="Where to POST. Shown once: only its secret's hash is kept.")


@hooks_api.post(
    "/hooks",
    status_code=201,
    response_model=NewHookOut,
    tags=["integrations"],
    responses=errors(*SIGNED_IN, *JSON_BODY, *MEMBER, E.channel_archived, E.forbidden, E.conflict),
)
async def create_hook(
    body: HookIn, request: Request, identity: IdentityDep, hub: HubDep
) -> dict[str, Any]:
    """An incoming webhook into a channel you are in (at most 100
    integrations each), posting as you or as `bot`. Needs a login."""
    secret, hook = await hub.hooks.create_incoming(identity, body.channel, body.name, bot=body.bot)
    (described,) = await hub.hooks.describe([hook])
    return {**described, "url": f"{request.base_url}hooks/{secret}"}


@hooks_api.get(
    "/hooks",
    response_model=list[HookOut],
    tags=["integrations"],
    responses=errors(*SIGNED_IN, E.forbidden),
)
async def list_hooks(identity: IdentityDep, hub: HubDep) -> list[dict[str, Any]]:
    """The incoming webhooks you made (an admin: every one), the newest first."""
    return await hub.hooks.describe(await hub.hooks.listed(identity))


@hooks_api.delete(
    "/hooks/{hook_id}",
    status_code=204,
    tags=["integrations"],
    responses=errors(*SIGNED_IN, E.invalid_input, E.forbidden, E.not_found),
)
async def delete_hook(
    hook_id: Annotated[str, Path(max_length=64)], identity: IdentityDep, hub: HubDep
) -> Response:
    """Delete a hook you made (an admin: any): its URL answers 404 from now on."""
    await hub.hooks.delete(identity, hook_id)
    return Response(status_code=204)


# --- outgoing webhooks ---------------------------------------------------------------


class OutgoingHookIn(HookIn):
    url: str = Field(
        max_length=MAX_URL,
        pattern=OUTBOUND_URL_RE.pattern,
        description="Where each message is POSTed: http(s), not to a loopback or private "
        "address unless the server allows it (`--outbound-allow`).",
    )
    triggers: list[Annotated[str, Field(min_length=1, max_length=outgoing.MAX_TRIGGER)]] = Field(
        [],
        max_length=outgoing.MAX_TRIGGERS,
        description="Only messages starting with one of these words (none: every message).",
    )
    format: Literal["form", "json"] = Field(
        "form", description="Slack's form-encoded payload, or the same fields as JSON."
    )
    bot: str | None = Field(
        None, max_length=32, description="Answer as this bot of yours (added to the channel)."
    )


class DeadLetterOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seq: int
    attempts: int
    error: str
    at: int


class DeliveryOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cursor: int = Field(description="The channel's log is delivered up to this seq.")
    delivered: int
    dead: int = Field(description="Messages given up on after their last attempt.")
    attempts: int = Field(description="Failed attempts at the next message so far.")
    next_at: int | None = Field(description="When the next attempt is due (ms), if retrying.")
    last_error: str
    dead_letters: list[DeadLetterOut] = Field(description="The latest 20.")


class OutgoingHookOut(HookOut):
    url: str
    triggers: list[str]
    format: Literal["form", "json"]
    token: str = Field(description="Sent as the payload's `token`, as Slack's.")
    signing_secret: str = Field(description="What `X-Slack-Signature` is signed with.")
    poster: str = Field(description="The account its receiver's answers are posted as.")
    delivery: DeliveryOut


@hooks_api.post(
    "/outgoing-hooks",
    status_code=201,
    response_model=OutgoingHookOut,
    tags=["integrations"],
    responses=errors(
        *SIGNED_IN,
        *JSON_BODY,
        *MEMBER,
        E.channel_archived,
        E.forbidden,
        E.conflict,
        E.unsupported,
    ),
)
async def create_outgoing_hook(
    body: OutgoingHookIn, identity: IdentityDep, hub: HubDep
) -> dict[str, Any]:
    """An outgoing webhook: the channel's messages (those starting with one
    of `triggers`, if any) POSTed to `url`, signed, in order, retried until
    they are delivered or given up on; a JSON answer with `text` is posted
    back. The URL must be one this server may call (`--outbound-allow`)."""
    hook = await hub.hooks.create_outgoing(
        identity,
        body.channel,
        body.name,
        body.url,
        triggers=body.triggers,
        format=body.format,
        bot=body.bot,
    )
    (described,) = await hub.hooks.describe([hook])
    return described


@hooks_api.get(
    "/outgoing-hooks",
    response_model=list[OutgoingHookOut],
    tags=["integrations"],
    responses=errors(*SIGNED_IN, E.forbidden),
)
async def list_outgoing_hooks(identity: IdentityDep, hub: HubDep) -> list[dict[str, Any]]:
    """The outgoing webhooks you made (an admin: every one), the newest
    first, with where their deliveries stand."""
    return await hub.hooks.describe(await hub.hooks.listed(identity, "outgoing"))


@hooks_api.delete(
    "/outgoing-hooks/{hook_id}",
    status_code=204,
    tags=["integrations"],
    responses=errors(*SIGNED_IN, E.invalid_input, E.forbidden, E.not_found),
)
async def delete_outgoing_hook(
    hook_id: Annotated[str, Path(max_length=64)], identity: IdentityDep, hub: HubDep
) -> Response:
    """Delete an outgoing webhook you made (an admin: any): nothing more is sent."""
    await hub.hooks.delete(identity, hook_id, "outgoing")
    return Response(status_code=204)
