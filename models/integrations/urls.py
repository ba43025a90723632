"""Which webhook URLs and addresses Chirp will call (a guard against SSRF).

In production only https, and only public addresses: never loopback, private, link-local,
shared, reserved or multicast ones. Outside production, http and https to loopback
(localhost, 127.0.0.1, ::1) are allowed too, so a developer or a test can run a receiver.
The URL is checked when it is configured; every address its host resolves to is checked
again at each delivery, and the request goes to the checked address (see `sender.py`), so
DNS cannot be made to point somewhere else in between."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from models.integrations.errors import InvalidWebhookUrl

MAX_URL_LENGTH = 2000
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


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


def address_allowed(address: IPAddress, *, production: bool) -> bool:
    if address.is_loopback:
        return not production
    return address.is_global and not address.is_multicast


def is_loopback_host(host: str) -> bool:
    address = parse_ip(host)
    if address is not None:
        return address.is_loopback
    return host == "localhost" or host.endswith(".localhost")


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
