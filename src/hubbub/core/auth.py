"""Passwords (argon2id) and tokens. A login's token is a JWT (HS256 pinned,
`exp` and `sid` required: every token names the session it belongs to, which
can be ended); an API token is `hbt.<session id>.<secret>`, of which the
store keeps only the secret's SHA-256 (it does not expire: it is revoked)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from typing import NamedTuple

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from hubbub.core.mentions import BROADCAST
from hubbub.protocol.errors import ChatError, ErrorCode

ALGORITHM = "HS256"
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,31}$")
# `@here`, `@channel` and `@everyone` mention everyone in a channel: no one's name.
RESERVED_USERNAMES = frozenset(BROADCAST)
MIN_PASSWORD, MAX_PASSWORD = 8, 256

_hasher = PasswordHasher()  # argon2id with RFC 9106's low-memory profile


def check_username(username: str) -> str:
    if not USERNAME_RE.fullmatch(username):
        raise ChatError(
            ErrorCode.invalid_name,
            "username must be 2-32 characters: lowercase letters, digits, '_', '.', '-'",
            field="username",
        )
    if username in RESERVED_USERNAMES:
        raise ChatError(ErrorCode.conflict, f"username {username!r} is taken", field="username")
    return username


def check_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise ChatError(
            ErrorCode.weak_password,
            f"password must be {MIN_PASSWORD}-{MAX_PASSWORD} characters",
            field="password",
        )
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


# A real hash to verify against when the account does not exist, so a login for
# an unknown name costs the same time as a wrong password (no user enumeration).
DUMMY_HASH = _hasher.hash("not a password of anyone")


class Claims(NamedTuple):
    """What a token says before the store is asked: the session it names,
    and whose (a JWT's `sub`; 0 for an API token, whose session says). `key`
    is an API token's secret, to check against the session's hash; None for
    a JWT, whose signature already proved it."""

    user_id: int
    session_id: str
    key: str | None = None


API_TOKEN_PREFIX = "hbt."


def new_api_token(session_id: str) -> tuple[str, str]:
    """A new API token for a session, and the hash the store keeps of it."""
    key = secrets.token_urlsafe(32)
    return f"{API_TOKEN_PREFIX}{session_id}.{key}", key_hash(key)


def key_hash(key: str) -> str:
    # SHA-256, not argon2: the secret is 256 random bits, not a password,
    # and it is checked on every request.
    return hashlib.sha256(key.encode()).hexdigest()


def key_matches(stored_hash: str, key: str) -> bool:
    return bool(stored_hash) and hmac.compare_digest(stored_hash, key_hash(key))


def _read_api_token(token: str) -> Claims:
    sid, dot, key = token[len(API_TOKEN_PREFIX) :].partition(".")
    if not (sid and dot and key) or len(sid) > 64 or len(key) > 128:
        raise ChatError(ErrorCode.token_invalid, "invalid token")
    return Claims(0, sid, key)


def new_public_id() -> str:
    """A random id that people may type (a session's, as `token revoke`
    takes it; a file's, as `download` does): 24 characters of
    [A-Za-z0-9_-], never starting with `-`, which a command line would take
    for an option."""
    while (new := secrets.token_urlsafe(18)).startswith("-"):
        pass
    return new


def issue_token(secret: str, user_id: int, username: str, session_id: str, ttl: float) -> str:
    now = int(time.time())
    claims = {
        "sub": str(user_id),
        "sid": session_id,
        "name": username,
        "iat": now,
        "exp": now + int(ttl),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def read_token(secret: str, token: str) -> Claims:
    """The claims of a token whose signature and expiry are good (no I/O:
    whether its session still stands is the store's), or raise ChatError. A
    token without a session (from before sessions existed) is invalid."""
    if token.startswith(API_TOKEN_PREFIX):
        return _read_api_token(token)
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub", "sid"]}
        )
        sid = claims["sid"]
        if not isinstance(sid, str) or not sid:
            raise ValueError("sid")
        return Claims(int(claims["sub"]), sid)
    except jwt.ExpiredSignatureError:
        raise ChatError(ErrorCode.token_expired, "token expired: log in again") from None
    except (jwt.InvalidTokenError, ValueError, TypeError):
        raise ChatError(ErrorCode.token_invalid, "invalid token") from None


def new_invite_code() -> str:
    return secrets.token_urlsafe(24)


def code_hash(code: str) -> str:
    """What is stored of an invite code: a leaked database holds no usable invite."""
    return hashlib.sha256(code.encode()).hexdigest()
