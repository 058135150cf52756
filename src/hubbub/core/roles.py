"""Who may do what in a workspace, by role (models.Role): pure rules, no I/O.

Owners run the workspace (and alone make or unmake owners); admins manage
people, channels and invites; members use it; guests see only the channels
they were invited to and cannot join, browse or create others.
"""

from __future__ import annotations

from hubbub.core.models import Role, User
from hubbub.protocol.errors import ChatError, ErrorCode

RANK: dict[Role, int] = {"owner": 3, "admin": 2, "member": 1, "guest": 0}


def forbidden(message: str) -> ChatError:
    return ChatError(ErrorCode.forbidden, message)


def is_admin(user: User) -> bool:
    return user.role in ("owner", "admin")


def require_admin(user: User) -> None:
    if not is_admin(user):
        raise forbidden("only workspace admins may do this")


def require_not_guest(user: User, what: str) -> None:
    if user.role == "guest":
        raise forbidden(f"guests may not {what}")


def may_manage(actor: User, target: User) -> bool:
    """Whether `actor` may change `target`'s role or deactivate them: owners
    manage anyone; admins manage members and guests (not owners, nor other
    admins); nobody else anyone."""
    if actor.role == "owner":
        return True
    return actor.role == "admin" and RANK[target.role] < RANK["admin"]


def may_grant(actor: User, role: Role) -> bool:
    """Only owners make owners or admins."""
    return actor.role == "owner" or (is_admin(actor) and RANK[role] < RANK["admin"])
