"""Sessions, invites and one's own account: what `Hub.register` and
`Hub.login` start, and what a user changes about themselves.

Every token names a session (`auth.Claims.session_id`). A session is checked
against the store when a connection opens and on REST requests, through a
cache that keeps an answer for at most `SESSION_CACHE` seconds, so a session
ended on any node is refused everywhere within that time without a query per
request. Open connections of an ended session are closed through the user's
own topic (`session_ended`, `account_deactivated`): no query per frame.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import TYPE_CHECKING, Any

from hubbub.core import auth, events, reactions, roles
from hubbub.core.models import Invite, Role, Scope, Session, Status, User
from hubbub.protocol.errors import ChatError, ErrorCode
from hubbub.protocol.rules import MAX_DISPLAY_NAME, MAX_STATUS_TEXT

if TYPE_CHECKING:
    from hubbub.core.hub import Hub

# How long a node trusts what it read of a session (and its user): the most
# a revocation, deactivation or role change takes to reach every node's REST.
SESSION_CACHE = 0.5
_MAX_CACHED = 50_000
# A session's `last_used_at` is written at most this often (ms): a REST
# client polling every second must not cost a write per request.
TOUCH_EVERY = 60_000
MAX_DEVICE = 200
MAX_INVITE_USES = 10_000
MAX_INVITE_DAYS = 90
MAX_INVITE_CHANNELS = 20


@dataclasses.dataclass(frozen=True, slots=True)
class Identity:
    """Who a token stands for: the account and the session it is in."""

    user: User
    session: Session

    def allows(self, scope: Scope) -> bool:
        """A login may do what its role allows; an API token, what its scopes
        say besides."""
        scopes = self.session.scopes
        return scopes is None or scope in scopes


def _now_ms(hub: Hub) -> int:
    return int(hub.clock() * 1000)


def session_ended() -> ChatError:
    return ChatError(ErrorCode.session_ended, "this session was ended: log in again")


def deactivated() -> ChatError:
    return ChatError(ErrorCode.account_deactivated, "this account was deactivated")


def missing_scope(scope: Scope) -> ChatError:
    return ChatError(ErrorCode.missing_scope, f"this API token lacks the {scope!r} scope")


def login_required() -> ChatError:
    return ChatError(ErrorCode.missing_scope, "this needs a login, not an API token")


class Accounts:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._cache: dict[str, tuple[float, Identity]] = {}

    # --- sessions --------------------------------------------------------------

    async def start_session(self, user: User, *, address: str, device: str) -> tuple[str, Session]:
        """A new session for `user`, and its token."""
        now = _now_ms(self.hub)
        session = Session(
            auth.new_public_id(), user.id, now, now, device[:MAX_DEVICE], address[:64]
        )
        await self.hub.store.create_session(session)
        token = auth.issue_token(
            self.hub.secret, user.id, user.username, session.id, self.hub.limits.token_ttl
        )
        return token, session

    async def identify(self, claims: auth.Claims, *, address: str = "") -> Identity:
        """The account and session a valid token's claims name, if the session
        stands and the account is active; else the ChatError that says why."""
        mono = time.monotonic()
        cached = self._cache.get(claims.session_id)
        if cached is not None and cached[0] > mono:
            identity = cached[1]
        else:
            identity = await self._read(claims)
            if len(self._cache) >= _MAX_CACHED:
                self._cache.clear()
            self._cache[claims.session_id] = (mono + SESSION_CACHE, identity)
        _check_claims(identity.session, claims)
        now = _now_ms(self.hub)
        if now - identity.session.last_used_at >= TOUCH_EVERY:
            await self.hub.store.touch_session(identity.session.id, now, address[:64])
            touched = dataclasses.replace(identity.session, last_used_at=now)
            identity = Identity(identity.user, touched)
            self._cache[claims.session_id] = (mono + SESSION_CACHE, identity)
        return identity

    async def _read(self, claims: auth.Claims) -> Identity:
        found = await self.hub.store.session_and_user(claims.session_id)
        if found is None:
            raise session_ended()
        session, user = found
        _check_claims(session, claims)
        if user is None:  # a token from another database
            raise ChatError(ErrorCode.token_invalid, "invalid token")
        # Deactivating ends the sessions too: say the reason that lasts.
        if not user.active:
            raise deactivated()
        if session.ended_at is not None:
            raise session_ended()
        return Identity(user, session)

    async def recheck(self, claims: auth.Claims) -> None:
        """Raise unless the session stands, as the store says now (no cache):
        for a connection that just began to follow its user's topic, whose
        `session_ended` may have been published just before it listened."""
        identity = await self._read(claims)
        self._cache[claims.session_id] = (time.monotonic() + SESSION_CACHE, identity)

    def forget(self, session_ids: list[str] | None = None) -> None:
        """Drop cached answers (this node's; the others' expire by themselves)."""
        if session_ids is None:
            self._cache.clear()
        for sid in session_ids or ():
            self._cache.pop(sid, None)

    def forget_user(self, user_id: int) -> None:
        """Drop the cached answers of a user's sessions: what this node shows
        of them (`/api/me`, their role) is what they just changed."""
        for sid in [sid for sid, (_, i) in self._cache.items() if i.user.id == user_id]:
            del self._cache[sid]

    async def sessions(self, user: User) -> list[Session]:
        """The user's logins that stand, the most recently used first (API
        tokens are listed with `Tokens.listed`)."""
        oldest = _now_ms(self.hub) - int(self.hub.limits.token_ttl * 1000)
        return [
            s
            for s in await self.hub.store.sessions_for(user.id)
            if not s.is_token and s.created_at > oldest
        ]

    async def end_sessions(
        self,
        user: User,
        *,
        only: str | None = None,
        keep: str | None = None,
        logins_only: bool = False,
    ) -> list[str]:
        """End sessions of `user` (see Store.end_sessions) and close their
        connections on every node."""
        ended = await self.hub.store.end_sessions(
            user.id, _now_ms(self.hub), only=only, keep=keep, logins_only=logins_only
        )
        self.forget(ended)
        if ended:
            await self.hub.publish(
                events.user_topic(user.id),
                {"type": "session_ended", "sessions": ended},
                ref=events.sessions_ref(ended),
            )
        return ended

    async def end_session(self, user: User, session_id: str) -> None:
        """End one login (`Tokens.revoke` ends API tokens)."""
        if not await self.end_sessions(user, only=session_id, logins_only=True):
            raise ChatError(ErrorCode.not_found, "no such session", field="session")

    # --- one's own account -------------------------------------------------------

    async def change_password(
        self, identity: Identity, current: str, new: str, *, address: str = ""
    ) -> None:
        """Needs the current password (throttled as a login is); ends every
        other login of the account (its API tokens stand: they are not
        derived from the password)."""
        user = identity.user
        auth.check_password(new)
        await self.hub.check_password(user.username, current, address=address)
        hashed = await asyncio.to_thread(auth.hash_password, new)
        await self.hub.store.update_password_hash(user.id, hashed)
        await self.end_sessions(user, keep=identity.session.id, logins_only=True)

    async def update_profile(
        self,
        user: User,
        *,
        display_name: str | None = None,
        status: Status | None = None,
    ) -> User:
        if display_name is not None:
            display_name = display_name.strip()
            if not display_name or len(display_name) > MAX_DISPLAY_NAME:
                raise ChatError(
                    ErrorCode.invalid_input,
                    f"display name must be 1-{MAX_DISPLAY_NAME} characters",
                    field="display_name",
                )
        if status is not None:
            status = check_status(status, _now_ms(self.hub))
        updated = await self.hub.store.update_profile(
            user.id, display_name=display_name, status=status
        )
        if updated is None:
            raise ChatError(ErrorCode.not_found, "no such user")
        await self.hub.user_changed(updated)
        return updated

    # --- invites -------------------------------------------------------------------

    async def create_invite(
        self,
        user: User,
        *,
        max_uses: int = 1,
        expires_in: float = 7 * 86400,
        role: Role = "member",
        channels: tuple[str, ...] = (),
    ) -> tuple[str, Invite]:
        """A new invite and its code (shown once: only its hash is kept).
        Admins invite anyone; members only where `members_may_invite`, and
        only as members or guests."""
        fresh = await self.hub.fresh(user)
        if not roles.is_admin(fresh) and not (
            self.hub.members_may_invite and fresh.role == "member"
        ):
            raise roles.forbidden("only admins may invite people here")
        if role not in ("member", "guest") and not roles.may_grant(fresh, role):
            raise roles.forbidden(f"only owners may invite {role}s")
        if not 1 <= max_uses <= MAX_INVITE_USES:
            raise ChatError(
                ErrorCode.invalid_input, f"max_uses must be 1-{MAX_INVITE_USES}", field="max_uses"
            )
        if not 60 <= expires_in <= MAX_INVITE_DAYS * 86400:
            raise ChatError(
                ErrorCode.invalid_input,
                f"expires_in must be 60 s to {MAX_INVITE_DAYS} days",
                field="expires_in",
            )
        if len(channels) > MAX_INVITE_CHANNELS:
            raise ChatError(
                ErrorCode.invalid_input,
                f"at most {MAX_INVITE_CHANNELS} channels",
                field="channels",
            )
        for name in channels:  # the inviter must be able to see each one
            await self.hub.member_channel(fresh, name)
        code = auth.new_invite_code()
        now = _now_ms(self.hub)
        invite = Invite(
            auth.new_public_id()[:12],
            auth.code_hash(code),
            user.id,
            now,
            now + int(expires_in * 1000),
            max_uses,
            0,
            role,
            tuple(dict.fromkeys(channels)),
        )
        await self.hub.store.create_invite(invite)
        await self.hub.admin.audit(
            fresh, "invite.create", f"invite {invite.id}", role=role, max_uses=max_uses
        )
        return code, invite

    async def invites(self, user: User) -> list[Invite]:
        roles.require_admin(await self.hub.fresh(user))
        return await self.hub.store.invites()

    async def revoke_invite(self, user: User, invite_id: str) -> None:
        fresh = await self.hub.fresh(user)
        roles.require_admin(fresh)
        if not await self.hub.store.revoke_invite(invite_id):
            raise ChatError(ErrorCode.not_found, "no such invite", field="invite")
        await self.hub.admin.audit(fresh, "invite.revoke", f"invite {invite_id}")


def _check_claims(session: Session, claims: auth.Claims) -> None:
    """An API token must carry its session's secret; other claims (a JWT's,
    or a connection's that was checked when it opened) must name the
    session's user."""
    if claims.key is not None:
        if not auth.key_matches(session.key_hash, claims.key):
            raise ChatError(ErrorCode.token_invalid, "invalid token")
    elif session.user_id != claims.user_id:
        raise session_ended()


