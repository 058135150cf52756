"""The Lambda handlers, called as Lambda calls them: with API Gateway's event
shapes (recorded in events/*.json), DynamoDB from moto over HTTP, and pushes
going to a recording Management API."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hubbub.aws import apigw, handlers, runtime
from hubbub.aws.connections import ConnectionTable
from hubbub.aws.local import select_route
from hubbub.core.events import channel_topic
from hubbub.protocol.limits import Limits
from hubbub.store.dynamo import DynamoStore
from receiver import Reply, receiving
from support import check_frame

from .conftest import ManagementApi, store_url

EVENTS = Path(__file__).parent / "events"


def recorded(name: str) -> dict[str, Any]:
    return copy.deepcopy(json.loads((EVENTS / f"{name}.json").read_text()))


@pytest.fixture
def lam(
    dynamodb: str, prefix: str, management: ManagementApi, monkeypatch: pytest.MonkeyPatch
) -> Iterator[runtime.Runtime]:
    """A Lambda container configured as the template configures it, with
    guests creating rooms by naming them, as in the tutorial."""

    async def create() -> None:
        store = DynamoStore(store_url(dynamodb, prefix, create=True))
        await store.open()
        await store.close()

    asyncio.run(create())
    monkeypatch.setenv("HUBBUB_DATABASE_URL", store_url(dynamodb, prefix))
    monkeypatch.setenv("HUBBUB_ALLOW_GUESTS", "1")
    monkeypatch.setenv("HUBBUB_GUEST_ROOMS", "create")
    monkeypatch.setenv(apigw.ENDPOINT_ENV, management.endpoint)
    monkeypatch.delenv("HUBBUB_LIMIT", raising=False)
    # Custom commands' servers are the tests' own, on 127.0.0.1.
    monkeypatch.setenv("HUBBUB_OUTBOUND_ALLOW", "127.0.0.1")
    monkeypatch.setenv("HUBBUB_PUBLIC_URL", "https://efgh5678.execute-api.us-east-1.amazonaws.com")
    runtime.reset()
    rt = runtime.current()
    rt.run(rt._start())
    yield rt
    runtime.reset()


def connect(cid: str, **params: str) -> dict[str, Any]:
    event = recorded("connect")
    event["requestContext"]["connectionId"] = cid
    event["queryStringParameters"] = params or None
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in params.items()} or None
    return handlers.connect(event, None)


def send(cid: str, frame: dict[str, Any] | str | bytes) -> dict[str, Any]:
    event = recorded("message")
    event["requestContext"]["connectionId"] = cid
    if isinstance(frame, bytes):
        event["body"], event["isBase64Encoded"] = base64.b64encode(frame).decode(), True
    else:
        event["body"] = frame if isinstance(frame, str) else json.dumps(frame)
    route = select_route(frame if isinstance(frame, str | bytes) else event["body"])
    event["requestContext"]["routeKey"] = route
    return handlers.WEBSOCKET_ROUTES[route](event, None)


def disconnect(cid: str) -> dict[str, Any]:
    event = recorded("disconnect")
    event["requestContext"]["connectionId"] = cid
    return handlers.disconnect(event, None)


def one(management: ManagementApi, cid: str) -> dict[str, Any]:
    """The single frame pushed to `cid` since the last look, schema-checked."""
    frames = management.take(cid)
    assert len(frames) == 1, frames
    check_frame(frames[0])
    return frames[0]  # type: ignore[no-any-return]


def tutorial(user: str, content: str) -> dict[str, Any]:
    return {"messages": [{"user_name": user, "content": content}]}


# --- event shapes ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["connect", "message", "disconnect"])
def test_aws_local_builds_the_recorded_event_shapes(name: str) -> None:
    real = recorded(name)
    route = real["requestContext"]["routeKey"]
    built = apigw.websocket_event(
        route,
        "x",
        domain="d",
        stage="s",
        body="{}" if name == "message" else None,
        params={"room_name": "test"} if name == "connect" else None,
    )
    assert set(built) == set(real)
    assert set(built["requestContext"]) == set(real["requestContext"])
    assert built["requestContext"]["eventType"] == real["requestContext"]["eventType"]


def test_aws_local_builds_the_http_api_ping_event() -> None:
    real = recorded("http_ping")
    built = apigw.http_event("GET", "/ping", domain="d", stage="$default")
    assert set(built) <= set(real)
    assert built["routeKey"] == real["routeKey"] and built["rawPath"] == real["rawPath"]
    assert set(built["requestContext"]["http"]) <= set(real["requestContext"]["http"])


def test_management_endpoint_comes_from_the_event(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(apigw.ENDPOINT_ENV, raising=False)
    endpoint = apigw.management_endpoint(recorded("message"))
    assert endpoint == "https://abcd1234.execute-api.us-east-1.amazonaws.com/dev"
    monkeypatch.setenv(apigw.ENDPOINT_ENV, "http://127.0.0.1:9")
    assert apigw.management_endpoint(recorded("message")) == "http://127.0.0.1:9"


def test_route_selection_is_request_body_action() -> None:
    assert select_route('{"action": "sendMessage"}') == "sendMessage"
    assert select_route('{"action": "getRecentMessages"}') == "getRecentMessages"
    assert select_route('{"action": "send"}') == "$default"
    assert select_route('{"action": "$connect"}') == "$default"
    assert select_route("not json") == "$default"
    assert select_route(b"\xff") == "$default"


def test_ping_answers_pong() -> None:
    res = handlers.ping(recorded("http_ping"), None)
    assert (res["statusCode"], res["body"]) == (200, "PONG!")
    assert res["headers"]["content-type"].startswith("text/plain")


# --- the tutorial protocol ----------------------------------------------------------------


def test_tutorial_session(lam: runtime.Runtime, management: ManagementApi) -> None:
    assert connect("A=", room_name="test")["statusCode"] == 200
    assert connect("B=", room_name="test")["statusCode"] == 200
    assert send("A=", {"action": "sendMessage", "user_name": "ann", "content": "hello"}) == {
        "statusCode": 200,
        "body": "",
    }
    assert one(management, "A=") == tutorial("ann", "hello")
    assert one(management, "B=") == tutorial("ann", "hello")
    for i in range(11):
        send("B=", {"action": "sendMessage", "username": "ben", "content": f"m{i}"})
    assert len(management.take("A=")) == len(management.take("B=")) == 11
    send("A=", {"action": "getRecentMessages"})
    recent = one(management, "A=")["messages"]
    assert recent == [{"user_name": "ben", "content": f"m{i}"} for i in range(1, 11)]
    assert management.frames("B=") == []  # an answer goes to the asker only


def test_a_tutorial_send_is_committed_and_pushed_within_its_invocation(
    lam: runtime.Runtime, management: ManagementApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Lambda connection is not pipelined, and issue #18 left it so: each
    sendMessage is committed (one commit each), pushed and, if refused,
    answered within the invocation that carried it."""
    connect("A=", room_name="test")
    connect("B=", room_name="test")
    commits: list[int] = []
    real = lam.hub.store.append_messages

    async def counting(batch: list[Any]) -> Any:
        commits.append(len(batch))
        return await real(batch)

    monkeypatch.setattr(lam.hub.store, "append_messages", counting)
    for i in range(3):
        send("A=", {"action": "sendMessage", "user_name": "ann", "content": f"m{i}"})
        assert commits == [1] * (i + 1)
        assert one(management, "B=") == one(management, "A=") == tutorial("ann", f"m{i}")
    frame = {"action": "sendMessage", "id": 9, "room_name": "Not A Room!", "content": "x"}
    send("A=", {**frame, "user_name": "ann"})
    err = one(management, "A=")
    assert (err["type"], err["id"], err["code"]) == ("error", 9, "not_found"), err
    assert lam.gateway.engine._unsettled == {}  # nothing left waiting for a later commit


