"""Sending mutations with an idempotency key, for the tests of docs/api.md's "Retrying
mutations safely"."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select

from app.runtime import Services


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
