"""`GET /api/search`: full-text search of every message you may read, as the
WebSocket's `search` action answers it (core.searcher)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from hubbub.core.searcher import results_body
from hubbub.protocol import frames
from hubbub.protocol.frames import SearchResult
from hubbub.server.openapi import errors
from hubbub.server.restkit import SIGNED_IN, AuthFirstRoute, E, HubDep, UserDep
from hubbub.server.restrules import bound

search_api = APIRouter(prefix="/api", route_class=AuthFirstRoute)

QUERY_MIN = bound(frames.Search, "query", "min_length")
QUERY_MAX = bound(frames.Search, "query", "max_length")
OFFSET_MAX = bound(frames.Search, "offset", "le")
LIMIT_MIN = bound(frames.Search, "limit", "ge")
LIMIT_MAX = bound(frames.Search, "limit", "le")
LIMIT_DEFAULT: int = frames.Search.model_fields["limit"].default
TZ_MIN = bound(frames.Search, "tz", "ge")
TZ_MAX = bound(frames.Search, "tz", "le")
TZ_DOC = frames.Search.model_fields["tz"].description


class SearchOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(description="`q`, as asked.")
    results: list[SearchResult]
    more: bool = Field(description="There are more matches after these.")
    next_offset: int | None = Field(description="The `offset` of the next page; null: none.")


@search_api.get(
    "/search",
    response_model=SearchOut,
    tags=["messages"],
    responses=errors(*SIGNED_IN, E.invalid_input, E.invalid_query, E.unsupported),
)
async def search(
    hub: HubDep,
    user: UserDep,
    q: Annotated[
        str,
        Query(
            min_length=QUERY_MIN,
            max_length=QUERY_MAX,
            description='Words, "phrases" and filters: `in:#channel`, `from:@user`, '
            "`before:`/`after:`/`on:YYYY-MM-DD`, `during:YYYY-MM`, `has:file`, "
            "`has:link`, `is:thread` (docs/protocol.md, Search).",
        ),
    ],
    order: Annotated[
        Literal["newest", "relevance"], Query(description="Newest first, or best match first.")
    ] = "newest",
    offset: Annotated[int, Query(ge=0, le=OFFSET_MAX, description="Matches to skip.")] = 0,
    limit: Annotated[int, Query(ge=LIMIT_MIN, le=LIMIT_MAX)] = LIMIT_DEFAULT,
    tz: Annotated[int, Query(ge=TZ_MIN, le=TZ_MAX, description=TZ_DOC)] = 0,
) -> dict[str, Any]:
    """Messages matching `q` in every channel you may read: those you are in
    (DMs included) and public ones (not for guests); never others' private
    channels or DMs. Deleted messages never match; edits count as they are
    now. Each result has the message, a snippet of its text around the first
    match and where the matched words are in it. A malformed query (an
    unknown filter value, a bad date, an `in:` channel you cannot read, an
    unclosed quote) is 400 `invalid_query`, its message saying what is wrong.
    501 `unsupported` where the store has no full-text index (DynamoDB)."""
    found, more = await hub.searcher.search(
        user, q, order=order, offset=offset, limit=limit, tz_offset_minutes=tz
    )
    return results_body(q, found, more, offset)
