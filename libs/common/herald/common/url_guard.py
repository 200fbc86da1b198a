"""SSRF guard for tenant webhook URLs: Herald must not be made to call its own network.

``check_url`` is pure (scheme, host, userinfo, an IP-literal host); ``resolve_and_check`` also
resolves the host name and refuses when *any* address is forbidden, so a name that points at
127.0.0.1 or the cloud metadata service (169.254.169.254) is refused like the literal.

Remaining gap (time of check to time of use): the HTTP client resolves the name again when it
connects, so a DNS server that answers a public address to us and a private one a moment later
(rebinding with a zero TTL) can still slip through. Checking right before each try narrows that
window to milliseconds; closing it needs connecting to the checked address itself (pinning it
with the Host header and SNI set to the name) or an egress proxy that enforces the same rules.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

SCHEMES = frozenset({"http", "https"})
METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class UnsafeUrl(ValueError):
    """A webhook URL Herald refuses to call; ``reason`` says why, for the operator."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class MalformedUrl(UnsafeUrl):
    """Not an http(s) URL Herald could call at all (scheme, host, user info, port)."""


def _kind(ip: IPAddress) -> str | None:
    """Why ``ip`` belongs to a private network ("a loopback address"), or None if public."""
    if ip in METADATA_ADDRESSES:
        return "the cloud metadata service"
    for kind, flag in (
        ("an unspecified address", ip.is_unspecified),
        ("a loopback address", ip.is_loopback),
        ("a link-local address", ip.is_link_local),
        ("a multicast address", ip.is_multicast),
        ("a reserved address", ip.is_reserved),
        ("a private address", ip.is_private),
    ):
        if flag:
            return kind
    return None if ip.is_global else "not a globally routable address"


def check_address(ip: IPAddress | str, allow_private: bool) -> None:
    """Refuse (``UnsafeUrl``) a loopback, private, link-local, multicast, reserved or
    unspecified address, IPv4-mapped IPv6 forms included, unless ``allow_private``; the cloud
    metadata service always."""
    address = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
    for candidate in _reached(address):
        if candidate in METADATA_ADDRESSES:  # never, not even where private targets are allowed
            raise UnsafeUrl(f"{address} is the cloud metadata service; webhooks never go there")
    if allow_private:
        return
    for candidate in _reached(address):
        kind = _kind(candidate)
        if kind is not None:
            shown = f"{address} ({candidate})" if candidate != address else str(address)
            raise UnsafeUrl(f"{shown} is {kind}; webhooks only go to public addresses")


def _reached(address: IPAddress) -> list[IPAddress]:
    """The addresses a connection to ``address`` ends up at (IPv4 embedded in IPv6 forms)."""
    if isinstance(address, ipaddress.IPv4Address):
        return [address]
    if address.ipv4_mapped is not None:  # ::ffff:127.0.0.1 is 127.0.0.1
        return [address.ipv4_mapped]
    if address in NAT64:  # 64:ff9b::7f00:1 reaches 127.0.0.1 through a NAT64 gateway
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    if address.sixtofour is not None:  # 2002:7f00:1:: tunnels to 127.0.0.1
        return [address, address.sixtofour]
    return [address]


def check_url(url: str, allow_private: bool) -> str:
    """Refuse a URL that is not http(s), has no host or carries credentials, or whose host
    is a forbidden IP literal; returns the host name (lower case, without brackets)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise MalformedUrl(f"not a valid URL: {error}") from None
    if parts.scheme.lower() not in SCHEMES:
        raise MalformedUrl(f"the scheme must be http or https, not {parts.scheme or 'missing'!r}")
    if any(ch.isspace() or ord(ch) < 0x20 for ch in url):
        raise MalformedUrl("the URL must not contain spaces or control characters")
    if "@" in parts.netloc:
        raise MalformedUrl("the URL must not carry a user name or password")
    host = parts.hostname
    if not host:
        raise MalformedUrl("the URL has no host")
    if port == 0:
        raise MalformedUrl("port 0 cannot be called")
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        try:
            host.encode("idna")  # what the HTTP client will do with it
        except UnicodeError:
            raise MalformedUrl(f"{host[:80]!r} is not a valid host name") from None
        return host  # a name: resolve_and_check looks at its addresses
    check_address(literal, allow_private)
    return host


async def resolve_and_check(
    url: str, allow_private: bool, *, timeout_s: float = 5.0
) -> list[IPAddress]:
    """``check_url``, then resolve the host and refuse if any of its addresses is forbidden.

    Returns the addresses. A name that does not resolve raises ``socket.gaierror`` (an
    ``OSError``: a network failure, not a refusal); a slow resolver ``TimeoutError``.
    """
    host = check_url(url, allow_private)
    loop = asyncio.get_running_loop()
    infos = await asyncio.wait_for(loop.getaddrinfo(host, None, type=socket.SOCK_STREAM), timeout_s)
    addresses = list(dict.fromkeys(ipaddress.ip_address(str(info[4][0])) for info in infos))
    for address in addresses:
        check_address(address, allow_private)
    return addresses
