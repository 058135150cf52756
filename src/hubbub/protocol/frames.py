"""Every frame hubbub speaks on `/ws`, in both directions, as one schema.

Client frames are JSON objects routed by `action` (API Gateway's route
selection expression `$request.body.action`, so the Lambda deployment speaks the
same protocol). They may carry an `id`, echoed by the frame that answers them.
Server frames carry a `type`, except the S1 tutorial's `{"messages": [...]}`
push, kept verbatim for `wscat` users of that tutorial.

The server builds its hot frames (`message`, `ack`) as plain dicts for speed
(see `codec`); the tests validate every frame they receive against
`ServerFrame`, so the two cannot drift apart.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from hubbub.protocol.notify import CLOCK_RE, MAX_EMAIL, MAX_TZ, Level
from hubbub.protocol.rules import COMMAND_RE

FrameId = Annotated[str | int, Field(description="Echoed in the reply's `id`.")]
ChannelName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=320,
        description="A channel's name (`general`) or a DM's name (`dm:alice,bob`).",
    ),
]
Seq = Annotated[int, Field(ge=0, description="Per-channel sequence number, from 1.")]
FileId = Annotated[
    str,
    Field(pattern=r"^[A-Za-z0-9_-]{16,64}$", description="A file's id (from its upload)."),
]


class ClientFrame(BaseModel):
    """Fields every client frame may carry. Unknown fields are ignored."""

    model_config = ConfigDict(strict=True, extra="ignore")
    id: FrameId | None = None


class Auth(ClientFrame):
    """First frame of a connection opened without `?token=`."""

    action: Literal["auth"]
    token: str


class Subscribe(ClientFrame):
    """Follow a channel's events. `since` resumes: the server replays every message
    with `seq > since` before live ones; `null` means only new messages."""

    action: Literal["subscribe"]
    channel: ChannelName
    since: Seq | None = None


class Unsubscribe(ClientFrame):
    action: Literal["unsubscribe"]
    channel: ChannelName


class Send(ClientFrame):
    """Post a message. `client_id` makes retries safe: the same sender and
    `client_id` return the original message and `seq`, never a duplicate."""

    action: Literal["send"]
    channel: ChannelName
    text: str
    client_id: Annotated[str, Field(min_length=1, max_length=64)]
    thread_root: Seq | None = Field(
        None,
        description="Reply in the thread of this message (a reply's seq: its thread). "
        "The reply takes the next seq, and the root's change (`message_updated`, its "
        "`reply_count`...) the one after.",
    )
    broadcast: bool = Field(
        False, description='A reply also shown in the channel ("also send to channel").'
    )
    files: list[FileId] = Field(
        [],
        max_length=100,
        description="Files to attach (at most `max_files_per_message`): uploaded by the "
        "sender to this channel (`POST /api/files`, or `upload` where the deployment "
        "has presigned uploads) and attached to no other message. `text` may then be "
        "empty.",
    )


class EditMessage(ClientFrame):
    """Replace the text of your own message `seq` in `channel`. The change
    takes the channel's next seq; everyone following it gets
    `message_updated`. Sending the text it already has changes nothing."""

    action: Literal["edit"]
    channel: ChannelName
    seq: Seq
    text: str


class DeleteMessage(ClientFrame):
    """Delete your own message `seq` in `channel`: its text is removed from
    storage and a tombstone stays in its place (`deleted: true`). Deleting it
    again changes nothing."""

    action: Literal["delete"]
    channel: ChannelName
    seq: Seq


class React(ClientFrame):
    """React to message `seq` in `channel` with `emoji`: one emoji, as itself
    (`👍`) or by its `:shortcode:` (`:+1:`), stored as the emoji. Reacting
    twice with the same emoji changes nothing."""

    action: Literal["react"]
    channel: ChannelName
    seq: Seq
    emoji: Annotated[str, Field(min_length=1, max_length=100)]


class Unreact(ClientFrame):
    """Take back your reaction `emoji` to message `seq` (if you made it)."""

    action: Literal["unreact"]
    channel: ChannelName
    seq: Seq
    emoji: Annotated[str, Field(min_length=1, max_length=100)]


class PinMessage(ClientFrame):
    """Pin message `seq` to `channel` (any member may, as in Slack); pinning
    it again changes nothing. A deleted message can't be pinned."""

    action: Literal["pin"]
    channel: ChannelName
    seq: Seq


