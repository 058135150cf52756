"""The Store's operations on DynamoDB, blocking: `DynamoStore` runs each off
the event loop. Names and parameters are the Store protocol's."""

from __future__ import annotations

from collections.abc import Sequence

from botocore.exceptions import ClientError

from hubbub.core.mentions import mention_re, needles
from hubbub.core.models import (
    AppendRejected,
    Changed,
    ChangeRefused,
    Channel,
    ChannelKind,
    FollowedThread,
    LogEntry,
    Membership,
    MessageChange,
    NewMessage,
    NewReply,
    Replied,
    Role,
    StoredFile,
    StoredMessage,
    User,
)
from hubbub.core.ports import NameTaken, StoreError
from hubbub.store.dynamo import changes, files, threads
from hubbub.store.dynamo.append import DynamoAppender
from hubbub.store.dynamo.client import MAX_TRANSACTION, Cancelled, DynamoTables, error_code
from hubbub.store.dynamo.integrations import DynamoIntegrations
from hubbub.store.dynamo.items import (
    Item,
    N,
    S,
    chunks,
    get_bool,
    get_int,
    get_str,
    member_key,
    message_of,
    now_ms,
    user_of,
)
from hubbub.store.dynamo.names import channel_name
from hubbub.store.dynamo.notify import DynamoNotify
from hubbub.store.dynamo.workspace import DynamoWorkspace, default_key, role_key

# A message shown in its channel: not a reply, or one also sent there (`:yes`).
IN_CHANNEL = "attribute_not_exists(thread_root) OR broadcast = :yes"


