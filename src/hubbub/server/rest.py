"""The HTTP API under /api (plus /healthz and the S1 tutorial's /ping).

Every error body is `{"error": {"code", "message", ...}}` with a code from
`protocol.errors`; each route documents exactly the codes it can answer with
(`openapi.errors`). The document is served at /openapi.json, interactive docs
at /docs and /redoc (`apidocs`). Constraints in the document come from the
constants the checks use (`core.auth`, `protocol.rules`, `protocol.frames`,
the server's `Limits`), so the two cannot drift apart.
"""

from __future__ import annotations

import functools
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, JsonValue
from starlette.exceptions import HTTPException

from hubbub.core import events
from hubbub.core.hub import CHANNEL_PAGE, MAX_CHANNEL_PAGE, unavailable
from hubbub.core.models import Changed
from hubbub.core.ports import StoreError
from hubbub.protocol import frames
from hubbub.protocol.errors import ChatError, ErrorCode
from hubbub.protocol.frames import ChannelOut, MessageOut, UserOut
from hubbub.protocol.limits import Limits
from hubbub.protocol.notify import DEFAULT_LEVEL, Level
from hubbub.protocol.rules import (
    CHANNEL_RE,
    MAX_DISPLAY_NAME,
    MAX_DM_MEMBERS,
    MAX_TOPIC,
)
from hubbub.server import methods
from hubbub.server.openapi import API, Schema, alternation, errors, operations, plain_ok
from hubbub.server.rest_account import account
from hubbub.server.rest_admin import admin, channel_admin
from hubbub.server.rest_commands import command_replies, commands_api
from hubbub.server.rest_files import files as files_api
from hubbub.server.rest_hooks import hook_posts, hooks_api
from hubbub.server.rest_notify import notify_admin, notify_api
from hubbub.server.rest_search import search_api
from hubbub.server.rest_tokens import tokens_api
from hubbub.server.restkit import (
    CHANNEL,
    JSON_BODY,
    MEMBER,
    SIGNED_IN,
    STORE,
    AuthFirstRoute,
    Body,
    E,
    HubDep,
    JsonInt,
    UserDep,
    client_address,
    client_device,
    hub_of,
    integral,
    user_out,
)
from hubbub.server.restrules import (
    EMOJI_MAX,
    NOT_ONLY_SPACE,
    PASSWORD_RULE,
    USERNAME_RULE,
    emoji_names,
)
from hubbub.server.restrules import bound as _bound

CLIENT_ID_MIN = _bound(frames.Send, "client_id", "min_length")
CLIENT_ID_MAX = _bound(frames.Send, "client_id", "max_length")
HISTORY_MIN = _bound(frames.History, "limit", "ge")
HISTORY_MAX = _bound(frames.History, "limit", "le")
HISTORY_PAGE: int = frames.History.model_fields["limit"].default


# Checked by the core, with their own error codes (`invalid_name`,
# `weak_password`, `message_too_long`), so only documented here: a field's own
# `max_length` is a cheap bound checked first (`invalid_input`).
CHANNEL_RULE: dict[str, JsonValue] = {"pattern": CHANNEL_RE.pattern}


# At least one character that is not white space; the maximum is the server's
# `max_message_chars` (filled in by `document_limits`).
TEXT_RULE: dict[str, JsonValue] = {
    "minLength": 1,
    "maxLength": Limits().max_message_chars,
    "pattern": NOT_ONLY_SPACE,
}


class Registration(Body):
    username: str = Field(
        max_length=64,
        description="2-32 characters: lowercase letters, digits, `_`, `.`, `-`.",
        json_schema_extra=USERNAME_RULE,
    )
    password: str = Field(max_length=1024, json_schema_extra=PASSWORD_RULE)
    display_name: str | None = Field(
        None, max_length=MAX_DISPLAY_NAME, description="Defaults to the username."
    )
    invite: str | None = Field(
        None,
        max_length=200,
        description="The code of an invite link (`/invite/{code}`): needed where "
        "registration is `invite`; its role and channels apply.",
    )


