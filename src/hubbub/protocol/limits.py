"""Server limits, each with a documented default (sent to clients in `hello`)."""

from __future__ import annotations

import dataclasses
from typing import Literal

# Where tutorial guests may post (`--guest-rooms`): only in public channels that
# exist, or also in rooms they create by naming them.
GuestRooms = Literal["existing", "create"]
GUEST_ROOMS: tuple[GuestRooms, ...] = ("existing", "create")
# Who may create an account (`--registration`): anyone, only someone with an
# invite, or no one (accounts come from `hubbub admin create-user`). Whatever
# the mode, the first account of a new server may register: it is the owner.
Registration = Literal["open", "invite", "closed"]
REGISTRATIONS: tuple[Registration, ...] = ("open", "invite", "closed")


@dataclasses.dataclass(frozen=True, slots=True)
class Limits:
    max_frame_bytes: int = 64 * 1024
    max_message_chars: int = 10_000
    messages_per_second: float = 10.0
    message_burst: int = 30
    max_connections_per_user: int = 20
    max_subscriptions: int = 1000
    # A reconnecting client missing more than this many messages in a channel
    # is told `recovered: false` and pages history instead.
    resume_limit: int = 1000
    heartbeat_interval: float = 30.0
    idle_timeout: float = 75.0
    auth_timeout: float = 10.0
    typing_ttl: float = 6.0
    # A node that dies without saying goodbye: its users count as offline
    # this long after its last presence heartbeat.
    presence_ttl: float = 30.0
    # Outbound bytes a connection may have queued before it is closed (4008).
    max_buffer_bytes: int = 1024 * 1024
    # The kernel's send buffer per connection (SO_SNDBUF; 0: the kernel's own).
    socket_send_buffer: int = 64 * 1024
    # Largest HTTP request body (JSON); file uploads have their own limit.
    max_body_bytes: int = 1024 * 1024
    # Largest file, and the most bytes of files one user may keep.
    max_file_bytes: int = 512 * 1024 * 1024
    file_quota_bytes: int = 10 * 1024 * 1024 * 1024
    max_files_per_message: int = 10
    token_ttl: float = 7 * 24 * 3600.0
    # Failed logins within login_window (from the first): per client address
    # and account, per address across accounts, per account from everywhere
    # (that one refuses only addresses that failed for it: see LoginThrottle).
    login_failures: int = 5
    login_failures_per_address: int = 50
    login_failures_per_account: int = 100
    login_window: float = 15 * 60.0
    # Registration attempts per client address per hour.
    registrations_per_hour: int = 30
    # An outgoing webhook's failed delivery is tried again after this many
    # seconds, doubling each time (at most an hour, with jitter), this many
    # attempts in all; then the message is a dead letter (after 2-4 hours).
    hook_retry_seconds: float = 1.0
    hook_attempts: int = 16
    # Channels (and tutorial rooms) one user may create: a burst of this many,
    # then one more every 3600/N s. Counted per node.
    channels_per_hour: int = 30

    def public(self) -> dict[str, float | int]:
        """The subset sent to clients in `hello`."""
        return {
            "max_frame_bytes": self.max_frame_bytes,
            "max_message_chars": self.max_message_chars,
            "messages_per_second": self.messages_per_second,
            "message_burst": self.message_burst,
            "max_connections_per_user": self.max_connections_per_user,
            "max_subscriptions": self.max_subscriptions,
            "resume_limit": self.resume_limit,
            "heartbeat_interval": self.heartbeat_interval,
            "idle_timeout": self.idle_timeout,
            "typing_ttl": self.typing_ttl,
            # So a client refuses a file that is too large before sending it.
            "max_file_bytes": self.max_file_bytes,
            "max_files_per_message": self.max_files_per_message,
        }
