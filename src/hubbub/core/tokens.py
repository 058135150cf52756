"""API tokens and bot accounts: what scripts, CI jobs and bots sign in with.

An API token is a session (`models.Session` with scopes and a key hash), so
everything that holds for a login holds for it: it is checked through the
same cache, its last use is recorded, and revoking it closes its WebSocket
connections on every node. It differs in three ways: it does not expire,
it is limited to its scopes, and a new password or "log out everywhere"
leaves it standing (ending it is `revoke`, or deactivating the account).

A bot is an account without a password, owned by the person who made it.
Its owner (and any admin) makes and revokes its tokens and deactivates it.
Managing tokens and bots needs a login: a leaked token cannot mint more.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from hubbub.core import auth, roles
from hubbub.core.accounts import Identity, login_required
from hubbub.core.models import SCOPES, Scope, Session, User
from hubbub.core.ports import NameTaken
from hubbub.protocol.errors import ChatError, ErrorCode
from hubbub.protocol.rules import MAX_DISPLAY_NAME

if TYPE_CHECKING:
    from hubbub.core.hub import Hub

MAX_TOKENS = 100  # standing API tokens per account
MAX_BOTS = 50  # bots per owner
MAX_TOKEN_NAME = 80
# Not an argon2 hash, so no password verifies against it: a bot cannot log in.
NO_PASSWORD = "!"


def _now_ms(hub: Hub) -> int:
    return int(hub.clock() * 1000)


def check_scopes(scopes: Sequence[str]) -> tuple[Scope, ...]:
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise ChatError(
            ErrorCode.invalid_input,
            f"scopes must be one or more of {', '.join(SCOPES)}",
            field="scopes",
        )
    return tuple(s for s in SCOPES if s in scopes)


class Tokens:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    async def manager(self, identity: Identity) -> User:
        """The person managing tokens or bots, as they are now: a login (not
        a token), not a guest."""
        if identity.session.is_token:
            raise login_required()
        fresh = await self.hub.fresh(identity.user)
        roles.require_not_guest(fresh, "make API tokens or bots")
        return fresh

    async def holder(self, identity: Identity, bot: str | None) -> tuple[User, User]:
        """The manager and the account whose tokens they manage: their own,
        or a bot's they may manage."""
        manager = await self.manager(identity)
        if bot is None:
            return manager, manager
        return manager, await self._bot(manager, bot)

    async def _bot(self, manager: User, username: str) -> User:
        found = await self.hub.store.get_user_by_name(username)
        if found is None or not found.bot:
            raise ChatError(ErrorCode.not_found, f"no bot {username!r}", field="bot")
        if found.owner_id != manager.id and not roles.is_admin(manager):
            raise roles.forbidden("only the bot's owner or an admin may manage it")
        return found

    # --- tokens --------------------------------------------------------------------

    async def create(
        self, identity: Identity, name: str, scopes: Sequence[str], *, bot: str | None = None
    ) -> tuple[str, Session]:
        """A new API token for the caller (or one of their bots), and its
        secret string: shown once, only its hash is kept."""
        manager, holder = await self.holder(identity, bot)
        name = name.strip()
        if not 1 <= len(name) <= MAX_TOKEN_NAME:
            raise ChatError(
                ErrorCode.invalid_input,
                f"a token's name must be 1-{MAX_TOKEN_NAME} characters",
                field="name",
            )
        granted = check_scopes(scopes)
        if "admin" in granted and not roles.is_admin(holder):
            raise roles.forbidden("only an admin's token may have the admin scope")
        if len(await self._tokens_of(holder)) >= MAX_TOKENS:
            raise ChatError(
                ErrorCode.invalid_input, f"at most {MAX_TOKENS} tokens per account", field="name"
            )
        sid = auth.new_public_id()
        token, key_hash = auth.new_api_token(sid)
        # Never used yet (0): its first use is recorded at once, not a
        # minute after its creation (see accounts.TOUCH_EVERY).
        session = Session(
            sid, holder.id, _now_ms(self.hub), 0, name=name, scopes=granted, key_hash=key_hash
        )
        await self.hub.store.create_session(session)
        await self.hub.admin.audit(
            manager, "token.create", f"@{holder.username}", token=sid, scopes=list(granted)
        )
        return token, session

    async def _tokens_of(self, holder: User) -> list[Session]:
        return [s for s in await self.hub.store.sessions_for(holder.id) if s.is_token]

    async def listed(self, identity: Identity, *, bot: str | None = None) -> list[Session]:
        """The standing tokens of the caller (or their bot), the most recently
        used first."""
        _, holder = await self.holder(identity, bot)
        return await self._tokens_of(holder)

    async def revoke(self, identity: Identity, token_id: str, *, bot: str | None = None) -> None:
        """End a token: refused from now on, its connections closed."""
        manager, holder = await self.holder(identity, bot)
        if all(s.id != token_id for s in await self._tokens_of(holder)):
            raise ChatError(ErrorCode.not_found, "no such token", field="token")
        await self.hub.accounts.end_sessions(holder, only=token_id)
        await self.hub.admin.audit(manager, "token.revoke", f"@{holder.username}", token=token_id)

    # --- bots ------------------------------------------------------------------------

    async def create_bot(self, identity: Identity, username: str, display_name: str = "") -> User:
        """A bot owned by the caller: a member without a password, in no
        channel until it is invited (or joins a public one with a token)."""
        manager = await self.manager(identity)
        auth.check_username(username)
        display = display_name.strip()
        if len(display) > MAX_DISPLAY_NAME:
            raise ChatError(
                ErrorCode.invalid_input,
                f"display name must be at most {MAX_DISPLAY_NAME} characters",
                field="display_name",
            )
        owned = [b for b in await self.hub.store.bots() if b.owner_id == manager.id and b.active]
        if len(owned) >= MAX_BOTS:
            raise ChatError(
                ErrorCode.invalid_input, f"at most {MAX_BOTS} bots per person", field="username"
            )
        try:
            created = await self.hub.store.create_user(
                username, display or username, NO_PASSWORD, "member", bot_owner=manager.id
            )
        except NameTaken:
            raise ChatError(
                ErrorCode.conflict, f"username {username!r} is taken", field="username"
            ) from None
        await self.hub.admin.audit(manager, "bot.create", f"@{username}")
        return created

    async def bots(self, identity: Identity) -> list[User]:
        """The bots the caller manages (an admin: every bot), by username."""
        manager = await self.manager(identity)
        every = await self.hub.store.bots()
        return every if roles.is_admin(manager) else [b for b in every if b.owner_id == manager.id]

    async def set_bot_active(self, identity: Identity, username: str, active: bool) -> User:
        """Deactivate a bot (its tokens end, its connections close) or bring
        it back (its old tokens stay ended)."""
        manager = await self.manager(identity)
        bot = await self._bot(manager, username)
        return await self.hub.admin.apply_active(manager, bot, active)


def token_body(session: Session) -> dict[str, Any]:
    """A token as its lists show it: never the secret (only `create` has it)."""
    return {
        "id": session.id,
        "name": session.name,
        "scopes": list(session.scopes or ()),
        "created_at": session.created_at,
        "last_used_at": session.last_used_at or None,  # None: never used
        "last_address": session.address,
    }


async def bot_bodies(hub: Hub, bots: Sequence[User]) -> list[dict[str, Any]]:
    """Bots as their lists show them, with their owners' usernames (each
    owner read once; None: the owner is gone)."""
    owners: dict[int, str | None] = {}
    for owner_id in {b.owner_id for b in bots if b.owner_id is not None}:
        owner = await hub.store.get_user(owner_id)
        owners[owner_id] = None if owner is None else owner.username
    return [
        {**hub.user_body(b), "owner": None if b.owner_id is None else owners[b.owner_id]}
        for b in bots
    ]