class Login(Body):
    username: str = Field(max_length=64)
    password: str = Field(max_length=1024)


class AuthOut(BaseModel):
    user: UserOut
    token: str


class ChannelIn(Body):
    name: str = Field(
        max_length=80,
        description="1-80 characters: lowercase letters, digits, `_`, `-`.",
        json_schema_extra=CHANNEL_RULE,
    )
    private: bool = False
    topic: str = Field("", max_length=MAX_TOPIC)


class ChannelView(ChannelOut):
    is_member: bool
    is_admin: bool = Field(
        False, description="You are one of the channel's admins (its creator, or made one)."
    )
    last_read: int
    unread: int = Field(
        0, description="Messages from others after `last_read` (never edits or reactions)."
    )
    mentions: int = Field(0, description="Unread messages that mention `@you`.")
    notify: Level = Field(
        DEFAULT_LEVEL,
        description="Your notification level here (`PUT /api/channels/{name}/notifications`).",
    )
    muted: bool = Field(False, description="You muted it: no notifications, shown dimmed.")


class InviteIn(Body):
    username: str = Field(max_length=64)


class TopicIn(Body):
    topic: str = Field(max_length=MAX_TOPIC)


class DMIn(Body):
    usernames: list[str] = Field(
        min_length=1,
        max_length=MAX_DM_MEMBERS - 1,
        description="The others in the DM (you are in it too).",
    )


class ReadIn(Body):
    seq: JsonInt = Field(ge=0)


class ReadOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    last_read: int


class MembersOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    members: list[str]


class MessageIn(Body):
    text: str = Field(json_schema_extra=TEXT_RULE)
    files: list[frames.FileId] = Field(
        [],
        max_length=100,
        description="Files to attach (at most `max_files_per_message`): ids from "
        "`POST /api/files`, uploaded by you to this channel and attached to no other "
        'message (409 `file_in_use` otherwise). With files, `text` may be empty (`""`).',
    )
    client_id: str | None = Field(
        None,
        min_length=CLIENT_ID_MIN,
        max_length=CLIENT_ID_MAX,
        description=(
            "Makes a retry safe: the same `client_id` again returns the original "
            "message. Without one the server makes one up, so a retry of a send "
            "whose answer was lost is stored twice: send one if you retry."
        ),
    )
    # (The bound before the validator: after it, pydantic writes `ge`, not
    # `minimum`, into the schema of an optional field.)
    thread_root: Annotated[int, Field(ge=1), BeforeValidator(integral)] | None = Field(
        None,
        description="Reply in the thread of this message (a reply's seq: its thread). "
        "404 `not_found` (`field: thread_root`) if there is no such message here; 409 "
        "`message_deleted` if the thread's first message was deleted.",
    )
    broadcast: bool = Field(
        False,
        description='A reply also shown in the channel ("also send to channel").',
    )


class SentOut(MessageOut):
    duplicate: bool


class Page(BaseModel):
    model_config = ConfigDict(extra="forbid")
    messages: list[MessageOut]
    has_more: bool


class HealthOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["ok", "degraded"]
    store: str = Field(description="`ok`, or `error: ...`")
    bus: str = Field(description="`ok`, or `error: ...`")


api = APIRouter(prefix="/api", route_class=AuthFirstRoute)


@api.post(
    "/auth/register",
    status_code=201,
    response_model=AuthOut,
    tags=["auth"],
    responses=errors(
        *JSON_BODY,
        E.invalid_name,
        E.weak_password,
        E.conflict,
        E.registration_closed,
        E.invite_invalid,
        E.registration_throttled,
        *STORE,
    ),
)
async def register(request: Request, body: Registration, hub: HubDep) -> dict[str, Any]:
    """Create an account (and its first session). Who may is the server's
    `--registration` (see `GET /api/workspace`): `open`, anyone; `invite`,
    with an `invite` code; `closed`, nobody. The first account of a new
    server always may, and is its owner. Throttled per client address:
    `request.client.host`, i.e. the TCP peer, or X-Forwarded-For's when
    uvicorn trusts the peer (`FORWARDED_ALLOW_IPS`; docs/deploy.md)."""
    user, token = await hub.register(
        body.username,
        body.password,
        body.display_name,
        address=client_address(request),
        device=client_device(request),
        invite=body.invite,
    )
    return {"user": user_out(hub, user), "token": token}


