"""The two deployments of the one WebSocket protocol as interchangeable
drivers: `hubbub serve` and `hubbub aws-local` (the Lambda handlers against
DynamoDB from moto). A `Driver` does the setup the protocol itself cannot do,
accounts and channel membership: REST on the server, the DynamoDB store on
aws, which has no REST API."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import secrets
import time
from typing import Any

import httpx

from aws_support import AwsLocal
from hubbub.core.models import Session
from support import Server, register

# The same limits on both, so `hello` is the same frame on both. No rate limit
# in the way (as tests/conftest.py's TEST_LIMITS); the rest are the defaults.
LIMITS = "messages_per_second=1000,message_burst=1000"
PASSWORD = "correct horse"
TOKEN_TTL = 3600  # seconds; the tokens the aws driver issues itself

_names = itertools.count(1)


def unique(base: str) -> str:
    """A user or channel name no other test of this run uses (both match
    their patterns: lowercase, digits and '-', short)."""
    return f"{base}-{next(_names)}"


@dataclasses.dataclass(frozen=True)
class Account:
    name: str
    token: str
    role: str = "member"  # the first account of a server is its owner


class Driver:
    """One deployment, as a test sees it."""

    name: str
    ws_url: str

    async def account(self, base: str) -> Account:
        """A new user (display name = username) and a valid token for it."""
        raise NotImplementedError

    async def channel(self, base: str, *members: Account) -> str:
        """A new public channel with exactly `members` in it; its name."""
        raise NotImplementedError

    async def private_channel(self, base: str, *members: Account) -> str:
        """A new private channel with exactly `members` in it; its name."""
        raise NotImplementedError

    async def dm(self, a: Account, b: Account) -> str:
        """The DM of `a` and `b`; its name."""
        raise NotImplementedError


class ServerDriver(Driver):
    name = "server"

    def __init__(self, server: Server, http: httpx.AsyncClient) -> None:
        self.ws_url = server.ws_url
        self.http = http

    async def account(self, base: str) -> Account:
        name = unique(base)
        token = await register(self.http, name, PASSWORD)
        me = await self.http.get("/api/me", headers=_bearer(token))
        return Account(name, token, me.json()["role"])

    async def channel(self, base: str, *members: Account) -> str:
        name = unique(base)
        creator, *others = members
        r = await self.http.post(
            "/api/channels", json={"name": name}, headers=_bearer(creator.token)
        )
        assert r.status_code == 201, r.text
        for m in others:
            r = await self.http.post(f"/api/channels/{name}/join", headers=_bearer(m.token))
            assert r.status_code == 200, r.text
        return name

    async def private_channel(self, base: str, *members: Account) -> str:
        name = unique(base)
        creator, *others = members
        r = await self.http.post(
            "/api/channels", json={"name": name, "private": True}, headers=_bearer(creator.token)
        )
        assert r.status_code == 201, r.text
        for m in others:
            r = await self.http.post(
                f"/api/channels/{name}/invite",
                json={"username": m.name},
                headers=_bearer(creator.token),
            )
            assert r.status_code == 200, r.text
        return name

    async def dm(self, a: Account, b: Account) -> str:
        r = await self.http.post("/api/dms", json={"usernames": [b.name]}, headers=_bearer(a.token))
        assert r.status_code == 200, r.text
        return str(r.json()["name"])


class AwsDriver(Driver):
    """aws-local has no REST API: users and channels are written to its
    DynamoDB tables directly, and tokens are signed with the JWT secret the
    handlers keep in the meta table (created here if no handler ran yet: the
    handlers then read this one)."""

    name = "aws"

    def __init__(self, aws: AwsLocal, store: Any) -> None:
        self.ws_url = aws.ws_url
        self.store = store
        self.ids: dict[str, int] = {}

    async def account(self, base: str) -> Account:
        from hubbub.core import auth

        name = unique(base)
        hashed = await asyncio.to_thread(auth.hash_password, PASSWORD)
        user = await self.store.create_user(name, name, hashed)
        self.ids[name] = user.id
        secret = await self.store.get_or_set_meta("jwt_secret", secrets.token_urlsafe(48))
        now = int(time.time() * 1000)
        session = Session(auth.new_public_id(), user.id, now, now)
        await self.store.create_session(session)
        return Account(name, auth.issue_token(secret, user.id, name, session.id, TOKEN_TTL))

    async def channel(self, base: str, *members: Account) -> str:
        name = unique(base)
        await self.store.create_channel(name, "public", "", [self.ids[m.name] for m in members])
        return name

    async def private_channel(self, base: str, *members: Account) -> str:
        name = unique(base)
        await self.store.create_channel(name, "private", "", [self.ids[m.name] for m in members])
        return name

    async def dm(self, a: Account, b: Account) -> str:
        name = "dm:" + ",".join(sorted([a.name, b.name]))
        await self.store.create_channel(name, "dm", "", [self.ids[a.name], self.ids[b.name]])
        return name


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
