"""Daily sign-ups, posts and active accounts over a bounded range of UTC days.

An account is *active* on a day when it created a post (a post, reply or repost, even one
deleted later) or opened a session (a log-in, or the sign-up's own session) that day.
Counting happens in the database, grouped by day: SQLite stores UTC timestamps as naive
text, so `date()` buckets them; PostgreSQL converts `timestamptz` to UTC first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Date, cast, func, literal, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from models.accounts.tables import Account, LoginSession
from models.errors import InvalidInput
from models.posts.tables import Post

MAX_DAYS = 90


class InvalidRange(InvalidInput):
    code = "INVALID_RANGE"


@dataclass(frozen=True, slots=True)
class DayCounts:
    day: date
    sign_ups: int
    posts: int
    active_accounts: int


def check_range(first_day: date, last_day: date) -> None:
    if last_day < first_day:
        raise InvalidRange("`lastDay` is before `firstDay`.", field="lastDay")
    if (last_day - first_day).days + 1 > MAX_DAYS:
        raise InvalidRange(f"A range is at most {MAX_DAYS} days.", field="lastDay")
    if last_day >= date.max:  # counting ends at the start of the day after `lastDay`
        raise InvalidRange(f"`lastDay` is at most {date.max - timedelta(days=1)}.", field="lastDay")


def _day(dialect: str, column: Any) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return cast(func.timezone(literal("UTC"), column), Date)
    return func.date(column)


def _as_date(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


async def daily_counts(
    session: AsyncSession, *, first_day: date, last_day: date
) -> list[DayCounts]:
    """One entry per day from `first_day` to `last_day` inclusive, zeros included."""
    check_range(first_day, last_day)
    start = datetime.combine(first_day, time(), UTC)
    end = datetime.combine(last_day + timedelta(days=1), time(), UTC)
    dialect = session.get_bind().dialect.name

    async def per_day(stmt: Any) -> dict[date, int]:
        return {_as_date(d): int(n) for d, n in (await session.execute(stmt)).all()}

    def counted(column: Any) -> Any:
        day = _day(dialect, column)
        return select(day, func.count()).where(column >= start, column < end).group_by(day)

    sign_ups = await per_day(counted(Account.created_at))
    posts = await per_day(counted(Post.created_at))
    activity = union(
        select(
            Post.author_id.label("account_id"), _day(dialect, Post.created_at).label("day")
        ).where(Post.created_at >= start, Post.created_at < end),
        select(LoginSession.account_id, _day(dialect, LoginSession.created_at)).where(
            LoginSession.created_at >= start, LoginSession.created_at < end
        ),
    ).subquery()
    active = await per_day(
        select(activity.c.day, func.count()).select_from(activity).group_by(activity.c.day)
    )
    days = [first_day + timedelta(days=i) for i in range((last_day - first_day).days + 1)]
    return [
        DayCounts(
            day=d,
            sign_ups=sign_ups.get(d, 0),
            posts=posts.get(d, 0),
            active_accounts=active.get(d, 0),
        )
        for d in days
    ]
