"""Bytes <-> frames. Decoding turns every kind of bad input into a ChatError
with its documented code; encoding is orjson on plain dicts (the hot path)."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import ValidationError

from hubbub.protocol.errors import ChatError, ErrorCode
from hubbub.protocol.frames import ACTIONS, ClientFrame


def encode(frame: dict[str, Any]) -> bytes:
    return orjson.dumps(frame)


def decode_json(raw: bytes | str) -> Any:
    if isinstance(raw, bytes):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ChatError(ErrorCode.invalid_utf8, "frame is not valid UTF-8") from None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ChatError(ErrorCode.invalid_json, f"invalid JSON: {exc}") from None


def plain_ping(raw: bytes) -> tuple[bool, str | int | None]:
    """(True, its id) when `raw` is a `ping` that `decode_client` accepts as
    is; (False, None) for anything else, which then takes the full path and
    gets its errors there. It skips pydantic, whose validators were the
    largest share of hubbub's own code in an idle server's CPU per heartbeat
    (docs/benchmarks.md).
    `tests/protocol/test_codec.py` checks it never disagrees with `Ping`."""
    try:
        obj = orjson.loads(raw)  # also refuses invalid UTF-8
    except orjson.JSONDecodeError:
        return False, None
    if type(obj) is not dict or obj.get("action") != "ping":
        return False, None
    fid = frame_id(obj)  # strict like `ClientFrame.id`: a bool or a float is not an id
    if fid is None and obj.get("id") is not None:
        return False, None
    return True, fid


def frame_id(obj: Any) -> str | int | None:
    """The `id` to echo in an error about `obj`, if it has a usable one."""
    if isinstance(obj, dict):
        fid = obj.get("id")
        if isinstance(fid, str | int) and not isinstance(fid, bool):
            return fid
    return None


def decode_client(raw: bytes | str) -> ClientFrame:
    """Parse and validate one client frame, or raise ChatError."""
    return validate_client(decode_json(raw))


def validate_client(obj: Any) -> ClientFrame:
    if not isinstance(obj, dict):
        raise ChatError(ErrorCode.invalid_input, "a frame must be a JSON object")
    action = obj.get("action")
    model = ACTIONS.get(action) if isinstance(action, str) else None
    if model is None:
        raise ChatError(
            ErrorCode.unknown_action,
            f"unknown action {action!r}; known: {', '.join(sorted(ACTIONS))}",
            field="action",
        )
    try:
        return model.model_validate(obj)
    except ValidationError as exc:
        raise validation_error(exc) from None


def validation_error(exc: ValidationError) -> ChatError:
    first = exc.errors(include_url=False)[0]
    # The field, then list indexes; not the union member tried (`id.str` -> `id`).
    loc = first["loc"][:1] + tuple(p for p in first["loc"][1:] if isinstance(p, int))
    field = ".".join(str(p) for p in loc) or None
    if first["type"] == "missing":
        message = f"{field} not in message dict"  # the S1 tutorial's wording
    else:
        message = f"{field}: {first['msg']}"
    return ChatError(ErrorCode.invalid_input, message, field=field)
