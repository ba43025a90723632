"""What one step of the billing sweep did: how many subscriptions or invoices it moved, and
how many it could not. A failure (Stripe's SDK raising, a domain error, a lost database
race) is logged with its ids and counted; the step goes on with the next one, and the next
sweep tries the failed one again."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

log = logging.getLogger("chirp.billing")


@dataclass
class Tally:
    done: int = 0
    failed: int = 0

    @contextmanager
    def isolated(self, what: str, **ids: int) -> Iterator[None]:
        """Run one item of a step; an exception is logged, counted and swallowed."""
        try:
            yield
        except Exception:  # one bad item must not hold up the others
            self.failed += 1
            named = " ".join(f"{key}={value}" for key, value in ids.items())
            log.exception("billing sweep: %s failed (%s); the next sweep retries", what, named)
