"""The rate limits of tests that are not about them: one test client plays many users from
one address, so every rule is far away. Tests of the limits set their own (`rate_limits=`,
or `RATE_LIMIT_<RULE>` for a server)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from app.settings import DEFAULT_RATE_LIMITS, rate_limit_variable
from models.throttle import Throttle
from tests.support.backends import REDIS_URL, answers

RELAXED_RATE_LIMITS = {name: "100000/minute" for name in DEFAULT_RATE_LIMITS}
RELAXED_RATE_LIMIT_ENV = {rate_limit_variable(n): r for n, r in RELAXED_RATE_LIMITS.items()}

# Where the throttle tests count: in process memory, and in the real Redis when it answers.
STORES = ["memory", "redis"] if answers("127.0.0.1", 6379) else ["memory"]


def throttle_in(store: str, rules: Mapping[str, str]) -> Throttle:
    """A Throttle with `rules`, counting in `store`, under a prefix of its own."""
    prefix = f"chirp-test-{uuid.uuid4().hex[:8]}"
    return Throttle(rules, redis_url=REDIS_URL if store == "redis" else None, prefix=prefix)
