"""Running a workspace on DynamoDB: roles, deactivation and profiles,
sessions, invites, the audit log, and channel administration (renames with
aliases, fields, default channels, channel admins). `SyncDynamoStore`
inherits these; names and parameters are the Store protocol's.

The items (no table of their own: new kinds in the existing tables):

- users `user#<id>`: also `role`, `active` (BOOL; missing: active),
  `deactivated_at`, `status_emoji`, `status_text`, `status_until`.
- members `role#<role>` / `<username>` (`user_id`): who has a role, read by
  `users_with_role` with one Query (in username order) and a BatchGet of the
  users, which are the truth (an entry whose user has another role now or is
  deactivated is skipped). Moved with the user's role in one transaction.
- users `session#<id>`: a session (`user_id`, `created_at`, `last_used_at`,
  `device`, `address`, `ended_at`); `touch_session`, on every use of a token,
  is one conditional UpdateItem of it.
- members `usessions#<user>` / `<session id>`: the user's sessions not ended,
  deleted in the transaction that ends the session.
- members `invites` / `<code_hash>`: an invite, used by one conditional
  UpdateItem (`use_invite`), listed by one Query; meta `invite#<id>` names
  its code_hash (`revoke_invite` is by id).
- members `audit` / `<id, zero-padded>`: the audit log, its ids from the
  `counter#audit` counter (`next_id`), read newest first by one Query.
- channels `channel#<id>`: also `purpose`, `archived`, `is_default` (BOOL).
- channels `name#<name>` (`id`): a name a channel has or had. A rename adds
  one and keeps the old one for good, so `get_channel` finds a channel by a
  former name, and no other channel can claim it (conditional puts).
- members `defaults` / `<channel id>`: the default channels, kept with the
  channel's `is_default` in one transaction.
- members `user#<u>` / `channel#<c>`: also `admin` (BOOL).

`open` brings older tables up to date once (`upgrade`): users created before
roles existed get their `role#member` entry.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Sequence

from botocore.exceptions import ClientError

from hubbub.core.models import (
    AuditEntry,
    Channel,
    Invite,
    Role,
    Session,
    Status,
    User,
    scopes_from,
    scopes_text,
)
from hubbub.core.ports import NameTaken, StoreError
from hubbub.store.dynamo.client import MAX_TRANSACTION, Cancelled, DynamoTables, error_code
from hubbub.store.dynamo.items import (
    Item,
    N,
    S,
    chunks,
    get_bool,
    get_int,
    get_opt_int,
    get_str,
    member_key,
    now_ms,
    role_of,
    user_of,
)

SCHEMA = 2  # meta#schema's `version` (missing: 1, before roles); 2: role entries
ID_WIDTH = 20  # digits of a zero-padded id, so string order is id order
ATTEMPTS = 10  # a read-then-write that lost a race looks again, this many times


def role_key(role: Role, username: str) -> Item:
    return {"pk": S(f"role#{role}"), "sk": S(username)}


def session_key(session_id: str) -> Item:
    return {"pk": S(f"session#{session_id}")}


def live_session_key(user_id: int, session_id: str) -> Item:
    return {"pk": S(f"usessions#{user_id}"), "sk": S(session_id)}


def invite_key(code_hash: str) -> Item:
    return {"pk": S("invites"), "sk": S(code_hash)}


def default_key(channel_id: int) -> Item:
    return {"pk": S("defaults"), "sk": S(str(channel_id))}


def session_of(item: Item) -> Session:
    return Session(
        get_str(item, "id"),
        get_int(item, "user_id"),
        get_int(item, "created_at"),
        get_int(item, "last_used_at"),
        device=get_str(item, "device"),
        address=get_str(item, "address"),
        ended_at=get_opt_int(item, "ended_at"),
        name=item.get("name", {}).get("S", ""),
        scopes=scopes_from(item["scopes"]["S"]) if "scopes" in item else None,
        key_hash=item.get("key_hash", {}).get("S", ""),
    )


def invite_of(item: Item) -> Invite:
    return Invite(
        get_str(item, "id"),
        get_str(item, "sk"),
        get_int(item, "created_by"),
        get_int(item, "created_at"),
        get_int(item, "expires_at"),
        get_int(item, "max_uses"),
        uses=get_int(item, "uses"),
        role=role_of(item),
        channels=tuple(c["S"] for c in item.get("channels", {}).get("L", [])),
        revoked=get_bool(item, "revoked"),
    )


def _failed_condition(exc: ClientError) -> bool:
    return error_code(exc) == "ConditionalCheckFailedException"


class DynamoWorkspace:
    def __init__(self, tables: DynamoTables) -> None:
        self.tables = tables

    # --- the schema ----------------------------------------------------------------

    def upgrade(self) -> None:
        """Bring tables written by an older hubbub up to date, once: every
        user gets the role entry `users_with_role` reads (a member's: roles
        did not exist). Idempotent, so nodes racing on it do no harm."""
        meta = self.tables.get("meta", {"pk": S("meta#schema")})
        if meta is not None and "version" in meta and get_int(meta, "version") >= SCHEMA:
            return
        for item in self.tables.scan(
            "users",
            FilterExpression="begins_with(pk, :user)",
            ExpressionAttributeValues={":user": S("user#")},
        ):
            entry = {**role_key(role_of(item), get_str(item, "username")), "user_id": item["id"]}
            self.tables.client.put_item(TableName=self.tables.names["members"], Item=entry)
        self.tables.client.put_item(
            TableName=self.tables.names["meta"],
            Item={"pk": S("meta#schema"), "version": N(SCHEMA)},
        )

    # --- users ------------------------------------------------------------------------

    def set_role(self, user_id: int, role: Role) -> None:
        for _ in range(ATTEMPTS):
            item = self.tables.get("users", {"pk": S(f"user#{user_id}")})
            if item is None:
                return
            old = role_of(item)
            if old == role:
                return
            username = get_str(item, "username")
            if "role" in item:
                cond, values = "#r = :old", {":new": S(role), ":old": S(old)}
            else:
                cond, values = "attribute_not_exists(#r)", {":new": S(role)}
            try:
                self.tables.transact(
                    [
                        {
                            "Update": {
                                "TableName": self.tables.names["users"],
                                "Key": {"pk": S(f"user#{user_id}")},
                                "UpdateExpression": "SET #r = :new",
                                "ConditionExpression": cond,
                                "ExpressionAttributeNames": {"#r": "role"},
                                "ExpressionAttributeValues": values,
                            }
                        },
                        {
                            "Delete": {
                                "TableName": self.tables.names["members"],
                                "Key": role_key(old, username),
                            }
                        },
                        self.tables.put(
                            "members", {**role_key(role, username), "user_id": N(user_id)}
                        ),
                    ]
                )
                return
            except Cancelled as exc:
                if not exc.failed(0):
                    raise StoreError(f"setting a role cancelled: {exc}") from None
                # Its role changed meanwhile: look again.
        raise StoreError("the user's role kept changing")

    def set_active(self, user_id: int, active: bool) -> None:
        """Deactivating ends the sessions in the same transaction as the
        flag (all of them, for up to 49 sessions; more are ended right after,
        by as many transactions as they need)."""
        at = now_ms()
        if active:
            update: Item = {
                "UpdateExpression": "SET #a = :a REMOVE deactivated_at",
                "ExpressionAttributeValues": {":a": {"BOOL": True}},
            }
        else:
            update = {
                # Deactivated once: a second call keeps the first time.
                "UpdateExpression": (
                    "SET #a = :a, deactivated_at = if_not_exists(deactivated_at, :now)"
                ),
                "ExpressionAttributeValues": {":a": {"BOOL": False}, ":now": N(at)},
            }
        flag: Item = {
            "Update": {
                "TableName": self.tables.names["users"],
                "Key": {"pk": S(f"user#{user_id}")},
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeNames": {"#a": "active"},
                **update,
            }
        }
        if active:
            with contextlib.suppress(Cancelled):  # cancelled: no such user
                self.tables.transact([flag])
            return
        for _ in range(ATTEMPTS):
            live = self._live_sessions(user_id)
            first = live[: (MAX_TRANSACTION - 1) // 2]
            try:
                self.tables.transact([flag, *self._end_actions(user_id, first, at)])
            except Cancelled as exc:
                if exc.failed(0):
                    return  # no such user
                continue  # a session ended meanwhile: look again
            self._end(user_id, live[len(first) :], at)
            return
        raise StoreError("the user's sessions kept changing")

    def update_profile(
        self, user_id: int, *, display_name: str | None = None, status: Status | None = None
    ) -> User | None:
        sets: list[str] = []
        removes: list[str] = []
        values: Item = {}
        if display_name is not None:
            sets.append("display_name = :d")
            values[":d"] = S(display_name)
        if status is not None:
            sets += ["status_emoji = :e", "status_text = :t"]
            values.update({":e": S(status.emoji), ":t": S(status.text)})
            if status.until is None:
                removes.append("status_until")
            else:
                sets.append("status_until = :u")
                values[":u"] = N(status.until)
        if not sets:
            item = self.tables.get("users", {"pk": S(f"user#{user_id}")})
            return None if item is None else user_of(item)
        expr = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        try:
            res = self.tables.client.update_item(
                TableName=self.tables.names["users"],
                Key={"pk": S(f"user#{user_id}")},
                UpdateExpression=expr,
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if _failed_condition(exc):
                return None
            raise
        return user_of(res["Attributes"])

    def users_with_role(self, role: Role) -> list[User]:
        entries = [
            get_int(i, "user_id")
            for i in self.tables.query(
                "members",
                KeyConditionExpression="pk = :p",
                ExpressionAttributeValues={":p": S(f"role#{role}")},
            )
        ]
        keys = [{"pk": S(f"user#{u}")} for u in entries]
        users = [user_of(i) for i in self.tables.batch_get("users", keys)]
        found = [u for u in users if u.role == role and u.active]
        return sorted(found, key=lambda u: u.username)

    # --- sessions ---------------------------------------------------------------------

    def create_session(self, session: Session) -> None:
        item: Item = {
            **session_key(session.id),
            "id": S(session.id),
            "user_id": N(session.user_id),
            "created_at": N(session.created_at),
            "last_used_at": N(session.last_used_at),
            "device": S(session.device),
            "address": S(session.address),
        }
        if session.ended_at is not None:
            item["ended_at"] = N(session.ended_at)
        if session.scopes is not None:
            item |= {
                "name": S(session.name),
                "scopes": S(scopes_text(session.scopes) or ""),
                "key_hash": S(session.key_hash),
            }
        actions = [self.tables.put("users", item, "attribute_not_exists(pk)")]
        if session.ended_at is None:
            # Whether it is an API token rides on the entry, so "log out
            # everywhere" (logins only) needs no read of each session.
            live = {
                **live_session_key(session.user_id, session.id),
                "id": S(session.id),
                "token": {"BOOL": session.is_token},
            }
            actions.append(self.tables.put("members", live))
        try:
            self.tables.transact(actions)
        except Cancelled:
            raise StoreError(f"session {session.id!r} exists") from None

    def session_and_user(self, session_id: str) -> tuple[Session, User | None] | None:
        item = self.tables.get("users", session_key(session_id))
        if item is None:
            return None
        session = session_of(item)
        user = self.tables.get("users", {"pk": S(f"user#{session.user_id}")})
        return session, None if user is None else user_of(user)

    def touch_session(self, session_id: str, at: int, address: str) -> None:
        """The time and the address of the latest use: a use older than the
        one recorded (a late request) changes neither."""
        try:
            self.tables.client.update_item(
                TableName=self.tables.names["users"],
                Key=session_key(session_id),
                UpdateExpression="SET last_used_at = :at, address = :ad",
                ConditionExpression="attribute_exists(pk) AND last_used_at <= :at",
                ExpressionAttributeValues={":at": N(at), ":ad": S(address)},
            )
        except ClientError as exc:
            if not _failed_condition(exc):
                raise

    def _live_sessions(self, user_id: int, *, logins_only: bool = False) -> list[str]:
        return [
            get_str(i, "sk")
            for i in self.tables.query(
                "members",
                KeyConditionExpression="pk = :p",
                ExpressionAttributeValues={":p": S(f"usessions#{user_id}")},
            )
            if not (logins_only and get_bool(i, "token"))
        ]

    def sessions_for(self, user_id: int) -> list[Session]:
        ids = self._live_sessions(user_id)
        found = [
            s
            for s in map(session_of, self.tables.batch_get("users", list(map(session_key, ids))))
            if s.user_id == user_id and s.ended_at is None
        ]
        return sorted(found, key=lambda s: (-s.last_used_at, -s.created_at, s.id))

    def _end_actions(self, user_id: int, ids: Sequence[str], at: int) -> list[Item]:
        """Two actions per session: its end (once: conditional on not being
        ended), and the removal of its entry among the user's live ones."""
        actions: list[Item] = []
        for sid in ids:
            actions.append(
                {
                    "Update": {
                        "TableName": self.tables.names["users"],
                        "Key": session_key(sid),
                        "UpdateExpression": "SET ended_at = :at",
                        "ConditionExpression": (
                            "attribute_exists(pk) AND user_id = :u"
                            " AND attribute_not_exists(ended_at)"
                        ),
                        "ExpressionAttributeValues": {":at": N(at), ":u": N(user_id)},
                    }
                }
            )
            actions.append(
                {
                    "Delete": {
                        "TableName": self.tables.names["members"],
                        "Key": live_session_key(user_id, sid),
                    }
                }
            )
        return actions

    def _end(self, user_id: int, ids: Sequence[str], at: int) -> list[str]:
        """End these sessions of the user; the ones ended now (not before)."""
        ended: list[str] = []
        for chunk in chunks(ids, MAX_TRANSACTION // 2):
            try:
                self.tables.transact(self._end_actions(user_id, chunk, at))
                ended += chunk
                continue
            except Cancelled:
                pass
            for sid in chunk:  # one ended meanwhile: the others one by one
                try:
                    self.tables.transact(self._end_actions(user_id, [sid], at))
                    ended.append(sid)
                except Cancelled:
                    # Ended already: its entry should be gone, make sure.
                    self.tables.client.delete_item(
                        TableName=self.tables.names["members"],
                        Key=live_session_key(user_id, sid),
                    )
        return ended

    def end_sessions(
        self,
        user_id: int,
        at: int,
        *,
        only: str | None = None,
        keep: str | None = None,
        logins_only: bool = False,
    ) -> list[str]:
        if only is not None:  # one of the user's live ones, or none
            live = self.tables.get("members", live_session_key(user_id, only))
            skip = live is None or (logins_only and get_bool(live, "token"))
            ids = [] if skip else [only]
        else:
            ids = self._live_sessions(user_id, logins_only=logins_only)
        if keep is not None:
            ids = [s for s in ids if s != keep]
        return self._end(user_id, ids, at)

    # --- invites ---------------------------------------------------------------------------

    def create_invite(self, invite: Invite) -> None:
        item: Item = {
            **invite_key(invite.code_hash),
            "id": S(invite.id),
            "created_by": N(invite.created_by),
            "created_at": N(invite.created_at),
            "expires_at": N(invite.expires_at),
            "max_uses": N(invite.max_uses),
            "uses": N(invite.uses),
            "role": S(invite.role),
            "channels": {"L": [S(c) for c in invite.channels]},
            "revoked": {"BOOL": invite.revoked},
        }
        ref = {"pk": S(f"invite#{invite.id}"), "code_hash": S(invite.code_hash)}
        try:
            self.tables.transact(
                [
                    self.tables.put("members", item, "attribute_not_exists(pk)"),
                    self.tables.put("meta", ref, "attribute_not_exists(pk)"),
                ]
            )
        except Cancelled:
            raise StoreError(f"invite {invite.id!r} exists") from None

    def use_invite(self, code_hash: str, now: int) -> Invite | None:
        """One conditional UpdateItem: DynamoDB counts the use only while the
        invite is usable, so concurrent registrations cannot overshoot."""
        try:
            res = self.tables.client.update_item(
                TableName=self.tables.names["members"],
                Key=invite_key(code_hash),
                UpdateExpression="SET uses = uses + :one",
                ConditionExpression=(
                    "attribute_exists(pk) AND revoked = :no AND expires_at > :now"
                    " AND uses < max_uses"
                ),
                ExpressionAttributeValues={":one": N(1), ":no": {"BOOL": False}, ":now": N(now)},
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if _failed_condition(exc):
                return None
            raise
        return invite_of(res["Attributes"])

    def unuse_invite(self, code_hash: str) -> None:
        try:
            self.tables.client.update_item(
                TableName=self.tables.names["members"],
                Key=invite_key(code_hash),
                UpdateExpression="SET uses = uses - :one",
                ConditionExpression="attribute_exists(pk) AND uses > :zero",
                ExpressionAttributeValues={":one": N(1), ":zero": N(0)},
            )
        except ClientError as exc:
            if not _failed_condition(exc):
                raise

    def invites(self) -> list[Invite]:
        found = [
            invite_of(i)
            for i in self.tables.query(
                "members",
                KeyConditionExpression="pk = :p",
                ExpressionAttributeValues={":p": S("invites")},
            )
        ]
        return sorted(found, key=lambda i: (i.created_at, i.id), reverse=True)

    def revoke_invite(self, invite_id: str) -> bool:
        ref = self.tables.get("meta", {"pk": S(f"invite#{invite_id}")})
        if ref is None:
            return False
        try:
            self.tables.client.update_item(
                TableName=self.tables.names["members"],
                Key=invite_key(get_str(ref, "code_hash")),
                UpdateExpression="SET revoked = :yes",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":yes": {"BOOL": True}},
            )
        except ClientError as exc:
            if _failed_condition(exc):
                return False
            raise
        return True

    # --- the audit log ----------------------------------------------------------------

    def add_audit(self, at: int, actor: str, action: str, target: str, detail: str = "{}") -> None:
        entry = self.tables.next_id("audit")
        self.tables.client.put_item(
            TableName=self.tables.names["members"],
            Item={
                "pk": S("audit"),
                "sk": S(str(entry).zfill(ID_WIDTH)),
                "id": N(entry),
                "at": N(at),
                "actor": S(actor),
                "action": S(action),
                "target": S(target),
                "detail": S(detail),
            },
        )

    def audit_log(self, before: int | None, limit: int) -> list[AuditEntry]:
        if limit <= 0:
            return []
        cond, values = "pk = :p", {":p": S("audit")}
        if before is not None:
            cond += " AND sk < :b"
            values[":b"] = S(str(max(before, 0)).zfill(ID_WIDTH))
        items = self.tables.query(
            "members",
            KeyConditionExpression=cond,
            ExpressionAttributeValues=values,
            ScanIndexForward=False,
            Limit=limit,
        )
        return [
            AuditEntry(
                get_int(i, "id"),
                get_int(i, "at"),
                get_str(i, "actor"),
                get_str(i, "action"),
                get_str(i, "target"),
                get_str(i, "detail"),
            )
            for i in itertools.islice(items, limit)
        ]

    # --- channels ------------------------------------------------------------------------

    def member_names(self, channel_id: int) -> list[str]:
        items = self.tables.query(
            "members",
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": S(f"channel#{channel_id}")},
        )
        return sorted(get_str(i, "username") for i in items)

    def _channel_of(self, item: Item) -> Channel:
        cid, kind = get_int(item, "id"), get_str(item, "kind")
        members = tuple(self.member_names(cid)) if kind == "dm" else None
        return Channel(
            cid,
            get_str(item, "name"),
            kind,  # type: ignore[arg-type]
            get_str(item, "topic"),
            get_int(item, "last_seq"),
            get_int(item, "member_count"),
            members,
            purpose=item.get("purpose", {}).get("S", ""),
            archived=get_bool(item, "archived"),
            default=get_bool(item, "is_default"),
        )

    def _channel(self, channel_id: int) -> Channel | None:
        item = self.tables.get("channels", {"pk": S(f"channel#{channel_id}")})
        return None if item is None else self._channel_of(item)

    def get_channel_by_id(self, channel_id: int) -> Channel | None:
        return self._channel(channel_id)

    def all_channels(self, after_id: int, limit: int) -> list[Channel]:
        """By id without a Scan: ids come from a counter, so the channels
        above `after_id` are read by key, a window of ids at a time, up to
        the counter (ids taken by a creation that failed are holes)."""
        if limit <= 0:
            return []
        counter = self.tables.get("meta", {"pk": S("counter#channel")})
        top = get_int(counter, "n") if counter is not None else 0
        out: list[Channel] = []
        start = max(after_id, 0) + 1
        while start <= top and len(out) < limit:
            end = min(top, start + max(limit - len(out), 1) - 1)
            keys = [{"pk": S(f"channel#{c}")} for c in range(start, end + 1)]
            items = self.tables.batch_get("channels", keys)
            out += sorted(map(self._channel_of, items), key=lambda c: c.id)
            start = end + 1
        return out[:limit]

    def rename_channel(self, channel_id: int, name: str) -> Channel:
        """One transaction: the channel's new `name`, conditional on its name
        being the one read, and the claim of the new name (a conditional put
        of `name#<name>`, or, for a former name of its own, a check that it
        still is). The old name's item stays: it is the alias."""
        for _ in range(ATTEMPTS):
            item = self.tables.get("channels", {"pk": S(f"channel#{channel_id}")})
            if item is None:
                raise LookupError(f"no channel {channel_id}")
            old = get_str(item, "name")
            if old == name:
                return self._channel_of(item)
            ref = self.tables.get("channels", {"pk": S(f"name#{name}")})
            if ref is not None and get_int(ref, "id") != channel_id:
                raise NameTaken(name)
            claim: Item
            if ref is None:
                claim = self.tables.put(
                    "channels",
                    {"pk": S(f"name#{name}"), "id": N(channel_id)},
                    "attribute_not_exists(pk)",
                )
            else:
                claim = {
                    "ConditionCheck": {
                        "TableName": self.tables.names["channels"],
                        "Key": {"pk": S(f"name#{name}")},
                        "ConditionExpression": "id = :c",
                        "ExpressionAttributeValues": {":c": N(channel_id)},
                    }
                }
            rename: Item = {
                "Update": {
                    "TableName": self.tables.names["channels"],
                    "Key": {"pk": S(f"channel#{channel_id}")},
                    "UpdateExpression": "SET #n = :new",
                    "ConditionExpression": "#n = :old",
                    "ExpressionAttributeNames": {"#n": "name"},
                    "ExpressionAttributeValues": {":new": S(name), ":old": S(old)},
                }
            }
            try:
                self.tables.transact([claim, rename])
            except Cancelled:
                continue  # the name was claimed, or the channel renamed, meanwhile
            channel = self._channel(channel_id)
            if channel is None:
                raise StoreError("a renamed channel vanished")
            return channel
        raise StoreError("the channel's name kept changing")

    def update_channel(
        self,
        channel_id: int,
        *,
        topic: str | None = None,
        purpose: str | None = None,
        archived: bool | None = None,
        default: bool | None = None,
    ) -> None:
        sets: list[str] = []
        values: Item = {}
        names: dict[str, str] = {}
        given: list[tuple[str, Item | None]] = [
            ("topic", None if topic is None else S(topic)),
            ("purpose", None if purpose is None else S(purpose)),
            ("archived", None if archived is None else {"BOOL": archived}),
            ("is_default", None if default is None else {"BOOL": default}),
        ]
        for attr, value in given:
            if value is not None:
                sets.append(f"#{attr} = :{attr}")
                names[f"#{attr}"], values[f":{attr}"] = attr, value
        if not sets:
            return
        update: Item = {
            "TableName": self.tables.names["channels"],
            "Key": {"pk": S(f"channel#{channel_id}")},
            "UpdateExpression": "SET " + ", ".join(sets),
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        actions: list[Item] = [{"Update": update}]
        if default:  # the list of default channels changes with the flag
            entry = {**default_key(channel_id), "channel_id": N(channel_id)}
            actions.append(self.tables.put("members", entry))
        elif default is not None:
            key = default_key(channel_id)
            actions.append({"Delete": {"TableName": self.tables.names["members"], "Key": key}})
        try:
            self.tables.transact(actions)
        except Cancelled as exc:
            if not exc.failed(0):
                raise StoreError(f"updating a channel cancelled: {exc}") from None
            # No such channel: nothing to change.

    def default_channels(self) -> list[Channel]:
        ids = [
            get_int(i, "channel_id")
            for i in self.tables.query(
                "members",
                KeyConditionExpression="pk = :p",
                ExpressionAttributeValues={":p": S("defaults")},
            )
        ]
        items = self.tables.batch_get("channels", [{"pk": S(f"channel#{c}")} for c in ids])
        found = [c for c in map(self._channel_of, items) if c.default]
        return sorted(found, key=lambda c: c.name)

    def set_member_admin(self, channel_id: int, user_id: int, admin: bool) -> bool:
        try:
            self.tables.client.update_item(
                TableName=self.tables.names["members"],
                Key=member_key(channel_id, user_id),
                UpdateExpression="SET #a = :a",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={"#a": "admin"},
                ExpressionAttributeValues={":a": {"BOOL": admin}},
            )
        except ClientError as exc:
            if _failed_condition(exc):
                return False
            raise
        return True
