"""`python -m bench cost` (the serverless cost model, issue #18) at tiny sizes:
the figures it relies on, and DynamoDB's capacity rules it computes with."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from .helpers import ROOT, run_bench

pytest.importorskip("moto")


def _harness_cost() -> ModuleType:
    # By path: under pytest, `bench` is this test package (tests/bench).
    spec = importlib.util.spec_from_file_location("_harness_cost", ROOT / "bench" / "cost.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


cost = _harness_cost()

OTHERS = 20


def test_cost_counts_what_each_design_asks_of_dynamodb(tmp_path: Path) -> None:
    out = tmp_path / "cost.json"
    sizes = "1,5"
    run_bench(
        "cost", "--sizes", sizes, "--messages", "3", "--other-connections", str(OTHERS),
        "--json", str(out), timeout=120,
    )  # fmt: skip
    designs = json.loads(out.read_text())["designs"]
    assert set(designs) == {"hubbub-s1", "hubbub-native", "tutorial"}
    for name, rows in designs.items():
        assert [r["n"] for r in rows] == [1, 5]
        for r in rows:
            assert r["messages"] == 3 and r["missing_pushes"] == 0
            # Every recipient pushed once per message (a native sender also gets its ack).
            assert r["posts"] == r["n"] + (name == "hubbub-native")
            assert r["rcu"] > 0 and r["wcu"] > 0 and r["items_written"] >= 1
    for name in ("hubbub-s1", "hubbub-native"):
        small, large = designs[name]
        for r in (small, large):
            assert "Scan" not in r["requests"] and r["scans"] == 0, r["requests"]
            # the room's followers: one Query, not one read per follower
            assert r["requests"]["Query"] == 1
        assert small["dynamodb_requests_median"] == large["dynamodb_requests_median"]
        assert large["items_read"] - small["items_read"] == 4  # the four more followers
    for r in designs["tutorial"]:
        assert r["requests"] == {"GetItem": 1, "Scan": 1, "PutItem": 1}
        # The Scan reads the whole table, other rooms' connections too.
        assert r["scan_items_read"] == [r["n"] + OTHERS] * 3
        assert r["items_read"] == 1 + r["n"] + OTHERS


def test_item_sizes_follow_dynamodb_rules() -> None:
    # name + UTF-8 bytes; a number is 1 byte per 2 significant digits + 1
    assert cost.item_size({"pk": {"S": "conn#é"}}) == 2 + 7  # é is 2 bytes
    assert cost.item_size({"n": {"N": "12345"}}) == 1 + 4
    assert cost.item_size({"n": {"N": "0.00100"}}) == 1 + 2
    assert cost.item_size({"b": {"BOOL": True}, "z": {"NULL": True}}) == 4
    # a list or map: 3 bytes, and 1 per element
    assert cost.item_size({"l": {"L": [{"S": "ab"}, {"N": "7"}]}}) == 1 + 3 + (2 + 1) + (2 + 1)
    assert cost.item_size({"m": {"M": {"k": {"S": "v"}}}}) == 1 + 3 + (1 + 1 + 1)
    assert cost.item_size(None) == 0


def test_capacity_units_round_as_dynamodb_bills_them() -> None:
    assert cost.read_units(0, True) == 1  # nothing found still costs a read
    assert cost.read_units(4096, True) == 1 and cost.read_units(4097, True) == 2
    assert cost.read_units(4097, False) == 1  # eventually consistent: half
    assert cost.write_units(0) == 1 and cost.write_units(1024) == 1
    assert cost.write_units(300, 1025) == 2  # the larger of the item before and after
