"""Webhooks. Incoming: a secret URL that posts into one channel, taking
Slack's incoming-webhook body, so a script written for Slack works with its
URL changed. Outgoing: a channel's messages POSTed to a URL (core.outgoing
makes the request, core.delivery sends it); managing both is here.

A hook acts as an account: its maker's, or one of their bots' (which is
added to the channel when the hook is made). Its post is that account's
message, checked like any other (the account active and a member, the
channel not archived, the account's send rate), with Slack's `username`
override as the message's `shown_name`. Whoever has the URL can post, so the URL is the
credential: only its SHA-256 is kept (the integration's key), it is shown
once, and a wrong one is a 404, as for Slack.

The body's parsing (`read_body`) is here too, without I/O, so that the
server's route and the Lambda function answer alike.
"""

from __future__ import annotations

import hashlib
import secrets
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from hubbub.core import outgoing, roles
from hubbub.core.accounts import Identity
from hubbub.core.callout import check_url
from hubbub.core.models import Integration, IntegrationKind, StoredMessage, User
from hubbub.core.ports import NameTaken
from hubbub.core.slack_message import message_text
from hubbub.protocol.errors import ChatError, ErrorCode
from hubbub.protocol.rules import MAX_DISPLAY_NAME

if TYPE_CHECKING:
    from hubbub.core.hub import Hub

MAX_HOOKS = 100  # integrations per person
MAX_HOOK_NAME = 80
DEAD_LETTERS_SHOWN = 20  # the latest, in an outgoing hook's listing
MAX_SECRET = 128  # longer is not one of ours: refused before any look-up
SECRET_BYTES = 32
# How hubbub's own idempotency works on a hook: the `Idempotency-Key`
# header becomes the message's client_id (at most this long).
MAX_IDEMPOTENCY_KEY = 64


def hook_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def no_hook() -> ChatError:
    return ChatError(ErrorCode.not_found, "no such hook")


