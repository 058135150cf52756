"""Topics travel over a fixed number of Redis channels (shards).

With one Redis channel per topic, a group commit over 250 small rooms is 250
pub/sub messages for every node to read and parse, and a node follows
thousands of channels. Over 64 shards it is at most 64, whatever the number of
rooms. A shard message holds records `topic SP length SP data`; a node keeps
the records of topics it follows. One topic always maps to one shard, so its
events keep their order.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence

SHARDS = 64


def shard_of(topic: str) -> int:
    # crc32, not hash(): every node must agree, and str hashes are salted per process.
    return zlib.crc32(topic.encode()) % SHARDS


def pack(records: Sequence[tuple[str, bytes]]) -> bytes:
    parts = []
    for topic, data in records:
        if " " in topic:
            raise ValueError(f"a topic has no spaces: {topic!r}")
        parts.append(b"%s %d %s" % (topic.encode(), len(data), data))
    return b"".join(parts)


def unpack(payload: bytes) -> Iterator[tuple[str, bytes]]:
    i, end = 0, len(payload)
    while i < end:
        space = payload.index(b" ", i)
        topic = payload[i:space].decode()
        space2 = payload.index(b" ", space + 1)
        start = space2 + 1
        stop = start + int(payload[space + 1 : space2])
        yield topic, payload[start:stop]
        i = stop


def by_shard(items: Sequence[tuple[str, bytes]]) -> dict[int, bytes]:
    """One packed payload per shard, records in their original order."""
    groups: dict[int, list[tuple[str, bytes]]] = {}
    for topic, data in items:
        groups.setdefault(shard_of(topic), []).append((topic, data))
    return {shard: pack(records) for shard, records in groups.items()}
