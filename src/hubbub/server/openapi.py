"""The OpenAPI document at /openapi.json, made to say only what the server does.

Each route lists the error codes it can answer with (`errors`); they become its
documented responses, one per status, each with the standard error body and
the headers that come with it (`Retry-After` on 429, `WWW-Authenticate` on
401). FastAPI's automatic 422 is taken out: hubbub answers every validation
error with 400 and its own error body (see `rest._validation_error`). Values
that an operator can change (`--limit`) are filled in by `API.openapi` from the
limits the server runs with, so the document of a running server is its truth.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, Field

from hubbub.protocol.errors import ErrorCode

Schema = dict[str, Any]
# A change to the generated document (e.g. a limit the server was started with).
Patch = Callable[[Schema], None]

# FastAPI's validation error schemas: documented only for its 422, never sent.
_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


class ErrorBody(BaseModel):
    code: str = Field(
        description="One of hubbub's error codes (docs/protocol.md).",
        json_schema_extra={"enum": [code.name for code in ErrorCode]},
    )
    message: str = Field(description="For people: what went wrong.")
    field: str | None = Field(None, description="The input field at fault, if one is.")
    retry_after: float | None = Field(
        None, description="With 429: seconds to wait (also in the `Retry-After` header)."
    )


class ErrorOut(BaseModel):
    """Every error: `{"error": {"code", "message", ...}}`."""

    error: ErrorBody


_HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": "`Bearer`: send `Authorization: Bearer <token>`.",
            "required": True,
            "schema": {"type": "string"},
        }
    },
    429: {
        "Retry-After": {
            "description": "Whole seconds to wait before retrying (at least 1).",
            "required": True,
            "schema": {"type": "integer", "minimum": 1},
        }
    },
}


def plain_ok(path: str) -> Callable[[Schema], None]:
    """A patch for the POST at `path` whose 200 is Slack's `ok` in text/plain
    only (FastAPI documents a JSON one besides)."""

    def patch(schema: Schema) -> None:
        ok = schema["paths"][path]["post"]["responses"]["200"]
        ok["content"].pop("application/json", None)

    return patch


def errors(*codes: ErrorCode) -> dict[int | str, dict[str, Any]]:
    """The documented responses (for `responses=`) of a route that can fail
    with these codes: one per status, listing its codes and what they mean."""
    by_status: dict[int, list[ErrorCode]] = {}
    for code in dict.fromkeys(codes):
        by_status.setdefault(code.status, []).append(code)
    out: dict[int | str, dict[str, Any]] = {}
    for status, group in sorted(by_status.items()):
        lines = "\n".join(f"- `{code.name}`: {code.doc}" for code in group)
        response: dict[str, Any] = {
            "model": ErrorOut,
            "description": f"{HTTPStatus(status).phrase}. `error.code` is one of:\n\n{lines}",
            # The same list for machines (and the tests).
            "x-error-codes": [code.name for code in group],
        }
        if status in _HEADERS:
            response["headers"] = _HEADERS[status]
        out[status] = response
    return out


# What a regular expression must escape to mean itself in ECMA-262 (JSON
# Schema's dialect, with or without the `u` flag), Python and Rust alike:
# ECMA-262's syntax characters. (Escaping anything else, as `re.escape` does
# with `#`, `-` or `&`, is an error in ECMA-262's `u` mode.)
_SYNTAX = frozenset("^$\\.*+?()[]{}|/")


def alternation(words: Iterable[str]) -> str:
    """A pattern (for `pattern`) that matches exactly `words`, whole: one
    alternation of literals, read the same by ECMA-262, Python and Rust
    (schemathesis generates from it in Python, validates in Rust; a browser
    reads it in JavaScript). Flat, not folded into a trie: a third smaller,
    but a tree of groups that Hypothesis takes five times longer to draw from
    (it factors a flat one's shared prefixes itself)."""
    escaped = ("".join("\\" + c if c in _SYNTAX else c for c in w) for w in words)
    return f"^(?:{'|'.join(escaped)})$"


class API(FastAPI):
    """FastAPI with a document freed of what hubbub never answers (422) and
    completed by `patches` (added by whoever installs the routes)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.openapi_patches: list[Patch] = []

    def openapi(self) -> Schema:
        if self.openapi_schema is None:
            schema = super().openapi()
            _drop_validation_errors(schema)
            for patch in self.openapi_patches:
                patch(schema)
            self.openapi_schema = schema
        return self.openapi_schema


def operations(schema: Schema) -> Iterable[tuple[str, str, Schema]]:
    """(path, method, operation) for every operation in the document."""
    for path, item in schema.get("paths", {}).items():
        for method, op in item.items():
            if method in ("get", "put", "post", "delete", "patch", "head", "options", "trace"):
                yield path, method, op


def _drop_validation_errors(schema: Schema) -> None:
    for _, _, op in operations(schema):
        op.get("responses", {}).pop("422", None)
    components = schema.get("components", {}).get("schemas", {})
    for name in _VALIDATION_SCHEMAS:
        # Kept only if something still points at one (nothing in hubbub does).
        if f'"#/components/schemas/{name}"' not in json.dumps(schema):
            components.pop(name, None)
