"""Compiled operations (app/compiled.py) answer exactly what the general executor answers:
the same documents, for the same viewers (anonymous, plain users, a blocked one, staff),
over a graph with follows, mutes, blocks, reposts, replies, followers-only, deleted, hidden
and limited posts, on both back ends. And a session the fast path cached is refused the
moment it is revoked or its account suspended."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.applications import Starlette

from app.main import create_app
from app.runtime import Services
from app.settings import Settings
from models.timeline import queries
from models.timeline.reader import Reader
from tests.support.accounts import User, follow, post, sign_up
from tests.support.graphql import GraphQLClient
from tests.support.moderation import HIDE_POST, LIMIT_ACCOUNT, SUSPEND_ACCOUNT, act
from tests.support.staff import make_staff

POST_FIELDS = """
  __typename id body visibility createdAt editedAt likeCount repostCount replyCount sensitive
  hidden viewerHasLiked
  author { __typename id handle displayName bio avatarUrl createdAt followersCount
           followingCount postsCount viewerFollows }
  repostOf { id body author { handle } replyTo { id } }
  replyTo { id body viewerHasLiked }
"""
PAGE = f"""
  __typename
  edges {{ __typename cursor node {{ {POST_FIELDS} }} }}
  pageInfo {{ __typename hasNextPage hasPreviousPage startCursor endCursor }}
"""
HOME = f"query Home($first: Int!, $after: String) {{ homeTimeline(first: $first, after: $after) {{ {PAGE} }} }}"
PUBLIC = f"query {{ feed: publicFeed(first: 3) {{ {PAGE} }} }}"
PUBLIC_ALL = f"query {{ publicFeed(first: 50) {{ {PAGE} }} }}"
ACCOUNT = f"""
query ($handle: String!) {{
  account(handle: $handle) {{ handle ...Counts posts(first: 50) {{ {PAGE} }} }}
}}
fragment Counts on Account {{ followersCount viewerFollows }}
"""
THREAD = f"""
query ($id: ID!) {{ post(id: $id) {{ id body thread(first: 50) {{ {PAGE} }} }} }}
"""
NODE = f"""
query ($id: ID!) {{
  node(id: $id) {{
    __typename id
    ... on Post {{ {POST_FIELDS} }}
    ... on Account {{ handle viewerFollows posts(first: 5) {{ edges {{ node {{ id }} }} }} }}
  }}
}}
"""
LIKE = "mutation ($id: ID!) { likePost(input: {postId: $id}) { __typename } }"
REPOST = "mutation ($id: ID!) { repostPost(input: {postId: $id}) { __typename } }"
DELETE = "mutation ($id: ID!) { deletePost(input: {postId: $id}) { __typename } }"
EDGE = "mutation ($id: ID!) {{ {name}(input: {{accountId: $id}}) {{ __typename }} }}"
LOG_OUT = "mutation { logOut { __typename } }"


@pytest.fixture
async def general(app: Starlette, settings: Settings) -> AsyncIterator[GraphQLClient]:
    """A second app on the same database with compiled operations turned off."""
    plain = create_app(Settings(**{**settings.__dict__, "compiled_operations": False}))
    async with plain.router.lifespan_context(plain):
        plain.state.ready = True
        transport = httpx.ASGITransport(app=plain, client=("203.0.113.8", 5555))
        async with httpx.AsyncClient(transport=transport, base_url="http://chirp.test") as http:
            yield GraphQLClient(http)


@pytest.fixture
def fetches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the compiled path's statements (a spy on the real reader, not a stand-in)."""
    seen: list[int] = []
    original = Reader.fetch

    async def counted(self: Reader, *args: Any, **kwargs: Any) -> Any:
        seen.append(1)
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(Reader, "fetch", counted)
    return seen


async def _edge(gql: GraphQLClient, name: str, actor: User, target: User) -> None:
    await gql.execute(EDGE.format(name=name), {"id": target.id}, token=actor.token)


