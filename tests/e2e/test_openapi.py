"""Issue #19, defect 6: the OpenAPI document tells the truth.

Every answer the server gives is documented for the operation that gave it
(403, 409, 429 with `Retry-After`...), and nothing it never gives is (FastAPI's
422). The constraints in the schemas are the constants the server enforces,
and behave as it does. Every path answers OPTIONS with an `Allow` header naming
all of its methods. /docs and /redoc load nothing from outside the server.
All against a real server process.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hubbub.core.auth import MAX_PASSWORD, MIN_PASSWORD, USERNAME_RE
from hubbub.core.hub import CHANNEL_PAGE, MAX_CHANNEL_PAGE
from hubbub.protocol import frames
from hubbub.protocol.errors import ErrorCode
from hubbub.protocol.limits import Limits
from hubbub.protocol.rules import CHANNEL_RE, MAX_DISPLAY_NAME, MAX_DM_MEMBERS, MAX_TOPIC
from hubbub.server.rest import MAX_USER_PAGE, USER_PAGE
from support import WAIT, Server, auth, start_server

PASSWORD = "correct horse"
MESSAGE = "/api/channels/{name}/messages/{seq}"
REACTION = MESSAGE + "/reactions/{emoji}"
JSON = {"content-type": "application/json"}
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
ROOMY = ",".join(
    f"{name}=1000"
    for name in (
        "channels_per_hour",
        "registrations_per_hour",
        "messages_per_second",
        "message_burst",
    )
)


def bound(model: type[Any], field: str, name: str) -> Any:
    """A constraint of a wire frame's field (`frames.Send.client_id`...)."""
    for item in model.model_fields[field].metadata:
        if hasattr(item, name):
            return getattr(item, name)
    raise LookupError(name)


# --- the document -------------------------------------------------------------------------


