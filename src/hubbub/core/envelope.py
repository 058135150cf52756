"""What a fan-out carries: events as bytes, each with the few facts a fan-out
routes by (its `seq` in the channel's log, its frame `type`, the topic it is
about) readable without parsing the JSON, and the encoded frame that goes to
clients as it is.

One bus message is one or more envelopes, one per line: a group commit
publishes a channel's whole batch at once. A line is
`{seq} {kind} {ref} {frame}`: `seq` 0 for events outside the channel's log
(typing, membership, presence...), `ref` `-` unless the event changes what a
connection follows (`channel_left` names the channel topic to drop). JSON never
contains a raw newline, and none of the three heads contains a space.

Packed here and unpacked here only: the self-hosted fan-out, the Lambda push
and the gateway read these fields, never the frame's bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from hubbub.protocol.codec import encode


class Envelope(NamedTuple):
    seq: int
    kind: str
    frame: bytes
    ref: str = ""


def wrap(frame: dict[str, Any], *, seq: int = 0, ref: str = "") -> Envelope:
    """An envelope for a server frame (a dict with its `type`), encoded once."""
    return Envelope(seq, frame["type"], encode(frame), ref)


def pack(envelopes: Iterable[Envelope]) -> bytes:
    return b"\n".join(
        [
            b"%d %s %s %s" % (e.seq, e.kind.encode(), (e.ref or "-").encode(), e.frame)
            for e in envelopes
        ]
    )


def unpack(data: bytes) -> list[Envelope]:
    out = []
    for line in data.split(b"\n"):
        seq, kind, ref, frame = line.split(b" ", 3)
        out.append(Envelope(int(seq), kind.decode(), frame, "" if ref == b"-" else ref.decode()))
    return out
