"""Uploaded files on DynamoDB (see models.StoredFile). No table of their own:

- channels `file#<id>`: the file (`channel_id`, `uploader_id`, `client_id`
  once claimed, `name`, `size`, `content_type`, `width`, `height`,
  `thumbnail`, `created_at`). No `kind` attribute, so `public_channels`'s
  Scan never takes one for a channel.
- users `user#<id>`: also `file_bytes`, the size of the user's files, an
  atomic counter moved in the transaction that writes or deletes a file's
  item: the quota is one read.

A file names its message as on SQL, by (uploader, client_id) in its channel:
the `sent#` item of that send gives its seq.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

from hubbub.core.models import FileInfo, StoredFile
from hubbub.core.ports import StoreError
from hubbub.store.dynamo.client import MAX_TRANSACTION, Cancelled, DynamoTables
from hubbub.store.dynamo.items import (
    Item,
    N,
    S,
    get_bool,
    get_int,
    get_opt_int,
    get_opt_str,
    get_str,
    sent_key,
)

SWEEP_PAGE = 100  # files judged together (BatchGet's limit on keys)


def file_key(file_id: str) -> Item:
    return {"pk": S(f"file#{file_id}")}


def _user_key(user_id: int) -> Item:
    return {"pk": S(f"user#{user_id}")}


def file_of(item: Item, seq: int | None = None) -> StoredFile:
    return StoredFile(
        FileInfo(
            get_str(item, "id"),
            get_str(item, "name"),
            get_int(item, "size"),
            get_str(item, "content_type"),
            width=get_opt_int(item, "width"),
            height=get_opt_int(item, "height"),
            thumbnail=get_bool(item, "thumbnail"),
        ),
        get_int(item, "channel_id"),
        get_int(item, "uploader_id"),
        get_int(item, "created_at"),
        client_id=get_opt_str(item, "client_id"),
        seq=seq,
    )


def _item_of(file: StoredFile) -> Item:
    i = file.info
    item: Item = {
        **file_key(i.id),
        "id": S(i.id),
        "channel_id": N(file.channel_id),
        "uploader_id": N(file.uploader_id),
        "name": S(i.name),
        "size": N(i.size),
        "content_type": S(i.content_type),
        "thumbnail": {"BOOL": i.thumbnail},
        "created_at": N(file.created_at),
    }
    if file.client_id is not None:
        item["client_id"] = S(file.client_id)
    if i.width is not None:
        item["width"] = N(i.width)
    if i.height is not None:
        item["height"] = N(i.height)
    return item


def _count(tables: DynamoTables, user_id: int, delta: int) -> Item:
    """The Update of the user's `file_bytes` by `delta`, for a transaction."""
    return {
        "Update": {
            "TableName": tables.names["users"],
            "Key": _user_key(user_id),
            "UpdateExpression": "ADD file_bytes :n",
            "ConditionExpression": "attribute_exists(pk)",  # never create a user item
            "ExpressionAttributeValues": {":n": N(delta)},
        }
    }


def create_file(tables: DynamoTables, file: StoredFile) -> None:
    try:
        tables.transact(
            [
                tables.put("channels", _item_of(file), "attribute_not_exists(pk)"),
                _count(tables, file.uploader_id, file.info.size),
            ]
        )
    except Cancelled as exc:
        # Ids are random: a clash, or no such user, is a bug.
        raise StoreError(f"cannot record file {file.id}: {exc}") from None


def _messages(tables: DynamoTables, files: Sequence[StoredFile]) -> dict[str, tuple[int, bool]]:
    """The message each claimed file is attached to, if it exists: file id ->
    (seq, deleted). Two BatchGets for any number of files."""
    claimed = [x for x in files if x.client_id is not None]
    if not claimed:
        return {}
    refs = tables.batch_get(
        "users", [{"pk": S(sent_key(x.uploader_id, x.client_id or ""))} for x in claimed]
    )
    at = {get_str(r, "pk"): (get_int(r, "channel_id"), get_int(r, "seq")) for r in refs}
    where: dict[str, tuple[int, int]] = {}
    for x in claimed:
        found = at.get(sent_key(x.uploader_id, x.client_id or ""))
        if found is not None and found[0] == x.channel_id:  # sent in the file's channel
            where[x.id] = found
    items = tables.batch_get(
        "messages",
        [{"channel_id": N(c), "seq": N(s)} for c, s in set(where.values())],
        projection={"#c": "channel_id", "#s": "seq", "#d": "deleted_at"},
    )
    state = {(get_int(i, "channel_id"), get_int(i, "seq")): "deleted_at" in i for i in items}
    return {fid: (key[1], state[key]) for fid, key in where.items() if key in state}