@api.post(
    "/auth/login",
    response_model=AuthOut,
    tags=["auth"],
    responses=errors(
        *JSON_BODY, E.bad_credentials, E.account_deactivated, E.login_throttled, *STORE
    ),
)
async def login(request: Request, body: Login, hub: HubDep) -> dict[str, Any]:
    """Log in: a new session (see `GET /api/sessions`), with its token.
    Failed logins are throttled per client address and account, so failures
    from elsewhere never lock the owner out (`login_failures`)."""
    user, token = await hub.login(
        body.username,
        body.password,
        address=client_address(request),
        device=client_device(request),
    )
    return {"user": user_out(hub, user), "token": token}


@api.get("/me", response_model=UserOut, tags=["users"], responses=errors(*SIGNED_IN))
async def me(user: UserDep, hub: HubDep) -> dict[str, Any]:
    return user_out(hub, user)


class UserView(UserOut):
    status: Literal["online", "offline"]


@api.get(
    "/users/{username}",
    response_model=UserView,
    tags=["users"],
    responses=errors(*SIGNED_IN, E.not_found),
)
async def get_user(username: str, hub: HubDep, _: UserDep) -> dict[str, Any]:
    user = await hub.user_by_name(username)
    online = user.id in await hub.online_among([user.id])
    return {**user_out(hub, user), "status": "online" if online else "offline"}


NEXT_PAGE = {
    "Link": {
        "description": 'While there are more: `<URL of the next page>; rel="next"`.',
        "schema": {"type": "string"},
    },
    "X-Next-After": {
        "description": "While there are more: the next page's `after`.",
        "schema": {"type": "string"},
    },
}


@api.get(
    "/channels",
    response_model=list[ChannelView],
    tags=["channels"],
    responses={200: {"headers": NEXT_PAGE}, **errors(*SIGNED_IN, E.invalid_input)},
)
async def list_channels(
    request: Request,
    response: Response,
    hub: HubDep,
    user: UserDep,
    after: Annotated[str | None, Query(max_length=80)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_CHANNEL_PAGE)] = CHANNEL_PAGE,
    archived: Annotated[
        bool, Query(description="Also archived public channels you are not in.")
    ] = False,
) -> list[dict[str, Any]]:
    """Without `after`: all your channels and DMs (with read cursors, archived
    ones too), then the first `limit` public channels you are not in, by name
    (archived ones only with `archived`). With `after`: the next public
    channels you are not in, named after it. While there are more, a `Link:
    <...>; rel="next"` header gives the next page's URL (and `X-Next-After` its
    `after`). Guests see only their own channels."""
    page, following = await hub.channel_page(user, after=after, limit=limit, archived=archived)
    _link_next(request, response, following, limit)
    return page


def _link_next(request: Request, response: Response, following: str | None, limit: int) -> None:
    """While there are more: the next page's `Link` (this URL, with `after`)
    and `X-Next-After` (`NEXT_PAGE`)."""
    if following is not None:
        url = request.url.include_query_params(after=following, limit=limit)
        response.headers["Link"] = f'<{url.path}?{url.query}>; rel="next"'
        response.headers["X-Next-After"] = following


# The user directory's pages (`GET /api/users`).
USER_PAGE = 100
MAX_USER_PAGE = 1000


