"""argon2id password hashing and session tokens (only their hashes are stored)."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

TOKEN_BYTES = 32  # 256 bits, well over the 128 the threat model needs


def make_hasher(*, time_cost: int, memory_cost: int) -> PasswordHasher:
    """An argon2id hasher; the cost comes from settings so tests can run cheaply."""
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=1)


# Each argon2 run takes ARGON2_MEMORY_COST (64 MiB by default) and a core: at most two at
# once, in their own threads, so a log-in flood neither exhausts memory nor starves the
# default executor the event loop needs for DNS.
_HASHING = ThreadPoolExecutor(max_workers=2, thread_name_prefix="argon2")


async def hash_password(hasher: PasswordHasher, password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_HASHING, hasher.hash, password)


async def check_password(hasher: PasswordHasher, password_hash: str, password: str) -> bool:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_HASHING, verify_password, hasher, password_hash, password)


def verify_password(hasher: PasswordHasher, password_hash: str, password: str) -> bool:
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
