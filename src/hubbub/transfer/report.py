"""What an import found, did and skipped, said in plain lines; and the one
error that refuses an input whole."""

from __future__ import annotations

import dataclasses
from collections import Counter

MAX_EXAMPLES = 3


class Refused(Exception):
    """The input is refused whole (not a readable archive, invalid JSON, not
    an export at all): nothing was stored. The message says what and where."""


@dataclasses.dataclass
class Skip:
    count: int = 0
    examples: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Report:
    """Filled in two steps: reading the input (`found`, `skipped`, `notes`)
    and storing it (`done`, and more `skipped` for what the database refused)."""

    source: str
    found: Counter[str] = dataclasses.field(default_factory=Counter)
    done: Counter[str] = dataclasses.field(default_factory=Counter)
    skipped: dict[str, Skip] = dataclasses.field(default_factory=dict)
    notes: list[str] = dataclasses.field(default_factory=list)

    def skip(self, reason: str, example: str | None = None, count: int = 1) -> None:
        entry = self.skipped.setdefault(reason, Skip())
        entry.count += count
        if example is not None and len(entry.examples) < MAX_EXAMPLES:
            entry.examples.append(example)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def skipped_count(self, reason: str) -> int:
        entry = self.skipped.get(reason)
        return entry.count if entry else 0

    def lines(self, *, stored: bool) -> list[str]:
        """The report as printed by `hubbub import` (`stored` false: a dry run)."""
        f, d = self.found, self.done
        out = [
            f"{self.source}: {f['users']} users, {f['channels']} channels, "
            f"{f['messages']} messages ({f['replies']} of them thread replies), "
            f"{f['reactions']} reactions, {f['pins']} pins"
        ]
        if not stored:
            out.append("dry run: the input is valid; nothing was stored")
        else:
            out += [
                f"users: {d['users_created']} created, {d['users_existing']} already there "
                f"(same username), {d['users_deactivated']} of the created ones deactivated",
                f"channels: {d['channels_created']} created, {d['channels_existing']} "
                f"already there (same name); {d['members_added']} memberships added",
                f"messages: {d['messages_stored']} stored ({d['replies_stored']} thread "
                f"replies), {d['messages_existing']} already there",
                f"reactions: {d['reactions_added']} added, {d['reactions_existing']} already "
                f"there; pins: {d['pins_added']} added, {d['pins_existing']} already there",
            ]
        if self.skipped:
            out.append("skipped:")
            for reason, entry in self.skipped.items():
                line = f"  {entry.count} {reason}"
                if entry.examples:
                    more = ", ..." if entry.count > len(entry.examples) else ""
                    line += f" (e.g. {'; '.join(entry.examples)}{more})"
                out.append(line)
        else:
            out.append("skipped: nothing")
        out += [f"note: {n}" for n in self.notes]
        return out
