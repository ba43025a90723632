"""The GraphQL surface: one schema for public feeds now, and billing and admin fields later."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import strawberry
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig

from schema.extensions import MaskUnexpectedErrors, OperationScope
from schema.mutations.accounts import AccountMutations
from schema.mutations.posts import PostMutations
from schema.mutations.social import SocialMutations
from schema.queries import Query
from schema.subscriptions import Subscription
from schema.types import Account, Post

SDL_PATH = Path(__file__).resolve().parent.parent / "schema.graphql"


@strawberry.type(description="Everything a client can change.")
class Mutation(AccountMutations, SocialMutations, PostMutations):
    pass


def build_schema(
    *,
    production: bool = False,
    max_depth: int = 12,
    max_aliases: int = 30,
    max_tokens: int = 2000,
) -> strawberry.Schema:
    """Assemble the schema with production defaults: caches, limits, masked errors."""
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        OperationScope,
        MaskUnexpectedErrors,
        functools.partial(MaxTokensLimiter, max_token_count=max_tokens),
        functools.partial(ParserCache, maxsize=1024),
        functools.partial(ValidationCache, maxsize=1024),
        functools.partial(QueryDepthLimiter, max_depth=max_depth),
        functools.partial(MaxAliasesLimiter, max_alias_count=max_aliases),
    ]
    if production:
        extensions.append(functools.partial(AddValidationRules, [NoSchemaIntrospectionCustomRule]))
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[Account, Post],
        extensions=extensions,
        config=StrawberryConfig(disable_field_suggestions=production),
    )
