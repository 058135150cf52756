"""Search results as the terminal shows them: `hubbub search` (lines) and
`/search` in `hubbub chat` (rich text), one per result: where, who, when
and the snippet with its matched words marked."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from rich.text import Text

from hubbub.protocol import frames


def place(m: frames.MessageOut) -> str:
    """`#general #12`, `dm:ann,bob #3`, `#general #14 in thread #12`."""
    where = m.channel if m.channel.startswith("dm:") else f"#{m.channel}"
    thread = f" in thread #{m.thread_root}" if m.thread_root is not None else ""
    return f"{where} #{m.seq}{thread}"


def stamp(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ms / 1000))


def author(m: frames.MessageOut) -> str:
    return m.author.username or f"{m.author.display_name} (guest)"


def marked(r: frames.SearchResult, mark: Callable[[str], str]) -> str:
    """The snippet with each matched part passed through `mark`."""
    out, at = [], 0
    for start, end in r.highlights:
        out += [r.snippet[at:start], mark(r.snippet[start:end])]
        at = end
    return "".join([*out, r.snippet[at:]])


def format_result(r: frames.SearchResult, *, as_json: bool, bold: bool = False) -> str:
    """One line of `hubbub search` (with `bold`: matches in ANSI bold, for a
    terminal); as JSON: `{"message", "snippet", "highlights"}`."""
    if as_json:
        return json.dumps(r.model_dump(), ensure_ascii=False)
    m = r.message

    def mark(s: str) -> str:
        return f"\x1b[1m{s}\x1b[22m" if bold else s

    return f"[{place(m)} {stamp(m.created_at)}] {author(m)}: {marked(r, mark)}"


def result_text(n: int, r: frames.SearchResult) -> Text:
    """A result in the chat's message pane: `3. #general #12 2024-05-01
    12:03 ann: …the snippet…`, the matches highlighted; `/open 3` opens it."""
    m = r.message
    line = Text.assemble(
        (f"{n}. ", "bold"), (place(m), "cyan"), " ", (stamp(m.created_at), "dim"), " "
    )
    line.append(author(m), "bold")
    line.append(": ")
    base = len(line)
    line.append(r.snippet)
    for start, end in r.highlights:
        line.stylize("bold reverse", base + start, base + end)
    return line
