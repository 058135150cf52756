"""The login and registration throttles, from outside (issue #19): failed
logins count per client address and account, so a stranger's failures cannot
lock the owner out from elsewhere; registration is throttled per address.

The client address is varied on loopback: 127.0.0.2 and 127.0.0.3 are both
loopback on Linux, and neither is one uvicorn trusts for X-Forwarded-For."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from support import WAIT, Server

PASSWORD = "correct horse"
STRANGER, OWNER, ELSEWHERE = "127.0.0.2", "127.0.0.3", "127.0.0.4"
LOGIN, REGISTER = "/api/auth/login", "/api/auth/register"


def client_at(server: Server, address: str) -> httpx.AsyncClient:
    """An HTTP client whose connections come from `address`."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=server.url, timeout=WAIT, transport=transport)


def error_of(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    err: dict[str, Any] = r.json()["error"]
    assert err["code"] == code, err
    return err


def throttled(r: httpx.Response, code: str, window: float) -> None:
    err = error_of(r, 429, code)
    assert 0 < err["retry_after"] <= window, err
    assert 1 <= int(r.headers["retry-after"]) <= window
    assert "token" not in r.json()


async def test_a_strangers_failures_do_not_lock_the_owner_out(
    server_factory: Callable[..., Server],
) -> None:
    server = server_factory()
    wrong = {"username": "dave", "password": "not the password"}
    right = {"username": "dave", "password": PASSWORD}
    async with client_at(server, OWNER) as owner, client_at(server, STRANGER) as stranger:
        r = await owner.post(REGISTER, json=right)
        assert r.status_code == 201, r.text
        answers = [await stranger.post(LOGIN, json=wrong) for _ in range(20)]
        for r in answers[:5]:  # login_failures (5) wrong guesses are answered as such
            error_of(r, 401, "bad_credentials")
        for r in answers[5:]:
            throttled(r, "login_throttled", 15 * 60)
        # From the stranger's address even the right password is refused now ...
        throttled(await stranger.post(LOGIN, json=right), "login_throttled", 15 * 60)
        # ... and a forged X-Forwarded-For from an untrusted peer changes nothing.
        forged = await stranger.post(LOGIN, json=wrong, headers={"X-Forwarded-For": "10.1.2.3"})
        throttled(forged, "login_throttled", 15 * 60)
        # The owner, elsewhere, logs in at once, and again after a typo.
        for attempt in (right, wrong, right):
            r = await owner.post(LOGIN, json=attempt)
            if attempt is wrong:
                error_of(r, 401, "bad_credentials")
            else:
                assert r.status_code == 200, r.text
                assert r.json()["user"]["username"] == "dave"
                me = await owner.get(
                    "/api/me", headers={"Authorization": f"Bearer {r.json()['token']}"}
                )
                assert me.status_code == 200


async def test_one_address_failing_across_accounts_is_throttled(
    server_factory: Callable[..., Server],
) -> None:
    server = server_factory("--limit", "login_failures_per_address=8")
    async with client_at(server, STRANGER) as stranger, client_at(server, OWNER) as owner:
        assert (
            await owner.post(REGISTER, json={"username": "erin", "password": PASSWORD})
        ).status_code == 201
        for i in range(8):  # password spraying: one guess per account
            r = await stranger.post(LOGIN, json={"username": f"user{i}", "password": "Summer2026"})
            error_of(r, 401, "bad_credentials")
        r = await stranger.post(LOGIN, json={"username": "erin", "password": PASSWORD})
        throttled(r, "login_throttled", 15 * 60)
        r = await owner.post(LOGIN, json={"username": "erin", "password": PASSWORD})
        assert r.status_code == 200, r.text


async def test_registration_is_throttled_per_address(
    server_factory: Callable[..., Server],
) -> None:
    server = server_factory("--limit", "registrations_per_hour=3")
    async with client_at(server, STRANGER) as a, client_at(server, ELSEWHERE) as b:
        for i in range(3):
            r = await a.post(REGISTER, json={"username": f"bot{i}", "password": PASSWORD})
            assert r.status_code == 201, r.text
        r = await a.post(REGISTER, json={"username": "bot3", "password": PASSWORD})
        throttled(r, "registration_throttled", 3600)
        # Not created: the name is still free for someone else.
        r = await b.post(REGISTER, json={"username": "bot3", "password": PASSWORD})
        assert r.status_code == 201, r.text
        r = await b.post(LOGIN, json={"username": "bot3", "password": PASSWORD})
        assert r.status_code == 200, r.text
