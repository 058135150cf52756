"""The group commit on DynamoDB: a batch of messages, each with its channel's
next seq from an atomic counter, written in as few transactions as the API's
limit allows (see the package's docstring for how the guarantees are kept).

Each transaction also moves its authors' read cursors: the check that an
author is a member is an Update of their membership item instead of a
ConditionCheck (one action per (channel, author) pair either way, so the
transactions hold as many messages as before), setting `last_read` to their
last message in that transaction on condition that it moves forward. A cursor
already there or past it (read up to a later message on another device) fails
that condition and cancels the transaction; it is then written again with a
plain ConditionCheck for those pairs, leaving their cursors as they are.

Each transaction also checks, once per channel in it, that the channel's push
cursor has not passed the seqs it writes (`order.py`): a writer that took its
seqs, then stalled while the Lambda's pushers declared them holes, must not
store a message there afterwards. Its messages take new seqs instead."""

from __future__ import annotations

from hubbub.core.models import AppendRejected, NewMessage, StoredMessage
from hubbub.core.ports import StoreError
from hubbub.store import batch as batch_plan
from hubbub.store import files_json
from hubbub.store.dynamo import order
from hubbub.store.dynamo.client import MAX_TRANSACTION, Cancelled, DynamoTables
from hubbub.store.dynamo.items import (
    Item,
    N,
    S,
    get_bool,
    get_int,
    get_str,
    member_key,
    message_of,
    sent_key,
)
from hubbub.store.dynamo.names import channel_names

# A batch whose seqs were fenced off is given new ones; this many times at most.
FENCED_RETRIES = 3


class Fenced(Exception):
    """The channel's push cursor passed a seq before it was stored."""