async def _graph(gql: GraphQLClient, services: Services) -> dict[str, Any]:
    ada, bob, cy, dee, eve, limited = [
        await sign_up(gql, h) for h in ("ada", "bob", "cyd", "dee", "eve", "lim")
    ]
    moderator = await make_staff(gql, services, "mod", "MODERATOR")
    for follower, followee in [
        (ada, bob), (ada, cy), (ada, dee), (ada, limited), (bob, ada), (dee, cy),
        (moderator, bob), (moderator, cy),
    ]:  # fmt: skip
        await follow(gql, follower, followee)
    root = await post(gql, bob, "bob's root")
    private = await post(gql, bob, "bob, followers only", visibility="FOLLOWERS")
    reply = await post(gql, cy, "cy replies", replyToId=root)
    await post(gql, eve, "eve replies", replyToId=root)
    await post(gql, dee, "dee replies privately", replyToId=root, visibility="FOLLOWERS")
    cy_post = await post(gql, cy, "cy posts")
    await gql.execute(REPOST, {"id": cy_post}, token=dee.token)
    await gql.execute(REPOST, {"id": private}, token=ada.token)
    await gql.execute(LIKE, {"id": root}, token=ada.token)
    await gql.execute(LIKE, {"id": reply}, token=ada.token)
    gone = await post(gql, bob, "bob deletes this")
    await gql.execute(DELETE, {"id": gone}, token=bob.token)
    hidden = await post(gql, cy, "cy's hidden post")
    await act(gql, HIDE_POST, moderator, postId=hidden, reason="rule 3")
    await post(gql, limited, "a limited account's post")
    await act(gql, LIMIT_ACCOUNT, moderator, accountId=limited.id, reason="rule 4")
    await _edge(gql, "muteAccount", ada, dee)
    await _edge(gql, "blockAccount", eve, ada)
    for n in range(4):
        await post(gql, ada, f"ada {n}")
    viewers: dict[str, str | None] = {
        "anonymous": None,
        "ada": ada.token,
        "bob": bob.token,
        "eve": eve.token,
        "moderator": moderator.token,
    }
    return {
        "viewers": viewers,
        "operations": [
            (HOME, {"first": 3}),
            (HOME, {"first": 50}),
            (PUBLIC, None),
            (PUBLIC_ALL, None),
            (ACCOUNT, {"handle": "bob"}),
            (ACCOUNT, {"handle": "CYD"}),
            (ACCOUNT, {"handle": "ada"}),
            (ACCOUNT, {"handle": "lim"}),
            (ACCOUNT, {"handle": "nobody"}),
            (THREAD, {"id": root}),
            (THREAD, {"id": reply}),
            (NODE, {"id": root}),
            (NODE, {"id": private}),
            (NODE, {"id": hidden}),
            (NODE, {"id": gone}),
            (NODE, {"id": ada.id}),
            (NODE, {"id": eve.id}),
        ],
    }


async def _pages_to_the_end(gql: GraphQLClient, token: str | None) -> list[dict[str, Any]]:
    pages, after = [], None
    while True:
        data = await gql.execute(HOME, {"first": 2, "after": after}, token=token)
        pages.append(data)
        info = data["homeTimeline"]["pageInfo"]
        if not info["hasNextPage"]:
            return pages
        after = info["endCursor"]


async def test_compiled_answers_are_the_general_executors(
    gql: GraphQLClient, general: GraphQLClient, services: Services, fetches: list[int]
) -> None:
    graph = await _graph(gql, services)
    compared = 0
    for viewer, token in graph["viewers"].items():
        for document, variables in graph["operations"]:
            if document is HOME and token is None:
                continue
            fetches.clear()
            fast = await gql.post(document, variables, token=token)
            assert fetches, f"not compiled: {document[:40]}"
            slow = await general.post(document, variables, token=token)
            assert fast.status_code == slow.status_code == 200
            assert fast.json()["data"] == slow.json()["data"], (viewer, document, variables)
            assert (
                fast.json()["extensions"]["cost"]["requestedQueryCost"]
                == (slow.json()["extensions"]["cost"]["requestedQueryCost"])
            )
            compared += 1
        if token is not None:
            assert await _pages_to_the_end(gql, token) == await _pages_to_the_end(general, token)
    assert compared == 5 * 17 - 2


