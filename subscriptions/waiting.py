"""Waiting on an event with a time limit, safely under cancellation.

`asyncio.timeout` plus `suppress(TimeoutError)` in a loop can swallow an outside cancel on
Python 3.11 when the timeout and the cancel land together, and the loop then never stops;
`asyncio.wait` never converts a cancellation."""

from __future__ import annotations

import asyncio


async def wait_event(event: asyncio.Event, timeout: float) -> bool:
    """Wait until `event` is set or `timeout` seconds pass; True if it was set."""
    waiter = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({waiter}, timeout=timeout)
    finally:
        waiter.cancel()
    return event.is_set()
