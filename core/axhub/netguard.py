"""SSRF guard for calls to user-supplied URLs (outbound webhooks and the like).

A destination is resolved and every address it resolves to is checked: loopback,
private, link-local, CGNAT, multicast, reserved, unspecified, IPv4-mapped/-translated
IPv6 that hides one of those, and the rest of that family are refused, unless the
operator's allow-list (``AXHUB_OUTBOUND_ALLOW``: CIDRs or host names) opens them.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import ipaddress
import socket
from typing import Iterable, Iterator
from urllib.parse import urlsplit

import httpx

CGNAT = ipaddress.ip_network("100.64.0.0/10")


def _ipv6_pattern() -> str:
    """RFC 3986's IPv6address, the forms :mod:`ipaddress` (and so ``urlsplit``) reads."""
    h16 = "[0-9A-Fa-f]{1,4}"
    octet = "(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
    ls32 = rf"({h16}:{h16}|{octet}(\.{octet}){{3}})"

    def up_to(n: int) -> str:  # [ *n( h16 ":" ) h16 ]
        return "" if n < 0 else rf"(({h16}:){{0,{n}}}{h16})?"

    return "|".join([
        rf"({h16}:){{6}}{ls32}", rf"::({h16}:){{5}}{ls32}", rf"{up_to(0)}::({h16}:){{4}}{ls32}",
        rf"{up_to(1)}::({h16}:){{3}}{ls32}", rf"{up_to(2)}::({h16}:){{2}}{ls32}", rf"{up_to(3)}::{h16}:{ls32}",
        rf"{up_to(4)}::{ls32}", rf"{up_to(5)}::{h16}", rf"{up_to(6)}::",
    ])


# What Guard.check_url accepts, said as a pattern for the OpenAPI: http(s), a host (a
# name, an IPv4 or a bracketed IPv6), no credentials, a port up to 65535. A name holds
# none of the characters ``urlsplit`` refuses in a host: the delimiters, and the 19
# whose NFKC form holds one (a fullwidth solidus, say).
_PORT = "(:([0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?"
_NFKC_DELIMITERS = "\u2047-\u2049\u2100\u2101\u2105\u2106\u2a74\ufe13\ufe16\ufe55\ufe56\ufe5f\ufe6b\uff03\uff0f\uff1a\uff1f\uff20"
HTTP_URL_PATTERN = (rf"^[Hh][Tt][Tt][Pp][Ss]?://([^/?#@:\[\]\x00-\x20\x7f{_NFKC_DELIMITERS}]+|\[({_ipv6_pattern()})\])"
                    rf"{_PORT}([/?#][^\x00-\x20\x7f]*)?$")