class SyncDynamoStore(DynamoWorkspace, DynamoIntegrations, DynamoNotify):
    """The Store's operations; running a workspace (roles, sessions, invites,
    the audit log, channel administration) are `DynamoWorkspace`'s, its
    webhooks and commands `DynamoIntegrations`', notification preferences
    `DynamoNotify`'."""

    def __init__(self, tables: DynamoTables) -> None:
        super().__init__(tables)
        self.appender = DynamoAppender(tables)

    # --- lifecycle ------------------------------------------------------------------

    def open(self) -> None:
        self.tables.open()
        self.upgrade()

    def close(self) -> None:
        self.tables.close()

    def ping(self) -> None:
        self.tables.get("meta", {"pk": S("meta#ping")})

    def get_or_set_meta(self, key: str, value: str) -> str:
        try:
            self.tables.client.put_item(
                TableName=self.tables.names["meta"],
                Item={"pk": S(f"meta#{key}"), "value": S(value)},
                ConditionExpression="attribute_not_exists(pk)",
            )
            return value
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
        item = self.tables.get("meta", {"pk": S(f"meta#{key}")})
        assert item is not None
        return get_str(item, "value")

    # --- users --------------------------------------------------------------------------

    def create_user(
        self,
        username: str,
        display_name: str,
        password_hash: str,
        role: Role = "member",
        *,
        bot_owner: int | None = None,
    ) -> User:
        if self.tables.get("users", {"pk": S(f"username#{username}")}) is not None:
            raise NameTaken(username)  # spare an id when the answer is known
        uid = self.tables.next_id("user")
        user: Item = {
            "pk": S(f"user#{uid}"),
            "id": N(uid),
            "username": S(username),
            "display_name": S(display_name),
            "password_hash": S(password_hash),
            "created_at": N(now_ms()),
            "role": S(role),
            "active": {"BOOL": True},
        }
        if bot_owner is not None:
            user |= {"bot": {"BOOL": True}, "owner_id": N(bot_owner)}
        try:
            self.tables.transact(
                [
                    self.tables.put(
                        "users",
                        {"pk": S(f"username#{username}"), "id": N(uid)},
                        "attribute_not_exists(pk)",
                    ),
                    self.tables.put("users", user),
                    self.tables.put("members", {**role_key(role, username), "user_id": N(uid)}),
                ]
            )
        except Cancelled as exc:
            if exc.failed(0):
                raise NameTaken(username) from None
            raise StoreError(f"creating user cancelled: {exc}") from None
        return user_of(user)

    def get_user(self, user_id: int) -> User | None:
        item = self.tables.get("users", {"pk": S(f"user#{user_id}")})
        return None if item is None else user_of(item)

    def get_user_by_name(self, username: str) -> User | None:
        ref = self.tables.get("users", {"pk": S(f"username#{username}")})
        return None if ref is None else self.get_user(get_int(ref, "id"))

    def bots(self) -> list[User]:
        """A Scan, as `search_users`: listing bots is an integrations page's,
        not a hot path."""
        items = self.tables.scan(
            "users",
            FilterExpression="begins_with(pk, :user) AND bot = :yes",
            ExpressionAttributeValues={":user": S("user#"), ":yes": {"BOOL": True}},
        )
        return sorted(map(user_of, items), key=lambda u: u.username)

    def search_users(self, query: str, after: str | None, limit: int) -> list[User]:
        """A Scan of the users table, filtered here: DynamoDB's `contains` has
        no case-insensitive form, and no index orders users by name. It reads
        every account for each page: fine for a directory of thousands; a big
        deployment would keep a lower-cased copy of the names in an index."""
        folded = query.lower()
        found: list[User] = []
        for item in self.tables.scan(
            "users",
            # user#id items only (not username#... or sent#... ones).
            FilterExpression="begins_with(pk, :user)",
            ExpressionAttributeValues={":user": S("user#")},
        ):
            user = user_of(item)
            if (after is None or user.username > after) and (
                folded in user.username.lower() or folded in user.display_name.lower()
            ):
                found.append(user)
        return sorted(found, key=lambda u: u.username)[: max(limit, 0)]

    def update_password_hash(self, user_id: int, password_hash: str) -> None:
        try:
            self.tables.client.update_item(
                TableName=self.tables.names["users"],
                Key={"pk": S(f"user#{user_id}")},
                UpdateExpression="SET password_hash = :h",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":h": S(password_hash)},
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise

    # --- channels -------------------------------------------------------------------------

    def create_channel(
        self,
        name: str,
        kind: ChannelKind,
        topic: str,
        member_ids: Sequence[int],
        *,
        admin_ids: Sequence[int] = (),
        purpose: str = "",
        default: bool = False,
    ) -> Channel:
        if self.tables.get("channels", {"pk": S(f"name#{name}")}) is not None:
            raise NameTaken(name)
        users = {
            get_int(i, "id"): get_str(i, "username")
            for i in self.tables.batch_get("users", [{"pk": S(f"user#{u}")} for u in member_ids])
        }
        member_ids = [u for u in dict.fromkeys(member_ids) if u in users]
        cid = self.tables.next_id("channel")
        now = now_ms()
        actions = [
            self.tables.put(
                "channels", {"pk": S(f"name#{name}"), "id": N(cid)}, "attribute_not_exists(pk)"
            ),
            self.tables.put(
                "channels",
                {
                    "pk": S(f"channel#{cid}"),
                    "id": N(cid),
                    "name": S(name),
                    "kind": S(kind),
                    "topic": S(topic),
                    "last_seq": N(0),
                    "member_count": N(len(member_ids)),
                    "created_at": N(now),
                    "purpose": S(purpose),
                    "archived": {"BOOL": False},
                    "is_default": {"BOOL": default},
                },
            ),
        ]
        if default:
            actions.append(self.tables.put("members", {**default_key(cid), "channel_id": N(cid)}))
        admins = set(admin_ids)
        members = [
            a
            for u in member_ids
            for a in self._member_items(cid, u, users[u], 0, now, admin=u in admins)
        ]
        first = MAX_TRANSACTION - len(actions)
        try:
            self.tables.transact(actions + members[:first])
        except Cancelled as exc:
            if exc.failed(0):
                raise NameTaken(name) from None
            raise StoreError(f"creating channel cancelled: {exc}") from None
        for chunk in chunks(members[first:], MAX_TRANSACTION):  # only for huge member lists
            self.tables.transact(list(chunk))
        names = tuple(sorted(users[u] for u in member_ids)) if kind == "dm" else None
        return Channel(
            cid, name, kind, topic, 0, len(member_ids), names, purpose=purpose, default=default
        )

    def _member_items(
        self, cid: int, uid: int, username: str, last_read: int, now: int, *, admin: bool
    ) -> list[Item]:
        """A membership is two items: the user's (with the read cursor), and the
        channel's mirror (listing members without a scan)."""
        return [
            self.tables.put(
                "members",
                {
                    "pk": S(f"user#{uid}"),
                    "sk": S(f"channel#{cid}"),
                    "channel_id": N(cid),
                    "last_read": N(last_read),
                    "joined_at": N(now),
                    "admin": {"BOOL": admin},
                },
                "attribute_not_exists(pk)",
            ),
            self.tables.put(
                "members",
                {
                    "pk": S(f"channel#{cid}"),
                    "sk": S(f"user#{uid}"),
                    "user_id": N(uid),
                    "username": S(username),
                },
            ),
        ]

    def get_channel(self, name: str) -> Channel | None:
        ref = self.tables.get("channels", {"pk": S(f"name#{name}")})
        return None if ref is None else self._channel(get_int(ref, "id"))

    def channels_for(self, user_id: int) -> list[Membership]:
        reads = {
            get_int(i, "channel_id"): (get_int(i, "last_read"), get_bool(i, "admin"))
            for i in self.tables.query(
                "members",
                KeyConditionExpression="pk = :p",
                ExpressionAttributeValues={":p": S(f"user#{user_id}")},
            )
        }
        items = self.tables.batch_get("channels", [{"pk": S(f"channel#{c}")} for c in reads])
        chans = sorted((self._channel_of(i) for i in items), key=lambda c: c.name)
        return [Membership(c, *reads[c.id]) for c in chans]

    def public_channels(self) -> list[Channel]:
        items = self.tables.scan(
            "channels",
            FilterExpression="#k = :public",
            ExpressionAttributeNames={"#k": "kind"},
            ExpressionAttributeValues={":public": S("public")},
        )
        return sorted(map(self._channel_of, items), key=lambda c: c.name)

    def membership(self, channel_id: int, user_id: int) -> Membership | None:
        item = self.tables.get("members", member_key(channel_id, user_id))
        if item is None:
            return None
        channel = self._channel(channel_id)
        if channel is None:
            return None
        return Membership(channel, get_int(item, "last_read"), get_bool(item, "admin"))

    def add_member(self, channel_id: int, user_id: int, *, admin: bool = False) -> bool:
        user = self.get_user(user_id)
        for _ in range(20):
            channel = self.tables.get("channels", {"pk": S(f"channel#{channel_id}")})
            if channel is None or user is None:
                return False
            # The newcomer's cursor is the channel's last seq (nothing unread),
            # made exact by adding only if no message came in since we read it.
            last = get_int(channel, "last_seq")
            actions = self._member_items(
                channel_id, user_id, user.username, last, now_ms(), admin=admin
            )
            actions.append(
                {
                    "Update": {
                        "TableName": self.tables.names["channels"],
                        "Key": {"pk": S(f"channel#{channel_id}")},
                        "UpdateExpression": "ADD member_count :one",
                        "ConditionExpression": "last_seq = :last",
                        "ExpressionAttributeValues": {":one": N(1), ":last": N(last)},
                    }
                }
            )
            try:
                self.tables.transact(actions)
                return True
            except Cancelled as exc:
                if exc.failed(0):
                    return False
                if not exc.failed(2):
                    raise StoreError(f"adding a member cancelled: {exc}") from None
        raise StoreError("channel too busy to join")

    def remove_member(self, channel_id: int, user_id: int) -> bool:
        members = self.tables.names["members"]
        try:
            self.tables.transact(
                [
                    {
                        "Delete": {
                            "TableName": members,
                            "Key": member_key(channel_id, user_id),
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    },
                    {
                        "Delete": {
                            "TableName": members,
                            "Key": {"pk": S(f"channel#{channel_id}"), "sk": S(f"user#{user_id}")},
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.tables.names["channels"],
                            "Key": {"pk": S(f"channel#{channel_id}")},
                            "UpdateExpression": "ADD member_count :minus",
                            "ExpressionAttributeValues": {":minus": N(-1)},
                        }
                    },
                ]
            )
        except Cancelled as exc:
            if exc.failed(0):
                return False
            raise StoreError(f"removing a member cancelled: {exc}") from None
        return True

    def set_last_read(self, channel_id: int, user_id: int, seq: int) -> int:
        try:
            self.tables.client.update_item(
                TableName=self.tables.names["members"],
                Key=member_key(channel_id, user_id),
                UpdateExpression="SET last_read = :s",
                ConditionExpression="attribute_exists(pk) AND last_read < :s",
                ExpressionAttributeValues={":s": N(seq)},
            )
            return seq
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
        item = self.tables.get("members", member_key(channel_id, user_id))
        return get_int(item, "last_read") if item else 0

    # --- messages -------------------------------------------------------------------------

    def append_messages(self, batch: Sequence[NewMessage]) -> list[StoredMessage | AppendRejected]:
        return self.appender.append(list(batch))

    def change_message(
        self, channel_id: int, seq: int, actor_id: int, change: MessageChange
    ) -> Changed | ChangeRefused:
        return changes.change_message(self.tables, channel_id, seq, actor_id, change)

    def last_seq(self, channel_id: int) -> int:
        """The last seq stored in the log (the counter may be ahead of it, by
        seqs being written now or never to be)."""
        return changes.last_seq(self.tables, channel_id)

    def log_after(self, channel_id: int, after: int, limit: int) -> list[LogEntry]:
        return changes.log_after(self.tables, channel_id, after, limit)

    def pinned(self, channel_id: int, limit: int) -> list[StoredMessage]:
        return changes.pinned(self.tables, channel_id, limit)

    def append_reply(self, reply: NewReply) -> Replied | ChangeRefused:
        return threads.append_reply(self.tables, reply)

    def thread(
        self,
        channel_id: int,
        root: int,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int,
    ) -> list[StoredMessage]:
        return threads.thread(
            self.tables, channel_id, root, before=before, after=after, limit=limit
        )

    def followed_threads(self, user_id: int, limit: int) -> list[FollowedThread]:
        return threads.followed_threads(self.tables, user_id, limit)

    # --- files (files.py) -----------------------------------------------------------------

    def create_file(self, file: StoredFile) -> None:
        files.create_file(self.tables, file)

    def get_file(self, file_id: str) -> StoredFile | None:
        return files.get_file(self.tables, file_id)

    def claim_files(
        self, file_ids: Sequence[str], uploader_id: int, channel_id: int, client_id: str
    ) -> list[StoredFile] | None:
        return files.claim_files(self.tables, file_ids, uploader_id, channel_id, client_id)

    def file_bytes(self, uploader_id: int) -> int:
        return files.file_bytes(self.tables, uploader_id)

    def orphan_files(self, created_before: int, limit: int) -> list[StoredFile]:
        return files.orphan_files(self.tables, created_before, limit)

    def delete_file(self, file_id: str) -> None:
        files.delete_file(self.tables, file_id)

    def read_thread(self, channel_id: int, root: int, user_id: int, seq: int) -> int | None:
        return threads.read_thread(self.tables, channel_id, root, user_id, seq)

    def count_unread(self, channel_id: int, after: int, user_id: int) -> int:
        return self.tables.count(
            "messages",
            KeyConditionExpression="channel_id = :c AND seq > :a",
            FilterExpression=(
                "attribute_not_exists(deleted_at) AND "
                f"(attribute_not_exists(author_id) OR author_id <> :u) AND ({IN_CHANNEL})"
            ),
            ExpressionAttributeValues={
                ":c": N(channel_id),
                ":a": N(after),
                ":u": N(user_id),
                ":yes": {"BOOL": True},
            },
        )

    def count_mentions(self, channel_id: int, after: int, username: str) -> int:
        pattern = mention_re(username)
        words = {f":m{i}": S(n) for i, n in enumerate(needles(username))}
        values: Item = {":c": N(channel_id), ":a": N(after), ":yes": {"BOOL": True}, **words}
        wanted = [
            "attribute_not_exists(deleted_at)",
            f"({IN_CHANNEL})",  # a reply kept in its thread is no mention in the channel
            "(" + " OR ".join(f"contains(#t, {k})" for k in words) + ")",
        ]
        # The user's own messages never mention them (`@here` included), as
        # their own messages are never unread (count_unread).
        ref = self.tables.get("users", {"pk": S(f"username#{username}")})
        if ref is not None:
            wanted.append("(attribute_not_exists(author_id) OR author_id <> :u)")
            values[":u"] = N(get_int(ref, "id"))
        items = self.tables.query(
            "messages",
            KeyConditionExpression="channel_id = :c AND seq > :a",
            FilterExpression=" AND ".join(wanted),
            ProjectionExpression="#t",
            ExpressionAttributeNames={"#t": "text"},
            ExpressionAttributeValues=values,
        )
        return sum(1 for i in items if pattern.search(get_str(i, "text")))

    def messages(
        self,
        channel_id: int,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int,
    ) -> list[StoredMessage]:
        values: Item = {":c": N(channel_id)}
        if after is not None and before is not None:
            if after + 1 > before - 1:
                return []
            cond = "channel_id = :c AND seq BETWEEN :lo AND :hi"
            values.update({":lo": N(after + 1), ":hi": N(before - 1)})
        elif after is not None:
            cond = "channel_id = :c AND seq > :a"
            values[":a"] = N(after)
        elif before is not None:
            cond = "channel_id = :c AND seq < :b"
            values[":b"] = N(before)
        else:
            cond = "channel_id = :c"
        if limit <= 0:
            return []
        found: list[Item] = []
        values[":yes"] = {"BOOL": True}
        for item in self.tables.query(
            "messages",
            KeyConditionExpression=cond,
            FilterExpression=IN_CHANNEL,
            ExpressionAttributeValues=values,
            ScanIndexForward=after is not None,
            Limit=limit,
        ):
            found.append(item)
            if len(found) >= limit:
                break
        if not found:
            return []
        name = channel_name(self.tables, channel_id)
        return [message_of(item, name) for item in found]
