"""The SQLite group commit looks every pair up through an index: a table scan
would make each commit slower as the messages table grows."""

from __future__ import annotations

from pathlib import Path

import pytest

from hubbub.store import append_sqlite, open_store
from hubbub.store.sql_search import INDEX_PENDING


async def plan_of(tmp_path: Path, statement: str, *params: object) -> list[str]:
    """EXPLAIN QUERY PLAN of `statement` on a database made by the migrations."""
    path = tmp_path / "plan.db"
    store = open_store(f"sqlite:///{path}")
    await store.open()  # the migrated schema, with its indexes
    await store.close()
    conn = append_sqlite.connect(str(path))
    try:
        return [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + statement, params)]
    finally:
        conn.close()


@pytest.mark.parametrize("name", sorted(append_sqlite.PLANNED))
async def test_no_table_scan(tmp_path: Path, name: str) -> None:
    plan = await plan_of(tmp_path, append_sqlite.PLANNED[name], "[[1, 2]]")
    scans = [step for step in plan if step.startswith("SCAN") and "VIRTUAL TABLE" not in step]
    assert plan and not scans, plan


async def test_the_index_pass_reads_only_the_pending_rows(tmp_path: Path) -> None:
    # Every message's key and text by primary key, from the pending ones:
    # a scan of search_keys or messages would grow with the table.
    plan = await plan_of(tmp_path, INDEX_PENDING[0])
    assert plan[0] == "SCAN p", plan
    assert all(step.startswith("SEARCH") for step in plan[1:]) and len(plan) == 3, plan


async def test_read_cursors_are_moved_by_primary_key(tmp_path: Path) -> None:
    plan = await plan_of(tmp_path, append_sqlite.READ, 1, 2, 3)
    assert len(plan) == 1 and plan[0].startswith("SEARCH memberships USING"), plan
    assert "(channel_id=? AND user_id=?)" in plan[0], plan


def test_memory_database_is_refused() -> None:
    with pytest.raises(ValueError, match="needs a file"):
        open_store("sqlite:///:memory:")