class UnpinMessage(ClientFrame):
    """Unpin message `seq` (changes nothing if it isn't pinned)."""

    action: Literal["unpin"]
    channel: ChannelName
    seq: Seq


class Pins(ClientFrame):
    """The channel's pinned messages, most recently pinned first."""

    action: Literal["pins"]
    channel: ChannelName
    limit: Annotated[int, Field(ge=1, le=200)] = 100


class History(ClientFrame):
    """Page through stored messages. With `after`: oldest first from `after + 1`.
    With `around`: the message `around` and those next to it (half the page
    before it, the rest after), oldest first: to open a channel at a search
    result; `has_more` then says whether there are newer messages after the
    page (`before` and `after` are then ignored). Otherwise newest
    first, older than `before` (default: the newest)."""

    action: Literal["history"]
    channel: ChannelName
    before: Seq | None = None
    after: Seq | None = None
    around: Seq | None = None
    limit: Annotated[int, Field(ge=1, le=200)] = 50


class Search(ClientFrame):
    """Full-text search of every message you may read (docs/protocol.md,
    "Search", has the query language: words, "phrases", `in:#channel`,
    `from:@user`, `before:`/`after:`/`on:` dates, `has:file`, `has:link`,
    `is:thread`)."""

    action: Literal["search"]
    query: Annotated[str, Field(min_length=1, max_length=1000)]
    order: Literal["newest", "relevance"] = "newest"
    offset: Annotated[int, Field(ge=0, le=10_000)] = 0
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    tz: Annotated[
        int,
        Field(
            ge=-12 * 60,
            le=14 * 60,
            description="Your offset from UTC in minutes, east positive (UTC+2: 120): "
            "the days of `before:`, `after:`, `on:` and `during:` are yours.",
        ),
    ] = 0


class FileUrl(ClientFrame):
    """A URL to download a file (or its thumbnail) you may see, valid for a
    while (`expires_at`): a signed hubbub URL, or on the Lambda deployment a
    presigned S3 one."""

    action: Literal["file_url"]
    file_id: FileId
    thumbnail: bool = False


class Upload(ClientFrame):
    """Ask to upload a file to `channel` where the WebSocket cannot carry it
    (the Lambda deployment): answered by `upload_ticket`, a form to POST the
    file to; then `file_uploaded`. Elsewhere: `unsupported` (use `POST
    /api/files`)."""

    action: Literal["upload"]
    channel: ChannelName
    name: Annotated[str, Field(min_length=1, max_length=255)]
    size: Annotated[int, Field(ge=0)]


class FileUploaded(ClientFrame):
    """The file of an `upload_ticket` is uploaded: check it (its size, its
    type from its content, a thumbnail for images) and answer `file`."""

    action: Literal["file_uploaded"]
    file_id: FileId


class Typing(ClientFrame):
    """The user is typing in `channel`; others see it for `typing_ttl` seconds."""

    action: Literal["typing"]
    channel: ChannelName


class Read(ClientFrame):
    """Mark `channel` read up to `seq` (cursors only move forward)."""

    action: Literal["read"]
    channel: ChannelName
    seq: Seq


class Thread(ClientFrame):
    """Page through the replies of message `seq`'s thread (a reply's seq: its
    thread), as `history` pages a channel: oldest first with `after`, else
    newest first before `before`."""

    action: Literal["thread"]
    channel: ChannelName
    seq: Seq
    before: Seq | None = None
    after: Seq | None = None
    limit: Annotated[int, Field(ge=1, le=200)] = 50