def test_a_guest_is_refused_in_an_archived_room(
    lam: runtime.Runtime, management: ManagementApi
) -> None:
    connect("A=", room_name="test")
    send("A=", {"action": "sendMessage", "user_name": "ann", "content": "before"})
    assert one(management, "A=") == tutorial("ann", "before")
    channel = lam.run(lam.hub.store.get_channel("test"))
    assert channel is not None
    lam.run(lam.hub.store.update_channel(channel.id, archived=True))
    send("A=", {"action": "sendMessage", "id": 1, "user_name": "ann", "content": "after"})
    err = one(management, "A=")
    assert (err["type"], err["id"], err["code"]) == ("error", 1, "channel_archived"), err
    send("A=", {"action": "getRecentMessages"})
    assert one(management, "A=") == tutorial("ann", "before")  # still readable


def test_rooms_are_separate(lam: runtime.Runtime, management: ManagementApi) -> None:
    connect("A=", room_name="one")
    connect("B=", room_name="two")
    send("A=", {"action": "sendMessage", "user_name": "ann", "content": "only one"})
    assert one(management, "A=") == tutorial("ann", "only one")
    send("B=", {"action": "getRecentMessages"})
    assert one(management, "B=") == {"messages": []}
    send("B=", {"action": "getRecentMessages", "room_name": "one"})
    assert one(management, "B=") == tutorial("ann", "only one")


