# ruff: noqa: F811  (the fixtures `fetches` and `general` are imported from test_compiled.py)
"""Compiled operations (app/compiled.py) admit requests as the general path does: the
per-address request limit counted once and before any cold-cache work, the query budget and
its 429, a revoked cached session told to log in again, the media types the general path
reads, the database URL's options, no-store on refusals, persisted queries with the fast
path off. Each test states what the general path does and expects the same."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from starlette.applications import Starlette

from app import db
from app.compiled import CompiledOperations
from app.main import create_app
from app.request_limits import REQUESTS_IP
from app.runtime import Services
from app.settings import Settings
from tests.api.test_compiled import (  # noqa: F401  (fixtures)
    HOME,
    LOG_OUT,
    PUBLIC,
    fetches,
    general,
)
from tests.conftest import truncate
from tests.support.accounts import sign_up
from tests.support.graphql import GraphQLClient

CLIENT = "203.0.113.7"  # the `http` fixture's address


def _key(global_id: str) -> int:
    return int(base64.b64decode(global_id).decode().split(":", 1)[1])


@asynccontextmanager
async def _app(
    settings: Settings, **overrides: Any
) -> AsyncIterator[tuple[Starlette, GraphQLClient]]:
    await truncate(settings)
    values = {**settings.__dict__, "redis_prefix": f"chirp-test-{uuid.uuid4().hex[:8]}"}
    values.update(overrides)
    application = create_app(Settings(**values))
    async with application.router.lifespan_context(application):
        application.state.ready = True
        transport = httpx.ASGITransport(app=application, client=(CLIENT, 5555))
        async with httpx.AsyncClient(transport=transport, base_url="http://chirp.test") as http:
            yield application, GraphQLClient(http)


def _throttle(app: Starlette) -> Any:
    services: Services = app.state.services
    return services.runtime.throttle


# --- Limits -----------------------------------------------------------------------------


async def test_an_address_over_its_request_limit_costs_no_database_lookup(
    settings: Settings, fetches: list[int]
) -> None:
    """The general path refuses an address over `requests.ip` before it reads anything
    (RequestLimits, before BearerAuth). The fast path looks the bearer token up in SQL
    first, so a client over its limit still gets one session lookup per request (a token
    guesser is not slowed down by the limit at all)."""
    limits = {**settings.rate_limits, "requests.ip": "2/minute"}
    async with _app(settings, rate_limits=limits) as (_, gql):
        for _ in range(2):
            assert (await gql.post(PUBLIC)).status_code == 200
        fetches.clear()
        refused = [await gql.post(PUBLIC, token=f"guess-{n}") for n in range(5)]
        assert [r.status_code for r in refused] == [429] * 5
        assert fetches == [], f"{len(fetches)} SQL statements for 5 refused requests"


async def test_an_address_over_its_request_limit_gets_no_document_parsed_or_validated(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Likewise for CPU: the general path refuses an address over its limit before it reads
    the body; the fast path parses and validates every new document first (validation of a
    document built of repeated fragment spreads is exponential in its length, so a client
    the limit should stop still costs the server that work, twice over when the plan
    steps aside and the general path validates it again)."""
    compiled: list[str] = []
    original = CompiledOperations._compile

    def counted(self: CompiledOperations, query: str, name: str | None) -> Any:
        compiled.append(query)
        return original(self, query, name)

    monkeypatch.setattr(CompiledOperations, "_compile", counted)
    limits = {**settings.rate_limits, "requests.ip": "1/minute"}
    async with _app(settings, rate_limits=limits) as (_, gql):
        assert (await gql.post(PUBLIC)).status_code == 200
        compiled.clear()
        refused = [
            await gql.post(f"query Q{n} {{ publicFeed(first: 1) {{ edges {{ cursor }} }} }}")
            for n in range(5)
        ]
        assert [r.status_code for r in refused] == [429] * 5
        assert compiled == []


