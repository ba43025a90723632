"""Platform statistics glue (ADMIN)."""

from __future__ import annotations

from datetime import date

from models.errors import DomainError
from models.statistics import queries
from models.statistics.queries import DayCounts
from resolvers.context import Context
from resolvers.paging import BadUserInput


async def daily_counts(ctx: Context, *, first_day: date, last_day: date) -> list[DayCounts]:
    try:
        queries.check_range(first_day, last_day)
    except DomainError as err:
        raise BadUserInput(err.message, argument=err.field or "lastDay") from err
    async with ctx.read() as session:
        return await queries.daily_counts(session, first_day=first_day, last_day=last_day)
