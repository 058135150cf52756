"""Server settings: from CLI options and HUBBUB_* environment variables."""

from __future__ import annotations

import dataclasses
import ipaddress
import urllib.parse
from pathlib import Path

from hubbub.protocol.limits import GuestRooms, Limits, Registration


@dataclasses.dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("data")
    database_url: str | None = None  # default: SQLite in data_dir
    blob_url: str | None = None  # where uploaded files go; default: data_dir/files
    bus_url: str = "memory://"
    allow_guests: bool = False
    # Guests post only in existing public channels, or also create rooms.
    guest_rooms: GuestRooms = "existing"
    # Sign-up by invite once the owner has registered: a server reachable
    # from a network does not let strangers in unless told to (as Zulip and
    # Mattermost do). `open` for a public server, `closed` for one whose
    # accounts come from `hubbub admin`.
    registration: Registration = "invite"
    members_may_invite: bool = False  # or only admins create invite links
    allowed_origins: tuple[str, ...] = ()
    # The URLs browsers reach this server at (--public-url), e.g. behind a
    # proxy; none given: where it listens (see `public_origins`).
    public_urls: tuple[str, ...] = ()
    limits: Limits = dataclasses.field(default_factory=Limits)
    # Networks (CIDR) that outgoing requests may reach although not public.
    outbound_allow: tuple[str, ...] = ()
    # E-mail digests of unread mentions and DMs for offline users: sent only
    # with an SMTP server (docs/notifications.md), after `digest_delay` seconds.
    smtp_url: str | None = None
    smtp_from: str = "hubbub@localhost"
    digest_delay: float = 600.0
    log_level: str = "info"
    access_log: bool = False  # one line per HTTP request (--access-log)

    @property
    def store_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'hubbub.db'}"

    @property
    def blobs_url(self) -> str:
        # Quoted: a directory may have a `%` or `?` in its name.
        return self.blob_url or "file://" + urllib.parse.quote(str(self.data_dir / "files"))

    @property
    def public_origins(self) -> tuple[str, ...]:
        """The origins a browser page of this server has: the only ones (with
        --allowed-origin) that may open /ws. `port` must be the bound one
        (`hubbub serve --port 0` puts it here once the socket is bound)."""
        if self.public_urls:
            return tuple(dict.fromkeys(origin_of(url) for url in self.public_urls))
        return listening_origins(self.host, self.port)

    @property
    def public_url(self) -> str:
        """The first URL this server is reached at (for links it hands out,
        such as a slash command's response_url)."""
        return self.public_urls[0] if self.public_urls else self.public_origins[0]


_DEFAULT_PORTS = {"http": 80, "https": 443}
# Listening on every interface: a browser on this machine reaches it by these.
_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


def origin_of(url: str) -> str:
    """`HTTPS://Chat.Example.com:443/app/` -> `https://chat.example.com`: the
    URL's origin as a browser writes it in an Origin header (lower case, no
    default port, no path), so that one string comparison checks it."""
    parts = urllib.parse.urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        host, port = parts.hostname, parts.port
    except ValueError:  # a port that is no number, or out of range
        host = port = None
    if scheme not in _DEFAULT_PORTS or not host or "@" in parts.netloc:
        raise ValueError(f"{url!r} is not an http(s) URL like https://chat.example.com")
    if not host.isascii():
        host = host.encode("idna").decode("ascii")
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}" + ("" if port in (None, _DEFAULT_PORTS[scheme]) else f":{port}")


def listening_origins(host: str, port: int) -> tuple[str, ...]:
    """The default public origins of a server listening on `host`:`port`:
    http://HOST:PORT, plus `localhost` for 127.0.0.1 or ::1 (and 127.0.0.1 for
    `localhost`). On every interface (0.0.0.0, ::) the loopback names: a
    browser elsewhere uses a name this cannot know, so it needs --public-url."""
    bare = host.strip("[]").lower() or "0.0.0.0"  # "" binds every interface too
    try:
        ip = ipaddress.ip_address(bare)
    except ValueError:  # a name
        ip = None
    else:
        bare = str(ip)  # one spelling of each address
    names = [f"[{bare}]" if ":" in bare else bare]
    if bare == "localhost":
        names.append("127.0.0.1")  # what the server binds for it
    elif bare in ("127.0.0.1", "::1"):
        names.append("localhost")
    elif ip is not None and ip.is_unspecified:
        names.extend(_LOOPBACK_NAMES)
    return tuple(dict.fromkeys(origin_of(f"http://{name}:{port}") for name in names))


def parse_limits(pairs: list[str] | tuple[str, ...]) -> Limits:
    """`["messages_per_second=100", ...]` -> Limits, rejecting unknown names."""
    fields = {f.name: f for f in dataclasses.fields(Limits)}
    values: dict[str, float | int] = {}
    for pair in pairs:
        for item in filter(None, (p.strip() for p in pair.split(","))):
            name, sep, raw = item.partition("=")
            name = name.strip().replace("-", "_")
            if not sep or name not in fields:
                raise ValueError(f"unknown limit {name!r}; known: {', '.join(sorted(fields))}")
            kind = int if fields[name].type in ("int", int) else float
            values[name] = kind(raw)
    return Limits(**values)  # type: ignore[arg-type]
