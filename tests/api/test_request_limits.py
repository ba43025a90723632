"""Request size limits through the ASGI app: bodies (413, refused before they are read),
query strings (414) and GraphQL documents (comments count). Issue 11: a 20 MB body to
/graphql was read and answered 200, and a 2 MB comment inside a query was parsed (245 ms)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx

from app.settings import Settings

MIB = 1024 * 1024
GRAPHQL_RESPONSE = {"accept": "application/graphql-response+json"}


class Body:
    """A request body sent in chunks, counting how many the server pulled."""

    def __init__(self, chunks: int, size: int = 64 * 1024) -> None:
        self.chunks = chunks
        self.size = size
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.chunks):
            self.pulled += 1
            yield b" " * self.size


def too_large(response: httpx.Response, limit: int) -> bool:
    error = response.json()["errors"][0]
    return response.status_code == 413 and error["extensions"] == {
        "code": "PAYLOAD_TOO_LARGE",
        "limit": limit,
    }


async def test_a_20_mb_body_is_refused_unread(http: httpx.AsyncClient, settings: Settings) -> None:
    declared = Body(chunks=20 * 16)  # 20 MiB
    headers = {"content-type": "application/json", "content-length": str(20 * MIB)}

    response = await http.post("/graphql", content=declared, headers=headers)

    assert too_large(response, settings.max_body_bytes)
    assert declared.pulled == 0


async def test_a_chunked_body_is_read_only_up_to_the_limit(
    http: httpx.AsyncClient, settings: Settings
) -> None:
    chunked = Body(chunks=20 * 16)  # 20 MiB, no Content-Length

    response = await http.post(
        "/graphql", content=chunked, headers={"content-type": "application/json"}
    )

    assert too_large(response, settings.max_body_bytes)
    assert chunked.pulled * chunked.size <= settings.max_body_bytes + chunked.size


async def test_a_2_mb_comment_is_refused_with_its_body(
    http: httpx.AsyncClient, settings: Settings
) -> None:
    query = "#" + "x" * (2 * MIB) + "\n{ viewer { id } }"

    response = await http.post("/graphql", json={"query": query})

    assert too_large(response, settings.max_body_bytes)


async def test_a_document_of_comments_under_the_body_limit_is_refused_before_parsing(
    http: httpx.AsyncClient, settings: Settings
) -> None:
    comments = ("# " + "x" * 78 + "\n") * 500  # 40,000 characters, no tokens
    query = comments + "{ viewer { id } }"
    assert len(json.dumps({"query": query})) < settings.max_body_bytes

    response = await http.post("/graphql", json={"query": query}, headers=GRAPHQL_RESPONSE)
    normal = await http.post(
        "/graphql", json={"query": "# fine\n{ viewer { id } }"}, headers=GRAPHQL_RESPONSE
    )

    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}
    assert f"at most {settings.max_query_length}" in error["message"]
    assert normal.status_code == 200


async def test_long_query_strings_are_refused(http: httpx.AsyncClient, settings: Settings) -> None:
    padding = "x" * settings.max_query_string_bytes

    response = await http.get("/graphql", params={"query": "{ viewer { id } }", "pad": padding})
    other_path = await http.get("/livez", params={"pad": padding})

    assert response.status_code == 414
    assert response.json()["errors"][0]["extensions"]["code"] == "URI_TOO_LONG"
    assert other_path.status_code == 414


async def test_stripe_webhooks_may_be_larger_up_to_their_own_limit(
    http: httpx.AsyncClient, settings: Settings
) -> None:
    event = b"{" + b" " * (settings.max_body_bytes + 1024) + b"}"
    headers = {"stripe-signature": "t=1,v1=bad", "content-type": "application/json"}

    larger = await http.post("/webhooks/stripe", content=event, headers=headers)
    too_big = await http.post(
        "/webhooks/stripe",
        content=b" " * (settings.max_webhook_body_bytes + 1),
        headers=headers,
    )

    # Past the middleware, to the signature check.
    assert larger.status_code == 400
    assert larger.json()["error"]["code"] == "INVALID_SIGNATURE"
    # Refused in the shape of the endpoint's other answers.
    assert too_big.status_code == 413
    assert too_big.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_json_nested_deeper_than_the_parser_goes_is_bad_input_not_a_server_error(
    http: httpx.AsyncClient, settings: Settings
) -> None:
    # 100,000 brackets (200 KB, under the body limit) exhaust Python's recursion limit in
    # json.loads; the same in a GET request's `variables`, under the query-string limit.
    deep = "[" * 100_000 + "]" * 100_000
    body = '{"query": "{ __typename }", "variables": ' + deep + "}"
    shallow_enough = "[" * 4_000 + "]" * 4_000  # 24 KB once percent-encoded
    assert len(body) < settings.max_body_bytes
    assert len(shallow_enough) * 3 < settings.max_query_string_bytes

    posted = await http.post(
        "/graphql", content=body.encode(), headers={"content-type": "application/json"}
    )
    got = await http.get(
        "/graphql", params={"query": "{ __typename }", "variables": shallow_enough}
    )

    assert posted.status_code == 400, posted.text
    assert got.status_code == 400, got.text
