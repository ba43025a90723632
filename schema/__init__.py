"""The GraphQL surface: one schema for public feeds now, and billing and admin fields later."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

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
from strawberry.types import ExecutionContext

from admin.audit import AuditMutations, AuditQueries
from admin.billing import BillingAdminMutations, BillingAdminQueries
from admin.exports import ExportMutations
from admin.integrations import IntegrationMutations, IntegrationQueries
from admin.moderation import ModerationCaseMutations, ModerationQueries
from admin.moderation_actions import ModerationActionMutations
from admin.operations import OperationsQueries
from admin.roles import RoleMutations, RoleQueries
from admin.statistics import StatisticsQueries
from admin.support import SupportMutations, SupportQueries
from schema.billing import BillingQueries
from schema.billing_types import MINOR_UNITS, MinorUnits
from schema.extensions import MaskUnexpectedErrors, OperationScope
from schema.mutations.accounts import AccountMutations
from schema.mutations.billing import BillingMutations
from schema.mutations.moderation import ModerationUserMutations
from schema.mutations.posts import PostMutations
from schema.mutations.security import SecurityMutations, SecurityQueries
from schema.mutations.social import SocialMutations
from schema.permissions import gated_fields
from schema.queries import PublicQuery
from schema.subscriptions import Subscription
from schema.types import Account, Post

SDL_PATH = Path(__file__).resolve().parent.parent / "schema.graphql"


@strawberry.type(description="Everything a client can read.")
class Query(
    PublicQuery,
    SecurityQueries,
    RoleQueries,
    SupportQueries,
    AuditQueries,
    StatisticsQueries,
    ModerationQueries,
    IntegrationQueries,
    OperationsQueries,
    BillingQueries,
    BillingAdminQueries,
):
    pass


@strawberry.type(description="Everything a client can change.")
class Mutation(
    AccountMutations,
    SocialMutations,
    PostMutations,
    SecurityMutations,
    RoleMutations,
    SupportMutations,
    AuditMutations,
    ModerationUserMutations,
    ModerationCaseMutations,
    ModerationActionMutations,
    IntegrationMutations,
    ExportMutations,
    BillingMutations,
    BillingAdminMutations,
):
    pass


class ChirpSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Client errors (bad input, validation, UNAUTHENTICATED) are not server errors and
        are not logged as such; MaskUnexpectedErrors logs every unexpected one, once."""


def build_schema(
    *,
    production: bool = False,
    max_depth: int = 12,
    max_aliases: int = 30,
    max_tokens: int = 2000,
    slow_operation_ms: int = 500,
) -> strawberry.Schema:
    """Assemble the schema with production defaults: caches, limits, masked errors."""
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
    gated_fields(schema._schema)  # refuses to build if a role directive is not enforced
    return schema
