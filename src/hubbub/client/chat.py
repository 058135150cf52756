"""`hubbub chat`: a full-screen terminal client on top of the SDK `Client`.

Layout: the user's channels and DMs on the left (with unread and mention
counts, `#general (3, @1)`, as the server counts them; a muted one dim and
marked), the active channel's
messages on the right (scroll back with Page Up or `/more`), a status line
(connection, who is typing, presence of DM partners) and an input line that
takes messages and slash commands (`/help`). The terminal's bell rings for
a new message your notification preferences let through (protocol.notify,
the server's rule: mentions and DMs by default; `/mute` and `/dnd` run on the
server and change them for every device), never while do-not-disturb is on.

All text from the server is rendered as `rich.text.Text`, never as markup, so
`[bold]` typed by someone shows literally. Server errors become one line in the
message pane and the status line, never a traceback. Reconnecting is the SDK's
job (it re-subscribes from the last seq and re-sends unacknowledged messages);
the app shows "reconnecting…" meanwhile and re-syncs channels, unread counts
and presence watches once it is back. What you send shows at once, marked
"sending…" until the server acknowledges it, or "not sent" with the reason
(`/retry` sends it again under the same client id: never a duplicate).
Each message starts with its number (`#12`, its seq), which `/edit`,
`/delete` and `/react` take; edits, deletes and reactions (`message_updated`)
redraw the message where it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import shlex
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, ClassVar, Literal

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.widgets import Input, OptionList, RichLog, Static
from textual.widgets.option_list import Option

from hubbub.client.attachments import describe, human_size
from hubbub.client.authors import author_label
from hubbub.client.results import result_text
from hubbub.client.sdk import Client, HubbubError
from hubbub.client.targets import Target, open_target, parse_target
from hubbub.protocol import frames
from hubbub.protocol.notify import (
    ChannelPrefs,
    Incoming,
    Schedule,
    UserPrefs,
    dnd_active,
    level_of,
    notifies,
)
from hubbub.protocol.rules import mention_re

PAGE_SIZE = 50
# The bell rings for news, not history: a message older than this (a replay
# after a long reconnect, say) rings nothing.
BELL_FRESH_MS = 60_000
# Errors that only mean "not connected right now": the SDK is reconnecting.
RETRYABLE = frozenset({"connection_lost", "timeout", "unreachable"})

HELP = """\
Commands:
  /join #channel           join a public channel and open it (/join @user: a DM)
  /leave [#channel]        leave the active (or named) channel
  /create #channel [--private]   create a channel (and join it)
  /dm @user [@user...]     open a direct message with one or more people
  /topic text              set the active channel's topic
  /purpose text            set what the active channel is for
  /rename #new-name        rename the active channel (its admins, workspace admins)
  /archive /unarchive      make the active channel read-only, or writable again
  /kick @user              remove someone from the active channel
  /status [:emoji:] [text] set your custom status (/status alone clears it)
  /who                     list the members of the active channel
  /me action               an action line: "/me waves" shows as "* you waves"
  /edit [N] text           edit your message #N (the number before it), or your last one;
                           /edit N alone puts its text here to change
  /delete N                delete your message #N
  /react [N] :emoji:       react to #N (or the newest) with :+1:, 👍...; again: take it back
  /thread N                show the thread of #N (its first message and every reply)
  /reply N text            reply in the thread of #N (/reply --channel N text: also
                           send it to the channel)
  /pin [N] /unpin [N]      pin #N (or the newest) to the channel, or unpin it
  /pins                    list the channel's pinned messages
  /search QUERY            search every message you may read: words, "phrases",
                           in:#channel, from:@user, after:/before:/on:YYYY-MM-DD,
                           has:file, has:link, is:thread; /search alone: more results
  /open N                  open search result N in its channel, marked (▶)
  /latest                  back to the newest messages after /open (also Page Down)
  /upload PATH [text]      send a file (quote a PATH with spaces: "my file.png")
  /download ID [PATH]      save the file ID (shown under its message) here or at PATH
  /retry                   send your messages marked "not sent" again
  /discard                 drop your messages marked "not sent"
  /more                    load older messages (also Page Up at the top)
  /help                    this help, and the server's commands (/shrug, custom ones...)
  /quit                    leave hubbub chat (also Ctrl+Q)
  //text                   send a message that starts with "/"
Keys: Ctrl+N / Ctrl+P or Alt+Down / Alt+Up switch channel; Page Up / Page Down scroll;
Up in an empty input line: edit your last message."""


@dataclasses.dataclass
class Outgoing:
    """A message you sent that the server has not acknowledged (yet)."""

    client_id: str
    text: str
    created_at: float = dataclasses.field(default_factory=time.time)
    error: str | None = None  # None: sending; else why it was not sent

    @property
    def failed(self) -> bool:
        return self.error is not None


@dataclasses.dataclass
class ChannelState:
    """What the app knows about one of the user's channels or DMs."""

    name: str
    kind: str
    topic: str = ""
    last_seq: int = 0
    last_read: int = 0
    members: list[str] | None = None
    # Messages seen so far (history pages and live ones), by seq.
    messages: dict[int, frames.MessageOut] = dataclasses.field(default_factory=dict)
    loaded: bool = False  # the newest page of history has been fetched
    has_more: bool = True  # older history exists beyond the oldest message held
    # After /open: the messages held are a window of older history that does
    # not reach the newest (new ones wait for /latest, never out of place),
    # and the message it was opened at, marked.
    detached: bool = False
    marked: int | None = None
    rendered_max: int = 0  # highest seq written to the pane while active
    # The app's own lines (help, /who, errors) shown in this channel, each
    # kept after the seq that was the newest when it was written.
    notes: list[tuple[int, Text]] = dataclasses.field(default_factory=list)
    # Your sends not acknowledged yet (or failed), by client_id, oldest first:
    # shown after the messages until the server has them.
    outbox: dict[str, Outgoing] = dataclasses.field(default_factory=dict)

    # Unread messages. Edits, deletes and reactions take seqs too, so a seq
    # difference counts nothing: the count is the server's (`unread` and
    # `mentions` in its channel view, as of `base_seq` after cursor
    # `base_read`), less its messages deleted since (`base_gone`: message seq
    # -> the delete's seq), plus the messages from others that came live
    # after `base_seq` (`live`: seq -> whether it mentions you), each only
    # while it is after `last_read`.
    # Your notification preferences here (the server's; `/mute` changes them).
    notify: str = "mentions"
    muted: bool = False
    base_unread: int = 0
    base_mentions: int = 0
    base_seq: int = 0
    base_read: int = 0
    base_gone: dict[int, int] = dataclasses.field(default_factory=dict)
    live: dict[int, bool] = dataclasses.field(default_factory=dict)

    @property
    def unread(self) -> int:
        n = 0
        if self.last_read < self.base_seq:
            n = max(0, self.base_unread - len(self.base_gone))
        return n + sum(1 for seq in self.live if seq > self.last_read)

    @property
    def mentions(self) -> int:
        """Unread messages that mention you (never more than are unread)."""
        n = self.base_mentions if self.last_read < self.base_seq else 0
        n += sum(1 for seq, mentioned in self.live.items() if mentioned and seq > self.last_read)
        return min(n, self.unread)

    @property
    def is_dm(self) -> bool:
        return self.kind == "dm"

    def update(self, body: dict[str, Any]) -> None:
        self.kind = body.get("kind", self.kind)
        self.topic = body.get("topic", self.topic)
        self.last_seq = max(self.last_seq, body.get("last_seq", 0))
        if body.get("members") is not None:
            self.members = list(body["members"])
        if isinstance(body.get("notify"), str):
            self.notify = body["notify"]
        if isinstance(body.get("muted"), bool):
            self.muted = body["muted"]

    @property
    def prefs(self) -> ChannelPrefs:
        return ChannelPrefs(level_of(self.notify), self.muted)

    def rebase(self, body: dict[str, Any]) -> None:
        """Take the server's counts from a channel view (`GET /api/channels`,
        `/api/channels/{name}`: `unread`, `mentions`, `last_read`, as of its
        `last_seq`). A view without counts, or older than the last one, is ignored."""
        if not isinstance(body.get("unread"), int) or not body.get("is_member", True):
            return
        up_to = int(body.get("last_seq", 0))
        if up_to < self.base_seq:
            return
        self.base_unread = body["unread"]
        self.base_mentions = int(body.get("mentions", 0))
        self.base_seq = up_to
        self.base_read = int(body.get("last_read", 0))
        self.last_read = max(self.last_read, self.base_read)
        self.base_gone = {
            seq: at
            for seq, at in self.base_gone.items()
            if at > up_to and self.base_read < seq <= up_to
        }
        self.live = {seq: m for seq, m in self.live.items() if seq > up_to}

    def counted(self, m: frames.MessageOut, me: str | None) -> None:
        """A message from someone else delivered live (or replayed): unread if
        after your cursor and after what the server counted (a reply kept in
        its thread never is, as the server counts)."""
        if in_thread_only(m):
            return
        if not m.deleted and m.seq > self.base_seq and m.seq > self.last_read:
            self.live[m.seq] = mentions_me(m.text, me)

    def changed(self, m: frames.MessageOut, at: int | None, me: str | None) -> None:
        """Someone else's message `m` changed at seq `at`: a deleted one is no
        longer unread; an edit may mention you, or no longer."""
        if m.seq in self.live:
            if m.deleted:
                del self.live[m.seq]
            else:
                self.live[m.seq] = mentions_me(m.text, me)
        elif (
            m.deleted
            and at is not None
            and at > self.base_seq
            and self.base_read < m.seq <= self.base_seq
        ):
            self.base_gone[m.seq] = at


