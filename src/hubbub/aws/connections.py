"""Who is connected through API Gateway, in the store's `connections` table.

Items, all with a TTL (`expires_at`), so connections that vanished without a
`$disconnect` (API Gateway does not guarantee one) are deleted by DynamoDB:
- (`conn#ID`, `info`): the connection's session state (`session.state.State`),
  its user or guest room, and when each throttled action last went through;
- (`conn#ID`, `topic#T`) and its mirror (`topic#T`, `conn#ID`): the topics
  (`c:1`, `u:2`, `p:3`, as on the bus) the connection follows, and how
  (`native` frames or the S1 tutorial's `{"messages": [...]}`);
- (`user#U`, `conn#ID`): a user's connections, for presence.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Literal

from hubbub.store.dynamo import DynamoStore, Item, N, S, chunks, get_int, get_str

Mode = Literal["native", "tutorial"]

# API Gateway closes every WebSocket after 2 hours; a little slack on top.
CONNECTION_TTL = 2 * 3600 + 600

# A post to a connection whose `$connect` is still running gets 410 too (API
# Gateway completes the upgrade after `$connect` answers), so a 410 within
# this many seconds of connecting is not taken to mean the connection is gone.
GONE_GRACE = 10.0


@dataclasses.dataclass(frozen=True, slots=True)
class ConnectionInfo:
    connection_id: str
    user_id: int | None
    room: str | None  # the tutorial room (`?room_name=`), if any
    state: str  # the session state's name (`hubbub.session.state.State`)
    session_id: str | None = None  # the user's session (core.accounts)


def _older(item: Item) -> str:
    """The state of an item written before states were stored (a rolling deploy)."""
    if not item.get("authenticated", {}).get("BOOL"):
        return "awaiting_auth"
    return "user" if "user_id" in item else "guest"


class ConnectionTable:
    def __init__(self, store: DynamoStore) -> None:
        self.store = store
        self.table = store.tables.names["connections"]

    # --- blocking ---------------------------------------------------------------------

    def _expiry(self) -> int:
        return int(time.time()) + CONNECTION_TTL

    def _put_items(self, items: list[Item]) -> None:
        client = self.store.tables.client
        for chunk in chunks(items, 25):
            request: Any = {self.table: [{"PutRequest": {"Item": i}} for i in chunk]}
            self._write(client, request)

    def _delete_keys(self, keys: list[Item]) -> None:
        client = self.store.tables.client
        for chunk in chunks(keys, 25):
            request: Any = {self.table: [{"DeleteRequest": {"Key": k}} for k in chunk]}
            self._write(client, request)

    @staticmethod
    def _write(client: Any, request: Any) -> None:
        for _ in range(10):
            res = client.batch_write_item(RequestItems=request)
            request = res.get("UnprocessedItems") or {}
            if not request:
                return
            time.sleep(0.05)  # throttled: back off, bounded by the loop

    def _register(
        self,
        conn_id: str,
        user_id: int | None,
        room: str | None,
        state: str,
        session_id: str | None,
    ) -> None:
        expires = N(self._expiry())
        info: Item = {
            "pk": S(f"conn#{conn_id}"),
            "sk": S("info"),
            "connected_at": N(int(time.time() * 1000)),
            "state": S(state),
            "expires_at": expires,
        }
        items = [info]
        if user_id is not None:
            info["user_id"] = N(user_id)
            items.append(
                {"pk": S(f"user#{user_id}"), "sk": S(f"conn#{conn_id}"), "expires_at": expires}
            )
        if room is not None:
            info["room"] = S(room)
        if session_id is not None:
            info["session_id"] = S(session_id)
        self._put_items(items)

    def _get(self, conn_id: str) -> ConnectionInfo | None:
        item = self.store.tables.get("connections", {"pk": S(f"conn#{conn_id}"), "sk": S("info")})
        if item is None or get_int(item, "expires_at") < time.time():
            return None
        return ConnectionInfo(
            conn_id,
            get_int(item, "user_id") if "user_id" in item else None,
            get_str(item, "room") if "room" in item else None,
            get_str(item, "state") if "state" in item else _older(item),
            get_str(item, "session_id") if "session_id" in item else None,
        )

    def _throttle(self, conn_id: str, key: str, every: float) -> bool:
        """One conditional write: let `key` through unless it went through
        less than `every` seconds ago (containers share no memory, so the
        last time lives on the connection's item)."""
        now = int(time.time() * 1000)
        client = self.store.tables.client
        try:
            client.update_item(
                TableName=self.table,
                Key={"pk": S(f"conn#{conn_id}"), "sk": S("info")},
                UpdateExpression="SET #k = :now",
                ConditionExpression="attribute_exists(pk) AND "
                "(attribute_not_exists(#k) OR #k <= :due)",
                ExpressionAttributeNames={"#k": f"at_{key}"},
                ExpressionAttributeValues={":now": N(now), ":due": N(now - int(every * 1000))},
            )
        except client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def _follow(self, conn_id: str, topic: str, mode: Mode) -> None:
        expires = N(self._expiry())
        self._put_items(
            [
                {
                    "pk": S(f"topic#{topic}"),
                    "sk": S(f"conn#{conn_id}"),
                    "mode": S(mode),
                    "expires_at": expires,
                },
                {"pk": S(f"conn#{conn_id}"), "sk": S(f"topic#{topic}"), "expires_at": expires},
            ]
        )

    def _unfollow(self, conn_id: str, topics: list[str]) -> None:
        keys = []
        for topic in topics:
            keys.append({"pk": S(f"topic#{topic}"), "sk": S(f"conn#{conn_id}")})
            keys.append({"pk": S(f"conn#{conn_id}"), "sk": S(f"topic#{topic}")})
        self._delete_keys(keys)

    def _topics(self, conn_id: str) -> list[str]:
        items = self.store.tables.query(
            "connections",
            KeyConditionExpression="pk = :p AND begins_with(sk, :t)",
            ExpressionAttributeValues={":p": S(f"conn#{conn_id}"), ":t": S("topic#")},
        )
        return [get_str(i, "sk")[len("topic#") :] for i in items]

    def _followers(self, topic: str) -> list[tuple[str, Mode]]:
        now = time.time()
        items = self.store.tables.query(
            "connections",
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": S(f"topic#{topic}")},
        )
        return [
            (
                get_str(i, "sk")[len("conn#") :],
                "tutorial" if get_str(i, "mode") == "tutorial" else "native",
            )
            for i in items
            if get_int(i, "expires_at") >= now  # DynamoDB's TTL deletes lag behind
        ]

    def _remove(self, conn_id: str) -> ConnectionInfo | None:
        info = self._get(conn_id)
        keys: list[Item] = []
        for item in self.store.tables.query(
            "connections",
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": S(f"conn#{conn_id}")},
        ):
            keys.append({"pk": item["pk"], "sk": item["sk"]})
            sk = get_str(item, "sk")
            if sk.startswith("topic#"):
                keys.append({"pk": item["sk"], "sk": S(f"conn#{conn_id}")})
            elif sk == "info" and "user_id" in item:
                keys.append(
                    {"pk": S(f"user#{get_int(item, 'user_id')}"), "sk": S(f"conn#{conn_id}")}
                )
        self._delete_keys(keys)
        return info

    def _remove_gone(self, conn_id: str, grace: float) -> bool:
        """`_remove`, unless the connection is younger than `grace` seconds."""
        item = self.store.tables.get("connections", {"pk": S(f"conn#{conn_id}"), "sk": S("info")})
        connected = get_int(item, "connected_at") if item and "connected_at" in item else 0
        if time.time() * 1000 - connected < grace * 1000:
            return False
        self._remove(conn_id)
        return True

    def _connections_of(self, user_id: int) -> int:
        now = time.time()
        items = self.store.tables.query(
            "connections",
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": S(f"user#{user_id}")},
        )
        return sum(1 for i in items if get_int(i, "expires_at") >= now)

    # --- async --------------------------------------------------------------------------

    async def register(
        self,
        conn_id: str,
        user_id: int | None,
        room: str | None,
        *,
        state: str,
        session_id: str | None = None,
    ) -> None:
        await self.store.run_blocking(self._register, conn_id, user_id, room, state, session_id)

    async def throttle(self, conn_id: str, key: str, every: float) -> bool:
        return await self.store.run_blocking(self._throttle, conn_id, key, every)

    async def get(self, conn_id: str) -> ConnectionInfo | None:
        return await self.store.run_blocking(self._get, conn_id)

    async def follow(self, conn_id: str, topic: str, mode: Mode = "native") -> None:
        await self.store.run_blocking(self._follow, conn_id, topic, mode)

    async def unfollow(self, conn_id: str, topics: list[str]) -> None:
        if topics:
            await self.store.run_blocking(self._unfollow, conn_id, topics)

    async def topics(self, conn_id: str) -> list[str]:
        return await self.store.run_blocking(self._topics, conn_id)

    async def followers(self, topic: str) -> list[tuple[str, Mode]]:
        return await self.store.run_blocking(self._followers, topic)

    async def remove(self, conn_id: str) -> ConnectionInfo | None:
        """Forget a connection and everything it follows; its info, if it had one."""
        return await self.store.run_blocking(self._remove, conn_id)

    async def remove_gone(self, conn_id: str, grace: float = GONE_GRACE) -> bool:
        """Forget a connection a push found gone (410), unless it connected
        less than `grace` seconds ago; whether it was forgotten."""
        return await self.store.run_blocking(self._remove_gone, conn_id, grace)

    async def connections_of(self, user_id: int) -> int:
        return await self.store.run_blocking(self._connections_of, user_id)