class DynamoAppender:
    def __init__(self, tables: DynamoTables) -> None:
        self.tables = tables

    def append(self, batch: list[NewMessage]) -> list[StoredMessage | AppendRejected]:
        authored = [x for x in batch if x.author_id is not None]
        authors: dict[int, tuple[str, str, bool]] = {}
        members: set[tuple[int, int]] = set()
        archived: set[tuple[int, int]] = set()
        sent: dict[tuple[int, str], StoredMessage] = {}
        if authored:
            users = self.tables.batch_get(
                "users", [{"pk": S(f"user#{x.author_id}")} for x in authored]
            )
            authors = {
                get_int(u, "id"): (
                    get_str(u, "username"),
                    get_str(u, "display_name"),
                    get_bool(u, "bot"),
                )
                for u in users
            }
            found = self.tables.batch_get(
                "members", [member_key(x.channel_id, x.author_id or 0) for x in authored]
            )
            members = {(get_int(m, "channel_id"), int(get_str(m, "pk")[5:])) for m in found}
            keys = {(x.author_id or 0, x.client_id) for x in authored if x.client_id is not None}
            sent = self._sent(keys, authors)
            read_only = self._archived({cid for cid, _ in members})
            archived = {pair for pair in members if pair[0] in read_only}

        names = {pair: authors[pair[1]] for pair in members if pair[1] in authors}
        p = batch_plan.plan(batch, names, sent, archived)
        return batch_plan.resolve(p, self._store_fresh(p.fresh, authors))

    def _archived(self, channel_ids: set[int]) -> set[int]:
        """Which of the channels are archived (read-only: their sends are
        refused). Archiving is rare and not in this transaction: a send racing
        it may land just before, as it would on SQL."""
        if not channel_ids:
            return set()
        items = self.tables.batch_get(
            "channels",
            [{"pk": S(f"channel#{cid}")} for cid in channel_ids],
            projection={"#pk": "pk", "#a": "archived"},
        )
        return {
            int(get_str(i, "pk")[8:]) for i in items if i.get("archived", {}).get("BOOL", False)
        }

    def _sent(
        self, keys: set[tuple[int, str]], authors: dict[int, tuple[str, str, bool]]
    ) -> dict[tuple[int, str], StoredMessage]:
        """Messages already stored under these (author, client_id) pairs."""
        if not keys:
            return {}
        refs = self.tables.batch_get("users", [{"pk": S(sent_key(a, c))} for a, c in keys])
        if not refs:
            return {}
        rows = self.tables.batch_get(
            "messages",
            [{"channel_id": r["channel_id"], "seq": r["seq"]} for r in refs],
        )
        current = channel_names(self.tables, (get_int(r, "channel_id") for r in rows))
        out = {}
        for row in rows:
            name = current.get(get_int(row, "channel_id"), get_str(row, "channel"))
            m = message_of(row, name, duplicate=True)
            author_id = get_int(row, "author_id")
            if m.client_id is not None and author_id in authors:
                out[(author_id, m.client_id)] = m
        return out

    def _store_fresh(
        self, fresh: list[NewMessage], authors: dict[int, tuple[str, str, bool]]
    ) -> list[StoredMessage | AppendRejected]:
        if not fresh:
            return []
        results = self._store_fresh_once(fresh, authors)
        for _ in range(FENCED_RETRIES):
            again = [i for i, r in enumerate(results) if r is None]
            if not again:
                break
            retried = self._store_fresh_once([fresh[i] for i in again], authors)
            for i, r in zip(again, retried, strict=True):
                results[i] = r
        if any(r is None for r in results):
            raise StoreError("seqs kept being fenced off (a channel's pushes are far behind)")
        return [r for r in results if r is not None]

    def _store_fresh_once(
        self, fresh: list[NewMessage], authors: dict[int, tuple[str, str, bool]]
    ) -> list[StoredMessage | AppendRejected | None]:
        """Take seqs for `fresh` and store them; None for those whose seqs were
        fenced off (to be tried again with new seqs)."""
        per_channel: dict[int, int] = {}
        for x in fresh:
            per_channel[x.channel_id] = per_channel.get(x.channel_id, 0) + 1
        # The atomic counter: each channel's range of seqs in one UpdateItem.
        next_seq: dict[int, int] = {}
        names: dict[int, str] = {}  # the channels' names now, from the counter's item
        for cid, count in per_channel.items():
            res = self.tables.client.update_item(
                TableName=self.tables.names["channels"],
                Key={"pk": S(f"channel#{cid}")},
                UpdateExpression="ADD last_seq :n",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":n": N(count)},
                ReturnValues="ALL_NEW",
            )
            attrs = res["Attributes"]
            next_seq[cid] = get_int(attrs, "last_seq") - count + 1
            names[cid] = get_str(attrs, "name")

        stored: list[StoredMessage] = []
        for x in fresh:
            seq = next_seq[x.channel_id]
            next_seq[x.channel_id] = seq + 1
            if x.author_id is None:
                author, author_name, bot = None, x.shown_name or "guest", False
            else:
                author, author_name, bot = authors[x.author_id]
            stored.append(
                StoredMessage(
                    x.channel_id,
                    names[x.channel_id],
                    seq,
                    author,
                    author_name,
                    x.text,
                    x.client_id,
                    x.created_at,
                    files=x.files,
                    shown_name=None if x.author_id is None else x.shown_name,
                    author_bot=bot,
                )
            )

        results: list[StoredMessage | AppendRejected | None] = []
        start = 0
        while start < len(fresh):
            end, size = start, 0
            checks: set[tuple[int, int]] = set()
            channels: set[int] = set()
            while end < len(fresh):
                x = fresh[end]
                pair = (x.channel_id, x.author_id or 0)
                need = 1 + (x.channel_id not in channels)
                if x.author_id is not None:
                    need += (x.client_id is not None) + (pair not in checks)
                if size + need > MAX_TRANSACTION:
                    break
                size += need
                channels.add(x.channel_id)
                if x.author_id is not None:
                    checks.add(pair)
                end += 1
            part = list(zip(fresh[start:end], stored[start:end], strict=True))
            try:
                self._transact(part)
                results.extend(m for _, m in part)
            except (Cancelled, Fenced):
                # Some message's condition failed: write them one by one, so
                # only the ones at fault are left out.
                results.extend(self._store_one(x, m) for x, m in part)
            start = end
        return results

    def _transact(self, part: list[tuple[NewMessage, StoredMessage]]) -> None:
        """Write `part` in one transaction, moving its authors' cursors where
        they are behind; raise Cancelled if anything else failed."""
        ahead: set[tuple[int, int]] = set()  # pairs whose cursor stays as it is
        while True:
            actions, cursors, fences = self._write_actions(part, ahead)
            try:
                self.tables.transact(actions)
                return
            except Cancelled as exc:
                failed = [i for i in range(len(actions)) if exc.failed(i)]
                if any(i in fences for i in failed):
                    raise Fenced() from None
                if not failed or any(i not in cursors for i in failed):
                    raise
                # Only cursors at or past the message failed (or the author
                # left: the plain check then fails too, and is raised).
                ahead.update(cursors[i] for i in failed)

    def _write_actions(
        self, part: list[tuple[NewMessage, StoredMessage]], ahead: set[tuple[int, int]]
    ) -> tuple[list[Item], dict[int, tuple[int, int]], set[int]]:
        """The actions, which of them move a cursor (index -> pair), and which
        check a channel's push cursor."""
        upto: dict[tuple[int, int], int] = {}  # (channel, author) -> their last seq here
        lowest: dict[int, int] = {}  # channel -> its lowest seq here
        for x, m in part:
            lowest.setdefault(x.channel_id, m.seq)
            if x.author_id is not None:
                upto[(x.channel_id, x.author_id)] = m.seq
        actions: list[Item] = []
        fences: set[int] = set()
        for cid, seq in lowest.items():
            fences.add(len(actions))
            actions.append(order.fence(self.tables, cid, seq))
        cursors: dict[int, tuple[int, int]] = {}
        checks: set[tuple[int, int]] = set()
        for x, m in part:
            item: Item = {
                "channel_id": N(m.channel_id),
                "seq": N(m.seq),
                "channel": S(m.channel),
                "author_name": S(m.author_name),
                "text": S(m.text),
                "created_at": N(m.created_at),
            }
            if x.author_id is not None and m.author is not None:
                item["author_id"] = N(x.author_id)
                item["author"] = S(m.author)
            if m.client_id is not None:
                item["client_id"] = S(m.client_id)
            if m.shown_name is not None:
                item["shown_name"] = S(m.shown_name)
            if m.author_bot:
                item["author_bot"] = {"BOOL": True}
            if files := files_json.dumps(x.files):
                item["files"] = S(files)
            actions.append(self.tables.put("messages", item, "attribute_not_exists(seq)"))
            if x.author_id is not None and m.client_id is not None:
                actions.append(
                    self.tables.put(
                        "users",
                        {
                            "pk": S(sent_key(x.author_id, m.client_id)),
                            "channel_id": N(m.channel_id),
                            "seq": N(m.seq),
                        },
                        "attribute_not_exists(pk)",
                    )
                )
            pair = (x.channel_id, x.author_id or 0)
            if x.author_id is not None and pair not in checks:
                checks.add(pair)
                key = member_key(x.channel_id, x.author_id)
                table = self.tables.names["members"]
                if pair in ahead:
                    check: Item = {"TableName": table, "Key": key}
                    check["ConditionExpression"] = "attribute_exists(pk)"
                    actions.append({"ConditionCheck": check})
                else:
                    cursors[len(actions)] = pair
                    actions.append(
                        {
                            "Update": {
                                "TableName": table,
                                "Key": key,
                                "UpdateExpression": "SET last_read = :s",
                                "ConditionExpression": "attribute_exists(pk) AND last_read < :s",
                                "ExpressionAttributeValues": {":s": N(upto[pair])},
                            }
                        }
                    )
        return actions, cursors, fences

    def _store_one(self, x: NewMessage, m: StoredMessage) -> StoredMessage | AppendRejected | None:
        try:
            self._transact([(x, m)])
            return m
        except Fenced:
            return None
        except Cancelled as exc:
            # Actions: the fence (0), the message (1), its claim (2), the member.
            if exc.failed(1):
                raise StoreError(f"seq {m.seq} of {m.channel} was taken") from None
            if x.author_id is not None and x.client_id is not None and exc.failed(2):
                # The same (author, client_id) was stored by a concurrent retry.
                author = {x.author_id: (m.author or "", m.author_name, m.author_bot)}
                original = self._sent({(x.author_id, x.client_id)}, author)
                return original.get((x.author_id, x.client_id)) or AppendRejected("conflict")
            return AppendRejected("not a member")  # left the channel meanwhile
