"""When a failed delivery is tried again, and when a failing endpoint is turned off."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base: float = 30.0  # seconds before the second attempt (at most)
    cap: float = 21600.0  # no wait is longer than this
    max_attempts: int = 12  # then the delivery is given up (failed)
    disable_after: int = 10  # consecutive failed attempts that turn an endpoint off...
    failing_period: float = 3600.0  # ...once it has been failing for at least this long
    timeout: float = 10.0  # per HTTP attempt

    def delay(self, attempt: int, rng: random.Random | None = None) -> timedelta:
        """The wait after failed attempt number `attempt` (1, 2, ...): exponential, capped,
        with "equal jitter" (half fixed, half random) so receivers coming back up are not
        hit by every retry at once."""
        ceiling = min(self.cap, self.base * 2 ** min(attempt - 1, 40))
        spread = (rng or random).uniform(0, ceiling / 2)
        return timedelta(seconds=ceiling / 2 + spread)

    # How long a delivery claimed for an attempt job stays claimed while the job waits in
    # the queue: a busy queue must not make the sweep enqueue the attempt again and again.
    # A job lost on the way is replaced when it runs out.
    queue_wait: float = 300.0

    @property
    def lease(self) -> timedelta:
        """How long an attempt in flight holds its delivery (taken when the job starts):
        longer than any attempt can take (the sender stops one at twice the timeout), so
        only a crashed worker's expires."""
        return timedelta(seconds=self.timeout * 3 + 5)

    @property
    def claim_lease(self) -> timedelta:
        """How long a delivery stays claimed from the enqueueing of its attempt job until
        the job starts (when the job takes `lease` instead)."""
        return timedelta(seconds=max(self.queue_wait, self.timeout * 3 + 5))

    def should_disable(self, *, failures: int, failing_since: datetime, now: datetime) -> bool:
        return failures >= self.disable_after and (
            now - failing_since >= timedelta(seconds=self.failing_period)
        )
