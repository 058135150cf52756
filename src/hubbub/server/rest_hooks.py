"""REST routes of incoming webhooks (core.hooks): `POST /hooks/{secret}`,
Slack's incoming-webhook call, and `/api/hooks` to manage them (a login's)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from hubbub.core.hooks import MAX_HOOK_NAME, MAX_IDEMPOTENCY_KEY
from hubbub.protocol.rules import CHANNEL_RE
from hubbub.server.openapi import Schema, errors
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


def document_post(schema: Schema) -> None:
    """The post's 200 is `ok` in text/plain only (FastAPI adds a JSON one)."""
    ok = schema["paths"]["/hooks/{secret}"]["post"]["responses"]["200"]
    ok["content"].pop("application/json", None)
