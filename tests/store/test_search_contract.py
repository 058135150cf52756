"""`Store.search`: the same answers on SQLite and PostgreSQL, and a
documented `Unsupported` on DynamoDB (the backends of conftest.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.ext.asyncio import create_async_engine

from hubbub.core import search, search_tables
from hubbub.core.models import (
    Delete,
    Edit,
    FileInfo,
    NewMessage,
    NewReply,
    SearchOrder,
    SearchPage,
    SearchQuery,
    StoredMessage,
)
from hubbub.core.ports import Unsupported
from hubbub.store import Store, open_store, sql_search
from hubbub.store.sql import MIGRATIONS, AlembicConfig, driver_url
from hubbub.store.sql_search import RELEVANCE_POOL
from services import drop_database, fresh_postgres_database

DAY = 86_400_000
T0 = 1_700_000_000_000  # 2023-11-14, ms


@pytest.fixture
def sql_url(store_url: str) -> str:
    if store_url.startswith("dynamodb"):
        pytest.skip("DynamoDB has no search (test_dynamodb_says_unsupported)")
    return store_url


@pytest.fixture
async def sql_store(sql_url: str, make_store: Callable[[], Store]) -> Store:
    s = make_store()
    await s.open()
    return s


@dataclasses.dataclass
class World:
    """Ann, Bob, Cy and Dan; `general` (public, Ann and Bob), `secret`
    (private, Ann), a DM of Ann and Bob, and `news` (public, Dan). Cy is in
    no channel."""

    store: Store
    ann: int
    bob: int
    cy: int
    dan: int
    general: int
    secret: int
    dm: int
    news: int
    clock: Iterator[int] = dataclasses.field(default_factory=lambda: iter(range(T0, T0 + DAY)))

    async def send(
        self,
        channel: int,
        author: int,
        text: str,
        *,
        at: int | None = None,
        files: tuple[FileInfo, ...] = (),
    ) -> int:
        created = next(self.clock) if at is None else at
        [m] = await self.store.append_messages(
            [NewMessage(channel, author, None, text, None, created, files=files)]
        )
        assert isinstance(m, StoredMessage), m
        return m.seq

    async def find(
        self,
        user: int,
        *,
        public: bool = True,
        order: SearchOrder = "newest",
        offset: int = 0,
        limit: int = 50,
        **query: Any,
    ) -> SearchPage:
        return await self.store.search(
            user, SearchQuery(**query), public=public, order=order, offset=offset, limit=limit
        )

    async def texts(self, user: int, **kw: Any) -> list[str]:
        return [m.text for m in (await self.find(user, **kw)).messages]


async def world(store: Store) -> World:
    ann = (await store.create_user("ann", "Ann", "h")).id
    bob = (await store.create_user("bob", "Bob", "h")).id
    cy = (await store.create_user("cy", "Cy", "h")).id
    dan = (await store.create_user("dan", "Dan", "h")).id
    general = (await store.create_channel("general", "public", "", [ann, bob])).id
    secret = (await store.create_channel("secret", "private", "", [ann])).id
    dm = (await store.create_channel("dm:ann,bob", "dm", "", [ann, bob])).id
    news = (await store.create_channel("news", "public", "", [dan])).id
    return World(store, ann, bob, cy, dan, general, secret, dm, news)


@pytest.fixture
async def w(sql_store: Store) -> World:
    return await world(sql_store)


def words(*ws: str) -> dict[str, Any]:
    return {"words": tuple(ws)}


# --- permissions ----------------------------------------------------------------


async def test_members_find_their_channels_and_others_never_see_private_ones(w: World) -> None:
    await w.send(w.general, w.ann, "launch plan for general")
    await w.send(w.secret, w.ann, "launch plan in secret")
    await w.send(w.dm, w.ann, "launch plan between us")
    await w.send(w.news, w.dan, "launch plan in the news")
    everything = {
        "launch plan for general",
        "launch plan in secret",
        "launch plan between us",
        "launch plan in the news",
    }
    assert set(await w.texts(w.ann, **words("launch"))) == everything
    assert set(await w.texts(w.bob, **words("launch"))) == everything - {"launch plan in secret"}
    # Cy is in nothing: only the public channels, and only with `public`.
    assert set(await w.texts(w.cy, **words("launch"))) == {
        "launch plan for general",
        "launch plan in the news",
    }
    assert await w.texts(w.cy, public=False, **words("launch")) == []
    assert set(await w.texts(w.bob, public=False, **words("launch"))) == {
        "launch plan for general",
        "launch plan between us",
    }
    # Naming a channel one may not read finds nothing in it.
    assert await w.texts(w.cy, channel_ids=(w.secret, w.dm), **words("launch")) == []


async def test_a_removed_member_no_longer_finds_the_private_channel(w: World) -> None:
    await w.store.add_member(w.secret, w.bob)
    await w.send(w.secret, w.ann, "the budget numbers")
    assert await w.texts(w.bob, **words("budget")) == ["the budget numbers"]
    await w.store.remove_member(w.secret, w.bob)
    assert await w.texts(w.bob, **words("budget")) == []
    assert await w.texts(w.bob, channel_ids=(w.secret,), **words("budget")) == []


async def test_archived_public_channels_are_searched(w: World) -> None:
    await w.send(w.news, w.dan, "an old announcement")
    await w.store.update_channel(w.news, archived=True)
    assert await w.texts(w.cy, **words("announcement")) == ["an old announcement"]


# --- the index follows the messages ------------------------------------------


async def test_edits_deletes_and_replies_are_reflected(w: World) -> None:
    first = await w.send(w.general, w.ann, "the colour is red")
    gone = await w.send(w.general, w.ann, "this will vanish quickly")
    assert await w.texts(w.bob, **words("red")) == ["the colour is red"]
    await w.store.change_message(w.general, first, w.ann, Edit("the colour is blue", T0 + DAY))
    assert await w.texts(w.bob, **words("red")) == []
    assert await w.texts(w.bob, **words("blue")) == ["the colour is blue"]
    await w.store.change_message(w.general, gone, w.ann, Delete(T0 + DAY))
    assert await w.texts(w.bob, **words("vanish")) == []
    assert await w.texts(w.bob, **words("quickly")) == []
    # A deleted message matches no filter either.
    assert "" not in await w.texts(w.bob, author_ids=(w.ann,))

    reply = NewReply(w.general, first, w.bob, "a reply about crimson", "r1", T0 + 5)
    await w.store.append_reply(reply)
    assert await w.texts(w.ann, **words("crimson")) == ["a reply about crimson"]

    # has:link follows edits too (PostgreSQL keeps it in the vector).
    await w.store.change_message(
        w.general, first, w.ann, Edit("the colour: https://example.com/blue", T0 + 2 * DAY)
    )
    assert await w.texts(w.bob, **words("colour"), has_link=True) == [
        "the colour: https://example.com/blue"
    ]
    await w.store.change_message(w.general, first, w.ann, Edit("the colour is", T0 + 3 * DAY))
    assert await w.texts(w.bob, **words("colour"), has_link=True) == []
    assert await w.texts(w.bob, has_link=True) == []


# --- query features -----------------------------------------------------------


@pytest.mark.parametrize("by_index", [True, False], ids=["gin", "walk"])
async def test_words_phrases_prefixes_and_exclusions(
    w: World, by_index: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PostgreSQL finds a phrase by sorting the GIN index's candidates where
    # it estimates few (all of them here), else by walking newest first: the
    # same answers either way.
    if not by_index:
        monkeypatch.setattr(sql_search, "PHRASE_CANDIDATES", -1)
    await w.send(w.general, w.ann, "Release notes for version two")
    await w.send(w.general, w.ann, "notes on the release")
    await w.send(w.general, w.ann, "deployment finished")
    await w.send(w.general, w.ann, "deploy again tomorrow")
    assert set(await w.texts(w.ann, **words("release", "notes"))) == {
        "Release notes for version two",
        "notes on the release",
    }
    assert await w.texts(w.ann, phrases=(("release", "notes"),)) == [
        "Release notes for version two"
    ]
    assert await w.texts(w.ann, **words("deploy")) == ["deploy again tomorrow"]
    assert set(await w.texts(w.ann, **words("deplo*"))) == {
        "deployment finished",
        "deploy again tomorrow",
    }
    assert await w.texts(w.ann, phrases=(("notes", "on", "th*"),)) == ["notes on the release"]
    assert await w.texts(w.ann, words=("release",), exclude=(("version",),)) == [
        "notes on the release"
    ]
    assert await w.texts(w.ann, words=("release",), exclude=(("release", "notes"),)) == [
        "notes on the release"
    ]
    assert await w.texts(w.ann, words=("deplo*",), exclude=(("fin*",),)) == [
        "deploy again tomorrow"
    ]
    # Newest first, paged, in a DM too.
    await w.send(w.dm, w.bob, "where are the release notes")
    phrase = {"phrases": (("release", "notes"),), "limit": 1}
    page = await w.find(w.ann, **phrase)
    assert ([m.text for m in page.messages], page.more) == (["where are the release notes"], True)
    page = await w.find(w.ann, **phrase, offset=1)
    assert ([m.text for m in page.messages], page.more) == (
        ["Release notes for version two"],
        False,
    )


async def test_every_filter(w: World) -> None:
    pdf = FileInfo("f1", "plan.pdf", 10, "application/pdf")
    old = await w.send(w.general, w.ann, "status: old news", at=T0)
    await w.send(w.general, w.bob, "status: bob says hi", at=T0 + DAY)
    await w.send(w.dm, w.ann, "status: see https://example.com/x", at=T0 + 2 * DAY)
    await w.send(w.general, w.ann, "status: the plan attached", at=T0 + 3 * DAY, files=(pdf,))
    await w.send(w.general, w.ann, "status: HTTP://SHOUTY.example", at=T0 + 4 * DAY)
    await w.send(w.general, w.ann, "status: no scheme example.com", at=T0 + 5 * DAY)
    await w.store.append_reply(
        NewReply(w.general, old, w.bob, "status: threaded reply", "r1", T0 + 6 * DAY)
    )
    q = words("status")

    async def found(**kw: Any) -> set[str]:
        return set(await w.texts(w.ann, **q, **kw))

    assert await found(channel_ids=(w.dm,)) == {"status: see https://example.com/x"}
    assert await found(author_ids=(w.bob,)) == {"status: bob says hi", "status: threaded reply"}
    assert await found(after=T0 + DAY, before=T0 + 3 * DAY) == {
        "status: bob says hi",
        "status: see https://example.com/x",
    }
    assert await found(has_file=True) == {"status: the plan attached"}
    assert await found(has_link=True) == {
        "status: see https://example.com/x",
        "status: HTTP://SHOUTY.example",
    }
    assert await found(is_thread=True) == {"status: old news", "status: threaded reply"}
    assert await found(author_ids=(w.ann,), has_link=True, channel_ids=(w.general,)) == {
        "status: HTTP://SHOUTY.example"
    }
    # Filters alone list what matches them.
    assert set(await w.texts(w.ann, has_file=True)) == {"status: the plan attached"}
    assert set(await w.texts(w.ann, channel_ids=(w.dm,))) == {"status: see https://example.com/x"}
    assert set(await w.texts(w.ann, after=T0 + 5 * DAY)) == {
        "status: no scheme example.com",
        "status: threaded reply",
    }
    assert await w.texts(w.ann, before=T0 + 1) == ["status: old news"]


async def test_newest_first_relevance_and_paging(w: World) -> None:
    for i in range(7):
        await w.send(w.general, w.ann, f"report {i}" + " report" * (i % 3), at=T0 + i * 1000)
    page = await w.find(w.ann, limit=3, **words("report"))
    assert [m.text.split()[1] for m in page.messages] == ["6", "5", "4"] and page.more
    rest = await w.find(w.ann, limit=3, offset=6, **words("report"))
    assert [m.text.split()[1] for m in rest.messages] == ["0"] and not rest.more
    exact = await w.find(w.ann, limit=4, offset=3, **words("report"))
    assert [m.text.split()[1] for m in exact.messages] == ["3", "2", "1", "0"] and not exact.more
    # By relevance: three mentions of the word first, then two, then one;
    # newest first among equals.
    ranked = await w.find(w.ann, order="relevance", **words("report"))
    assert [m.text.split()[1] for m in ranked.messages] == ["5", "2", "4", "1", "6", "3", "0"]
    assert (await w.find(w.ann, order="relevance", offset=RELEVANCE_POOL, **words("report"))) == (
        SearchPage((), False)
    )
    assert await w.find(w.ann, limit=0, **words("report")) == SearchPage((), False)


async def test_results_are_whole_messages(w: World) -> None:
    pdf = FileInfo("f1", "plan.pdf", 10, "application/pdf")
    seq = await w.send(w.general, w.ann, "with a file", files=(pdf,))
    [m] = (await w.find(w.bob, **words("file"))).messages
    assert (m.channel, m.seq, m.author, m.text) == ("general", seq, "ann", "with a file")
    assert m.files == (pdf,)


@pytest.mark.parametrize(
    "text",
    [
        '"',
        '" OR "',
        "NEAR(a b)",
        "a OR b",
        "* ",
        "'; DROP TABLE messages; --",
        "%",
        "_",
        "\\",
        "col:value",
        "^start",
        "a AND NOT b",
        "!x & y | z <-> w",
        "':* ''",
    ],
)
async def test_query_syntax_in_user_input_is_harmless(w: World, text: str) -> None:
    """Terms come from the parser, but the store must be safe whatever a
    SearchQuery holds: the syntax characters go, the words stay words."""
    await w.send(w.general, w.ann, "a OR b and NEAR value start x y z w")
    await w.send(w.general, w.ann, "100% sure_thing")
    page = await w.find(w.ann, words=(text, text + "*"), phrases=((text, "x"),))
    assert isinstance(page, SearchPage)
    page = await w.find(w.ann, words=("a",), exclude=((text,),))
    assert isinstance(page, SearchPage)
    # The words of the input are searched as plain words.
    query = search.parse("NEAR OR")
    assert [m.text for m in (await w.find(w.ann, words=query.words)).messages] == [
        "a OR b and NEAR value start x y z w"
    ]
    assert (await w.store.search(w.ann, SearchQuery(words=("drop",)), **PAGE)).messages == ()
    assert await w.texts(w.ann, **words("sure")) == ["100% sure_thing"]


PAGE: dict[str, Any] = {"public": True, "order": "newest", "offset": 0, "limit": 10}


async def test_unicode_accents_case_and_scripts(w: World) -> None:
    await w.send(w.general, w.ann, "Rendez-vous au Café, naïve idée")
    await w.send(w.general, w.ann, "東京 タワー 北京")
    await w.send(w.general, w.ann, "ΣΟΦΊΑ σοφία")
    await w.send(w.general, w.ann, "ship it🚀now")
    for q in ("cafe", "CAFÉ", "Café", "naive", "idee"):
        assert await w.texts(w.ann, **words(*search.parse(q).words)) == [
            "Rendez-vous au Café, naïve idée"
        ], q
    assert await w.texts(w.ann, **words(*search.parse("東京").words)) == ["東京 タワー 北京"]
    assert await w.texts(w.ann, **words(*search.parse("σοφία").words)) == ["ΣΟΦΊΑ σοφία"]
    assert await w.texts(w.ann, **words("now")) == ["ship it🚀now"]
    assert await w.texts(w.ann, phrases=tuple(search.parse("rendez-vous").phrases)) == [
        "Rendez-vous au Café, naïve idée"
    ]


# --- the index splits words as core.search does -------------------------------

_ALPHABET = st.sampled_from(
    "abcXYZ019 .,;:'\"-_/@#*()!?%\n\t"
    "éÉèçÇñÑüÜßÅåøæœłİı"
    "ΣσςάΆΐ"
    "ДдЖжЁё"
    "東京日本の文タワー"
    "²①\u0301\u0305\u0327\u200b\u00a0"
    "🚀🤔🥳✅"
)


async def _index_terms(store: Store, texts: list[str]) -> list[list[str]]:
    """What the store's index holds for each text (sent to `general`), in
    order of position."""
    sql: Any = store
    seqs = [await _send(store, text) for text in texts]
    await sql._index_pending()  # as a search does first (SQLite indexes in batches)
    out: list[list[str]] = []
    async with sql.engine.connect() as conn:
        if sql.is_sqlite:
            await conn.exec_driver_sql(
                "CREATE VIRTUAL TABLE temp.probe USING fts5vocab(main, messages_fts, instance)"
            )
            for seq in seqs:
                rows = await conn.execute(
                    text(
                        "SELECT term FROM temp.probe WHERE doc ="
                        " (SELECT id FROM search_keys WHERE channel_id = 1 AND seq = :seq)"
                        " ORDER BY offset"
                    ),
                    {"seq": seq},
                )
                out.append([r[0] for r in rows])
        else:
            for seq in seqs:
                row = await conn.execute(
                    text(
                        "SELECT array_agg(l ORDER BY p) FROM messages,"
                        " LATERAL (SELECT lexeme, unnest(positions) FROM unnest(search)) v(l, p)"
                        " WHERE channel_id = 1 AND seq = :seq"
                    ),
                    {"seq": seq},
                )
                out.append(list(row.scalar() or []))
    return out


async def _send(store: Store, body: str) -> int:
    [m] = await store.append_messages([NewMessage(1, 1, None, body, None, T0)])
    assert isinstance(m, StoredMessage), m
    return m.seq


async def test_the_index_splits_and_folds_words_as_the_parser_does(sql_store: Store) -> None:
    await world(sql_store)
    samples = [
        "Café naïve İstanbul ς µ \u017f",
        "don't foo.bar foo_bar x²y ①two",
        "e\u0301x a\u0305b",
        "hmm🤔ok ship🥳it",
        "東京タワー ΣΟΦΊΑ Ёлка",
        "ﬁ ǅ ẞ Å",
        "http://example.com/a-b?c=d#e",
    ]
    drawn: list[str] = []

    @given(st.lists(_ALPHABET, max_size=30).map("".join))
    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    def draw(text: str) -> None:
        drawn.append(text)

    draw()
    texts = samples + drawn
    indexed = await _index_terms(sql_store, texts)
    for body, got in zip(texts, indexed, strict=True):
        assert got == search.terms(body), body


def test_migration_0009_was_built_from_these_tables() -> None:
    import importlib

    migration = importlib.import_module("hubbub.store.migrations.versions.0009_search")
    assert search_tables.digest() == migration.TABLES_DIGEST, (
        "core.search_tables changed: add a migration that rebuilds the search index"
    )


# --- the migration backfills --------------------------------------------------


def _at_0008_with_messages(conn: Connection) -> None:
    from alembic import command

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "0008")
    conn.exec_driver_sql(
        "INSERT INTO users (username, display_name, password_hash, created_at)"
        " VALUES ('ann', 'Ann', 'h', 0)"
    )
    conn.exec_driver_sql(
        "INSERT INTO channels (name, kind, topic, last_seq, created_at)"
        " VALUES ('general', 'public', '', 4, 0)"
    )
    conn.exec_driver_sql(
        "INSERT INTO memberships (channel_id, user_id, last_read, joined_at) VALUES (1, 1, 0, 0)"
    )
    for seq, body, at in (
        (1, "older words here", 5),
        (2, "newer words", 9),
        (3, "same ms", 9),
        (4, "linked https://example.com", 3),
    ):
        conn.exec_driver_sql(
            "INSERT INTO messages (channel_id, seq, author_id, text, created_at)"
            f" VALUES (1, {seq}, 1, '{body}', {at})"
        )


@pytest.fixture(params=["sqlite", "postgres"])
async def old_url(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    url = await fresh_postgres_database()
    yield url
    await drop_database(url)


async def test_the_migration_indexes_messages_stored_before_it(old_url: str) -> None:
    engine = create_async_engine(driver_url(old_url))
    async with engine.begin() as conn:
        await conn.run_sync(_at_0008_with_messages)
    await engine.dispose()
    store = open_store(old_url)
    await store.open()
    try:
        found = await store.search(1, SearchQuery(words=("words",)), **PAGE)
        assert [m.text for m in found.messages] == ["newer words", "older words here"]
        # New messages go on being indexed, after the old ones of their ms.
        await store.append_messages([NewMessage(1, 1, None, "fresh words", None, 9)])
        found = await store.search(1, SearchQuery(words=("words",)), **PAGE)
        assert [m.text for m in found.messages] == [
            "fresh words",
            "newer words",
            "older words here",
        ]
        found = await store.search(1, SearchQuery(after=9), **PAGE)
        assert [m.text for m in found.messages] == ["fresh words", "same ms", "newer words"]
        found = await store.search(1, SearchQuery(has_link=True), **PAGE)
        assert [m.text for m in found.messages] == ["linked https://example.com"]
    finally:
        await store.close()


async def test_the_index_survives_vacuum_and_downgrades_cleanly(tmp_path: Path) -> None:
    """SQLite may renumber a table's implicit rowids on VACUUM: the index is
    keyed by (channel_id, seq), so edits after one still find their row."""
    path = tmp_path / "v.db"
    store = open_store(f"sqlite:///{path}")
    await store.open()
    w = await world(store)
    seqs = [await w.send(w.general, w.ann, f"message number {i}") for i in range(30)]
    for s in seqs[:20]:  # holes in the table, for VACUUM to close
        await store.change_message(w.general, s, w.ann, Delete(T0 + DAY))
    sync = create_engine(f"sqlite:///{path}")
    with sync.connect() as conn:
        conn.exec_driver_sql("DELETE FROM messages WHERE deleted_at IS NOT NULL")
        conn.commit()
        conn.exec_driver_sql("VACUUM")
        integrity = conn.exec_driver_sql(
            "INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 0)"
        )
        integrity.close()
    await store.change_message(w.general, seqs[25], w.ann, Edit("edited after vacuum", T0 + DAY))
    assert await w.texts(w.ann, **words("vacuum")) == ["edited after vacuum"]
    assert len(await w.texts(w.ann, **words("number"))) == 9
    await store.close()

    from alembic import command

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with sync.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0008")
        names = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master")}
    sync.dispose()
    assert not {n for n in names if "search" in n or "fts" in n}


# --- SQLite: new messages indexed in batches (migration 0016) --------------------


def _pending(path: Path) -> int:
    sync = create_engine(f"sqlite:///{path}")
    with sync.connect() as conn:
        n = int(conn.exec_driver_sql("SELECT count(*) FROM search_pending").scalar_one())
    sync.dispose()
    return n


def _fts_intact(path: Path) -> None:
    sync = create_engine(f"sqlite:///{path}")
    with sync.connect() as conn:  # raises "database disk image is malformed" if not
        conn.exec_driver_sql(
            "INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 0)"
        ).close()
    sync.dispose()


async def test_sends_are_indexed_every_batch_without_a_search(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    store = open_store(f"sqlite:///{path}")
    await store.open()
    try:
        w = await world(store)
        for i in range(sql_search.INDEX_BATCH):
            await w.send(w.general, w.ann, f"batch word{i}")
        # The pass is queued on the writer thread after the batch that
        # reached INDEX_BATCH; the next send runs after it.
        await w.send(w.general, w.ann, "one more")
        assert _pending(path) == 1
        assert await w.texts(w.bob, **words("word0")) == ["batch word0"]
        last = f"word{sql_search.INDEX_BATCH - 1}"
        assert await w.texts(w.bob, **words(last)) == [f"batch {last}"]
        assert await w.texts(w.bob, **words("more")) == ["one more"]
        assert _pending(path) == 0
        _fts_intact(path)
    finally:
        await store.close()


async def test_pending_messages_edited_or_deleted_are_indexed_as_they_are_now(
    tmp_path: Path,
) -> None:
    path = tmp_path / "p.db"
    store = open_store(f"sqlite:///{path}")
    await store.open()
    try:
        w = await world(store)
        edited = await w.send(w.general, w.ann, "first draft of the plan")
        deleted = await w.send(w.general, w.ann, "a secret plan")
        erased = await w.send(w.general, w.ann, "another plan entirely")
        assert _pending(path) == 3  # none indexed yet
        await store.change_message(w.general, edited, w.ann, Edit("final plan", T0 + DAY))
        await store.change_message(w.general, deleted, w.ann, Delete(T0 + DAY))
        sync = create_engine(f"sqlite:///{path}")
        with sync.begin() as conn:  # a row gone for good (as retention does)
            conn.exec_driver_sql(f"DELETE FROM messages WHERE seq = {erased}")
        sync.dispose()
        assert _pending(path) == 2  # the erased one left with its message
        assert await w.texts(w.bob, **words("plan")) == ["final plan"]
        assert await w.texts(w.bob, **words("draft")) == []
        assert await w.texts(w.bob, **words("secret")) == []
        _fts_intact(path)
        # Indexed now: edits go through the index itself from here on.
        await store.change_message(w.general, edited, w.ann, Edit("the plan, revised", T0 + DAY))
        assert await w.texts(w.bob, **words("revised")) == ["the plan, revised"]
        assert await w.texts(w.bob, **words("final")) == []
        _fts_intact(path)
    finally:
        await store.close()


async def test_pending_messages_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    store = open_store(f"sqlite:///{path}")
    await store.open()
    w = await world(store)
    await w.send(w.general, w.ann, "said just before the restart")
    await store.close()
    assert _pending(path) == 1  # in the database, not in memory
    store = open_store(f"sqlite:///{path}")
    await store.open()
    try:
        found = await store.search(w.bob, SearchQuery(words=("restart",)), **PAGE)
        assert [m.text for m in found.messages] == ["said just before the restart"]
    finally:
        await store.close()


# --- DynamoDB -------------------------------------------------------------------


async def test_dynamodb_says_unsupported(store_url: str, make_store: Callable[[], Store]) -> None:
    if not store_url.startswith("dynamodb"):
        pytest.skip("SQL stores search")
    store = make_store()
    await store.open()
    with pytest.raises(Unsupported, match="SQLite or PostgreSQL"):
        await store.search(1, SearchQuery(words=("x",)), **PAGE)
