"""argon2id password hashing and session tokens (only their hashes are stored)."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

TOKEN_BYTES = 32  # 256 bits, well over the 128 the threat model needs


def make_hasher(*, time_cost: int, memory_cost: int) -> PasswordHasher:
    """An argon2id hasher; the cost comes from settings so tests can run cheaply."""
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=1)


def verify_password(hasher: PasswordHasher, password_hash: str, password: str) -> bool:
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