@dataclasses.dataclass
class Spec:
    doc: dict[str, Any]

    def op(self, method: str, path: str) -> dict[str, Any]:
        op: dict[str, Any] = self.doc["paths"][path][method.lower()]
        return op

    def operations(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        for path, item in self.doc["paths"].items():
            for method, op in item.items():
                if method in METHODS:
                    yield method, path, op

    def schema(self, name: str) -> dict[str, Any]:
        schema: dict[str, Any] = self.doc["components"]["schemas"][name]
        return schema

    def prop(self, name: str, field: str) -> dict[str, Any]:
        """A property's schema; for an optional one (`anyOf` with null), its
        non-null branch, which holds the constraints."""
        prop: dict[str, Any] = self.schema(name)["properties"][field]
        for branch in prop.get("anyOf", []):
            if branch.get("type") != "null":
                return {**{k: v for k, v in prop.items() if k != "anyOf"}, **branch}
        return prop

    def param(self, method: str, path: str, name: str) -> dict[str, Any]:
        for p in self.op(method, path).get("parameters", []):
            if p["name"] == name:
                schema: dict[str, Any] = p["schema"]
                return schema
        raise LookupError(name)

    def body_schema(self, method: str, path: str) -> dict[str, Any]:
        ref = self.op(method, path)["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        return self.schema(ref.rsplit("/", 1)[1])

    def documents(self, method: str, path: str, r: httpx.Response) -> None:
        """Fail unless answer `r` to `method path` is documented, as it is."""
        responses = self.op(method, path)["responses"]
        status = str(r.status_code)
        assert status in responses, f"{method} {path}: {status} undocumented ({sorted(responses)})"
        documented = responses[status]
        if r.status_code >= 400 and path.startswith("/api"):
            code = r.json()["error"]["code"]
            assert code in documented["x-error-codes"], (method, path, status, code)
        for header, spec in documented.get("headers", {}).items():
            if spec.get("required"):
                assert header.lower() in r.headers, (method, path, status, header)
        if r.status_code == 429:
            assert "Retry-After" in documented["headers"], (method, path)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    server = start_server(tmp_path_factory.mktemp("openapi"), "--limit", ROOMY)
    try:
        with httpx.Client(base_url=server.url, timeout=WAIT) as http:
            tokens = {}
            for name in ("alice", "bob", "carol"):
                r = http.post("/api/auth/register", json={"username": name, "password": PASSWORD})
                assert r.status_code == 201, r.text
                tokens[name] = r.json()["token"]
            a = auth(tokens["alice"])
            for body in ({"name": "lounge"}, {"name": "secret", "private": True}):
                assert http.post("/api/channels", json=body, headers=a).status_code == 201
            r = http.post("/api/dms", json={"usernames": ["bob"]}, headers=a)
            assert r.status_code == 200, r.text
            dm = r.json()["name"]
            spec = Spec(http.get("/openapi.json").json())
        yield World(server, tokens, dm, spec)
    finally:
        server.stop()


@dataclasses.dataclass
class World:
    server: Server
    tokens: dict[str, str]
    dm: str
    spec: Spec

    def auth(self, name: str) -> dict[str, str]:
        return auth(self.tokens[name])


@pytest.fixture
async def api(world: World) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=world.server.url, timeout=WAIT) as client:
        yield client


# (method, url, documented path, who, body, status, code)
Case = tuple[str, str, str, str | None, dict[str, Any] | None, int, str | None]


def error_code(r: httpx.Response) -> str:
    code: str = r.json()["error"]["code"]
    return code


# --- every answer documented ---------------------------------------------------------------


async def test_the_answers_the_server_gives_are_documented(
    world: World, api: httpx.AsyncClient
) -> None:
    """403 and 409 (and the rest) are in the document of the operation that
    answers with them, with the code that came."""
    dm = world.dm
    cases: list[Case] = [
        # (method, url, documented path, who, body, status, code)
        ("POST", "/api/auth/register", "/api/auth/register", None,
         {"username": "alice", "password": PASSWORD}, 409, "conflict"),
        ("POST", "/api/auth/register", "/api/auth/register", None,
         {"username": "Alice", "password": PASSWORD}, 400, "invalid_name"),
        ("POST", "/api/auth/register", "/api/auth/register", None,
         {"username": "dave", "password": "short"}, 400, "weak_password"),
        ("POST", "/api/auth/login", "/api/auth/login", None,
         {"username": "alice", "password": "wrong password"}, 401, "bad_credentials"),
        ("GET", "/api/me", "/api/me", None, None, 401, "not_authenticated"),
        ("GET", "/api/users/nobody", "/api/users/{username}", "alice", None, 404, "not_found"),
        ("POST", "/api/channels", "/api/channels", "bob", {"name": "lounge"}, 409, "conflict"),
        ("POST", "/api/channels", "/api/channels", "bob", {"name": "Nope"}, 400, "invalid_name"),
        ("GET", "/api/channels/secret", "/api/channels/{name}", "bob", None, 404, "not_found"),
        ("POST", "/api/channels/lounge/leave", "/api/channels/{name}/leave", "bob", None,
         403, "not_a_member"),
        ("POST", f"/api/channels/{dm}/leave", "/api/channels/{name}/leave", "alice", None,
         403, "forbidden"),
        ("POST", f"/api/channels/{dm}/invite", "/api/channels/{name}/invite", "alice",
         {"username": "carol"}, 403, "forbidden"),
        ("POST", "/api/channels/lounge/invite", "/api/channels/{name}/invite", "bob",
         {"username": "carol"}, 403, "not_a_member"),
        ("POST", "/api/channels/lounge/invite", "/api/channels/{name}/invite", "alice",
         {"username": "nobody"}, 404, "not_found"),
        ("PUT", "/api/channels/lounge/topic", "/api/channels/{name}/topic", "bob",
         {"topic": "mine"}, 403, "not_a_member"),
        ("POST", "/api/channels/lounge/read", "/api/channels/{name}/read", "bob",
         {"seq": 0}, 403, "not_a_member"),
        ("POST", "/api/channels/lounge/messages", "/api/channels/{name}/messages", "bob",
         {"text": "hi", "client_id": "b1"}, 403, "not_a_member"),
        ("POST", "/api/channels/lounge/messages", "/api/channels/{name}/messages", "alice",
         {"text": " ", "client_id": "a0"}, 400, "message_too_long"),
        ("POST", "/api/dms", "/api/dms", "alice", {"usernames": ["nobody"]}, 404, "not_found"),
        ("GET", "/api/channels/lounge/messages?limit=0", "/api/channels/{name}/messages",
         "alice", None, 400, "invalid_input"),
        ("POST", "/api/channels/lounge/messages", "/api/channels/{name}/messages", "alice",
         {"text": "once", "client_id": "dup"}, 201, None),
        # The retry of a send: 200, the original message.
        ("POST", "/api/channels/lounge/messages", "/api/channels/{name}/messages", "alice",
         {"text": "once", "client_id": "dup"}, 200, None),
    ]  # fmt: skip

    async def answered(cases: list[Case]) -> None:
        for method, url, path, who, body, status, code in cases:
            headers = world.auth(who) if who else {}
            r = await api.request(method, url, json=body, headers=headers)
            assert r.status_code == status, (method, url, r.text)
            if code is not None:
                assert error_code(r) == code, (method, url, r.text)
            world.spec.documents(method, path, r)

    await answered(cases)

    # Changes to a message of alice's (issue #14), and the user directory.
    r = await api.post(
        "/api/channels/lounge/messages",
        json={"text": "change me", "client_id": "ch"},
        headers=world.auth("alice"),
    )
    seq = r.json()["seq"]
    msg = f"/api/channels/lounge/messages/{seq}"
    react = f"{msg}/reactions"
    changes: list[Case] = [
        ("PATCH", msg, MESSAGE, "bob", {"text": "x"}, 403, "not_a_member"),
        ("PATCH", f"{msg}9", MESSAGE, "alice", {"text": "x"}, 404, "not_found"),
        ("PATCH", msg, MESSAGE, "alice", {"text": " "}, 400, "message_too_long"),
        ("PATCH", msg, MESSAGE, None, {"text": "x"}, 401, "not_authenticated"),
        ("DELETE", "/api/channels/lounge/messages/x", MESSAGE, "alice", None, 400, "invalid_input"),
        ("PUT", f"{react}/yes", REACTION, "alice", None, 400, "invalid_input"),
        ("PUT", f"{react}/:+1:", REACTION, "bob", None, 403, "not_a_member"),
        ("PUT", f"{react}/:+1:", REACTION, "alice", None, 200, None),
        ("DELETE", f"{react}/:+1:", REACTION, "alice", None, 200, None),
        ("PATCH", msg, MESSAGE, "alice", {"text": "changed"}, 200, None),
        ("DELETE", msg, MESSAGE, "alice", None, 200, None),
        ("PATCH", msg, MESSAGE, "alice", {"text": "x"}, 409, "message_deleted"),
        ("PUT", f"{react}/:+1:", REACTION, "alice", None, 409, "message_deleted"),
        ("DELETE", f"{react}/:+1:", REACTION, "alice", None, 409, "message_deleted"),
        ("GET", "/api/users?limit=0", "/api/users", "alice", None, 400, "invalid_input"),
        ("GET", "/api/users?q=AL", "/api/users", "alice", None, 200, None),
        ("GET", "/api/users", "/api/users", None, None, 401, "not_authenticated"),
    ]  # fmt: skip
    await answered(changes)

    # Bodies that are not JSON, or too big.
    a = world.auth("alice")
    r = await api.post("/api/channels", content=b"{nope", headers={**JSON, **a})
    assert (r.status_code, error_code(r)) == (400, "invalid_json")
    world.spec.documents("POST", "/api/channels", r)
    big = json.dumps({"name": "x", "pad": "x" * Limits().max_body_bytes}).encode()
    r = await api.post("/api/channels", content=big, headers={**JSON, **a})
    assert (r.status_code, error_code(r)) == (413, "body_too_large")
    world.spec.documents("POST", "/api/channels", r)


async def test_429_is_documented_with_retry_after(tmp_path: Path) -> None:
    limits = {
        "registrations_per_hour": 1,
        "channels_per_hour": 1,
        "messages_per_second": 0.001,
        "message_burst": 1,
        "login_failures": 1,
    }
    server = start_server(tmp_path, "--limit", ",".join(f"{k}={v}" for k, v in limits.items()))
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as api:
            spec = Spec((await api.get("/openapi.json")).json())
            r = await api.post("/api/auth/register", json={"username": "ann", "password": PASSWORD})
            assert r.status_code == 201, r.text
            a = auth(r.json()["token"])
            assert (await api.post("/api/channels", json={"name": "one"}, headers=a)).is_success
            msg = {"text": "hi", "client_id": "m1"}
            r = await api.post("/api/channels/one/messages", json=msg, headers=a)
            assert r.status_code == 201, r.text

            messages = "/api/channels/{name}/messages"
            throttled = [
                (
                    "/api/auth/register",
                    "/api/auth/register",
                    {"username": "bob", "password": PASSWORD},
                    {},
                ),
                ("/api/channels", "/api/channels", {"name": "two"}, a),
                ("/api/channels/one/messages", messages, {"text": "2", "client_id": "m2"}, a),
            ]
            answers = [
                (path, await api.post(url, json=body, headers=h))
                for url, path, body, h in throttled
            ]
            for _ in range(5):  # failed logins until throttled
                r = await api.post("/api/auth/login", json={"username": "ann", "password": "nope!"})
                if r.status_code == 429:
                    break
            answers.append(("/api/auth/login", r))
            for path, r in answers:
                assert r.status_code == 429, (path, r.text)
                assert ErrorCode[error_code(r)].status == 429
                assert int(r.headers["retry-after"]) >= 1
                assert r.json()["error"]["retry_after"] > 0
                spec.documents("POST", path, r)
    finally:
        server.stop()


def test_no_operation_documents_422(world: World) -> None:
    """FastAPI documents 422 for every validation error; hubbub answers 400."""
    for method, path, op in world.spec.operations():
        assert "422" not in op["responses"], (method, path)
        query = [p for p in op.get("parameters", []) if p["in"] == "query"]
        if "requestBody" in op or query:  # validated: 400 when invalid
            assert "invalid_input" in op["responses"]["400"]["x-error-codes"], (method, path)
    schemas = world.spec.doc["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas


def test_every_error_is_the_standard_body_with_its_codes(world: World) -> None:
    spec = world.spec
    assert spec.prop("ErrorBody", "code")["enum"] == [c.name for c in ErrorCode]
    token_codes = {"not_authenticated", "token_invalid", "token_expired"}
    for method, path, op in spec.operations():
        responses = op["responses"]
        for status, response in responses.items():
            # 416: a download's Range past its end, answered with no body.
            if int(status) < 400 or path == "/healthz" or status == "416":
                continue
            schema = response["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorOut"}, (method, path, status)
            codes = response["x-error-codes"]
            assert codes and all(ErrorCode[c].status == int(status) for c in codes), codes
        if path.startswith("/api"):
            assert responses["503"]["x-error-codes"] == ["unavailable"], (method, path)
        if op.get("security"):  # a token is checked first
            assert token_codes <= set(responses["401"]["x-error-codes"]), (method, path)
            assert responses["401"]["headers"]["WWW-Authenticate"]["required"]
        if "application/json" in op.get("requestBody", {}).get("content", {}):
            assert {"invalid_json", "invalid_input"} <= set(responses["400"]["x-error-codes"])
            assert responses["413"]["x-error-codes"] == ["body_too_large"]
        elif "requestBody" in op:  # an upload: its own limits, not max_body_bytes
            assert path == "/api/files" and "invalid_input" in responses["400"]["x-error-codes"]
            assert responses["413"]["x-error-codes"] == ["file_too_large", "quota_exceeded"]
        if "429" in responses:
            assert responses["429"]["headers"]["Retry-After"]["required"]
    # The ones the issue names, where the server gives them.
    for method, path, status in [
        ("post", "/api/channels/{name}/leave", "403"),
        ("post", "/api/channels/{name}/messages", "403"),
        ("post", "/api/auth/register", "409"),
        ("post", "/api/channels", "409"),
        ("post", "/api/channels", "429"),
        ("post", "/api/channels/{name}/messages", "429"),
        ("post", "/api/auth/login", "429"),
        ("post", "/api/auth/register", "429"),
        ("patch", MESSAGE, "403"),
        ("patch", MESSAGE, "409"),
        ("delete", MESSAGE, "403"),
        ("put", REACTION, "409"),
        ("put", REACTION, "429"),
    ]:
        assert status in spec.op(method, path)["responses"], (method, path, status)
    # ... and not where it cannot.
    assert "401" not in spec.op("post", "/api/auth/register")["responses"]
    # (where only an API token without the scope is refused)
    assert spec.op("get", "/api/channels/{name}")["responses"]["403"]["x-error-codes"] == [
        "missing_scope"
    ]
    # A second delete changes nothing; anyone in the channel may react.
    assert "409" not in spec.op("delete", MESSAGE)["responses"]
    assert set(spec.op("put", REACTION)["responses"]["403"]["x-error-codes"]) == {
        "missing_scope",
        "not_a_member",
    }
    assert spec.op("delete", REACTION)["responses"]["409"]["x-error-codes"] == ["message_deleted"]


# --- constraints ---------------------------------------------------------------------------


def test_constraints_are_the_enforced_constants(world: World) -> None:
    spec = world.spec
    register = spec.body_schema("post", "/api/auth/register")["properties"]
    assert register["username"]["pattern"] == USERNAME_RE.pattern
    assert (register["password"]["minLength"], register["password"]["maxLength"]) == (
        MIN_PASSWORD,
        MAX_PASSWORD,
    )
    assert register["display_name"]["anyOf"][0]["maxLength"] == MAX_DISPLAY_NAME

    text = spec.prop("MessageIn", "text")
    assert (text["minLength"], text["maxLength"]) == (1, Limits().max_message_chars)
    # Not only white space, as `str.strip()` (the core's check) sees it: the
    # same in Python's and in JSON Schema's (ECMA-262) regular expressions.
    every = "".join(map(chr, range(sys.maxunicode + 1)))
    assert re.sub(text["pattern"], "", every) == "".join(c for c in every if c.isspace())
    assert "\\s" not in text["pattern"] and "\\S" not in text["pattern"]
    client_id = spec.prop("MessageIn", "client_id")
    assert client_id["minLength"] == bound(frames.Send, "client_id", "min_length")
    assert client_id["maxLength"] == bound(frames.Send, "client_id", "max_length")

    channel = spec.body_schema("post", "/api/channels")["properties"]
    assert channel["name"]["pattern"] == CHANNEL_RE.pattern
    assert channel["topic"]["maxLength"] == MAX_TOPIC
    assert spec.prop("TopicIn", "topic")["maxLength"] == MAX_TOPIC
    assert spec.prop("DMIn", "usernames")["maxItems"] == MAX_DM_MEMBERS - 1
    assert spec.prop("ReadIn", "seq")["minimum"] == 0

    limit = spec.param("get", "/api/channels/{name}/messages", "limit")
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (
        bound(frames.History, "limit", "ge"),
        bound(frames.History, "limit", "le"),
        frames.History.model_fields["limit"].default,
    )
    for name in ("before", "after"):
        schema = spec.param("get", "/api/channels/{name}/messages", name)
        assert schema["anyOf"][0] == {"type": "integer", "minimum": 0}
    limit = spec.param("get", "/api/channels", "limit")
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (
        1,
        MAX_CHANNEL_PAGE,
        CHANNEL_PAGE,
    )

    # Changes to a message (issue #14): an edit's text is a send's.
    assert spec.prop("EditIn", "text") == text
    for method, path in [("patch", MESSAGE), ("delete", MESSAGE), ("put", REACTION)]:
        assert spec.param(method, path, "seq")["minimum"] == bound(frames.EditMessage, "seq", "ge")
    assert spec.schema("Emoji")["maxLength"] == bound(frames.React, "emoji", "max_length")
    limit = spec.param("get", "/api/users", "limit")
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, MAX_USER_PAGE, USER_PAGE)
    assert spec.param("get", "/api/users", "q")["maxLength"] == MAX_DISPLAY_NAME


async def test_documented_constraints_behave_as_the_server(
    world: World, api: httpx.AsyncClient
) -> None:
    """The documented patterns and lengths accept exactly what the server does.
    (Found by schemathesis, positive_data_acceptance: a text of U+0085 matched
    a documented `\\S`, ECMA-262's, and was refused as blank, Python's.)"""
    spec = world.spec
    pattern = re.compile(
        spec.body_schema("post", "/api/auth/register")["properties"]["username"]["pattern"]
    )
    for name in ["ab", "a" * 32, "a" * 33, "a", "Ab", "0.x-y_z", "-ab", "ab c", "é1", "ab\n"]:
        r = await api.post("/api/auth/register", json={"username": name, "password": PASSWORD})
        ok = pattern.fullmatch(name) is not None  # anchored: as in JSON Schema
        assert r.status_code == (201 if ok else 400), (name, r.text)
        if not ok:
            assert error_code(r) == "invalid_name"

    password = spec.body_schema("post", "/api/auth/register")["properties"]["password"]
    for n, ok in [
        (password["minLength"] - 1, False),
        (password["minLength"], True),
        (password["maxLength"], True),
        (password["maxLength"] + 1, False),
    ]:
        r = await api.post("/api/auth/register", json={"username": f"pw{n}", "password": "p" * n})
        assert r.status_code == (201 if ok else 400), (n, r.text)

    channel = re.compile(spec.body_schema("post", "/api/channels")["properties"]["name"]["pattern"])
    a = world.auth("alice")
    for name in ["c", "c" * 80, "c-1_2", "C", "-c", "c d", "dm:x"]:
        r = await api.post("/api/channels", json={"name": name}, headers=a)
        ok = channel.fullmatch(name) is not None
        assert r.status_code == (201 if ok else 400), (name, r.text)

    text = spec.prop("MessageIn", "text")
    not_blank = re.compile(text["pattern"])
    url = "/api/channels/lounge/messages"
    for i, (body, ok) in enumerate(
        [
            ("x" * text["maxLength"], True),
            ("x" * (text["maxLength"] + 1), False),
            (" \t\n", False),
            ("", False),
            (" x ", True),
            ("\x85\u3000", False),  # white space to Python, not to ECMA-262's \s
            ("\ufeff", True),  # ... and the other way round
        ]
    ):
        assert (not_blank.search(body) is not None and len(body) <= text["maxLength"]) == ok
        r = await api.post(url, json={"text": body, "client_id": f"t{i}"}, headers=a)
        assert r.status_code == (201 if ok else 400), (len(body), r.text)
        if not ok:
            assert error_code(r) == "message_too_long"
    longest = spec.prop("MessageIn", "client_id")["maxLength"]
    for cid, ok in [("c" * longest, True), ("c" * (longest + 1), False), ("", False)]:
        r = await api.post(url, json={"text": "hi", "client_id": cid}, headers=a)
        assert r.status_code == (201 if ok else 400), (len(cid), r.text)

    most = spec.param("get", "/api/channels/{name}/messages", "limit")["maximum"]
    assert (await api.get(url, params={"limit": most}, headers=a)).status_code == 200
    assert (await api.get(url, params={"limit": most + 1}, headers=a)).status_code == 400


async def test_the_message_length_is_the_servers_own_limit(tmp_path: Path) -> None:
    """`--limit max_message_chars=...` is what the document says, and does."""
    server = start_server(tmp_path, "--limit", "max_message_chars=500")
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=WAIT) as api:
            spec = Spec((await api.get("/openapi.json")).json())
            assert spec.prop("MessageIn", "text")["maxLength"] == 500
            assert spec.prop("EditIn", "text")["maxLength"] == 500
            r = await api.post("/api/auth/register", json={"username": "ann", "password": PASSWORD})
            a = auth(r.json()["token"])
            assert (await api.post("/api/channels", json={"name": "c"}, headers=a)).is_success
            url = "/api/channels/c/messages"
            r = await api.post(url, json={"text": "x" * 500, "client_id": "a"}, headers=a)
            assert r.status_code == 201, r.text
            r = await api.post(url, json={"text": "x" * 501, "client_id": "b"}, headers=a)
            assert (r.status_code, error_code(r)) == (400, "message_too_long")
            r = await api.patch(f"{url}/1", json={"text": "y" * 501}, headers=a)
            assert (r.status_code, error_code(r)) == (400, "message_too_long")
            r = await api.patch(f"{url}/1", json={"text": "y" * 500}, headers=a)
            assert r.status_code == 200, r.text
    finally:
        server.stop()