async def test_a_request_refused_with_a_revoked_cached_session_is_counted_once(
    app: Starlette, gql: GraphQLClient, general: GraphQLClient
) -> None:
    """The general path counts a request with a revoked token once against its address and
    answers 401 before admission. The fast path re-checks a cached session in the same
    statement as its read, after admission: it also counts the request once, and charges
    the account's budget for that one operation (the price of one round trip instead of
    two; the cache entry is dropped, so the next request is the general path's 401 at
    once)."""
    ada = await sign_up(gql, "ada")
    cached = await gql.post(HOME, {"first": 3}, token=ada.token)
    cost = cached.json()["extensions"]["cost"]["requestedQueryCost"]
    await gql.execute(LOG_OUT, token=ada.token)
    throttle = _throttle(app)
    budget_key = f"account:{_key(ada.id)}"
    requests_before = (await throttle.peek(REQUESTS_IP, CLIENT)).remaining
    budget_before = (await throttle.peek("budget.user", budget_key)).remaining

    refused = await gql.post(HOME, {"first": 3}, token=ada.token)
    again = await gql.post(HOME, {"first": 3}, token=ada.token)

    assert refused.status_code == again.status_code == 401
    assert refused.headers["cache-control"] == "no-store"
    requests_after = (await throttle.peek(REQUESTS_IP, CLIENT)).remaining
    budget_after = (await throttle.peek("budget.user", budget_key)).remaining
    assert (requests_before - requests_after, budget_before - budget_after) == (2, cost)


async def test_an_over_budget_refusal_counts_against_the_address_as_on_the_general_path(
    settings: Settings,
) -> None:
    """On the general path every /graphql request counts against `requests.ip` (RequestLimits
    counts it before the budget is charged), so a client refused by its budget still uses up
    its request limit. The fast path counts both together, all or nothing: a budget refusal
    is not counted, so such a client is never held by the per-address limit."""
    limits = {**settings.rate_limits, "requests.ip": "5/minute", "budget.anonymous": "1/hour"}
    remaining = {}
    for compiled in (True, False):
        async with _app(settings, rate_limits=limits, compiled_operations=compiled) as (app, gql):
            answers = [await gql.post(PUBLIC) for _ in range(3)]
            assert [a.status_code for a in answers] == [429] * 3
            assert {a.json()["errors"][0]["extensions"]["limit"] for a in answers} == {
                "budget.anonymous"
            }
            remaining[compiled] = (await _throttle(app).peek(REQUESTS_IP, CLIENT)).remaining
    assert remaining[True] == remaining[False] == 2


async def test_an_over_budget_refusal_is_the_general_paths_answer(settings: Settings) -> None:
    """The same 429 body (`extensions.cost` included) on both paths."""
    limits = {**settings.rate_limits, "budget.anonymous": "1/hour"}
    bodies = {}
    for compiled in (True, False):
        async with _app(settings, rate_limits=limits, compiled_operations=compiled) as (_, gql):
            answer = await gql.post(PUBLIC)
            assert answer.status_code == 429
            body = answer.json()
            for error in body.get("errors", []):
                error.get("extensions", {}).pop("retryAfter", None)
            bodies[compiled] = body
    assert bodies[True] == bodies[False]


async def test_a_revoked_cached_session_over_its_budget_is_told_to_log_in_again(
    settings: Settings,
) -> None:
    """The general path refuses a revoked token with 401 before admission, whatever the
    account's budget. The fast path charges the budget of a cached session before its first
    statement re-checks the session: over budget, a revoked (or suspended) session gets 429
    "over your query budget" instead of 401, and never learns that it must log in again."""
    limits = {**settings.rate_limits, "budget.user": "1/hour"}
    async with _app(settings, rate_limits=limits) as (_, gql):
        ada = await sign_up(gql, "ada")
        assert (await gql.post(HOME, {"first": 3}, token=ada.token)).status_code == 429  # cached
        engine = db.create_engine(settings)
        try:
            async with engine.begin() as conn:
                await conn.execute(text("UPDATE login_sessions SET revoked_at = created_at"))
        finally:
            await engine.dispose()

        refused = await gql.post(HOME, {"first": 3}, token=ada.token)

        assert refused.status_code == 401, refused.json()
        assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


