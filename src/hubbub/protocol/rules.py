"""The rules of the protocol that are not the shape of a frame: what a valid
channel name is, how often typing is relayed, what the S1 tutorial actions
answer. Listed once, here, because the server, the Lambda handlers and the
generated docs/protocol.md all quote them."""

from __future__ import annotations

import re

# A channel name: lowercase, digits, '_' and '-', starting with a letter or digit.
CHANNEL_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")
# A slash command line: `/name`, then (after a space, tab or newline) its
# text. Names are Slack's (letters, digits, - and _), matched without case.
COMMAND_RE = re.compile(r"^/[A-Za-z0-9][A-Za-z0-9_-]{0,31}([ \t\n][\s\S]*)?$")
# A URL hubbub calls out to (custom commands, webhooks): http(s), a host, no
# user name or password. Which hosts it may reach is the server's to say.
OUTBOUND_URL_RE = re.compile(r"^[Hh][Tt][Tt][Pp][Ss]?://[^/?#@\s]+([/?#][^\s]*)?$")
MAX_TOPIC = 250
MAX_DISPLAY_NAME = 80
MAX_PURPOSE = 250
MAX_STATUS_TEXT = 100  # Slack's limit for a custom status
MAX_DM_MEMBERS = 9  # as in Slack's group DMs

# What counts as mentioning a user: `@name` not followed by more of a name, or
# one of these words, which mention every member of the channel but the author
# (as in Slack; they are nobody's username). The server counts by it
# (core.mentions), and the clients highlight by it: the terminal client
# imports it, the web app has the same rule (web/js/format.js).
MENTION_ALL = ("here", "channel", "everyone")
# What may follow a mention without making it a longer name: `@ann.` (the end
# of a sentence) mentions ann; `@anna`, `@ann-b` and `@ann.b` do not.
_NOT_MORE = r"(?![a-z0-9_-]|\.[a-z0-9_-])"


def mention_re(username: str | None) -> re.Pattern[str]:
    """Matches a mention of `username` (`@username`, `@here`, `@channel` or
    `@everyone`); with None, only the three that mention everyone."""
    names = (username, *MENTION_ALL) if username else MENTION_ALL
    alternatives = "|".join(re.escape(n) for n in names)
    return re.compile(rf"@(?:{alternatives}){_NOT_MORE}")


# Seconds between relayed `typing` events per connection and channel: a client
# may send one per keystroke, its channel hears at most one per interval.
TYPING_EVERY = 2.0

# The S1 tutorial: `getRecentMessages` answers with this many messages, and a
# guest's self-declared `user_name` is cut to this length.
RECENT = 10
MAX_GUEST_NAME = 80

# Reactions: distinct emoji on one message (Slack allows 50), and the longest
# emoji accepted (a ZWJ family with skin tones is ~35 bytes).
MAX_REACTIONS = 50
MAX_EMOJI_BYTES = 64
