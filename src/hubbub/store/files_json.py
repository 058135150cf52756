"""A message's files as every backend stores them beside it: compact JSON, a
list of objects with FileInfo's fields, the defaults (no dimensions, no
thumbnail) left out. None (SQL NULL, no attribute) for a message with none, so
plain messages carry nothing extra."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from hubbub.core.models import FileInfo


def dumps(files: Sequence[FileInfo]) -> str | None:
    if not files:
        return None
    out: list[dict[str, Any]] = []
    for f in files:
        d: dict[str, Any] = {"id": f.id, "name": f.name, "size": f.size, "type": f.content_type}
        if f.width is not None:
            d["w"] = f.width
        if f.height is not None:
            d["h"] = f.height
        if f.thumbnail:
            d["thumb"] = True
        out.append(d)
    # Text, not bytes: a TEXT column, a DynamoDB string.
    return orjson.dumps(out).decode()


def loads(text: str | None) -> tuple[FileInfo, ...]:
    if not text:
        return ()
    return tuple(
        FileInfo(
            d["id"],
            d["name"],
            d["size"],
            d["type"],
            width=d.get("w"),
            height=d.get("h"),
            thumbnail=bool(d.get("thumb", False)),
        )
        for d in orjson.loads(text)
    )
