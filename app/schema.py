"""The Chirp schema, composed from every domain's GraphQL surface: Query, Mutation and
Subscription from each domain's root fields, and each domain's fields on the shared `Account`
type attached in one step. The one module that imports every domain's surface."""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import strawberry
from graphql import GraphQLError
from graphql.validation import ASTValidationRule, NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as alias_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.schema import DEFAULT_ALLOWED_OPERATION_TYPES
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.base import get_object_definition
from strawberry.types.graphql import OperationType

import admin as admin_package
import schema as schema_package
from schema.billing.types import MINOR_UNITS, MinorUnits
from schema.core.admission import Admission
from schema.core.cost import CostModel
from schema.core.extensions import MaskUnexpectedErrors, OperationScope
from schema.core.idempotency import IdempotentMutations
from schema.core.permissions import gated_fields
from schema.core.surface import Surface
from schema.graph.types import Account, Post

SDL_PATH = Path(__file__).resolve().parent.parent / "schema.graphql"

# The order of the published surfaces' fields in `schema.graphql`. A package of `schema/` or
# `admin/` that declares a `SURFACE` joins the schema by itself; one not named here (a new
# domain's) comes after these, by package name, so the published order never moves.
PUBLISHED = (
    "schema.graph",
    "schema.accounts",
    "schema.social",
    "schema.posts",
    "schema.access",
    "admin.roles",
    "admin.support",
    "admin.audit",
    "admin.statistics",
    "schema.moderation",
    "admin.moderation",
    "admin.integrations",
    "admin.exports",
    "admin.operations",
    "schema.billing",
    "schema.live",
)


def discover() -> tuple[Surface, ...]:
    """Every domain package's `SURFACE` under `schema/` and `admin/`, in schema order."""
    found: dict[str, Surface] = {}
    for package in (schema_package, admin_package):
        prefix = f"{package.__name__}."
        for info in pkgutil.iter_modules(package.__path__, prefix=prefix):
            if not info.ispkg:
                continue
            surface = getattr(importlib.import_module(info.name), "SURFACE", None)
            if isinstance(surface, Surface):
                found[info.name] = surface
    return ordered(found)


def ordered(found: dict[str, Surface]) -> tuple[Surface, ...]:
    """The published surfaces in their order, then any others by package name."""
    lost = set(PUBLISHED) - set(found)
    if lost:
        raise RuntimeError(f"published surfaces not found: {sorted(lost)}")
    place = {name: i for i, name in enumerate(PUBLISHED)}
    return tuple(found[n] for n in sorted(found, key=lambda n: (place.get(n, len(place)), n)))


SURFACES = discover()


def attach(target: type, mixins: tuple[type, ...], *, after: str) -> None:
    """Give `target` the fields its domains declare on it, right after its field `after`.
    Idempotent: a field already attached is not added again."""
    fields = get_object_definition(target, strict=True).fields
    present = {id(f) for f in fields}
    extra = [
        f
        for mixin in mixins
        for f in get_object_definition(mixin, strict=True).fields
        if id(f) not in present
    ]
    position = next(i for i, f in enumerate(fields) if f.python_name == after) + 1
    fields[position:position] = extra


def merged(name: str, description: str, parts: list[type]) -> type:
    """One root type whose fields are every domain's, in the order of `SURFACES`."""
    return strawberry.type(type(name, tuple(parts), {}), description=description)


attach(Account, tuple(f for d in SURFACES for f in d.account_fields), after="id")
Query = merged("Query", "Everything a client can read.", [q for d in SURFACES for q in d.queries])
Mutation = merged(
    "Mutation", "Everything a client can change.", [m for d in SURFACES for m in d.mutations]
)
(Subscription,) = (s for d in SURFACES for s in d.subscriptions)


@dataclass(frozen=True)
class AdmissionRules:
    """The validation rules and limits every operation meets, for paths that admit
    operations without the general executor."""

    cost_model: CostModel
    max_cost: int
    rules: tuple[type[ASTValidationRule], ...]
    max_tokens: int


class ChirpSchema(strawberry.Schema):
    admission: AdmissionRules

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Client errors (bad input, validation, UNAUTHENTICATED) are not server errors and
        are not logged as such; MaskUnexpectedErrors logs every unexpected one, once."""

    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        """Queries and mutations only: a subscription runs through `subscribe` (on a
        WebSocket). One sent over HTTP is refused before validation, so never charged, rather
        than executed as a query into an internal error."""
        allowed = set(allowed_operation_types or DEFAULT_ALLOWED_OPERATION_TYPES)
        allowed.discard(OperationType.SUBSCRIPTION)
        return await super().execute(
            query,
            variable_values=variable_values,
            context_value=context_value,
            root_value=root_value,
            operation_name=operation_name,
            allowed_operation_types=allowed,
            operation_extensions=operation_extensions,
        )


@functools.cache
def build_schema(
    *,
    production: bool = False,
    max_depth: int = 12,
    max_aliases: int = 30,
    max_tokens: int = 2000,
    max_cost: int = 10_000,
    max_subscription_cost: int = 250,
    slow_operation_ms: int = 500,
) -> ChirpSchema:
    """Assemble the schema with production defaults: caches, limits, masked errors.

    Built once per set of limits in a process (about 150 ms of CPU): the schema holds no
    per-app state, so every app made with the same limits (a test's, a worker's) shares it."""
    # The limit rules are built once: the validation cache keys on the rule classes, so
    # rules made per operation (the limiters' own factories) would never hit it.
    rules: list[type[ASTValidationRule]] = [
        depth_rule(max_depth, should_ignore=None),
        alias_rule(max_aliases),
    ]
    if production:
        rules.append(NoSchemaIntrospectionCustomRule)
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        functools.partial(
            OperationScope,
            max_tokens=max_tokens,
            rules=tuple(rules),
            slow_operation_ms=slow_operation_ms,
        ),
        MaskUnexpectedErrors,
        functools.partial(ParserCache, maxsize=1024),
        functools.partial(ValidationCache, maxsize=1024),
    ]
    schema = ChirpSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[Account, Post],
        extensions=extensions,
        config=StrawberryConfig(
            disable_field_suggestions=production, scalar_map={MinorUnits: MINOR_UNITS}
        ),
    )
    gated = gated_fields(schema._schema)  # refuses to build if a role directive is not enforced
    # Admission prices operations with a model of the built schema (it refuses to build if
    # a list has no size rule); it runs after the validation cache, which it relies on.
    model = CostModel(schema._schema, gated=gated)
    admission = functools.partial(
        Admission,
        model=model,
        gated=gated,
        max_cost=max_cost,
        max_subscription_cost=max_subscription_cost,
    )
    # The idempotency key is looked up after admission (its hook runs after Admission's).
    schema.extensions = (*schema.extensions, admission, IdempotentMutations)
    # What compiled operations (app/compiled.py) need to admit an operation as this does.
    schema.admission = AdmissionRules(
        cost_model=model, max_cost=max_cost, rules=tuple(rules), max_tokens=max_tokens
    )
    return schema
