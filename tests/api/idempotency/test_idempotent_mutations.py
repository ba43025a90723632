"""Idempotent mutations over HTTP (docs/api.md, "Retrying mutations safely"): a retry with the
same `Idempotency-Key` replays the first answer and writes nothing; the key refused when
malformed, in use or reused for another request; anonymous keys are per client address."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select
from starlette.applications import Starlette

from app.runtime import Services
from models.accounts.tables import Account
from models.base import utcnow
from models.idempotency import actions as idempotency
from models.idempotency.tables import IdempotencyKey
from models.posts.tables import Post
from tests.conftest import eventually
from tests.support.accounts import CREATE_POST, PASSWORD, SIGN_UP, sign_up
from tests.support.graphql import GraphQLClient

ME = "query Me { viewer { handle } }"


async def send(
    http: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    key: str | bytes | None = None,
    token: str | None = None,
) -> httpx.Response:
    headers: dict[str, Any] = {"accept": "application/graphql-response+json"}
    if key is not None:
        headers["idempotency-key"] = key
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    body: dict[str, Any] = {"query": query}
    if variables is not None:
        body["variables"] = variables
    return await http.post("/graphql", json=body, headers=headers)


async def count(services: Services, column: Any) -> int:
    async with services.runtime.read_sessionmaker() as session:
        return int(await session.scalar(select(func.count(column))) or 0)


def post_input(body: str) -> dict[str, Any]:
    return {"input": {"body": body}}


def code_of(response: httpx.Response) -> str:
    errors = response.json()["errors"]
    assert len(errors) == 1, errors
    code: str = errors[0]["extensions"]["code"]
    return code


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


async def test_concurrent_duplicates_have_one_effect(
    http: httpx.AsyncClient, gql: GraphQLClient, services: Services
) -> None:
    ada = await sign_up(gql, "ada")

    answers = await asyncio.gather(
        *(
            send(http, CREATE_POST, post_input("racing"), key="k-race", token=ada.token)
            for _ in range(4)
        )
    )

    assert await count(services, Post.id) == 1
    ran = [
        a
        for a in answers
        if a.status_code == 200 and "idempotentReplay" not in a.json().get("extensions", {})
    ]
    assert len(ran) == 1, [a.json() for a in answers]
    for answer in answers:
        if answer.status_code == 200:
            assert answer.json()["data"] == ran[0].json()["data"]
        else:
            assert answer.status_code == 409, answer.json()
            assert code_of(answer) == "IDEMPOTENCY_KEY_IN_USE"
            assert answer.headers["retry-after"] == "1"
    # Once the first has answered, every retry is its replay.
    retry = await send(http, CREATE_POST, post_input("racing"), key="k-race", token=ada.token)
    assert retry.json()["data"] == ran[0].json()["data"]


async def test_a_key_taken_without_an_answer_is_in_use(
    http: httpx.AsyncClient, gql: GraphQLClient, services: Services
) -> None:
    # What a retry finds while the first request runs, or after its process died between
    # its commit and storing its answer.
    ada = await sign_up(gql, "ada")
    viewer = await gql.execute(ME, token=ada.token)
    assert viewer["viewer"]["handle"] == "ada"
    async with services.runtime.read_sessionmaker() as session:
        account_id = await session.scalar(select(Account.id).where(Account.handle == "ada"))
    fingerprint = idempotency.fingerprint_of(
        operation_name="Post", document=CREATE_POST, variables=post_input("lost")
    )
    async with services.runtime.transactions.begin() as session:
        await idempotency.take_key(
            session,
            scope=idempotency.scope_of(account_id=account_id, client_ip=""),
            key="k-lost",
            fingerprint=fingerprint,
            operation_name=None,
            expires_at=utcnow() + timedelta(hours=1),
        )

    retry = await send(http, CREATE_POST, post_input("lost"), key="k-lost", token=ada.token)

    assert retry.status_code == 409
    assert code_of(retry) == "IDEMPOTENCY_KEY_IN_USE"
    assert retry.json()["errors"][0]["extensions"]["retryAfter"] == 1
    assert await count(services, Post.id) == 0


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


async def test_a_duplicate_that_passed_the_look_up_loses_at_its_first_write(
    http: httpx.AsyncClient, gql: GraphQLClient, services: Services
) -> None:
    # Another request holds the key in a transaction not yet committed: this one's look-up
    # finds nothing, so it runs, and its first write meets the key (waiting on the unique
    # index on PostgreSQL, on the writer's lock on SQLite) and is refused, writing nothing.
    ada = await sign_up(gql, "ada")
    async with services.runtime.read_sessionmaker() as session:
        account_id = await session.scalar(select(Account.id).where(Account.handle == "ada"))
    first = REGISTRY.get_sample_value("chirp_idempotent_requests_total", {"outcome": "first"})
    async with services.runtime.transactions.begin() as holder:
        await idempotency.take_key(
            holder,
            scope=idempotency.scope_of(account_id=account_id, client_ip=""),
            key="k-held",
            fingerprint=idempotency.fingerprint_of(
                operation_name="Post", document=CREATE_POST, variables=post_input("late")
            ),
            operation_name="Post",
            expires_at=utcnow() + timedelta(hours=1),
        )
        racing = asyncio.create_task(
            send(http, CREATE_POST, post_input("late"), key="k-held", token=ada.token)
        )

        async def looked_up() -> bool:
            now = REGISTRY.get_sample_value("chirp_idempotent_requests_total", {"outcome": "first"})
            return now == (first or 0) + 1

        await eventually(looked_up)
    answer = await racing

    assert answer.status_code == 409, answer.json()
    assert answer.json()["data"] is None
    assert code_of(answer) == "IDEMPOTENCY_KEY_IN_USE"
    assert answer.json()["errors"][0]["path"] == ["createPost"]
    assert await count(services, Post.id) == 0


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
