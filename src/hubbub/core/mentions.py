"""What counts as mentioning a user: `@name` not followed by more of a name.

The web client applies the same rule (web/js/format.js), so the counts the
server reports and the ones a client keeps live agree.
"""

from __future__ import annotations

import re


def mention_re(username: str) -> re.Pattern[str]:
    return re.compile(rf"@{re.escape(username)}(?![a-z0-9_-]|\.[a-z0-9_-])")


def mentions(text: str, username: str) -> bool:
    return mention_re(username).search(text) is not None