@api.get(
    "/users",
    response_model=list[UserOut],
    tags=["users"],
    responses={200: {"headers": NEXT_PAGE}, **errors(*SIGNED_IN, E.invalid_input)},
)
async def list_users(
    request: Request,
    response: Response,
    hub: HubDep,
    _: UserDep,
    q: Annotated[
        str,
        Query(
            max_length=MAX_DISPLAY_NAME,
            description="Only users whose username or display name contains this, in any "
            "case (`ann` finds `ann`, `joanna` and `Ann Lee`). Empty: everyone.",
        ),
    ] = "",
    after: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_USER_PAGE)] = USER_PAGE,
) -> list[dict[str, str]]:
    """The user directory (for finding someone to DM or invite): everyone, or
    those matching `q`, by username, `limit` at a time. With `after`: the
    users named after it. While there are more, a `Link: <...>; rel="next"`
    header gives the next page's URL (and `X-Next-After` its `after`), as
    `GET /api/channels` does."""
    found, following = await hub.search_users(q, after=after, limit=limit)
    _link_next(request, response, following, limit)
    return [user_out(hub, u) for u in found]


@api.post(
    "/channels",
    status_code=201,
    response_model=ChannelOut,
    tags=["channels"],
    responses=errors(*SIGNED_IN, *JSON_BODY, E.invalid_name, E.conflict, E.rate_limited),
)
async def create_channel(body: ChannelIn, hub: HubDep, user: UserDep) -> dict[str, Any]:
    """Create a channel and join it. A taken name answers 409 `conflict`, whatever
    channel (public, private or DM) has it; each attempt counts against
    `channels_per_hour` (429 `rate_limited` past it)."""
    channel = await hub.create_channel(user, body.name, private=body.private, topic=body.topic)
    return events.channel_body(channel)


@api.get(
    "/channels/{name}",
    response_model=ChannelView,
    tags=["channels"],
    responses=errors(*SIGNED_IN, *CHANNEL),
)
async def get_channel(name: str, hub: HubDep, user: UserDep) -> dict[str, Any]:
    channel, m = await hub.channel_for(user, name)
    return await hub.channel_view(user, channel, m)


@api.get(
    "/channels/{name}/members",
    response_model=MembersOut,
    tags=["channels"],
    responses=errors(*SIGNED_IN, *CHANNEL),
)
async def members(name: str, hub: HubDep, user: UserDep) -> dict[str, list[str]]:
    channel, _ = await hub.channel_for(user, name)
    return {"members": await hub.store.member_names(channel.id)}


@api.post(
    "/channels/{name}/join",
    response_model=ChannelOut,
    tags=["channels"],
    responses=errors(*SIGNED_IN, *CHANNEL, E.channel_archived),
)
async def join(name: str, hub: HubDep, user: UserDep) -> dict[str, Any]:
    return events.channel_body(await hub.join(user, name))


@api.post(
    "/channels/{name}/leave",
    response_model=ChannelOut,
    tags=["channels"],
    responses=errors(*SIGNED_IN, *MEMBER, E.forbidden),
)
async def leave(name: str, hub: HubDep, user: UserDep) -> dict[str, Any]:
    return events.channel_body(await hub.leave(user, name))


@api.post(
    "/channels/{name}/invite",
    response_model=ChannelOut,
    tags=["channels"],
    responses=errors(*SIGNED_IN, *JSON_BODY, *MEMBER, E.forbidden),
)
async def invite(name: str, body: InviteIn, hub: HubDep, user: UserDep) -> dict[str, Any]:
    return events.channel_body(await hub.invite(user, name, body.username))


@api.put(
    "/channels/{name}/topic",
    response_model=ChannelOut,
    tags=["channels"],
    responses=errors(*SIGNED_IN, *JSON_BODY, *MEMBER),
)
async def set_topic(name: str, body: TopicIn, hub: HubDep, user: UserDep) -> dict[str, Any]:
    return events.channel_body(await hub.set_topic(user, name, body.topic))


@api.post(
    "/channels/{name}/read",
    response_model=ReadOut,
    tags=["channels"],
    responses=errors(*SIGNED_IN, *JSON_BODY, *MEMBER),
)
async def mark_read(name: str, body: ReadIn, hub: HubDep, user: UserDep) -> dict[str, int]:
    return {"last_read": await hub.mark_read(user, name, body.seq)}


