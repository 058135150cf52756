"""Tables shared by the SQL backends (SQLite, PostgreSQL).

The schema itself is created and upgraded only by the Alembic migrations in
`store/migrations`; these definitions are what queries are built from, and a
test checks that a migrated database matches them.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)

metadata = MetaData()

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(32), nullable=False, unique=True),
    Column("display_name", String(80), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    # owner, admin, member or guest (models.ROLES); checked by the core, not
    # here, so a new role needs no migration.
    Column("role", String(16), nullable=False, server_default="member"),
    # Set while the account is deactivated: it keeps its row (its name and
    # messages stay), and when it happened is worth knowing.
    Column("deactivated_at", BigInteger, nullable=True),
    # The custom status, flat: it is read with every user and is one value.
    Column("status_emoji", String(64), nullable=False, server_default=""),
    Column("status_text", String(100), nullable=False, server_default=""),
    Column("status_until", BigInteger, nullable=True),  # None: until cleared
    # A bot account and the person who owns it (not a foreign key: see 0010).
    Column("is_bot", Boolean, nullable=False, server_default=false()),
    Column("owner_id", Integer, nullable=True),
)

channels = Table(
    "channels",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(320), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("topic", String(250), nullable=False, server_default=""),
    # The last seq handed out; bumped in the same transaction as the insert.
    Column("last_seq", BigInteger, nullable=False, server_default="0"),
    Column("created_at", BigInteger, nullable=False),
    Column("purpose", String(250), nullable=False, server_default=""),
    Column("archived_at", BigInteger, nullable=True),  # set while archived
    # New accounts join it. Few channels are: the flag is read by a scan of
    # a small table at registration, not worth an index.
    Column("is_default", Boolean, nullable=False, server_default=false()),
)

# The names a channel had before a rename, kept for good: `get_channel` finds
# the channel by them (links and clients holding one keep working) and no
# other channel may take one. Only former names are here; the current one is
# `channels.name`. The two tables cannot share a unique index, so creating
# and renaming check both in one transaction (see sql_workspace.lock_names).
channel_aliases = Table(
    "channel_aliases",
    metadata,
    Column("name", String(320), primary_key=True),
    Column("channel_id", Integer, ForeignKey("channels.id"), nullable=False),
    Column("renamed_at", BigInteger, nullable=False),
    Index("ix_channel_aliases_channel", "channel_id"),
)

memberships = Table(
    "memberships",
    metadata,
    Column("channel_id", Integer, ForeignKey("channels.id"), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), primary_key=True),
    Column("last_read", BigInteger, nullable=False, server_default="0"),
    Column("joined_at", BigInteger, nullable=False),
    # A channel admin (its creator, or made one) may remove its members.
    Column("is_admin", Boolean, nullable=False, server_default=false()),
    Index("ix_memberships_user", "user_id"),
)

# Logins: every token names its session, so one can be ended (log out, from
# another device, a new password, the account deactivated) before the token
# expires. An ended session keeps its row (`ended_at`): "where was I logged
# in" stays answerable, and a token naming it is refused.
sessions = Table(
    "sessions",
    metadata,
    Column("id", String(64), primary_key=True),  # random; not the token
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("last_used_at", BigInteger, nullable=False),
    Column("device", String(200), nullable=False, server_default=""),
    Column("address", String(64), nullable=False, server_default=""),
    Column("ended_at", BigInteger, nullable=True),
    # An API token: its name, its scopes ("read,write"; NULL for a login)
    # and the SHA-256 of its secret (the token itself is never stored).
    Column("name", String(80), nullable=False, server_default=""),
    Column("scopes", String(32), nullable=True),
    Column("key_hash", String(64), nullable=False, server_default=""),
    Index("ix_sessions_user", "user_id"),
)

# Invite links. Only the code's SHA-256 is stored (a leaked database leaks no
# usable link); it is what a registration looks the invite up by.
invites = Table(
    "invites",
    metadata,
    Column("id", String(64), primary_key=True),  # names it in lists
    Column("code_hash", String(64), nullable=False, unique=True),
    Column("created_by", Integer, ForeignKey("users.id"), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("max_uses", Integer, nullable=False),
    # Counted by one conditional UPDATE (uses < max_uses), never read then
    # written: concurrent registrations cannot overshoot.
    Column("uses", Integer, nullable=False, server_default="0"),
    Column("role", String(16), nullable=False, server_default="member"),
    Column("channels", Text, nullable=False, server_default="[]"),  # JSON list of names
    Column("revoked", Boolean, nullable=False, server_default=false()),
)

# Administrative actions, append-only. `actor` and `target` are names, not
# ids: the log must still read right after a rename or a deletion.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", BigInteger, nullable=False),
    Column("actor", String(32), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(400), nullable=False),
    Column("detail", Text, nullable=False, server_default="{}"),
)

integrations = Table(
    "integrations",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("key", String(128), nullable=False, unique=True),  # models.Integration.key
    Column("name", String(80), nullable=False),
    Column("channel_id", Integer, ForeignKey("channels.id"), nullable=True),
    Column("user_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("created_by", Integer, ForeignKey("users.id"), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("config", Text, nullable=False, server_default="{}"),  # JSON
)

# An outgoing webhook's delivery state (models.Outbox) and what it gave up on.
hook_outbox = Table(
    "hook_outbox",
    metadata,
    Column("integration_id", String(32), primary_key=True),
    Column("cursor", BigInteger, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_at", BigInteger, nullable=False, server_default="0"),
    Column("last_error", Text, nullable=False, server_default=""),
    Column("delivered", BigInteger, nullable=False, server_default="0"),
    Column("dead", BigInteger, nullable=False, server_default="0"),
    Column("lease_owner", String(64), nullable=False, server_default=""),
    Column("lease_until", BigInteger, nullable=False, server_default="0"),
)

hook_dead_letters = Table(
    "hook_dead_letters",
    metadata,
    Column("integration_id", String(32), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("attempts", Integer, nullable=False),
    Column("error", Text, nullable=False),
    Column("at", BigInteger, nullable=False),
)

# Notification preferences (protocol.notify). A member with none has the
# defaults (mentions, not muted): only what someone changed has a row. Kept
# apart from `memberships` so that the hot paths reading it stay as they are.
channel_notify = Table(
    "channel_notify",
    metadata,
    Column("channel_id", Integer, ForeignKey("channels.id"), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), primary_key=True),
    Column("level", String(16), nullable=False, server_default="mentions"),
    Column("muted", Boolean, nullable=False, server_default=false()),
    Index("ix_channel_notify_user", "user_id"),
)

user_notify = Table(
    "user_notify",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id"), primary_key=True),
    Column("dnd_until", BigInteger, nullable=True),  # ms; a manual snooze
    Column("schedule", Text, nullable=True),  # JSON {"start", "end", "tz"}; NULL: none
    Column("email_digest", Boolean, nullable=False, server_default=false()),
    Column("email", String(254), nullable=True),  # where digests go
    # The e-mail digest's progress: JSON {channel id: the last seq it covered},
    # so no message is ever in two digests. Written by the digest only.
    Column("digest_marks", Text, nullable=True),
)

messages = Table(
    "messages",
    metadata,
    Column("channel_id", Integer, ForeignKey("channels.id"), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("author_id", Integer, ForeignKey("users.id"), nullable=True),
    # The name shown, when not the author's display name: a guest's, or an
    # incoming webhook's override (models.NewMessage.shown_name).
    Column("guest_name", String(80), nullable=True),
    Column("text", Text, nullable=False),
    Column("client_id", String(64), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    # Its state now (the changes that led there are in `changes`).
    Column("edited_at", BigInteger, nullable=True),
    Column("deleted_at", BigInteger, nullable=True),  # then `text` is ''
    Column("pinned_at", BigInteger, nullable=True),
    # Threads: a reply names its root; the root holds its thread's summary
    # (its participants are read from the replies).
    Column("thread_root", BigInteger, nullable=True),
    Column("broadcast", Boolean, nullable=False, server_default=false()),
    Column("reply_count", Integer, nullable=False, server_default="0"),
    Column("last_reply_at", BigInteger, nullable=True),
    Column(
        "pinned_by",
        Integer,
        ForeignKey("users.id", name="fk_messages_pinned_by"),
        nullable=True,
    ),
    # Attached files, as the message carries them (a JSON list of
    # models.FileInfo); NULL for none (most messages) and once deleted.
    Column("files", Text, nullable=True),
    # Idempotent sends: one message per (sender, client_id). NULLs (guests) are
    # distinct in both SQLite and PostgreSQL, so guests are never deduplicated.
    UniqueConstraint("author_id", "client_id", name="uq_messages_author_client"),
    # Partial: a plain message (most of them) is in neither, so a send pays
    # for no index it does not need.
    Index(
        "ix_messages_pinned",
        "channel_id",
        "pinned_at",
        sqlite_where=text("pinned_at IS NOT NULL"),
        postgresql_where=text("pinned_at IS NOT NULL"),
    ),
    Index(
        "ix_messages_thread",
        "channel_id",
        "thread_root",
        "seq",
        sqlite_where=text("thread_root IS NOT NULL"),
        postgresql_where=text("thread_root IS NOT NULL"),
    ),
)

# Who follows which thread (its root's author, everyone who replied or was
# mentioned in it), and how far they have read it: the "threads" list.
thread_follows = Table(
    "thread_follows",
    metadata,
    Column("channel_id", Integer, ForeignKey("channels.id"), primary_key=True),
    Column("root_seq", BigInteger, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), primary_key=True),
    Column("last_read", BigInteger, nullable=False),
    Index("ix_thread_follows_user", "user_id"),
)

# A channel's log is its messages and its changes, numbered by one counter
# (`channels.last_seq`): a change to message `target_seq` takes the next seq,
# as a new message would, so resuming from a seq replays changes too. A change
# holds no content (the message row has the state now), so a delete removes
# the text from storage everywhere.
changes = Table(
    "changes",
    metadata,
    Column("channel_id", Integer, ForeignKey("channels.id"), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("target_seq", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),  # edit, delete, react, unreact
    Column("created_at", BigInteger, nullable=False),
)

# Who reacted to which message with which emoji; a message's reactions are
# part of its state (read with it), each change to them a place in the log.
reactions = Table(
    "reactions",
    metadata,
    Column("channel_id", Integer, ForeignKey("channels.id"), primary_key=True),
    Column("message_seq", BigInteger, primary_key=True),
    Column("emoji", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id"), primary_key=True),
    Column("created_at", BigInteger, nullable=False),
)

# Uploaded files. A file belongs to the message its uploader sent with
# `client_id` in `channel_id` (the key sends are deduplicated by), so sending
# a message with files writes nothing here; the message's `files` column
# holds what readers need. See models.StoredFile.
files = Table(
    "files",
    metadata,
    Column("id", String(64), primary_key=True),  # random; also its blob's key
    Column("channel_id", Integer, ForeignKey("channels.id"), nullable=False),
    Column("uploader_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("client_id", String(64), nullable=True),  # claimed by this send
    Column("name", String(255), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("content_type", String(127), nullable=False),
    Column("width", Integer, nullable=True),
    Column("height", Integer, nullable=True),
    Column("thumbnail", Boolean, nullable=False, server_default=false()),
    Column("created_at", BigInteger, nullable=False),
    # The quota (a sum per uploader) and the claim's message lookup.
    Index("ix_files_uploader", "uploader_id", "client_id"),
    Index("ix_files_created", "created_at"),
)
