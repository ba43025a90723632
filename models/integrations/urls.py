"""Which webhook URLs and addresses Chirp will call (a guard against SSRF).

In production only https, and only public addresses: never loopback, private, link-local,
shared, reserved or multicast ones. Outside production, http and https to loopback
(localhost, 127.0.0.1, ::1) are allowed too, so a developer or a test can run a receiver.
The URL is checked when it is configured; every address its host resolves to is checked
again at each delivery, and the request goes to the checked address (see `sender.py`), so
DNS cannot be made to point somewhere else in between.

IPv6 addresses that carry an IPv4 address (IPv4-mapped and -translated, IPv4-compatible,
NAT64 `64:ff9b::/96`, 6to4 `2002::/16`, Teredo `2001::/32`) are judged by the IPv4 address
inside as well, since a gateway or the kernel may turn them into it. A host written as an
IPv4 number in a form other than the dotted quad (`2130706433`, `0x7f000001`, `0177.0.0.1`,
`127.1`) is refused when configured: resolvers read it as an address, and no DNS name ends in
a number."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from models.integrations.errors import InvalidWebhookUrl

MAX_URL_LENGTH = 2000
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# IPv6 prefixes whose low 32 bits are an IPv4 address: IPv4-compatible (deprecated),
# IPv4-translated (SIIT) and the NAT64 well-known prefix. (IPv4-mapped is unwrapped by
# `parse_ip`; 6to4 and Teredo have their own accessors.)
_LOW_32_BITS_IPV4 = (
    ipaddress.IPv6Network("::/96"),
    ipaddress.IPv6Network("::ffff:0:0:0/96"),
    ipaddress.IPv6Network("64:ff9b::/96"),
)
# The local-use NAT64 prefix (RFC 8215) embeds IPv4 in several layouts: never allowed.
_REFUSED_V6 = (ipaddress.IPv6Network("64:ff9b:1::/48"),)
# The last label of a host in a numeric form other than the dotted quad.
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")


class RefusedAddress(Exception):
    """A delivery's host resolved to an address Chirp does not call."""


def parse_ip(host: str) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def embedded_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (none for a plain one)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)  # (server, client)
    if address not in (ipaddress.IPv6Address("::"), ipaddress.IPv6Address("::1")) and any(
        address in network for network in _LOW_32_BITS_IPV4
    ):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def address_allowed(address: IPAddress, *, production: bool) -> bool:
    if address.is_loopback:
        return not production
    if isinstance(address, ipaddress.IPv6Address) and any(
        address in network for network in _REFUSED_V6
    ):
        return False
    # An IPv4 address inside an IPv6 one must be public itself (loopback too is refused:
    # a developer's receiver has the plain 127.0.0.1 and ::1).
    if any(not address_allowed(inner, production=True) for inner in embedded_ipv4(address)):
        return False
    return address.is_global and not address.is_multicast


def is_loopback_host(host: str) -> bool:
    address = parse_ip(host)
    if address is not None:
        return address.is_loopback
    host = host.rstrip(".")
    return host == "localhost" or host.endswith(".localhost")


def is_numeric_host(host: str) -> bool:
    """A host name whose last label is a number (decimal, octal or hex): resolvers take it
    as an IPv4 address in a non-standard form."""
    labels = host.rstrip(".").split(".")
    return bool(_NUMERIC_LABEL.match(labels[-1].lower()))


def check_url(raw: str, *, production: bool) -> str:
    """The URL, trimmed, if Chirp may deliver to it; otherwise INVALID_WEBHOOK_URL."""
    url = raw.strip()
    if not url or len(url) > MAX_URL_LENGTH:
        raise _bad(f"A URL of 1 to {MAX_URL_LENGTH} characters is required.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as exc:
        raise _bad("That is not a valid URL.") from exc
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        raise _bad("Use an https:// URL with a host name.")
    if parts.username is not None or parts.password is not None:
        raise _bad("Credentials do not belong in the URL; the signature authenticates Chirp.")
    if parts.fragment:
        raise _bad("A webhook URL has no #fragment.")
    loopback = is_loopback_host(host)
    if production and parts.scheme != "https":
        raise _bad("Webhook URLs must use https.")
    if production and loopback:
        raise _bad("Webhooks cannot be delivered to this server's own machine.")
    if not production and parts.scheme == "http" and not loopback:
        raise _bad("Use https; plain http is allowed only to localhost outside production.")
    address = parse_ip(host)
    if address is None and is_numeric_host(host):
        raise _bad("Write an IP address as four decimal numbers (a.b.c.d), or use a host name.")
    if address is not None and not address_allowed(address, production=production):
        raise _bad("Webhooks are only delivered to public addresses.")
    return url


def check_resolved(addresses: list[IPAddress], *, production: bool) -> IPAddress:
    """The address to connect to, when every address the host resolved to is allowed."""
    if not addresses:
        raise RefusedAddress("the host name did not resolve")
    for address in addresses:
        if not address_allowed(address, production=production):
            raise RefusedAddress(f"refused to connect to the non-public address {address}")
    return addresses[0]


def _bad(message: str) -> InvalidWebhookUrl:
    return InvalidWebhookUrl(message, field="url")
