"""TOTP (RFC 6238) secrets and codes, through pyotp, and single-use recovery codes."""

from __future__ import annotations

import hashlib
import secrets
import time

import pyotp

ISSUER = "Chirp"
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread
RECOVERY_CODES = 10
# Accept the current 30-second step and one step either side of it, for clock drift.
DRIFT_STEPS = 1


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, *, handle: str) -> str:
    """The otpauth:// URI an authenticator app scans (as a QR code)."""
    return pyotp.TOTP(secret).provisioning_uri(name=handle, issuer_name=ISSUER)


def matching_step(secret: str, code: str, *, now: float | None = None) -> int | None:
    """The time step `code` belongs to (now, or DRIFT_STEPS either side), or None."""
    code = code.strip().replace(" ", "")
    if not (len(code) == 6 and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    moment = time.time() if now is None else now
    current = int(moment // totp.interval)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if secrets.compare_digest(totp.at(step * totp.interval), code):
            return step
    return None


def new_code() -> str:
    """A single-use code of 16 characters (80 bits), grouped for reading: XXXX-XXXX-XXXX-XXXX.
    Recovery codes and staff enrolment codes are such codes."""
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(16))
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def new_recovery_codes() -> list[str]:
    return [new_code() for _ in range(RECOVERY_CODES)]


def code_digest(code: str) -> str:
    """What is stored of a single-use code: its SHA-256, read case- and dash-insensitively
    (80 random bits need no slow hash)."""
    normalised = code.strip().upper().replace("-", "").replace(" ", "")
    return hashlib.sha256(normalised.encode()).hexdigest()