class Threads(ClientFrame):
    """The threads you follow (you started, replied in or were mentioned in
    them), the latest reply first, each with its unread replies."""

    action: Literal["threads"]
    limit: Annotated[int, Field(ge=1, le=200)] = 50


class ReadThread(ClientFrame):
    """Mark the thread of message `thread_root` read up to `seq` (forward only)."""

    action: Literal["read_thread"]
    channel: ChannelName
    thread_root: Seq
    seq: Seq


class WatchPresence(ClientFrame):
    """Replace the set of users whose presence this connection follows."""

    action: Literal["watch_presence"]
    usernames: Annotated[list[str], Field(max_length=500)]


class Ping(ClientFrame):
    """Heartbeat. Any frame counts as activity; send one at least every
    `heartbeat_interval` seconds when idle."""

    action: Literal["ping"]


class SendMessage(ClientFrame):
    """S1 tutorial: post `content` to `room_name` (or the connection's
    `?room_name=`). Guests name themselves with `user_name` (or `username`)."""

    action: Literal["sendMessage"]
    content: str
    room_name: str | None = None
    user_name: str | None = None
    username: str | None = None
    token: str | None = None


class GetRecentMessages(ClientFrame):
    """S1 tutorial: the last 10 messages of the room, oldest first."""

    action: Literal["getRecentMessages"]
    room_name: str | None = None


class Command(ClientFrame):
    """Run a slash command in `channel` (`text` is the whole line, `/shrug
    ok`): a built-in or a custom one an admin registered (docs/integrations.md).
    The answer is a `command_result`; what it posts in the channel arrives
    as a `message` too. `client_id` makes a retried in-channel post safe."""

    action: Literal["command"]
    channel: ChannelName
    text: Annotated[str, Field(min_length=2, max_length=10_000, pattern=COMMAND_RE.pattern)]
    client_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None


class DndSchedule(BaseModel):
    """Do not disturb every day from `start` to `end` (local time in `tz`;
    across midnight when `end` is earlier, "22:00" to "08:00")."""

    model_config = ConfigDict(strict=True, extra="forbid")
    start: Annotated[str, Field(pattern=CLOCK_RE.pattern, description="`HH:MM`, 24-hour.")]
    end: Annotated[str, Field(pattern=CLOCK_RE.pattern, description="`HH:MM`, 24-hour.")]
    tz: Annotated[
        str,
        Field(
            min_length=1,
            max_length=MAX_TZ,
            description="An IANA time zone name (`Europe/Paris`); an unknown one is "
            "`invalid_input` with `field: schedule.tz`.",
        ),
    ]


class GetNotifications(ClientFrame):
    """Your notification settings (do-not-disturb, its schedule, e-mail
    digests), answered with `notifications`."""

    action: Literal["notifications"]


class SetNotifications(ClientFrame):
    """Change some of your notification settings; a field left out stays as
    it is, `null` clears it. Answered with `notifications`, which all of your
    other connections get too."""

    action: Literal["set_notifications"]
    dnd_until: int | None = Field(
        None,
        ge=0,
        description="Do not disturb until then (ms since the epoch; at most 7 days "
        "ahead; a past time or `null`: off).",
    )
    dnd_minutes: int | None = Field(
        None,
        ge=1,
        le=7 * 24 * 60,
        description="Do not disturb for this many minutes from now (instead of `dnd_until`).",
    )
    schedule: DndSchedule | None = Field(None, description="The daily window; `null`: none.")
    email_digest: bool | None = Field(
        None, description="E-mail unread mentions and DMs while you are offline."
    )
    email: str | None = Field(
        None,
        max_length=MAX_EMAIL,
        description='Where digests go (`""` or `null`: nowhere); seen by you and workspace admins.',
    )


class ChannelNotifications(ClientFrame):
    """Your notification level and mute in `channel` (one you are in),
    answered with `channel_notifications`."""

    action: Literal["channel_notifications"]
    channel: ChannelName