@api.post(
    "/dms",
    response_model=ChannelOut,
    tags=["channels"],
    responses=errors(*SIGNED_IN, *JSON_BODY, E.not_found),
)
async def open_dm(body: DMIn, hub: HubDep, user: UserDep) -> dict[str, Any]:
    """The DM with these people (and you): the same channel every time."""
    return events.channel_body(await hub.open_dm(user, body.usernames))


@api.get(
    "/channels/{name}/messages",
    response_model=Page,
    tags=["messages"],
    responses=errors(*SIGNED_IN, E.invalid_input, *CHANNEL),
)
async def history(
    name: str,
    hub: HubDep,
    user: UserDep,
    before: Annotated[int | None, Query(ge=0)] = None,
    after: Annotated[int | None, Query(ge=0)] = None,
    around: Annotated[
        int | None,
        Query(ge=0, description="Open the channel at this message (`before`, `after` ignored)."),
    ] = None,
    limit: Annotated[int, Query(ge=HISTORY_MIN, le=HISTORY_MAX)] = HISTORY_PAGE,
) -> dict[str, Any]:
    """Without `after`: the newest messages older than `before` (default: the
    newest), **newest first**, for paging back. With `after`: messages after
    it, **oldest first**, for catching up. `has_more` says whether the next
    page in that direction has anything. With `around` (a search result's
    seq): up to `limit / 2` messages before it, then it and those after it,
    **oldest first**; `has_more` says whether there are newer ones (page on
    with `after`, back with `before`)."""
    _, rows, more = await hub.history(
        user, name, before=before, after=after, around=around, limit=limit
    )
    return {"messages": [events.message_body(m) for m in rows], "has_more": more}


@api.post(
    "/channels/{name}/messages",
    status_code=201,
    response_model=SentOut,
    tags=["messages"],
    responses={
        200: {"model": SentOut, "description": "A retry: the original message, stored before."},
        **errors(
            *SIGNED_IN,
            *JSON_BODY,
            E.message_too_long,
            *MEMBER,
            E.rate_limited,
            E.message_deleted,
            E.file_in_use,
            E.unsupported,
        ),
    },
)
async def send(
    name: str, body: MessageIn, hub: HubDep, user: UserDep, response: Response
) -> dict[str, Any]:
    """Post a message. Retrying with the same `client_id` returns the original
    message (status 200, `duplicate: true`) and stores nothing new. Without a
    `client_id` the server makes one up (as Slack's API needs none), and a
    retry is a second message."""
    client_id = body.client_id or f"rest-{uuid.uuid4().hex}"
    stored = await hub.send(
        user,
        name,
        body.text,
        client_id,
        thread_root=body.thread_root,
        broadcast=body.broadcast,
        files=body.files,
    )
    if stored.duplicate:
        response.status_code = 200
    return {**events.message_body(stored), "duplicate": stored.duplicate}


# --- changes to a message: edit, delete, react (the WebSocket's `edit`,
# `delete`, `react`, `unreact`; each one call into the hub) ------------------

SEQ_MIN = _bound(frames.EditMessage, "seq", "ge")


class EditIn(Body):
    text: str = Field(json_schema_extra=TEXT_RULE)


class ChangedOut(BaseModel):
    """A message after a change, as the WebSocket's `changed` answer has it."""

    model_config = ConfigDict(extra="forbid")
    seq: int | None = Field(
        description="The change's place in the channel's log (the `seq` of the "
        "`message_updated` everyone following the channel gets). `null` when it "
        "changed nothing: the same text again, a second delete, a reaction made "
        "twice, taking back one never made; so retrying is safe."
    )
    message: MessageOut = Field(description="The message in its state now.")


def _known_emoji(value: str) -> str:
    if value not in emoji_names():
        raise ValueError("not an emoji: give one emoji, or its :shortcode:")
    return value


