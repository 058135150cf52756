from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hubbub.bus import shards

topics = st.text(alphabet="abcpu:0123456789-", min_size=1, max_size=12)


@given(st.lists(st.tuples(topics, st.binary(max_size=64)), max_size=20))
def test_pack_unpack_round_trip(records: list[tuple[str, bytes]]) -> None:
    assert list(shards.unpack(shards.pack(records))) == records


def test_data_with_spaces_and_newlines_survives() -> None:
    records = [("c:1", b'{"a": 1}\n{"b": 2}'), ("c:2", b""), ("u:3", b"  ")]
    assert list(shards.unpack(shards.pack(records))) == records


def test_a_topic_keeps_one_shard_and_its_order() -> None:
    items = [(f"c:{i % 7}", str(i).encode()) for i in range(100)]
    grouped = shards.by_shard(items)
    assert len(grouped) <= shards.SHARDS
    seen = [r for payload in grouped.values() for r in shards.unpack(payload)]
    for t in {t for t, _ in items}:
        assert [d for x, d in seen if x == t] == [d for x, d in items if x == t]
    assert shards.shard_of("c:42") == shards.shard_of("c:42")
