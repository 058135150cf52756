"""Passwords (argon2id) and tokens (JWT, HS256 pinned, `exp` required)."""

from __future__ import annotations

import re
import time

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


def issue_token(secret: str, user_id: int, username: str, ttl: float) -> str:
    now = int(time.time())
    claims = {"sub": str(user_id), "name": username, "iat": now, "exp": now + int(ttl)}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def read_token(secret: str, token: str) -> int:
    """Return the user id in a valid token, or raise ChatError."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]}
        )
        return int(claims["sub"])
    except jwt.ExpiredSignatureError:
        raise ChatError(ErrorCode.token_expired, "token expired: log in again") from None
    except (jwt.InvalidTokenError, ValueError, TypeError):
        raise ChatError(ErrorCode.token_invalid, "invalid token") from None