EMOJI_DOC = (
    "One emoji, as itself (`👍`, percent-encoded in the URL) or by its `:shortcode:` "
    "(`:+1:`, `:thumbsup:`, `:thumbs_up:`: Slack's and GitHub's aliases, or its Unicode "
    "name). Stored and answered as the emoji, so `:+1:` and `👍` are one reaction."
)
SeqPath = Annotated[int, Path(ge=SEQ_MIN, description="The message's own seq (as in `history`).")]
EmojiPath = Annotated[
    str,
    Path(min_length=1, max_length=EMOJI_MAX, description=EMOJI_DOC),
    AfterValidator(_known_emoji),
]
MESSAGE = "/channels/{name}/messages/{seq}"
REACTION = MESSAGE + "/reactions/{emoji}"
# What every change can answer, besides its own codes: a path that is not a
# seq or an emoji; no such channel, or message (`field: seq`); you not in the
# channel; your rate (changes count against `messages_per_second`, as sends).
CHANGE = (*SIGNED_IN, E.invalid_input, *MEMBER, E.rate_limited)


def changed_out(changed: Changed) -> dict[str, Any]:
    return {"seq": changed.seq, "message": events.message_body(changed.message)}


@api.patch(
    MESSAGE,
    response_model=ChangedOut,
    tags=["messages"],
    responses=errors(*CHANGE, *JSON_BODY, E.message_too_long, E.forbidden, E.message_deleted),
)
async def edit_message(
    name: str, seq: SeqPath, body: EditIn, hub: HubDep, user: UserDep
) -> dict[str, Any]:
    """Edit your own message: its text becomes `text`, and `edited_at` is set.
    Only its author may (403 `forbidden`); a deleted message cannot be (409
    `message_deleted`). Sending the text it has already changes nothing."""
    return changed_out(await hub.edit(user, name, seq, body.text))


@api.delete(
    MESSAGE,
    response_model=ChangedOut,
    tags=["messages"],
    responses=errors(*CHANGE, E.forbidden),
)
async def delete_message(name: str, seq: SeqPath, hub: HubDep, user: UserDep) -> dict[str, Any]:
    """Delete your own message: its text and reactions are removed from
    storage, and a tombstone (`deleted: true`, empty `text`) keeps its place.
    Answers 200 with the tombstone rather than 204: the same body as every
    change, whose `seq` (the change's place in the log) a client can resume
    from. Deleting it again changes nothing (`seq: null`)."""
    return changed_out(await hub.delete(user, name, seq))


@api.put(
    REACTION,
    response_model=ChangedOut,
    tags=["messages"],
    responses=errors(*CHANGE, E.message_deleted, E.too_many_reactions),
)
async def react(
    name: str, seq: SeqPath, emoji: EmojiPath, hub: HubDep, user: UserDep
) -> dict[str, Any]:
    """Add your reaction `emoji` to a message of a channel you are in.
    Reacting again with the same emoji changes nothing (`seq: null`)."""
    return changed_out(await hub.react(user, name, seq, emoji, add=True))


@api.delete(
    REACTION,
    response_model=ChangedOut,
    tags=["messages"],
    responses=errors(*CHANGE, E.message_deleted),
)
async def unreact(
    name: str, seq: SeqPath, emoji: EmojiPath, hub: HubDep, user: UserDep
) -> dict[str, Any]:
    """Take back your reaction `emoji` (changes nothing, `seq: null`, if you
    had not made it)."""
    return changed_out(await hub.react(user, name, seq, emoji, add=False))


# --- threads (the WebSocket's `send` with `thread_root`, `thread`, `threads`,
# `read_thread`) ----------------------------------------------------------------

THREAD = MESSAGE + "/thread"


class ThreadOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    root: MessageOut = Field(description="The thread's first message, in its state now.")
    messages: list[MessageOut] = Field(description="A page of its replies.")
    has_more: bool


