"""The benchmark harness works end to end (a few seconds each). These are not
performance tests: the numbers are in docs/benchmarks.md, measured on purpose."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .helpers import run_bench


@pytest.mark.parametrize("scenario", ["fanout", "idle", "calibrate", "rooms", "slow"])
def test_bench_quick_run_passes_its_own_checks(scenario: str) -> None:
    run_bench(scenario, "--quick")  # wrong, as opposed to slow, fails it


def test_fanout_baseline_runs_the_relay_at_the_same_load(tmp_path: Path) -> None:
    out = tmp_path / "fanout.json"
    run_bench("fanout", "--quick", "--baseline", "--json", str(out))
    result = json.loads(out.read_text())
    hubbub, relay = result["runs"][0]["latency"], result["baseline"]["runs"][0]["latency"]
    assert relay["delivery"]["n"] > 0
    # Offered the same messages/s as hubbub's latency run (it records what it got).
    assert abs(relay["dps"] - hubbub["dps"]) <= 0.1 * hubbub["dps"]
    assert result["baseline"]["median"]["p99_ms"] > 0


def test_upload_streams_and_reads_back_what_it_sent(tmp_path: Path) -> None:
    out = tmp_path / "upload.json"
    run_bench("upload", "--quick", "--json", str(out))  # the bytes read back are checked there
    result = json.loads(out.read_text())
    size = result["file_bytes"]
    (up,) = result["uploads"]
    assert up["status"] == 201 and up["file"]["size"] == size
    assert up["bytes_up"] > size  # the whole multipart body went up
    # It streams: the server's peak held far less than the file.
    assert up["peak_from_hwm"] or up["rss_samples"] > 0
    assert up["rss_growth_kb"] * 1024 < size / 4
    (down,) = result["downloads"]
    assert down["whole"]["bytes_down"] == size
    start, end = down["range"]["range"]
    assert down["range"]["status"] == 206 and 0 < end - start < size
    assert result["median"]["sink_mib_s"] > 0


def test_search_compares_the_index_with_a_scan_on_both_backends(tmp_path: Path) -> None:
    out = tmp_path / "search.json"
    run_bench("search", "--quick", "--json", str(out), timeout=600)  # every class finds things
    result = json.loads(out.read_text())
    assert set(result["backends"]) == {"sqlite", "postgres"}
    for name, r in result["backends"].items():
        assert set(r["classes"]) == {
            "one word",
            "rare word",
            "two words",
            "phrase",
            "filtered",
            "frequent word",
            "relevance",
        }
        for c in r["classes"].values():
            assert c["search"]["n"] == 20 and c["scan"]["n"] == 3
            # PostgreSQL's scan also as a table read (its planner may walk an index).
            assert ("table_read" in c) == (name == "postgres")
            assert c["search"]["p99_ms"] >= c["search"]["p50_ms"] > 0


def test_indexcost_measures_both_ways() -> None:
    def run(*args: str) -> list[str]:
        return run_bench(*args, module="bench.indexcost", timeout=120).stdout.splitlines()

    lines = run("fts", "--messages", "500")
    assert [line.split()[0] for line in lines] == ["1", "3", "10", "50", "500"]
    assert all("the words:" in line for line in lines)
    (line,) = run("append", "--batch", "3", "--messages", "300")
    assert line.startswith("3 a commit: ") and "µs a message" in line
