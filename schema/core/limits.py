"""Rate limits per action class (sign-ups, posts, follows, reports): a field extension that
charges the operation's fields to a rule of `models/throttle.py` before any of them runs.

Each aliased field counts as its own attempt, and they are charged together: the first field
of an operation that a rule covers charges the rule for every field of the operation it
covers (`mutation { a: createPost(...) b: createPost(...) }` costs 2). Refused, that first
field answers a top-level error (`extensions.code` RATE_LIMITED, `retryAfter`) and, the
result types being non-null, the operation stops there: no field of it has written
anything, so a refusal never hides a write that happened."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import strawberry
from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLIncludeDirective,
    GraphQLResolveInfo,
    GraphQLSkipDirective,
    InlineFragmentNode,
    SelectionSetNode,
)
from graphql.execution.values import get_directive_values
from strawberry.extensions.field_extension import AsyncExtensionResolver, FieldExtension

from resolvers.context import Context

Per = Literal["account", "ip"]
# strawberry keeps the field a GraphQL field was built from under this key.
_DEFINITION = "strawberry-definition"


class RateLimit(FieldExtension):
    """Charges `rule` per viewer (`per="account"`; anonymous calls are left to the field's
    permission) or per client address (`per="ip"`, IPv6 by /64)."""

    def __init__(self, rule: str, *, per: Per) -> None:
        self.rule = rule
        self.per = per

    async def resolve_async(
        self, next_: AsyncExtensionResolver, source: Any, info: strawberry.Info, **kwargs: Any
    ) -> Any:
        ctx: Context = info.context
        key = self._key(ctx)
        charged = ctx.rate_limits_charged
        if charged is None:
            charged = ctx.rate_limits_charged = set()
        if key is not None and self.rule not in charged:
            charged.add(self.rule)
            # strawberry's Info hides the parent type and the fragments graphql-core has.
            raw: GraphQLResolveInfo[Any] = info._raw_info
            await ctx.runtime.throttle.check(self.rule, key, cost=self._fields_covered(raw))
        return await next_(source, info, **kwargs)

    def _key(self, ctx: Context) -> str | None:
        if self.per == "ip":
            return ctx.ip_group
        return None if ctx.viewer is None else str(ctx.viewer.id)

    def _fields_covered(self, info: GraphQLResolveInfo[Any]) -> int:
        """How many of the operation's root fields this extension's rule covers."""
        fields = info.parent_type.fields
        count = 0
        for name in _root_field_names(info, info.operation.selection_set):
            field = fields.get(name)
            definition = None if field is None else (field.extensions or {}).get(_DEFINITION)
            covered = getattr(definition, "extensions", ())
            count += any(isinstance(e, RateLimit) and e.rule == self.rule for e in covered)
        return max(count, 1)


def _root_field_names(info: GraphQLResolveInfo[Any], selections: SelectionSetNode) -> Iterator[str]:
    """The names of the fields an operation selects at its root, once per alias, through
    fragments, leaving out what @skip and @include leave out."""
    seen: set[str] = set()
    stack = [selections]
    while stack:
        for node in stack.pop().selections:
            if not _included(info, node):
                continue
            if isinstance(node, FieldNode):
                yield node.name.value
            elif isinstance(node, InlineFragmentNode):
                stack.append(node.selection_set)
            elif isinstance(node, FragmentSpreadNode) and node.name.value not in seen:
                seen.add(node.name.value)
                fragment = info.fragments.get(node.name.value)
                if fragment is not None:
                    stack.append(fragment.selection_set)


def _included(info: GraphQLResolveInfo[Any], node: Any) -> bool:
    variables = info.variable_values
    skip = get_directive_values(GraphQLSkipDirective, node, variables)
    if skip is not None and skip.get("if") is True:
        return False
    include = get_directive_values(GraphQLIncludeDirective, node, variables)
    return not (include is not None and include.get("if") is False)
