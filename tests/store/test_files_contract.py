"""The Store contract for uploaded files and the messages carrying them: every
backend (tests/store/conftest.py) must pass every test here."""

from __future__ import annotations

import dataclasses

from hubbub.core.models import (
    Changed,
    Delete,
    FileInfo,
    NewMessage,
    NewReply,
    Pin,
    Replied,
    StoredFile,
    StoredMessage,
)
from hubbub.store import Store

PNG = FileInfo("f-png", "cat.png", 2048, "image/png", width=640, height=480, thumbnail=True)
LOG = FileInfo("f-log", "build log.txt", 10, "text/plain")


def upload(info: FileInfo, channel_id: int, uploader_id: int, at: int = 1000) -> StoredFile:
    return StoredFile(info, channel_id, uploader_id, at)


def info(file_id: str, size: int = 1) -> FileInfo:
    return FileInfo(file_id, f"{file_id}.bin", size, "application/octet-stream")


async def send(
    store: Store, channel_id: int, author_id: int, client_id: str, *files: FileInfo
) -> StoredMessage:
    [out] = await store.append_messages(
        [NewMessage(channel_id, author_id, None, "see attached", client_id, 5, files)]
    )
    assert isinstance(out, StoredMessage)
    return out


async def setup(store: Store) -> tuple[int, int, int, int]:
    """ann and bob, members of channels a and b: (ann, bob, a, b)."""
    ann = await store.create_user("ann", "Ann", "h")
    bob = await store.create_user("bob", "Bob", "h")
    a = await store.create_channel("a", "public", "", [ann.id, bob.id])
    b = await store.create_channel("b", "public", "", [ann.id, bob.id])
    return ann.id, bob.id, a.id, b.id


async def test_create_and_get(store: Store) -> None:
    ann, _, a, _ = await setup(store)
    png = upload(PNG, a, ann)
    await store.create_file(png)
    await store.create_file(upload(LOG, a, ann))
    assert await store.get_file(PNG.id) == png  # every field back, no client_id, no seq
    got = await store.get_file(LOG.id)
    assert (
        got is not None
        and got.info == LOG
        and (got.info.width, got.info.thumbnail)
        == (
            None,
            False,
        )
    )
    assert await store.get_file("nope") is None


async def test_claim_is_all_or_none(store: Store) -> None:
    ann, bob, a, b = await setup(store)
    for f in (
        upload(info("one"), a, ann),
        upload(info("two"), a, ann),
        upload(info("bobs"), a, bob),
        upload(info("elsewhere"), b, ann),
    ):
        await store.create_file(f)

    async def unclaimed(file_id: str) -> bool:
        got = await store.get_file(file_id)
        return got is not None and got.client_id is None

    assert await store.claim_files(["one", "missing"], ann, a, "c1") is None
    assert await store.claim_files(["one", "bobs"], ann, a, "c1") is None  # someone else's
    assert await store.claim_files(["one", "elsewhere"], ann, a, "c1") is None  # other channel
    assert await unclaimed("one") and await unclaimed("two")  # nothing changed

    got = await store.claim_files(["two", "one"], ann, a, "c1")
    assert got is not None
    assert [(x.id, x.client_id, x.channel_id, x.uploader_id) for x in got] == [
        ("two", "c1", a, ann),
        ("one", "c1", a, ann),
    ]
    # The same send again (a retry) may claim them again; another may not.
    again = await store.claim_files(["one", "one", "two"], ann, a, "c1")
    assert again is not None and [x.id for x in again] == ["one", "one", "two"]
    assert await store.claim_files(["one"], ann, a, "c2") is None
    # One claimed by another send spoils the whole claim: the other stays free.
    await store.create_file(upload(info("three"), a, ann))
    assert await store.claim_files(["three", "two"], ann, a, "c2") is None
    assert await unclaimed("three")
    found = await store.get_file("one")
    assert found is not None and found.client_id == "c1"
    assert await store.claim_files([], ann, a, "c3") == []


