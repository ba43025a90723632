"""Per-client query budgets: each operation's static cost (`schema/core/cost.py`) is charged,
before it runs, to a rolling window (a `Throttle` rule): the account's when signed in, whose
plan's entitlements name the rule (`budget.user`, `budget.plus`, `budget.pro`), else the
client's IP group's (`budget.anonymous`). Over budget: RateLimited, and nothing runs."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.billing import entitlements
from models.throttle import Throttle, Verdict

ANONYMOUS = "budget.anonymous"
SIGNED_IN = "budget.user"  # the Free plan's, and any account's whose plan names no rule


@dataclass(frozen=True, slots=True)
class Charge:
    """One operation's cost and where its client's budget stands after it (None where no
    budget applies: a budget rule missing from the settings, or not charged)."""

    cost: int
    max_cost: int
    limit: int | None = None
    remaining: int | None = None
    reset_at: datetime | None = None

    def extensions(self) -> dict[str, object]:
        """`extensions.cost` of the response."""
        report: dict[str, object] = {"requestedQueryCost": self.cost, "maxCost": self.max_cost}
        if self.limit is not None:
            report["limit"] = self.limit
            report["remaining"] = self.remaining
            report["resetAt"] = None if self.reset_at is None else self.reset_at.isoformat()
        return report


class PlanBudgets:
    """Which budget rule each account's plan gives it, kept per process for `ttl` seconds
    (at most `size` accounts), so a busy client costs one plan lookup a minute, not one per
    operation. A plan change takes effect within `ttl`."""

    def __init__(self, *, ttl: float = 60.0, size: int = 10_000) -> None:
        self.ttl = ttl
        self.size = size
        self._rules: OrderedDict[int, tuple[float, str]] = OrderedDict()

    async def rule(self, sessionmaker: async_sessionmaker[AsyncSession], account_id: int) -> str:
        now = time.monotonic()
        cached = self._rules.get(account_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        async with sessionmaker() as session:
            found = await entitlements.current_entitlements(session, account_id=account_id)
        self._rules[account_id] = (now + self.ttl, found.query_budget)
        self._rules.move_to_end(account_id)
        while len(self._rules) > self.size:
            self._rules.popitem(last=False)
        return found.query_budget


async def rule_for(
    *,
    throttle: Throttle,
    plans: PlanBudgets,
    sessionmaker: async_sessionmaker[AsyncSession],
    account_id: int | None,
    ip_group: str,
) -> tuple[str | None, str]:
    """The budget rule that applies to the client and the key it counts under; the rule is
    None when the settings have none for it (nothing is charged)."""
    if account_id is None:
        rule, key = ANONYMOUS, f"ip:{ip_group}"
    else:
        rule, key = await plans.rule(sessionmaker, account_id), f"account:{account_id}"
        if rule not in throttle.rules:
            rule = SIGNED_IN
    return (rule if rule in throttle.rules else None), key


def charged(cost: int, max_cost: int, verdict: Verdict) -> Charge:
    """The charge of an operation whose budget allowed it (`verdict`)."""
    return Charge(
        cost,
        max_cost,
        limit=verdict.limit,
        remaining=verdict.remaining,
        reset_at=datetime.fromtimestamp(verdict.reset_at, UTC),
    )


async def charge(
    *,
    throttle: Throttle,
    plans: PlanBudgets,
    sessionmaker: async_sessionmaker[AsyncSession],
    account_id: int | None,
    ip_group: str,
    cost: int,
    max_cost: int,
) -> Charge:
    """Charge `cost` to the client's budget; RateLimited (nothing counted) if over it."""
    rule, key = await rule_for(
        throttle=throttle,
        plans=plans,
        sessionmaker=sessionmaker,
        account_id=account_id,
        ip_group=ip_group,
    )
    if rule is None:
        return Charge(cost, max_cost)
    return charged(cost, max_cost, await throttle.check(rule, key, cost=cost))