def read_body(body: bytes, content_type: str) -> dict[str, Any]:
    """A hook's request body as Slack takes it: JSON, or a form with the
    JSON in its `payload` field (what `curl -d payload=...` sends)."""
    media = content_type.split(";", 1)[0].strip().lower()
    raw: bytes | str = body
    if media == "application/x-www-form-urlencoded" and body.lstrip()[:1] != b"{":
        try:
            form = urllib.parse.parse_qs(body.decode(), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            form = {}
        if "payload" not in form:
            raise ChatError(
                ErrorCode.invalid_input, "a form body needs a payload field", field="payload"
            )
        raw = form["payload"][0]
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ChatError(ErrorCode.invalid_json, "the body is not valid JSON") from None
    if not isinstance(parsed, dict):
        raise ChatError(ErrorCode.invalid_input, "the body must be a JSON object")
    return parsed


class Hooks:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    # --- managing them -----------------------------------------------------------------

    async def create_incoming(
        self, identity: Identity, channel: str, name: str, *, bot: str | None = None
    ) -> tuple[str, Integration]:
        """A hook posting into `channel` (where the caller is a member) as
        the caller or as `bot`, one of theirs; and its secret, shown once."""
        secret = secrets.token_urlsafe(SECRET_BYTES)
        hook = await self._create(identity, "incoming", channel, name, bot, hook_key(secret), {})
        return secret, hook

    async def create_outgoing(
        self,
        identity: Identity,
        channel: str,
        name: str,
        url: str,
        *,
        triggers: Sequence[str] = (),
        format: outgoing.Format = "form",
        bot: str | None = None,
    ) -> Integration:
        """A hook POSTing the messages of `channel` (where the caller is a
        member) that start with one of `triggers` (none: every message) to
        `url` (core.outgoing, core.delivery), answering as the caller or
        `bot`. Its signing secret and token are in its config."""
        check_url(self.hub.outbound, url)
        try:
            words = outgoing.check_triggers(triggers)
        except ValueError as exc:
            raise ChatError(ErrorCode.invalid_input, str(exc), field="triggers") from None
        if format not in outgoing.FORMATS:
            raise ChatError(ErrorCode.invalid_input, "format is form or json", field="format")
        hook_id = secrets.token_hex(8)
        config = {
            "url": url,
            "triggers": words,
            "format": format,
            "token": secrets.token_urlsafe(18),
            "signing_secret": secrets.token_hex(32),
        }
        hook = await self._create(
            identity, "outgoing", channel, name, bot, f"outgoing:{hook_id}", config, hook_id
        )
        self.hub.deliveries.changed()
        return hook

    async def _create(
        self,
        identity: Identity,
        kind: IntegrationKind,
        channel: str,
        name: str,
        bot: str | None,
        key: str,
        config: dict[str, Any],
        hook_id: str | None = None,
    ) -> Integration:
        manager, poster = await self.hub.tokens.holder(identity, bot)
        name = name.strip()
        if not 1 <= len(name) <= MAX_HOOK_NAME:
            raise ChatError(
                ErrorCode.invalid_input,
                f"a hook's name must be 1-{MAX_HOOK_NAME} characters",
                field="name",
            )
        joined = await self.hub.member_channel(manager, channel)
        if joined.channel.archived:
            raise ChatError(ErrorCode.channel_archived, "the channel is archived: read-only")
        if joined.channel.kind == "dm":
            raise ChatError(ErrorCode.forbidden, "hooks post into channels, not DMs")
        if sum(i.created_by == manager.id for i in await self.hub.store.integrations()) >= (
            MAX_HOOKS
        ):
            raise ChatError(ErrorCode.invalid_input, f"at most {MAX_HOOKS} integrations per person")
        if poster.id != manager.id:
            await self.hub.invite(manager, channel, poster.username)  # no-op if it is in
        if kind == "outgoing":
            # It takes what is sent from now on, not the channel's past.
            config = {**config, "after": await self.hub.store.last_seq(joined.channel.id)}
        hook = Integration(
            hook_id or secrets.token_hex(8),
            kind,
            key,
            name,
            joined.channel.id,
            poster.id,
            manager.id,
            int(self.hub.clock() * 1000),
            config,
        )
        try:
            await self.hub.store.create_integration(hook)
        except NameTaken:  # a 256-bit secret (or a 64-bit id) twice: the random source is broken
            raise ChatError(ErrorCode.conflict, "try again") from None
        await self.hub.admin.audit(
            manager,
            f"hook.create{'' if kind == 'incoming' else '_outgoing'}",
            f"#{joined.channel.name}",
            hook=hook.id,
            poster=poster.username,
        )
        return hook

    async def listed(
        self, identity: Identity, kind: IntegrationKind = "incoming"
    ) -> list[Integration]:
        """The hooks of `kind` the caller made (an admin: every one), the newest first."""
        manager = await self.hub.tokens.manager(identity)
        every = await self.hub.store.integrations()
        admin = roles.is_admin(manager)
        return [i for i in every if i.kind == kind and (admin or i.created_by == manager.id)]

    async def delete(
        self, identity: Identity, hook_id: str, kind: IntegrationKind = "incoming"
    ) -> None:
        """Delete a hook the caller made (an admin: any): an incoming one's
        URL is a 404 from now on, an outgoing one sends nothing more."""
        manager = await self.hub.tokens.manager(identity)
        found = [i for i in await self.hub.store.integrations() if i.id == hook_id]
        if not found or found[0].kind != kind:
            raise ChatError(ErrorCode.not_found, "no such hook", field="hook")
        if found[0].created_by != manager.id and not roles.is_admin(manager):
            raise roles.forbidden("only the hook's maker or an admin may delete it")
        await self.hub.store.delete_integration(hook_id)
        if kind == "outgoing":
            self.hub.deliveries.changed()
        await self.hub.admin.audit(manager, "hook.delete", hook_id)

    async def describe(self, hooks: list[Integration]) -> list[dict[str, Any]]:
        """Hooks as their lists show them (never the secret)."""
        names: dict[int, str] = {}

        async def username(user_id: int) -> str:
            if user_id not in names:
                user = await self.hub.store.get_user(user_id)
                names[user_id] = user.username if user else ""
            return names[user_id]

        out = []
        for h in hooks:
            channel = (
                None
                if h.channel_id is None
                else await self.hub.store.get_channel_by_id(h.channel_id)
            )
            described: dict[str, Any] = {
                "id": h.id,
                "name": h.name,
                "channel": channel.name if channel else "",
                "poster": await username(h.user_id),
                "created_by": await username(h.created_by),
                "created_at": h.created_at,
            }
            if h.kind == "outgoing":
                described.update(await self._deliveries(h))
            out.append(described)
        return out

    async def _deliveries(self, hook: Integration) -> dict[str, Any]:
        """An outgoing hook's settings (its secrets too: only its maker and
        admins list it) and where its deliveries stand."""
        box = await self.hub.store.outbox(hook.id)
        dead = await self.hub.store.dead_letters(hook.id, DEAD_LETTERS_SHOWN)
        cfg = hook.config
        return {
            "url": cfg["url"],
            "triggers": cfg["triggers"],
            "format": cfg["format"],
            "token": cfg["token"],
            "signing_secret": cfg["signing_secret"],
            "delivery": {
                "cursor": box.cursor if box else cfg.get("after", 0),
                "delivered": box.delivered if box else 0,
                "dead": box.dead if box else 0,
                "attempts": box.attempts if box else 0,
                "next_at": (box.next_at or None) if box else None,
                "last_error": box.last_error if box else "",
                "dead_letters": [
                    {"seq": d.seq, "attempts": d.attempts, "error": d.error, "at": d.at}
                    for d in dead
                ],
            },
        }

    # --- posting -----------------------------------------------------------------------

    async def post(
        self,
        secret: str,
        data: bytes,
        content_type: str,
        *,
        idempotency_key: str | None = None,
    ) -> StoredMessage:
        """Post a Slack incoming-webhook body (`read_body`) through the hook
        `secret` names: a wrong secret is a 404 whatever the body. With
        `idempotency_key`, a retry returns the first post (as a send's
        client_id does)."""
        if not secret or len(secret) > MAX_SECRET:
            raise no_hook()
        hook = await self.hub.store.integration_by_key(hook_key(secret))
        if hook is None or hook.kind != "incoming" or hook.channel_id is None:
            raise no_hook()
        body = read_body(data, content_type)
        poster = await self.hub.user_by_id(hook.user_id)
        if not poster.active:
            raise ChatError(
                ErrorCode.forbidden, f"the hook's account {poster.username} is deactivated"
            )
        channel = await self.hub.store.get_channel_by_id(hook.channel_id)
        if channel is None:
            raise no_hook()
        text = message_text(body)
        limit = self.hub.limits.max_message_chars
        if len(text) > limit:  # as Slack does past its own limit: cut, not refused
            text = text[: limit - 1] + "…"
        if idempotency_key is not None and not 1 <= len(idempotency_key) <= MAX_IDEMPOTENCY_KEY:
            raise ChatError(
                ErrorCode.invalid_input,
                f"Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY} characters",
                field="Idempotency-Key",
            )
        return await self.hub.send(
            poster,
            channel.name,
            text,
            idempotency_key,
            shown_name=_shown_name(body, poster),
        )


def _shown_name(body: Mapping[str, Any], poster: User) -> str | None:
    """Slack's `username` override, as the name shown (the account stays the
    poster's: clients show its username beside it)."""
    name = body.get("username")
    if not isinstance(name, str) or not name.strip():
        return None
    name = " ".join(name.split())[:MAX_DISPLAY_NAME]
    return None if name == poster.display_name else name
