"""Migrations are the only way the schema is made, and they match the code."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, inspect

from hubbub.store import open_store
from hubbub.store.schema import metadata
from hubbub.store.sql import MIGRATIONS, AlembicConfig


def _diff(conn: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(conn), metadata))


async def test_migrated_schema_matches_table_definitions(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    store = open_store(f"sqlite:///{path}")
    await store.open()
    await store.close()
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        assert _diff(conn) == []
        tables = set(inspect(conn).get_table_names())
        version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    engine.dispose()
    assert {"users", "channels", "memberships", "messages", "meta"} <= tables
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    assert version == ScriptDirectory.from_config(cfg).get_current_head()


async def test_an_existing_database_keeps_its_data_across_restarts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'keep.db'}"
    first = open_store(url)
    await first.open()
    user = await first.create_user("ann", "Ann", "h")
    await first.close()
    again = open_store(url)
    await again.open()
    assert await again.get_user(user.id) == user
    await again.close()


async def test_a_database_at_the_first_revision_upgrades_in_place(tmp_path: Path) -> None:
    """A database made by an older hubbub (revision 0001) keeps its data."""
    from alembic import command

    path = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{path}")
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.exec_driver_sql(
            "INSERT INTO users (username, display_name, password_hash, created_at)"
            " VALUES ('ann', 'Ann', 'h', 0)"
        )
    engine.dispose()
    store = open_store(f"sqlite:///{path}")
    await store.open()
    assert (await store.get_user_by_name("ann")) is not None
    long_name = "dm:" + ",".join(f"{i}" * 32 for i in range(1, 10))
    channel = await store.create_channel(long_name, "dm", "", [])
    assert channel.name == long_name and len(long_name) == 299
    await store.close()
