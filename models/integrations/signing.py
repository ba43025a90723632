"""Signing deliveries: HMAC-SHA256 over `f"{timestamp}.{body}"` with the endpoint's secret.

The header is `Chirp-Signature: t=<unix seconds>,v1=<hex>`; after a secret rotation it
carries one `v1=` per secret still valid, and a receiver accepts any that matches. The
timestamp is signed too, so a receiver that refuses old timestamps refuses replays."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable

SCHEME = "v1"
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
DEFAULT_TOLERANCE = 300  # seconds


def new_secret() -> str:
    """A signing secret of 256 random bits, recognisable by its prefix."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(signing_secrets: Iterable[str], body: bytes, timestamp: int) -> str:
    parts = [f"t={timestamp}"]
    parts += [f"{SCHEME}={sign(secret, timestamp, body)}" for secret in signing_secrets]
    return ",".join(parts)


def verify(
    header: str,
    body: bytes,
    secret: str,
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> bool:
    """What a receiver does (docs/integrations.md has the same code for receivers): the
    timestamp is recent and one v1 signature matches."""
    timestamp, signatures = None, []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == SCHEME:
            signatures.append(value)
    if timestamp is None:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body)
    return any(hmac.compare_digest(expected, s) for s in signatures)
