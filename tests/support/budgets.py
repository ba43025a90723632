"""Exact budget figures in tests: budgets count in sliding windows (the in-memory store's are
aligned to the clock), and what was spent in the previous window still counts, weighted by
how much of it overlaps. A test that asserts exact `remaining` figures waits out the end of
the current window when it is near, so that all its charges fall in one window."""

from __future__ import annotations

import asyncio
import time

HOUR = 3600


async def within_one_window(window: int = HOUR, margin: float = 15.0) -> None:
    left = window - time.time() % window
    if left < margin:
        await asyncio.sleep(left + 0.1)
