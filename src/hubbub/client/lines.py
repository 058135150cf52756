"""Line mode for scripts: `hubbub send` and `hubbub tail`."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TextIO

from hubbub.client.attachments import describe
from hubbub.client.authors import author_label
from hubbub.client.sdk import Client
from hubbub.protocol import frames


def format_message(m: frames.MessageOut, as_json: bool) -> str:
    if as_json:
        return json.dumps(m.model_dump(exclude={"type"}), ensure_ascii=False)
    stamp = time.strftime("%H:%M", time.localtime(m.created_at / 1000))
    who = author_label(m)
    if m.deleted:
        text = "(message deleted)"
    else:
        text = m.text + (" (edited)" if m.edited_at is not None else "")
    reactions = "".join(f"  {r.emoji} {r.count}" for r in m.reactions)
    place = f"#{m.seq}" if m.thread_root is None else f"#{m.seq} in thread #{m.thread_root}"
    notes = ""
    if m.reply_count:
        notes += f"  [{m.reply_count} {'reply' if m.reply_count == 1 else 'replies'}]"
    if m.pinned_by is not None:
        notes += f"  [pinned by {m.pinned_by}]"
    # One line per file: `hubbub download ID` fetches it.
    files = "".join(f"\n    📎 {describe(f)}  id {f.id}" for f in m.files)
    return f"[{m.channel} {place} {stamp}] {who}: {text}{reactions}{notes}{files}"


async def send_files(
    client: Client,
    channel: str,
    paths: Sequence[Path],
    text: str,
    *,
    thread_root: int | None = None,
    broadcast: bool = False,
) -> frames.MessageOut:
    """Upload the files and post one message carrying them (with `text`, which
    may be empty)."""
    uploaded = [await client.upload(channel, path) for path in paths]
    return await client.post(
        channel,
        text,
        thread_root=thread_root,
        broadcast=broadcast,
        files=[f.id for f in uploaded],
    )


async def send_lines(
    client: Client,
    channel: str,
    lines: Iterable[str],
    *,
    thread_root: int | None = None,
    broadcast: bool = False,
) -> list[frames.MessageOut]:
    """Post each line as one message (blank lines skipped; with `thread_root`,
    as replies in that thread); return them as stored."""
    sent = []
    for line in lines:
        text = line.rstrip("\n")
        if not text.strip():
            continue
        sent.append(await client.post(channel, text, thread_root=thread_root, broadcast=broadcast))
    return sent


def sent_line(sent: list[frames.MessageOut], label: str) -> str:
    """`sent to #general (seq 12)`, or `sent 3 messages to #general (seq 12-14)`."""
    if not sent:
        return f"sent nothing to {label} (no non-blank lines)"
    seqs = f"seq {sent[0].seq}" if len(sent) == 1 else f"seq {sent[0].seq}-{sent[-1].seq}"
    if len(sent) == 1:
        return f"sent to {label} ({seqs})"
    return f"sent {len(sent)} messages to {label} ({seqs})"


async def tail(
    client: Client, channel: str, since: int | None, as_json: bool, out: TextIO = sys.stdout
) -> None:
    """Print messages as they arrive (after `since`, if given), forever."""
    await client.connect()
    sub = await client.subscribe(channel, since)
    printed = since or 0
    if not sub.recovered and since is not None:
        # Too far behind for a replay: page the gap from history instead.
        while printed < sub.last_seq:
            page, more = await client.history(channel, after=printed, limit=200)
            for m in page:
                print(format_message(m, as_json), file=out, flush=True)
                printed = m.seq
            if not more:
                break
    async for event in client.events():
        if isinstance(event, frames.Message) and event.channel == channel:
            if event.seq > printed:
                print(format_message(event, as_json), file=out, flush=True)
                printed = event.seq
        elif isinstance(event, frames.Subscribed) and not event.recovered:
            print(
                f"# reconnected too far behind: messages up to #{event.last_seq} skipped",
                file=sys.stderr,
            )
