"""The rate limits of tests that are not about them: one test client plays many users from
one address, so every rule is far away. Tests of the limits set their own (`rate_limits=`,
or `RATE_LIMIT_<RULE>` for a server)."""

from __future__ import annotations

from app.settings import DEFAULT_RATE_LIMITS, rate_limit_variable

RELAXED_RATE_LIMITS = {name: "100000/minute" for name in DEFAULT_RATE_LIMITS}
RELAXED_RATE_LIMIT_ENV = {rate_limit_variable(n): r for n, r in RELAXED_RATE_LIMITS.items()}
