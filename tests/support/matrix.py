"""The authorization matrix: one call per gated field, run as every persona.

Each area of the back office lists its calls in a module of its own (`matrix_*.py`) and
they are merged here. A gated field with no call fails `test_authorization_matrix` by itself.
A call is a GraphQL document and an async function that arranges what the call needs and
returns its variables; `path` names the response path whose error decides the outcome."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from app.runtime import Services
from tests.support.accounts import User
from tests.support.graphql import GraphQLClient


@dataclass
class MatrixEnv:
    """What calls arrange against: a plain target account and an ADMIN to set things up."""

    gql: GraphQLClient
    services: Services
    target: User
    admin: User


Arrange = Callable[[MatrixEnv], Awaitable[dict[str, Any]]]


async def no_variables(env: MatrixEnv) -> dict[str, Any]:
    return {}


async def target_id(env: MatrixEnv) -> dict[str, Any]:
    return {"id": env.target.id}


@dataclass(frozen=True)
class Call:
    document: str
    arrange: Arrange = no_variables


def merged() -> dict[str, Call]:
    from tests.support import (
        matrix_integrations,
        matrix_moderation,
        matrix_ops,
        matrix_roles,
        matrix_support,
    )

    calls: dict[str, Call] = {}
    modules = (matrix_roles, matrix_support, matrix_moderation, matrix_integrations, matrix_ops)
    for module in modules:
        overlap = calls.keys() & module.CALLS.keys()
        assert not overlap, overlap
        calls.update(module.CALLS)
    return calls
