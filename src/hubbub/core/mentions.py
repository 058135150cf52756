"""Mentions as the server counts them, by the protocol's rule
(`protocol.rules.mention_re`: `@name`, or `@here`, `@channel` or `@everyone`,
which mention every member but the author). Those three words are nobody's
username (`core.auth` refuses them), so they can only ever mean everyone.

The clients highlight by the same rule, so the counts the server reports and
the ones a client keeps live agree. The stores narrow their search with
`needles` and count what `mention_re` matches; which messages count at all
(others', not deleted, shown in the channel) is the Store's contract.
"""

from __future__ import annotations

import re

from hubbub.protocol.rules import MENTION_ALL as BROADCAST
from hubbub.protocol.rules import mention_re

__all__ = ["BROADCAST", "mention_re", "mentioned_names", "mentions", "needles"]


def _names(username: str) -> tuple[str, ...]:
    return (username, *BROADCAST)


def needles(username: str) -> tuple[str, ...]:
    """Substrings of which every text that mentions `username` holds one: a
    store's cheap filter (LIKE, `contains`) before `mention_re` decides."""
    return tuple(f"@{n}" for n in _names(username))


def mentions(text: str, username: str) -> bool:
    return mention_re(username).search(text) is not None


# A mention of some name: the longest run of name characters after `@`, less
# a trailing `.` or `-` (the end of a sentence, not of the name).
_ANY_NAME = re.compile(r"(?<![a-z0-9_.-])@([a-z0-9][a-z0-9_.-]*)")


def mentioned_names(text: str) -> list[str]:
    """The usernames `text` mentions (not `@here` and the like), each once,
    in order."""
    names = (m.group(1).rstrip(".-") for m in _ANY_NAME.finditer(text))
    return list(dict.fromkeys(n for n in names if n and n not in BROADCAST))