def in_thread_only(m: frames.MessageOut) -> bool:
    """A reply shown in its thread only, not in the channel (not `broadcast`)."""
    return m.thread_root is not None and not m.broadcast


def mentions_me(text: str, me: str | None) -> bool:
    """Does `text` mention `me` (the protocol's rule, as the server counts)?"""
    return mention_re(me).search(text) is not None


def me_text(username: str, action: str) -> str:
    """What `/me action` sends: `*alice action*`, readable as is by every
    client, and shown by this one as an action line."""
    return f"*{username} {action}*"


def action_of(m: frames.MessageOut) -> str | None:
    """The action of a `/me` message (`*alice waves*` by alice: `waves`), else None.
    Only the author's own name counts: nobody can write an action line for bob."""
    who = m.author.username
    if not who:
        return None
    prefix = f"*{who} "
    text = m.text
    if text.startswith(prefix) and text.endswith("*") and len(text) > len(prefix) + 1:
        return text[len(prefix) : -1]
    return None


def _stamp(ms: float) -> str:
    return time.strftime("%H:%M", time.localtime(ms / 1000))


REACTIONS_INDENT = "      "  # the reactions' line, under the message's text


def format_line(m: frames.MessageOut, me: str | None = None) -> Text:
    """`#N HH:MM author: text`, or `#N HH:MM * author action` for `/me`; as
    plain text (no markup is interpreted). `#N`, dim, is the message's seq:
    what /edit, /delete and /react take. Then ` (edited)` if it was; a deleted
    one is `(message deleted)`; its reactions, `👍 2  🎉 1`, on a line below
    (yours in bold)."""
    who = author_label(m)
    line = Text.assemble((f"#{m.seq} {_stamp(m.created_at)}", "dim"), " ")
    action = action_of(m)
    if m.deleted:
        line.append_text(Text.assemble((who, "bold"), ": ", ("(message deleted)", "dim italic")))
    elif action is not None:
        line.append_text(Text.assemble("* ", (who, "bold italic"), " ", (action, "italic")))
    else:
        line.append_text(Text.assemble((who, "bold"), ": ", m.text))
    if m.edited_at is not None and not m.deleted:
        line.append(" (edited)", "dim")
    if m.thread_root is not None:
        line.append(f" (in the thread of #{m.thread_root})", "dim")
    if m.pinned_by is not None:
        line.append(f" 📌 pinned by {m.pinned_by}", "dim")
    if m.reply_count:
        replies = "1 reply" if m.reply_count == 1 else f"{m.reply_count} replies"
        last = f", last {_stamp(m.last_reply_at)}" if m.last_reply_at else ""
        who = ", ".join(m.reply_users[:3]) + (" …" if len(m.reply_users) > 3 else "")
        line.append(f"\n{REACTIONS_INDENT}↳ {replies}{last} ({who}): /thread {m.seq}", "cyan")
    for f in m.files:
        line.append(f"\n{REACTIONS_INDENT}📎 {describe(f)}  /download {f.id}", "cyan")
    if m.reactions:
        line.append("\n" + REACTIONS_INDENT)
        for i, r in enumerate(m.reactions):
            if i:
                line.append("  ")
            line.append(f"{r.emoji} {r.count}", "bold" if me in r.users else "")
    return line


def local_file(word: str) -> tuple[Path, int | None]:
    """A path typed in a command (`~` expanded), and the size of the file
    there (None: no such file)."""
    path = Path(word).expanduser()
    return path, path.stat().st_size if path.is_file() else None


def same_state(a: frames.MessageOut, b: frames.MessageOut) -> bool:
    """Whether two copies of a message (an ack's, an event's) show the same."""

    def shown(m: frames.MessageOut) -> tuple[object, ...]:
        return (m.text, m.edited_at, m.deleted, m.reactions, m.pinned_by, m.reply_count)

    return shown(a) == shown(b)


def seq_of(word: str) -> int | None:
    """The message number in `12` or `#12`, else None."""
    digits = word.removeprefix("#")
    return int(digits) if digits.isascii() and digits.isdigit() else None


SHOWN_FAILED = 300  # characters of a failed message shown (it may be far too long)


def format_outgoing(out: Outgoing, me: str) -> Text:
    """Your message before the server has it: `… (sending…)` or `… ✗ not sent: why`."""
    text = out.text
    if out.failed and len(text) > SHOWN_FAILED:
        text = text[:SHOWN_FAILED] + f"… ({len(out.text)} characters)"
    line = Text.assemble((_stamp(out.created_at * 1000), "dim"), " ")
    action = text[len(me) + 2 : -1] if text.startswith(f"*{me} ") and text.endswith("*") else None
    if action:
        line.append_text(Text.assemble("* ", (me, "bold italic"), " ", (action, "italic")))
    else:
        line.append_text(Text.assemble((me, "bold"), ": ", text))
    line.stylize("dim")
    if out.error is None:
        line.append("  (sending…)", "italic yellow")
    else:
        line.append(f"  ✗ not sent: {out.error} — /retry or /discard", "bold red")
    return line


