"""Custom slash commands: an admin registers `/name` with a URL, and running
it POSTs Slack's slash-command payload there, so a Slack command's server
works with hubbub unchanged.

The request is Slack's: form-encoded `token`, `team_id`, `team_domain`,
`channel_id`, `channel_name`, `user_id`, `user_name`, `command`, `text`,
`api_app_id`, `response_url`, `trigger_id`, signed as Slack signs (the
`X-Slack-Signature` HMAC-SHA256 of `v0:<timestamp>:<body>` with the
command's signing secret, and `X-Slack-Request-Timestamp`). It goes out
through `Outbound`, the guard against server-side request forgery.

The answer, within `TIMEOUT` seconds, is Slack's too: an empty 200 (nothing
to show), plain text (shown to the user only), or a Slack message body whose
`response_type` is `ephemeral` (the default) or `in_channel` (posted in the
channel as the user who ran it, under the body's `username` if it has one,
as Mattermost does). Anything else is a clear error for the user.

Later answers go to `response_url` (`POST /commands/respond/<token>`, for 30
minutes): the token is signed with the workspace's secret, so any node, and
the Lambda deployment, can check it without storing it. An ephemeral one is
pushed to the user's connections only and never stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import urllib.parse
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

from hubbub.core import events, roles
from hubbub.core.accounts import Identity
from hubbub.core.callout import check_url, signature
from hubbub.core.commands import BUILT_INS, NAME_RE, Answer, Invocation
from hubbub.core.hooks import read_body
from hubbub.core.models import Integration, User
from hubbub.core.ports import NameTaken, OutboundError
from hubbub.core.slack_message import message_text
from hubbub.protocol.errors import ChatError, ErrorCode
from hubbub.protocol.rules import MAX_DISPLAY_NAME

if TYPE_CHECKING:
    from hubbub.core.hub import Hub

TIMEOUT = 3.0  # seconds, as Slack waits for a command's first answer
MAX_ANSWER = 256 * 1024  # bytes of an answer read at most
RESPOND_FOR = 30 * 60  # seconds a response_url works, as Slack's
MAX_COMMANDS = 100
MAX_DESCRIPTION = 200


def failed(command: str, why: str) -> ChatError:
    return ChatError(ErrorCode.integration_failed, f"{command} failed: {why}")


class CustomCommands:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    # --- managing them (admins, with a login) ------------------------------------------

    async def _admin(self, identity: Identity) -> User:
        manager = await self.hub.tokens.manager(identity)
        roles.require_admin(manager)
        return manager

    async def create(
        self, identity: Identity, name: str, url: str, *, description: str = "", usage: str = ""
    ) -> Integration:
        """Register `/name` (not a built-in) to POST to `url`. Its signing
        secret and verification token are in `config` (shown to admins)."""
        manager = await self._admin(identity)
        name = name.lower().lstrip("/")
        if not NAME_RE.match(name):
            raise ChatError(
                ErrorCode.invalid_input,
                "a command's name is 1-32 lowercase letters, digits, - or _",
                field="command",
            )
        if f"/{name}" in BUILT_INS:
            raise ChatError(ErrorCode.conflict, f"/{name} is built in", field="command")
        for value, field in ((description, "description"), (usage, "usage")):
            if len(value) > MAX_DESCRIPTION:
                raise ChatError(
                    ErrorCode.invalid_input, f"at most {MAX_DESCRIPTION} characters", field=field
                )
        check_url(self.hub.outbound, url)
        if sum(i.kind == "command" for i in await self.hub.store.integrations()) >= MAX_COMMANDS:
            raise ChatError(ErrorCode.invalid_input, f"at most {MAX_COMMANDS} custom commands")
        command = Integration(
            secrets.token_hex(8),
            "command",
            f"/{name}",
            f"/{name}",
            None,
            manager.id,
            manager.id,
            int(self.hub.clock() * 1000),
            {
                "url": url,
                "description": description.strip(),
                "usage": usage.strip(),
                "token": secrets.token_urlsafe(18),
                "signing_secret": secrets.token_hex(32),
            },
        )
        try:
            await self.hub.store.create_integration(command)
        except NameTaken:
            raise ChatError(ErrorCode.conflict, f"/{name} exists", field="command") from None
        await self.hub.admin.audit(manager, "command.create", f"/{name}", url=url)
        return command

    async def listed(self, identity: Identity) -> list[Integration]:
        await self._admin(identity)
        return [i for i in await self.hub.store.integrations() if i.kind == "command"]

    async def delete(self, identity: Identity, name: str) -> None:
        manager = await self._admin(identity)
        key = "/" + name.lower().lstrip("/")
        found = await self.hub.store.integration_by_key(key)
        if found is None or found.kind != "command":
            raise ChatError(ErrorCode.not_found, f"no command {key}", field="command")
        await self.hub.store.delete_integration(found.id)
        await self.hub.admin.audit(manager, "command.delete", key)

    async def listed_for_help(self) -> list[tuple[str, str]]:
        """(usage, description) of each custom command, for /help."""
        every = await self.hub.store.integrations()
        return sorted(
            (f"{c.key} {c.config.get('usage', '')}".strip(), c.config.get("description", ""))
            for c in every
            if c.kind == "command"
        )

    # --- running them -------------------------------------------------------------------

    async def run(self, inv: Invocation) -> Answer:
        command = await self.hub.store.integration_by_key(inv.command)
        if command is None or command.kind != "command":
            raise ChatError(
                ErrorCode.not_found, f"unknown command {inv.command} (try /help)", field="text"
            )
        if self.hub.outbound is None:
            raise ChatError(ErrorCode.unsupported, "this server makes no outgoing requests")
        # Each run is a request to another server: held to the user's send
        # rate, so that nobody can make this one flood it.
        self.hub.check_rate(inv.user.id)
        channel = inv.room
        fields = {
            "token": command.config["token"],
            "team_id": "hubbub",
            "team_domain": urllib.parse.urlsplit(self.hub.public_url).hostname or "",
            "channel_id": str(channel.id),
            "channel_name": channel.name,
            "user_id": str(inv.user.id),
            "user_name": inv.user.username,
            "command": inv.command,
            "text": inv.text,
            "api_app_id": command.id,
            "is_enterprise_install": "false",
            "response_url": self.response_url(command, inv.user, channel.id),
            "trigger_id": secrets.token_hex(8),
        }
        body = urllib.parse.urlencode(fields).encode()
        stamp = str(int(self.hub.clock()))
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signature(command.config["signing_secret"], stamp, body),
        }
        try:
            got = await self.hub.outbound.post(
                command.config["url"], body, headers, timeout=TIMEOUT, max_bytes=MAX_ANSWER
            )
        except OutboundError as exc:
            raise failed(inv.command, str(exc)) from None
        if got.status != 200:
            raise failed(inv.command, f"its server answered {got.status}")
        if not got.body.strip():
            return Answer(inv.command, "ephemeral", "")
        if not got.content_type.lower().startswith("application/json"):
            text = got.body.decode("utf-8", "replace")
            return Answer(inv.command, "ephemeral", self._cut(text))
        try:
            answer = orjson.loads(got.body)
        except orjson.JSONDecodeError:
            raise failed(inv.command, "its server answered JSON that does not parse") from None
        if not isinstance(answer, dict):
            raise failed(inv.command, "its server's answer is not a JSON object")
        return await self._answer(inv.user, channel.name, inv.command, answer, inv.client_id)

    def _cut(self, text: str) -> str:
        limit = self.hub.limits.max_message_chars
        return text if len(text) <= limit else text[: limit - 1] + "…"

    async def _answer(
        self,
        user: User,
        channel: str,
        command: str,
        answer: Mapping[str, Any],
        client_id: str | None,
    ) -> Answer:
        """A Slack message body as the command's answer."""
        try:
            text = self._cut(message_text(answer))
        except ChatError as exc:
            raise failed(
                command, f"its answer is not Slack's message JSON: {exc.message}"
            ) from None
        kind = answer.get("response_type", "ephemeral")
        if kind not in ("ephemeral", "in_channel"):
            raise failed(command, f"its answer's response_type {kind!r} is unknown")
        if kind == "ephemeral" or not text.strip():
            return Answer(command, "ephemeral", text)
        name = answer.get("username")
        shown = " ".join(name.split())[:MAX_DISPLAY_NAME] if isinstance(name, str) else None
        message = await self.hub.send(user, channel, text, client_id, shown_name=shown or None)
        return Answer(command, "in_channel", "", message)

    # --- later answers: response_url ------------------------------------------------------

    def _sign(self, payload: str) -> str:
        return hmac.new(self.hub.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()[:32]

    def response_url(self, command: Integration, user: User, channel_id: int) -> str:
        """ "" where the server does not know its own URL (a Lambda stack
        without PublicUrl)."""
        if not self.hub.public_url:
            return ""
        until = int(self.hub.clock()) + RESPOND_FOR
        payload = f"{command.id}.{user.id}.{channel_id}.{until}"
        return f"{self.hub.public_url}/commands/respond/{payload}.{self._sign(payload)}"

    async def respond(self, token: str, data: bytes, content_type: str) -> Answer:
        """A later answer through a response_url: `in_channel` is posted as
        the user who ran the command, `ephemeral` pushed to their connections."""
        payload, _, mac = token.rpartition(".")
        parts = payload.split(".")
        if len(parts) != 4 or not hmac.compare_digest(mac, self._sign(payload)):
            raise ChatError(ErrorCode.not_found, "no such response_url")
        command_id, user_id, channel_id, until = parts
        if not (user_id.isdigit() and channel_id.isdigit() and until.isdigit()):
            raise ChatError(ErrorCode.not_found, "no such response_url")
        if int(until) < self.hub.clock():
            raise ChatError(ErrorCode.not_found, "this response_url has expired (30 minutes)")
        commands = [i for i in await self.hub.store.integrations() if i.id == command_id]
        if not commands:
            raise ChatError(ErrorCode.not_found, "its command was deleted")
        user = await self.hub.user_by_id(int(user_id))
        channel = await self.hub.store.get_channel_by_id(int(channel_id))
        if not user.active or channel is None:
            raise ChatError(ErrorCode.not_found, "its user or channel is gone")
        body = read_body(data, content_type)
        answer = await self._answer(user, channel.name, commands[0].key, body, None)
        if answer.response_type == "ephemeral" and answer.text:
            await self.hub.publish(
                events.user_topic(user.id),
                {
                    "type": "ephemeral",
                    "channel": channel.name,
                    "command": answer.command,
                    "text": answer.text,
                },
            )
        return answer
