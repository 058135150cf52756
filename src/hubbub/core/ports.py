"""What the core needs from the world, as protocols it owns: the Store (what
is persisted), the Bus (fan-out of already-encoded events between processes)
and the presence Directory (who is online on any node), with their errors.

Backends implement these (`hubbub.store`, `hubbub.bus`, `hubbub.aws`) and are
chosen by URL; every backend of a kind passes one contract suite
(tests/store/test_contract.py, tests/bus/test_contract.py). The core imports
only this module, never a backend.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import NamedTuple, Protocol

from hubbub.core.models import (
    AppendRejected,
    AuditEntry,
    Changed,
    ChangeRefused,
    Channel,
    ChannelKind,
    DeadLetter,
    FollowedThread,
    Integration,
    Invite,
    LogEntry,
    Membership,
    MessageChange,
    NewMessage,
    NewReply,
    Outbox,
    Replied,
    Role,
    SearchOrder,
    SearchPage,
    SearchQuery,
    Session,
    Status,
    StoredFile,
    StoredMessage,
    User,
)
from hubbub.protocol.notify import ChannelPrefs, UserPrefs


# --- the store ----------------------------------------------------------------
class StoreError(Exception):
    """The backend is unreachable or failed; nothing was committed."""


class NameTaken(Exception):
    pass


class Unsupported(Exception):
    """The backend cannot do this at all (search on DynamoDB): a documented
    `unsupported` error, never a silent empty answer."""


class Store(Protocol):
    async def open(self) -> None:
        """Connect and bring the schema up to date (migrations)."""

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise StoreError unless a round trip to the backend succeeds."""

    async def get_or_set_meta(self, key: str, value: str) -> str:
        """Store `value` under `key` unless a value is there; return the stored one.
        Nodes racing on first start all end up with the same value."""

    # users
    async def create_user(
        self,
        username: str,
        display_name: str,
        password_hash: str,
        role: Role = "member",
        *,
        bot_owner: int | None = None,
    ) -> User:
        """Raise NameTaken if the username exists. With `bot_owner`, a bot
        owned by that user."""

    async def get_user(self, user_id: int) -> User | None: ...

    async def get_user_by_name(self, username: str) -> User | None: ...

    async def update_password_hash(self, user_id: int, password_hash: str) -> None: ...

    async def search_users(self, query: str, after: str | None, limit: int) -> list[User]:
        """Users whose username or display name contains `query` (an empty one:
        every user, deactivated ones too), compared in lower case: every
        letter, not only ASCII's, as
        `str.lower` does (PostgreSQL as its database's locale does: the same in
        any UTF-8 one). `%`, `_` and backslashes in it are themselves, never
        wildcards. Those with a username after `after` (if given), by username,
        at most `limit`."""

    async def set_role(self, user_id: int, role: Role) -> None: ...

    async def set_active(self, user_id: int, active: bool) -> None:
        """Deactivate (or reactivate) an account. Deactivating also ends all
        its sessions, in the same transaction where the backend has them."""

    async def update_profile(
        self, user_id: int, *, display_name: str | None = None, status: Status | None = None
    ) -> User | None:
        """Change what is given; the user now (None: no such user)."""

    async def users_with_role(self, role: Role) -> list[User]:
        """The active users with `role`, by username."""

    async def bots(self) -> list[User]:
        """Every bot, deactivated ones too, by username (few: not a hot path)."""

    # sessions (every token names one; see models.Session)
    async def create_session(self, session: Session) -> None: ...

    async def session_and_user(self, session_id: str) -> tuple[Session, User | None] | None:
        """The session, ended ones too (`ended_at` set), and its user (None if
        there is no such user), in one read: what every token is checked
        against when a connection opens."""

    async def touch_session(self, session_id: str, at: int, address: str) -> None:
        """Record a use: `last_used_at` (forward only) and the address."""

    async def sessions_for(self, user_id: int) -> list[Session]:
        """The user's sessions not ended (logins and API tokens), the most
        recently used first."""

    async def end_sessions(
        self,
        user_id: int,
        at: int,
        *,
        only: str | None = None,
        keep: str | None = None,
        logins_only: bool = False,
    ) -> list[str]:
        """End the user's sessions not ended yet: only session `only` (if
        given), every one but `keep` (if given), or all; with `logins_only`,
        not API tokens. The ids ended now."""

    # invites
    async def create_invite(self, invite: Invite) -> None: ...

    async def use_invite(self, code_hash: str, now: int) -> Invite | None:
        """Count one use of the invite, atomically, if it is usable: not
        revoked, `expires_at` > now and `uses` < `max_uses`. The invite after
        the use, or None (unknown or not usable: nothing counted)."""

    async def unuse_invite(self, code_hash: str) -> None:
        """Take back a use (the registration it was for failed)."""

    async def invites(self) -> list[Invite]:
        """Every invite, the newest first."""

    async def revoke_invite(self, invite_id: str) -> bool:
        """False if there is no such invite."""

    # integrations (models.Integration: webhooks, slash commands; few)
    async def create_integration(self, integration: Integration) -> None:
        """Raise NameTaken if an integration has its key (or its id)."""

    async def integration_by_key(self, key: str) -> Integration | None: ...

    async def integrations(self) -> list[Integration]:
        """Every integration, the newest first."""

    async def delete_integration(self, integration_id: str) -> Integration | None:
        """The integration deleted (with its outbox and dead letters), or
        None if there was none."""

    # an outgoing webhook's deliveries (models.Outbox; see core.delivery)
    async def claim_outbox(
        self, integration_id: str, owner: str, now: int, until: int, start: int
    ) -> Outbox | None:
        """In one transaction: the outbox (made with `cursor=start` if it
        has none), its lease given to `owner` until `until` if `owner` holds
        it or nobody does at `now`. None if another holds it."""

    async def save_outbox(self, outbox: Outbox, dead: DeadLetter | None = None) -> bool:
        """Write `outbox` (and `dead`, in the same transaction) if its
        `lease_owner` still holds the lease; False if it does not (nothing
        written)."""

    async def outbox(self, integration_id: str) -> Outbox | None: ...

    async def dead_letters(self, integration_id: str, limit: int) -> list[DeadLetter]:
        """The latest first."""

    # notification preferences (protocol.notify): only what was changed is
    # stored; a user or member with nothing stored has the defaults.
    async def user_prefs(self, user_id: int) -> UserPrefs: ...

    async def set_user_prefs(self, user_id: int, prefs: UserPrefs) -> None:
        """Replace the user's own settings (do-not-disturb, digests)."""

    async def channel_prefs(self, user_id: int) -> dict[int, ChannelPrefs]:
        """The user's preferences by channel id, for the channels they set any."""

    async def channel_prefs_of(self, channel_id: int) -> dict[int, ChannelPrefs]:
        """The channel's members' preferences by user id (those who set any)."""

    async def set_channel_prefs(
        self, user_id: int, channel_id: int, prefs: ChannelPrefs
    ) -> None: ...

    # the e-mail digest
    async def digest_users(self) -> list[tuple[int, UserPrefs]]:
        """The users who want digests and gave an address, with their settings."""

    async def digest_marks(self, user_id: int) -> dict[int, int]:
        """How far the user's digests got: channel id -> the last seq covered."""

    async def set_digest_marks(self, user_id: int, marks: dict[int, int]) -> None:
        """Replace them (the user has settings stored: digests are on)."""

    # the audit log
    async def add_audit(
        self, at: int, actor: str, action: str, target: str, detail: str = "{}"
    ) -> None: ...

    async def audit_log(self, before: int | None, limit: int) -> list[AuditEntry]:
        """Entries with an id below `before` (or the newest), newest first."""

    # channels
    async def create_channel(
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
        """Create a channel with its first members (`admin_ids`, among them,
        are its admins). Raise NameTaken if the name is a channel's, or was
        one's (see `rename_channel`)."""

    async def get_channel(self, name: str) -> Channel | None:
        """The channel with this name, or that had it before a rename."""

    async def get_channel_by_id(self, channel_id: int) -> Channel | None: ...

    async def all_channels(self, after_id: int, limit: int) -> list[Channel]:
        """Every channel (private ones and DMs too), by id, ids above `after_id`."""

    async def rename_channel(self, channel_id: int, name: str) -> Channel:
        """Give the channel a new name. The old one stays its alias for good
        (`get_channel` finds the channel by it, and no other channel may take
        it), so links and clients holding it keep working. Renaming back to
        an alias of its own is allowed. Raise NameTaken if another channel
        has or had the name."""

    async def update_channel(
        self,
        channel_id: int,
        *,
        topic: str | None = None,
        purpose: str | None = None,
        archived: bool | None = None,
        default: bool | None = None,
    ) -> None:
        """Change what is given."""

    async def default_channels(self) -> list[Channel]:
        """Channels new accounts join (`default`), by name."""

    async def set_member_admin(self, channel_id: int, user_id: int, admin: bool) -> bool:
        """Make a member a channel admin or not; False if not a member."""

    async def channels_for(self, user_id: int) -> list[Membership]:
        """Every channel the user is a member of, with their read cursor."""

    async def public_channels(self) -> list[Channel]: ...

    async def membership(self, channel_id: int, user_id: int) -> Membership | None: ...

    async def add_member(self, channel_id: int, user_id: int, *, admin: bool = False) -> bool:
        """Add with the read cursor at the channel's last seq; False if already a member."""

    async def remove_member(self, channel_id: int, user_id: int) -> bool:
        """Return False if not a member."""

    async def member_names(self, channel_id: int) -> list[str]: ...

    async def set_last_read(self, channel_id: int, user_id: int, seq: int) -> int:
        """Move the cursor forward only; return the cursor after the update."""

    # messages
    async def append_messages(
        self, batch: Sequence[NewMessage]
    ) -> list[StoredMessage | AppendRejected]:
        """Store a batch in ONE transaction (group commit), in order.

        Each message gets the channel's next `seq` inside that transaction. A
        message whose (author_id, client_id) was stored before is not stored
        again: the original comes back with `duplicate=True`. A message whose
        author is not a member of the channel comes back as AppendRejected.

        Your own message is never unread: in the same transaction, each
        author's read cursor in each channel of the batch moves forward to the
        seq of their last message stored there (`last_read = max(last_read,
        seq)`, never back), whichever client sent it. Other members' cursors
        do not move; guests have none. So `channels_for` (and the unread and
        mention counts built on it) never counts a user's own messages.
        """

    async def change_message(
        self, channel_id: int, seq: int, actor_id: int, change: MessageChange
    ) -> Changed | ChangeRefused:
        """Apply `change` by `actor_id` to message `seq` of the channel, in one
        transaction, as `store.log.judge` decides: an edit or delete only by
        its author, a reaction by anyone (the caller checks membership).

        The change takes the channel's next seq, from the counter messages take
        theirs from (one log per channel, so resuming from a seq replays changes
        too), and is recorded at that seq in the log; the message holds its
        state now. A delete removes the text and the reactions from storage:
        nothing keeps them. Refused: `not_found`, `forbidden` (someone else's
        message), `deleted` (an edit of, or a reaction to, a deleted message),
        `too_many_reactions`. A change that changes nothing (the same text
        again, a second delete, a reaction twice, taking back one never made)
        takes no seq: `Changed` with `seq` None."""

    async def last_seq(self, channel_id: int) -> int:
        """The last seq of the channel's log (0 for an empty or unknown channel)."""

    async def log_after(self, channel_id: int, after: int, limit: int) -> list[LogEntry]:
        """The channel's log after seq `after`, oldest first, at most `limit`
        entries: each message sent and each change made, with the message's
        state now. A seq with no entry has nothing to replay (a hole, on
        DynamoDB)."""

    async def append_reply(self, reply: NewReply) -> Replied | ChangeRefused:
        """Store a reply in the thread of `reply.parent` (of its root, if the
        parent is itself a reply), in one transaction: the reply takes the
        channel's next seq, and the root's change (its reply count, last
        reply time) the one after, so a client resuming from a seq before
        them gets both. Its author, the root's author and `reply.followers`
        follow the thread (the author read up to the reply). A retry (the
        author's `client_id` again) stores nothing and answers the first
        reply, `duplicate`. Refused: `not_found` (no such parent), `deleted`
        (the root was deleted)."""

    async def thread(
        self,
        channel_id: int,
        root: int,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int,
    ) -> list[StoredMessage]:
        """A page of the replies to `root`, as `messages` pages a channel."""

    async def followed_threads(self, user_id: int, limit: int) -> list[FollowedThread]:
        """The threads with replies the user follows, the latest reply first."""

    async def read_thread(self, channel_id: int, root: int, user_id: int, seq: int) -> int | None:
        """Move the user's cursor in a thread they follow forward to `seq`;
        the cursor now (None: they don't follow it)."""

    async def pinned(self, channel_id: int, limit: int) -> list[StoredMessage]:
        """The channel's pinned messages, most recently pinned first, at most
        `limit` (pins are changes: `change_message` with `Pin`)."""

    async def count_unread(self, channel_id: int, after: int, user_id: int) -> int:
        """How many messages after `after` are by others than `user_id`, not
        deleted and shown in the channel (changes are never counted, nor
        replies kept in their threads: only messages)."""

    async def count_mentions(self, channel_id: int, after: int, username: str) -> int:
        """How many messages after `after` mention `@username` or everyone
        (`@here`...: core.mentions), by others than `username`, not deleted,
        shown in the channel (not replies kept in their threads)."""

    async def messages(
        self,
        channel_id: int,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int,
    ) -> list[StoredMessage]:
        """The channel's messages (not replies kept in their threads). With
        `after`: seq > after, oldest first. Otherwise seq < before (or the
        newest), newest first."""

    # files (see models.StoredFile)
    async def create_file(self, file: StoredFile) -> None:
        """Record an uploaded file (its blobs are already stored). Its size
        counts towards its uploader's `file_bytes` from now on."""

    async def get_file(self, file_id: str) -> StoredFile | None:
        """The file, with `seq` set if its message exists and is not deleted."""

    async def claim_files(
        self, file_ids: Sequence[str], uploader_id: int, channel_id: int, client_id: str
    ) -> list[StoredFile] | None:
        """Claim files for the uploader's send `client_id` in the channel,
        atomically: all of them or none. Each must exist, be `uploader_id`'s,
        uploaded to `channel_id`, and be unclaimed or claimed by this same
        `client_id` (a retry). The files, in the order asked; None if any
        cannot be claimed (nothing changed)."""

    async def file_bytes(self, uploader_id: int) -> int:
        """The total size of the uploader's files that have rows (the quota)."""

    async def orphan_files(self, created_before: int, limit: int) -> list[StoredFile]:
        """Files to delete: unattached ones (no message sent with their
        `client_id`, or none claimed) created before `created_before`, and any
        whose message is deleted. At most `limit`."""

    async def delete_file(self, file_id: str) -> None:
        """Forget the file's row (its blobs are deleted first, by the caller)."""

    # search
    async def search(
        self,
        user_id: int,
        query: SearchQuery,
        *,
        public: bool,
        order: SearchOrder,
        offset: int,
        limit: int,
    ) -> SearchPage:
        """Messages matching `query` in channels the user may read: those they
        are a member of (DMs included) and, with `public`, every public
        channel (archived ones too). Deleted messages never match. Newest
        first (`created_at`; within one ms, the order they were stored) or by
        relevance, which ranks the newest 1,000 matches (sql_search
        RELEVANCE_POOL: ranking every match of a frequent word would read them
        all); skip `offset`, at most `limit`. Raise Unsupported where the
        backend has no full-text index."""


# --- blobs ------------------------------------------------------------------------
#
# File contents, by key, chosen by URL like the store (`file://DIR`,
# `s3://bucket/prefix`): hubbub.blobs. Writes stream (an upload is never whole
# in memory) and land whole or not at all.


class BlobError(Exception):
    """The blob store is unreachable or failed."""


class BlobNotFound(BlobError):
    pass


class BlobTooLarge(BlobError):
    """A write went past its `max_bytes`: nothing was kept."""


@dataclasses.dataclass(frozen=True, slots=True)
class OutboundAnswer:
    status: int
    content_type: str
    body: bytes  # at most the caller's `max_bytes`


class OutboundError(Exception):
    """An outgoing request that got no usable answer; the message says why
    (timed out, refused, a redirect, a private address not allowed...)."""


class Outbound(Protocol):
    """HTTP requests hubbub makes to other servers (custom slash commands,
    outgoing webhooks), through a guard against server-side request forgery:
    only http(s), never a redirect, and no loopback, private or link-local
    address unless the operator allowed it."""

    def check(self, url: str) -> None:
        """Raise OutboundError if `url` is not one this server would call
        (its scheme, or a literal address not allowed); no I/O."""

    async def post(
        self, url: str, body: bytes, headers: dict[str, str], *, timeout: float, max_bytes: int
    ) -> OutboundAnswer:
        """POST `body`; OutboundError when no answer came in `timeout`
        seconds, the connection failed, the address is not allowed, or the
        answer was a redirect or longer than `max_bytes`."""


class MailError(Exception):
    """The mail server refused the message or could not be reached."""


class Mailer(Protocol):
    """Sends e-mail (hubbub.mailer: SMTP): the digest's way out."""

    async def send(self, to: str, subject: str, text: str) -> None:
        """Deliver a plain-text message to `to`, or raise MailError."""


class Blobs(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def put(self, key: str, chunks: AsyncIterator[bytes], *, max_bytes: int) -> int:
        """Store the chunks under `key`, replacing what was there; the size
        written. Atomic: readers see the old blob or the whole new one; if
        `chunks` raises or goes past `max_bytes` (BlobTooLarge), nothing is
        left under `key` that was not there before."""

    async def size(self, key: str) -> int:
        """Raise BlobNotFound if there is no such blob."""

    def get(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """The blob's bytes from `start` up to `end` (exclusive; None: its end),
        in chunks. Raise BlobNotFound (on the first iteration) if missing."""

    async def delete(self, key: str) -> None:
        """Delete the blob; no error if it is not there."""

    def presign_get(
        self, key: str, *, filename: str, content_type: str, inline: bool, expires: int
    ) -> str | None:
        """A URL that downloads the blob for `expires` seconds with those
        response headers, without hubbub in the way, or None where the backend
        has no such URLs (then hubbub serves the download itself)."""

    def presign_post(
        self, key: str, *, max_bytes: int, expires: int
    ) -> tuple[str, dict[str, str]] | None:
        """An upload form (url, fields) a client POSTs the blob to, refused by
        the backend past `max_bytes`, or None (no such uploads here)."""


# --- the bus --------------------------------------------------------------------
#
# The bus carries bytes, never objects, so an event is encoded once on the node
# that produced it (see core.envelope). It is a hint, not the truth: the store is.

Deliver = Callable[[str, bytes], None]


class BusError(Exception):
    """The backend is unreachable."""


class Bus(Protocol):
    async def start(self, deliver: Deliver, resync: Callable[[], None] | None = None) -> None:
        """Begin delivering messages for subscribed topics to `deliver(topic, data)`.
        `deliver` runs on the event loop and must not block. `resync` is called
        when events may have been lost (the backend reconnected)."""

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise BusError unless the backend answers."""

    async def publish(self, topic: str, data: bytes) -> None: ...

    async def publish_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        """Publish each (topic, data), in one round trip where the backend
        allows: a group commit touches many channels at once. Order is kept
        per topic (not across topics)."""

    async def subscribe(self, topic: str) -> None: ...

    async def unsubscribe(self, topic: str) -> None: ...


# --- the presence directory -------------------------------------------------------
#
# Each node counts its own connections (`core.presence.Presence`); the directory
# answers the cluster-wide questions: is this the user's first connection
# anywhere, their last one, and which users vanished with a node that died
# without saying goodbye (its entries expire after `ttl` seconds).


class Directory(Protocol):
    # Entries expire unless `heartbeat` refreshes them. A node with no one to
    # refresh for skips the heartbeat: with thousands of users, listing them
    # every few seconds for nothing is not free.
    expires: bool

    async def online(self, user_id: int) -> bool:
        """This node has the user's first connection; True if no node had one."""

    async def offline(self, user_id: int) -> bool:
        """This node lost the user's last connection; True if no node has one."""

    async def online_among(self, user_ids: Iterable[int]) -> set[int]: ...

    async def heartbeat(self, user_ids: Iterable[int]) -> list[int]:
        """Refresh this node's users; return users whose every node expired."""

    async def close(self) -> None: ...


# --- throttle counters -------------------------------------------------------------
#
# Counts of recent events by key (failed logins per address, registrations...),
# shared by every node where the bus is shared (Redis), so a limit holds for
# the cluster and not per node. A key's window starts at its first hit and the
# count vanishes when it ends (a fixed window: memory per key is constant).


class Tally(NamedTuple):
    hits: int  # the count after this call
    retry_after: float  # seconds until the key's window ends (0: no such key)


class Counters(Protocol):
    async def add(self, keys: Sequence[str], window: float, amount: int = 1) -> list[Tally]:
        """Atomically add `amount` to each key's count, in one round trip. A key
        with no count starts one (only for a positive amount: a negative one,
        taking a hit back, never creates a key) that expires `window` seconds
        later. Raise BusError if the backend is unreachable."""

    async def reset(self, keys: Sequence[str]) -> None:
        """Forget the keys' counts."""

    async def close(self) -> None: ...
