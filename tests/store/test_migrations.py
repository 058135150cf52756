"""Migrations are the only way the schema is made, and they match the code."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, inspect
from sqlalchemy.ext.asyncio import create_async_engine

from hubbub.core.models import Status
from hubbub.store import open_store
from hubbub.store.schema import metadata
from hubbub.store.sql import MIGRATIONS, AlembicConfig, driver_url
from hubbub.store.sql_search import is_index_object
from services import drop_database, fresh_postgres_database


def _not_search_index(obj: object, name: str | None, type_: str, *_: object) -> bool:
    # The search index is per dialect, made by migration 0009 (sql_search).
    return not is_index_object(name, type_)


def _diff(conn: Connection) -> list[object]:
    context = MigrationContext.configure(conn, opts={"include_object": _not_search_index})
    return list(compare_metadata(context, metadata))


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


def _at_0006_with_data(conn: Connection) -> None:
    """A database as hubbub left it before roles (revision 0006): two
    accounts, `general` and two other channels, members in them."""
    from alembic import command

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "0006")
    for name in ("zed", "ann", "bob"):  # zed registered first: the lowest id
        conn.exec_driver_sql(
            "INSERT INTO users (username, display_name, password_hash, created_at)"
            f" VALUES ('{name}', '{name.title()}', 'h', 0)"
        )
    for name, kind in (("general", "public"), ("random", "public"), ("secret", "private")):
        conn.exec_driver_sql(
            "INSERT INTO channels (name, kind, topic, last_seq, created_at)"
            f" VALUES ('{name}', '{kind}', '', 0, 0)"
        )
    conn.exec_driver_sql(
        "INSERT INTO memberships (channel_id, user_id, last_read, joined_at)"
        " SELECT c.id, u.id, 0, 0 FROM channels c CROSS JOIN users u"
    )


@pytest.fixture(params=["sqlite", "postgres"])
async def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    url = await fresh_postgres_database()
    yield url
    await drop_database(url)


async def test_the_workspace_revision_backfills_owner_default_channel_and_no_admins(
    empty_url: str,
) -> None:
    """Upgrading from 0006: the first account registered is the owner, the
    rest members; the public `general` is the default channel; nobody is a
    channel admin; the new tables are there, empty."""
    engine = create_async_engine(driver_url(empty_url))
    async with engine.begin() as conn:
        await conn.run_sync(_at_0006_with_data)
    await engine.dispose()
    store = open_store(empty_url)
    await store.open()
    try:
        zed, ann, bob = [await store.get_user_by_name(n) for n in ("zed", "ann", "bob")]
        assert zed is not None and ann is not None and bob is not None
        assert (zed.role, ann.role, bob.role) == ("owner", "member", "member")
        assert all(u.active and u.status == Status() for u in (zed, ann, bob))
        assert [u.username for u in await store.users_with_role("owner")] == ["zed"]
        assert [c.name for c in await store.default_channels()] == ["general"]
        memberships = await store.channels_for(ann.id)
        assert [m.channel.name for m in memberships] == ["general", "random", "secret"]
        assert not any(m.admin for m in memberships)
        assert all((m.channel.purpose, m.channel.archived) == ("", False) for m in memberships)
        assert await store.sessions_for(zed.id) == []
        assert await store.invites() == [] and await store.audit_log(None, 10) == []
    finally:
        await store.close()


async def test_the_workspace_revision_downgrades_and_upgrades_again(tmp_path: Path) -> None:
    from alembic import command

    path = tmp_path / "down.db"
    store = open_store(f"sqlite:///{path}")
    await store.open()
    ann = await store.create_user("ann", "Ann", "h", role="owner")
    ch = await store.create_channel("general", "public", "", [ann.id], default=True)
    await store.rename_channel(ch.id, "lobby")
    await store.close()

    engine = create_engine(f"sqlite:///{path}")
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0006")
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        columns = {c["name"] for c in inspect(conn).get_columns("users")}
    engine.dispose()
    assert not {"sessions", "invites", "audit_log", "channel_aliases"} & tables
    assert "role" not in columns and "username" in columns

    again = open_store(f"sqlite:///{path}")
    await again.open()  # back to head, with the backfill
    try:
        back = await again.get_user(ann.id)
        assert back is not None and back.role == "owner"
        lobby = await again.get_channel("lobby")
        assert lobby is not None and lobby.id == ch.id and not lobby.default
    finally:
        await again.close()
