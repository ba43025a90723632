"""argon2id password hashing and session tokens (only their hashes are stored)."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from models.throttle import RateLimited
from telemetry import metrics

TOKEN_BYTES = 32  # 256 bits, well over the 128 the threat model needs


def make_hasher(*, time_cost: int, memory_cost: int) -> PasswordHasher:
    """An argon2id hasher; the cost comes from settings so tests can run cheaply."""
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=1)


# Each argon2 run takes ARGON2_MEMORY_COST (64 MiB by default) and a core: at most two at
# once, in their own threads, so a log-in flood neither exhausts memory nor starves the
# default executor the event loop needs for DNS.
HASHING_THREADS = 2
_HASHING = ThreadPoolExecutor(max_workers=HASHING_THREADS, thread_name_prefix="argon2")
# At most this many hashes wait for a thread; one more is refused at once (RATE_LIMITED,
# retry after a second) rather than queued without bound, so a flood that gets past the
# rate limits (from very many addresses) costs honest callers a quick refusal, not a wait
# that grows with the flood: a caller waits for at most HASHING_WAITING / HASHING_THREADS
# hashes before its own.
HASHING_WAITING = 16
_ADMITTED = threading.BoundedSemaphore(HASHING_THREADS + HASHING_WAITING)
HASHING_BUSY = "password_hashing"
T = TypeVar("T")


async def hash_password(hasher: PasswordHasher, password: str) -> str:
    return await _hash(hasher.hash, password)


async def check_password(hasher: PasswordHasher, password_hash: str, password: str) -> bool:
    return await _hash(verify_password, hasher, password_hash, password)


async def _hash(work: Callable[..., T], *args: object) -> T:
    """Run one argon2 computation on the hashing threads, if there is room to wait for one."""
    if not _ADMITTED.acquire(blocking=False):
        metrics.RATE_LIMITED.labels(HASHING_BUSY).inc()
        raise RateLimited(
            HASHING_BUSY, 1, "The server is busy checking passwords; try again in a second."
        )
    try:
        job = _HASHING.submit(work, *args)
    except BaseException:
        _ADMITTED.release()
        raise
    # Freed when the computation ends (or is cancelled before it starts), not when its
    # caller stops waiting: a caller that went away leaves its hash running.
    job.add_done_callback(lambda _: _ADMITTED.release())
    return await asyncio.wrap_future(job)


def verify_password(hasher: PasswordHasher, password_hash: str, password: str) -> bool:
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
