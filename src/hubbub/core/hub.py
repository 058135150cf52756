"""The chat service every transport calls: accounts, channels, messages,
cursors, presence. It reaches storage and fan-out only through `Store` and
`Bus`, and owns no sockets."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from hubbub.core import auth, envelope, events, reactions, replay, roles, writer
from hubbub.core.accounts import Accounts, Identity
from hubbub.core.accounts import user_body as accounts_user_body
from hubbub.core.admin import Admin
from hubbub.core.checks import archived, check_channel_name, not_found
from hubbub.core.commands import Commands
from hubbub.core.custom_commands import CustomCommands
from hubbub.core.delivery import Deliveries
from hubbub.core.digest import DEFAULT_DELAY as DEFAULT_DIGEST_DELAY
from hubbub.core.digest import Digests
from hubbub.core.files import Files
from hubbub.core.hooks import Hooks
from hubbub.core.mentions import mentioned_names
from hubbub.core.models import (
    ARCHIVED,
    AppendRejected,
    Changed,
    ChangeRefused,
    Channel,
    Delete,
    Edit,
    FileInfo,
    FollowedThread,
    Membership,
    MessageChange,
    NewMessage,
    NewReply,
    Pin,
    React,
    Replied,
    StoredMessage,
    User,
)
from hubbub.core.notifications import Notifications
from hubbub.core.ports import (
    Blobs,
    Bus,
    BusError,
    Counters,
    Directory,
    Mailer,
    NameTaken,
    Outbound,
    Store,
    StoreError,
)
from hubbub.core.presence import LocalDirectory, Presence
from hubbub.core.ratelimit import (
    ClusterSendLimit,
    LocalCounters,
    LoginThrottle,
    RateLimiter,
    RegistrationThrottle,
)
from hubbub.core.replay import message_envelope
from hubbub.core.searcher import Searcher
from hubbub.core.tokens import Tokens
from hubbub.core.writer import ChangeJob, GroupCommitWriter
from hubbub.protocol.errors import ChatError, ErrorCode
from hubbub.protocol.limits import GUEST_ROOMS, REGISTRATIONS, GuestRooms, Limits, Registration
from hubbub.protocol.notify import ChannelPrefs
from hubbub.protocol.rules import (
    MAX_DISPLAY_NAME,
    MAX_DM_MEMBERS,
    MAX_REACTIONS,
    MAX_TOPIC,
)

log = logging.getLogger("hubbub.hub")

MAX_SEQ = 2**63 - 1  # the largest integer SQLite and Postgres BIGINT store
# How long `user_by_id` trusts what it read (a Lambda loads its connection's
# user for every frame): a role change reaches every container within it.
USER_CACHE = 1.0
MAX_THREAD_MENTIONS = 20  # names in one reply looked up as new followers
# The public channel every new account joins, as Slack's #general and
# Mattermost's Town Square: created by the first account that needs it.
DEFAULT_CHANNEL = "general"
# Channels listed per page of `channel_page` (public ones you are not in).
CHANNEL_PAGE = 100
MAX_CHANNEL_PAGE = 1000


CHANGE_REFUSED: dict[str, Callable[[int, str], ChatError]] = {
    "not_found": lambda seq, name: ChatError(
        ErrorCode.not_found, f"no message {seq} in {name!r}", field="seq"
    ),
    "forbidden": lambda seq, name: ChatError(
        ErrorCode.forbidden, "only its author can change a message", field="seq"
    ),
    "deleted": lambda seq, name: ChatError(
        ErrorCode.message_deleted, f"message {seq} in {name!r} was deleted", field="seq"
    ),
    "too_many_reactions": lambda seq, name: ChatError(
        ErrorCode.too_many_reactions,
        f"message {seq} has {MAX_REACTIONS} different reactions already",
        field="emoji",
    ),
}


REPLY_REFUSED: dict[str, Callable[[], ChatError]] = {
    "not_found": lambda: ChatError(
        ErrorCode.not_found, "no such message to reply to in this channel", field="thread_root"
    ),
    "deleted": lambda: ChatError(
        ErrorCode.message_deleted,
        "the thread's first message was deleted: it takes no new replies",
        field="thread_root",
    ),
}


def unavailable(exc: StoreError) -> ChatError:
    """The one translation of a storage failure into the error clients see
    (the REST app, both drivers and the hub's own reads use it)."""
    return ChatError(ErrorCode.unavailable, f"storage unavailable: {exc}")


class Hub:
    def __init__(
        self,
        store: Store,
        bus: Bus,
        limits: Limits,
        *,
        allow_guests: bool = False,
        guest_rooms: GuestRooms = "existing",
        directory: Directory | None = None,
        presence: Presence | None = None,
        clock: Callable[[], float] = time.time,
        counters: Counters | None = None,
        registration: Registration = "open",
        members_may_invite: bool = False,
        blobs: Blobs | None = None,
        outbound: Outbound | None = None,
        public_url: str = "http://127.0.0.1:8000",
        mailer: Mailer | None = None,
        digest_delay: float = DEFAULT_DIGEST_DELAY,
    ) -> None:
        self.store = store
        self.bus = bus
        self.limits = limits
        self.allow_guests = allow_guests
        if guest_rooms not in GUEST_ROOMS:
            raise ValueError(f"guest_rooms must be one of {', '.join(GUEST_ROOMS)}")
        self.guest_rooms: GuestRooms = guest_rooms
        if registration not in REGISTRATIONS:
            raise ValueError(f"registration must be one of {', '.join(REGISTRATIONS)}")
        self.registration: Registration = registration
        self.members_may_invite = members_may_invite
        self.clock = clock
        self.secret = ""
        self.presence = presence or Presence()  # this node's connections
        self.directory = directory or LocalDirectory()  # the whole cluster's
        self._presence_task: asyncio.Task[None] | None = None
        # Throttle counts: the cluster's (Redis) or this process's.
        self.counters = counters or LocalCounters(clock)
        self.login_throttle = LoginThrottle(self.counters, limits, clock)
        self.registration_throttle = RegistrationThrottle(self.counters, limits, clock)
        self.send_limiter = RateLimiter(limits.messages_per_second, limits.message_burst)
        # With shared counters (Redis), the limit holds for the cluster too.
        self.cluster_limit = (
            None
            if isinstance(self.counters, LocalCounters)
            else ClusterSendLimit(
                self.counters, limits.messages_per_second, limits.message_burst, clock
            )
        )
        self._limit_task: asyncio.Task[None] | None = None
        # Per node, as the send limiter; guests creating rooms share one key.
        self.channel_limiter = RateLimiter(
            max(limits.channels_per_hour, 1e-9) / 3600, limits.channels_per_hour
        )
        self.writer = GroupCommitWriter(
            store, self._publish_messages, self._publish_change, self._publish_reply
        )
        self._users: dict[int, tuple[float, User]] = {}
        self.accounts = Accounts(self)  # sessions, invites, one's own account
        self.admin = Admin(self)  # roles, deactivation, channels, the audit log
        self.tokens = Tokens(self)  # API tokens and bots
        self.hooks = Hooks(self)  # incoming and outgoing webhooks
        # Outgoing webhooks' deliveries: started by the server (`start`), a
        # scheduled function's `sweep` on Lambda.
        self.deliveries = Deliveries(self)
        self.hooks = Hooks(self)  # incoming webhooks
        self.notifications = Notifications(self)  # preferences, do-not-disturb
        # E-mail digests for offline users: only with a mailer (--smtp-url).
        self.digests = None if mailer is None else Digests(self, mailer, digest_delay)
        # Slash commands: the built-ins, and custom ones calling out through
        # `outbound` (None: none can run). `public_url`: where this server is
        # reached, for the response_url a command's server is given.
        self.outbound = outbound
        self.public_url = public_url.rstrip("/")
        self.commands = Commands(self)
        self.custom_commands = CustomCommands(self)
        self.searcher = Searcher(self)  # full-text search of what one may read
        self.files = Files(self, blobs)  # uploads and downloads (none without blobs)
        # Send-path caches (see _sendable): channel name -> id, which never
        # changes, and (channel id, user id) pairs known to be members.
        self._refs: dict[str, int] = {}
        self._members: set[tuple[int, int]] = set()

    async def start(self) -> None:
        await self.store.open()
        self.secret = await self.store.get_or_set_meta("jwt_secret", secrets.token_urlsafe(48))
        self.writer.start()
        await self.files.start()
        if self.cluster_limit is not None:
            self._limit_task = asyncio.create_task(self.cluster_limit.run())
        if self.directory.expires:
            self._presence_task = asyncio.create_task(self._presence_heartbeat())
        if self.digests is not None:
            self.digests.start()

    async def stop(self) -> None:
        if self.digests is not None:
            await self.digests.stop()
        for task in (self._presence_task, self._limit_task):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        await self.writer.stop()
        await self.files.stop()
        await self.directory.close()
        await self.counters.close()
        await self.store.close()

    # --- events -----------------------------------------------------------

    async def publish(self, topic: str, frame: dict[str, Any], *, ref: str = "") -> None:
        # The bus is a hint: what was committed stays committed, and clients
        # that missed the event catch up from the store when they resume.
        try:
            await self.bus.publish(topic, envelope.pack([envelope.wrap(frame, ref=ref)]))
        except BusError as exc:
            log.warning("event for %s not published: %s", topic, exc)

    async def _publish_messages(self, stored: list[StoredMessage]) -> None:
        """One bus message per channel per committed batch: its events in seq
        order; all of them in one call, so a batch over many channels is one
        round trip."""
        by_channel: dict[int, list[envelope.Envelope]] = {}
        for m in stored:
            by_channel.setdefault(m.channel_id, []).append(message_envelope(m))
        if not by_channel:
            return
        self.deliveries.wake(by_channel)
        try:
            await self.bus.publish_many(
                [
                    (events.channel_topic(channel_id), envelope.pack(envs))
                    for channel_id, envs in by_channel.items()
                ]
            )
        except BusError as exc:
            log.warning("messages for %d channels not published: %s", len(by_channel), exc)

    async def _publish_change(self, changed: Changed) -> None:
        assert changed.seq is not None
        env = replay.update_envelope(changed.seq, changed.message)
        topic = events.channel_topic(changed.message.channel_id)
        try:
            await self.bus.publish(topic, envelope.pack([env]))
        except BusError as exc:
            log.warning("a change in %s not published: %s", changed.message.channel, exc)

    async def _publish_reply(self, replied: Replied) -> None:
        """The reply and its root's change, one after the other, as one publish."""
        assert replied.root_seq is not None
        envs = [
            message_envelope(replied.reply),
            replay.update_envelope(replied.root_seq, replied.root),
        ]
        topic = events.channel_topic(replied.reply.channel_id)
        self.deliveries.wake((replied.reply.channel_id,))
        try:
            await self.bus.publish(topic, envelope.pack(envs))
        except BusError as exc:
            log.warning("a reply in %s not published: %s", replied.reply.channel, exc)

    # --- accounts -----------------------------------------------------------

    async def register(
        self,
        username: str,
        password: str,
        display_name: str | None = None,
        *,
        address: str = "",
        device: str = "",
        invite: str | None = None,
    ) -> tuple[User, str]:
        """Create an account and its first session; the token. `address`: the
        client's, for the registration throttle. Who may register is
        `registration`'s (an `invite` code lets anyone in where it is not
        `closed`); the first account of a server always may, and is its owner."""
        auth.check_username(username)
        auth.check_password(password)
        wait = await self.registration_throttle.attempt(address)
        if wait > 0:
            raise ChatError(
                ErrorCode.registration_throttled, "too many registrations", retry_after=wait
            )
        first = not await self.store.users_with_role("owner")
        if first:
            # The first account is the owner's, whatever the mode: of
            # concurrent first registrations one claims it, the others are
            # registrations like any (refused where sign-up is not open).
            # Claimed before the account exists, so a loser creates none.
            first = await self.store.get_or_set_meta("owner", username) == username
        if not first and self.registration == "closed":
            raise ChatError(ErrorCode.registration_closed, "this server takes no sign-ups")
        if not first and self.registration == "invite" and not invite:
            raise ChatError(
                ErrorCode.registration_closed, "sign-up is by invite: ask an admin for a link"
            )
        used = None
        if invite:
            used = await self.store.use_invite(auth.code_hash(invite), int(self.clock() * 1000))
            if used is None:
                raise ChatError(
                    ErrorCode.invite_invalid, "this invite is expired, used up or unknown"
                )
        display = (display_name or username).strip()[:MAX_DISPLAY_NAME] or username
        hashed = await asyncio.to_thread(auth.hash_password, password)
        try:
            user = await self.store.create_user(
                username, display, hashed, used.role if used else "member"
            )
        except NameTaken:
            if used is not None:
                await self.store.unuse_invite(used.code_hash)
            raise ChatError(ErrorCode.conflict, f"username {username!r} is taken") from None
        if first:
            await self.store.set_role(user.id, "owner")
            user = dataclasses.replace(user, role="owner")
        await self.join_new(user, used.channels if used else ())
        token, _ = await self.accounts.start_session(user, address=address, device=device)
        return user, token

    async def join_new(self, user: User, invited: Sequence[str]) -> None:
        """Put a new account in the channels its invite names and, unless it
        is a guest's, in the default ones. Best effort: the account exists
        either way, so a storage failure here is logged, not answered."""
        try:
            names = list(invited)
            if user.role != "guest":
                names += [c.name for c in await self._default_channels()]
            for name in dict.fromkeys(names):
                channel = await self.store.get_channel(name)
                if channel is None or channel.archived or channel.kind == "dm":
                    continue
                if await self.store.add_member(channel.id, user.id):
                    await self._joined(await self._refreshed(channel), user)
        except StoreError as exc:
            log.warning("%s not put in the default channels: %s", user.username, exc)

    async def _default_channels(self) -> list[Channel]:
        """The channels new accounts join: those marked default; if none is
        and no channel is named `DEFAULT_CHANNEL`, that one, created by the
        first account that needs it (not counted against `channels_per_hour`:
        nobody asked for it) and marked default. One of that name that is no
        default (an admin unmarked it, or it is private) is left alone."""
        found = await self.store.default_channels()
        if found:
            return [c for c in found if c.kind == "public" and not c.archived]
        channel = await self.store.get_channel(DEFAULT_CHANNEL)
        if channel is not None:  # just created by another registration, or no default
            usable = channel.default and channel.kind == "public" and not channel.archived
            return [channel] if usable else []
        try:
            channel = await self.store.create_channel(
                DEFAULT_CHANNEL, "public", "", [], default=True
            )
        except NameTaken:  # created concurrently by another registration
            return await self.store.default_channels()
        return [channel]

    async def check_password(self, username: str, password: str, *, address: str = "") -> User:
        """The account if `password` is its own, throttled per address and
        account (see LoginThrottle), so others' failures do not lock you out."""
        wait = await self.login_throttle.attempt(address, username)
        if wait > 0:
            raise ChatError(ErrorCode.login_throttled, "too many failed logins", retry_after=wait)
        user = await self.store.get_user_by_name(username)
        hashed = user.password_hash if user else auth.DUMMY_HASH
        ok = await asyncio.to_thread(auth.verify_password, hashed, password)
        if user is None or not ok:
            raise ChatError(ErrorCode.bad_credentials, "wrong username or password")
        await self.login_throttle.succeeded(address, username)
        return user

    async def login(
        self, username: str, password: str, *, address: str = "", device: str = ""
    ) -> tuple[User, str]:
        """Start a session; the token. `address`: the client's (throttling, and
        the session list), `device`: its User-Agent."""
        user = await self.check_password(username, password, address=address)
        if not user.active:
            raise ChatError(ErrorCode.account_deactivated, "this account was deactivated")
        if auth.needs_rehash(user.password_hash):
            await self.store.update_password_hash(
                user.id, await asyncio.to_thread(auth.hash_password, password)
            )
        token, _ = await self.accounts.start_session(user, address=address, device=device)
        return user, token

    def read_token(self, token: str) -> auth.Claims:
        """Check a token's signature and expiry (no I/O)."""
        return auth.read_token(self.secret, token)

    async def authenticate(self, token: str, *, address: str = "") -> Identity:
        """The account and session of a token, if both stand."""
        return await self.accounts.identify(self.read_token(token), address=address)

    async def user_by_id(self, user_id: int) -> User:
        mono = time.monotonic()
        cached = self._users.get(user_id)
        if cached is not None and cached[0] > mono:
            return cached[1]
        user = await self.store.get_user(user_id)
        if user is None:  # a token for a deleted user, or from another database
            raise ChatError(ErrorCode.token_invalid, "invalid token")
        if len(self._users) > 100_000:
            self._users.clear()
        self._users[user_id] = (mono + USER_CACHE, user)
        return user

    async def fresh(self, user: User) -> User:
        """The user as stored now (for a permission check: `user` may have been
        read before their role changed); refused if deactivated."""
        now = await self.store.get_user(user.id)
        if now is None:
            raise ChatError(ErrorCode.token_invalid, "invalid token")
        if not now.active:
            raise ChatError(ErrorCode.account_deactivated, "this account was deactivated")
        return now

    async def user_changed(self, user: User) -> None:
        """Tell who watches the user (and their own connections) what they are
        now: name, role, status, active."""
        self._users.pop(user.id, None)
        self.accounts.forget_user(user.id)
        body = {"type": "user_updated", "user": self.user_body(user)}
        await self.publish(events.presence_topic(user.id), body)
        await self.publish(events.user_topic(user.id), body)

    def user_body(self, user: User) -> dict[str, Any]:
        return accounts_user_body(user, int(self.clock() * 1000))

    async def user_by_name(self, username: str) -> User:
        user = await self.store.get_user_by_name(username)
        if user is None:
            raise ChatError(ErrorCode.not_found, f"no user {username!r}", field="username")
        return user

    # --- channels -------------------------------------------------------------

    async def channel_for(self, user: User | None, name: str) -> tuple[Channel, Membership | None]:
        """The channel if `user` may see it, with their membership. Private
        channels and DMs are not found for non-members, nor, for guests,
        public channels they are not in. `name` may be a former name of the
        channel (see Store.rename_channel)."""
        channel = await self.store.get_channel(name)
        if channel is None:
            raise not_found(name)
        membership = await self.store.membership(channel.id, user.id) if user else None
        if membership is None and (
            channel.kind != "public" or (user is not None and user.role == "guest")
        ):
            raise not_found(name)
        if membership is not None and user is not None:
            self._remember_member(channel, user)  # a subscriber's first send needs no query
        return channel, membership

    async def member_channel(self, user: User, name: str) -> Membership:
        _, membership = await self.channel_for(user, name)
        if membership is None:
            raise ChatError(ErrorCode.not_a_member, f"join #{name} first")
        return membership

    async def channel_page(
        self,
        user: User,
        *,
        after: str | None = None,
        limit: int = CHANNEL_PAGE,
        archived: bool = False,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of the channels the user can see, and the `after` of the next
        page (None: this is the last). The first page (`after` None) holds all
        of theirs (with read cursors, archived ones too), then the first
        `limit` public channels they are not in, by name; later pages hold
        public channels they are not in with names after `after`. Archived
        channels they are not in only with `archived`."""
        mine = await self.store.channels_for(user.id)
        out = []
        if after is None:
            prefs = await self.notifications.all_channels(user)
            for m in mine:
                out.append(await self.channel_view(user, m.channel, m, prefs))
        joined = {m.channel.id for m in mine}
        public = [] if user.role == "guest" else await self.store.public_channels()
        others = sorted(
            (
                c
                for c in public
                if c.id not in joined
                and (archived or not c.archived)
                and (after is None or c.name > after)
            ),
            key=lambda c: c.name,
        )
        for c in others[:limit]:
            out.append(await self.channel_view(user, c, None))
        return out, others[limit - 1].name if len(others) > limit else None

    async def channel_view(
        self,
        user: User,
        channel: Channel,
        membership: Membership | None,
        prefs: dict[int, ChannelPrefs] | None = None,
    ) -> dict[str, Any]:
        """A channel as `user` sees it: with their read cursor, and how many
        messages from others after it are unread and mention them. Messages,
        not seqs: edits and reactions take seqs too, and are never unread.
        With their notification level and mute (from `prefs`, the user's by
        channel id, read here when not given)."""
        body = events.channel_body(channel)
        unread = mentions = 0
        if membership is not None and channel.last_seq > membership.last_read:
            unread = await self.store.count_unread(channel.id, membership.last_read, user.id)
            if unread:
                mentions = await self.store.count_mentions(
                    channel.id, membership.last_read, user.username
                )
        body.update(
            is_member=membership is not None,
            is_admin=membership is not None and membership.admin,
            last_read=membership.last_read if membership else 0,
            unread=unread,
            mentions=mentions,
        )
        if membership is not None:
            if prefs is None:
                prefs = await self.notifications.all_channels(user)
            mine = prefs.get(channel.id, ChannelPrefs())
            body.update(notify=mine.level, muted=mine.muted)
        return body

    def check_channel_rate(self, creator: User | None) -> None:
        """Take one of `creator`'s `channels_per_hour` (guests share one)."""
        wait = self.channel_limiter.take(creator.id if creator else "guests", self.clock())
        if wait > 0:
            raise ChatError(
                ErrorCode.rate_limited,
                f"at most {self.limits.channels_per_hour} new channels per hour",
                retry_after=wait,
            )

    async def create_channel(
        self,
        user: User,
        name: str,
        *,
        private: bool = False,
        topic: str = "",
        purpose: str = "",
    ) -> Channel:
        """A new channel, its creator its first member and admin."""
        roles.require_not_guest(user, "create channels")
        check_channel_name(name)
        topic = self._check_topic(topic)
        purpose = self.admin.check_purpose(purpose)
        self.check_channel_rate(user)  # an attempt on a taken name counts too
        try:
            channel = await self.store.create_channel(
                name,
                "private" if private else "public",
                topic,
                [user.id],
                admin_ids=[user.id],
                purpose=purpose,
            )
        except NameTaken:
            raise ChatError(ErrorCode.conflict, f"channel {name!r} exists") from None
        await self._joined(channel, user)
        return channel

    async def ensure_room(self, name: str, creator: User | None) -> Channel:
        """A tutorial room: the public channel `name`, created on first use
        (within `channels_per_hour`). For a guest (`creator` None), only with
        `guest_rooms` "create": else a room that does not exist is not found."""
        check_channel_name(name)
        channel = await self.store.get_channel(name)
        if channel is None:
            if creator is None and self.guest_rooms != "create":
                raise not_found(name)
            if creator is not None and creator.role == "guest":
                raise not_found(name)  # guests create no channels, rooms included
            self.check_channel_rate(creator)
            try:
                channel = await self.store.create_channel(
                    name, "public", "", [creator.id] if creator else []
                )
            except NameTaken:
                channel = await self.store.get_channel(name)
                assert channel is not None
        return channel

    def _check_topic(self, topic: str) -> str:
        if len(topic) > MAX_TOPIC:
            raise ChatError(
                ErrorCode.invalid_input, f"topic is over {MAX_TOPIC} characters", field="topic"
            )
        return topic

    async def join(self, user: User, name: str) -> Channel:
        channel, membership = await self.channel_for(user, name)
        # channel_for found it, so a non-member's channel is public.
        if membership is None and channel.archived:
            raise archived(channel)
        if membership is None and await self.store.add_member(channel.id, user.id):
            channel = await self._refreshed(channel)
            await self._joined(channel, user)
        return channel

    async def leave(self, user: User, name: str) -> Channel:
        channel, membership = await self.channel_for(user, name)
        if membership is None:
            raise ChatError(ErrorCode.not_a_member, f"you are not in #{name}")
        if channel.kind == "dm":
            raise ChatError(ErrorCode.forbidden, "a DM cannot be left")
        self.forget_member(channel, user)
        if await self.store.remove_member(channel.id, user.id):
            channel = await self._refreshed(channel)
            await self.membership_changed(channel, user, joined=False)
        return channel

    async def invite(self, user: User, name: str, username: str) -> Channel:
        channel = (await self.member_channel(user, name)).channel
        if channel.kind == "dm":
            raise ChatError(ErrorCode.forbidden, "start a new DM to add people")
        if channel.archived:
            raise archived(channel)
        target = await self.user_by_name(username)
        if not target.active:
            raise ChatError(
                ErrorCode.invalid_input, f"{username} was deactivated", field="username"
            )
        if await self.store.add_member(channel.id, target.id):
            channel = await self._refreshed(channel)
            await self._joined(channel, target)
        return channel

    async def set_topic(self, user: User, name: str, topic: str) -> Channel:
        channel = (await self.member_channel(user, name)).channel
        if channel.archived:
            raise archived(channel)
        await self.store.update_channel(channel.id, topic=self._check_topic(topic))
        return await self.channel_updated(channel)

    async def channel_updated(self, channel: Channel, *, renamed_from: str = "") -> Channel:
        """Tell the channel's followers what it is now; the channel now."""
        channel = await self.store.get_channel_by_id(channel.id) or channel
        frame: dict[str, Any] = {"type": "channel_updated", "channel": events.channel_body(channel)}
        if renamed_from:
            frame["renamed_from"] = renamed_from
        await self.publish(events.channel_topic(channel.id), frame)
        return channel

    async def open_dm(self, user: User, usernames: Sequence[str]) -> Channel:
        names = sorted({user.username, *usernames})
        if len(names) > MAX_DM_MEMBERS:
            raise ChatError(
                ErrorCode.invalid_input,
                f"a DM has at most {MAX_DM_MEMBERS} people",
                field="usernames",
            )
        members = [await self.user_by_name(n) for n in names]
        name = "dm:" + ",".join(names)
        channel = await self.store.get_channel(name)
        if channel is not None:
            return channel
        try:
            channel = await self.store.create_channel(name, "dm", "", [m.id for m in members])
        except NameTaken:  # opened concurrently by someone else
            found = await self.store.get_channel(name)
            assert found is not None
            return found
        for m in members:
            await self.publish(
                events.user_topic(m.id),
                {"type": "channel_joined", "channel": events.channel_body(channel)},
            )
        return channel

    async def _refreshed(self, channel: Channel) -> Channel:
        return await self.store.get_channel_by_id(channel.id) or channel

    async def _joined(self, channel: Channel, user: User) -> None:
        await self.membership_changed(channel, user, joined=True)

    def forget_member(self, channel: Channel, user: User) -> None:
        """This node's send-path cache forgets the membership (others' learn
        it from the store's refusal)."""
        self._members.discard((channel.id, user.id))

    async def membership_changed(self, channel: Channel, user: User, *, joined: bool) -> None:
        """Tell the channel's followers, and the user's own connections."""
        change = "joined" if joined else "left"
        await self.publish(
            events.channel_topic(channel.id),
            {
                "type": f"member_{change}",
                "channel": channel.name,
                "user": user.username,
                "member_count": channel.member_count,
            },
        )
        # `ref`: a user's connections stop following the channel they left
        # before anything after this event reaches them (Engine.control).
        await self.publish(
            events.user_topic(user.id),
            {"type": f"channel_{change}", "channel": events.channel_body(channel)},
            ref="" if joined else events.channel_topic(channel.id),
        )

    # --- messages ---------------------------------------------------------------

    def check_text(self, text: str, *, with_files: bool = False) -> str:
        """`with_files`: a message with files may have no text."""
        empty_ok = with_files and not text
        if (not text.strip() and not empty_ok) or len(text) > self.limits.max_message_chars:
            raise ChatError(
                ErrorCode.message_too_long,
                f"text must be 1-{self.limits.max_message_chars} characters",
                field="text",
            )
        return text

    def check_rate(self, key: object) -> None:
        """Take one of `key`'s sends (a user id, or a guest's key): this node's
        bucket, and for a user the cluster's count (no I/O here)."""
        cluster = self.cluster_limit if isinstance(key, int) else None
        user_id = key if isinstance(key, int) else 0
        wait = cluster.refused(user_id) if cluster is not None else 0.0
        if wait <= 0:
            wait = self.send_limiter.take(key, self.clock())
        if wait > 0:
            raise ChatError(ErrorCode.rate_limited, "slow down", retry_after=wait)
        if cluster is not None:
            cluster.sent(user_id)

    async def send(
        self,
        user: User,
        name: str,
        text: str,
        client_id: str | None,
        *,
        thread_root: int | None = None,
        broadcast: bool = False,
        files: Sequence[str] = (),
        shown_name: str | None = None,
    ) -> StoredMessage:
        """Store a message (see `queue_send`); returns once it is committed (the ack)."""
        fut = await self.queue_send(
            user,
            name,
            text,
            client_id,
            thread_root=thread_root,
            broadcast=broadcast,
            files=files,
            shown_name=shown_name,
        )
        await asyncio.wait([fut])
        return self.outcome(fut)

    async def queue_send(
        self,
        user: User,
        name: str,
        text: str,
        client_id: str | None,
        *,
        thread_root: int | None = None,
        broadcast: bool = False,
        files: Sequence[str] = (),
        shown_name: str | None = None,
    ) -> asyncio.Future[writer.Result]:
        """Check a send and queue it for the next group commit, without waiting
        for the commit: a connection can pipeline sends, and one commit then
        carries many. Pass the future to `outcome` when it is done. With
        `thread_root`, a reply in that message's thread (also shown in the
        channel with `broadcast`). `files`: ids of the sender's uploads to
        attach (claimed for this send: see Files.for_send). `shown_name`: the
        name shown instead of the sender's (an incoming webhook's override;
        not on thread replies)."""
        self.check_text(text, with_files=bool(files))
        self.check_rate(user.id)
        channel_id = await self._sendable(user, name)
        attached: tuple[FileInfo, ...] = ()
        if files:
            # Files name their message by its client_id: a send needs one.
            client_id = client_id or f"files-{uuid.uuid4().hex}"
            attached = await self.files.for_send(user, channel_id, client_id, files)
        if thread_root is None:
            return self._queue_message(channel_id, user.id, shown_name, text, client_id, attached)
        now = int(self.clock() * 1000)
        # Not the cache: a reply's transaction checks neither membership nor
        # archiving, so this read is what refuses a member who left (on any
        # node) or an archived channel. Replies are few beside messages.
        channel = (await self.member_channel(user, name)).channel
        if channel.archived:
            raise archived(channel)
        followers = await self._mentioned_members(channel_id, text)
        reply = NewReply(
            channel_id,
            min(thread_root, MAX_SEQ),
            user.id,
            text,
            client_id or f"reply-{uuid.uuid4().hex}",
            now,
            broadcast,
            followers,
            attached,
        )
        return self.writer.submit_reply(reply)

    async def _mentioned_members(self, channel_id: int, text: str) -> tuple[int, ...]:
        """The channel's members a reply mentions by name: they follow its
        thread from now on."""
        names = mentioned_names(text)
        if not names:
            return ()
        found = []
        for name in names[:MAX_THREAD_MENTIONS]:
            other = await self.store.get_user_by_name(name)
            if other is not None and await self.store.membership(channel_id, other.id):
                found.append(other.id)
        return tuple(found)

    def _queue_message(
        self,
        channel_id: int,
        author_id: int | None,
        shown_name: str | None,
        text: str,
        client_id: str | None,
        attached: tuple[FileInfo, ...] = (),
    ) -> asyncio.Future[writer.Result]:
        """A checked message into the next group commit (users' and guests' alike)."""
        now = int(self.clock() * 1000)
        return self.writer.submit_nowait(
            NewMessage(channel_id, author_id, shown_name, text, client_id, now, attached)
        )

    def queue_guest_send(
        self, channel: Channel, guest_name: str, text: str
    ) -> asyncio.Future[writer.Result]:
        """Check and queue an S1 tutorial guest's message, as `queue_send` a
        user's (pass the future to `outcome`). `channel`: the room as
        `session.tutorial.room` resolved it, or a tutorial connection's own
        room as its channel's `channel_updated` events left it."""
        self.check_text(text)
        if channel.archived:  # the append checks no membership or archiving for a guest
            raise archived(channel)
        return self._queue_message(channel.id, None, guest_name, text, None)

    def outcome(self, fut: asyncio.Future[writer.Result]) -> StoredMessage:
        """The stored message of a finished send (a reply's: the reply), or
        the ChatError it became."""
        try:
            result = fut.result()
        except StoreError as exc:
            raise unavailable(exc) from None
        if isinstance(result, AppendRejected):
            self._members.clear()  # a member left on another node: forget what we knew
            if result.reason == ARCHIVED.reason:
                raise ChatError(ErrorCode.channel_archived, "the channel is archived: read-only")
            raise ChatError(ErrorCode.not_a_member, "you are not a member of this channel")
        if isinstance(result, ChangeRefused):
            raise REPLY_REFUSED[result.reason]()
        if isinstance(result, Replied):
            return result.reply
        return result

    async def _sendable(self, user: User, name: str) -> int:
        """The channel id if `user` may post there. Hot path: positive answers
        are cached; the append transaction checks membership again, so a stale
        entry can never store a non-member's message."""
        ref = self._refs.get(name)
        if ref is not None and (ref, user.id) in self._members:
            return ref
        channel = (await self.member_channel(user, name)).channel
        if channel.archived:
            raise archived(channel)
        return channel.id

    def _remember_member(self, channel: Channel, user: User) -> None:
        if channel.archived:
            return  # a send must ask: the store refuses it anyway
        self._refs[channel.name] = channel.id
        if len(self._members) > 100_000:
            self._members.clear()
        self._members.add((channel.id, user.id))

    async def history(
        self,
        user: User | None,
        name: str,
        *,
        before: int | None = None,
        after: int | None = None,
        around: int | None = None,
        limit: int = 50,
    ) -> tuple[Channel, list[StoredMessage], bool]:
        """A page of history and whether there is more beyond it. Public
        channels can be previewed by non-members, as in Slack. With `around`
        (to open a channel at a search result; `before` and `after` are then
        ignored): up to `limit // 2` messages before seq `around` and the rest
        of the page from it on (the
        message itself first, unless it is a reply kept in its thread),
        oldest first; `has_more` then says whether there are newer messages
        beyond the page (as with `after`: page on with `after=` its last seq,
        back with `before=` its first)."""
        channel, _ = await self.channel_for(user, name)
        # No stored seq is above the 64-bit range databases use: clamp, don't overflow.
        before = None if before is None else min(before, MAX_SEQ)
        after = None if after is None else min(after, MAX_SEQ)
        try:
            older: list[StoredMessage] = []
            if around is not None:
                around = min(around, MAX_SEQ)
                if limit > 1:
                    older = await self.store.messages(channel.id, before=around, limit=limit // 2)
                    limit -= len(older)
                before, after = None, around - 1
            rows = await self.store.messages(
                channel.id, before=before, after=after, limit=limit + 1
            )
        except StoreError as exc:
            raise unavailable(exc) from None
        return channel, [*reversed(older), *rows[:limit]], len(rows) > limit

    async def missed(self, channel: Channel, since: int) -> tuple[list[envelope.Envelope], bool]:
        """What a client resuming at `since` missed, as events (core.replay),
        or ([], False) when more than `resume_limit` places of the log were
        missed and the client must page history itself."""
        limit = self.limits.resume_limit
        entries = await self.store.log_after(channel.id, since, limit + 1)
        if len(entries) > limit:
            return [], False
        return replay.catch_up(since, entries), True

    async def latest_seq(self, channel_id: int) -> int:
        return await self.store.last_seq(channel_id)

    async def events_after(self, channel_id: int, seq: int, limit: int) -> list[envelope.Envelope]:
        """The log after `seq` as events (a node filling a gap)."""
        return replay.catch_up(seq, await self.store.log_after(channel_id, seq, limit))

    async def edit(self, user: User, name: str, seq: int, text: str) -> Changed:
        """Change the text of the user's own message; returns once committed."""
        self.check_text(text)
        return await self._change(user, name, seq, Edit(text, int(self.clock() * 1000)))

    async def delete(self, user: User, name: str, seq: int) -> Changed:
        """Delete the user's own message (a tombstone), or, for a workspace
        admin, anyone's (recorded in the audit log); returns once committed."""
        at = int(self.clock() * 1000)
        try:
            return await self._change(user, name, seq, Delete(at))
        except ChatError as err:
            # Someone else's message, or (for an admin moderating) a public
            # channel they are not in.
            if err.code not in (ErrorCode.forbidden, ErrorCode.not_a_member):
                raise
            moderator = await self.fresh(user)
            if not roles.is_admin(moderator):
                raise
        changed = await self._change(moderator, name, seq, Delete(at, moderated=True), member=False)
        if changed.seq is not None:
            await self.admin.audit(
                moderator,
                "message.delete",
                f"#{changed.message.channel} {seq}",
                author=changed.message.author,
            )
        return changed

    async def react(self, user: User, name: str, seq: int, emoji: str, *, add: bool) -> Changed:
        """Add (or take back) the user's reaction to a message in a channel
        they are in; returns once committed."""
        change = React(reactions.normalize(emoji), add, int(self.clock() * 1000))
        return await self._change(user, name, seq, change)

    async def thread(
        self,
        user: User | None,
        name: str,
        root: int,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int = 50,
    ) -> tuple[Channel, StoredMessage, list[StoredMessage], bool]:
        """The thread of message `root` (a reply's seq finds its thread): the
        root in its state now and a page of replies, as `history` pages a
        channel, and whether there is more beyond it."""
        channel, _ = await self.channel_for(user, name)
        before = None if before is None else min(before, MAX_SEQ)
        after = None if after is None else min(after, MAX_SEQ)
        try:
            found = await self._message(channel, root)
            if found.thread_root is not None:
                found = await self._message(channel, found.thread_root)
            rows = await self.store.thread(
                channel.id, found.seq, before=before, after=after, limit=limit + 1
            )
        except StoreError as exc:
            raise unavailable(exc) from None
        return channel, found, rows[:limit], len(rows) > limit

    async def _message(self, channel: Channel, seq: int) -> StoredMessage:
        """Message `seq` of the channel in its state now, wherever it shows."""
        entries = await self.store.log_after(channel.id, min(seq, MAX_SEQ) - 1, 1)
        if not entries or entries[0].seq != seq or entries[0].is_change:
            raise ChatError(
                ErrorCode.not_found, f"no message {seq} in {channel.name!r}", field="seq"
            )
        return entries[0].message

    async def threads(self, user: User, limit: int = 50) -> list[FollowedThread]:
        """The threads the user follows, in channels they are still in, the
        latest reply first."""
        try:
            mine = {m.channel.id for m in await self.store.channels_for(user.id)}
            found = await self.store.followed_threads(user.id, limit)
        except StoreError as exc:
            raise unavailable(exc) from None
        return [t for t in found if t.root.channel_id in mine]

    async def read_thread(self, user: User, name: str, root: int, seq: int) -> int:
        """Move the user's cursor in a thread they follow (0: they don't)."""
        channel = (await self.member_channel(user, name)).channel
        cursor = await self.store.read_thread(
            channel.id, min(root, MAX_SEQ), user.id, min(seq, channel.last_seq)
        )
        if cursor is not None:
            await self.publish(
                events.user_topic(user.id),
                {
                    "type": "thread_read",
                    "channel": channel.name,
                    "thread_root": root,
                    "seq": cursor,
                },
            )
        return cursor or 0

    async def pin(self, user: User, name: str, seq: int, *, add: bool) -> Changed:
        """Pin (or unpin) a message of a channel the user is in; returns once
        committed."""
        return await self._change(user, name, seq, Pin(add, int(self.clock() * 1000)))

    async def pins(
        self, user: User | None, name: str, limit: int = 100
    ) -> tuple[Channel, list[StoredMessage]]:
        """The channel's pinned messages, newest pin first (readable by whoever
        may read its history)."""
        channel, _ = await self.channel_for(user, name)
        try:
            return channel, await self.store.pinned(channel.id, limit)
        except StoreError as exc:
            raise unavailable(exc) from None

    async def _change(
        self, user: User, name: str, seq: int, change: MessageChange, *, member: bool = True
    ) -> Changed:
        """`member`: the user must be in the channel (not so for a moderator
        in a public one)."""
        self.check_rate(user.id)
        if member:
            channel = (await self.member_channel(user, name)).channel
        else:
            channel, _ = await self.channel_for(user, name)
        if channel.archived:
            raise archived(channel)
        at = min(seq, MAX_SEQ)
        # A deleted message carries no files: which they were, read before.
        files = await self.files.attached(channel.id, at) if isinstance(change, Delete) else ()
        fut = self.writer.submit_change(ChangeJob(channel.id, at, user.id, change))
        await asyncio.wait([fut])
        try:
            result = fut.result()
        except StoreError as exc:
            raise unavailable(exc) from None
        if isinstance(result, ChangeRefused):
            raise CHANGE_REFUSED[result.reason](seq, name)
        if files and result.seq is not None:
            await self.files.release(files)  # their downloads are 404 from now on
        return result

    async def mark_read(self, user: User, name: str, seq: int) -> int:
        channel = (await self.member_channel(user, name)).channel
        cursor = await self.store.set_last_read(channel.id, user.id, min(seq, channel.last_seq))
        await self.publish(
            events.user_topic(user.id), {"type": "read", "channel": channel.name, "seq": cursor}
        )
        return cursor

    # --- presence and typing ------------------------------------------------------

    async def _announce(self, user: User, status: str) -> None:
        await self.publish(
            events.presence_topic(user.id),
            {"type": "presence", "user": user.username, "status": status},
        )

    async def connected(self, user: User) -> None:
        """Count a connection; announce the user online if it is their first
        anywhere in the cluster."""
        if self.presence.connect(user.id):
            await self._presence_changed(user, "online", self.directory.online)

    async def disconnected(self, user: User) -> None:
        """... and offline when it was their last one."""
        if self.presence.disconnect(user.id):
            await self._presence_changed(user, "offline", self.directory.offline)

    async def _presence_changed(
        self, user: User, status: str, record: Callable[[int], Awaitable[bool]]
    ) -> None:
        try:
            cluster_wide = await record(user.id)
        except BusError as exc:
            log.warning("presence not recorded: %s", exc)
            return
        if cluster_wide:
            await self._announce(user, status)

    async def online_among(self, user_ids: list[int]) -> set[int]:
        try:
            return await self.directory.online_among(user_ids)
        except BusError:  # degraded: this node's own knowledge
            return {uid for uid in user_ids if self.presence.is_online(uid)}

    async def _presence_heartbeat(self) -> None:
        """Keep this node's users alive in the directory, and announce users
        whose every node stopped heartbeating (died) as offline."""
        while True:
            await asyncio.sleep(self.limits.presence_ttl / 3)
            try:
                gone = await self.directory.heartbeat(self.presence.users())
            except BusError as exc:
                log.warning("presence heartbeat failed: %s", exc)
                continue
            for user_id in gone:
                with contextlib.suppress(ChatError):
                    await self._announce(await self.user_by_id(user_id), "offline")

    def may_connect(self, user: User) -> bool:
        return self.presence.connections(user.id) < self.limits.max_connections_per_user

    async def typing(self, user: User, channel: Channel) -> None:
        await self.publish(
            events.channel_topic(channel.id),
            {"type": "typing", "channel": channel.name, "user": user.username},
        )

    async def health(self) -> dict[str, str]:
        status = {}
        try:
            await self.store.ping()
            status["store"] = "ok"
        except StoreError as exc:
            status["store"] = f"error: {exc}"
        try:
            await self.bus.ping()
            status["bus"] = "ok"
        except Exception as exc:
            status["bus"] = f"error: {exc}"
        return status

    # --- the user directory --------------------------------------------------------

    async def search_users(
        self, query: str = "", *, after: str | None = None, limit: int
    ) -> tuple[list[User], str | None]:
        """A page of the user directory: users whose username or display name
        contains `query` in any case (everyone, for ""), by username, after
        `after`; and the `after` of the next page (None: this is the last)."""
        found = await self.store.search_users(query.strip(), after, limit + 1)
        page = found[:limit]
        return page, page[-1].username if len(found) > limit and page else None
