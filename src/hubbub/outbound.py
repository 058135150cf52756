"""Outgoing HTTP (core.ports.Outbound) for custom slash commands and
webhooks, guarded against server-side request forgery.

A URL someone registered is a way to make this server send requests, so:
only http and https; never a redirect (a public URL could bounce to an
internal one); and no loopback, private, link-local, multicast or reserved
address unless the operator allowed it (`--outbound-allow 127.0.0.1`,
`10.0.0.0/8`...). The address is checked where the connection is made, on
what the name resolved to for this very connection (httpcore's network
backend), so a name that resolves to a public address for the check and to
an internal one for the request (DNS rebinding) is still refused.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import urllib.parse
from collections.abc import Iterable, Sequence
from typing import Any

import httpcore

from hubbub.core.ports import OutboundAnswer, OutboundError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_allow(items: Iterable[str]) -> tuple[Network, ...]:
    """`--outbound-allow` values: addresses or CIDR networks, comma or space
    separated. Raise ValueError on anything else (a host name, say)."""
    out = []
    for item in items:
        for word in item.replace(",", " ").split():
            out.append(ipaddress.ip_network(word, strict=False))
    return tuple(out)


def _public(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return _public(address.ipv4_mapped)
    return address.is_global and not address.is_multicast


class _Guarded(httpcore.AsyncNetworkBackend):
    """Connects only to allowed addresses: resolves the name itself and
    connects to the address it checked."""

    def __init__(self, allowed: Sequence[Network]) -> None:
        self.allowed = allowed
        self.inner = httpcore.AnyIOBackend()

    def permits(self, address: Address) -> bool:
        return _public(address) or any(address in net for net in self.allowed)

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except OSError as exc:
            raise OutboundError(f"{host} does not resolve") from exc
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
        refused = [a for a in addresses if not self.permits(a)]
        if refused or not addresses:
            raise OutboundError(
                f"{host} is {refused[0] if refused else 'no address'}: a loopback, private or "
                "reserved address, which this server does not call (see --outbound-allow)"
            )
        return await self.inner.connect_tcp(
            str(addresses[0]), port, timeout, local_address, socket_options
        )

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        raise OutboundError("unix sockets are not called")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class HttpOutbound:
    def __init__(self, allow: Sequence[Network] = ()) -> None:
        self.backend = _Guarded(allow)
        self.pool = httpcore.AsyncConnectionPool(network_backend=self.backend, max_connections=50)

    def check(self, url: str) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise OutboundError("the URL must be http:// or https:// with a host")
        if parts.username or parts.password:
            raise OutboundError("the URL must not carry a user name or password")
        try:
            literal = ipaddress.ip_address(parts.hostname)
        except ValueError:
            return  # a name: checked on each connection
        if not self.backend.permits(literal):
            raise OutboundError(
                f"{literal} is a loopback, private or reserved address, which this server "
                "does not call (see --outbound-allow)"
            )

    async def post(
        self, url: str, body: bytes, headers: dict[str, str], *, timeout: float, max_bytes: int
    ) -> OutboundAnswer:
        self.check(url)
        try:
            async with asyncio.timeout(timeout):
                return await self._post(url, body, headers, timeout, max_bytes)
        except TimeoutError:
            raise OutboundError(f"no answer within {timeout:g} s") from None
        except httpcore.TimeoutException:
            raise OutboundError(f"no answer within {timeout:g} s") from None
        except (httpcore.ConnectError, httpcore.ReadError, httpcore.WriteError) as exc:
            raise OutboundError(f"could not reach it: {exc or type(exc).__name__}") from None
        except httpcore.ProtocolError as exc:
            raise OutboundError(f"it did not answer HTTP: {exc}") from None
        except httpcore.UnsupportedProtocol as exc:
            raise OutboundError(str(exc)) from None

    async def _post(
        self, url: str, body: bytes, headers: dict[str, str], timeout: float, max_bytes: int
    ) -> OutboundAnswer:
        sent = {"User-Agent": "hubbub", **headers, "Content-Length": str(len(body))}
        async with self.pool.stream(
            "POST",
            url,
            headers=list(sent.items()),
            content=body,
            extensions={"timeout": {"connect": timeout, "read": timeout, "write": timeout}},
        ) as response:
            if 300 <= response.status < 400:
                raise OutboundError(
                    f"it answered with a redirect ({response.status}), not followed"
                )
            got = bytearray()
            async for chunk in response.aiter_stream():
                got += chunk
                if len(got) > max_bytes:
                    raise OutboundError(f"its answer is over {max_bytes} bytes")
            content_type = ""
            for name, value in response.headers:
                if name.lower() == b"content-type":
                    content_type = value.decode("latin-1")
            return OutboundAnswer(response.status, content_type, bytes(got))

    async def close(self) -> None:
        await self.pool.aclose()
