"""A checked `Plan` stored through the Store protocol, idempotently: running
the same import again finds what it stored and stores nothing twice.

- Users and channels are found by name; one that exists is used as it is
  (only memberships the plan adds are added to it).
- Messages go in their channel's order, in batches (`append_messages`), each
  thread reply after its root (`append_reply`). Each has a client id (its
  own, or derived from its place in the input). In a channel that was there
  before, the run first reads the channel's messages as they are: one found
  by (author, client id) is not sent again (one without a client id, a
  guest's or one sent without, by its author, time and text). Whatever the
  store still finds by client id comes back as a duplicate, with its seq.
- A message's state is then made: the reactions and pin it lacks, an edit
  (it is stored with PENDING_TEXT and edited to its text, which sets its
  edit time) and a delete (after every reply of the channel: a deleted root
  takes no reply). A second run edits or deletes only messages still
  holding PENDING_TEXT: those the first one did not finish.
- An archived channel is archived once its messages are stored (it takes
  no new ones): one that exists and is archived is opened while they are,
  then archived again.
- hubbub stores only members' messages: an author the channel does not list
  (they left it) is a member while their messages are stored, not after.
- Imported history counts as read: the cursor of each membership the import
  made moves to the channel's last seq.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Sequence

from hubbub.core.auth import hash_password
from hubbub.core.mentions import mentioned_names
from hubbub.core.models import (
    AppendRejected,
    Changed,
    ChangeRefused,
    Channel,
    Delete,
    Edit,
    MessageChange,
    NewMessage,
    NewReply,
    Pin,
    React,
    StoredMessage,
)
from hubbub.core.ports import NameTaken, Store
from hubbub.transfer.records import (
    PENDING_TEXT,
    ChannelPlan,
    MessagePlan,
    Plan,
    UserPlan,
    derived_client_id,
)
from hubbub.transfer.report import Report

BATCH = 200
PAGE = 500

R_REJECTED = "messages the database refused ({reason})"
R_CLIENT_ID = "messages whose client id another message of their author has"
R_ROOT_MISSING = "thread replies whose root could not be stored"
R_ROOT_DELETED = "thread replies to a root deleted since it was imported"
R_TOO_MANY = "reactions the database refused (too many different emoji on the message)"
R_CHANGE = "changes the database refused ({reason})"


@dataclasses.dataclass
class _Channel:
    channel: Channel
    plan: ChannelPlan
    members: set[str]  # usernames, now
    seqs: dict[str, int] = dataclasses.field(default_factory=dict)  # message key -> seq
    deletes: list[tuple[int, MessagePlan]] = dataclasses.field(default_factory=list)
    # The channel's messages before this run (if it was there), in their state
    # now: by (author, client id), and those without one by (author, guest
    # name, time, text). A second run finds its messages here and writes only
    # what is missing.
    named: dict[tuple[str, str], StoredMessage] = dataclasses.field(default_factory=dict)
    unnamed: dict[tuple[str, str, int, str], StoredMessage] = dataclasses.field(
        default_factory=dict
    )

    def add(self, s: StoredMessage) -> None:
        if s.client_id is None:
            self.unnamed.setdefault(_unnamed_key(s), s)
        elif s.author is not None:
            self.named[(s.author, s.client_id)] = s

    def find(self, m: MessagePlan, client_id: str | None) -> StoredMessage | None:
        """The message `m` stored before, if it was."""
        if client_id is None:
            key = (m.author or "", m.guest_name or "", m.created_at)
            return self.unnamed.get((*key, m.text)) or self.unnamed.get((*key, PENDING_TEXT))
        if m.author is None:
            return None
        for cid in (client_id, _other_id(self, m)):
            s = self.named.get((m.author, cid))
            if s is not None and s.created_at == m.created_at:
                return s
        return None


class _Applier:
    def __init__(self, store: Store, report: Report, batch: int) -> None:
        self.store = store
        self.report = report
        self.done = report.done
        self.batch = batch
        self.ids: dict[str, int] = {}  # username -> user id
        self._hash: str | None = None

    def unusable_hash(self) -> str:
        """An argon2 hash of a random secret no one keeps: imported accounts
        cannot log in until an admin sets a password. One per import (hashing
        is slow on purpose)."""
        if self._hash is None:
            self._hash = hash_password(secrets.token_urlsafe(32))
        return self._hash

    # users -------------------------------------------------------------------

    async def users(self, users: Sequence[UserPlan]) -> None:
        for u in users:
            found = await self.store.get_user_by_name(u.username)
            if found is None:
                try:
                    found = await self.store.create_user(
                        u.username, u.display_name, self.unusable_hash(), role=u.role
                    )
                except NameTaken:  # created meanwhile
                    found = await self.store.get_user_by_name(u.username)
                    assert found is not None
                else:
                    self.done["users_created"] += 1
                    if not u.active:
                        await self.store.set_active(found.id, False)
                        self.done["users_deactivated"] += 1
                    if u.status is not None:
                        await self.store.update_profile(found.id, status=u.status)
                    self.ids[u.username] = found.id
                    continue
            self.done["users_existing"] += 1
            self.ids[u.username] = found.id

    # channels ----------------------------------------------------------------

    async def channel(self, plan: ChannelPlan) -> None:
        store = self.store
        joined: set[int] = set()  # memberships made now: their history is read
        created = False
        channel = await store.get_channel(plan.name)
        if channel is None:
            member_ids = [self.ids[m] for m in plan.members]
            try:
                channel = await store.create_channel(
                    plan.name,
                    plan.kind,
                    plan.topic,
                    member_ids,
                    admin_ids=[self.ids[a] for a in plan.admins],
                    purpose=plan.purpose,
                    default=plan.default,
                )
            except NameTaken:  # created meanwhile
                channel = await store.get_channel(plan.name)
                assert channel is not None
            else:
                created = True
                self.done["channels_created"] += 1
                self.done["members_added"] += len(member_ids)
                joined.update(member_ids)
        if not created:
            if channel.kind != plan.kind:
                self.report.note(
                    f"{plan.name} was already there as a {channel.kind} channel, "
                    f"not {plan.kind}: imported into it as it is"
                )
            self.done["channels_existing"] += 1
            admins = set(plan.admins)
            for m in plan.members:
                if await store.add_member(channel.id, self.ids[m], admin=m in admins):
                    self.done["members_added"] += 1
                    joined.add(self.ids[m])
        if plan.messages:
            # An archived channel takes no new message: open it while they
            # are stored, then close it again.
            reopened = channel.archived
            if reopened:
                await store.update_channel(channel.id, archived=False)
            try:
                await self.messages(channel, plan, existed=not created)
            finally:
                if reopened:
                    await store.update_channel(channel.id, archived=True)
            if joined:
                last = await store.last_seq(channel.id)
                for uid in joined:
                    await store.set_last_read(channel.id, uid, last)
        if created and plan.archived:
            await store.update_channel(channel.id, archived=True)

    async def messages(self, channel: Channel, plan: ChannelPlan, *, existed: bool) -> None:
        store = self.store
        state = _Channel(channel, plan, set(await store.member_names(channel.id)))
        if existed:
            await self.load_existing(state)
        authors = {m.author for m in plan.messages if m.author is not None}
        temporary = []
        for name in sorted(authors - state.members):
            if await store.add_member(channel.id, self.ids[name]):
                temporary.append(self.ids[name])
            state.members.add(name)
        try:
            pending: list[MessagePlan] = []
            for m in plan.messages:
                if m.thread_root is None:
                    pending.append(m)
                    if len(pending) >= self.batch:
                        await self.flush(state, pending)
                else:
                    await self.flush(state, pending)
                    await self.reply(state, m)
            await self.flush(state, pending)
            for seq, m in state.deletes:
                assert m.author is not None
                await self.change(
                    state, seq, self.ids[m.author], Delete(m.edited_at or m.created_at)
                )
        finally:
            for uid in temporary:
                await store.remove_member(channel.id, uid)

    async def load_existing(self, state: _Channel) -> None:
        """Read the channel's messages and threads as they are now."""
        after = 0
        while True:
            page = await self.store.messages(state.channel.id, after=after, limit=PAGE)
            for s in page:
                state.add(s)
                if s.reply_count and s.thread_root is None:
                    await self.load_thread(state, s.seq)
            if len(page) < PAGE:
                return
            after = page[-1].seq

    async def load_thread(self, state: _Channel, root: int) -> None:
        after = 0
        while True:
            page = await self.store.thread(state.channel.id, root, after=after, limit=PAGE)
            for s in page:
                state.add(s)
            if len(page) < PAGE:
                return
            after = page[-1].seq

    # messages --------------------------------------------------------------------

    def _new(self, state: _Channel, m: MessagePlan, client_id: str | None) -> NewMessage:
        return NewMessage(
            state.channel.id,
            None if m.author is None else self.ids[m.author],
            m.guest_name,
            _first_text(m),
            client_id,
            m.created_at,
        )

    async def flush(self, state: _Channel, pending: list[MessagePlan]) -> None:
        if not pending:
            return
        batch: list[tuple[MessagePlan, NewMessage]] = []
        for m in pending:
            found = state.find(m, m.client_id)
            if found is not None:
                await self.stored(state, m, dataclasses.replace(found, duplicate=True))
            else:
                batch.append((m, self._new(state, m, m.client_id)))
        pending.clear()
        clashes: list[tuple[MessagePlan, NewMessage]] = []
        for attempt in range(2):
            if not batch:
                return
            results = await self.store.append_messages([n for _, n in batch])
            for (m, n), r in zip(batch, results, strict=True):
                if isinstance(r, AppendRejected):
                    self.report.skip(R_REJECTED.format(reason=r.reason), self._where(state, m))
                elif r.duplicate and not _same(r, n):
                    if attempt == 0:
                        clashes.append((m, self._new(state, m, _other_id(state, m))))
                    else:
                        self.report.skip(R_CLIENT_ID, self._where(state, m))
                else:
                    await self.stored(state, m, r)
            batch, clashes = clashes, []

    async def reply(self, state: _Channel, m: MessagePlan) -> None:
        assert m.author is not None and m.thread_root is not None
        root = state.seqs.get(m.thread_root)
        if root is None:
            self.report.skip(R_ROOT_MISSING, self._where(state, m))
            return
        author = self.ids[m.author]
        followers = tuple(
            self.ids[n]
            for n in mentioned_names(m.text)[:20]
            if n in state.members and n in self.ids and n != m.author
        )
        # A reply always has a client id: a file may lack it (derive one).
        client_id = m.client_id or derived_client_id("import", state.channel.name, m.key)
        found = state.find(m, client_id)
        if found is not None:
            await self.stored(state, m, dataclasses.replace(found, duplicate=True))
            return
        for attempt in range(2):
            new = NewReply(
                state.channel.id,
                root,
                author,
                _first_text(m),
                client_id,
                m.created_at,
                m.broadcast,
                followers,
            )
            r = await self.store.append_reply(new)
            if isinstance(r, ChangeRefused):
                root_plan = next((p for p in state.plan.messages if p.key == m.thread_root), None)
                if r.reason == "deleted" and root_plan is not None and root_plan.deleted:
                    # Deleted after its replies were stored, by this import.
                    self.done["messages_existing"] += 1
                else:
                    self.report.skip(
                        R_ROOT_DELETED if r.reason == "deleted" else R_ROOT_MISSING,
                        self._where(state, m),
                    )
                return
            if r.reply.duplicate and not _same(r.reply, new):
                if attempt == 0:
                    client_id = _other_id(state, m)
                    continue
                self.report.skip(R_CLIENT_ID, self._where(state, m))
                return
            await self.stored(state, m, r.reply)
            return

    async def stored(self, state: _Channel, m: MessagePlan, s: StoredMessage) -> None:
        """Count the message stored (now, or before: `duplicate`), and give it
        its state: reactions and a pin it lacks; the edit or delete a message
        stored now, or still PENDING_TEXT, waits for."""
        if s.duplicate:
            self.done["messages_existing"] += 1
        else:
            self.done["messages_stored"] += 1
            self.done["replies_stored"] += m.thread_root is not None
        state.seqs[m.key] = s.seq
        unfinished = not s.duplicate or s.text == PENDING_TEXT
        if m.deleted:
            if unfinished:
                state.deletes.append((s.seq, m))
            return
        have = {(e, u) for e, users in s.reactions for u in users}
        for emoji, users in m.reactions:
            for name in users:
                if (emoji, name) in have:
                    self.done["reactions_existing"] += 1
                    continue
                change = React(emoji, True, m.created_at)
                r = await self.change(state, s.seq, self.ids[name], change)
                if r is not None:
                    self.done["reactions_added" if r.seq is not None else "reactions_existing"] += 1
        if m.pinned_by is not None:
            if s.pinned_by is not None:
                self.done["pins_existing"] += 1
            else:
                pin = Pin(True, m.pinned_at or m.created_at)
                r = await self.change(state, s.seq, self.ids[m.pinned_by], pin)
                if r is not None:
                    self.done["pins_added" if r.seq is not None else "pins_existing"] += 1
        if m.edited_at is not None and m.author is not None and unfinished:
            await self.change(state, s.seq, self.ids[m.author], Edit(m.text, m.edited_at))

    async def change(
        self, state: _Channel, seq: int, actor: int, change: MessageChange
    ) -> Changed | None:
        r = await self.store.change_message(state.channel.id, seq, actor, change)
        if isinstance(r, ChangeRefused):
            where = f"{state.channel.name} seq {seq}"
            if r.reason == "too_many_reactions":
                self.report.skip(R_TOO_MANY, where)
            else:
                self.report.skip(R_CHANGE.format(reason=r.reason), where)
            return None
        return r

    def _where(self, state: _Channel, m: MessagePlan) -> str:
        return f"{state.channel.name} {m.key}"


def _unnamed_key(s: StoredMessage) -> tuple[str, str, int, str]:
    return (s.author or "", s.author_name if s.author is None else "", s.created_at, s.text)


def _first_text(m: MessagePlan) -> str:
    """What the message is stored with: an edited or deleted one is finished later."""
    return PENDING_TEXT if m.deleted or m.edited_at is not None else m.text


def _same(stored: StoredMessage, new: NewMessage | NewReply) -> bool:
    """A duplicate is ours if it is in the same channel at the same time: a
    client id its author used for another message is a clash."""
    return stored.channel_id == new.channel_id and stored.created_at == new.created_at


def _other_id(state: _Channel, m: MessagePlan) -> str:
    """The client id a message whose own clashes is stored under."""
    return derived_client_id("import", m.client_id or "", state.channel.name, m.key)


async def apply_plan(store: Store, plan: Plan, *, batch: int = BATCH) -> Report:
    """Store the plan (the store opened); the report with what was done."""
    applier = _Applier(store, plan.report, batch)
    await applier.users(plan.users)
    for channel in plan.channels:
        await applier.channel(channel)
    return plan.report
