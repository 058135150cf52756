from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from hubbub.server.gcpolicy import MIN_NEW, GCPolicy


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()


def test_freezes_after_a_batch_of_new_connections() -> None:
    p = GCPolicy()
    for _ in range(MIN_NEW - 1):
        p.connection_opened()
    assert p.decide(MIN_NEW - 1) is None
    p.connection_opened()
    assert p.decide(MIN_NEW) == "freeze"
    assert p.decide(MIN_NEW) is None  # counted from the last freeze


def test_a_large_population_waits_for_ten_percent_more() -> None:
    p = GCPolicy()
    for _ in range(500):
        p.connection_opened()
    assert p.decide(10_000) is None
    for _ in range(500):
        p.connection_opened()
    assert p.decide(10_000) == "freeze"


def test_collects_after_a_whole_population_churned() -> None:
    p = GCPolicy()
    for _ in range(300):
        p.connection_opened()
        p.connection_closed()
    assert p.decide(1000) == "freeze"
    for _ in range(700):
        p.connection_closed()
    assert p.decide(1000) == "collect"
    assert p.decide(1000) is None


def test_tick_freezes_and_collect_frees_frozen_cycles() -> None:
    p = GCPolicy()
    for _ in range(MIN_NEW):
        p.connection_opened()

    class Node:
        other: object = None

    a, b = Node(), Node()
    a.other, b.other = b, a  # a cycle: only the collector frees it
    before = gc.get_freeze_count()
    p.tick(MIN_NEW)
    assert gc.get_freeze_count() > before
    ref = weakref.ref(a)
    del a, b
    gc.collect()
    assert ref() is not None  # frozen: no collection sees the cycle
    for _ in range(MIN_NEW):
        p.connection_closed()
    p.tick(0)  # unfreeze + collect + freeze again
    assert ref() is None