# --- Robustness ---------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["text/json", "text/plain; charset=json"])
async def test_a_body_the_general_path_refuses_for_its_content_type_is_refused(
    gql: GraphQLClient, general: GraphQLClient, content_type: str
) -> None:
    """strawberry reads a POST body as JSON only when its media type is application/json
    (400 "Unsupported content type" otherwise); the fast path answers any type containing
    "json"."""
    body = b'{"query": "{ publicFeed(first: 1) { edges { cursor } } }"}'
    headers = {"content-type": content_type}
    fast = await gql.http.post("/graphql", content=body, headers=headers)
    slow = await general.http.post("/graphql", content=body, headers=headers)
    assert (fast.status_code, fast.text) == (slow.status_code, slow.text)


# --- The reader's connection ----------------------------------------------------------------


@pytest.mark.parametrize("option", ["ssl=prefer", "prepared_statement_cache_size=100"])
async def test_a_database_url_option_the_general_path_takes_works_for_compiled_reads(
    settings: Settings, option: str
) -> None:
    """SQLAlchemy's dialects take their own options in DATABASE_URL's query string (asyncpg:
    `ssl=require` for TLS, `prepared_statement_cache_size`; SQLite: the driver's `timeout`);
    the general path runs with them, and so must the compiled reader, which once turned the
    URL into a plain asyncpg DSN (asyncpg then sent unknown options to PostgreSQL as server
    settings, and every compiled read failed)."""
    if settings.is_sqlite:
        option = "timeout=5"  # SQLite's reader is SQLAlchemy's own connection
    url = f"{settings.database_url}?{option}"
    answers = {}
    for compiled in (True, False):
        async with _app(settings, database_url=url, compiled_operations=compiled) as (_, gql):
            response = await gql.post(PUBLIC)
            answers[compiled] = (response.status_code, response.json().get("errors"))
    assert answers[True] == answers[False] == (200, None)


# --- Caching -----------------------------------------------------------------------------


async def test_a_refused_anonymous_get_is_marked_no_store(settings: Settings) -> None:
    """docs/api.md, "Caching anonymous reads": "every refusal is `Cache-Control: no-store`".
    The per-address limit's 429, answered by the fast path for a compiled GET, carries no
    Cache-Control at all."""
    limits = {**settings.rate_limits, "requests.ip": "1/minute"}
    async with _app(settings, rate_limits=limits) as (_, gql):
        first = await gql.http.get("/graphql", params={"query": PUBLIC})
        assert first.headers["cache-control"] == "public, max-age=5"
        refused = await gql.http.get("/graphql", params={"query": PUBLIC})
        assert refused.status_code == 429
        assert refused.headers.get("cache-control") == "no-store"


# --- Turning it off ------------------------------------------------------------------------


async def test_persisted_queries_keep_working_with_compiled_operations_off(
    settings: Settings,
) -> None:
    """docs/operations.md: "`COMPILED_OPERATIONS=false` ... Nothing else changes for
    clients", and docs/api.md promises automatic persisted queries for any document. But
    the persisted-query protocol lives in the compiled-operations middleware: with it off, a
    hash-only request is a 400 ("no query") instead of PERSISTED_QUERY_NOT_FOUND, and the
    hash is never stored, so a client that relies on it gets no answer at all."""
    import hashlib

    document = PUBLIC
    extensions = {
        "persistedQuery": {
            "version": 1,
            "sha256Hash": hashlib.sha256(document.encode()).hexdigest(),
        }
    }
    answers = {}
    for compiled in (True, False):
        async with _app(settings, compiled_operations=compiled) as (_, gql):
            unknown = await gql.http.post("/graphql", json={"extensions": extensions})
            await gql.http.post("/graphql", json={"query": document, "extensions": extensions})
            by_hash = await gql.http.post("/graphql", json={"extensions": extensions})
            answers[compiled] = (
                unknown.status_code,
                unknown.text[:120],
                by_hash.status_code,
                by_hash.text[:9],
            )
    assert answers[True][0] == 200 and "PERSISTED_QUERY_NOT_FOUND" in answers[True][1]
    assert answers[True][2:] == (200, '{"data":{')
    assert answers[False] == answers[True]