class SetChannelNotifications(ClientFrame):
    """Set your notification level or mute in `channel` (left out: as it is).
    Answered with `channel_notifications`, which all of your other
    connections get too."""

    action: Literal["set_channel_notifications"]
    channel: ChannelName
    level: Level | None = Field(
        None,
        description="`all`: every message; `mentions` (the default): mentions of you, "
        "`@here`, `@channel`, `@everyone`, and every DM; `nothing`.",
    )
    muted: bool | None = Field(None, description="Muted: no notifications, dimmed in lists.")


CLIENT_FRAMES: tuple[type[ClientFrame], ...] = (
    Auth,
    Subscribe,
    Unsubscribe,
    Send,
    EditMessage,
    DeleteMessage,
    React,
    Unreact,
    PinMessage,
    UnpinMessage,
    Pins,
    History,
    Search,
    FileUrl,
    Upload,
    FileUploaded,
    Thread,
    Threads,
    Typing,
    Read,
    ReadThread,
    WatchPresence,
    Ping,
    SendMessage,
    GetRecentMessages,
    Command,
    GetNotifications,
    SetNotifications,
    ChannelNotifications,
    SetChannelNotifications,
)
ACTIONS: dict[str, type[ClientFrame]] = {
    f.model_fields["action"].annotation.__args__[0]: f  # type: ignore[union-attr]
    for f in CLIENT_FRAMES
}


# --- server -> client ------------------------------------------------------


