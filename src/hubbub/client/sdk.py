"""An async client for hubbub's REST API and WebSocket protocol.

It keeps one WebSocket open and, when it drops, reconnects with back-off and
jitter, re-subscribes every channel from the last `seq` it delivered, and
re-sends unacknowledged messages under their original `client_id`, so the
server stores each exactly once. Events come out of `events()` in order, each
message once.

    async with Client("http://127.0.0.1:8000") as hub:
        await hub.login("bot", "secret password")
        await hub.connect()
        await hub.subscribe("general")
        async for event in hub.events():
            if isinstance(event, Message) and event.text == "!ping":
                await hub.send("general", "pong")
"""

from __future__ import annotations

import asyncio
import contextlib
import email.message
import itertools
import json
import logging
import random
import time
import uuid
from collections.abc import AsyncIterator, Coroutine, Sequence
from pathlib import Path
from typing import Any, BinaryIO, Literal, Self
from urllib.parse import quote

import httpx
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI

from hubbub.protocol import frames
from hubbub.protocol.errors import CloseCode

log = logging.getLogger("hubbub.client")

# Closes after which reconnecting cannot help, and the error each becomes.
FATAL_CLOSES: dict[int, str] = {
    CloseCode.auth_failed: "auth_failed",
    CloseCode.auth_timeout: "auth_failed",
    CloseCode.session_ended: "session_ended",
    CloseCode.account_deactivated: "account_deactivated",
}