class ChatApp(App[None]):
    """The chat UI. Give it a `Client` that has a token (and may already be
    connected); the app does not close it."""

    TITLE = "hubbub"
    ENABLE_COMMAND_PALETTE = False
    CSS = """
    #sidebar { width: 28; height: 100%; border-right: solid $primary-darken-2; }
    #main { width: 1fr; height: 100%; }
    #topic { height: 1; background: $boost; padding: 0 1; }
    #log { height: 1fr; padding: 0 1; }
    #status { height: 1; background: $panel; padding: 0 1; }
    #input { height: 3; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+n", "next_channel", "Next channel", priority=True),
        Binding("ctrl+p", "prev_channel", "Previous channel", priority=True),
        Binding("alt+down", "next_channel", show=False, priority=True),
        Binding("alt+up", "prev_channel", show=False, priority=True),
        Binding("pageup", "page_up", "Older", priority=True),
        Binding("pagedown", "page_down", show=False, priority=True),
        # Not a priority: the sidebar's and the pane's own Up come first.
        Binding("up", "edit_last", show=False),
    ]

    def __init__(
        self, client: Client, *, channel: str | None = None, page_size: int = PAGE_SIZE
    ) -> None:
        super().__init__()
        self.client = client
        self.initial_channel = channel
        self.page_size = page_size
        self.me: str | None = None
        self.channels: dict[str, ChannelState] = {}
        self.active: str | None = None
        self.started = False  # startup finished (channels loaded and subscribed)
        self.fatal: HubbubError | None = None  # the connection cannot be kept
        self.presence: dict[str, str] = {}
        self.typing: dict[str, dict[str, float]] = {}  # channel -> user -> expiry
        self.unsent = 0
        self.notice: tuple[str, float] | None = None  # (text, expiry)
        self._watched: list[str] = []
        self._typing_sent: dict[str, float] = {}
        self._inbox: asyncio.Queue[str] = asyncio.Queue()
        self._read_scheduled: set[str] = set()
        self._was_connected = False
        self._seen_reconnects = 0
        self._loading_older = False
        # The last /search: its query, results (what /open N takes) and next page.
        self.search_query = ""
        self.results: list[frames.SearchResult] = []
        self.next_result: int | None = None
        self._scroll_to_marked = False  # the next render shows the marked message
        # Your notification settings (the server's, read at start and kept
        # by its `notifications` events): do-not-disturb silences the bell.
        self.notify_settings = UserPrefs()
        self.bells = 0  # how many times the bell rang (what the tests see)

    # --- layout --------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield OptionList(id="sidebar")
            with Vertical(id="main"):
                yield Static("", id="topic")
                yield RichLog(id="log", wrap=True, markup=False, min_width=20)
                yield Static("connecting…", id="status")
                yield Input(placeholder="type a message, or /help", id="input")

    @property
    def log_pane(self) -> RichLog:
        return self.query_one("#log", RichLog)

    @property
    def sidebar(self) -> OptionList:
        return self.query_one("#sidebar", OptionList)

    @property
    def input(self) -> Input:
        return self.query_one("#input", Input)

    def on_mount(self) -> None:
        self.input.focus()
        self.set_interval(0.2, self._tick)
        self._spawn(self._startup())
        self._spawn(self._input_loop())

    # --- background work -------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run `coro` as a worker; any error it raises becomes a visible line."""

        async def guarded() -> None:
            try:
                await coro
            except HubbubError as exc:
                self.show_error(exc)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug: say so, but keep the app alive
                self.show_error(f"unexpected error: {exc!r}")

        self.run_worker(guarded(), exit_on_error=False)

    async def _startup(self) -> None:
        while True:
            try:
                hello = await self.client.connect()
                break
            except HubbubError as exc:
                if exc.code != "timeout":
                    self.fatal = exc
                    self.show_error(exc)
                    return
                # The server is not up (yet): the SDK keeps trying.
        self.me = hello.user.username
        self.title = f"hubbub: {self.me}"
        self._was_connected = True
        self._seen_reconnects = self.client.reconnects
        while True:
            try:
                bodies = await self.client.channels()
                break
            except HubbubError as exc:
                if exc.code not in RETRYABLE:
                    raise
                await self.client.wait_connected(timeout=60)  # the server is restarting
        for body in bodies:
            if body.get("is_member"):
                self._add_channel(body)
        for name in list(self.channels):
            try:
                await self._subscribe(name)
            except HubbubError as exc:
                if exc.code not in RETRYABLE:
                    raise
                # The SDK re-subscribes it once reconnected.
        self._spawn(self._pump())
        self.started = True
        # Beside the start, not in its way: until it comes, the defaults.
        self._spawn(self._load_notify_settings())
        await self._watch_presence()
        failed = None
        if self.initial_channel is not None:
            failed = await self._open_initial(self.initial_channel)
            if failed is None:
                self._refresh_sidebar()
                return
        order = self._order()
        if order:
            self.open_channel(order[0])
        else:
            self.system("You are in no channel yet: /join #name or /create #name (see /help).")
        if failed is not None:  # said in the channel shown instead, so it stays
            self.show_error(failed)
            if order:
                self.system(f"(showing {self.label(order[0])} instead)")
        self._refresh_sidebar()

    async def _load_notify_settings(self) -> None:
        with contextlib.suppress(HubbubError):  # unknown for now: the defaults
            self._settings_from(await self.client.notifications())

    def _settings_from(self, out: frames.NotificationsOut) -> None:
        s = out.schedule
        self.notify_settings = UserPrefs(
            out.dnd_until,
            None if s is None else Schedule(s.start, s.end, s.tz),
            out.email_digest,
        )
        self._refresh_status()

    def _maybe_ring(self, state: ChannelState, m: frames.MessageOut) -> None:
        """Ring the terminal's bell for a new message your preferences let
        through (protocol.notify: the server's rule)."""
        if self.me is None:
            return
        now = int(time.time() * 1000)
        if m.created_at < now - BELL_FRESH_MS:
            return
        kind: Literal["public", "private", "dm"] = (
            "dm" if state.is_dm else "private" if state.kind == "private" else "public"
        )
        incoming = Incoming(
            kind,
            m.author.username or "",  # a guest's: never you
            m.text,
            in_channel=not in_thread_only(m),
            deleted=m.deleted,
        )
        if notifies(state.prefs, self.notify_settings, incoming, self.me, now):
            self.bells += 1
            self.bell()

    async def _open_initial(self, word: str) -> str | None:
        """`hubbub chat -c TARGET`: open it, joining a public channel or opening
        a DM as needed; or return why not, to be said plainly."""
        try:
            target = parse_target(word)
            name = self._target_name(target)
            if name in self.channels:
                self.open_channel(name)
            else:
                await self._adopt(await open_target(self.client, target, join=True))
            return None
        except HubbubError as exc:
            return f"cannot open {word}: {exc.message}"

    async def _subscribe(self, name: str) -> None:
        sub = await self.client.subscribe(name)
        state = self.channels.get(name)
        if state is not None:
            state.last_seq = max(state.last_seq, sub.last_seq)

    async def _pump(self) -> None:
        try:
            async for event in self.client.events():
                try:
                    self.handle_server_event(event)
                except Exception as exc:  # never let one bad event stop the pump
                    self.show_error(f"unexpected error: {exc!r}")
        except HubbubError as exc:
            self.fatal = exc
            self.show_error(exc)

    async def _input_loop(self) -> None:
        while True:
            line = await self._inbox.get()
            try:
                await self.handle_line(line)
            except HubbubError as exc:
                self.show_error(exc)
            except Exception as exc:  # a bug: say so, but keep taking input
                self.show_error(f"unexpected error: {exc!r}")

    def _tick(self) -> None:
        connected = self.client.connected
        if (
            self.started
            and connected
            and (not self._was_connected or self.client.reconnects != self._seen_reconnects)
        ):
            self._seen_reconnects = self.client.reconnects
            self._spawn(self._resync())
        if self.started:
            self._was_connected = connected
        now = time.monotonic()
        for users in self.typing.values():
            for user in [u for u, t in users.items() if t <= now]:
                del users[user]
        if self.notice is not None and self.notice[1] <= now:
            self.notice = None
        self._refresh_status()

    async def _resync(self) -> None:
        """After a reconnect: channels joined or left meanwhile, the server's
        read cursors and unread counts, and presence watches (they belong to
        the connection)."""
        bodies = [b for b in await self.client.channels() if b.get("is_member")]
        names = {b["name"] for b in bodies}
        for name in [n for n in self.channels if n not in names]:
            self._drop_channel(name)
        for body in bodies:
            new = body["name"] not in self.channels
            self._add_channel(body)  # with the server's counts and cursor
            if new:
                await self._subscribe(body["name"])
        await self._watch_presence(force=True)
        await self._load_notify_settings()  # changed meanwhile, on another device
        if self.active is not None:
            self._mark_read(self.active, force=True)
        self._refresh_sidebar()

    # --- channels ----------------------------------------------------------------------

    def _add_channel(self, body: dict[str, Any]) -> ChannelState:
        name = body["name"]
        state = self.channels.get(name)
        if state is None:
            state = ChannelState(name=name, kind=body.get("kind", "public"))
            state.last_read = body.get("last_read", 0)
            self.channels[name] = state
        state.update(body)
        state.rebase(body)
        return state

    async def _refresh_counts(self, name: str) -> None:
        """Ask the server for `name`'s counts again (best effort)."""
        with contextlib.suppress(HubbubError):
            body = await self.client.channel(name)
            state = self.channels.get(name)
            if state is not None:
                state.rebase(body)
                self._refresh_sidebar()

    def _cursor_moved(self, name: str) -> None:
        """Your read cursor moved without this app reading everything (another
        device, your own message from elsewhere): if it stopped inside what the
        server counted, only the server knows how many of those are left."""
        state = self.channels.get(name)
        if (
            state is not None
            and state.base_unread > 0
            and state.base_read < state.last_read < state.base_seq
        ):
            self._spawn(self._refresh_counts(name))

    def _renamed(self, old: str, new: str) -> None:
        """A channel of ours has a new name: the same state under it (the SDK
        moved its subscription already)."""
        state = self.channels.pop(old, None)
        if state is None or new in self.channels:
            return
        state.name = new
        self.channels[new] = state
        if old in self.typing:
            self.typing[new] = self.typing.pop(old)
        if self.active == old:
            self.active = new
            self.system(f"this channel is now {self.label(new)}")
            self._show_topic()
        self._refresh_sidebar()

    def _drop_channel(self, name: str) -> None:
        self.channels.pop(name, None)
        self.typing.pop(name, None)
        if self.active == name:
            self.active = None
            order = self._order()
            if order:
                self.open_channel(order[0])
            else:
                self.log_pane.clear()
                self.query_one("#topic", Static).update("")
                self.system(f"You left {self.label(name)}; /join #name to join a channel.")
        self._refresh_sidebar()

    async def _adopt(self, body: dict[str, Any]) -> None:
        """A channel we just joined/created/opened: follow it and show it."""
        name = body["name"]
        fresh = name not in self.channels
        self._add_channel(body)
        if fresh or name not in self.client.subscriptions:
            await self._subscribe(name)
        if self.channels[name].is_dm:
            await self._watch_presence()
        self.open_channel(name)

    def _order(self) -> list[str]:
        chans = sorted(n for n, s in self.channels.items() if not s.is_dm)
        dms = sorted((n for n, s in self.channels.items() if s.is_dm), key=self.label)
        return chans + dms

    def dm_partners(self, name: str) -> list[str]:
        state = self.channels.get(name)
        members = state.members if state and state.members else name[3:].split(",")
        others = [m for m in members if m != self.me]
        return others or list(members)

    def label(self, name: str) -> str:
        state = self.channels.get(name)
        if (state is not None and state.is_dm) or name.startswith("dm:"):
            return "@" + ", ".join(self.dm_partners(name))
        return "#" + name

    def _sidebar_prompt(self, name: str) -> Text:
        state = self.channels[name]
        text = Text()
        if state.is_dm:
            partners = self.dm_partners(name)
            online = any(self.presence.get(p) == "online" for p in partners)
            text.append("● " if online else "○ ", "green" if online else "dim")
        unread = state.unread
        if state.muted:
            # Muted: dim, and marked, with no counts in colour to draw the eye.
            text.append(self.label(name), "dim")
            text.append(" (muted)", "dim")
            if unread and name != self.active:
                text.append(f" {unread}", "dim")
            return text
        text.append(self.label(name), "bold" if unread else "")
        if unread and name != self.active:
            # As the web app's badges: in a DM every unread message is for
            # you, so its count is in the mention's colour; in a channel,
            # `(3, @1)`: 3 unread, 1 of them mentions you.
            mentions = state.mentions
            if state.is_dm:
                text.append(f" ({unread})", "bold red")
            elif mentions:
                text.append_text(
                    Text.assemble(
                        (f" ({unread}, ", "bold yellow"),
                        (f"@{mentions}", "bold red"),
                        (")", "bold yellow"),
                    )
                )
            else:
                text.append(f" ({unread})", "bold yellow")
        return text

    def _refresh_sidebar(self) -> None:
        sidebar = self.sidebar
        order = self._order()
        current = [o.id for o in sidebar.options]
        if current == order:
            for name in order:
                sidebar.replace_option_prompt(name, self._sidebar_prompt(name))
        else:
            sidebar.set_options([Option(self._sidebar_prompt(n), id=n) for n in order])
        if self.active in order:
            sidebar.highlighted = order.index(self.active)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id is not None and event.option.id != self.active:
            self.open_channel(event.option.id)
        self.input.focus()

    def open_channel(self, name: str) -> None:
        state = self.channels.get(name)
        if state is None:
            return
        self.active = name
        self._show_topic()
        self.input.placeholder = f"message {self.label(name)}, or /help"
        self._render_channel()
        self._mark_read(name)
        self._refresh_sidebar()
        self._refresh_status()
        if not state.loaded:
            self._spawn(self._load_latest(name))

    def _show_topic(self) -> None:
        state = self.channels.get(self.active) if self.active else None
        if state is None:
            return
        topic = Text(self.label(state.name), "bold")
        if state.topic:
            topic.append(" — " + state.topic)
        self.query_one("#topic", Static).update(topic)

    def _switch(self, step: int) -> None:
        order = self._order()
        if not order:
            return
        i = order.index(self.active) if self.active in order else -1
        self.open_channel(order[(i + step) % len(order)])

    def action_next_channel(self) -> None:
        self._switch(1)

    def action_prev_channel(self) -> None:
        self._switch(-1)

    def action_page_up(self) -> None:
        pane = self.log_pane
        if pane.scroll_y <= 0:
            self._spawn(self.load_older())
        else:
            pane.scroll_page_up(animate=False)

    def action_page_down(self) -> None:
        pane = self.log_pane
        state = self.channels.get(self.active) if self.active else None
        if state is not None and state.detached and pane.scroll_y >= pane.max_scroll_y:
            self._spawn(self.load_newer())
        else:
            pane.scroll_page_down(animate=False)

    # --- messages ---------------------------------------------------------------------

    async def _load_latest(self, name: str) -> None:
        page, more = await self.client.history(name, limit=self.page_size)
        state = self.channels.get(name)
        if state is None:
            return
        for m in page:
            state.messages[m.seq] = m
            state.last_seq = max(state.last_seq, m.seq)
        state.loaded = True
        state.has_more = more
        if self.active == name:
            self._render_channel()
            self._mark_read(name)

    async def load_older(self) -> None:
        """Page Up at the top / `/more`: fetch the page before the oldest shown."""
        name = self.active
        state = self.channels.get(name) if name else None
        if name is None or state is None or self._loading_older:
            return
        if state.loaded and not state.has_more:
            self.system("(no older messages)")
            return
        oldest = min(state.messages) if state.messages else None
        self._loading_older = True
        try:
            page, more = await self.client.history(name, before=oldest, limit=self.page_size)
        finally:
            self._loading_older = False
        if self.channels.get(name) is not state:
            return
        for m in page:
            state.messages[m.seq] = m
        state.has_more = more
        if oldest is None:
            state.loaded = True
        if self.active == name:
            before = len(self.log_pane.lines)
            self._render_channel(scroll_end=False)
            self.log_pane.scroll_to(y=max(0, len(self.log_pane.lines) - before), animate=False)

    async def load_newer(self) -> None:
        """Page Down at the end of a window opened by /open: the next page of
        newer messages; once it reaches the newest, live ones show again."""
        name = self.active
        state = self.channels.get(name) if name else None
        if name is None or state is None or not state.detached or self._loading_older:
            return
        self._loading_older = True
        try:
            newest = max(state.messages, default=0)
            page, more = await self.client.history(name, after=newest, limit=self.page_size)
        finally:
            self._loading_older = False
        if self.channels.get(name) is not state or not state.detached:
            return
        for m in page:
            state.messages[m.seq] = m
        state.detached = more
        if self.active == name:
            self._rerender()
            if not more:
                self._mark_read(name)

    def _back_to_newest(self, state: ChannelState) -> None:
        """Forget what is held (a window, or a stale page): the next load
        fetches the newest page, and live messages show again."""
        state.messages.clear()
        state.loaded = False
        state.has_more = True
        state.detached = False
        state.marked = None

    def _render_channel(self, scroll_end: bool = True) -> None:
        pane = self.log_pane
        pane.clear()
        state = self.channels.get(self.active) if self.active else None
        if state is None:
            return
        if state.loaded and not state.has_more:
            pane.write(
                Text(f"— the beginning of {self.label(state.name)} —", "dim italic"),
                scroll_end=False,
            )
        lines = [
            (seq, 0, i, self._message_line(state, m))
            for i, (seq, m) in enumerate(state.messages.items())
        ]
        lines += [(after, 1, i, note) for i, (after, note) in enumerate(state.notes)]
        marked_at = None
        for seq, kind, _, line in sorted(lines, key=lambda x: x[:3]):
            if kind == 0 and seq == state.marked:
                marked_at = len(pane.lines)
            pane.write(line, scroll_end=False)
        if state.detached:
            pane.write(
                Text("— newer messages: /latest (or Page Down) —", "dim italic"),
                scroll_end=False,
            )
        for out in state.outbox.values():
            pane.write(format_outgoing(out, self.me or "you"), scroll_end=False)
        state.rendered_max = max(state.messages, default=0)
        to_marked, self._scroll_to_marked = self._scroll_to_marked, False
        if to_marked and marked_at is not None:
            pane.scroll_to(y=max(0, marked_at - 3), animate=False)
        elif scroll_end:
            pane.scroll_end(animate=False, immediate=False, x_axis=False)

    def _message_line(self, state: ChannelState, m: frames.MessageOut) -> Text:
        line = format_line(m, self.me)
        if m.seq != state.marked:
            return line
        # The message /open opened the channel at: marked, as the web app highlights it.
        marked = Text.assemble(("▶ ", "bold yellow"), line)
        marked.stylize("on grey23")
        return marked

    def _got_message(self, m: frames.MessageOut) -> None:
        state = self.channels.get(m.channel)
        if state is None:
            return
        if in_thread_only(m):
            self._got_reply(state, m)
            return
        if state.detached and m.seq > max(state.messages, default=0):
            # The pane shows an older window (after /open): the message waits
            # for /latest, counted as unread meanwhile.
            state.last_seq = max(state.last_seq, m.seq)
            if self.me is None or m.author.username != self.me:
                state.counted(m, self.me)
            self._refresh_sidebar()
            return
        held = state.messages.get(m.seq)
        known = held is not None
        # A replay after a reconnect brings messages in their state now.
        changed = held is not None and not same_state(held, m)
        state.messages[m.seq] = m
        state.last_seq = max(state.last_seq, m.seq)
        mine = self.me is not None and m.author.username == self.me
        # Your own message, acknowledged (or seen live before its ack): no longer pending.
        confirmed = mine and m.client_id is not None and m.client_id in state.outbox
        if confirmed:
            del state.outbox[m.client_id or ""]
            self._refresh_status()
        if mine:
            # Your own message is never unread, from whichever client: the
            # server moved your cursor to it when it stored it.
            state.last_read = max(state.last_read, m.seq)
            self._cursor_moved(m.channel)
        else:
            state.counted(m, self.me)
            if not known:
                self._maybe_ring(state, m)
        if m.author.username:
            self.typing.get(m.channel, {}).pop(m.author.username, None)
        if m.channel == self.active:
            if confirmed or (state.outbox and not known):
                self._render_channel()  # the pending lines stay last
            elif m.seq > state.rendered_max:
                self.log_pane.write(format_line(m, self.me))
                state.rendered_max = m.seq
            elif not known or changed:
                self._rerender()
            self._schedule_read(m.channel)
        self._refresh_sidebar()

    def _got_reply(self, state: ChannelState, m: frames.MessageOut) -> None:
        """A reply kept in its thread: not a line of the channel (its root's
        summary line says it came); your own leaves the outbox. One that
        mentions you rings the bell."""
        if self.me is not None and m.author.username != self.me:
            self._maybe_ring(state, m)
        state.last_seq = max(state.last_seq, m.seq)
        if m.client_id is not None and state.outbox.pop(m.client_id, None) is not None:
            self._refresh_status()
            if m.channel == self.active:
                self._render_channel()

    def _got_update(self, m: frames.MessageOut, at: int | None = None) -> None:
        """A message changed (edited, deleted, reacted to) at seq `at`: its
        line shows its state now. One not held is left alone: history brings
        it as it is. A change is never unread; a delete takes its message off
        the unread count."""
        state = self.channels.get(m.channel)
        if state is None:
            return
        if self.me is None or m.author.username != self.me:
            before = (state.unread, state.mentions)
            state.changed(m, at, self.me)
            if (state.unread, state.mentions) != before:
                self._refresh_sidebar()
        held = state.messages.get(m.seq)
        if held is None or same_state(held, m):
            return
        state.messages[m.seq] = m
        if m.channel == self.active:
            self._rerender()

    def _rerender(self) -> None:
        """Draw the active channel again where it is scrolled to (a line
        cannot be replaced in place), following the end if it was there."""
        pane = self.log_pane
        at_end = pane.scroll_y >= pane.max_scroll_y
        y = pane.scroll_y
        self._render_channel(scroll_end=at_end)
        if not at_end:
            pane.scroll_to(y=y, animate=False)

    def _schedule_read(self, name: str) -> None:
        if name in self._read_scheduled:
            return
        self._read_scheduled.add(name)

        def fire() -> None:
            self._read_scheduled.discard(name)
            if self.active == name:
                self._mark_read(name)

        self.set_timer(0.2, fire)

    def _mark_read(self, name: str, force: bool = False) -> None:
        state = self.channels.get(name)
        if state is None or (state.last_read >= state.last_seq and not force):
            return
        state.last_read = max(state.last_read, state.last_seq)
        seq = state.last_seq
        if self.client.connected:  # otherwise: done again after reconnecting
            self._spawn(self._quietly(self.client.mark_read(name, seq)))

    @staticmethod
    async def _quietly(coro: Awaitable[None]) -> None:
        """Best-effort frames (read cursor, typing): a dropped connection is not
        worth a message; they are sent again once reconnected."""
        try:
            await coro
        except HubbubError as exc:
            if exc.code not in RETRYABLE:
                raise

    # --- events from the server -------------------------------------------------------

    def handle_server_event(self, event: frames.ServerFrame) -> None:
        if isinstance(event, frames.Message):
            self._got_message(event)
        elif isinstance(event, frames.MessageUpdated):
            self._got_update(event.message, event.seq)
        elif isinstance(event, frames.TypingEvent):
            if event.user != self.me:
                ttl = self.client.hello.limits.typing_ttl if self.client.hello else 6.0
                self.typing.setdefault(event.channel, {})[event.user] = time.monotonic() + ttl
                self._refresh_status()
        elif isinstance(event, frames.PresenceEvent):
            self.presence[event.user] = event.status
            self._refresh_sidebar()
            self._refresh_status()
        elif isinstance(event, frames.ReadEvent):
            state = self.channels.get(event.channel)
            if state is not None:
                state.last_read = max(state.last_read, event.seq)
                self._cursor_moved(event.channel)
                self._refresh_sidebar()
        elif isinstance(event, frames.ChannelEvent):
            body = event.channel.model_dump()
            if event.type == "channel_joined":
                if body["name"] not in self.channels:
                    self._add_channel(body)
                    self._spawn(self._follow(body["name"]))
                    self._refresh_sidebar()
            else:
                name = body["name"]
                if name in self.channels:
                    self._drop_channel(name)
                # The server already stopped the subscription; tell the SDK
                # too, so it does not re-subscribe after a reconnect.
                self._spawn(self._forget(name))
        elif isinstance(event, frames.ChannelUpdated):
            if event.renamed_from:
                self._renamed(event.renamed_from, event.channel.name)
            state = self.channels.get(event.channel.name)
            if state is not None:
                old = state.topic
                state.update(event.channel.model_dump())
                if event.channel.name == self.active and state.topic != old:
                    self.system(f"topic: {state.topic}" if state.topic else "topic cleared")
                    self._show_topic()
        elif isinstance(event, frames.MemberEvent):
            if event.channel == self.active:
                verb = "joined" if event.type == "member_joined" else "left"
                self.system(f"{event.user} {verb} {self.label(event.channel)}")
        elif isinstance(event, frames.Subscribed):
            self._resubscribed(event)
        elif isinstance(event, frames.NotificationsEvent):  # on any device of yours
            self._settings_from(event)
        elif isinstance(event, frames.ChannelNotificationsEvent):
            state = self.channels.get(event.channel)
            if state is not None:
                state.update({"notify": event.level, "muted": event.muted})
                self._refresh_sidebar()
        elif isinstance(event, frames.EphemeralEvent):  # a command's later answer
            for text_line in event.text.splitlines():
                self.system(f"{event.command} in {self.label(event.channel)}: {text_line}")
        elif isinstance(event, frames.Error):
            self.show_error(f"{event.message} ({event.code})")

    async def _follow(self, name: str) -> None:
        await self._subscribe(name)
        # A channel event carries no counts: take the server's (joining read
        # what was there before), now that new messages come live.
        await self._refresh_counts(name)
        if self.channels.get(name) is not None and self.channels[name].is_dm:
            await self._watch_presence()
        if self.active is None:
            self.open_channel(name)

    async def _forget(self, name: str) -> None:
        if name in self.client.subscriptions and name not in self.channels:
            with contextlib.suppress(HubbubError):
                await self.client.unsubscribe(name)

    def _resubscribed(self, event: frames.Subscribed) -> None:
        state = self.channels.get(event.channel)
        if state is None:
            return
        state.last_seq = max(state.last_seq, event.last_seq)
        if not event.recovered:
            # Too far behind for a replay: drop what we hold and page it again.
            self._back_to_newest(state)
            if event.channel == self.active:
                self.system("(reconnected too far behind: reloading)")
                self.open_channel(event.channel)
        self._refresh_sidebar()

    async def _watch_presence(self, force: bool = False) -> None:
        partners = sorted(
            {p for n, s in self.channels.items() if s.is_dm for p in self.dm_partners(n)}
            - {self.me}
        )
        if partners == self._watched and not force:
            return
        self._watched = partners
        if not partners and not force:
            return
        self.presence.update(await self.client.watch_presence(partners))
        self._refresh_sidebar()
        self._refresh_status()

    # --- status ------------------------------------------------------------------------

    def _refresh_status(self) -> None:
        text = Text()
        if self.fatal is not None:
            text.append(f"disconnected: {self.fatal.message}", "bold red")
        elif self.client.connected and self.me is not None:
            text.append(f"connected as {self.me}", "green")
        elif self.me is None:
            text.append("connecting…", "yellow")
        else:
            text.append("reconnecting…", "bold yellow")
        if dnd_active(self.notify_settings, int(time.time() * 1000)):
            text.append(" │ do not disturb", "dim")
        if self.unsent:
            text.append(f" │ {self.unsent} unsent", "yellow")
        failed = sum(o.failed for s in self.channels.values() for o in s.outbox.values())
        if failed:
            text.append(f" │ {failed} not sent (/retry)", "bold red")
        typers = sorted(self.typing.get(self.active or "", {}))
        if typers:
            if len(typers) == 1:
                who = f"{typers[0]} is typing…"
            elif len(typers) <= 3:
                who = f"{', '.join(typers[:-1])} and {typers[-1]} are typing…"
            else:
                who = "several people are typing…"
            text.append(" │ " + who, "italic")
        if self._watched:
            shown = [f"{p} {self.presence.get(p, 'offline')}" for p in self._watched[:6]]
            more = len(self._watched) - len(shown)
            text.append(" │ " + ", ".join(shown) + (f" +{more}" if more > 0 else ""), "dim")
        if self.notice is not None:
            text.append(" │ " + self.notice[0], "red")
        try:
            status = self.query_one("#status", Static)
        except NoMatches:  # closing: workers and timers outlive the widgets by a moment
            return
        if str(status.content) != text.plain:
            status.update(text)

    def system(self, line: str) -> None:
        """A line of the app's own (help, /who, notices) in the message pane."""
        self._note(Text(line, "italic cyan"))

    def _note(self, line: Text) -> None:
        state = self.channels.get(self.active) if self.active else None
        if state is not None:
            state.notes = [*state.notes[-199:], (max(state.last_seq, state.rendered_max), line)]
        self.log_pane.write(line)

    def show_error(self, err: HubbubError | str) -> None:
        if isinstance(err, HubbubError):
            hint = (
                " (run `hubbub login` again)"
                if err.code in ("auth_failed", "token_expired", "token_invalid")
                else ""
            )
            msg = f"{err.message} ({err.code}){hint}"
        else:
            msg = err
        self.notice = (msg, time.monotonic() + 10)
        with contextlib.suppress(Exception):  # e.g. while shutting down
            self._note(Text("! " + msg, "bold red"))
            self._refresh_status()

    # --- input ---------------------------------------------------------------------------

    def on_input_changed(self, event: Input.Changed) -> None:
        value = event.value
        name = self.active
        if not value or value.startswith("/") or name is None:
            return
        if not self.client.connected:
            return
        now = time.monotonic()
        if now - self._typing_sent.get(name, 0.0) < 3.0:
            return
        self._typing_sent[name] = now
        self._spawn(self._quietly(self.client.typing(name)))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        line = event.value
        self.input.value = ""
        if line.strip():
            self._inbox.put_nowait(line)

    async def handle_line(self, line: str) -> None:
        # A new action: the notice about the previous one is out of date.
        self.notice = None
        self._refresh_status()
        if line.startswith("//"):
            self._send(line[1:])
        elif line.startswith("/"):
            cmd, _, rest = line[1:].partition(" ")
            handler = self.SLASH_COMMANDS.get(cmd.lower())
            if handler is None:  # the server's: /shrug, /invite, custom ones
                await self.cmd_on_server(line)
                return
            await handler(self, rest.strip())
        else:
            self._send(line)

    def _send(self, text: str) -> None:
        name = self.active
        state = self.channels.get(name) if name else None
        if name is None or state is None:
            self.show_error("no channel open: /join #name first")
            return
        self._typing_sent.pop(name, None)
        if state.detached:  # what you send shows under the newest messages
            self._back_to_newest(state)
            self._spawn(self._load_latest(name))
        out = Outgoing(client_id=uuid.uuid4().hex, text=text)
        state.outbox[out.client_id] = out
        if self.active == name:
            self.log_pane.write(format_outgoing(out, self.me or "you"))
        self._transmit(name, out)

    def _transmit(self, name: str, out: Outgoing) -> None:
        """Send `out` (again: same client_id, so stored once) and follow it to
        its ack, or to a failure shown on its line."""
        self.unsent += 1
        self._refresh_status()

        async def go() -> None:
            try:
                m = await self.client.send(name, out.text, client_id=out.client_id)
            except HubbubError as exc:
                self._failed(name, out, exc)
            except Exception as exc:  # a bug: still say so on the message's line
                self._failed(name, out, HubbubError("error", f"unexpected error: {exc!r}"))
            else:
                self._got_message(m)
            finally:
                self.unsent -= 1
                self._refresh_status()

        self._spawn(go())

    def _failed(self, name: str, out: Outgoing, exc: HubbubError) -> None:
        state = self.channels.get(name)
        if state is None or state.outbox.get(out.client_id) is not out:
            return
        reason = "no answer from the server" if exc.code == "timeout" else exc.message
        out.error = f"{reason} ({exc.code})"
        self.notice = (f"not sent to {self.label(name)}: {out.error}", time.monotonic() + 10)
        if self.active == name:
            self._render_channel()
        self._refresh_status()

    def _need_active(self) -> str:
        if self.active is None:
            raise HubbubError("no_channel", "no channel open")
        return self.active

    def _target_name(self, target: Target) -> str:
        return target.name_for(self.me)

    def _named(self, rest: str) -> str:
        """The channel `rest` names (`#x`, `x`, `@user`), else the active one."""
        return self._target_name(parse_target(rest)) if rest else self._need_active()

    async def cmd_join(self, rest: str) -> None:
        if not rest:
            self.show_error("usage: /join #channel")
            return
        target = parse_target(rest if rest.startswith("@") else rest.split()[0])
        if target.channel is None:
            await self._adopt(await self.client.open_dm(list(target.users)))
        else:
            await self._adopt(await self.client.join(target.channel))

    async def cmd_leave(self, rest: str) -> None:
        name = self._named(rest.split()[0] if rest else "")
        await self.client.leave(name)
        if name in self.channels:
            self._drop_channel(name)
        await self._forget(name)

    async def cmd_create(self, rest: str) -> None:
        words = rest.split()
        private = "--private" in words
        names = [w for w in words if not w.startswith("--")]
        if len(names) != 1:
            self.show_error("usage: /create #channel [--private]")
            return
        name = names[0].strip().removeprefix("#")
        await self._adopt(await self.client.create_channel(name, private=private))

    async def cmd_dm(self, rest: str) -> None:
        users = [w.lstrip("@") for w in rest.replace(",", " ").split() if w.lstrip("@")]
        if not users:
            self.show_error("usage: /dm @user [@user...]")
            return
        await self._adopt(await self.client.open_dm(users))

    async def cmd_topic(self, rest: str) -> None:
        name = self._need_active()
        body = await self.client.set_topic(name, rest)
        state = self.channels.get(name)
        if state is not None:
            state.update(body)
            self._show_topic()

    async def cmd_purpose(self, rest: str) -> None:
        name = self._need_active()
        body = await self.client.update_channel(name, purpose=rest)
        self.system(f"purpose: {body['purpose']}" if body["purpose"] else "purpose cleared")

    async def cmd_rename(self, rest: str) -> None:
        new = rest.strip().removeprefix("#")
        if not new or " " in new:
            self.show_error("usage: /rename #new-name")
            return
        name = self._need_active()
        body = await self.client.update_channel(name, name=new)
        self._renamed(name, body["name"])

    async def cmd_archive(self, rest: str) -> None:
        name = self._need_active()
        await self.client.update_channel(name, archived=True)
        self.system(f"{self.label(name)} is archived: read-only (/unarchive to undo)")

    async def cmd_unarchive(self, rest: str) -> None:
        name = self._need_active()
        await self.client.update_channel(name, archived=False)
        self.system(f"{self.label(name)} takes messages again")

    async def cmd_kick(self, rest: str) -> None:
        users = [w.lstrip("@") for w in rest.split() if w.lstrip("@")]
        if len(users) != 1:
            self.show_error("usage: /kick @user")
            return
        name = self._need_active()
        await self.client.remove_member(name, users[0])
        self.system(f"removed {users[0]} from {self.label(name)}")

    async def cmd_status(self, rest: str) -> None:
        words = rest.split(maxsplit=1)
        emoji = ""
        if words and words[0].startswith(":") and words[0].endswith(":") and len(words[0]) > 2:
            emoji, rest = words[0], words[1] if len(words) > 1 else ""
        await self.client.update_profile(status=(emoji, rest.strip(), None))
        self.system(f"status: {emoji} {rest}".rstrip() if emoji or rest else "status cleared")

    async def cmd_who(self, rest: str) -> None:
        name = self._named(rest.split()[0] if rest else "")
        members = await self.client.members(name)
        self.system(f"members of {self.label(name)} ({len(members)}): {', '.join(members)}")

    async def cmd_me(self, rest: str) -> None:
        if not rest:
            self.show_error("usage: /me action")
            return
        self._send(me_text(self.me or "you", rest))

    # --- changing messages: /edit, /delete, /react ----------------------------------

    def _last_mine(self, state: ChannelState) -> frames.MessageOut | None:
        mine = [
            m for m in state.messages.values() if m.author.username == self.me and not m.deleted
        ]
        return max(mine, key=lambda m: m.seq, default=None)

    def _changed(self, changed: frames.Changed) -> None:
        self._got_update(changed.message, changed.seq)
        if changed.seq is None:
            self.system(f"(#{changed.message.seq} was already like that)")

    def _prefill_edit(self, m: frames.MessageOut) -> None:
        """Slack's Up arrow: the message's text in the input line, to change."""
        self.input.value = f"/edit {m.seq} {m.text}"
        self.input.cursor_position = len(self.input.value)

    async def cmd_edit(self, rest: str) -> None:
        name = self._need_active()
        state = self.channels[name]
        first, _, text = rest.partition(" ")
        seq = seq_of(first)
        if seq is None:  # "/edit new text": your last message
            last = self._last_mine(state)
            if last is None:
                self.show_error(f"no message of yours in {self.label(name)} to edit")
                return
            seq, text = last.seq, rest
        text = text.lstrip(" ")
        if not text:
            held = state.messages.get(seq)
            if held is None or held.deleted:
                self.show_error("usage: /edit N new text (N: the #N before the message)")
                return
            self._prefill_edit(held)
            return
        self._changed(await self.client.edit(name, seq, text))

    async def cmd_delete(self, rest: str) -> None:
        name = self._need_active()
        seq = seq_of(rest.split()[0]) if rest else None
        if seq is None:
            self.show_error("usage: /delete N (N: the #N before the message)")
            return
        self._changed(await self.client.delete(name, seq))

    async def cmd_react(self, rest: str) -> None:
        """`/react [N] emoji`: a toggle, as clicking a reaction in Slack is."""
        name = self._need_active()
        state = self.channels[name]
        words = rest.split()
        seq = seq_of(words[0]) if len(words) == 2 else None
        if len(words) == 1:
            newest = [s for s, m in state.messages.items() if not m.deleted]
            seq = max(newest, default=None)
        if seq is None or not words:
            self.show_error("usage: /react [N] :emoji: (N: the #N before the message)")
            return
        emoji = words[-1]
        held = state.messages.get(seq)
        mine = held is not None and any(
            r.emoji == emoji and self.me in r.users for r in held.reactions
        )
        if mine:
            changed = await self.client.unreact(name, seq, emoji)
        else:
            changed = await self.client.react(name, seq, emoji)
            if changed.seq is None:  # yours already, by another name (`:+1:` for 👍)
                changed = await self.client.unreact(name, seq, emoji)
        self._got_update(changed.message, changed.seq)

    # --- threads and pins ---------------------------------------------------------

    async def cmd_thread(self, rest: str) -> None:
        name = self._need_active()
        seq = seq_of(rest.split()[0]) if rest else None
        if seq is None:
            self.show_error("usage: /thread N (N: the #N before the message)")
            return
        root, replies, more = await self.client.thread(name, seq, limit=self.page_size)
        self._note(Text(f"— the thread of #{root.seq} —", "dim italic"))
        self._note(format_line(root, self.me))
        if more:
            self._note(Text(f"  (older replies: {root.reply_count - len(replies)} more)", "dim"))
        for m in reversed(replies):  # newest first in the page
            self._note(Text.assemble("  ", format_line(m, self.me)))
        self._note(Text(f"— /reply {root.seq} text to answer —", "dim italic"))
        if replies:
            await self.client.read_thread(name, root.seq, max(m.seq for m in replies))

    async def cmd_upload(self, rest: str) -> None:
        name = self._need_active()
        try:
            words = shlex.split(rest)
        except ValueError as exc:
            self.show_error(f"/upload: {exc}")
            return
        if not words:
            self.show_error("usage: /upload PATH [text]")
            return
        path, size = local_file(words[0])
        if size is None:
            self.show_error(f"/upload: no such file: {path}")
            return
        self.system(f"uploading {path.name} ({human_size(size)})…")
        uploaded = await self.client.upload(name, path)
        m = await self.client.send(name, " ".join(words[1:]), files=[uploaded.id])
        self._got_message(m)

    async def cmd_download(self, rest: str) -> None:
        try:
            words = shlex.split(rest)
        except ValueError as exc:
            self.show_error(f"/download: {exc}")
            return
        if not words:
            self.show_error("usage: /download ID [PATH] (the id after /download under a file)")
            return
        dest, _ = local_file(words[1] if len(words) > 1 else ".")
        saved = await self.client.download(words[0], dest)
        self.system(f"saved {saved} ({human_size(local_file(str(saved))[1] or 0)})")

    async def cmd_reply(self, rest: str) -> None:
        name = self._need_active()
        words = rest.split(" ")
        broadcast = words[:1] == ["--channel"]
        if broadcast:
            words = words[1:]
        seq = seq_of(words[0]) if words else None
        text = " ".join(words[1:]).strip()
        if seq is None or not text:
            self.show_error("usage: /reply [--channel] N text (N: the #N before the message)")
            return
        reply = await self.client.send(name, text, thread_root=seq, broadcast=broadcast)
        self.system(f"replied in the thread of #{reply.thread_root} (#{reply.seq})")

    async def cmd_pin(self, rest: str, add: bool = True) -> None:
        name = self._need_active()
        state = self.channels[name]
        if rest:
            seq = seq_of(rest.split()[0])
        else:
            seq = max((s for s, m in state.messages.items() if not m.deleted), default=None)
        if seq is None:
            self.show_error(
                f"usage: /{'pin' if add else 'unpin'} [N] (N: the #N before the message)"
            )
            return
        changed = await (self.client.pin if add else self.client.unpin)(name, seq)
        self._changed(changed)

    async def cmd_unpin(self, rest: str) -> None:
        await self.cmd_pin(rest, add=False)

    async def cmd_pins(self, rest: str) -> None:
        name = self._need_active()
        pinned = await self.client.pins(name)
        if not pinned:
            self.system(f"nothing is pinned in {self.label(name)}")
            return
        self.system(f"pinned in {self.label(name)} ({len(pinned)}):")
        for m in pinned:
            self._note(Text.assemble("  ", format_line(m, self.me)))

    async def cmd_search(self, rest: str) -> None:
        if rest:
            self.search_query, offset = rest, 0
        elif self.next_result is not None:
            offset = self.next_result
        else:
            self.show_error("usage: /search QUERY (see /help); /search alone: more results")
            return
        found, self.next_result = await self.client.search(
            self.search_query, offset=offset, limit=self.page_size
        )
        if offset == 0:
            self.results = []
        self.results += found
        if not self.results:
            self.system(f"no messages found for {self.search_query}")
            return
        first = len(self.results) - len(found) + 1
        self.system(f"search: {self.search_query} ({first}-{len(self.results)}):")
        for n, r in enumerate(found, first):
            self._note(Text.assemble("  ", result_text(n, r)))
        more = "; /search alone: more" if self.next_result is not None else ""
        self.system(f"(/open N opens result N{more})")

    async def cmd_open(self, rest: str) -> None:
        n = seq_of(rest.split()[0]) if rest else None
        if n is None or not 1 <= n <= len(self.results):
            self.show_error(
                f"usage: /open N, N a result of the last /search (1-{len(self.results)})"
                if self.results
                else "/open N opens a result of /search: search first"
            )
            return
        m = self.results[n - 1].message
        state = self.channels.get(m.channel)
        if state is None:
            self.show_error(f"you are not in {self.label(m.channel)}: /join it to open this")
            return
        # A reply kept in its thread is not in the channel: open at its root.
        at = m.thread_root if in_thread_only(m) and m.thread_root is not None else m.seq
        await self.jump(m.channel, at)
        if at != m.seq:
            await self.cmd_thread(str(at))

    async def jump(self, name: str, seq: int) -> None:
        """Open channel `name` at message `seq`, marked: within what is held
        if it is there, else a window of history around it (detached)."""
        state = self.channels[name]
        held = (
            state.loaded
            and bool(state.messages)
            and min(state.messages) <= seq
            and (not state.detached or seq <= max(state.messages))
        )
        if not held:
            page, newer = await self.client.history(name, around=seq, limit=self.page_size)
            if self.channels.get(name) is not state:
                return
            self._back_to_newest(state)
            state.messages.update((m.seq, m) for m in page)
            state.loaded = True
            state.detached = newer
        state.marked = seq
        self._scroll_to_marked = True
        if self.active == name:
            self._render_channel()
        else:
            self.open_channel(name)

    async def cmd_latest(self, rest: str) -> None:
        name = self._need_active()
        state = self.channels[name]
        state.marked = None
        if state.detached:
            self._back_to_newest(state)
            await self._load_latest(name)
        else:
            self._render_channel()

    def action_edit_last(self) -> None:
        """Up in an empty input line: edit your last message (as in Slack)."""
        state = self.channels.get(self.active) if self.active else None
        if state is None or self.focused is not self.input or self.input.value:
            return
        last = self._last_mine(state)
        if last is not None:
            self._prefill_edit(last)

    async def cmd_retry(self, rest: str) -> None:
        name = self._need_active()
        failed = [o for o in self.channels[name].outbox.values() if o.failed]
        if not failed:
            self.system("(nothing to retry)")
            return
        for out in failed:
            out.error = None
            self._transmit(name, out)
        self._render_channel()
        self._refresh_status()

    async def cmd_discard(self, rest: str) -> None:
        name = self._need_active()
        state = self.channels[name]
        failed = [cid for cid, o in state.outbox.items() if o.failed]
        for cid in failed:
            del state.outbox[cid]
        self.system(f"(discarded {len(failed)} unsent message(s))")
        self._render_channel()
        self._refresh_status()

    async def cmd_more(self, rest: str) -> None:
        await self.load_older()

    async def cmd_help(self, rest: str) -> None:
        for line in HELP.splitlines():
            self.system(line)
        # The server runs the others (its built-ins and custom commands).
        theirs = [
            c
            for c in await self.client.available_commands()
            if c["command"].lstrip("/") not in self.SLASH_COMMANDS
        ]
        if theirs:
            self.system("On the server:")
            for c in theirs:
                self.system(f"  {c['usage']:<24} {c['description']}")

    async def cmd_on_server(self, line: str) -> None:
        """A command this app does not know: the server runs it in the active
        channel; its answer for you is shown here, never stored."""
        name = self.active
        if name is None:
            self.show_error("no channel open: /join #name first")
            return
        result = await self.client.command(name, line)
        if result.message is not None:
            self._got_message(result.message)
        for text_line in result.text.splitlines():
            self.system(text_line)

    async def cmd_quit(self, rest: str) -> None:
        self.exit()

    SLASH_COMMANDS: ClassVar[dict[str, Callable[[ChatApp, str], Awaitable[None]]]] = {
        "join": cmd_join,
        "leave": cmd_leave,
        "part": cmd_leave,
        "create": cmd_create,
        "dm": cmd_dm,
        "msg": cmd_dm,
        "topic": cmd_topic,
        "purpose": cmd_purpose,
        "rename": cmd_rename,
        "archive": cmd_archive,
        "unarchive": cmd_unarchive,
        "kick": cmd_kick,
        "remove": cmd_kick,
        "status": cmd_status,
        "who": cmd_who,
        "me": cmd_me,
        "edit": cmd_edit,
        "delete": cmd_delete,
        "react": cmd_react,
        "thread": cmd_thread,
        "reply": cmd_reply,
        "pin": cmd_pin,
        "unpin": cmd_unpin,
        "pins": cmd_pins,
        "search": cmd_search,
        "open": cmd_open,
        "latest": cmd_latest,
        "upload": cmd_upload,
        "download": cmd_download,
        "retry": cmd_retry,
        "discard": cmd_discard,
        "more": cmd_more,
        "help": cmd_help,
        "quit": cmd_quit,
        "exit": cmd_quit,
    }


async def run_chat(client: Client, channel: str | None = None) -> None:
    """`hubbub chat`: check the token and the connection first (so a bad token
    or an unreachable server is one clear line), then run the app."""
    await client.me()
    if channel is not None:
        # Open it (join a public channel, open a DM) before the app starts, so
        # a name that cannot be opened is one line and exit 1.
        channel = (await open_target(client, channel, join=True))["name"]
    await client.connect()
    app = ChatApp(client, channel=channel)
    await app.run_async()
    if app.fatal is not None:
        raise app.fatal