async def test_a_message_with_files_reads_back_everywhere(store: Store) -> None:
    ann, bob, a, _ = await setup(store)
    for f in (upload(PNG, a, ann), upload(LOG, a, ann), upload(info("reply"), a, bob)):
        await store.create_file(f)
    assert await store.claim_files([PNG.id, LOG.id], ann, a, "c1") is not None
    sent = await send(store, a, ann, "c1", PNG, LOG)
    assert sent.files == (PNG, LOG) and not sent.duplicate
    plain = await send(store, a, ann, "c2")
    assert plain.files == ()

    [newest, first] = await store.messages(a, limit=10)
    assert (first.seq, first.files, newest.files) == (sent.seq, (PNG, LOG), ())
    log = await store.log_after(a, 0, 10)
    assert [e.message.files for e in log] == [(PNG, LOG), ()]

    pinned = await store.change_message(a, sent.seq, bob, Pin(True, 7))
    assert isinstance(pinned, Changed) and pinned.message.files == (PNG, LOG)
    [pin] = await store.pinned(a, 10)
    assert pin.files == (PNG, LOG)

    reply_file = info("reply")
    assert await store.claim_files(["reply"], bob, a, "r1") is not None
    replied = await store.append_reply(
        NewReply(a, sent.seq, bob, "here too", "r1", 9, files=(reply_file,))
    )
    assert isinstance(replied, Replied) and replied.reply.files == (reply_file,)
    assert replied.root.files == (PNG, LOG)  # the root's summary keeps its own
    [in_thread] = await store.thread(a, sent.seq, limit=10)
    assert in_thread.files == (reply_file,)
    [followed] = await store.followed_threads(ann, 10)
    assert followed.root.files == (PNG, LOG)

    # Each file knows its message now.
    for file_id, seq in ((PNG.id, sent.seq), (LOG.id, sent.seq), ("reply", replied.reply.seq)):
        got = await store.get_file(file_id)
        assert got is not None and got.seq == seq


async def test_deleting_the_message_detaches_its_files(store: Store) -> None:
    ann, _, a, _ = await setup(store)
    await store.create_file(upload(PNG, a, ann))
    assert await store.claim_files([PNG.id], ann, a, "c1") is not None
    sent = await send(store, a, ann, "c1", PNG)
    gone = await store.change_message(a, sent.seq, ann, Delete(8))
    assert isinstance(gone, Changed) and gone.message.deleted and gone.message.files == ()
    [tomb] = await store.messages(a, limit=10)
    assert tomb.deleted and tomb.files == ()
    assert [e.message.files for e in await store.log_after(a, 0, 10)] == [(), ()]  # sent, deleted
    got = await store.get_file(PNG.id)
    assert got is not None and got.seq is None and got.client_id == "c1"


async def test_a_file_claimed_for_another_channels_send_is_not_attached(store: Store) -> None:
    # The message is found by (uploader, client_id) in the file's channel: a
    # send with that client_id elsewhere does not take the file.
    ann, _, a, b = await setup(store)
    await store.create_file(upload(PNG, a, ann))
    assert await store.claim_files([PNG.id], ann, a, "c1") is not None
    await send(store, b, ann, "c1")
    got = await store.get_file(PNG.id)
    assert got is not None and got.seq is None


async def test_file_bytes_is_the_uploaders_total(store: Store) -> None:
    ann, bob, a, b = await setup(store)
    assert await store.file_bytes(ann) == 0
    await store.create_file(upload(info("x", 100), a, ann))
    await store.create_file(upload(info("y", 23), b, ann))
    await store.create_file(upload(info("z", 5000), a, bob))
    assert (await store.file_bytes(ann), await store.file_bytes(bob)) == (123, 5000)
    await store.delete_file("x")
    assert await store.get_file("x") is None
    assert (await store.file_bytes(ann), await store.file_bytes(bob)) == (23, 5000)
    await store.delete_file("x")  # gone already: no error, no double count
    await store.delete_file("never")
    assert await store.file_bytes(ann) == 23


