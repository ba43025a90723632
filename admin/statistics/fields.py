"""Platform statistics for ADMIN: daily sign-ups, posts and active accounts."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import strawberry

from models.access.roles import Role
from models.statistics.queries import MAX_DAYS, DayCounts
from resolvers import statistics as resolvers
from resolvers.context import Info
from schema.core.permissions import requires_role


@strawberry.type(description="What happened on the platform on one UTC day.")
class DailyStatistics:
    day: date = strawberry.field(description="The UTC day.")
    sign_ups: int = strawberry.field(description="Accounts created that day.")
    posts: int = strawberry.field(
        description="Posts, replies and reposts created that day, including ones deleted since."
    )
    active_accounts: int = strawberry.field(
        description="Distinct accounts that posted (post, reply or repost) or opened a "
        "session (logged in or signed up) that day."
    )

    @classmethod
    def from_counts(cls, counts: DayCounts) -> DailyStatistics:
        return cls(
            day=counts.day,
            sign_ups=counts.sign_ups,
            posts=counts.posts,
            active_accounts=counts.active_accounts,
        )


@strawberry.type
class StatisticsQueries:
    @strawberry.field(
        description=f"Daily platform statistics from `firstDay` to `lastDay` inclusive (UTC "
        f"days, at most {MAX_DAYS}), oldest first, with a row for every day. A bad range is "
        "BAD_USER_INPUT.",
        extensions=requires_role(Role.ADMIN),
    )
    async def platform_statistics(
        self,
        info: Info,
        first_day: Annotated[date, strawberry.argument(description="The first UTC day.")],
        last_day: Annotated[date, strawberry.argument(description="The last UTC day, included.")],
    ) -> list[DailyStatistics]:
        counts = await resolvers.daily_counts(info.context, first_day=first_day, last_day=last_day)
        return [DailyStatistics.from_counts(c) for c in counts]
