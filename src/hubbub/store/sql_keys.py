"""`(a, b) IN keys` with the keys as one bound parameter.

SQLAlchemy caches a statement's compiled form by its structure. An IN list
written out per key (or per channel) is a new structure whenever the keys
differ, so every page of search results, reactions or thread summaries was
compiled afresh, and compiling cost more than running it (about half of a
search page's time). Sent as one JSON array, the statement is the same every
time. SQLite reads it with `json_each`, PostgreSQL with
`jsonb_array_elements`; both still search the index on (a, b), where a
row-value IN over a written-out list made SQLite scan the whole table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Boolean, String, bindparam
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal


class PairsIn(ColumnElement[bool]):
    """`(a, b) IN keys`; see the module's docstring."""

    inherit_cache = True
    type = Boolean()
    # A condition in itself: without this, SQLite's compiler writes `... = 1`,
    # which hides the IN from its planner (a full scan).
    _is_implicitly_boolean = True
    _traverse_internals = [
        ("a", InternalTraversal.dp_clauseelement),
        ("b", InternalTraversal.dp_clauseelement),
        ("keys", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, a: Any, b: Any, keys: Sequence[tuple[int, int]]) -> None:
        self.a, self.b = a, b
        self.keys = bindparam(None, orjson.dumps(list(keys)).decode(), type_=String())


def pairs_in(a: Any, b: Any, keys: Sequence[tuple[int, int]]) -> PairsIn:
    return PairsIn(a, b, keys)


# The keys as rows, per dialect. PostgreSQL casts from text: the parameter
# is the JSON's text, whatever codec the driver has for jsonb.
_ROWS = {
    "sqlite": "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]')"
    " FROM json_each({keys})",
    "postgresql": "SELECT (value ->> 0)::bigint, (value ->> 1)::bigint"
    " FROM jsonb_array_elements(CAST(CAST({keys} AS text) AS jsonb))",
}


@compiles(PairsIn, "sqlite")
@compiles(PairsIn, "postgresql")
def _compile(element: PairsIn, compiler: Any, **kw: Any) -> str:
    a, b, keys = (compiler.process(x, **kw) for x in (element.a, element.b, element.keys))
    rows = _ROWS[compiler.dialect.name].format(keys=keys)
    return f"({a}, {b}) IN ({rows})"