async def test_body_fields_are_of_their_documented_type(
    world: World, api: httpx.AsyncClient
) -> None:
    """Found by schemathesis (negative_data_rejection): `{"private": 0}` and
    `{"seq": "0"}` were taken for false and 0. A JSON integer written 1.0 is
    still an integer (JSON Schema), and is taken."""
    a = world.auth("alice")
    for url, body, field in [
        ("/api/channels", {"name": "typed", "private": 0}, "private"),
        ("/api/channels", {"name": "typed", "private": "true"}, "private"),
        ("/api/channels/lounge/read", {"seq": "0"}, "seq"),
        ("/api/channels/lounge/read", {"seq": True}, "seq"),
        ("/api/channels/lounge/read", {"seq": 1.5}, "seq"),
    ]:
        r = await api.post(url, json=body, headers=a)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["error"] == {**r.json()["error"], "code": "invalid_input", "field": field}
    r = await api.post("/api/channels/lounge/read", json={"seq": 1.0}, headers=a)
    assert r.status_code == 200, r.text


# --- OPTIONS and Allow ---------------------------------------------------------------------


async def test_options_and_405_list_every_method_of_the_path(
    world: World, api: httpx.AsyncClient
) -> None:
    paths = world.spec.doc["paths"]
    for path, item in paths.items():
        url = path.replace("{name}", "lounge").replace("{username}", "alice")
        url = url.replace("{seq}", "1").replace("{emoji}", "%F0%9F%91%8D")
        documented = {m.upper() for m in item if m in METHODS}
        r = await api.options(url)  # no token needed to ask
        assert r.status_code == 204, (url, r.text)
        allow = {m.strip() for m in r.headers["allow"].split(",")}
        assert allow == documented | {"OPTIONS"}, (url, allow)
        # A method the path does not have (PATCH, where no path had it before).
        missing = next(m for m in ("PATCH", "POST") if m not in documented)
        r = await api.request(missing, url, headers=world.auth("alice"))
        assert r.status_code == 405, (url, r.text)
        assert {m.strip() for m in r.headers["allow"].split(",")} == allow
        assert error_code(r) == "method_not_allowed"
    # The two the issue names.
    for url in ("/api/channels", "/api/channels/lounge/messages"):
        r = await api.options(url)
        assert r.headers["allow"] == "GET, POST, OPTIONS"
    r = await api.options("/api/channels/lounge/messages/1")
    assert r.headers["allow"] == "PATCH, DELETE, OPTIONS"
    r = await api.options("/api/channels/lounge/messages/1/reactions/%F0%9F%91%8D")
    assert r.headers["allow"] == "PUT, DELETE, OPTIONS"
    r = await api.options("/docs")
    assert (r.status_code, r.headers["allow"]) == (204, "GET, OPTIONS")
    # A path that does not exist is still not found.
    assert (await api.options("/api/nope")).status_code == 404