def get_file(tables: DynamoTables, file_id: str) -> StoredFile | None:
    item = tables.get("channels", file_key(file_id))
    if item is None:
        return None
    file = file_of(item)
    sent = _messages(tables, [file]).get(file.id)
    if sent is None or sent[1]:  # no message, or a deleted one
        return file
    return dataclasses.replace(file, seq=sent[0])


def claim_files(
    tables: DynamoTables,
    file_ids: Sequence[str],
    uploader_id: int,
    channel_id: int,
    client_id: str,
) -> list[StoredFile] | None:
    """One transaction of conditional updates: all claimed or none. At most
    MAX_TRANSACTION distinct files (the API's limit; sends carry far fewer)."""
    ids = list(dict.fromkeys(file_ids))
    if not ids:
        return []
    if len(ids) > MAX_TRANSACTION:
        raise ValueError(f"at most {MAX_TRANSACTION} files per claim")
    values: Item = {":u": N(uploader_id), ":ch": N(channel_id), ":c": S(client_id)}
    actions: list[Item] = [
        {
            "Update": {
                "TableName": tables.names["channels"],
                "Key": file_key(i),
                "UpdateExpression": "SET client_id = :c",
                "ConditionExpression": (
                    "attribute_exists(pk) AND uploader_id = :u AND channel_id = :ch AND "
                    "(attribute_not_exists(client_id) OR client_id = :c)"
                ),
                "ExpressionAttributeValues": values,
            }
        }
        for i in ids
    ]
    try:
        tables.transact(actions)
    except Cancelled:
        return None
    found = {
        x.id: x for x in map(file_of, tables.batch_get("channels", [file_key(i) for i in ids]))
    }
    if len(found) != len(ids):
        raise StoreError("a claimed file vanished")  # deleted by the sweep meanwhile
    return [found[i] for i in file_ids]


def file_bytes(tables: DynamoTables, uploader_id: int) -> int:
    item = tables.get("users", _user_key(uploader_id))
    return 0 if item is None else get_opt_int(item, "file_bytes") or 0


def _pages(items: Iterable[Item], size: int) -> Iterable[list[Item]]:
    page: list[Item] = []
    for item in items:
        page.append(item)
        if len(page) == size:
            yield page
            page = []
    if page:
        yield page


def orphan_files(tables: DynamoTables, created_before: int, limit: int) -> list[StoredFile]:
    """A Scan of the channels table, page by page: this is the background
    sweep, which no one waits on; no key serves "unattached or deleted"."""
    out: list[StoredFile] = []
    if limit <= 0:
        return out
    scan = tables.scan(
        "channels",
        FilterExpression="begins_with(pk, :file)",
        ExpressionAttributeValues={":file": S("file#")},
    )
    for page in _pages(scan, SWEEP_PAGE):
        files = [file_of(i) for i in page]
        attached = _messages(tables, files)
        for x in files:
            sent = attached.get(x.id)
            if (sent is None and x.created_at < created_before) or (sent is not None and sent[1]):
                out.append(x)
                if len(out) >= limit:
                    return out
    return out


def delete_file(tables: DynamoTables, file_id: str) -> None:
    item = tables.get("channels", file_key(file_id))
    if item is None:
        return
    delete: Item = {
        "Delete": {
            "TableName": tables.names["channels"],
            "Key": file_key(file_id),
            "ConditionExpression": "attribute_exists(pk)",
        }
    }
    try:
        tables.transact(
            [delete, _count(tables, get_int(item, "uploader_id"), -get_int(item, "size"))]
        )
    except Cancelled as exc:
        if not exc.failed(0):
            raise StoreError(f"deleting file {file_id} cancelled: {exc}") from None
        # Deleted meanwhile (another sweeper): its count went with it.
