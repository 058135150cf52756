"""Full-text search as every transport offers it: the query parsed
(core.search), its names resolved to ids as the user may see them, the store
asked for a page of matches, and each match given its highlighted snippet.

A channel named in `in:` that the user may not read (a private channel or DM
they are not in, a public one for a guest) gets the same answer as one that
does not exist, so a query cannot tell which private channels there are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from hubbub.core import events, search
from hubbub.core.models import SearchOrder, StoredMessage, User
from hubbub.core.ports import Unsupported
from hubbub.protocol.errors import ChatError, ErrorCode

if TYPE_CHECKING:
    from hubbub.core.hub import Hub


class Found(NamedTuple):
    message: StoredMessage
    snippet: str
    highlights: list[tuple[int, int]]


def invalid(message: str) -> ChatError:
    return ChatError(ErrorCode.invalid_query, message, field="query")


def results_body(query: str, found: list[Found], more: bool, offset: int) -> dict[str, Any]:
    """The answer of `GET /api/search` and, with a `type` and `id`, of the
    `search` action (`frames.SearchResults`); messages as every frame has them."""
    return {
        "query": query,
        "results": [
            {
                "message": events.message_body(f.message),
                "snippet": f.snippet,
                "highlights": [list(h) for h in f.highlights],
            }
            for f in found
        ],
        "more": more,
        "next_offset": offset + len(found) if more else None,
    }


class Searcher:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    async def search(
        self,
        user: User,
        text: str,
        *,
        order: SearchOrder = "newest",
        offset: int = 0,
        limit: int = 20,
        tz_offset_minutes: int = 0,
    ) -> tuple[list[Found], bool]:
        """A page of the messages matching `text` that `user` may read, and
        whether there are more after it. `tz_offset_minutes`: the user's
        offset from UTC (east positive), for the days of `before:`/`on:`."""
        try:
            parsed = search.parse(text, tz_offset_minutes=tz_offset_minutes)
        except search.QueryError as exc:
            raise invalid(str(exc)) from None
        query = parsed.resolve(
            channel_ids=tuple([await self._channel_id(user, n) for n in parsed.channels]),
            author_ids=tuple([await self._user_id(n) for n in parsed.users]),
        )
        try:
            page = await self.hub.store.search(
                user.id,
                query,
                public=user.role != "guest",
                order=order,
                offset=offset,
                limit=limit,
            )
        except Unsupported as exc:  # (a StoreError is every transport's `unavailable`)
            raise ChatError(ErrorCode.unsupported, str(exc)) from None
        found = [Found(m, *search.highlight(m.text, parsed)) for m in page.messages]
        return found, page.more

    async def _channel_id(self, user: User, name: str) -> int:
        if name.startswith("@"):  # in:@ann: your DM with ann, as in Slack
            name = "dm:" + ",".join(sorted({user.username, name[1:]}))
        try:
            channel, _ = await self.hub.channel_for(user, name)
        except ChatError as err:
            if err.code is not ErrorCode.not_found:
                raise
            raise invalid(f"in:{name}: no such channel that you can read") from None
        return channel.id

    async def _user_id(self, username: str) -> int:
        found = await self.hub.store.get_user_by_name(username)
        if found is None:
            raise invalid(f"from:@{username}: no such user")
        return found.id
