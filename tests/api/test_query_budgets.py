"""Per-client query budgets through the API: each operation's cost is charged before it runs
to its account's budget when signed in, else to its IP group's; over budget, the whole
operation is refused (RATE_LIMITED, HTTP 429 with Retry-After) and nothing is charged.
Client addresses vary through a trusted proxy's X-Forwarded-For."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.settings import DEFAULT_RATE_LIMITS, Settings
from tests.conftest import make_settings
from tests.support.accounts import PASSWORD, SIGN_UP
from tests.support.backends import Database
from tests.support.budgets import within_one_window

PROXY = "203.0.113.7"  # the test client's peer address (tests/conftest.py)
FEED = "{ publicFeed(first: 20) { edges { node { body author { handle } } } } }"  # costs 41


@pytest.fixture(autouse=True)
async def one_window() -> None:
    await within_one_window()


@pytest.fixture
def settings(database: Database) -> Settings:
    rules = dict(DEFAULT_RATE_LIMITS) | {"budget.anonymous": "100/hour", "budget.user": "100/hour"}
    return make_settings(database, rate_limits=rules, trusted_proxies=(PROXY,))


async def ask(
    http: httpx.AsyncClient, query: str, *, ip: str, token: str = "", **variables: Any
) -> httpx.Response:
    headers = {"accept": "application/graphql-response+json", "x-forwarded-for": ip}
    if token:
        headers["authorization"] = f"Bearer {token}"
    return await http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )


async def sign_up(http: httpx.AsyncClient, handle: str, ip: str) -> str:
    data = {"handle": handle, "email": f"{handle}@example.com", "password": PASSWORD}
    response = await ask(http, SIGN_UP, ip=ip, input=data)
    token: str = response.json()["data"]["signUp"]["token"]
    return token


def refusal(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert response.status_code == 429, body
    assert "data" not in body
    [error] = body["errors"]
    assert response.headers["retry-after"] == str(error["extensions"]["retryAfter"])
    extensions: dict[str, Any] = error["extensions"]
    return extensions


async def test_an_anonymous_client_over_its_budget_is_refused_whole_and_others_are_not(
    http: httpx.AsyncClient,
) -> None:
    spent = [await ask(http, FEED, ip="198.51.100.1") for _ in range(2)]  # 82 of 100
    over = await ask(http, FEED, ip="198.51.100.1")
    cheap = await ask(http, "{ rateLimit { remaining } }", ip="198.51.100.1")
    elsewhere = await ask(http, FEED, ip="198.51.100.2")

    assert [r.status_code for r in spent] == [200, 200]
    extensions = refusal(over)
    assert extensions["code"] == "RATE_LIMITED"
    assert extensions["limit"] == "budget.anonymous"
    assert 0 < extensions["retryAfter"] <= 3600
    # Nothing was charged for the refused operation: 18 points remain, and a cheap one fits.
    assert cheap.json()["data"]["rateLimit"]["remaining"] == 100 - 82 - 1
    assert elsewhere.status_code == 200
    assert elsewhere.json()["extensions"]["cost"]["remaining"] == 100 - 41


async def test_ipv6_clients_of_one_64_bit_prefix_share_a_budget(http: httpx.AsyncClient) -> None:
    await ask(http, FEED, ip="2001:db8:1:2::a")
    await ask(http, FEED, ip="2001:db8:1:2::b")

    assert refusal(await ask(http, FEED, ip="2001:db8:1:2:ffff::c"))["code"] == "RATE_LIMITED"
    assert (await ask(http, FEED, ip="2001:db8:1:3::a")).status_code == 200


async def test_a_signed_in_client_spends_its_account_budget_from_any_address(
    http: httpx.AsyncClient,
) -> None:
    ada = await sign_up(http, "ada", ip="192.0.2.1")
    bob = await sign_up(http, "bob", ip="192.0.2.2")

    first = await ask(http, FEED, ip="198.51.100.1", token=ada)
    second = await ask(http, FEED, ip="198.51.100.2", token=ada)
    over = await ask(http, FEED, ip="198.51.100.3", token=ada)
    other_account = await ask(http, FEED, ip="198.51.100.1", token=bob)
    anonymous_there = await ask(http, FEED, ip="198.51.100.1")

    assert [first.status_code, second.status_code] == [200, 200]
    assert second.json()["extensions"]["cost"]["remaining"] == 100 - 82
    assert refusal(over)["limit"] == "budget.user"
    assert other_account.status_code == 200
    assert anonymous_there.status_code == 200


async def test_an_operation_over_the_budget_alone_is_refused_without_being_charged(
    http: httpx.AsyncClient,
) -> None:
    big = "{ publicFeed(first: 60) { edges { node { body author { handle } } } } }"  # 121

    refused = await ask(http, big, ip="198.51.100.7")
    after = await ask(http, FEED, ip="198.51.100.7")

    assert refusal(refused)["code"] == "RATE_LIMITED"
    assert after.status_code == 200
    assert after.json()["extensions"]["cost"]["remaining"] == 100 - 41
