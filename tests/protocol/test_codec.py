"""hubbub.protocol.codec without sockets: every kind of bad input becomes a
ChatError with its documented code, and nothing else ever escapes."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hubbub.protocol import frames as f
from hubbub.protocol.codec import (
    decode_client,
    decode_json,
    encode,
    frame_id,
    plain_ping,
    validate_client,
)
from hubbub.protocol.errors import ChatError, ErrorCode

# One minimal valid frame per action (all required fields, nothing else).
VALID: dict[str, dict[str, Any]] = {
    "auth": {"action": "auth", "token": "t0k3n"},
    "subscribe": {"action": "subscribe", "channel": "general"},
    "unsubscribe": {"action": "unsubscribe", "channel": "general"},
    "send": {"action": "send", "channel": "general", "text": "hi", "client_id": "c1"},
    "edit": {"action": "edit", "channel": "general", "seq": 3, "text": "hi!"},
    "delete": {"action": "delete", "channel": "general", "seq": 3},
    "react": {"action": "react", "channel": "general", "seq": 3, "emoji": ":+1:"},
    "unreact": {"action": "unreact", "channel": "general", "seq": 3, "emoji": "👍"},
    "pin": {"action": "pin", "channel": "general", "seq": 3},
    "unpin": {"action": "unpin", "channel": "general", "seq": 3},
    "pins": {"action": "pins", "channel": "general"},
    "thread": {"action": "thread", "channel": "general", "seq": 3},
    "threads": {"action": "threads"},
    "read_thread": {"action": "read_thread", "channel": "general", "thread_root": 3, "seq": 4},
    "history": {"action": "history", "channel": "general"},
    "search": {"action": "search", "query": "deploy in:#general"},
    "file_url": {"action": "file_url", "file_id": "Jq3vX9sKd0bW4mT7yZp2Lg"},
    "upload": {"action": "upload", "channel": "general", "name": "a.png", "size": 10},
    "file_uploaded": {"action": "file_uploaded", "file_id": "Jq3vX9sKd0bW4mT7yZp2Lg"},
    "typing": {"action": "typing", "channel": "general"},
    "read": {"action": "read", "channel": "general", "seq": 3},
    "watch_presence": {"action": "watch_presence", "usernames": ["alice"]},
    "ping": {"action": "ping"},
    "sendMessage": {"action": "sendMessage", "content": "hello"},
    "getRecentMessages": {"action": "getRecentMessages"},
    "command": {"action": "command", "channel": "general", "text": "/shrug"},
    "notifications": {"action": "notifications"},
    "set_notifications": {"action": "set_notifications", "dnd_minutes": 30, "email_digest": True},
    "channel_notifications": {"action": "channel_notifications", "channel": "general"},
    "set_channel_notifications": {
        "action": "set_channel_notifications",
        "channel": "general",
        "level": "all",
        "muted": False,
    },
}

INPUT_CODES = {
    ErrorCode.invalid_json,
    ErrorCode.invalid_utf8,
    ErrorCode.invalid_input,
    ErrorCode.unknown_action,
}


def fails(raw: bytes | str) -> ChatError:
    with pytest.raises(ChatError) as info:
        decode_client(raw)
    return info.value


def dumps(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def test_valid_covers_every_action() -> None:
    assert set(VALID) == set(f.ACTIONS)


# --- valid frames ------------------------------------------------------------------


@pytest.mark.parametrize("action", sorted(VALID))
@pytest.mark.parametrize("as_bytes", [True, False], ids=["bytes", "str"])
def test_decode_valid_frame(action: str, as_bytes: bool) -> None:
    raw = json.dumps(VALID[action])
    frame = decode_client(raw.encode() if as_bytes else raw)
    assert type(frame) is f.ACTIONS[action]
    assert frame.id is None
    for key, value in VALID[action].items():
        assert getattr(frame, key) == value


def test_defaults_fill_optional_fields() -> None:
    sub = decode_client(dumps(VALID["subscribe"]))
    assert isinstance(sub, f.Subscribe) and sub.since is None
    hist = decode_client(dumps(VALID["history"]))
    assert isinstance(hist, f.History)
    assert (hist.before, hist.after, hist.limit) == (None, None, 50)
    msg = decode_client(dumps(VALID["sendMessage"]))
    assert isinstance(msg, f.SendMessage)
    assert (msg.room_name, msg.user_name, msg.username, msg.token) == (None, None, None, None)


def test_decode_full_frames() -> None:
    frame = decode_client(
        dumps(
            {"action": "history", "id": "h1", "channel": "dm:alice,bob", "after": 0, "limit": 200}
        )
    )
    assert isinstance(frame, f.History)
    assert (frame.id, frame.channel, frame.after, frame.limit) == ("h1", "dm:alice,bob", 0, 200)
    sub = decode_client(dumps({"action": "subscribe", "channel": "general", "since": 41}))
    assert isinstance(sub, f.Subscribe) and sub.since == 41
    msg = decode_client(
        dumps({"action": "sendMessage", "content": "x", "username": "bob", "token": "t"})
    )
    assert isinstance(msg, f.SendMessage) and (msg.username, msg.token) == ("bob", "t")


def test_binary_payload_with_utf8_text() -> None:
    frame = decode_client(json.dumps({**VALID["send"], "text": "héllo 👋"}).encode("utf-8"))
    assert isinstance(frame, f.Send) and frame.text == "héllo 👋"


def test_extra_fields_are_ignored() -> None:
    frame = decode_client(
        dumps({"action": "ping", "id": 1, "foo": 1, "nested": {"a": [1, 2]}, "channel": "x"})
    )
    assert type(frame) is f.Ping
    assert frame.model_dump() == {"id": 1, "action": "ping"}
    assert not hasattr(frame, "foo")


# --- bad bytes and bad JSON ------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b"nul",
        b"{'action': 'ping'}",
        b'{"action": "ping",}',
        b'{"action": "ping"} {"action": "ping"}',
        b'{"action": "ping", "x": NaN}',
        b"\xef\xbb\xbf{}",  # a BOM
        b"[" * 5000,  # nesting deeper than the parser allows
        "{",
        "",
    ],
)
def test_invalid_json(raw: bytes | str) -> None:
    err = fails(raw)
    assert err.code is ErrorCode.invalid_json
    assert err.message.startswith("invalid JSON")


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff",
        b"\xc3\x28",
        b'{"action": "ping", "x": "\xed\xa0\x80"}',  # an encoded surrogate
        b'{"action": "send", "text": "\xe2\x82"}',  # truncated sequence
    ],
)
def test_invalid_utf8(raw: bytes) -> None:
    err = fails(raw)
    assert err.code is ErrorCode.invalid_utf8
    assert err.field is None


@pytest.mark.parametrize(
    "raw", ["[]", '[{"action": "ping"}]', "5", "1.5", '"ping"', "null", "true"]
)
def test_non_object_json(raw: str) -> None:
    err = fails(raw)
    assert err.code is ErrorCode.invalid_input
    assert err.message == "a frame must be a JSON object"


# --- routing -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "obj",
    [
        {},
        {"channel": "general"},
        {"action": "nope"},
        {"action": "PING"},
        {"action": ""},
        {"action": 5},
        {"action": None},
        {"action": True},
        {"action": ["ping"]},
        {"action": {"name": "ping"}},
        {"type": "ping"},
    ],
)
def test_unknown_action(obj: dict[str, Any]) -> None:
    err = fails(dumps(obj))
    assert err.code is ErrorCode.unknown_action
    assert err.field == "action"
    assert "ping" in err.message  # it lists the known actions


# --- validation ----------------------------------------------------------------------------

REQUIRED = [
    (action, name)
    for action, model in sorted(f.ACTIONS.items())
    for name, info in model.model_fields.items()
    if info.is_required() and name != "action"
]


def test_required_fields_are_known() -> None:
    assert ("send", "client_id") in REQUIRED
    assert ("sendMessage", "content") in REQUIRED
    assert ("auth", "token") in REQUIRED


@pytest.mark.parametrize(("action", "name"), REQUIRED)
def test_missing_required_field(action: str, name: str) -> None:
    obj = {k: v for k, v in VALID[action].items() if k != name}
    err = fails(dumps(obj))
    assert err.code is ErrorCode.invalid_input
    assert err.field == name
    assert err.message == f"{name} not in message dict"


@pytest.mark.parametrize(
    ("obj", "field"),
    [
        ({**VALID["subscribe"], "since": "5"}, "since"),
        ({**VALID["subscribe"], "since": 5.0}, "since"),
        ({**VALID["subscribe"], "since": -1}, "since"),
        ({**VALID["subscribe"], "since": True}, "since"),
        ({**VALID["subscribe"], "channel": ""}, "channel"),
        ({**VALID["subscribe"], "channel": "x" * 321}, "channel"),
        ({**VALID["subscribe"], "channel": 5}, "channel"),
        ({**VALID["send"], "text": 5}, "text"),
        ({**VALID["send"], "text": None}, "text"),
        ({**VALID["send"], "client_id": ""}, "client_id"),
        ({**VALID["send"], "client_id": "x" * 65}, "client_id"),
        ({**VALID["send"], "client_id": 7}, "client_id"),
        ({**VALID["history"], "limit": 0}, "limit"),
        ({**VALID["history"], "limit": 201}, "limit"),
        ({**VALID["history"], "limit": "10"}, "limit"),
        ({**VALID["history"], "limit": 10.0}, "limit"),
        ({**VALID["history"], "before": -5}, "before"),
        ({**VALID["history"], "after": "1"}, "after"),
        ({**VALID["read"], "seq": None}, "seq"),
        ({**VALID["read"], "seq": "3"}, "seq"),
        ({**VALID["watch_presence"], "usernames": "alice"}, "usernames"),
        ({**VALID["watch_presence"], "usernames": ["a"] * 501}, "usernames"),
        ({**VALID["watch_presence"], "usernames": ["alice", 1]}, "usernames.1"),
        ({**VALID["auth"], "token": 5}, "token"),
        ({**VALID["sendMessage"], "content": None}, "content"),
        ({**VALID["sendMessage"], "room_name": 5}, "room_name"),
        ({**VALID["getRecentMessages"], "room_name": ["lobby"]}, "room_name"),
        ({**VALID["command"], "text": "shrug"}, "text"),
        ({**VALID["command"], "text": "//shrug"}, "text"),
        ({**VALID["command"], "text": 5}, "text"),
        ({**VALID["set_channel_notifications"], "level": "loud"}, "level"),
        ({**VALID["set_channel_notifications"], "muted": "yes"}, "muted"),
        ({**VALID["set_notifications"], "dnd_minutes": 0}, "dnd_minutes"),
        ({**VALID["set_notifications"], "dnd_minutes": 7 * 24 * 60 + 1}, "dnd_minutes"),
        ({**VALID["set_notifications"], "dnd_until": -1}, "dnd_until"),
        ({"action": "set_notifications", "schedule": {"start": "9:00"}}, "schedule"),
    ],
)
def test_wrong_type_or_value(obj: dict[str, Any], field: str) -> None:
    err = fails(dumps(obj))
    assert err.code is ErrorCode.invalid_input
    assert err.field == field
    assert err.message.startswith(f"{field}: ")


def test_huge_integer_is_invalid_not_a_crash() -> None:
    err = fails(b'{"action": "read", "channel": "general", "seq": 123456789012345678901234567890}')
    assert err.code is ErrorCode.invalid_input and err.field == "seq"


# --- frame ids -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({"id": "a1"}, "a1"),
        ({"id": ""}, ""),
        ({"id": 7}, 7),
        ({"id": 0}, 0),
        ({"id": -3}, -3),
        ({"id": True}, None),
        ({"id": False}, None),
        ({"id": None}, None),
        ({"id": 1.5}, None),
        ({"id": 2.0}, None),
        ({"id": [1]}, None),
        ({"id": {"a": 1}}, None),
        ({}, None),
        ([{"id": 1}], None),
        ("id", None),
        (None, None),
        (5, None),
    ],
)
def test_frame_id_echo_rules(obj: Any, expected: str | int | None) -> None:
    got = frame_id(obj)
    assert got == expected
    assert type(got) is type(expected)


@pytest.mark.parametrize("fid", ["x", "", 7, 0, -1, 2**62])
def test_usable_id_is_kept(fid: str | int) -> None:
    frame = decode_client(dumps({"action": "ping", "id": fid}))
    assert frame.id == fid and type(frame.id) is type(fid)


def test_null_id_is_no_id() -> None:
    assert decode_client(b'{"action": "ping", "id": null}').id is None


@pytest.mark.parametrize("fid", [True, False, 1.5, 2.0, [1], {"a": 1}])
def test_unusable_id_is_rejected_and_not_echoed(fid: Any) -> None:
    obj = {"action": "ping", "id": fid}
    err = fails(dumps(obj))
    assert err.code is ErrorCode.invalid_input
    assert err.field == "id"  # not pydantic's union member (`id.str`)
    assert err.message.startswith("id: ")
    assert frame_id(obj) is None  # the error frame will carry `"id": null`


# --- encode ------------------------------------------------------------------------------------


def test_encode_round_trips() -> None:
    frame = {"type": "pong", "id": "p", "time": 1, "text": "héllo 👋", "n": None}
    data = encode(frame)
    assert isinstance(data, bytes)
    assert decode_json(data) == frame
    assert orjson.loads(data) == frame


# --- never anything but a ChatError ----------------------------------------------------------

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
JSONISH = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
FIELD_NAMES = sorted({n for m in f.CLIENT_FRAMES for n in m.model_fields} - {"action"})
FRAMEISH = st.fixed_dictionaries(
    {"action": st.sampled_from(sorted(f.ACTIONS))},
    optional={name: JSONISH for name in FIELD_NAMES},
)


def check(raw: bytes | str) -> None:
    try:
        frame = decode_client(raw)
    except ChatError as err:
        assert err.code in INPUT_CODES, err.code
        assert isinstance(err.message, str) and err.message
        return
    assert isinstance(frame, f.ClientFrame)
    assert type(frame) in f.CLIENT_FRAMES


@given(JSONISH | FRAMEISH)
def test_any_json_value_decodes_or_raises_chat_error(value: Any) -> None:
    check(json.dumps(value))  # NaN and Infinity come out as invalid JSON
    check(json.dumps(value).encode())
    check(orjson.dumps(value) if _orjson_ok(value) else b"null")
    try:
        frame = validate_client(value)
    except ChatError as err:
        assert err.code in INPUT_CODES
    else:
        assert isinstance(value, dict) and type(frame) is f.ACTIONS[value["action"]]


@given(FRAMEISH)
def test_frames_with_any_fields_decode_to_their_action(value: dict[str, Any]) -> None:
    try:
        frame = decode_client(json.dumps(value).encode())
    except ChatError as err:
        assert err.code in (ErrorCode.invalid_input, ErrorCode.invalid_json)
        assert err.field is not None or err.code is ErrorCode.invalid_json
    else:
        assert type(frame) is f.ACTIONS[value["action"]]


PINGISH = st.fixed_dictionaries(
    {"action": st.just("ping") | JSONISH},
    optional={"id": JSONISH | st.booleans() | st.floats(), "channel": JSONISH},
)


def agrees_with_decode_client(raw: bytes) -> bool:
    """plain_ping says "a ping with this id" exactly when decode_client does."""
    is_ping, fid = plain_ping(raw)
    try:
        frame = decode_client(raw)
    except ChatError:
        expected: tuple[bool, Any] = (False, None)
    else:
        expected = (True, frame.id) if isinstance(frame, f.Ping) else (False, None)
    assert (is_ping, fid) == expected
    assert type(fid) is type(expected[1])  # 1 is not True
    return is_ping


@given(PINGISH | JSONISH | FRAMEISH)
def test_plain_ping_agrees_with_the_schema(value: Any) -> None:
    if _orjson_ok(value):
        agrees_with_decode_client(orjson.dumps(value))
    agrees_with_decode_client(json.dumps(value).encode())


@given(st.binary(max_size=60).map(lambda b: b'{"action":"ping","id":"' + b + b'"}'))
def test_plain_ping_refuses_what_the_schema_refuses(raw: bytes) -> None:
    agrees_with_decode_client(raw)  # invalid UTF-8, broken JSON, escapes


@pytest.mark.parametrize(
    ("raw", "fid"),
    [
        (b'{"action":"ping"}', None),
        (b'{"action": "ping", "id": 7}', 7),
        (b'{"id":"h1","action":"ping","extra":[1]}', "h1"),
    ],
)
def test_plain_ping_recognises_heartbeats(raw: bytes, fid: str | int | None) -> None:
    assert agrees_with_decode_client(raw)
    assert plain_ping(raw) == (True, fid)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"action":"ping","id":true}',
        b'{"action":"ping","id":1.5}',
        b'{"action":"ping","id":[]}',
        b'{"action":"Ping"}',
        b'["ping"]',
        b'{"action":"ping"',
        b'{"action":"ping","id":"\xff"}',
    ],
)
def test_plain_ping_declines_the_rest(raw: bytes) -> None:
    assert not agrees_with_decode_client(raw)


@given(st.binary(max_size=200))
def test_any_bytes_decode_or_raise_chat_error(raw: bytes) -> None:
    check(raw)


@given(st.text(max_size=200))
def test_any_text_decodes_or_raises_chat_error(raw: str) -> None:
    check(raw)
    check(raw.encode("utf-8"))


def _orjson_ok(value: Any) -> bool:
    """orjson refuses integers beyond 64 bits when encoding."""
    try:
        orjson.dumps(value)
    except TypeError:
        return False
    return True
