"""`rateLimit`: what this operation cost and where the client's query budget stands after it
(the charge made before execution, `schema/core/admission.py`)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from resolvers.context import Info


@strawberry.type(
    description="The client's query budget: each operation's static cost is charged to it "
    "before the operation runs (docs/api.md, Query cost). A signed-in client's budget is its "
    "account's, by plan; an anonymous client's is its IP address's."
)
class RateLimit:
    cost: int = strawberry.field(description="What this operation cost (at least 1).")
    max_cost: int = strawberry.field(
        description="The most one operation may cost; more is refused with QUERY_TOO_COSTLY."
    )
    limit: int = strawberry.field(description="The budget per rolling window (an hour).")
    remaining: int = strawberry.field(description="What remains of it after this operation.")
    reset_at: datetime = strawberry.field(
        description="When the budget has room again (UTC); spending stays possible meanwhile "
        "up to `remaining`."
    )


@strawberry.type
class BudgetQuery:
    @strawberry.field(
        description="The client's query budget after this operation, as GitHub's `rateLimit`: "
        "the cost of this operation, the limit, what remains and when it resets. Null when "
        "no budget applies. Costs 1, like any object."
    )
    def rate_limit(self, info: Info) -> RateLimit | None:
        charge = info.context.cost
        if charge is None or charge.limit is None or charge.reset_at is None:
            return None
        return RateLimit(
            cost=charge.cost,
            max_cost=charge.max_cost,
            limit=charge.limit,
            remaining=charge.remaining or 0,
            reset_at=charge.reset_at,
        )