@api.get(
    THREAD,
    response_model=ThreadOut,
    tags=["messages"],
    responses=errors(*SIGNED_IN, E.invalid_input, *CHANNEL),
)
async def thread(
    name: str,
    seq: SeqPath,
    hub: HubDep,
    user: UserDep,
    before: Annotated[int | None, Query(ge=0)] = None,
    after: Annotated[int | None, Query(ge=0)] = None,
    limit: Annotated[int, Query(ge=HISTORY_MIN, le=HISTORY_MAX)] = HISTORY_PAGE,
) -> dict[str, Any]:
    """The thread of message `seq` (a reply's seq finds its thread): its root
    and a page of replies, paged as channel history is: newest first before
    `before`, or oldest first after `after`. Readable by whoever may read the
    channel's history."""
    _, root, rows, more = await hub.thread(user, name, seq, before=before, after=after, limit=limit)
    return {
        "root": events.message_body(root),
        "messages": [events.message_body(m) for m in rows],
        "has_more": more,
    }


class ThreadsOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    threads: list[frames.FollowedThreadOut] = Field(description="The latest reply first.")


THREADS_MAX = _bound(frames.Threads, "limit", "le")


@api.get(
    "/threads",
    response_model=ThreadsOut,
    tags=["messages"],
    responses=errors(*SIGNED_IN, E.invalid_input),
)
async def threads(
    hub: HubDep,
    user: UserDep,
    limit: Annotated[int, Query(ge=1, le=THREADS_MAX)] = frames.Threads.model_fields[
        "limit"
    ].default,
) -> dict[str, Any]:
    """The threads you follow: you started them, replied in them or were
    mentioned in one of their replies. Each with its root now and how many
    replies by others came after your cursor in it (`unread`)."""
    return {"threads": [events.followed_thread(t) for t in await hub.threads(user, limit)]}


@api.post(
    THREAD + "/read",
    response_model=ReadOut,
    tags=["messages"],
    responses=errors(*SIGNED_IN, *JSON_BODY, *MEMBER),
)
async def read_thread(
    name: str, seq: SeqPath, body: ReadIn, hub: HubDep, user: UserDep
) -> dict[str, int]:
    """Mark the thread read up to `seq` (forward only); `last_read` is your
    cursor in it now (0 if you don't follow it)."""
    return {"last_read": await hub.read_thread(user, name, seq, body.seq)}


PIN = MESSAGE + "/pin"


@api.put(
    PIN,
    response_model=ChangedOut,
    tags=["messages"],
    responses=errors(*CHANGE, E.message_deleted),
)
async def pin(name: str, seq: SeqPath, hub: HubDep, user: UserDep) -> dict[str, Any]:
    """Pin a message to its channel (any member may, as in Slack). Pinning it
    again changes nothing (`seq: null`); a deleted message can't be (409
    `message_deleted`)."""
    return changed_out(await hub.pin(user, name, seq, add=True))


@api.delete(PIN, response_model=ChangedOut, tags=["messages"], responses=errors(*CHANGE))
async def unpin(name: str, seq: SeqPath, hub: HubDep, user: UserDep) -> dict[str, Any]:
    """Unpin a message (changes nothing, `seq: null`, if it wasn't pinned)."""
    return changed_out(await hub.pin(user, name, seq, add=False))


class PinsOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    messages: list[MessageOut] = Field(description="The most recently pinned first.")


PINS_MAX = _bound(frames.Pins, "limit", "le")


@api.get(
    "/channels/{name}/pins",
    response_model=PinsOut,
    tags=["messages"],
    responses=errors(*SIGNED_IN, E.invalid_input, *CHANNEL),
)
async def pins(
    name: str,
    hub: HubDep,
    user: UserDep,
    limit: Annotated[int, Query(ge=1, le=PINS_MAX)] = frames.Pins.model_fields["limit"].default,
) -> dict[str, Any]:
    """The channel's pinned messages, in their state now (readable by whoever
    may read its history)."""
    _, rows = await hub.pins(user, name, limit)
    return {"messages": [events.message_body(m) for m in rows]}


def error_response(err: ChatError) -> JSONResponse:
    return JSONResponse(
        {"error": err.body()}, status_code=err.code.status, headers=err.http_headers()
    )


async def _chat_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ChatError)
    return error_response(exc)


