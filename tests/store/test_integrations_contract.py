"""The Store contract for integrations (models.Integration: webhooks and
slash commands) and for a message's shown name (an incoming webhook's
`username` override). Every backend must pass every test here (the backends
are tests/store/conftest.py's)."""

from __future__ import annotations

import pytest

from hubbub.core.models import Integration, NewMessage, StoredMessage
from hubbub.store import NameTaken, Store


def hook(iid: str, key: str, channel_id: int | None, user_id: int, at: int) -> Integration:
    return Integration(
        iid, "incoming", key, f"hook {iid}", channel_id, user_id, user_id, at, {"n": 1}
    )


async def test_integrations_are_found_by_key_listed_newest_first_and_deleted(
    store: Store,
) -> None:
    ann = await store.create_user("ann", "Ann", "h")
    ch = await store.create_channel("general", "public", "", [ann.id])
    old = hook("a1", "k-old", ch.id, ann.id, 1)
    new = hook("a2", "k-new", ch.id, ann.id, 2)
    command = Integration(
        "a3",
        "command",
        "/deploy",
        "deploys",
        None,
        ann.id,
        ann.id,
        3,
        {"url": "http://127.0.0.1:9/x", "words": ["a", "b"]},
    )
    for i in (old, new, command):
        await store.create_integration(i)

    assert await store.integration_by_key("k-old") == old
    found = await store.integration_by_key("/deploy")
    assert found == command and found is not None
    assert found.config == {"url": "http://127.0.0.1:9/x", "words": ["a", "b"]}
    assert found.channel_id is None
    assert await store.integration_by_key("nope") is None
    assert [i.id for i in await store.integrations()] == ["a3", "a2", "a1"]

    assert await store.delete_integration("a2") == new
    assert await store.delete_integration("a2") is None
    assert await store.integration_by_key("k-new") is None
    assert [i.id for i in await store.integrations()] == ["a3", "a1"]


async def test_an_integration_key_is_unique(store: Store) -> None:
    ann = await store.create_user("ann", "Ann", "h")
    await store.create_integration(hook("b1", "same", None, ann.id, 1))
    with pytest.raises(NameTaken):
        await store.create_integration(hook("b2", "same", None, ann.id, 2))
    assert [i.id for i in await store.integrations()] == ["b1"]  # nothing half-made


async def test_a_shown_name_is_kept_beside_the_authors_display_name_on_that_message_only(
    store: Store,
) -> None:
    ann = await store.create_user("ann", "Ann", "h")
    ch = await store.create_channel("general", "public", "", [ann.id])
    out = await store.append_messages(
        [
            NewMessage(ch.id, ann.id, "Build bot", "green", "c1", 1),
            NewMessage(ch.id, ann.id, None, "mine", "c2", 2),
        ]
    )
    assert all(isinstance(m, StoredMessage) for m in out)
    assert [
        (m.author, m.author_name, m.shown_name) for m in out if isinstance(m, StoredMessage)
    ] == [("ann", "Ann", "Build bot"), ("ann", "Ann", None)]
    stored = await store.messages(ch.id, after=0, limit=10)
    assert [(m.author, m.author_name, m.shown_name, m.text) for m in stored] == [
        ("ann", "Ann", "Build bot", "green"),
        ("ann", "Ann", None, "mine"),
    ]
