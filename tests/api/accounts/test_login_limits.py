"""Log-in rate limits with their default rules (app/settings.py), on both back ends: the
throttle counts in process memory on SQLite (the embedded default) and in Redis on
PostgreSQL. Client addresses vary through X-Forwarded-For from the test client, which the
settings trust as a proxy.

The attack of issue 11: one request carrying 30 aliased `logIn` guesses used to make 30
password checks (90 guesses in 0.8 s were all answered, and the right password still worked
afterwards)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.runtime import Services
from app.settings import DEFAULT_RATE_LIMITS, Settings
from models.accounts.login_limits import IN_FLIGHT_PER_ADDRESS
from models.accounts.tables import Account, FailedLogin
from tests.conftest import make_settings
from tests.support.accounts import PASSWORD, SIGN_UP
from tests.support.backends import Database
from tests.support.budgets import within_one_window

PEER = "203.0.113.7"  # the test client's address: the trusted proxy
OWNER = "198.51.100.10"
ATTACKER = "192.0.2.66"
LOG_IN = """
mutation LogIn($login: String!, $password: String!) {
  logIn(input: {login: $login, password: $password}) {
    __typename
    ... on UserError { code }
  }
}
"""


@pytest.fixture(autouse=True)
async def one_window() -> None:
    """Counters in process memory keep windows that follow the clock: each test's hits fall
    within one window, or a boundary in the middle would let a weighted count slip."""
    await within_one_window(900, margin=10)


@pytest.fixture
def settings(database: Database) -> Settings:
    return make_settings(database, rate_limits=DEFAULT_RATE_LIMITS, trusted_proxies=(PEER,))


async def send(
    http: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None, *, ip: str
) -> dict[str, Any]:
    response = await http.post(
        "/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"x-forwarded-for": ip},
    )
    assert response.status_code == 200, response.text
    payload: dict[str, Any] = response.json()
    return payload


async def sign_up(http: httpx.AsyncClient, handle: str, *, ip: str) -> None:
    variables = {
        "input": {"handle": handle, "email": f"{handle}@example.com", "password": PASSWORD}
    }
    payload = await send(http, SIGN_UP, variables, ip=ip)
    assert payload["data"]["signUp"]["__typename"] == "SessionPayload", payload


async def log_in(http: httpx.AsyncClient, login: str, password: str, *, ip: str) -> str:
    """The outcome: the result's typename or error code, or the top-level error's code."""
    payload = await send(http, LOG_IN, {"login": login, "password": password}, ip=ip)
    if payload.get("errors"):
        code: str = payload["errors"][0]["extensions"]["code"]
        return code
    result = payload["data"]["logIn"]
    return str(result.get("code") or result["__typename"])


async def password_checks(services: Services, handle: str) -> int:
    """Refused log-ins that checked a password: each leaves a row for support."""
    async with services.runtime.read_sessionmaker() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(FailedLogin)
            .join(Account, Account.id == FailedLogin.account_id)
            .where(Account.handle == handle)
        )
    return int(count or 0)


async def test_thirty_aliased_guesses_make_five_password_checks_and_the_rest_are_refused(
    http: httpx.AsyncClient, services: Services
) -> None:
    await sign_up(http, "victim", ip=OWNER)
    guesses = (
        "mutation { "
        + " ".join(
            f'g{i}: logIn(input: {{login: "victim", password: "guess number {i}"}}) '
            "{ __typename ... on UserError { code } }"
            for i in range(30)
        )
        + " }"
    )

    payload = await send(http, guesses, ip=ATTACKER)
    checks = await password_checks(services, "victim")
    right_from_attacker = await log_in(http, "victim", PASSWORD, ip=ATTACKER)

    assert checks == 5
    # Mutations run in order; the sixth guess is refused before its password is checked,
    # and its (non-null) result takes the operation's data with it: nothing after it runs.
    [refused] = payload["errors"]
    assert refused["path"] == ["g5"]
    assert refused["extensions"]["code"] == "RATE_LIMITED"
    assert refused["extensions"]["limit"] == "login.account_ip"
    assert 1 <= refused["extensions"]["retryAfter"] <= 15 * 60
    assert payload["data"] is None
    # Even the right password is refused from there, without being checked.
    assert right_from_attacker == "RATE_LIMITED"
    assert await password_checks(services, "victim") == 5
    # The owner, elsewhere, is not locked out.
    assert await log_in(http, "victim", PASSWORD, ip=OWNER) == "SessionPayload"


async def test_the_right_password_forgives_an_address_its_failures(
    http: httpx.AsyncClient,
) -> None:
    await sign_up(http, "typist", ip=OWNER)

    typos = [await log_in(http, "typist", "wrong password", ip=OWNER) for _ in range(4)]
    right = await log_in(http, "typist", PASSWORD, ip=OWNER)
    later = [await log_in(http, "typist", "wrong password", ip=OWNER) for _ in range(5)]

    assert typos == ["INVALID_CREDENTIALS"] * 4
    assert right == "SessionPayload"
    assert later == ["INVALID_CREDENTIALS"] * 5


async def test_a_flood_at_one_account_from_many_addresses_does_not_lock_its_owner_out(
    http: httpx.AsyncClient, services: Services
) -> None:
    await sign_up(http, "famous", ip=OWNER)  # the owner's address opened a session

    # 20 failures (login.account's first window) from four addresses, five each.
    flood = [
        await log_in(http, "famous", f"guess {n}", ip=f"192.0.2.{address}")
        for address in range(1, 5)
        for n in range(5)
    ]
    stranger = await log_in(http, "famous", PASSWORD, ip="192.0.2.99")
    owner = await log_in(http, "famous", PASSWORD, ip=OWNER)
    # IPv6: the owner's whole /64 is theirs.
    await sign_up(http, "sixer", ip="2001:db8:1:2::10")
    for address in range(1, 5):
        for n in range(5):
            await log_in(http, "sixer", f"guess {n}", ip=f"2001:db8:ff:{address}::1")
    sixer_elsewhere = await log_in(http, "sixer", PASSWORD, ip="2001:db8:ff:99::1")
    sixer_at_home = await log_in(http, "sixer", PASSWORD, ip="2001:db8:1:2:abcd::7")

    assert flood == ["INVALID_CREDENTIALS"] * 20
    assert await password_checks(services, "famous") == 20
    assert stranger == "RATE_LIMITED"  # a new address, even with the password
    assert owner == "SessionPayload"
    assert (sixer_elsewhere, sixer_at_home) == ("RATE_LIMITED", "SessionPayload")


async def test_a_flood_at_many_accounts_from_one_address_is_slowed_and_others_log_in(
    http: httpx.AsyncClient,
) -> None:
    await sign_up(http, "bystander", ip=OWNER)
    stuffing = (
        "mutation { "
        + " ".join(
            f'n{i}: logIn(input: {{login: "nobody{i}", password: "leaked {i}"}}) '
            "{ __typename ... on UserError { code } }"
            for i in range(25)
        )
        + " }"
    )

    payload = await send(http, stuffing, ip=ATTACKER)
    next_try = await log_in(http, "bystander", PASSWORD, ip=ATTACKER)
    honest = await log_in(http, "bystander", PASSWORD, ip=OWNER)

    # 20 failures from one address (login.ip), whichever accounts they named.
    [refused] = payload["errors"]
    assert refused["path"] == ["n20"]
    assert refused["extensions"]["limit"] == "login.ip"
    assert next_try == "RATE_LIMITED"
    assert honest == "SessionPayload"


BEGIN_TOTP_GUESS = (
    'g{i}: beginTotpEnrolment(input: {{password: "guess number {i}"}}) '
    "{{ __typename ... on UserError {{ code }} }}"
)
BEGIN_TOTP = """
mutation Begin($password: String!) {
  beginTotpEnrolment(input: {password: $password}) { __typename ... on UserError { code } }
}
"""


async def test_a_stolen_session_cannot_guess_the_password_through_totp_enrolment(
    http: httpx.AsyncClient,
) -> None:
    # Turning TOTP on or off asks for the password again, so a stolen session token alone
    # cannot enrol its own authenticator: that check is held to the log-in limits too, or it
    # is an unlimited password oracle.
    response = await http.post(
        "/graphql",
        json={
            "query": SIGN_UP,
            "variables": {
                "input": {"handle": "stolen", "email": "stolen@example.com", "password": PASSWORD}
            },
        },
        headers={"x-forwarded-for": OWNER},
    )
    token = response.json()["data"]["signUp"]["token"]
    guesses = "mutation { " + " ".join(BEGIN_TOTP_GUESS.format(i=i) for i in range(30)) + " }"
    auth = {"authorization": f"Bearer {token}", "x-forwarded-for": ATTACKER}

    payload = (await http.post("/graphql", json={"query": guesses}, headers=auth)).json()
    right = (
        await http.post(
            "/graphql",
            json={"query": BEGIN_TOTP, "variables": {"password": PASSWORD}},
            headers=auth,
        )
    ).json()

    [refused] = payload["errors"]
    assert refused["path"] == ["g5"]
    assert refused["extensions"]["code"] == "RATE_LIMITED"
    assert refused["extensions"]["limit"] == "login.account_ip"
    assert right["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    # Nor does it lock the owner out of logging in elsewhere.
    assert await log_in(http, "stolen", PASSWORD, ip=OWNER) == "SessionPayload"


async def test_parallel_guesses_from_one_address_cannot_pass_the_same_count(
    http: httpx.AsyncClient,
) -> None:
    # `login.ip` counts a failure once it is known: 18 guesses at once used to pass its
    # count together, twice (36 password checks against a limit of 20). Now at most
    # IN_FLIGHT_PER_ADDRESS run at once from one address; the others are refused at once.
    outcomes: list[str] = []
    for round_ in range(3):
        outcomes += await asyncio.gather(
            *(log_in(http, f"nobody{round_}x{i}", "wrong password", ip=ATTACKER) for i in range(18))
        )

    checked = outcomes.count("INVALID_CREDENTIALS")
    assert set(outcomes) <= {"INVALID_CREDENTIALS", "RATE_LIMITED"}
    assert IN_FLIGHT_PER_ADDRESS == 4
    assert checked <= 20 + 4  # login.ip's 20, overshot by at most those in flight
    assert outcomes.count("RATE_LIMITED") == len(outcomes) - checked > 0
