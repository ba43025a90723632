"""Daily platform statistics for ADMIN, bucketed by UTC day on every back end."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from app.runtime import Services
from models.accounts.tables import Account, LoginSession
from models.posts.tables import Post
from tests.support.accounts import post, sign_up
from tests.support.graphql import GraphQLClient
from tests.support.staff import make_staff

STATISTICS = """
query ($first: Date!, $last: Date!) {
  platformStatistics(firstDay: $first, lastDay: $last) { day signUps posts activeAccounts }
}
"""


def at(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute, second), UTC)


async def insert_history(services: Services, day: date) -> None:
    """A signs up just before midnight and posts; B signs up just after; next day A logs
    in, B logs in and posts."""
    next_day = day + timedelta(days=1)
    async with services.runtime.sessionmaker() as session, session.begin():
        a = Account(
            handle="early",
            handle_key="early",
            email="early@example.com",
            password_hash="x",
            created_at=at(day, 23, 59, 58),
        )
        b = Account(
            handle="late",
            handle_key="late",
            email="late@example.com",
            password_hash="x",
            created_at=at(next_day, 0, 0, 1),
        )
        session.add_all([a, b])
        await session.flush()
        session.add_all(
            [
                Post(author_id=a.id, body="before midnight", created_at=at(day, 23, 59, 59)),
                Post(author_id=b.id, body="next day", created_at=at(next_day, 14)),
                LoginSession(
                    account_id=a.id,
                    token_hash="a" * 64,
                    created_at=at(next_day, 12),
                    expires_at=at(next_day, 12) + timedelta(days=1),
                ),
                LoginSession(
                    account_id=b.id,
                    token_hash="b" * 64,
                    created_at=at(next_day, 13),
                    expires_at=at(next_day, 13) + timedelta(days=1),
                ),
            ]
        )


async def test_admin_sees_daily_sign_ups_posts_and_active_accounts(
    gql: GraphQLClient, services: Services
) -> None:
    # What the API does now lands on the UTC day the test started or, across midnight, the
    # next one: both are queried, and the history is arranged well before either.
    first_today = datetime.now(UTC).date()
    admin = await make_staff(gql, services, "boss", "ADMIN")
    day = first_today - timedelta(days=10)
    await insert_history(services, day)
    user = await sign_up(gql, "today")
    await post(gql, user, "hello")
    last_today = datetime.now(UTC).date()

    past = await gql.execute(
        STATISTICS,
        {"first": str(day - timedelta(days=1)), "last": str(day + timedelta(days=1))},
        token=admin.token,
    )
    now = await gql.execute(
        STATISTICS, {"first": str(first_today), "last": str(last_today)}, token=admin.token
    )

    assert past["platformStatistics"] == [
        {"day": str(day - timedelta(days=1)), "signUps": 0, "posts": 0, "activeAccounts": 0},
        {"day": str(day), "signUps": 1, "posts": 1, "activeAccounts": 1},
        {"day": str(day + timedelta(days=1)), "signUps": 1, "posts": 1, "activeAccounts": 2},
    ]
    # Today: the admin and the user signed up (each sign-up opens a session); one posted.
    rows = now["platformStatistics"]
    assert [r["day"] for r in rows] == [
        str(first_today + timedelta(days=n)) for n in range((last_today - first_today).days + 1)
    ]
    assert sum(r["signUps"] for r in rows) == 2
    assert sum(r["posts"] for r in rows) == 1
    if len(rows) == 1:
        assert rows[0]["activeAccounts"] == 2
    else:  # each account is active on one of the two days, or on both
        assert 2 <= sum(r["activeAccounts"] for r in rows) <= 4
        assert all(r["activeAccounts"] <= 2 for r in rows)


async def test_a_range_out_of_bounds_is_bad_user_input(
    gql: GraphQLClient, services: Services
) -> None:
    admin = await make_staff(gql, services, "boss", "ADMIN")

    too_long = await gql.errors(
        STATISTICS, {"first": "2026-01-01", "last": "2026-04-01"}, token=admin.token
    )
    backwards = await gql.errors(
        STATISTICS, {"first": "2026-01-02", "last": "2026-01-01"}, token=admin.token
    )
    longest = await gql.execute(
        STATISTICS, {"first": "2026-01-01", "last": "2026-03-31"}, token=admin.token
    )

    assert too_long[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert backwards[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert len(longest["platformStatistics"]) == 90


async def test_statistics_without_permission_are_forbidden(
    gql: GraphQLClient, services: Services
) -> None:
    support = await make_staff(gql, services, "helper", "SUPPORT")
    auditor = await make_staff(gql, services, "auditor", "AUDITOR")
    variables = {"first": "2026-01-01", "last": "2026-01-02"}

    for token in (support.token, auditor.token):
        errors = await gql.errors(STATISTICS, variables, token=token)
        assert errors[0]["extensions"]["code"] == "FORBIDDEN"
