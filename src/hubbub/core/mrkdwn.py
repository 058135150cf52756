"""Slack's message text ("mrkdwn") as hubbub's plain text: for the Slack importer
(transfer.slack) and for what incoming webhooks receive (core.hooks).

Slack writes references in angle brackets and escapes `&`, `<` and `>`:
`<@U123>` (a user), `<#C123|name>` (a channel), `<!here>`, `<http://x|label>`,
`&amp;`. hubbub's text is what was typed, with Slack-flavoured marks the
clients render (`*bold*`, `_italic_`, `~strike~`, code, quotes, lists:
web/js/format.js), so those stay as they are; the references become
`@username`, `#channel`, `@here` and `[label](url)`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping

_REFERENCE = re.compile(r"<([^<>\n]*)>")
_BROADCASTS = {"here": "@here", "channel": "@channel", "everyone": "@everyone"}


def unescape(text: str) -> str:
    """Slack's three escapes (`&amp;` last, so `&amp;lt;` is `&lt;`)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


@dataclasses.dataclass
class Converted:
    text: str
    unknown_users: list[str]  # Slack ids mentioned that users.json lacks


def convert(text: str, users: Mapping[str, str], channels: Mapping[str, str]) -> Converted:
    """`users`: Slack user id -> hubbub username; `channels`: Slack channel
    id -> hubbub channel name."""
    unknown: list[str] = []

    def reference(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        label = unescape(label)
        if target.startswith("@"):
            uid = target[1:]
            name = users.get(uid)
            if name is not None:
                return "@" + name
            unknown.append(uid)
            return "@" + (label.lstrip("@") or uid)
        if target.startswith("#"):
            name = channels.get(target[1:])
            return "#" + (name or label.lstrip("#") or target[1:])
        if target.startswith("!"):
            word = target[1:]
            if word in _BROADCASTS:
                return _BROADCASTS[word]
            # <!subteam^S1|@team>, <!date^1700000000^{date}|Nov 14>: their text
            return label or "@" + word.split("^", 1)[0]
        url = unescape(target)
        if not url:
            return match.group(0)
        if url.startswith("mailto:"):
            return label or url[len("mailto:") :]
        if label and label != url:
            if url.startswith(("http://", "https://")):
                return f"[{label}]({url})"
            return f"{label} ({url})"
        return url

    out: list[str] = []
    last = 0
    for match in _REFERENCE.finditer(text):
        out.append(unescape(text[last : match.start()]))
        out.append(reference(match))
        last = match.end()
    out.append(unescape(text[last:]))
    return Converted("".join(out), unknown)
