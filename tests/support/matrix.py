"""The authorization matrix: one call per gated field, run as every persona.

Each area of the back office lists its calls in a module of its own (`matrix_*.py`) and
they are merged here. A gated field with no call fails `test_authorization_matrix` by itself.
A call is a GraphQL document, an async function that arranges what the call needs and
returns its variables, and `path`: the response path of the gated field (`("auditLog",)`
for a root field, `("node", "roles")` for a field of the node a query reaches). Only a
FORBIDDEN or UNAUTHENTICATED error at that path, or below it, counts as the field refusing;
list indices in an error's path are skipped when comparing. `stand_in` is the path of a
field with the same roles that refuses a persona who can never reach the gated field."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import KW_ONLY, dataclass
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


Path = tuple[str, ...]


@dataclass(frozen=True)
class Call:
    document: str
    arrange: Arrange = no_variables
    _: KW_ONLY
    path: Path
    stand_in: Path | None = None

    def decides(self, error_path: Sequence[str | int] | None) -> bool:
        """Whether an error at `error_path` is the gated field's (or its stand-in's)."""
        names = tuple(p for p in error_path or () if isinstance(p, str))
        return any(p is not None and names[: len(p)] == p for p in (self.path, self.stand_in))


def merged() -> dict[str, Call]:
    from tests.support import (
        matrix_billing,
        matrix_integrations,
        matrix_moderation,
        matrix_ops,
        matrix_roles,
        matrix_support,
    )

    calls: dict[str, Call] = {}
    modules = (
        matrix_roles,
        matrix_support,
        matrix_moderation,
        matrix_integrations,
        matrix_ops,
        matrix_billing,
    )
    for module in modules:
        overlap = calls.keys() & module.CALLS.keys()
        assert not overlap, overlap
        calls.update(module.CALLS)
    return calls
