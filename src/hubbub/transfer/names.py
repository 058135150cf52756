"""How names from elsewhere become hubbub's: usernames (core.auth's rule),
channel names (protocol.rules.CHANNEL_RE) and reactions (core.reactions)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Collection

from hubbub.core import reactions
from hubbub.core.auth import RESERVED_USERNAMES, USERNAME_RE
from hubbub.protocol.errors import ChatError
from hubbub.protocol.rules import CHANNEL_RE

MAX_USERNAME = 32
MAX_CHANNEL = 80

_NOT_USERNAME = re.compile(r"[^a-z0-9_.-]+")
_NOT_CHANNEL = re.compile(r"[^a-z0-9_-]+")

# Slack's `::skin-tone-N` suffix: the Fitzpatrick modifiers U+1F3FB..U+1F3FF.
_SKIN_TONES = {f"skin-tone-{n}": chr(0x1F3FB + n - 2) for n in range(2, 7)}


def _ascii_lower(text: str) -> str:
    """Lower case, accents dropped (`Zoë` -> `zoe`), other letters kept."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def _unique(base: str, limit: int, taken: Callable[[str], bool]) -> str:
    if not taken(base):
        return base
    n = 2
    while True:
        suffix = f"-{n}"
        candidate = base[: limit - len(suffix)].rstrip("._-") + suffix
        if not taken(candidate):
            return candidate
        n += 1


def username_for(name: str, fallback: str, taken: Collection[str]) -> str:
    """A hubbub username for `name`: lower case without accents, each run of
    other characters than a-z, 0-9, `_`, `.` and `-` made one `_`, leading
    punctuation and trailing `.`/`-` dropped (a mention `@ann.` is ann's), cut
    to 32; shorter than 2: `fallback` (`user-<id>`). A reserved name (`here`,
    `channel`, `everyone`) or one in `taken` gets `-2`, `-3`..."""
    out = _NOT_USERNAME.sub("_", _ascii_lower(name))
    out = out.lstrip("_.-")[:MAX_USERNAME].rstrip(".-")
    if len(out) < 2:
        out = _NOT_USERNAME.sub("_", _ascii_lower(fallback)).strip("_.-")[:MAX_USERNAME]
    out = _unique(out, MAX_USERNAME, lambda n: n in taken or n in RESERVED_USERNAMES)
    assert USERNAME_RE.fullmatch(out), out
    return out


def channel_name_for(name: str, fallback: str, taken: Collection[str]) -> str:
    """A hubbub channel name for `name`: as `username_for`, with `-` for
    each run of other characters (no `.` in channel names), cut to 80."""
    out = _NOT_CHANNEL.sub("-", _ascii_lower(name)).strip("_-")[:MAX_CHANNEL]
    if not out:
        out = _NOT_CHANNEL.sub("-", _ascii_lower(fallback)).strip("_-")[:MAX_CHANNEL]
    out = _unique(out, MAX_CHANNEL, lambda n: n in taken)
    assert CHANNEL_RE.fullmatch(out), out
    return out


def dm_name(usernames: Collection[str]) -> str:
    """A DM's name, as core.hub.Hub.open_dm makes it."""
    return "dm:" + ",".join(sorted(set(usernames)))


def emoji_for(shortcode: str) -> str | None:
    """The Unicode emoji for a Slack reaction name (`thumbsup`,
    `+1::skin-tone-3`), as REST and the hub read `:thumbsup:`
    (core.reactions.normalize); None if it names none (a custom emoji)."""
    base, _, tone = shortcode.partition("::")
    try:
        emoji = reactions.normalize(f":{base}:")
    except ChatError:
        return None
    modifier = _SKIN_TONES.get(tone)
    if modifier is not None:
        try:
            return reactions.normalize(emoji.replace("\ufe0f", "") + modifier)
        except ChatError:
            pass  # no toned form of this one: the emoji itself
    return emoji


def normalized_emoji(text: str) -> str | None:
    """`text` as core.reactions stores it; None if it is no emoji."""
    try:
        return reactions.normalize(text)
    except ChatError:
        return None
