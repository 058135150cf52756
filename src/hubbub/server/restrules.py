"""Constraints the REST models take from the code that checks the same
thing (the wire frames' fields, the core's rules), shared by the route
modules so the document and the checks cannot drift apart."""

from __future__ import annotations

import functools
from typing import Any

from emoji import EMOJI_DATA
from pydantic import BaseModel, JsonValue

from hubbub.core.auth import MAX_PASSWORD, MIN_PASSWORD, USERNAME_RE
from hubbub.protocol import frames
from hubbub.protocol.rules import MAX_EMOJI_BYTES


def bound(model: type[BaseModel], field: str, name: str) -> Any:
    """A constraint (`min_length`, `le`...) of a field of a wire frame, so the
    REST route that does the same thing takes it from there."""
    for item in model.model_fields[field].metadata:
        if hasattr(item, name):
            return getattr(item, name)
    raise LookupError(f"{model.__name__}.{field} has no {name}")


PASSWORD_RULE: dict[str, JsonValue] = {"minLength": MIN_PASSWORD, "maxLength": MAX_PASSWORD}


def _not_only_space() -> str:
    """A pattern for "not only white space", white space being what
    `str.strip()` removes (as the core's check does). Spelled out as code
    points, since `\\s` is not the same set in Python and in JSON Schema's
    ECMA-262 regular expressions (U+0085, U+001C-U+001F, U+FEFF)."""
    runs: list[list[int]] = []
    for n in range(0x10000):  # Unicode's white space is all in the BMP
        if chr(n).isspace():
            if runs and runs[-1][1] == n - 1:
                runs[-1][1] = n
            else:
                runs.append([n, n])
    spans = (f"\\u{a:04x}" + (f"-\\u{b:04x}" if b > a else "") for a, b in runs)
    return f"[^{''.join(spans)}]"


NOT_ONLY_SPACE = _not_only_space()
# What a username must look like (core.auth checks the same).
USERNAME_RULE: dict[str, JsonValue] = {"pattern": USERNAME_RE.pattern}
EMOJI_MAX = bound(frames.React, "emoji", "max_length")


@functools.cache
def emoji_names() -> frozenset[str]:
    """What a reaction's path segment may be: each emoji the `emoji` package
    knows, as itself, and each of their `:shortcodes:` (Slack's and GitHub's
    aliases, and the Unicode names: `:+1:`, `:thumbsup:`, `:thumbs_up:`).
    `core.reactions.normalize` takes each (tests/e2e/test_message_changes_rest.py
    checks every one), and the path takes nothing else, so the document can
    list them exactly (`document_emoji`). (The WebSocket's `react` also takes
    them padded with white space, and shortcodes' NFKC look-alikes.)"""
    names: set[str] = set()
    for char, data in EMOJI_DATA.items():
        if len(char.encode()) <= MAX_EMOJI_BYTES:
            names.add(char)
            names.update(n for n in (data["en"], *data.get("alias", ())) if len(n) <= EMOJI_MAX)
    return frozenset(names)
