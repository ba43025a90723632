"""The argon2 pool refuses at once when its queue is full (issue 11: a log-in flood queued
hashes without bound on a two-thread pool, starving every honest log-in and sign-up)."""

from __future__ import annotations

import asyncio

from models.accounts import passwords
from models.accounts.passwords import make_hasher
from models.throttle import RateLimited
from telemetry import metrics


async def test_a_full_hashing_queue_refuses_at_once_instead_of_waiting() -> None:
    hasher = make_hasher(time_cost=1, memory_cost=8192)
    room = passwords.HASHING_THREADS + passwords.HASHING_WAITING
    refusals = metrics.RATE_LIMITED.labels(passwords.HASHING_BUSY)
    before = refusals._value.get()
    flood = [
        asyncio.create_task(passwords.hash_password(hasher, f"pw {i}")) for i in range(room + 12)
    ]

    first_done, _ = await asyncio.wait(flood, return_when=asyncio.FIRST_COMPLETED)
    results = await asyncio.gather(*flood, return_exceptions=True)
    later = await passwords.hash_password(hasher, "once the flood has passed")

    refused = [r for r in results if isinstance(r, RateLimited)]
    assert len(refused) == 12
    assert all(r.extensions["code"] == "RATE_LIMITED" and r.retry_after == 1 for r in refused)
    assert sum(isinstance(r, str) for r in results) == room
    # The refusals came before any admitted hash finished: nobody waited for them.
    assert all(isinstance(task.exception(), RateLimited) for task in first_done)
    assert refusals._value.get() == before + 12
    assert passwords.verify_password(hasher, later, "once the flood has passed")