async def test_what_the_fast_path_does_not_answer_gets_the_general_paths_errors(
    gql: GraphQLClient, general: GraphQLClient, fetches: list[int]
) -> None:
    ada = await sign_up(gql, "ada")
    cases: list[tuple[str, dict[str, Any] | None, str | None]] = [
        (HOME, {"first": 3}, None),  # UNAUTHENTICATED
        (HOME, {"first": 0}, ada.token),  # BAD_USER_INPUT
        (HOME, {"first": 3, "after": "bogus"}, ada.token),
        (HOME, {"first": "3"}, ada.token),  # a variable of the wrong type
        (NODE, {"id": "not an id"}, ada.token),
        (HOME, {"first": 3}, "an unknown token"),  # 401
    ]
    for document, variables, token in cases:
        fetches.clear()
        fast = await gql.post(document, variables, token=token)
        slow = await general.post(document, variables, token=token)
        assert (fast.status_code, _codes(fast)) == (slow.status_code, _codes(slow))
        assert _codes(fast), (document, variables)
    # The unknown token is looked up once by the fast path, then refused by the general one.
    assert len(fetches) <= 1


def _codes(response: httpx.Response) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in response.json().get("errors", [])]


async def test_a_cached_session_is_refused_as_soon_as_it_is_revoked(
    gql: GraphQLClient, services: Services
) -> None:
    ada = await sign_up(gql, "ada")
    assert (await gql.post(HOME, {"first": 3}, token=ada.token)).status_code == 200  # cached
    await gql.execute(LOG_OUT, token=ada.token)

    after = await gql.post(HOME, {"first": 3}, token=ada.token)

    assert after.status_code == 401
    assert _codes(after) == ["UNAUTHENTICATED"]


async def test_a_cached_session_of_a_suspended_account_is_refused(
    gql: GraphQLClient, services: Services
) -> None:
    ada = await sign_up(gql, "ada")
    moderator = await make_staff(gql, services, "mod", "MODERATOR")
    # Cached on a page that has rows, and on a read that finds nothing.
    assert (await gql.post(PUBLIC, token=ada.token)).status_code == 200
    await act(gql, SUSPEND_ACCOUNT, moderator, accountId=ada.id, reason="rule 5")

    refused = [
        await gql.post(PUBLIC, token=ada.token),
        await gql.post(ACCOUNT, {"handle": "nobody"}, token=ada.token),
    ]

    assert [r.status_code for r in refused] == [401, 401]


async def test_a_failure_in_the_compiled_path_is_masked_with_the_request_id(
    gql: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stand-in failure, as in tests/api/test_http.py: the reader raises what a driver bug
    # would.
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("SELECT secret FROM posts -- driver exploded")

    monkeypatch.setattr(Reader, "fetch", broken)

    response = await gql.post(PUBLIC)

    error = response.json()["errors"][0]
    assert response.status_code == 200 and response.json()["data"] is None
    assert error["extensions"] == {
        "code": "INTERNAL_SERVER_ERROR",
        "requestId": response.headers["x-request-id"],
    }
    assert "secret" not in response.text


async def test_compiled_operations_count_against_the_same_budget_and_request_limit(
    settings: Settings,
) -> None:
    tight = Settings(
        **{
            **settings.__dict__,
            "rate_limits": {
                **settings.rate_limits,
                "requests.ip": "3/minute",
                "budget.anonymous": "1000/hour",
            },
        }
    )
    app = create_app(tight)
    async with app.router.lifespan_context(app):
        app.state.ready = True
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 5555))
        async with httpx.AsyncClient(transport=transport, base_url="http://chirp.test") as http:
            gql = GraphQLClient(http)
            first = await gql.post(PUBLIC)
            cost = first.json()["extensions"]["cost"]
            assert cost["limit"] == 1000 and cost["remaining"] == 1000 - cost["requestedQueryCost"]
            # The general path and the compiled one share the per-address limit.
            await gql.post("{ viewer { id } }")
            await gql.post(PUBLIC)
            refused = await gql.post(PUBLIC)
            assert refused.status_code == 429
            assert _codes(refused) == ["RATE_LIMITED"]
            assert refused.json()["errors"][0]["extensions"]["limit"] == "requests.ip"