def check_status(status: Status, now: int) -> Status:
    if len(status.text) > MAX_STATUS_TEXT:
        raise ChatError(
            ErrorCode.invalid_input,
            f"status text is over {MAX_STATUS_TEXT} characters",
            field="status",
        )
    if status.emoji:  # one emoji, stored as Unicode (`:coffee:` becomes ☕)
        try:
            status = dataclasses.replace(status, emoji=reactions.normalize(status.emoji))
        except ChatError:
            raise ChatError(
                ErrorCode.invalid_input, "status emoji is not an emoji", field="status"
            ) from None
    del now  # an `until` already past is taken: the status shows as none
    return status


def status_now(status: Status, now: int) -> Status | None:
    """The status as shown at `now` (None: none, or it expired)."""
    if not (status.emoji or status.text):
        return None
    if status.until is not None and status.until <= now:
        return None
    return status


def user_body(user: User, now: int) -> dict[str, Any]:
    """A user as everyone sees them: name, role, a status that has not
    expired, and whether the account was deactivated."""
    body: dict[str, Any] = {
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
    }
    if not user.active:
        body["deactivated"] = True
    if user.bot:
        body["bot"] = True
    status = status_now(user.status, now)
    if status is not None:
        body["custom_status"] = {"emoji": status.emoji, "text": status.text, "until": status.until}
    return body


def session_body(session: Session, current: str) -> dict[str, Any]:
    return {
        "id": session.id,
        "device": session.device,
        "address": session.address,
        "created_at": session.created_at,
        "last_used_at": session.last_used_at,
        "current": session.id == current,
    }


def invite_body(invite: Invite, now: int) -> dict[str, Any]:
    state = "active"
    if invite.revoked:
        state = "revoked"
    elif invite.uses >= invite.max_uses:
        state = "used_up"
    elif invite.expires_at <= now:
        state = "expired"
    return {
        "id": invite.id,
        "role": invite.role,
        "channels": list(invite.channels),
        "max_uses": invite.max_uses,
        "uses": invite.uses,
        "created_at": invite.created_at,
        "expires_at": invite.expires_at,
        "state": state,
    }
