from __future__ import annotations

import jwt
import pytest

from hubbub.core import auth
from hubbub.protocol.errors import ChatError, ErrorCode

SECRET = "a test secret that is long enough for HS512 use, 64 bytes long!!"
assert len(SECRET.encode()) == 64  # below that, PyJWT warns for HS512


def test_password_hash_is_argon2id_and_verifies() -> None:
    h = auth.hash_password("correct horse")
    assert h.startswith("$argon2id$")
    assert auth.verify_password(h, "correct horse")
    assert not auth.verify_password(h, "wrong horse")
    assert not auth.verify_password("not a hash", "x")


def test_token_roundtrip_and_failures() -> None:
    token = auth.issue_token(SECRET, 7, "ann", "s1", ttl=60)
    assert auth.read_token(SECRET, token) == auth.Claims(7, "s1")
    with pytest.raises(ChatError) as e:
        auth.read_token("another secret of thirty-two bytes!", token)
    assert e.value.code is ErrorCode.token_invalid
    with pytest.raises(ChatError) as e:
        auth.read_token(SECRET, auth.issue_token(SECRET, 7, "ann", "s1", ttl=-10))
    assert e.value.code is ErrorCode.token_expired


def test_algorithm_is_pinned_and_exp_required() -> None:
    none_alg = jwt.encode({"sub": "7", "sid": "s", "exp": 2**40}, None, algorithm="none")
    no_exp = jwt.encode({"sub": "7", "sid": "s"}, SECRET, algorithm="HS256")
    other_alg = jwt.encode({"sub": "7", "sid": "s", "exp": 2**40}, SECRET, algorithm="HS512")
    # A token from before sessions: valid once, it names no session to check.
    no_sid = jwt.encode({"sub": "7", "exp": 2**40}, SECRET, algorithm="HS256")
    empty_sid = jwt.encode({"sub": "7", "sid": "", "exp": 2**40}, SECRET, algorithm="HS256")
    for token in (none_alg, no_exp, other_alg, no_sid, empty_sid, "garbage"):
        with pytest.raises(ChatError) as e:
            auth.read_token(SECRET, token)
        assert e.value.code is ErrorCode.token_invalid


@pytest.mark.parametrize("name", ["a", "Ann", "-ann", "ann smith", "x" * 33, "ann\n"])
def test_bad_usernames(name: str) -> None:
    with pytest.raises(ChatError) as e:
        auth.check_username(name)
    assert e.value.code is ErrorCode.invalid_name


@pytest.mark.parametrize("name", ["here", "channel", "everyone"])
def test_the_names_that_mention_everyone_are_taken(name: str) -> None:
    with pytest.raises(ChatError) as e:
        auth.check_username(name)
    assert e.value.code is ErrorCode.conflict  # as a taken name is
    for longer in (f"{name}s", f"{name}.b", f"my{name}"):
        assert auth.check_username(longer) == longer


def test_password_length() -> None:
    auth.check_password("12345678")
    for pw in ("1234567", "x" * 257):
        with pytest.raises(ChatError) as e:
            auth.check_password(pw)
        assert e.value.code is ErrorCode.weak_password


def test_public_ids_never_look_like_an_option() -> None:
    # One in 64 random url-safe tokens starts with `-`, which `hubbub
    # download ID` took for an option; 2,000 ids all but surely include such
    # a start if the generator allowed it (1 - (63/64)**2000 > 0.99999999).
    ids = {auth.new_public_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert not any(i.startswith("-") for i in ids)
    assert all(len(i) == 24 and i.replace("-", "").replace("_", "").isalnum() for i in ids)