def _persisted(document: str) -> dict[str, Any]:
    digest = hashlib.sha256(document.encode()).hexdigest()
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


async def test_automatic_persisted_queries_store_a_document_by_its_hash(
    gql: GraphQLClient, http: httpx.AsyncClient, general: GraphQLClient
) -> None:
    await post(gql, await sign_up(gql, "ada"), "hello")
    viewer_doc = "{ viewer { id } }"  # not compiled: the general path runs it, rewritten
    for document in (PUBLIC, viewer_doc):
        extensions = _persisted(document)
        unknown = await http.post("/graphql", json={"extensions": extensions})
        assert unknown.status_code == 200 and _codes(unknown) == ["PERSISTED_QUERY_NOT_FOUND"]
        assert unknown.json()["errors"][0]["message"] == "PersistedQueryNotFound"

        stored = await http.post("/graphql", json={"query": document, "extensions": extensions})
        by_hash = await http.post("/graphql", json={"extensions": extensions})
        over_get = await http.get(
            "/graphql", params={"extensions": json.dumps(extensions)}, headers={"accept": "*/*"}
        )

        expected = (await general.post(document)).json()["data"]
        assert stored.json()["data"] == by_hash.json()["data"] == expected
        assert over_get.status_code == 200 and over_get.json()["data"] == expected

    wrong = await http.post("/graphql", json={"query": PUBLIC, "extensions": _persisted("{x}")})
    assert wrong.status_code == 400 and _codes(wrong) == ["PERSISTED_QUERY_HASH_MISMATCH"]


async def test_only_anonymous_reads_over_get_are_marked_cacheable(
    gql: GraphQLClient, http: httpx.AsyncClient
) -> None:
    ada = await sign_up(gql, "ada")
    await post(gql, ada, "hello")
    params = {"query": PUBLIC}

    anonymous = await http.get("/graphql", params=params)
    again = await http.get(
        "/graphql", params=params, headers={"if-none-match": anonymous.headers["etag"]}
    )
    signed_in = await http.get(
        "/graphql", params=params, headers={"authorization": f"Bearer {ada.token}"}
    )
    over_post = await gql.post(PUBLIC)
    general_get = await http.get("/graphql", params={"query": "{ viewer { id } }"})

    assert anonymous.status_code == 200
    assert anonymous.headers["cache-control"] == "public, max-age=5"
    assert "Authorization" in anonymous.headers["vary"]
    # A shared answer carries no budget figures: they are the client address's own.
    assert set(anonymous.json()["extensions"]["cost"]) == {"requestedQueryCost", "maxCost"}
    assert again.status_code == 304 and again.content == b""
    assert signed_in.status_code == 200 and signed_in.headers["cache-control"] == "no-store"
    assert signed_in.json()["data"] == anonymous.json()["data"]
    assert over_post.headers["cache-control"] == "no-store"
    assert "public" not in general_get.headers.get("cache-control", "")


async def test_a_process_out_of_database_connections_sheds_with_503_on_both_paths(
    gql: GraphQLClient, general: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What SQLAlchemy's pool raises when its wait for a connection runs out, and asyncpg's
    # pool when the server has none left: the only way to exhaust a pool on demand.
    async def no_connection(*args: object, **kwargs: object) -> None:
        raise PoolTimeout("QueuePool limit of size 20 overflow 5 reached")

    monkeypatch.setattr(Reader, "fetch", no_connection)
    monkeypatch.setattr(queries, "public_page", no_connection)

    answers = [await gql.post(PUBLIC), await general.post(PUBLIC)]

    for response in answers:
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "5"
        [error] = response.json()["errors"]
        assert error["extensions"] == {"code": "OVERLOADED", "retryAfter": 5}
        assert "QueuePool" not in response.text
