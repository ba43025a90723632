"""Rate limits per action class (sign-ups per address; posts, follows and reports per
account) and per address on /graphql, on both back ends (process memory on SQLite, Redis on
PostgreSQL). Aliased fields count one each and are charged together before any of them
runs, so a refused operation has written nothing. Addresses vary through X-Forwarded-For
from the test client, which the settings trust as a proxy."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.runtime import Services
from app.settings import Settings
from models.accounts.tables import Account
from models.posts.tables import Post
from tests.conftest import make_settings
from tests.support.accounts import PASSWORD
from tests.support.backends import Database
from tests.support.budgets import within_one_window
from tests.support.limits import RELAXED_RATE_LIMITS

PEER = "203.0.113.7"  # the test client's address: the trusted proxy
LIMITS = {
    **RELAXED_RATE_LIMITS,
    "sign_up.ip": "2/hour",
    "posts.account": "3/minute",
    "follows.account": "1/minute",
    "reports.account": "1/minute",
    "requests.ip": "3/minute",
}
SIGN_UP = """
{alias}: signUp(input: {{handle: "{handle}", email: "{handle}@example.com", password: "{password}"}}) {{
  __typename ... on SessionPayload {{ token account {{ id }} }}
}}
"""
CREATE_POST = '{alias}: createPost(input: {{body: "{body}"}}) {{ __typename ... on PostPayload {{ post {{ id }} }} }}'
REPOST = 'repostPost(input: {{postId: "{id}"}}) {{ __typename }}'
FOLLOW = 'followAccount(input: {{accountId: "{id}"}}) {{ __typename }}'
REPORT = 'reportAccount(input: {{accountId: "{id}", category: SPAM}}) {{ __typename }}'


@pytest.fixture(autouse=True)
async def one_window() -> None:
    """Counters in process memory keep windows that follow the clock: each test's hits fall
    within one window, or a boundary in the middle would let a weighted count slip."""
    await within_one_window(60, margin=6)


@pytest.fixture
def settings(database: Database) -> Settings:
    return make_settings(database, rate_limits=LIMITS, trusted_proxies=(PEER,))


class Client:
    """Sends each request from a new address unless told which (so that `requests.ip`
    stays out of the way of the other rules)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.addresses = (f"198.51.100.{n}" for n in itertools.count(1))

    async def send(
        self, fields: str, *, token: str | None = None, ip: str | None = None
    ) -> dict[str, Any]:
        headers = {"x-forwarded-for": ip or next(self.addresses)}
        if token is not None:
            headers["authorization"] = f"Bearer {token}"
        response = await self.http.post(
            "/graphql", json={"query": f"mutation {{ {fields} }}"}, headers=headers
        )
        assert response.status_code == 200, response.text
        payload: dict[str, Any] = response.json()
        return payload

    async def sign_up(self, handle: str) -> tuple[str, str]:
        sign_up = SIGN_UP.format(alias="s", handle=handle, password=PASSWORD)
        result = (await self.send(sign_up))["data"]["s"]
        return result["token"], result["account"]["id"]


def codes(payload: dict[str, Any]) -> list[tuple[str, ...]]:
    return [
        (*map(str, e.get("path") or ()), e["extensions"]["code"])
        for e in payload.get("errors") or ()
    ]


async def count(services: Services, table: type[Account] | type[Post]) -> int:
    async with services.runtime.read_sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


async def test_sign_ups_are_limited_per_address_counting_each_alias(
    http: httpx.AsyncClient, services: Services
) -> None:
    client = Client(http)
    three = " ".join(
        SIGN_UP.format(alias=f"s{i}", handle=f"bulk{i}", password=PASSWORD) for i in range(3)
    )
    two = " ".join(
        SIGN_UP.format(alias=f"s{i}", handle=f"pair{i}", password=PASSWORD) for i in range(2)
    )
    third = SIGN_UP.format(alias="s", handle="third", password=PASSWORD)

    refused = await client.send(three, ip="192.0.2.1")
    accounts_after_refusal = await count(services, Account)
    allowed = await client.send(two, ip="192.0.2.1")
    again = await client.send(third, ip="192.0.2.1")
    elsewhere = await client.send(third, ip="192.0.2.2")

    # Three sign-ups would exceed 2 an hour: refused whole, before any account was made.
    assert codes(refused) == [("s0", "RATE_LIMITED")]
    assert refused["errors"][0]["extensions"]["limit"] == "sign_up.ip"
    assert refused["data"] is None
    assert accounts_after_refusal == 0
    assert [allowed["data"][f"s{i}"]["__typename"] for i in range(2)] == ["SessionPayload"] * 2
    assert codes(again) == [("s", "RATE_LIMITED")]
    assert elsewhere["data"]["s"]["__typename"] == "SessionPayload"


async def test_posts_are_limited_per_account_and_a_refusal_writes_nothing(
    http: httpx.AsyncClient, services: Services
) -> None:
    client = Client(http)
    token, _ = await client.sign_up("poster")
    other, _ = await client.sign_up("other")

    def posts(n: int, prefix: str) -> str:
        return " ".join(CREATE_POST.format(alias=f"p{i}", body=f"{prefix} {i}") for i in range(n))

    four = await client.send(posts(4, "too many"), token=token)
    written_after_refusal = await count(services, Post)
    three = await client.send(posts(3, "fine"), token=token)
    repost = await client.send(REPOST.format(id=three["data"]["p0"]["post"]["id"]), token=token)
    other_account = await client.send(posts(1, "mine"), token=other)

    # Four posts would exceed 3 a minute: nothing is written, not even the first three.
    assert codes(four) == [("p0", "RATE_LIMITED")]
    assert four["data"] is None
    assert written_after_refusal == 0
    assert [three["data"][f"p{i}"]["__typename"] for i in range(3)] == ["PostPayload"] * 3
    # Reposts are posts too.
    assert codes(repost) == [("repostPost", "RATE_LIMITED")]
    assert other_account["data"]["p0"]["__typename"] == "PostPayload"


async def test_follows_and_reports_are_limited_per_account(http: httpx.AsyncClient) -> None:
    client = Client(http)
    token, _ = await client.sign_up("busy")
    _, first = await client.sign_up("first")
    _, second = await client.sign_up("second")

    follows = [await client.send(FOLLOW.format(id=i), token=token) for i in (first, second)]
    reports = [await client.send(REPORT.format(id=i), token=token) for i in (first, second)]

    assert follows[0]["data"]["followAccount"]["__typename"] == "AccountPayload"
    assert codes(follows[1]) == [("followAccount", "RATE_LIMITED")]
    assert reports[0]["data"]["reportAccount"]["__typename"] == "ReportPayload"
    assert codes(reports[1]) == [("reportAccount", "RATE_LIMITED")]


async def test_graphql_requests_over_the_rate_of_an_address_get_429(
    http: httpx.AsyncClient,
) -> None:
    def ask(ip: str) -> Any:
        return http.post(
            "/graphql", json={"query": "{ viewer { id } }"}, headers={"x-forwarded-for": ip}
        )

    allowed = [(await ask("192.0.2.7")).status_code for _ in range(3)]
    refused = await ask("192.0.2.7")
    other = await ask("192.0.2.8")

    assert allowed == [200, 200, 200]
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    [error] = refused.json()["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert error["extensions"]["limit"] == "requests.ip"
    assert error["extensions"]["retryAfter"] == int(refused.headers["retry-after"])
    assert other.status_code == 200