class Blocked(Exception):
    """``transient``: the name did not resolve now (it may later); otherwise the
    destination itself is refused."""

    def __init__(self, url: str, reason: str, transient: bool = False) -> None:
        super().__init__(f"{url}: {reason}")
        self.reason = reason
        self.transient = transient


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is not None:
            return is_public(embedded)
        if address in ipaddress.ip_network("64:ff9b::/96"):  # NAT64 well-known prefix
            return is_public(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if address.version == 4 and address in CGNAT:
        return False
    return address.is_global and not (
        address.is_multicast or address.is_reserved or address.is_loopback or address.is_link_local
        or address.is_private or address.is_unspecified
    )


def _number(part: str) -> int | None:
    """One part of a numeric host as the C resolver reads it: 0x… hex, 0… octal, else decimal."""
    try:
        if part[:2].lower() == "0x":
            return int(part[2:], 16) if part[2:] else None
        if len(part) > 1 and part.startswith("0"):
            return int(part[1:], 8)
        return int(part, 10) if part.isdigit() else None
    except ValueError:
        return None


def literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a host written as a number stands for, or None for a name.

    Besides dotted quads and bracketed IPv6, the system resolver (inet_aton) reads
    ``2130706433``, ``0x7f000001``, ``0177.0.0.1`` and ``127.1`` as 127.0.0.1: a check
    made without DNS must read them the same way, or it would pass what a send reaches."""
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.split("%")[0])
        except ValueError:
            return None
    parts = host.rstrip(".").split(".") if host else []
    if not 1 <= len(parts) <= 4:
        return None
    numbers = [_number(p) for p in parts]
    if any(n is None for n in numbers):
        return None
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (4 - len(head)):
        return None
    value = 0
    for n in head:
        value = value * 256 + n
    return ipaddress.IPv4Address(value * 256 ** (4 - len(head)) + last)


class Guard:
    """The operator's outbound rules: which destinations a user-supplied URL may reach
    (``allow``: CIDRs or host names opened on top of the public internet; ``https_only``)."""

    def __init__(self, allow: Iterable[str] = (), https_only: bool = False) -> None:
        self.networks = []
        self.hosts = set()
        for item in allow:
            try:
                self.networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                self.hosts.add(item.lower())
        self.https_only = https_only

    @classmethod
    def from_env(cls, env: dict[str, str]) -> "Guard":
        allow = [x.strip() for x in env.get("AXHUB_OUTBOUND_ALLOW", "").split(",") if x.strip()]
        return cls(allow, https_only=env.get("AXHUB_OUTBOUND_HTTPS_ONLY", "").lower() in {"1", "true", "yes"})

    def allowed(self, address) -> bool:
        """Whether ``address`` may be called: public, or in the operator's allow-list."""
        return is_public(address) or any(address in n for n in self.networks)

    def check_url(self, url: str) -> tuple[str, int]:
        """Syntax checks that need no DNS; returns (host, port)."""
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError:  # a bracketed host that is no IPv6 address, a host NFKC turns into a delimiter
            raise Blocked(url, "the URL's host is not a valid name or address") from None
        if parts.scheme not in ("http", "https"):
            raise Blocked(url, "only http and https URLs are allowed")
        if self.https_only and parts.scheme != "https":
            raise Blocked(url, "the operator allows https URLs only")
        if not host:
            raise Blocked(url, "the URL has no host")
        if parts.username or parts.password:
            raise Blocked(url, "credentials in the URL are not allowed; use headers")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise Blocked(url, "the port is not a number") from None
        return host.lower(), port

    def check_destination(self, url: str) -> tuple[str, int]:
        """What can be known of ``url`` without DNS, as a destination is saved: the
        checks of :meth:`check_url`, and a host written as an address (in any of the
        forms :func:`literal` reads) in a range :meth:`resolve` would refuse. A name is
        checked when a message is sent, on the addresses it then resolves to."""
        host, port = self.check_url(url)
        address = literal(host)
        if address is not None and host not in self.hosts and not self.allowed(address):
            raise Blocked(url, f"{host} is a non-public address ({address}); the operator's AXHUB_OUTBOUND_ALLOW does not admit it")
        return host, port

    async def resolve(self, url: str) -> list[str]:
        """Every address ``url`` resolves to, all checked; raises :class:`Blocked`."""
        host, port = self.check_url(url)
        address = literal(host)
        if address is not None:
            addresses = [address]
        else:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except socket.gaierror:
                raise Blocked(url, f"{host} does not resolve", transient=True) from None
            addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
        if host in self.hosts:
            return [str(a) for a in addresses]
        refused = [str(a) for a in addresses if not self.allowed(a)]
        if refused:
            raise Blocked(url, f"{host} resolves to a non-public address ({', '.join(sorted(set(refused)))})")
        return [str(a) for a in addresses]

    async def request(self, client: httpx.AsyncClient, method: str, url: str, **kwargs) -> httpx.Response:
        """Send a request to ``url`` at the address the check approved.

        Checking a name and then letting the HTTP client resolve it again would let a
        DNS answer that changes in between (rebinding) reach a refused address; so the
        connection goes to the checked address itself, with the original ``Host`` header
        and, for https, the original name for SNI and certificate checks."""
        addresses = await self.resolve(url)
        target = httpx.URL(url)
        headers = dict(kwargs.pop("headers", None) or {})
        headers["Host"] = target.netloc.decode("ascii")
        extensions = dict(kwargs.pop("extensions", None) or {})
        if target.scheme == "https":
            extensions["sni_hostname"] = target.host
        pinned = target.copy_with(host=addresses[0])
        return await client.request(method, pinned, headers=headers, extensions=extensions, **kwargs)


_validating: contextvars.ContextVar[Guard | None] = contextvars.ContextVar("axhub_netguard_validating", default=None)


@contextlib.contextmanager
def validating(guard: Guard) -> Iterator[Guard]:
    """Settings decoded inside are being saved: their checks read the hub's ``guard``
    from :func:`validating_guard`. (A settings type has no ProviderContext to ask.)"""
    token = _validating.set(guard)
    try:
        yield guard
    finally:
        _validating.reset(token)


def validating_guard() -> Guard | None:
    """The hub's guard while settings are being saved; None while stored ones are read.

    Stored settings must keep loading after the operator tightens the rules (every read
    of the integration, its deliveries and its disconnect decode them): a destination
    refused since is refused by the guard when a message is sent, not when it is read."""
    return _validating.get()