async def _validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if errors and errors[0].get("type") == "json_invalid":
        return error_response(ChatError(ErrorCode.invalid_json, "request body is not valid JSON"))
    first = errors[0] if errors else {"loc": (), "msg": "invalid input", "type": ""}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
    field = ".".join(loc) or None
    message = f"{field}: {first.get('msg')}" if field else str(first.get("msg"))
    return error_response(ChatError(ErrorCode.invalid_input, message, field=field))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: ErrorCode.not_found, 405: ErrorCode.method_not_allowed}.get(
        exc.status_code, ErrorCode.invalid_input
    )
    err = ChatError(code, str(exc.detail))
    response = JSONResponse({"error": err.body()}, status_code=exc.status_code, headers=exc.headers)
    # OPTIONS, or a method the path lacks: `Allow` with all of the path's.
    return methods.answer(request, response) if exc.status_code == 405 else response


async def _store_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, StoreError)
    return error_response(unavailable(exc))


async def _internal_error(_: Request, exc: Exception) -> Response:
    return error_response(ChatError(ErrorCode.internal_error, "internal error"))


def document_limits(schema: Schema, limits: Limits) -> None:
    """Fill in the document's values that are the server's `--limit`s."""
    for model in (MessageIn, EditIn):
        text = schema["components"]["schemas"][model.__name__]["properties"]["text"]
        text["maxLength"] = limits.max_message_chars


def document_emoji(schema: Schema) -> None:
    """The `{emoji}` of a reaction's path, listed whole (`emoji_names`) once,
    as the schema `Emoji`, for the routes to refer to: every name it matches
    is taken, nothing else is. (About 10,000 names, some 150 kB: a pattern
    rather than an `enum`, which is larger still, and which tools such as
    schemathesis try value by value, where they draw a few from a pattern.)"""
    schema["components"]["schemas"]["Emoji"] = {
        "type": "string",
        "minLength": 1,
        "maxLength": EMOJI_MAX,
        "pattern": alternation(sorted(emoji_names())),
        "description": EMOJI_DOC,
    }
    for _, _, op in operations(schema):
        for param in op.get("parameters", []):
            if param["in"] == "path" and param["name"] == "emoji":
                param["schema"] = {"$ref": "#/components/schemas/Emoji"}
    # A custom status's emoji: one of the same, or none.
    status = schema["components"]["schemas"]["StatusIn"]["properties"]["emoji"]
    status.pop("maxLength", None)
    status.pop("type", None)
    status["anyOf"] = [{"$ref": "#/components/schemas/Emoji"}, {"type": "string", "maxLength": 0}]


def install(app: API, limits: Limits) -> None:
    app.include_router(api)
    app.include_router(account)
    app.include_router(admin)
    app.include_router(channel_admin)
    app.include_router(tokens_api)
    app.include_router(hooks_api)
    app.include_router(hook_posts)
    app.include_router(commands_api)
    app.include_router(command_replies)
    app.include_router(files_api)
    app.include_router(search_api)
    app.include_router(notify_api)
    app.include_router(notify_admin)
    app.openapi_patches.append(functools.partial(document_limits, limits=limits))
    app.openapi_patches.append(document_emoji)
    app.openapi_patches.append(plain_ok("/hooks/{secret}"))
    app.openapi_patches.append(plain_ok("/commands/respond/{token}"))
    app.add_exception_handler(ChatError, _chat_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(StoreError, _store_error)
    app.add_exception_handler(Exception, _internal_error)

    @app.get(
        "/healthz",
        tags=["ops"],
        response_model=HealthOut,
        responses={503: {"model": HealthOut, "description": "Storage or bus unreachable"}},
    )
    async def healthz(request: Request) -> JSONResponse:
        """200 when storage and bus both answer, else 503 with which one failed."""
        status = await hub_of(request).health()
        ok = all(v == "ok" for v in status.values())
        return JSONResponse(
            {"status": "ok" if ok else "degraded", **status}, status_code=200 if ok else 503
        )

    @app.get("/ping", response_class=PlainTextResponse, tags=["ops"])
    async def ping() -> str:
        """The S1 tutorial's health check."""
        return "PONG!"
