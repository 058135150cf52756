"""How a message's author is named in the terminal and in line mode."""

from __future__ import annotations

from hubbub.protocol import frames


def author_label(m: frames.MessageOut) -> str:
    """The username; a guest's own name, marked; an incoming webhook's
    `shown_name` with the account that posted it, and a bot's marked, so
    that neither a hook nor a script can pass for a person."""
    if not m.author.username:
        return f"{m.author.display_name} (guest)"
    name = m.author.username + (" [bot]" if m.author.bot else "")
    if m.shown_name:
        return f"{m.shown_name} (via {name})"
    return name
