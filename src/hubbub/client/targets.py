"""What a `-c` option or a `/join` argument names: `#general` or `general` (a
channel), `@bob` (the DM with bob), `@bob,carol` (a group DM) or a DM's own
name, `dm:alice,bob`. Shared by the CLI commands and `hubbub chat`."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from hubbub.client.sdk import Client, HubbubError


@dataclasses.dataclass(frozen=True)
class Target:
    """A channel by name, or a DM by the people in it (besides you)."""

    channel: str | None = None
    users: tuple[str, ...] = ()

    @property
    def is_dm(self) -> bool:
        return self.channel is None

    @property
    def label(self) -> str:
        """How to show it: `#general`, `@bob`, `dm:alice,bob`."""
        if self.channel is None:
            return "@" + ",".join(self.users)
        return self.channel if self.channel.startswith("dm:") else "#" + self.channel

    def name_for(self, me: str | None) -> str:
        """The channel name, computed locally: a DM is `dm:` and its members'
        usernames, sorted (you included)."""
        if self.channel is not None:
            return self.channel
        return "dm:" + ",".join(sorted({*self.users, *([me] if me else [])}))


def parse_target(word: str) -> Target:
    """Parse `#name`, `name`, `@user`, `@a,b` / `@a @b`, or `dm:a,b`."""
    text = word.strip()
    if text.startswith("@"):
        users = tuple(dict.fromkeys(u for u in re.split(r"[\s,@]+", text) if u))
        if not users:
            raise HubbubError("invalid_input", "no user after '@': try @username")
        return Target(users=users)
    name = text[1:] if text.startswith("#") else text
    name = name.strip()
    if not name:
        raise HubbubError("invalid_input", f"no channel name in {word!r}: try #name or @user")
    return Target(channel=name)


async def open_target(
    client: Client, target: Target | str, *, join: bool = False
) -> dict[str, Any]:
    """The channel `target` names, as the server sees it. A DM is opened (the
    same one every time; it exists once opened). With `join`, a public channel
    you are not in is joined; anything else you are not in is an error, said
    plainly."""
    t = parse_target(target) if isinstance(target, str) else target
    if t.channel is None:
        return await client.open_dm(list(t.users))
    body = await client.channel(t.channel)
    if body.get("is_member"):
        return body
    if not join:
        raise HubbubError("not_a_member", f"you are not in {t.label}: join it first")
    if body.get("kind") != "public":  # (the server shows non-members no other kind)
        raise HubbubError("not_a_member", f"{t.label} is private: ask a member to invite you")
    joined = await client.join(t.channel)
    return {**body, **joined, "is_member": True}
