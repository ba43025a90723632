"""Idempotent mutations over HTTP (docs/api.md, "Retrying mutations safely"): a retry with the
same `Idempotency-Key` replays the first answer and writes nothing; the key is refused when
malformed or reused for another request, ignored on queries, left free by a mutation that
wrote nothing; anonymous keys are per client address. Keys in use: test_keys_in_use.py."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from app.runtime import Services
from models.accounts.tables import Account, FailedLogin
from models.idempotency.tables import IdempotencyKey
from models.posts.tables import Post
from tests.support.accounts import CREATE_POST, PASSWORD, SIGN_UP, sign_up
from tests.support.graphql import GraphQLClient
from tests.support.idempotency import code_of, count, post_input, send

ME = "query Me { viewer { handle } }"


async def test_a_retry_replays_the_first_answer_and_writes_nothing(
    http: httpx.AsyncClient, gql: GraphQLClient, services: Services
) -> None:
    ada = await sign_up(gql, "ada")

    first = await send(http, CREATE_POST, post_input("once"), key="k-1", token=ada.token)
    again = await send(http, CREATE_POST, post_input("once"), key="k-1", token=ada.token)

    assert first.status_code == again.status_code == 200
    assert first.json()["data"]["createPost"]["__typename"] == "PostPayload"
    assert again.json()["data"] == first.json()["data"]
    assert again.json()["extensions"]["idempotentReplay"] is True
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotentReplay" not in first.json().get("extensions", {})
    assert "idempotent-replayed" not in first.headers
    assert await count(services, Post.id) == 1


async def test_without_a_key_each_request_runs(
    http: httpx.AsyncClient, gql: GraphQLClient, services: Services
) -> None:
    ada = await sign_up(gql, "ada")

    await send(http, CREATE_POST, post_input("twice"), token=ada.token)
    await send(http, CREATE_POST, post_input("twice"), token=ada.token)

    assert await count(services, Post.id) == 2


async def test_the_same_key_with_other_variables_is_a_conflict_and_writes_nothing(
    http: httpx.AsyncClient, gql: GraphQLClient, services: Services
) -> None:
    ada = await sign_up(gql, "ada")
    await send(http, CREATE_POST, post_input("first"), key="k-2", token=ada.token)

    other = await send(http, CREATE_POST, post_input("second"), key="k-2", token=ada.token)

    assert other.status_code == 422
    assert "data" not in other.json()
    assert code_of(other) == "IDEMPOTENCY_KEY_REUSED"
    assert await count(services, Post.id) == 1


async def test_keys_are_per_account(
    http: httpx.AsyncClient, gql: GraphQLClient, services: Services
) -> None:
    ada, grace = await sign_up(gql, "ada"), await sign_up(gql, "grace")

    mine = await send(http, CREATE_POST, post_input("same"), key="shared", token=ada.token)
    theirs = await send(http, CREATE_POST, post_input("same"), key="shared", token=grace.token)

    assert (
        "extensions" not in theirs.json() or "idempotentReplay" not in theirs.json()["extensions"]
    )
    assert mine.json()["data"] != theirs.json()["data"]
    assert await count(services, Post.id) == 2


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("", "empty"),
        ("x" * 256, "256 characters"),
        ("caf\u00e9".encode("latin-1"), "printable ASCII"),
        (b"tab\there", "printable ASCII"),
    ],
)
async def test_a_malformed_key_is_refused_and_nothing_runs(
    http: httpx.AsyncClient, gql: GraphQLClient, services: Services, key: str | bytes, why: str
) -> None:
    ada = await sign_up(gql, "ada")

    refused = await send(http, CREATE_POST, post_input("no"), key=key, token=ada.token)

    assert refused.status_code == 400
    assert "data" not in refused.json()
    assert code_of(refused) == "IDEMPOTENCY_KEY_INVALID"
    assert why in refused.json()["errors"][0]["message"]
    assert await count(services, Post.id) == 0


async def test_the_longest_and_widest_keys_are_accepted(
    http: httpx.AsyncClient, gql: GraphQLClient, services: Services
) -> None:
    ada = await sign_up(gql, "ada")
    printable = "".join(chr(c) for c in range(0x21, 0x7F))

    for key in ("x" * 255, printable):
        answer = await send(http, CREATE_POST, post_input(key[:10]), key=key, token=ada.token)
        assert answer.json()["data"]["createPost"]["__typename"] == "PostPayload", answer.json()

    assert await count(services, IdempotencyKey.id) == 2


async def test_two_key_headers_are_refused(http: httpx.AsyncClient, gql: GraphQLClient) -> None:
    ada = await sign_up(gql, "ada")

    refused = await http.post(
        "/graphql",
        json={"query": CREATE_POST, "variables": post_input("no")},
        headers=[
            ("authorization", f"Bearer {ada.token}"),
            ("idempotency-key", "a"),
            ("idempotency-key", "b"),
        ],
    )

    assert refused.status_code == 400
    assert code_of(refused) == "IDEMPOTENCY_KEY_INVALID"


async def test_a_key_on_a_query_is_ignored(
    http: httpx.AsyncClient, gql: GraphQLClient, services: Services
) -> None:
    ada = await sign_up(gql, "ada")

    for key in ("q-1", ""):
        answer = await send(http, ME, key=key, token=ada.token)
        assert answer.status_code == 200
        assert answer.json()["data"] == {"viewer": {"handle": "ada"}}
        assert "idempotentReplay" not in answer.json().get("extensions", {})
    assert await count(services, IdempotencyKey.id) == 0


async def test_a_mutation_refused_before_writing_leaves_the_key_free(
    http: httpx.AsyncClient, gql: GraphQLClient, services: Services
) -> None:
    ada = await sign_up(gql, "ada")

    # The body is refused inside the action's transaction, which rolls back with the key.
    too_long = await send(http, CREATE_POST, post_input("x" * 501), key="k-fix", token=ada.token)
    fixed = await send(http, CREATE_POST, post_input("fixed"), key="k-fix", token=ada.token)
    # Variables that do not fit: the operation never runs.
    invalid = await send(http, CREATE_POST, {"input": {}}, key="k-valid", token=ada.token)
    valid = await send(http, CREATE_POST, post_input("valid"), key="k-valid", token=ada.token)

    assert too_long.json()["data"]["createPost"]["code"] == "POST_TOO_LONG"
    assert fixed.json()["data"]["createPost"]["__typename"] == "PostPayload"
    assert "required field 'body'" in invalid.json()["errors"][0]["message"]
    assert not invalid.json().get("data")
    assert valid.json()["data"]["createPost"]["__typename"] == "PostPayload"
    assert "idempotentReplay" not in fixed.json().get("extensions", {})
    assert await count(services, Post.id) == 2


async def test_anonymous_sign_up_is_keyed_by_client_address(
    app: Starlette, services: Services
) -> None:
    variables = {"input": {"handle": "ada", "email": "ada@example.com", "password": PASSWORD}}

    async with client_at(app, "198.51.100.1") as first, client_at(app, "198.51.100.2") as other:
        created = await send(first, SIGN_UP, variables, key="signup-1")
        replayed = await send(first, SIGN_UP, variables, key="signup-1")
        elsewhere = await send(other, SIGN_UP, variables, key="signup-1")

    assert created.json()["data"]["signUp"]["__typename"] == "SessionPayload"
    assert replayed.json()["data"] == created.json()["data"]
    assert replayed.json()["extensions"]["idempotentReplay"] is True
    # Another address's key of the same name is its own: this request ran (and found the
    # handle taken).
    assert elsewhere.json()["data"]["signUp"]["code"] == "HANDLE_TAKEN"
    assert "idempotentReplay" not in elsewhere.json().get("extensions", {})
    assert await count(services, Account.id) == 1


class client_at:  # noqa: N801 - used as `async with client_at(...)`
    """An HTTP client of the app seen from `address`."""

    def __init__(self, app: Starlette, address: str) -> None:
        transport = httpx.ASGITransport(app=app, client=(address, 5555))
        self.client = httpx.AsyncClient(transport=transport, base_url="http://chirp.test")

    async def __aenter__(self) -> httpx.AsyncClient:
        return await self.client.__aenter__()

    async def __aexit__(self, *exc: object) -> None:
        await self.client.__aexit__(*exc)


async def test_browsers_may_send_the_key_and_read_the_replay_header(
    http: httpx.AsyncClient,
) -> None:
    preflight = await http.options(
        "/graphql",
        headers={
            "origin": "https://app.example.com",
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization,content-type,idempotency-key",
        },
    )
    answer = await http.post(
        "/graphql",
        json={"query": ME},
        headers={"origin": "https://app.example.com", "idempotency-key": "k"},
    )

    assert preflight.status_code == 200
    assert "idempotency-key" in preflight.headers["access-control-allow-headers"].lower()
    exposed = answer.headers["access-control-expose-headers"].lower()
    assert "idempotent-replayed" in exposed and "retry-after" in exposed


LOG_IN = """
mutation LogIn($input: LogInInput!) {
  logIn(input: $input) { __typename ... on UserError { code } }
}
"""


async def test_an_error_answered_after_a_write_is_replayed_not_run_again(
    http: httpx.AsyncClient, gql: GraphQLClient, services: Services
) -> None:
    # A refused log-in records the attempt (a write), so its answer is the key's.
    await sign_up(gql, "ada")
    wrong = {"input": {"login": "ada", "password": "not the password"}}

    first = await send(http, LOG_IN, wrong, key="login-1")
    again = await send(http, LOG_IN, wrong, key="login-1")

    assert first.json()["data"]["logIn"]["__typename"] != "SessionPayload"
    assert again.status_code == 200
    assert again.json()["data"] == first.json()["data"]
    assert again.json()["extensions"]["idempotentReplay"] is True
    assert await count(services, FailedLogin.id) == 1
