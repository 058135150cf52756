"""Running a workspace: roles, deactivation, what admins do to channels, and
the audit log every such action is written to (who, what, when).

Each action re-reads the actor (`Hub.fresh`): a role is checked as it is
now, not as it was when a connection opened.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import orjson

from hubbub.core import auth, events, roles
from hubbub.core.checks import archived, check_channel_name
from hubbub.core.models import ROLES, AuditEntry, Channel, Role, User
from hubbub.core.ports import NameTaken
from hubbub.protocol.errors import ChatError, ErrorCode
from hubbub.protocol.rules import MAX_DISPLAY_NAME, MAX_PURPOSE

if TYPE_CHECKING:
    from hubbub.core.hub import Hub

MAX_AUDIT_PAGE = 200


def last_owner() -> ChatError:
    return ChatError(
        ErrorCode.last_owner, "the workspace needs an active owner: promote another one first"
    )


class Admin:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    # --- the audit log ---------------------------------------------------------

    async def audit(self, actor: User | None, action: str, target: str, **detail: Any) -> None:
        """Record an administrative action (`actor` None: the operator, on the
        database through `hubbub admin`)."""
        await self.hub.store.add_audit(
            int(self.hub.clock() * 1000),
            actor.username if actor else "",
            action,
            target,
            orjson.dumps(detail).decode(),
        )

    async def audit_log(
        self, user: User, *, before: int | None = None, limit: int = 50
    ) -> list[AuditEntry]:
        roles.require_admin(await self.hub.fresh(user))
        return await self.hub.store.audit_log(before, max(1, min(limit, MAX_AUDIT_PAGE)))

    # --- people ------------------------------------------------------------------

    async def _target(self, actor: User | None, username: str) -> tuple[User | None, User]:
        """The acting admin as they are now (None: the operator) and the user
        they act on, if the actor may manage them."""
        fresh = None if actor is None else await self.hub.fresh(actor)
        if fresh is not None:
            roles.require_admin(fresh)
        target = await self.hub.user_by_name(username)
        if fresh is not None and not roles.may_manage(fresh, target):
            raise roles.forbidden(f"only owners may change {target.role}s")
        return fresh, target

    async def _keeps_an_owner(self, target: User) -> None:
        if target.role == "owner" and target.active:
            owners = await self.hub.store.users_with_role("owner")
            if all(o.id == target.id for o in owners):
                raise last_owner()

    async def set_role(self, actor: User | None, username: str, role: str) -> User:
        if role not in ROLES:
            raise ChatError(
                ErrorCode.invalid_input, f"role must be one of {', '.join(ROLES)}", field="role"
            )
        new: Role = role
        fresh, target = await self._target(actor, username)
        if fresh is not None and not roles.may_grant(fresh, new):
            raise roles.forbidden(f"only owners may make {new}s")
        if target.role == new:
            return target
        if new != "owner":
            await self._keeps_an_owner(target)
        await self.hub.store.set_role(target.id, new)
        await self.audit(fresh, "user.role", f"@{target.username}", old=target.role, new=new)
        updated = await self.hub.user_by_name(username)
        await self.hub.user_changed(updated)
        return updated

    async def set_active(self, actor: User | None, username: str, active: bool) -> User:
        """Deactivate (or reactivate) an account. Deactivating ends its
        sessions and closes its connections on every node (close code
        `account_deactivated`); its messages stay."""
        fresh, target = await self._target(actor, username)
        if fresh is not None and fresh.id == target.id and not active:
            raise roles.forbidden("you cannot deactivate yourself")
        return await self.apply_active(fresh, target, active)

    async def apply_active(self, fresh: User | None, target: User, active: bool) -> User:
        """`set_active` once the actor was checked (a bot's owner is, by
        `Tokens`)."""
        if target.active == active:
            return target
        if not active:
            await self._keeps_an_owner(target)
        await self.hub.store.set_active(target.id, active)
        self.hub.accounts.forget()
        if not active:
            await self.hub.publish(
                events.user_topic(target.id),
                {"type": "account_deactivated"},
                ref=events.ALL_SESSIONS,
            )
        await self.audit(
            fresh, "user.activate" if active else "user.deactivate", f"@{target.username}"
        )
        updated = await self.hub.user_by_name(target.username)
        await self.hub.user_changed(updated)
        return updated

    async def create_user(
        self, username: str, password: str, display_name: str = "", role: Role = "member"
    ) -> User:
        """The operator's (`hubbub admin create-user`): an account, whatever
        `registration` says, in the default channels (a guest's: none)."""
        auth.check_username(username)
        auth.check_password(password)
        hashed = await asyncio.to_thread(auth.hash_password, password)
        display = display_name.strip()[:MAX_DISPLAY_NAME] or username
        try:
            user = await self.hub.store.create_user(username, display, hashed, role)
        except NameTaken:
            raise ChatError(ErrorCode.conflict, f"username {username!r} is taken") from None
        await self.hub.join_new(user, ())
        await self.audit(None, "user.create", f"@{username}", role=role)
        return user

    async def reset_password(self, username: str, password: str) -> None:
        """The operator's (`hubbub admin reset-password`): a new password, and
        every session of the account ended."""
        auth.check_password(password)
        target = await self.hub.user_by_name(username)
        hashed = await asyncio.to_thread(auth.hash_password, password)
        await self.hub.store.update_password_hash(target.id, hashed)
        await self.hub.accounts.end_sessions(target)
        await self.audit(None, "user.password", f"@{target.username}")

    # --- channels ----------------------------------------------------------------

    def check_purpose(self, purpose: str) -> str:
        if len(purpose) > MAX_PURPOSE:
            raise ChatError(
                ErrorCode.invalid_input,
                f"purpose is over {MAX_PURPOSE} characters",
                field="purpose",
            )
        return purpose

    async def _manageable(self, user: User, name: str) -> tuple[User, Channel]:
        """The channel, if `user` is its admin or a workspace admin."""
        fresh = await self.hub.fresh(user)
        channel, membership = await self.hub.channel_for(fresh, name)
        if channel.kind == "dm":
            raise roles.forbidden("a DM has no admins")
        if not roles.is_admin(fresh) and not (membership is not None and membership.admin):
            raise roles.forbidden(f"only #{channel.name}'s admins or workspace admins may")
        return fresh, channel

    async def rename_channel(self, user: User, name: str, new_name: str) -> Channel:
        """A new name; the old one stays the channel's (an alias), so links,
        subscriptions and clients holding it keep working."""
        check_channel_name(new_name)
        fresh, channel = await self._manageable(user, name)
        if new_name == channel.name:
            return channel
        try:
            renamed = await self.hub.store.rename_channel(channel.id, new_name)
        except NameTaken:
            raise ChatError(
                ErrorCode.conflict, f"channel name {new_name!r} is taken", field="name"
            ) from None
        await self.audit(fresh, "channel.rename", f"#{new_name}", old=channel.name)
        return await self.hub.channel_updated(renamed, renamed_from=channel.name)

    async def set_archived(self, user: User, name: str, archived: bool) -> Channel:
        fresh, channel = await self._manageable(user, name)
        if channel.archived == archived:
            return channel
        await self.hub.store.update_channel(channel.id, archived=archived)
        await self.audit(
            fresh, "channel.archive" if archived else "channel.unarchive", f"#{channel.name}"
        )
        return await self.hub.channel_updated(channel)

    async def set_purpose(self, user: User, name: str, purpose: str) -> Channel:
        """Any member may, as the topic."""
        channel = (await self.hub.member_channel(user, name)).channel
        if channel.archived:
            raise archived(channel)
        await self.hub.store.update_channel(channel.id, purpose=self.check_purpose(purpose))
        return await self.hub.channel_updated(channel)

    async def set_default(self, user: User, name: str, default: bool) -> Channel:
        """Whether new accounts join it (workspace admins; public channels)."""
        fresh = await self.hub.fresh(user)
        roles.require_admin(fresh)
        channel, _ = await self.hub.channel_for(fresh, name)
        if channel.kind != "public":
            raise ChatError(
                ErrorCode.invalid_input, "only public channels can be default", field="default"
            )
        if channel.default == default:
            return channel
        await self.hub.store.update_channel(channel.id, default=default)
        await self.audit(fresh, "channel.default", f"#{channel.name}", default=default)
        return await self.hub.channel_updated(channel)

    async def remove_member(self, user: User, name: str, username: str) -> Channel:
        """Take someone out of a channel (its admins, workspace admins)."""
        fresh, channel = await self._manageable(user, name)
        target = await self.hub.user_by_name(username)
        if target.id == fresh.id:
            return await self.hub.leave(fresh, name)
        if not await self.hub.store.remove_member(channel.id, target.id):
            raise ChatError(
                ErrorCode.not_a_member, f"{username} is not in #{channel.name}", field="username"
            )
        self.hub.forget_member(channel, target)
        channel = await self.hub.store.get_channel_by_id(channel.id) or channel
        await self.hub.membership_changed(channel, target, joined=False)
        await self.audit(fresh, "channel.remove", f"#{channel.name}", user=target.username)
        return channel
