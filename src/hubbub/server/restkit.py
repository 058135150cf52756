"""What every REST route module shares: the body model, the error kinds a
route documents, and the signed-in user (checked before the body is read)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.responses import Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, BeforeValidator, ConfigDict

from hubbub.core.accounts import Identity, login_required, missing_scope
from hubbub.core.hub import Hub
from hubbub.core.models import Scope, User
from hubbub.protocol.errors import ChatError, ErrorCode


class Body(BaseModel):
    """A JSON request body: fields of exactly the documented types (no "1"
    for 1, no 1 for true), unknown fields ignored."""

    model_config = ConfigDict(extra="ignore", strict=True)


def integral(value: object) -> object:
    # JSON has one kind of number: 5.0 is an integer, as JSON Schema says.
    return int(value) if isinstance(value, float) and value.is_integer() else value


# An integer in a JSON body (strictly: not "5", not true; but 5.0).
JsonInt = Annotated[int, BeforeValidator(integral)]


# What whole kinds of routes can answer, besides their own codes.
E = ErrorCode
# Any route: storage down.
STORE = (E.unavailable,)
# A route that needs a token (checked first: see `AuthFirstRoute`).
SIGNED_IN = (
    E.not_authenticated,
    E.token_invalid,
    E.token_expired,
    E.session_ended,
    E.account_deactivated,
    E.missing_scope,
    *STORE,
)
# A route that reads a JSON body (its size limit: see `bodylimit`).
JSON_BODY = (E.invalid_json, E.invalid_input, E.body_too_large)
# A route with a channel in its path: not found, or not visible to you.
CHANNEL = (E.not_found,)
# ... that needs you in it.
MEMBER = (E.not_found, E.not_a_member)

bearer = HTTPBearer(auto_error=False)


def hub_of(request: Request) -> Hub:
    hub: Hub = request.state.hub
    return hub


HubDep = Annotated[Hub, Depends(hub_of)]


def client_address(request: Request) -> str:
    """The TCP peer, or X-Forwarded-For's when uvicorn trusts the peer
    (`FORWARDED_ALLOW_IPS`; docs/deploy.md)."""
    return request.client.host if request.client else ""


def client_device(request: Request) -> str:
    return request.headers.get("user-agent", "")


def method_scope(method: str) -> Scope:
    """What an API token needs for a request: reading `read`, else `write`."""
    return "read" if method in ("GET", "HEAD") else "write"


async def _authenticate(
    request: Request, hub: Hub, creds: HTTPAuthorizationCredentials | None, scope: Scope
) -> Identity:
    if creds is None:
        raise ChatError(ErrorCode.not_authenticated, "send Authorization: Bearer <token>")
    identity = await hub.authenticate(creds.credentials, address=client_address(request))
    if not identity.allows(scope):
        raise missing_scope(scope)
    return identity


async def current_identity(
    request: Request,
    hub: HubDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Identity:
    """The signed-in user and their session: `AuthFirstRoute` already
    checked the token."""
    identity: Identity | None = getattr(request.state, "identity", None)
    if identity is not None:
        return identity
    return await _authenticate(request, hub, creds, method_scope(request.method))


IdentityDep = Annotated[Identity, Depends(current_identity)]


async def current_login(identity: IdentityDep) -> Identity:
    """The signed-in user's login: what guards the account itself (sessions,
    password, tokens) refuses API tokens, so a leaked one cannot spread."""
    if identity.session.is_token:
        raise login_required()
    return identity


LoginDep = Annotated[Identity, Depends(current_login)]


async def current_user(identity: IdentityDep) -> User:
    return identity.user


UserDep = Annotated[User, Depends(current_user)]


def _needs(dependant: Dependant, call: Callable[..., Any]) -> bool:
    return any(d.call is call or _needs(d, call) for d in dependant.dependencies)


class AuthFirstRoute(APIRoute):
    """A route whose endpoint takes `current_identity` (or `current_user`)
    checks the token before FastAPI reads and parses the body (it reads the
    body before it solves any dependency): without a valid token, 401
    whatever the body, and unread. An API token needs the route's scope
    (`scope_for`)."""

    def scope_for(self, method: str) -> Scope:
        return method_scope(method)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if not _needs(self.dependant, current_identity):
            return handler

        async def authenticated(request: Request) -> Response:
            creds = await bearer(request)
            scope = self.scope_for(request.method)
            request.state.identity = await _authenticate(request, hub_of(request), creds, scope)
            return await handler(request)

        return authenticated


class AdminRoute(AuthFirstRoute):
    """An admin route: an API token needs the `admin` scope, whatever the
    method (the role is checked too, by the core)."""

    def scope_for(self, method: str) -> Scope:
        return "admin"


def user_out(hub: Hub, user: User) -> dict[str, Any]:
    return hub.user_body(user)
