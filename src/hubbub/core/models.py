"""Plain records passed between the core and the stores."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

ChannelKind = Literal["public", "private", "dm"]
# A workspace's roles, most powerful first. A guest sees only the channels
# they were invited to (and DMs); see core.roles for who may do what.
Role = Literal["owner", "admin", "member", "guest"]
ROLES: tuple[Role, ...] = ("owner", "admin", "member", "guest")
# What an API token may do: `read` (GET and the WebSocket's reads), `write`
# (every other action), `admin` (the admin routes, for an admin's token).
# A login may do everything its role allows (`Session.scopes` is None).
Scope = Literal["read", "write", "admin"]
SCOPES: tuple[Scope, ...] = ("read", "write", "admin")


def scopes_text(scopes: tuple[Scope, ...] | None) -> str | None:
    """How the stores keep scopes: "read,write" (None for a login)."""
    return None if scopes is None else ",".join(scopes)


def scopes_from(text: str | None) -> tuple[Scope, ...] | None:
    if text is None:
        return None
    return tuple(s for s in SCOPES if s in text.split(","))


@dataclasses.dataclass(frozen=True, slots=True)
class Status:
    """A custom status shown beside a name: an emoji, a text, an end (ms
    since the epoch; None: until cleared)."""

    emoji: str = ""
    text: str = ""
    until: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    display_name: str
    password_hash: str = dataclasses.field(repr=False, default="")
    role: Role = "member"
    # A deactivated account keeps its name and messages; it cannot log in,
    # and its sessions ended when it was deactivated.
    active: bool = True
    status: Status = Status()
    # A bot: an account without a password, used through API tokens,
    # managed by its owner (the person who made it) and by admins.
    bot: bool = False
    owner_id: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Channel:
    id: int
    name: str
    kind: ChannelKind
    topic: str
    last_seq: int
    member_count: int = 0
    # Only DMs list their members in the channel's public description.
    members: tuple[str, ...] | None = None
    purpose: str = ""
    # Read-only, hidden from the default lists, still readable and searchable.
    archived: bool = False
    default: bool = False  # new accounts join it


@dataclasses.dataclass(frozen=True, slots=True)
class Membership:
    channel: Channel
    last_read: int
    # A channel admin (its creator, or made one) may remove its members.
    admin: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class Session:
    """A login: every token names its session, which can be ended (log out,
    revoked from another device, a new password, the account deactivated).
    `id` is random and secret-free (the token is what proves a session)."""

    id: str
    user_id: int
    created_at: int  # ms since the epoch
    last_used_at: int
    device: str = ""  # the client's User-Agent, cut short
    address: str = ""  # the client's address when last used
    ended_at: int | None = None
    # An API token is a session too (so it is cached, touched, revoked and
    # closed on every node as a login is), with a name, scopes and the
    # SHA-256 of its secret; a login has no scopes (None) and no key.
    name: str = ""
    scopes: tuple[Scope, ...] | None = None
    key_hash: str = ""

    @property
    def is_token(self) -> bool:
        return self.scopes is not None


@dataclasses.dataclass(frozen=True, slots=True)
class Invite:
    """An invite link: whoever has its code may register (with `role`,
    joining `channels`) until it expires, is used `max_uses` times or is
    revoked. Only the code's SHA-256 (`code_hash`) is stored; `id` names it
    in lists (it is not the code)."""

    id: str
    code_hash: str
    created_by: int
    created_at: int
    expires_at: int
    max_uses: int
    uses: int = 0
    role: Role = "member"
    channels: tuple[str, ...] = ()
    revoked: bool = False


IntegrationKind = Literal["incoming", "outgoing", "command"]
INTEGRATION_KINDS: tuple[IntegrationKind, ...] = ("incoming", "outgoing", "command")


@dataclasses.dataclass(frozen=True, slots=True)
class Integration:
    """Something that plugs into the workspace (see core.hooks): an incoming
    webhook (its URL's secret posts into `channel_id`), an outgoing webhook
    or a custom slash command. It acts as `user_id` (its maker or one of
    their bots). `key` is unique among all integrations: the SHA-256 of an
    incoming hook's secret (what a post is looked up by), a command's
    `/name`. `config` is the kind's own settings (a URL, trigger words...),
    kept as JSON."""

    id: str  # random; names it in lists (not a secret)
    kind: IntegrationKind
    key: str
    name: str  # what it is for, as its maker wrote it
    channel_id: int | None
    user_id: int
    created_by: int
    created_at: int
    config: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False)


@dataclasses.dataclass(frozen=True, slots=True)
class Outbox:
    """Where an outgoing webhook's deliveries stand (see core.delivery): its
    channel's log is the queue, so this is a cursor and the state of the next
    attempt, not a copy of each message. Whoever holds the lease (a node's
    deliverer, `lease_owner`, until `lease_until`) is the only one sending."""

    integration_id: str
    cursor: int  # the channel's log is delivered (or passed over) up to this seq
    attempts: int = 0  # failed attempts at the first message after `cursor`
    next_at: int = 0  # ms since the epoch: no attempt before
    last_error: str = ""  # why the last attempt failed ("" after a success)
    delivered: int = 0  # messages delivered so far
    dead: int = 0  # messages given up on (dead letters)
    lease_owner: str = ""
    lease_until: int = 0  # ms


@dataclasses.dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message an outgoing webhook gave up on after its last attempt."""

    integration_id: str
    seq: int
    attempts: int
    error: str
    at: int  # ms


@dataclasses.dataclass(frozen=True, slots=True)
class AuditEntry:
    """One administrative action: who did what to what, when. `detail` is a
    short JSON object of what changed (never a secret)."""

    id: int
    at: int
    actor: str  # username ("" for the operator's `hubbub admin` on the database)
    action: str  # e.g. "user.deactivate", "channel.rename"
    target: str  # e.g. "@ann", "#general"
    detail: str = "{}"


@dataclasses.dataclass(frozen=True, slots=True)
class FileInfo:
    """A file as the message it is attached to carries it (a copy: what
    readers of the message need, with no lookup). Its content is the blob
    `id` in the blob store, its thumbnail (images only) the blob
    `thumbnail_key(id)`."""

    id: str
    name: str
    size: int  # bytes
    content_type: str  # detected from the content, never the name
    width: int | None = None  # images: their dimensions
    height: int | None = None
    thumbnail: bool = False


def thumbnail_key(file_id: str) -> str:
    return f"{file_id}.thumb"


@dataclasses.dataclass(frozen=True, slots=True)
class StoredFile:
    """An uploaded file. It belongs to the message its uploader sends with
    `client_id` in its channel: the message names the file (`files`), and
    the file names the message by (uploader, client_id), the key a send is
    deduplicated by, so attaching needs no write beside the message's own
    and a retried send finds its files again. A file whose message never
    came (`client_id` None, or no such message) or was deleted is an orphan:
    the sweep deletes its blobs, then its row."""

    info: FileInfo
    channel_id: int
    uploader_id: int
    created_at: int
    client_id: str | None = None  # claimed by a send (see Store.claim_files)
    # The message it is attached to (seq), if that message exists and is
    # not deleted; None otherwise. Computed by `get_file`, not stored.
    seq: int | None = None

    @property
    def id(self) -> str:
        return self.info.id


@dataclasses.dataclass(frozen=True, slots=True)
class NewMessage:
    channel_id: int
    author_id: int | None  # None for an S1 tutorial guest
    # The name shown: a guest's own, or an incoming webhook's `username`
    # override on a user's message (None: the author's display name).
    shown_name: str | None
    text: str
    client_id: str | None
    created_at: int  # ms since the epoch
    files: tuple[FileInfo, ...] = ()  # claimed by the author (Store.claim_files)


@dataclasses.dataclass(frozen=True, slots=True)
class StoredMessage:
    channel_id: int
    channel: str
    seq: int
    author: str | None  # username; None for a guest
    author_name: str  # display name, or the guest's self-chosen name
    text: str
    client_id: str | None
    created_at: int
    duplicate: bool = False  # an earlier send with the same client_id
    # Its state: changed since it was sent (see `change_message`).
    edited_at: int | None = None
    deleted: bool = False  # a tombstone: its text is gone from storage
    # (emoji, usernames who reacted with it), by first reaction.
    reactions: tuple[tuple[str, tuple[str, ...]], ...] = ()
    pinned_by: str | None = None  # who pinned it to its channel (username)
    pinned_at: int | None = None
    # A reply in the thread of message `thread_root` (None: not a reply), and
    # also shown in the channel if `broadcast` ("also send to channel").
    thread_root: int | None = None
    broadcast: bool = False
    # A thread's root: its replies (tombstones too), the last one's time, and
    # who replied (usernames, by their first reply).
    reply_count: int = 0
    last_reply_at: int | None = None
    reply_users: tuple[str, ...] = ()
    files: tuple[FileInfo, ...] = ()  # attached files; none once deleted
    # A user's message shown under another name (an incoming webhook's
    # `username`); `author_name` stays the account's display name.
    shown_name: str | None = None
    author_bot: bool = False  # its author is a bot account (User.bot)


@dataclasses.dataclass(frozen=True, slots=True)
class AppendRejected:
    """A message in a batch that could not be stored (the sender is not a
    member, or the channel is archived)."""

    reason: str


NOT_A_MEMBER = AppendRejected("not a member")
ARCHIVED = AppendRejected("archived")


# --- changes to stored messages (the channel's log, see Store.change_message) ----------


@dataclasses.dataclass(frozen=True, slots=True)
class Edit:
    text: str
    at: int  # ms since the epoch


@dataclasses.dataclass(frozen=True, slots=True)
class Delete:
    at: int
    # By a workspace admin, of someone else's message (moderation).
    moderated: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class React:
    """Add (or, with `add` false, take back) the actor's reaction `emoji`
    (Unicode, as core.reactions normalises it)."""

    emoji: str
    add: bool
    at: int


@dataclasses.dataclass(frozen=True, slots=True)
class Pin:
    """Pin the message to its channel (or, with `add` false, unpin it)."""

    add: bool
    at: int


MessageChange = Edit | Delete | React | Pin


@dataclasses.dataclass(frozen=True, slots=True)
class NewReply:
    """A reply to message `parent` of a channel (a reply to a reply is one
    to its root). `followers`: users (ids) mentioned in it, who follow the
    thread from now on, as its author and the root's author do."""

    channel_id: int
    parent: int
    author_id: int
    text: str
    client_id: str
    created_at: int
    broadcast: bool = False
    followers: tuple[int, ...] = ()
    files: tuple[FileInfo, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class Replied:
    """A reply stored: the reply (its seq its place in the log) and the root
    in its state now, whose change takes the place after it (`root_seq`:
    None for a retry, `reply.duplicate`, which stored nothing)."""

    reply: StoredMessage
    root: StoredMessage
    root_seq: int | None


@dataclasses.dataclass(frozen=True, slots=True)
class FollowedThread:
    """A thread a user follows (they started it, replied, or were mentioned
    in it): its root now, and how many replies by others came after their
    cursor in it."""

    root: StoredMessage
    last_read: int
    unread: int


@dataclasses.dataclass(frozen=True, slots=True)
class Changed:
    """A message after a change: `seq` is the change's place in the channel's
    log, or None when the change changed nothing (the same text again, a
    second delete): nothing new in the log, nothing to publish."""

    message: StoredMessage
    seq: int | None


@dataclasses.dataclass(frozen=True, slots=True)
class ChangeRefused:
    reason: Literal["not_found", "forbidden", "deleted", "too_many_reactions"]


@dataclasses.dataclass(frozen=True, slots=True)
class LogEntry:
    """One place in a channel's log: a message sent there (`seq` is the
    message's), or a change to `message` (`seq` is the change's). Either way
    with the message's state now."""

    seq: int
    message: StoredMessage

    @property
    def is_change(self) -> bool:
        return self.seq != self.message.seq


# --- search ------------------------------------------------------------------------


SearchOrder = Literal["newest", "relevance"]


@dataclasses.dataclass(frozen=True, slots=True)
class SearchQuery:
    """A parsed search (core.search.parse), its names resolved to ids. Every
    condition must hold. `words` and `phrases` match whole words of the text,
    in any case (a phrase: its words next to each other, in order); a word
    ending in `*` matches as a prefix. Bounds are ms since the epoch."""

    words: tuple[str, ...] = ()
    phrases: tuple[tuple[str, ...], ...] = ()
    # `-word`, `-"a phrase"`: none of them may match (needs a word or phrase).
    exclude: tuple[tuple[str, ...], ...] = ()
    channel_ids: tuple[int, ...] = ()  # in:#a in:#b: either
    author_ids: tuple[int, ...] = ()  # from:@a from:@b: either
    after: int | None = None  # created_at >= after
    before: int | None = None  # created_at < before
    has_file: bool = False
    has_link: bool = False
    is_thread: bool = False  # a reply, or a message with replies


@dataclasses.dataclass(frozen=True, slots=True)
class SearchPage:
    """Matches, in the order asked for, and whether there are more after them."""

    messages: tuple[StoredMessage, ...]
    more: bool