async def test_orphan_files(store: Store) -> None:
    ann, _, a, _ = await setup(store)
    cutoff = 10_000
    old, new = cutoff - 1, cutoff + 1
    for file_id, at in (
        ("old-unclaimed", old),
        ("fresh-unclaimed", new),
        ("old-never-sent", old),
        ("old-attached", old),
        ("fresh-deleted", new),
    ):
        await store.create_file(upload(info(file_id), a, ann, at))
    assert await store.claim_files(["old-never-sent"], ann, a, "lost") is not None
    assert await store.claim_files(["old-attached"], ann, a, "kept") is not None
    await send(store, a, ann, "kept", info("old-attached"))
    assert await store.claim_files(["fresh-deleted"], ann, a, "gone") is not None
    doomed = await send(store, a, ann, "gone", info("fresh-deleted"))
    assert isinstance(await store.change_message(a, doomed.seq, ann, Delete(9)), Changed)

    orphans = await store.orphan_files(cutoff, 100)
    assert sorted(x.id for x in orphans) == ["fresh-deleted", "old-never-sent", "old-unclaimed"]
    found = {x.id: x for x in orphans}
    assert found["old-unclaimed"] == upload(info("old-unclaimed"), a, ann, old)
    assert len(await store.orphan_files(cutoff, 1)) == 1
    assert await store.orphan_files(cutoff, 0) == []
    for x in orphans:
        await store.delete_file(x.id)
    assert await store.orphan_files(cutoff, 100) == []
    assert await store.file_bytes(ann) == 2  # the fresh and the attached one


async def test_a_duplicate_send_with_files_returns_the_original(store: Store) -> None:
    ann, bob, a, _ = await setup(store)
    await store.create_file(upload(PNG, a, ann))
    assert await store.claim_files([PNG.id], ann, a, "c1") is not None
    first = await send(store, a, ann, "c1", PNG)
    again = await store.claim_files([PNG.id], ann, a, "c1")  # the retry claims again
    assert again is not None
    retry = await send(store, a, ann, "c1", PNG)
    assert retry.duplicate and (retry.seq, retry.files) == (first.seq, (PNG,))
    # Within one batch too: the second is the first's duplicate.
    await store.create_file(upload(LOG, a, ann))
    twice = NewMessage(a, ann, None, "x", "c2", 6, (LOG,))
    both = await store.append_messages([twice, twice])
    assert all(isinstance(m, StoredMessage) and m.files == (LOG,) for m in both)
    assert [m.duplicate for m in both if isinstance(m, StoredMessage)] == [False, True]
    # A retried reply with files gives back the reply stored first.
    reply = NewReply(a, first.seq, bob, "r", "r1", 7, files=(info("rf"),))
    stored = await store.append_reply(reply)
    dup = await store.append_reply(dataclasses.replace(reply, text="changed"))
    assert isinstance(stored, Replied) and isinstance(dup, Replied)
    assert dup.reply.duplicate and (dup.reply.seq, dup.reply.files) == (
        stored.reply.seq,
        (info("rf"),),
    )


async def test_plain_and_filed_messages_in_one_batch(store: Store) -> None:
    # The group commit writes `files` per row: a batch mixing both keeps each.
    ann, _, a, _ = await setup(store)
    batch = []
    for i in range(3):
        batch.append(NewMessage(a, ann, None, f"plain {i}", f"p{i}", 1))
        batch.append(NewMessage(a, ann, None, f"filed {i}", f"f{i}", 1, (info(f"file{i}"),)))
    out = await store.append_messages(batch)
    assert [m.files for m in out if isinstance(m, StoredMessage)] == [x.files for x in batch]
    stored = sorted(await store.messages(a, limit=100), key=lambda m: m.seq)
    assert [m.files for m in stored] == [x.files for x in batch]