class HubbubError(Exception):
    """An error from the server (with its documented `code`) or from the network
    (`unreachable`, `connection_lost`, `auth_failed`, `timeout`; and the
    connection's end: `session_ended`, `account_deactivated`)."""

    def __init__(
        self,
        code: str,
        message: str,
        status: int | None = None,
        retry_after: float | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.field = field  # the input it is about, when the server says


class _Send:
    __slots__ = ("attempts", "frame", "future")

    def __init__(self, frame: dict[str, Any], future: asyncio.Future[frames.MessageOut]) -> None:
        self.frame = frame
        self.future = future
        self.attempts = 0


def seg(name: str) -> str:
    """A channel (or user) name as one URL path segment: `#`, `/`, `?`, `:`
    and `,` (DM names are `dm:alice,bob`) are percent-encoded, never read as
    URL syntax."""
    return quote(name, safe="")


def attachment_name(disposition: str, fallback: str) -> str:
    """The filename of a `Content-Disposition` header (RFC 6266's `filename*`
    first), reduced to a plain name: never a path out of the directory."""
    msg = email.message.Message()
    msg["content-disposition"] = disposition
    name = msg.get_filename() or ""
    name = Path(name.replace("\\", "/")).name.strip()
    return name if name not in ("", ".", "..") else fallback


def parse_event(obj: dict[str, Any]) -> frames.ServerFrame | None:
    model = frames.SERVER_TYPES.get(obj.get("type", ""))
    return model.model_validate(obj) if model is not None else None


class Client:
    def __init__(
        self,
        server: str | Sequence[str],
        token: str | None = None,
        *,
        timeout: float = 10.0,
        max_backoff: float = 10.0,
    ) -> None:
        # Several URLs: the nodes of one deployment. A connection that fails
        # moves on to the next, so losing a node costs a reconnect, not the chat.
        self.servers = [server] if isinstance(server, str) else list(server)
        self.servers = [u.rstrip("/") for u in self.servers]
        self._current = 0
        self.token = token
        self.timeout = timeout
        self.max_backoff = max_backoff
        self.http = httpx.AsyncClient(timeout=timeout)
        self.hello: frames.Hello | None = None
        # Per channel: the last place in its log delivered (a message or a change).
        self.last_seq: dict[str, int] = {}
        self._subscribed: dict[str, None] = {}
        self._refilling: set[str] = set()  # channels with a replay under way (`_refill`)
        self._watched: list[str] = []  # presence watches, renewed on reconnect
        self._pending: dict[str, _Send] = {}  # client_id -> unacknowledged send
        self._replies: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._send_by_id: dict[int, str] = {}
        self._ids = itertools.count(1)
        self._events: asyncio.Queue[frames.ServerFrame | HubbubError] = asyncio.Queue()
        self._ws: ClientConnection | None = None
        self._connected = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._closed = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.reconnects = 0

    @property
    def server(self) -> str:
        """The node in use now."""
        return self.servers[self._current]

    def _next_server(self) -> None:
        self._current = (self._current + 1) % len(self.servers)

    @property
    def connected(self) -> bool:
        """True while the WebSocket is open and resumed."""
        return self._connected.is_set()

    @property
    def subscriptions(self) -> tuple[str, ...]:
        """Channels followed (and resumed after every reconnect)."""
        return tuple(self._subscribed)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- REST ----------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        data: dict[str, str] | None = None,
        files: list[tuple[str, tuple[str, BinaryIO]]] | None = None,
    ) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        for attempt in range(len(self.servers)):
            for _, (_, fh) in files or ():
                fh.seek(0)  # a retry on the next node sends the whole file again
            try:
                r = await self.http.request(
                    method,
                    self.server + path,
                    json=json,
                    params=params,
                    data=data,
                    files=files,
                    headers=headers,
                )
                break
            except httpx.TransportError as exc:
                if attempt == len(self.servers) - 1:
                    raise HubbubError("unreachable", f"cannot reach {self.server}: {exc}") from None
                self._next_server()
            except httpx.InvalidURL as exc:
                raise HubbubError("unreachable", f"bad server URL {self.server!r}: {exc}") from None
        if r.status_code >= 400:
            try:
                err = r.json()["error"]
                code, message = str(err["code"]), str(err["message"])
            except (ValueError, KeyError, TypeError):
                code = "http_error"
                message = f"{method} {path}: HTTP {r.status_code} {r.reason_phrase}".rstrip()
                err = {}
            raise HubbubError(
                code, message, r.status_code, err.get("retry_after"), err.get("field")
            )
        if r.status_code == 204:
            return None
        try:
            return r.json()
        except ValueError:
            raise HubbubError(
                "bad_response",
                f"{self.server} answered {method} {path} with something other than JSON "
                "(is it a hubbub server?)",
                r.status_code,
            ) from None

    async def register(
        self,
        username: str,
        password: str,
        display_name: str | None = None,
        *,
        invite: str | None = None,
    ) -> str:
        body = {
            "username": username,
            "password": password,
            "display_name": display_name,
            "invite": invite,
        }
        self.token = (await self.request("POST", "/api/auth/register", json=body))["token"]
        return self.token

    async def workspace(self) -> dict[str, Any]:
        """Who may register here (no token needed)."""
        return await self.request("GET", "/api/workspace")  # type: ignore[no-any-return]

    # --- sessions and one's own account ---------------------------------------------

    async def logout(self) -> None:
        """End this client's session (its token is refused from now on)."""
        await self.request("POST", "/api/auth/logout")
        self.token = None

    async def sessions(self) -> list[dict[str, Any]]:
        return await self.request("GET", "/api/sessions")  # type: ignore[no-any-return]

    async def end_session(self, session_id: str) -> None:
        await self.request("DELETE", f"/api/sessions/{seg(session_id)}")

    async def end_sessions(self, *, keep_current: bool = False) -> None:
        """Log out everywhere (but here, with `keep_current`)."""
        await self.request(
            "DELETE", "/api/sessions", params={"keep_current": str(keep_current).lower()}
        )

    async def change_password(self, current: str, new: str) -> None:
        """Ends every other session of the account."""
        body = {"current_password": current, "new_password": new}
        await self.request("PUT", "/api/me/password", json=body)

    async def update_profile(
        self,
        *,
        display_name: str | None = None,
        status: tuple[str, str, int | None] | None = None,
    ) -> dict[str, Any]:
        """`status`: (emoji, text, until in ms or None); ("", "", None) clears it."""
        body: dict[str, Any] = {}
        if display_name is not None:
            body["display_name"] = display_name
        if status is not None:
            emoji, text, until = status
            body["custom_status"] = {"emoji": emoji, "text": text, "until": until}
        return await self.request("PATCH", "/api/me", json=body)  # type: ignore[no-any-return]

    # --- administration ----------------------------------------------------------------

    async def create_invite(
        self,
        *,
        max_uses: int = 1,
        expires_in: int = 7 * 86400,
        role: str = "member",
        channels: list[str] | None = None,
    ) -> dict[str, Any]:
        """A new invite; its `code` is shown this once."""
        body = {
            "max_uses": max_uses,
            "expires_in": expires_in,
            "role": role,
            "channels": channels or [],
        }
        return await self.request("POST", "/api/invites", json=body)  # type: ignore[no-any-return]

    async def invites(self) -> list[dict[str, Any]]:
        return await self.request("GET", "/api/invites")  # type: ignore[no-any-return]

    async def revoke_invite(self, invite_id: str) -> None:
        await self.request("DELETE", f"/api/invites/{seg(invite_id)}")

    # --- API tokens and bots (a login's; docs/integrations.md) -------------------------

    async def create_token(
        self, name: str, *, scopes: list[str] | None = None, bot: str | None = None
    ) -> dict[str, Any]:
        """A long-lived API token (for you, or a bot you manage); its `token`
        is shown this once. Pass it as `Client(url, token=...)`."""
        body: dict[str, Any] = {"name": name, "scopes": scopes or ["read", "write"]}
        if bot is not None:
            body["bot"] = bot
        return await self.request("POST", "/api/tokens", json=body)  # type: ignore[no-any-return]

    async def tokens(self, *, bot: str | None = None) -> list[dict[str, Any]]:
        params = {} if bot is None else {"bot": bot}
        return await self.request("GET", "/api/tokens", params=params)  # type: ignore[no-any-return]

    async def revoke_token(self, token_id: str, *, bot: str | None = None) -> None:
        params = {} if bot is None else {"bot": bot}
        await self.request("DELETE", f"/api/tokens/{seg(token_id)}", params=params)

    async def create_bot(self, username: str, display_name: str = "") -> dict[str, Any]:
        body = {"username": username, "display_name": display_name}
        return await self.request("POST", "/api/bots", json=body)  # type: ignore[no-any-return]

    async def bots(self) -> list[dict[str, Any]]:
        return await self.request("GET", "/api/bots")  # type: ignore[no-any-return]

    async def set_bot_active(self, username: str, active: bool) -> dict[str, Any]:
        return await self.request(  # type: ignore[no-any-return]
            "PUT", f"/api/bots/{seg(username)}/active", json={"active": active}
        )

    # --- incoming webhooks (a login's; docs/integrations.md) ---------------------------

    async def create_hook(
        self, channel: str, name: str, *, bot: str | None = None
    ) -> dict[str, Any]:
        """An incoming webhook into `channel`, posting as you or as `bot`; its
        `url` is shown this once (POST Slack's JSON to it, no token)."""
        body: dict[str, Any] = {"channel": channel, "name": name}
        if bot is not None:
            body["bot"] = bot
        return await self.request("POST", "/api/hooks", json=body)  # type: ignore[no-any-return]

    async def hooks(self) -> list[dict[str, Any]]:
        return await self.request("GET", "/api/hooks")  # type: ignore[no-any-return]

    async def delete_hook(self, hook_id: str) -> None:
        await self.request("DELETE", f"/api/hooks/{seg(hook_id)}")

    # --- outgoing webhooks (a login's; docs/integrations.md) ---------------------------

    async def create_outgoing_hook(
        self,
        channel: str,
        name: str,
        url: str,
        *,
        triggers: Sequence[str] = (),
        format: str = "form",
        bot: str | None = None,
    ) -> dict[str, Any]:
        """An outgoing webhook: `channel`'s messages (those starting with one
        of `triggers`, if any) POSTed to `url`, signed with the hook's
        `signing_secret`; its receiver's answers posted as you or `bot`."""
        body: dict[str, Any] = {
            "channel": channel,
            "name": name,
            "url": url,
            "triggers": list(triggers),
            "format": format,
        }
        if bot is not None:
            body["bot"] = bot
        return await self.request(  # type: ignore[no-any-return]
            "POST", "/api/outgoing-hooks", json=body
        )

    async def outgoing_hooks(self) -> list[dict[str, Any]]:
        """Yours (an admin: every one), with where their deliveries stand."""
        return await self.request("GET", "/api/outgoing-hooks")  # type: ignore[no-any-return]

    async def delete_outgoing_hook(self, hook_id: str) -> None:
        await self.request("DELETE", f"/api/outgoing-hooks/{seg(hook_id)}")

    async def set_role(self, username: str, role: str) -> dict[str, Any]:
        return await self.request(  # type: ignore[no-any-return]
            "PUT", f"/api/users/{seg(username)}/role", json={"role": role}
        )

    async def set_active(self, username: str, active: bool) -> dict[str, Any]:
        """Deactivate (False) or reactivate an account."""
        return await self.request(  # type: ignore[no-any-return]
            "PUT", f"/api/users/{seg(username)}/active", json={"active": active}
        )

    async def audit_log(
        self, *, before: int | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit}
        if before is not None:
            params["before"] = before
        return await self.request("GET", "/api/audit", params=params)  # type: ignore[no-any-return]

    async def update_channel(self, channel: str, **changes: Any) -> dict[str, Any]:
        """Any of `name` (a rename), `topic`, `purpose`, `archived`, `default`."""
        return await self.request(  # type: ignore[no-any-return]
            "PATCH", f"/api/channels/{seg(channel)}", json=changes
        )

    async def remove_member(self, channel: str, username: str) -> dict[str, Any]:
        return await self.request(  # type: ignore[no-any-return]
            "DELETE", f"/api/channels/{seg(channel)}/members/{seg(username)}"
        )

    async def login(self, username: str, password: str) -> str:
        body = {"username": username, "password": password}
        self.token = (await self.request("POST", "/api/auth/login", json=body))["token"]
        return self.token

    async def me(self) -> dict[str, Any]:
        return await self.request("GET", "/api/me")  # type: ignore[no-any-return]

    async def channels(self) -> list[dict[str, Any]]:
        return await self.request("GET", "/api/channels")  # type: ignore[no-any-return]

    async def channel(self, name: str) -> dict[str, Any]:
        """One channel as you see it (with `is_member` and `last_read`)."""
        return await self.request("GET", f"/api/channels/{seg(name)}")  # type: ignore[no-any-return]

    async def create_channel(
        self, name: str, *, private: bool = False, topic: str = ""
    ) -> dict[str, Any]:
        body = {"name": name, "private": private, "topic": topic}
        return await self.request("POST", "/api/channels", json=body)  # type: ignore[no-any-return]

    async def join(self, channel: str) -> dict[str, Any]:
        return await self.request("POST", f"/api/channels/{seg(channel)}/join")  # type: ignore[no-any-return]

    async def leave(self, channel: str) -> dict[str, Any]:
        return await self.request("POST", f"/api/channels/{seg(channel)}/leave")  # type: ignore[no-any-return]

    async def invite(self, channel: str, username: str) -> dict[str, Any]:
        return await self.request(  # type: ignore[no-any-return]
            "POST", f"/api/channels/{seg(channel)}/invite", json={"username": username}
        )

    async def set_topic(self, channel: str, topic: str) -> dict[str, Any]:
        return await self.request(  # type: ignore[no-any-return]
            "PUT", f"/api/channels/{seg(channel)}/topic", json={"topic": topic}
        )

    async def members(self, channel: str) -> list[str]:
        return (await self.request("GET", f"/api/channels/{seg(channel)}/members"))["members"]  # type: ignore[no-any-return]

    async def open_dm(self, usernames: list[str]) -> dict[str, Any]:
        return await self.request("POST", "/api/dms", json={"usernames": usernames})  # type: ignore[no-any-return]

    async def users(
        self, query: str = "", *, after: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """A page of the user directory (`username`, `display_name`): users
        whose username or display name contains `query`, in any case (all of
        them for ""), by username. The next page: `after=` the last one's
        username (an empty page: there are no more)."""
        params: dict[str, Any] = {"q": query}
        if after is not None:
            params["after"] = after
        if limit is not None:
            params["limit"] = limit
        return await self.request("GET", "/api/users", params=params)  # type: ignore[no-any-return]

    async def post(
        self,
        channel: str,
        text: str,
        *,
        client_id: str | None = None,
        thread_root: int | None = None,
        broadcast: bool = False,
        files: Sequence[str] = (),
    ) -> frames.MessageOut:
        """Send one message over REST (no WebSocket needed); a retry with the
        same `client_id` returns the original message instead of a second one.
        `thread_root`, `broadcast` and `files` as for `send`."""
        body: dict[str, Any] = {"text": text, "client_id": client_id or uuid.uuid4().hex}
        if thread_root is not None:
            body |= {"thread_root": thread_root, "broadcast": broadcast}
        if files:
            body["files"] = list(files)
        reply = await self.request("POST", f"/api/channels/{seg(channel)}/messages", json=body)
        reply.pop("duplicate", None)
        return frames.MessageOut.model_validate(reply)

    async def history(
        self,
        channel: str,
        *,
        before: int | None = None,
        after: int | None = None,
        around: int | None = None,
        limit: int = 50,
    ) -> tuple[list[frames.MessageOut], bool]:
        """A page of messages: newest first (paging back with `before`), or
        oldest first with `after`. With `around` (a search result's seq):
        the messages before it, it and those after it, oldest first; the
        bool then says whether there are newer ones."""
        params: dict[str, Any] = {"limit": limit}
        if before is not None:
            params["before"] = before
        if after is not None:
            params["after"] = after
        if around is not None:
            params["around"] = around
        page = await self.request("GET", f"/api/channels/{seg(channel)}/messages", params=params)
        return [frames.MessageOut.model_validate(m) for m in page["messages"]], page["has_more"]

    async def search(
        self,
        query: str,
        *,
        order: Literal["newest", "relevance"] = "newest",
        offset: int = 0,
        limit: int = 20,
        tz: int | None = None,
    ) -> tuple[list[frames.SearchResult], int | None]:
        """A page of the messages matching `query` (words, "phrases",
        `in:#channel`, `from:@user`, dates, `has:file`...: docs/protocol.md)
        that you may read, and the `offset` of the next page (None: no more).
        `tz`: your offset from UTC in minutes for the query's dates (default:
        this machine's)."""
        if tz is None:
            tz = time.localtime().tm_gmtoff // 60
        params = {"q": query, "order": order, "offset": offset, "limit": limit, "tz": tz}
        page = await self.request("GET", "/api/search", params=params)
        found = [frames.SearchResult.model_validate(r) for r in page["results"]]
        return found, page["next_offset"]

    async def thread(
        self,
        channel: str,
        seq: int,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int = 50,
    ) -> tuple[frames.MessageOut, list[frames.MessageOut], bool]:
        """The thread of message `seq`: its root now, a page of replies (as
        `history` pages), and whether there are more."""
        params: dict[str, Any] = {"limit": limit}
        if before is not None:
            params["before"] = before
        if after is not None:
            params["after"] = after
        page = await self.request(
            "GET", f"/api/channels/{seg(channel)}/messages/{seq}/thread", params=params
        )
        replies = [frames.MessageOut.model_validate(m) for m in page["messages"]]
        return frames.MessageOut.model_validate(page["root"]), replies, page["has_more"]

    async def threads(self, *, limit: int = 50) -> list[frames.FollowedThreadOut]:
        """The threads you follow, the latest reply first, with their unread replies."""
        page = await self.request("GET", "/api/threads", params={"limit": limit})
        return [frames.FollowedThreadOut.model_validate(t) for t in page["threads"]]

    async def read_thread(self, channel: str, root: int, seq: int) -> int:
        """Mark the thread of `root` read up to `seq`; your cursor in it now."""
        url = f"/api/channels/{seg(channel)}/messages/{root}/thread/read"
        body = await self.request("POST", url, json={"seq": seq})
        return int(body["last_read"])

    async def command(
        self, channel: str, text: str, *, client_id: str | None = None
    ) -> frames.CommandResult:
        """Run the slash command `text` (`/shrug ok`) in `channel`: a built-in
        or a custom one. Its `text` is for you only; what it posted in the
        channel is its `message` (and arrives as an event too)."""
        body: dict[str, Any] = {"text": text}
        if client_id is not None:
            body["client_id"] = client_id
        got = await self.request("POST", f"/api/channels/{seg(channel)}/commands", json=body)
        return frames.CommandResult.model_validate(
            {"type": "command_result", "id": None, "channel": channel, **got}
        )

    async def available_commands(self) -> list[dict[str, Any]]:
        """The commands you can run (`command`, `usage`, `description`, `custom`)."""
        return await self.request("GET", "/api/commands")  # type: ignore[no-any-return]

    # --- custom commands (admins, with a login; docs/integrations.md) -------------------

    async def create_custom_command(
        self, command: str, url: str, *, description: str = "", usage: str = ""
    ) -> dict[str, Any]:
        """Register `/command`: running it POSTs Slack's slash-command payload
        to `url`, signed with the answer's `signing_secret`."""
        body = {"command": command, "url": url, "description": description, "usage": usage}
        return await self.request(  # type: ignore[no-any-return]
            "POST", "/api/custom-commands", json=body
        )

    async def custom_commands(self) -> list[dict[str, Any]]:
        """Every custom command, with its secrets."""
        return await self.request("GET", "/api/custom-commands")  # type: ignore[no-any-return]

    async def delete_custom_command(self, command: str) -> None:
        await self.request("DELETE", f"/api/custom-commands/{seg(command.lstrip('/'))}")

    async def pins(self, channel: str, *, limit: int = 100) -> list[frames.MessageOut]:
        """The channel's pinned messages, the most recently pinned first."""
        page = await self.request(
            "GET", f"/api/channels/{seg(channel)}/pins", params={"limit": limit}
        )
        return [frames.MessageOut.model_validate(m) for m in page["messages"]]

    # --- notifications -------------------------------------------------------------------

    async def notifications(self) -> frames.NotificationsOut:
        """Your notification settings (do-not-disturb, its schedule, digests)."""
        return frames.NotificationsOut.model_validate(
            await self.request("GET", "/api/notifications")
        )

    async def set_notifications(self, **changes: Any) -> frames.NotificationsOut:
        """Change some settings: `dnd_minutes=30`, `dnd_until=None` (off),
        `schedule={"start": "22:00", "end": "08:00", "tz": "Europe/Paris"}`
        (None: none), `email_digest=True`; the others stay."""
        return frames.NotificationsOut.model_validate(
            await self.request("PUT", "/api/notifications", json=changes)
        )

    async def channel_notifications(self, channel: str) -> frames.ChannelNotificationsOut:
        body = await self.request("GET", f"/api/channels/{seg(channel)}/notifications")
        return frames.ChannelNotificationsOut.model_validate(body)

    async def set_channel_notifications(
        self, channel: str, *, level: str | None = None, muted: bool | None = None
    ) -> frames.ChannelNotificationsOut:
        """Your level (`all`, `mentions`, `nothing`) or mute in a channel;
        None leaves it as it is."""
        changes: dict[str, Any] = {}
        if level is not None:
            changes["level"] = level
        if muted is not None:
            changes["muted"] = muted
        body = await self.request(
            "PUT", f"/api/channels/{seg(channel)}/notifications", json=changes
        )
        return frames.ChannelNotificationsOut.model_validate(body)

    # --- files ---------------------------------------------------------------------------

    async def upload(
        self, channel: str, source: str | Path | BinaryIO, *, name: str | None = None
    ) -> frames.FileOut:
        """Upload a file to a channel (streamed from disk, never read whole);
        attach it with `send(..., files=[f.id])` or `post`. Refused past the
        server's `max_file_bytes` (`file_too_large`) or your quota."""
        if isinstance(source, str | Path):
            path = Path(source)
            # Local disk, read in chunks as httpx sends them: no thread needed.
            with path.open("rb") as fh:  # noqa: ASYNC230
                return await self.upload(channel, fh, name=name or path.name)
        filename = name or Path(getattr(source, "name", "") or "file").name
        out = await self.request(
            "POST", "/api/files", data={"channel": channel}, files=[("file", (filename, source))]
        )
        return frames.FileOut.model_validate(out[0])

    async def upload_presigned(self, channel: str, path: str | Path) -> frames.FileOut:
        """Upload over the WebSocket's `upload` ticket, straight to the blob
        store (the Lambda deployment, whose WebSocket cannot carry files and
        which has no REST API): needs `connect()` first."""
        path = Path(path)
        size = path.stat().st_size
        ticket = await self._request(
            {"action": "upload", "channel": channel, "name": path.name, "size": size}
        )
        with path.open("rb") as fh:  # noqa: ASYNC230 (local disk, read as it is sent)
            r = await self.http.post(
                ticket["url"], data=ticket["fields"], files=[("file", (path.name, fh))]
            )
        if r.status_code >= 300:
            code = "file_too_large" if b"EntityTooLarge" in r.content else "upload_failed"
            raise HubbubError(code, f"the blob store refused the upload: HTTP {r.status_code}")
        ready = await self._request({"action": "file_uploaded", "file_id": ticket["file_id"]})
        return frames.FileOut.model_validate(ready["file"])

    async def file_link(self, file_id: str, *, thumbnail: bool = False) -> tuple[str, int]:
        """A URL that downloads the file (or its thumbnail) without a token, for
        a while, and when it stops working (ms since the epoch)."""
        params = {"thumbnail": "1"} if thumbnail else None
        body = await self.request("GET", f"/api/files/{seg(file_id)}/link", params=params)
        url = str(body["url"])
        return (self.server + url if url.startswith("/") else url), int(body["expires_at"])

    async def download(self, file_id: str, dest: str | Path, *, thumbnail: bool = False) -> Path:
        """Save a file (streamed) to `dest`, or into `dest` under the file's own
        name if it is a directory; the path written."""
        url, _ = await self.file_link(file_id, thumbnail=thumbnail)
        async with self.http.stream("GET", url) as r:
            if r.status_code >= 400:
                await r.aread()
                raise HubbubError("not_found", f"cannot download {file_id}", r.status_code)
            path = Path(dest)
            if path.is_dir():  # noqa: ASYNC240 (local disk, one stat)
                path = path / attachment_name(r.headers.get("content-disposition", ""), file_id)
            with path.open("wb") as out:
                async for chunk in r.aiter_bytes():
                    out.write(chunk)
        return path

    # --- real time -----------------------------------------------------------------------

    @property
    def ws_url(self) -> str:
        base = "ws" + self.server[4:] if self.server.startswith("http") else self.server
        return f"{base}/ws"

    async def connect(self) -> frames.Hello:
        """Open the WebSocket (and keep it open until `close`)."""
        if self.token is None:
            raise HubbubError("not_authenticated", "log in or register first")
        if self._runner is None:
            self._runner = asyncio.create_task(self._run(), name="hubbub-client")
        await self.wait_connected()
        assert self.hello is not None
        return self.hello

    async def wait_connected(self, timeout: float | None = None) -> None:
        waiter = asyncio.ensure_future(self._connected.wait())
        runner = self._runner
        done, _ = await asyncio.wait(
            [waiter, *([runner] if runner else [])],
            timeout=timeout or self.timeout,
            return_when=asyncio.FIRST_COMPLETED,
        )
        if waiter not in done:
            waiter.cancel()
            if runner is not None and runner.done():
                exc = runner.exception()
                raise exc if exc else HubbubError("connection_lost", "client closed")
            raise HubbubError("timeout", f"could not connect to {self.ws_url}")

    async def subscribe(self, channel: str, since: int | None = None) -> frames.Subscribed:
        """Follow `channel`. With `since`, replay what came after it; after a
        reconnect the client resumes from the last message it delivered."""
        if since is not None:
            self.last_seq[channel] = since
        self._subscribed[channel] = None
        reply = await self._request({"action": "subscribe", "channel": channel, "since": since})
        return frames.Subscribed.model_validate(reply)

    async def unsubscribe(self, channel: str) -> None:
        self._subscribed.pop(channel, None)
        await self._request({"action": "unsubscribe", "channel": channel})

    async def send(
        self,
        channel: str,
        text: str,
        *,
        client_id: str | None = None,
        thread_root: int | None = None,
        broadcast: bool = False,
        files: Sequence[str] = (),
    ) -> frames.MessageOut:
        """Send and wait for the ack (the commit). Survives reconnects: the
        same `client_id` is re-sent until acknowledged, and stored once.
        With `thread_root`, a reply in that message's thread (`broadcast`:
        also shown in the channel). `files`: ids from `upload`, attached to
        this message (`text` may then be empty)."""
        client_id = client_id or uuid.uuid4().hex
        fut: asyncio.Future[frames.MessageOut] = asyncio.get_running_loop().create_future()
        frame: dict[str, Any] = {
            "action": "send",
            "channel": channel,
            "text": text,
            "client_id": client_id,
        }
        if thread_root is not None:
            frame |= {"thread_root": thread_root, "broadcast": broadcast}
        if files:
            frame["files"] = list(files)
        self._pending[client_id] = _Send(frame, fut)
        await self._transmit_send(client_id)
        try:
            return await asyncio.wait_for(fut, self.timeout * 3)
        except TimeoutError:
            # Given up: not re-sent any more. It may or may not be stored;
            # sending again with the same client_id is safe either way.
            raise HubbubError("timeout", f"no ack for {client_id}") from None
        finally:
            self._pending.pop(client_id, None)

    async def edit(self, channel: str, seq: int, text: str) -> frames.Changed:
        """Replace the text of your own message `seq`. The answer holds the
        message now and `seq`, the change's place in the channel's log (None
        when nothing changed: the text was already that). Safe to retry."""
        return await self._change({"action": "edit", "channel": channel, "seq": seq, "text": text})

    async def delete(self, channel: str, seq: int) -> frames.Changed:
        """Delete your own message `seq` (a tombstone stays: `deleted`, no
        text). Deleting it again changes nothing (`seq` None)."""
        return await self._change({"action": "delete", "channel": channel, "seq": seq})

    async def react(self, channel: str, seq: int, emoji: str) -> frames.Changed:
        """Add your reaction `emoji` (`👍`, or a shortcode: `:+1:`) to message
        `seq`. Reacting twice changes nothing (`seq` None)."""
        frame = {"action": "react", "channel": channel, "seq": seq, "emoji": emoji}
        return await self._change(frame)

    async def unreact(self, channel: str, seq: int, emoji: str) -> frames.Changed:
        """Take back your reaction `emoji` (`seq` None if you had not made it)."""
        frame = {"action": "unreact", "channel": channel, "seq": seq, "emoji": emoji}
        return await self._change(frame)

    async def pin(self, channel: str, seq: int) -> frames.Changed:
        """Pin message `seq` to the channel (`seq` None if it was already)."""
        return await self._change({"action": "pin", "channel": channel, "seq": seq})

    async def unpin(self, channel: str, seq: int) -> frames.Changed:
        """Unpin message `seq` (`seq` None if it wasn't pinned)."""
        return await self._change({"action": "unpin", "channel": channel, "seq": seq})

    async def _change(self, frame: dict[str, Any]) -> frames.Changed:
        # Followers of the channel (this client too, if it is one) get the
        # change as a `message_updated` event; the answer moves no cursor.
        return frames.Changed.model_validate(await self._request(frame))

    async def typing(self, channel: str) -> None:
        await self._send_frame({"action": "typing", "channel": channel})

    async def mark_read(self, channel: str, seq: int) -> None:
        await self._request({"action": "read", "channel": channel, "seq": seq})

    async def watch_presence(self, usernames: list[str]) -> dict[str, str]:
        """Follow these users' presence (replacing the previous set); renewed
        after reconnects, when `presence_state` comes as an event."""
        self._watched = list(usernames)
        reply = await self._request({"action": "watch_presence", "usernames": usernames})
        return reply["users"]  # type: ignore[no-any-return]

    async def events(self) -> AsyncIterator[frames.ServerFrame]:
        """Every server event, in order; raises if the connection cannot be kept."""
        while True:
            item = await self._events.get()
            if isinstance(item, HubbubError):
                raise item
            yield item

    async def close(self) -> None:
        self._closed = True
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._runner
        await self.http.aclose()

    # --- internals ---------------------------------------------------------------------

    async def _send_frame(self, frame: dict[str, Any]) -> None:
        await self.wait_connected()
        if self._ws is None:  # lost again between connecting and now
            raise HubbubError("connection_lost", "connection lost; retry")
        try:
            await self._ws.send(json.dumps(frame))
        except ConnectionClosed:
            raise HubbubError("connection_lost", "connection lost; retry") from None

    async def _request(self, frame: dict[str, Any]) -> dict[str, Any]:
        fid = next(self._ids)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[fid] = fut
        try:
            await self._send_frame({**frame, "id": fid})
            return await asyncio.wait_for(fut, self.timeout)
        except TimeoutError:
            raise HubbubError("timeout", f"no reply to {frame.get('action')}") from None
        finally:
            self._replies.pop(fid, None)

    async def _transmit_send(self, client_id: str) -> None:
        pending = self._pending.get(client_id)
        if pending is None or self._ws is None:
            return  # sent on (re)connect
        fid = next(self._ids)
        self._send_by_id[fid] = client_id
        pending.attempts += 1
        with contextlib.suppress(ConnectionClosed):  # re-sent after reconnecting
            await self._ws.send(json.dumps({**pending.frame, "id": fid}))

    async def _run(self) -> None:
        attempt = 0
        while not self._closed:
            try:
                async with websockets.connect(
                    self.ws_url, open_timeout=self.timeout, max_size=None, compression=None
                ) as ws:
                    # The token in an `auth` frame, not the URL: the Lambda
                    # deployment's `$connect` cannot answer `hello`, and URLs
                    # end up in logs. A refused token's error frame is followed
                    # by the close (auth_failed) that ends this.
                    await ws.send(json.dumps({"action": "auth", "token": self.token}))
                    hello = json.loads(await asyncio.wait_for(ws.recv(), self.timeout))
                    while hello.get("type") == "error":
                        hello = json.loads(await asyncio.wait_for(ws.recv(), self.timeout))
                    self.hello = frames.Hello.model_validate(hello)
                    self._ws = ws
                    attempt = 0
                    await self._resume(ws)
                    self._connected.set()
                    async for raw in ws:
                        self._dispatch(json.loads(raw))
            except ConnectionClosed as exc:
                fatal = FATAL_CLOSES.get(exc.rcvd.code) if exc.rcvd else None
                if fatal is not None:
                    err = HubbubError(fatal, exc.rcvd.reason if exc.rcvd else "")
                    self._fail_all(err)
                    raise err from None
            except (OSError, TimeoutError, InvalidStatus) as exc:
                log.info("connect to %s failed: %s", self.server, exc)
                self._next_server()
            except InvalidURI:
                # Not str(exc): that quotes the URL, token and all.
                err = HubbubError(
                    "unreachable", f"bad server URL: {self.ws_url} is not a valid URI"
                )
                self._fail_all(err)
                raise err from None
            finally:
                self._connected.clear()
                self._ws = None
                for fut in self._replies.values():
                    if not fut.done():
                        fut.set_exception(HubbubError("connection_lost", "connection lost"))
            if self._closed:
                return
            attempt += 1
            self.reconnects += 1
            # Exponential back-off with full jitter: a restarted server is not
            # hit by every client at the same instant.
            await asyncio.sleep(min(self.max_backoff, 0.1 * 2**attempt) * random.random())

    async def _resume(self, ws: ClientConnection) -> None:
        """Re-subscribe from the last delivered seq; re-send unacked messages."""
        for channel in self._subscribed:
            frame = {
                "action": "subscribe",
                "channel": channel,
                "since": self.last_seq.get(channel),
            }
            await ws.send(json.dumps(frame))
        if self._watched:
            await ws.send(json.dumps({"action": "watch_presence", "usernames": self._watched}))
        for client_id, pending in list(self._pending.items()):
            fid = next(self._ids)
            self._send_by_id[fid] = client_id
            pending.attempts += 1
            await ws.send(json.dumps({**pending.frame, "id": fid}))

    def _dispatch(self, obj: dict[str, Any]) -> None:
        kind = obj.get("type")
        fid = obj.get("id")
        if kind == "ack":
            if isinstance(fid, int):
                self._send_by_id.pop(fid, None)
            pending = self._pending.get(obj["client_id"])
            if pending is not None and not pending.future.done():
                pending.future.set_result(frames.MessageOut.model_validate(obj["message"]))
            return
        if kind == "error" and fid in self._send_by_id:
            self._send_failed(self._send_by_id.pop(fid), obj)
            return
        if kind == "subscribed":
            self.last_seq[obj["channel"]] = obj["last_seq"]
        if isinstance(fid, int) and fid in self._replies:
            # The answer to one of our requests goes to its caller only.
            fut = self._replies[fid]
            if not fut.done():
                if kind == "error":
                    fut.set_exception(
                        HubbubError(
                            obj["code"],
                            obj["message"],
                            retry_after=obj.get("retry_after"),
                            field=obj.get("field"),
                        )
                    )
                else:
                    fut.set_result(obj)
            return
        if kind == "skipped":
            # Seqs that will never hold a message (Lambda deployment): count
            # them as delivered, or a hole before them is still a hole.
            channel, last = obj["channel"], self.last_seq.get(obj["channel"])
            if last is not None and obj["first"] > last + 1 and channel in self._subscribed:
                self._spawn(self._refill(channel, last))
            elif last is None or obj["last"] > last:
                self.last_seq[channel] = obj["last"]
            return
        if kind in ("message", "message_updated"):
            # Both take a place in the channel's log: the cursor moves on
            # either, and a hole before either is a hole.
            channel, seq = obj["channel"], obj["seq"]
            last = self.last_seq.get(channel)
            if last is not None and seq <= last:
                return  # already delivered (a replay overlapping live events)
            if last is not None and seq > last + 1 and channel in self._subscribed:
                # A hole: ask for a replay from the last seq we have, rather
                # than deliver out of order.
                self._spawn(self._refill(channel, last))
                return
            self.last_seq[channel] = seq
        elif kind == "channel_left":
            # The server stopped the subscription; do not resume it later.
            self._subscribed.pop(obj["channel"]["name"], None)
        elif kind == "channel_updated" and obj.get("renamed_from"):
            self._renamed(obj["renamed_from"], obj["channel"]["name"])
        event = parse_event(obj)
        if event is not None:
            self._events.put_nowait(event)

    def _renamed(self, old: str, new: str) -> None:
        """A channel we follow has a new name: keep following it, from where
        we are, under that name (the old one would work too, but events come
        with the new one)."""
        if old in self._subscribed:
            self._subscribed = {(new if c == old else c): None for c in self._subscribed}
        if old in self.last_seq:
            self.last_seq[new] = max(self.last_seq.pop(old), self.last_seq.get(new, 0))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _refill(self, channel: str, since: int) -> None:
        """Replay the channel from `since`, once at a time: every frame after
        a hole asks for this, and a second replay started from the same
        cursor would move it back under the first one's frames."""
        if channel in self._refilling:
            return
        self._refilling.add(channel)
        try:
            with contextlib.suppress(HubbubError):
                await self.subscribe(channel, since)
        finally:
            self._refilling.discard(channel)

    def _send_failed(self, client_id: str, err: dict[str, Any]) -> None:
        pending = self._pending.get(client_id)
        if pending is None or pending.future.done():
            return
        retry_after = err.get("retry_after")
        if err["code"] in ("unavailable", "rate_limited") and pending.attempts < 20:
            # Not stored: safe to retry under the same client_id after a pause.
            delay = retry_after or min(5.0, 0.2 * 2**pending.attempts)
            asyncio.get_running_loop().call_later(
                delay, lambda: self._spawn(self._transmit_send(client_id))
            )
            return
        pending.future.set_exception(
            HubbubError(
                err["code"], err["message"], retry_after=retry_after, field=err.get("field")
            )
        )

    def _fail_all(self, err: HubbubError) -> None:
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.set_exception(err)
        self._events.put_nowait(err)