def test_guests_off_and_bad_tokens_are_refused(
    lam: runtime.Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert connect("T=", token="not-a-token")["statusCode"] == 401
    assert connect("R=", room_name="Bad Name!")["statusCode"] == 404
    monkeypatch.setenv("HUBBUB_ALLOW_GUESTS", "0")
    runtime.reset()
    res = connect("G=", room_name="test")
    assert res["statusCode"] == 401 and "guests are off" in res["body"]


def test_by_default_guests_enter_only_existing_rooms(
    lam: runtime.Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert connect("A=", room_name="made")["statusCode"] == 200  # made where guests may
    monkeypatch.delenv("HUBBUB_GUEST_ROOMS")
    runtime.reset()
    assert connect("B=", room_name="made")["statusCode"] == 200
    # Every room a guest may not use gets the same answer.
    for name in ("unused", "Bad Name!"):
        assert connect("C=", room_name=name) == {"statusCode": 404, "body": "no such room"}
    monkeypatch.setenv("HUBBUB_GUEST_ROOMS", "everywhere")
    runtime.reset()
    with pytest.raises(ValueError, match="HUBBUB_GUEST_ROOMS"):
        runtime.current()


def test_gone_connection_is_removed_and_the_broadcast_carries_on(
    lam: runtime.Runtime, management: ManagementApi
) -> None:
    lam.bus.gone_grace = 0  # B connected long ago, as far as the push can tell
    for cid in ("A=", "B=", "C="):
        connect(cid, room_name="test")
    management.gone.add("B=")
    table = ConnectionTable(lam.store)
    room = lam.run(lam.store.get_channel("test"))
    assert room is not None
    topic = channel_topic(room.id)
    assert {c for c, _ in lam.run(table.followers(topic))} == {"A=", "B=", "C="}

    send("A=", {"action": "sendMessage", "user_name": "ann", "content": "still here?"})
    assert one(management, "A=") == tutorial("ann", "still here?")
    assert one(management, "C=") == tutorial("ann", "still here?")
    assert lam.run(table.get("B=")) is None
    assert {c for c, _ in lam.run(table.followers(topic))} == {"A=", "C="}


def test_a_410_just_after_connecting_does_not_forget_the_connection(
    lam: runtime.Runtime, management: ManagementApi
) -> None:
    """API Gateway answers 410 to posts until a `$connect` has completed: a
    connection that gets one within seconds of connecting is kept."""
    for cid in ("A=", "B="):
        connect(cid, room_name="test")
    management.gone.add("B=")  # B's upgrade is not done yet
    send("A=", {"action": "sendMessage", "user_name": "ann", "content": "early"})
    assert one(management, "A=") == tutorial("ann", "early")
    table = ConnectionTable(lam.store)
    assert lam.run(table.get("B=")) is not None
    room = lam.run(lam.store.get_channel("test"))
    assert room is not None
    assert {c for c, _ in lam.run(table.followers(channel_topic(room.id)))} == {"A=", "B="}


def test_disconnect_forgets_the_connection(lam: runtime.Runtime, management: ManagementApi) -> None:
    connect("A=", room_name="test")
    connect("B=", room_name="test")
    assert disconnect("B=")["statusCode"] == 200
    send("A=", {"action": "sendMessage", "user_name": "ann", "content": "alone"})
    assert one(management, "A=") == tutorial("ann", "alone")
    assert management.frames("B=") == []
    assert lam.run(ConnectionTable(lam.store).get("B=")) is None


# --- bad input: the self-hosted server's error frames --------------------------------------

MAX = Limits().max_frame_bytes
BAD: list[tuple[Any, str, str | None, str | None]] = [
    ("not json", "invalid_json", None, None),
    (b"\xff\xfe", "invalid_utf8", None, None),
    ("[1, 2]", "invalid_input", None, "a frame must be a JSON object"),
    ({"action": "dance"}, "unknown_action", "action", "unknown action 'dance'"),
    ({"content": "x"}, "unknown_action", "action", None),
    ({"action": "sendMessage", "user_name": "ann"}, "invalid_input", "content", None),
    ({"action": "sendMessage", "content": "who"}, "invalid_input", "user_name", None),
    ({"action": "sendMessage", "user_name": "a", "content": 5}, "invalid_input", "content", None),
    ({"action": "sendMessage", "user_name": "a", "content": " "}, "message_too_long", "text", None),
    ({"action": "subscribe", "channel": "test"}, "forbidden", None, None),
    ("x" * (MAX + 1), "invalid_input", None, f"frame is over {MAX} bytes"),
]


@pytest.mark.parametrize(("frame", "code", "field", "message"), BAD)
def test_bad_input_gets_its_error_frame(
    lam: runtime.Runtime,
    management: ManagementApi,
    frame: Any,
    code: str,
    field: str | None,
    message: str | None,
) -> None:
    connect("A=", room_name="test")
    send("A=", frame)
    err = one(management, "A=")
    assert (err["type"], err["code"]) == ("error", code), err
    if field is not None:
        assert err["field"] == field
    if isinstance(frame, dict) and code == "invalid_input" and field not in frame:
        assert err["message"] == f"{field} not in message dict"  # the tutorial's wording
    if message is not None:
        assert message in err["message"]
    # Nothing stored, and the connection works on.
    send("A=", {"action": "getRecentMessages"})
    assert one(management, "A=") == {"messages": []}
    send("A=", {"action": "sendMessage", "user_name": "ann", "content": "ok"})
    assert one(management, "A=") == tutorial("ann", "ok")


# --- the native protocol -------------------------------------------------------------------


def test_native_session(lam: runtime.Runtime, management: ManagementApi) -> None:
    _, token = lam.run(lam.hub.register("alice", "correct horse"))  # joins #general

    assert connect("N=")["statusCode"] == 200
    send("N=", {"action": "ping", "id": 1})
    err = one(management, "N=")
    assert (err["code"], err["id"]) == ("not_authenticated", 1)
    send("N=", {"action": "auth", "token": token})
    hello = one(management, "N=")
    assert hello["type"] == "hello" and hello["user"]["username"] == "alice"

    send("N=", {"action": "subscribe", "channel": "general", "since": 0, "id": "s"})
    sub = one(management, "N=")
    assert (sub["type"], sub["id"], sub["last_seq"], sub["recovered"]) == (
        "subscribed",
        "s",
        0,
        True,
    )
    send("N=", {"action": "send", "channel": "general", "text": "hi", "client_id": "c1", "id": 2})
    event, ack = management.take("N=")
    check_frame(event)
    check_frame(ack)
    assert (event["type"], event["seq"], event["text"]) == ("message", 1, "hi")
    assert (ack["type"], ack["id"], ack["seq"], ack["duplicate"]) == ("ack", 2, 1, False)
    send("N=", {"action": "send", "channel": "general", "text": "hi", "client_id": "c1", "id": 3})
    again = one(management, "N=")  # a retry: no new message, the original ack
    assert (again["seq"], again["duplicate"]) == (1, True)

    send("N=", {"action": "history", "channel": "general", "id": 4})
    page = one(management, "N=")
    assert [m["text"] for m in page["messages"]] == ["hi"] and page["has_more"] is False
    send("N=", {"action": "subscribe", "channel": "nope", "id": 5})
    assert one(management, "N=")["code"] == "not_found"

    # A second connection of alice resumes from seq 0 and is replayed the message.
    assert connect("M=", token=token)["statusCode"] == 200
    send("M=", {"action": "subscribe", "channel": "general", "since": 0, "id": 6})
    replay, sub = management.take("M=")
    assert (replay["type"], replay["seq"]) == ("message", 1)
    assert (sub["replayed"], sub["last_seq"]) == (1, 1)


def hook_post(secret: str, body: bytes, **headers: str) -> dict[str, Any]:
    event = apigw.http_event(
        "POST",
        f"/hooks/{secret}",
        domain="efgh5678.execute-api.us-east-1.amazonaws.com",
        stage="$default",
        route="/hooks/{secret}",
        params={"secret": secret},
        headers=headers,
        body=body,
    )
    return handlers.HTTP_ROUTES[event["routeKey"]](event, None)


def test_an_incoming_hook_posts_to_the_channels_connections(
    lam: runtime.Runtime, management: ManagementApi
) -> None:
    _, login = lam.run(lam.hub.register("alice", "correct horse"))  # joins #general
    identity = lam.run(lam.hub.authenticate(login))
    secret, _ = lam.run(lam.hub.hooks.create_incoming(identity, "general", "CI"))
    assert connect("H=", token=login)["statusCode"] == 200
    send("H=", {"action": "subscribe", "channel": "general", "since": 0, "id": 1})
    assert one(management, "H=")["type"] == "subscribed"

    body = json.dumps({"text": "build <https://ci/1|#1> green", "username": "CI"}).encode()
    res = hook_post(secret, body, **{"Content-Type": "application/json"})
    assert (res["statusCode"], res["body"]) == (200, "ok")
    event = one(management, "H=")
    assert (event["type"], event["text"]) == ("message", "build [#1](https://ci/1) green")
    assert event["author"] == {"username": "alice", "display_name": "alice"}
    assert event["shown_name"] == "CI"

    form = b"payload=" + json.dumps({"text": "from a form"}).encode()
    res = hook_post(secret, form, **{"Content-Type": "application/x-www-form-urlencoded"})
    assert res["statusCode"] == 200 and one(management, "H=")["text"] == "from a form"

    # Bad input: the documented errors, as `hubbub serve` gives them; nothing posted.
    for wrong, status, code in [
        (hook_post("wrong", body), 404, "not_found"),
        (hook_post(secret, b"{nope"), 400, "invalid_json"),
        (hook_post(secret, b"[1]"), 400, "invalid_input"),
        (hook_post(secret, b"x" * (Limits().max_body_bytes + 1)), 413, "body_too_large"),
    ]:
        assert wrong["statusCode"] == status, wrong
        assert json.loads(wrong["body"])["error"]["code"] == code
    assert management.take("H=") == []


def test_a_custom_command_answers_on_the_websocket_api_now_and_later(
    lam: runtime.Runtime, management: ManagementApi
) -> None:
    _, login = lam.run(lam.hub.register("alice", "correct horse"))  # the owner
    identity = lam.run(lam.hub.authenticate(login))
    with receiving() as receiver:
        lam.run(lam.hub.custom_commands.create(identity, "deploy", f"{receiver.url}/x"))
        receiver.answer = lambda req: Reply(body=b'{"text": "on it"}')
        assert connect("C=", token=login)["statusCode"] == 200
        send("C=", {"action": "subscribe", "channel": "general", "since": 0, "id": 1})
        assert one(management, "C=")["type"] == "subscribed"
        send("C=", {"action": "command", "channel": "general", "text": "/deploy prod", "id": 2})
        answer = one(management, "C=")
        assert (answer["type"], answer["response_type"], answer["text"]) == (
            "command_result",
            "ephemeral",
            "on it",
        )
        form = receiver.next().form
        assert form["text"] == "prod" and form["user_name"] == "alice"
    respond_url = form["response_url"]
    prefix = "https://efgh5678.execute-api.us-east-1.amazonaws.com"
    assert respond_url.startswith(prefix + "/commands/respond/")
    path = respond_url.removeprefix(prefix)
    event = apigw.http_event(
        "POST",
        path,
        domain="efgh5678.execute-api.us-east-1.amazonaws.com",
        stage="$default",
        route="/commands/respond/{token}",
        params={"token": path.rsplit("/", 1)[1]},
        headers={"content-type": "application/json"},
        body=b'{"response_type": "in_channel", "text": "prod is live"}',
    )
    res = handlers.HTTP_ROUTES[event["routeKey"]](event, None)
    assert (res["statusCode"], res["body"]) == (200, "ok")
    live = one(management, "C=")
    assert (live["type"], live["text"], live["author"]["username"]) == (
        "message",
        "prod is live",
        "alice",
    )


class Context:
    """What a scheduled invocation's context tells the handler: its time left."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def get_remaining_time_in_millis(self) -> int:
        return int(self.seconds * 1000)


def test_the_scheduled_function_delivers_outgoing_hooks_and_posts_their_answers(
    lam: runtime.Runtime, management: ManagementApi
) -> None:
    _, login = lam.run(lam.hub.register("alice", "correct horse"))
    identity = lam.run(lam.hub.authenticate(login))
    with receiving() as receiver:
        hook = lam.run(lam.hub.hooks.create_outgoing(identity, "general", "ci", receiver.url))
        receiver.answer = lambda req: Reply(
            body=json.dumps({"text": f"seen {req.form['text']}"}).encode()
        )
        assert connect("O=", token=login)["statusCode"] == 200
        send("O=", {"action": "subscribe", "channel": "general", "since": 0, "id": 1})
        assert one(management, "O=")["type"] == "subscribed"
        for i in range(3):
            send(
                "O=", {"action": "send", "channel": "general", "text": f"m{i}", "client_id": f"{i}"}
            )
        got = management.take("O=")
        seqs = [f["seq"] for f in got if f["type"] == "message"]
        assert len(seqs) == 3
        assert receiver.requests.empty()  # nothing runs between invocations

        res = handlers.SCHEDULES["rate(1 minute)"]({}, Context(60.0))
        assert res == {"ok": True}
        keys = [receiver.next(timeout=0).headers["idempotency-key"] for _ in seqs]
        assert keys == [f"hook-{hook.id}-{seq}" for seq in seqs]
        answers = [f["text"] for f in management.take("O=") if f["type"] == "message"]
        assert answers == ["seen m0", "seen m1", "seen m2"]
        box = lam.run(lam.hub.store.outbox(hook.id))
        assert box is not None and box.delivered == 3 and box.lease_until == 0  # given back
        # The next run finds nothing new (the answers are not delivered back).
        handlers.SCHEDULES["rate(1 minute)"]({}, Context(60.0))
        assert receiver.requests.empty()


def test_an_api_token_signs_in_within_its_scopes_until_revoked(
    lam: runtime.Runtime, management: ManagementApi
) -> None:
    _, login = lam.run(lam.hub.register("alice", "correct horse"))
    identity = lam.run(lam.hub.authenticate(login))
    token, made = lam.run(lam.hub.tokens.create(identity, "dashboard", ["read"]))

    assert connect("T=", token=token)["statusCode"] == 200
    send("T=", {"action": "subscribe", "channel": "general", "since": 0, "id": 1})
    assert one(management, "T=")["type"] == "subscribed"
    send("T=", {"action": "send", "channel": "general", "text": "no", "client_id": "c", "id": 2})
    err = one(management, "T=")
    assert (err["code"], err["id"]) == ("missing_scope", 2)
    assert management.deleted == []  # refused, still connected
    # a forged secret for the same token is refused at $connect
    forged = token.rsplit(".", 1)[0] + ".x"
    assert connect("F=", token=forged)["statusCode"] == 401

    # Revoked where the connection's user topic reaches it: closed at once.
    lam.run(lam.hub.tokens.revoke(identity, made.id))
    got = management.take("T=")
    assert got[0]["code"] == "session_ended", got
    assert management.deleted == ["T="]


def test_native_bad_auth_says_why_then_closes(
    lam: runtime.Runtime, management: ManagementApi
) -> None:
    connect("N=")
    send("N=", {"action": "auth", "token": "forged", "id": 1})
    err = one(management, "N=")
    assert (err["code"], err["id"]) == ("token_invalid", 1)
    assert management.deleted == ["N="]