# --- /docs and /redoc ----------------------------------------------------------------------


def urls_in(html: str) -> list[str]:
    """Every URL a docs page loads: src/href attributes, Swagger's `url`, ReDoc's `spec-url`."""
    found = re.findall(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']""", html)
    found += re.findall(r"""\burl:\s*'([^']+)'""", html)
    return found


@pytest.mark.parametrize(
    ("page", "needs"),
    [
        ("/docs", {"swagger-ui-bundle.js": "SwaggerUIBundle", "swagger-ui.css": ".swagger-ui"}),
        ("/redoc", {"redoc.standalone.js": "Redoc"}),
    ],
)
async def test_docs_pages_load_only_from_the_server(
    api: httpx.AsyncClient, page: str, needs: dict[str, str]
) -> None:
    r = await api.get(page)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert "http://" not in html and "https://" not in html, "an absolute URL: a CDN?"
    urls = urls_in(html)
    assert urls
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
    assert "/openapi.json" in urls
    for name, marker in needs.items():
        asset = next(u for u in urls if u.endswith("/" + name))
        r = await api.get(asset)
        assert r.status_code == 200, asset
        kind = r.headers["content-type"].split(";")[0]
        if name.endswith(".js"):
            assert kind in ("text/javascript", "application/javascript"), (asset, kind)
        else:
            assert kind == "text/css", (asset, kind)
        assert len(r.content) > 100_000 and marker in r.text, asset
    for url in urls:
        if url != "/openapi.json":
            assert (await api.get(url)).status_code == 200, url