class ServerFrame(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StatusOut(BaseModel):
    """A custom status, shown beside the name until `until` (ms; null: until
    cleared)."""

    model_config = ConfigDict(extra="forbid")
    emoji: str
    text: str
    until: int | None = None


class UserOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str
    display_name: str
    role: Literal["owner", "admin", "member", "guest"] = Field(
        "member", description="The user's role in the workspace."
    )
    custom_status: StatusOut | None = Field(
        None, description="A custom status that has not expired; absent if none."
    )
    deactivated: bool = Field(False, description="Deactivated by an admin; absent if not.")
    bot: bool = Field(False, description="A bot account (docs/integrations.md); absent if not.")


class Author(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str | None = Field(description="`null` for a guest of the S1 tutorial protocol.")
    display_name: str
    bot: bool = Field(
        False, description="A bot account's message (on the WebSocket, only sent when true)."
    )


class Reaction(BaseModel):
    model_config = ConfigDict(extra="forbid")
    emoji: str
    count: int
    users: list[str] = Field(description="Who reacted, in the order they did.")


class FileOut(BaseModel):
    """A file attached to a message. Download it from `GET /api/files/{id}`
    (or a `file_url`), its thumbnail from `/api/files/{id}/thumbnail`."""

    model_config = ConfigDict(extra="forbid")
    id: str
    name: str
    size: int = Field(description="Bytes.")
    content_type: str = Field(description="Detected from the content, not from the name.")
    width: int | None = Field(None, description="Images: pixels; absent otherwise.")
    height: int | None = Field(None, description="Images: pixels; absent otherwise.")
    thumbnail: bool = Field(False, description="A thumbnail exists (images); absent if not.")


class MessageOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channel: str
    seq: int
    author: Author
    text: str
    client_id: str | None
    created_at: int = Field(description="Milliseconds since the Unix epoch (display only).")
    edited_at: int | None = Field(
        None, description="When the text last changed (ms); absent if it never did."
    )
    deleted: bool = Field(
        False, description="A tombstone: `text` is empty and gone from storage; absent if not."
    )
    reactions: list[Reaction] = Field(
        [], description="By the first use of each emoji; absent when there are none."
    )
    pinned_by: str | None = Field(
        None, description="Who pinned it to the channel (username); absent if not pinned."
    )
    pinned_at: int | None = Field(None, description="When it was pinned (ms); absent if not.")
    thread_root: int | None = Field(
        None, description="A reply: the seq of its thread's first message; absent if not."
    )
    broadcast: bool = Field(False, description="A reply also shown in the channel; absent if not.")
    reply_count: int = Field(
        0, description="A thread's first message: its replies; absent when none."
    )
    last_reply_at: int | None = Field(
        None, description="When the latest reply was sent (ms); absent when none."
    )
    reply_users: list[str] = Field(
        [], description="Who replied, by their first reply; absent when none."
    )
    files: list[FileOut] = Field([], description="Attached files; absent when none.")
    shown_name: str | None = Field(
        None,
        description="The name to show instead of the author's display name (an incoming "
        "webhook's `username`; the author is still `author`); absent if none.",
    )


class Limits(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_frame_bytes: int
    max_message_chars: int
    messages_per_second: float
    message_burst: int
    max_connections_per_user: int
    max_subscriptions: int
    resume_limit: int
    heartbeat_interval: float
    idle_timeout: float
    typing_ttl: float
    max_file_bytes: int
    max_files_per_message: int


class Hello(ServerFrame):
    """First frame after authentication."""

    type: Literal["hello"]
    user: UserOut
    server_version: str
    limits: Limits


class Ack(ServerFrame):
    """The message is committed. `duplicate` is true when `client_id` was seen
    before and this is the original message. Sends are pipelined: acks come in
    send order, but may follow the answers to frames sent after the send."""

    type: Literal["ack"]
    id: FrameId | None
    channel: str
    seq: int
    client_id: str
    duplicate: bool
    message: MessageOut


class Message(MessageOut, ServerFrame):
    """A new message in a subscribed channel (also sent for replays)."""

    type: Literal["message"]


class MessageUpdated(ServerFrame):
    """A message in a subscribed channel changed (edited or deleted). `seq` is
    the change's place in the channel's log (a resume cursor, like a message's
    seq); `message` is the message's state now, `message.seq` its own seq."""

    type: Literal["message_updated"]
    channel: str
    seq: int
    message: MessageOut


class Changed(ServerFrame):
    """Answers `edit`, `delete`, `react`, `unreact`, `pin` and `unpin`: the message's state
    now, and `seq`, the change's place in the log (`null` when nothing
    changed)."""

    type: Literal["changed"]
    id: FrameId | None
    channel: str
    seq: int | None
    message: MessageOut


class Skipped(ServerFrame):
    """Places `first` to `last` of `channel`'s log hold nothing for the client:
    changes a replay folded into another frame, or (only on the Lambda
    deployment) seqs a failed send had taken. Sent in the channel's order,
    where those places are: count them as seen, so that the next event is
    `last + 1` and not a hole."""

    type: Literal["skipped"]
    channel: str
    first: int = Field(ge=1)
    last: int = Field(ge=1)


class Subscribed(ServerFrame):
    """Answer to `subscribe`, sent after any replayed messages. `recovered` is
    false when more than `resume_limit` messages were missed, or `since` is
    beyond the channel's last seq: nothing was replayed and the client must page
    `history` itself."""

    type: Literal["subscribed"]
    id: FrameId | None
    channel: str
    last_seq: int
    replayed: int
    recovered: bool


class Unsubscribed(ServerFrame):
    type: Literal["unsubscribed"]
    id: FrameId | None
    channel: str


class HistoryPage(ServerFrame):
    type: Literal["history"]
    id: FrameId | None
    channel: str
    messages: list[MessageOut]
    has_more: bool


class PinsPage(ServerFrame):
    type: Literal["pins"]
    id: FrameId | None
    channel: str
    messages: list[MessageOut]


class ThreadPage(ServerFrame):
    """Answers `thread`: its first message (`root`, in its state now) and a
    page of its replies."""

    type: Literal["thread"]
    id: FrameId | None
    channel: str
    root: MessageOut
    messages: list[MessageOut]
    has_more: bool


class SearchResult(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: MessageOut
    snippet: str = Field(description="The part of the text around the first match.")
    highlights: list[tuple[int, int]] = Field(
        description="[start, end) character offsets in `snippet` of the matched words."
    )


class SearchResults(ServerFrame):
    """Answers `search` (as `GET /api/search` does)."""

    type: Literal["search_results"]
    id: FrameId | None
    query: str
    results: list[SearchResult]
    more: bool
    next_offset: int | None = Field(description="The `offset` of the next page; null: none.")


class FileLink(ServerFrame):
    """Answers `file_url`."""

    type: Literal["file_url"]
    id: FrameId | None
    file_id: str
    url: str
    expires_at: int = Field(description="ms since the epoch.")


class UploadTicket(ServerFrame):
    """Answers `upload`: POST the file as multipart form data to `url`, with
    `fields` first and the file last (field `file`), before `expires_at`;
    then send `file_uploaded`."""

    type: Literal["upload_ticket"]
    id: FrameId | None
    file_id: str
    url: str
    fields: dict[str, str]
    max_bytes: int
    expires_at: int


class FileReady(ServerFrame):
    """Answers `file_uploaded`: the file, ready to attach to a `send`."""

    type: Literal["file"]
    id: FrameId | None
    file: FileOut


class FollowedThreadOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channel: str
    root: MessageOut
    last_read: int = Field(description="Your cursor in the thread (a seq).")
    unread: int = Field(description="Replies by others after `last_read`.")


class ThreadsList(ServerFrame):
    type: Literal["threads"]
    id: FrameId | None
    threads: list[FollowedThreadOut]


class ThreadReadEvent(ServerFrame):
    """To all of your own connections: your cursor in a thread moved."""

    type: Literal["thread_read"]
    channel: str
    thread_root: int
    seq: int


class TypingEvent(ServerFrame):
    type: Literal["typing"]
    channel: str
    user: str


class PresenceEvent(ServerFrame):
    type: Literal["presence"]
    user: str
    status: Literal["online", "offline"]


class MemberEvent(ServerFrame):
    """Someone joined or left a channel you follow."""

    type: Literal["member_joined", "member_left"]
    channel: str
    user: str
    member_count: int = Field(description="Members after the change.")


class ChannelOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    kind: Literal["public", "private", "dm"]
    topic: str
    last_seq: int
    member_count: int
    members: list[str] | None = Field(None, description="Only for DMs: who is in it.")
    purpose: str = Field("", description="What the channel is for (beside the topic).")
    archived: bool = Field(False, description="Read-only and hidden from the default lists.")
    default: bool = Field(False, description="New accounts join it.")


class ChannelEvent(ServerFrame):
    """To all of your own connections: you joined/left/were invited to a channel."""

    type: Literal["channel_joined", "channel_left"]
    channel: ChannelOut


class ChannelUpdated(ServerFrame):
    """To the channel's subscribers: its topic, purpose, name, archived or
    default state changed. After a rename, `renamed_from` is the name it had:
    clients keyed by name move their state to `channel.name` (the old name
    still addresses the channel, so nothing in flight breaks)."""

    type: Literal["channel_updated"]
    channel: ChannelOut
    renamed_from: str | None = None


class UserUpdated(ServerFrame):
    """To who watches the user's presence, and to their own connections:
    their name, role, status or active state changed."""

    type: Literal["user_updated"]
    user: UserOut


class SessionEnded(ServerFrame):
    """To the user's own connections: these sessions were ended (logged out,
    revoked, a new password). Connections of them close with 4010 right
    after; the others stay open."""

    type: Literal["session_ended"]
    sessions: list[str]


class AccountDeactivated(ServerFrame):
    """To the user's own connections: an admin deactivated the account; every
    connection closes with 4011."""

    type: Literal["account_deactivated"]


class ReadEvent(ServerFrame):
    """To all of your own connections: your read cursor moved."""

    type: Literal["read"]
    channel: str
    seq: int


class PresenceState(ServerFrame):
    """Answer to `watch_presence`: the current status of each watched user."""

    type: Literal["presence_state"]
    id: FrameId | None
    users: dict[str, Literal["online", "offline"]]


class Pong(ServerFrame):
    type: Literal["pong"]
    id: FrameId | None
    time: int = Field(description="Server time, ms since the epoch.")


class Ok(ServerFrame):
    """Answer to frames with nothing else to say (`read`, `typing` with an `id`)."""

    type: Literal["ok"]
    id: FrameId | None


class Error(ServerFrame):
    type: Literal["error"]
    id: FrameId | None
    code: str = Field(description="One of the error codes below.")
    message: str
    field: str | None = None
    retry_after: float | None = None


class CommandResult(ServerFrame):
    """A slash command's answer. `ephemeral`: `text` is for you only (on this
    connection; never stored). `in_channel`: `message` was posted in the
    channel for everyone (and `text` may say more, for you)."""

    type: Literal["command_result"]
    id: FrameId | None
    channel: str
    command: str = Field(description="The command, e.g. `/shrug`.")
    response_type: Literal["ephemeral", "in_channel"]
    text: str
    message: MessageOut | None = None


class EphemeralEvent(ServerFrame):
    """A message for you only, in `channel`, never stored: a custom command's
    later answer (through its `response_url`), on each of your connections."""

    type: Literal["ephemeral"]
    channel: str
    command: str
    text: str
    shown_name: str | None = Field(None, description="Who answers (the command's account).")


class NotificationsOut(BaseModel):
    """Your notification settings, the same on every device."""

    model_config = ConfigDict(extra="forbid")
    dnd_until: int | None = Field(description="A snooze, until then (ms); `null`: none.")
    schedule: DndSchedule | None = Field(description="The daily do-not-disturb window.")
    dnd: bool = Field(description="Do not disturb is on now (snoozed or inside the schedule).")
    email_digest: bool
    email: str | None = Field(None, description="Where digests go.")


class NotificationsEvent(NotificationsOut, ServerFrame):
    """Answer to `notifications` and `set_notifications`; without `id`, to
    all of your connections: your settings changed (on another device too)."""

    type: Literal["notifications"]
    id: FrameId | None = None


class ChannelNotificationsOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channel: str
    level: Level
    muted: bool


class ChannelNotificationsEvent(ChannelNotificationsOut, ServerFrame):
    """Answer to `channel_notifications` and `set_channel_notifications`;
    without `id`, to all of your connections: they changed."""

    type: Literal["channel_notifications"]
    id: FrameId | None = None


class TutorialMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_name: str
    content: str


class TutorialMessages(ServerFrame):
    """S1 tutorial push and `getRecentMessages` answer (no `type`)."""

    messages: list[TutorialMessage]


SERVER_FRAMES: tuple[type[ServerFrame], ...] = (
    Hello,
    Ack,
    Message,
    MessageUpdated,
    Changed,
    Skipped,
    Subscribed,
    Unsubscribed,
    HistoryPage,
    SearchResults,
    FileLink,
    UploadTicket,
    FileReady,
    PinsPage,
    ThreadPage,
    ThreadsList,
    ThreadReadEvent,
    TypingEvent,
    PresenceEvent,
    MemberEvent,
    ChannelEvent,
    ChannelUpdated,
    UserUpdated,
    SessionEnded,
    AccountDeactivated,
    ReadEvent,
    PresenceState,
    Pong,
    Ok,
    Error,
    CommandResult,
    EphemeralEvent,
    NotificationsEvent,
    ChannelNotificationsEvent,
    TutorialMessages,
)


def _types(model: type[ServerFrame]) -> tuple[str, ...]:
    field = model.model_fields.get("type")
    return () if field is None else tuple(field.annotation.__args__)  # type: ignore[union-attr]


# `type` -> the model of that server frame (TutorialMessages has no `type`).
SERVER_TYPES: dict[str, type[ServerFrame]] = {
    t: model for model in SERVER_FRAMES for t in _types(model)
}
