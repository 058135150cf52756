"""REST routes of slash commands (core.commands, core.custom_commands):
running one in a channel, the list anyone can see, admins' custom commands,
and `POST /commands/respond/{token}`, where a command's server answers later."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from hubbub.core import events
from hubbub.core.callout import MAX_URL
from hubbub.core.commands import BUILT_INS
from hubbub.core.custom_commands import MAX_DESCRIPTION
from hubbub.core.models import Integration
from hubbub.protocol.frames import MessageOut
from hubbub.protocol.rules import CHANNEL_RE, COMMAND_RE, OUTBOUND_URL_RE
from hubbub.server.openapi import errors
from hubbub.server.rest_hooks import SLACK_BODY
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
    UserDep,
)

commands_api = APIRouter(prefix="/api", route_class=AuthFirstRoute)
# Outside /api: a command's server calls it with the token in the URL.
command_replies = APIRouter()

ChannelPath = Annotated[str, Path(max_length=80, pattern=CHANNEL_RE.pattern)]


class CommandIn(Body):
    text: str = Field(
        min_length=2,
        max_length=10_000,
        pattern=COMMAND_RE.pattern,
        description="The whole line, e.g. `/shrug ok`.",
    )
    client_id: str | None = Field(
        None, min_length=1, max_length=64, description="Makes a retried in-channel post safe."
    )


class CommandResultOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    command: str
    response_type: Literal["ephemeral", "in_channel"]
    text: str = Field(description="For you only (never stored).")
    message: MessageOut | None = Field(None, description="What it posted in the channel.")


RUN_ERRORS = (
    *SIGNED_IN,
    *JSON_BODY,
    *MEMBER,
    E.forbidden,
    E.conflict,
    E.channel_archived,
    E.message_too_long,
    E.invalid_name,
    E.rate_limited,
    E.integration_failed,
    E.unsupported,
)


@commands_api.post(
    "/channels/{name}/commands",
    response_model=CommandResultOut,
    tags=["commands"],
    responses=errors(*RUN_ERRORS),
)
async def run_command(
    name: ChannelPath, body: CommandIn, user: UserDep, hub: HubDep
) -> dict[str, Any]:
    """Run a slash command typed in channel `name`: a built-in (`/help` lists
    them) or a custom one. A custom command's server that does not answer
    within 3 s, or answers with an error, is 502 `integration_failed`."""
    answer = await hub.commands.run(user, name, body.text, client_id=body.client_id)
    out = events.command_result(None, name, answer)
    return {k: out[k] for k in ("command", "response_type", "text", "message")}


class AvailableOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    command: str
    usage: str
    description: str
    custom: bool


@commands_api.get(
    "/commands",
    response_model=list[AvailableOut],
    tags=["commands"],
    responses=errors(*SIGNED_IN),
)
async def available_commands(user: UserDep, hub: HubDep) -> list[dict[str, Any]]:
    """Every command you can run: the built-ins, then the custom ones."""
    out = [
        {"command": name, "usage": usage, "description": doc, "custom": False}
        for name, (usage, doc, _) in BUILT_INS.items()
    ]
    for usage, doc in await hub.custom_commands.listed_for_help():
        out.append(
            {"command": usage.split()[0], "usage": usage, "description": doc, "custom": True}
        )
    return out


class CustomIn(Body):
    command: str = Field(
        max_length=33, pattern=r"^/?[a-z0-9][a-z0-9_-]{0,31}$", description="e.g. `/deploy`."
    )
    url: str = Field(
        max_length=MAX_URL,
        pattern=OUTBOUND_URL_RE.pattern,
        description="Where Slack's payload is POSTed: http(s), not to a loopback or private "
        "address unless the server allows it (`--outbound-allow`).",
    )
    description: str = Field("", max_length=MAX_DESCRIPTION)
    usage: str = Field("", max_length=MAX_DESCRIPTION, description="e.g. `[service] [env]`.")


class CustomOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    command: str
    url: str
    description: str
    usage: str
    token: str = Field(description="Sent as the payload's `token` (Slack's verification token).")
    signing_secret: str = Field(
        description="Signs each request (`X-Slack-Signature`), as Slack's signing secret."
    )
    created_at: int


def _custom_out(c: Integration) -> dict[str, Any]:
    return {
        "id": c.id,
        "command": c.key,
        "created_at": c.created_at,
        **{k: c.config.get(k, "") for k in ("url", "description", "usage", "token")},
        "signing_secret": c.config.get("signing_secret", ""),
    }


@commands_api.post(
    "/custom-commands",
    status_code=201,
    response_model=CustomOut,
    tags=["commands"],
    responses=errors(*SIGNED_IN, *JSON_BODY, E.forbidden, E.conflict, E.unsupported),
)
async def create_command(body: CustomIn, identity: IdentityDep, hub: HubDep) -> dict[str, Any]:
    """Register a custom command (admins, with a login): running it POSTs
    Slack's slash-command payload to `url`. A loopback or private address is
    refused unless the server allows it (`--outbound-allow`)."""
    made = await hub.custom_commands.create(
        identity, body.command, body.url, description=body.description, usage=body.usage
    )
    return _custom_out(made)


@commands_api.get(
    "/custom-commands",
    response_model=list[CustomOut],
    tags=["commands"],
    responses=errors(*SIGNED_IN, E.forbidden),
)
async def list_custom(identity: IdentityDep, hub: HubDep) -> list[dict[str, Any]]:
    """The custom commands, with their secrets (admins, with a login)."""
    return [_custom_out(c) for c in await hub.custom_commands.listed(identity)]


@commands_api.delete(
    "/custom-commands/{command}",
    status_code=204,
    tags=["commands"],
    responses=errors(*SIGNED_IN, E.invalid_input, E.forbidden, E.not_found),
)
async def delete_command(
    command: Annotated[str, Path(max_length=33)], identity: IdentityDep, hub: HubDep
) -> Response:
    """Remove a custom command (admins): its response_urls stop working."""
    await hub.custom_commands.delete(identity, command)
    return Response(status_code=204)


RESPOND_DOC: dict[str, Any] = {
    "requestBody": {"required": True, "content": {"application/json": {"schema": SLACK_BODY}}}
}


@command_replies.post(
    "/commands/respond/{token}",
    response_model=None,
    tags=["commands"],
    openapi_extra=RESPOND_DOC,
    responses={
        200: {
            "description": "Shown (ephemeral) or posted (in_channel).",
            "content": {"text/plain": {"schema": {"type": "string", "enum": ["ok"]}}},
        },
        **errors(
            *JSON_BODY,
            E.message_too_long,
            E.not_found,
            E.not_a_member,
            E.channel_archived,
            E.rate_limited,
            E.integration_failed,
            *STORE,
        ),
    },
)
async def respond(
    token: Annotated[str, Path(description="From the payload's `response_url`.")],
    request: Request,
    hub: HubDep,
) -> Response:
    """A custom command's later answer, Slack's message JSON with
    `response_type` (`ephemeral`, the default: pushed to the user's
    connections only; `in_channel`: posted as the user who ran it). Works
    for 30 minutes; a wrong or expired token is 404."""
    await hub.custom_commands.respond(
        token, await request.body(), request.headers.get("content-type", "")
    )
    return PlainTextResponse("ok")
