"""What a reaction may be: one emoji, given as itself or by a `:shortcode:`
(the aliases Slack and GitHub use, from the `emoji` package's table), stored
and sent as the Unicode emoji, so `:+1:` and `👍` are one reaction."""

from __future__ import annotations

import emoji

from hubbub.protocol.errors import ChatError, ErrorCode
from hubbub.protocol.rules import MAX_EMOJI_BYTES


def normalize(text: str) -> str:
    """The Unicode emoji `text` names; ChatError `invalid_input` if none."""
    given = text.strip()
    if given.startswith(":") and given.endswith(":") and len(given) > 2:
        given = emoji.emojize(given, language="alias")
    if len(given.encode()) > MAX_EMOJI_BYTES or not emoji.is_emoji(given):
        raise ChatError(ErrorCode.invalid_input, f"not an emoji: {text[:40]!r}", field="emoji")
    return given
