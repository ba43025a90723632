"""Admission of each operation between validation and execution: its arguments' checks and
its static cost (`schema/core/cost.py`); for a mutation, the roles its payload's gated fields
need; then the charge to its client's budget (`resolvers/budget.py`). A refused operation is
a request error like a validation error (no `data`; HTTP 400 with the GraphQL-over-HTTP media
type, 429 when over budget; a WebSocket `error` message), so nothing of it runs: no resolver,
no write, and, for the argument and cost checks, no SQL. So a mutation is never answered
with an error after it wrote because of a bad argument or a missing role in its own payload's
selection.

Its hook is `on_validate`, listed after the validation cache: it sees the document already
validated, and its errors join the validation errors before strawberry decides whether to
execute. Nothing stays open afterwards, so an idle subscription keeps only the charge."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document
from strawberry.types.graphql import OperationType

from models.access.roles import Role
from models.throttle import RateLimited
from resolvers import budget
from resolvers.budget import Charge
from resolvers.context import Context, NotAuthenticated
from schema.core.cost import Analysis, CostModel
from schema.core.extensions import failure
from schema.core.permissions import role_refusal
from telemetry import metrics

log = logging.getLogger("chirp.graphql")

QUERY_TOO_COSTLY = "QUERY_TOO_COSTLY"


class QueryTooCostly(GraphQLError):
    def __init__(self, cost: int, max_cost: int) -> None:
        super().__init__(
            f"This operation would cost {cost}, more than the {max_cost} one operation may "
            "cost: ask for smaller pages (`first`) or fewer nested lists.",
            extensions={"code": QUERY_TOO_COSTLY, "cost": cost, "maxCost": max_cost},
        )


def over_budget(refusal: RateLimited) -> GraphQLError:
    return GraphQLError(
        f"This operation would exceed your query budget ({refusal.rule}); try again in "
        f"{refusal.retry_after} seconds.",
        extensions=refusal.extensions,
    )


class Admission(SchemaExtension):
    """Refuses, before execution, an operation with a bad argument, one that costs more
    than `max_cost`, a mutation whose payload selects a gated field the viewer may not use,
    or one its client's budget cannot pay for; reports the cost and the budget in the
    response's `extensions.cost` (a subscription: in its first event)."""

    def __init__(
        self,
        *,
        model: CostModel,
        max_cost: int,
        gated: Mapping[str, frozenset[Role]],
        max_subscription_cost: int | None = None,
    ) -> None:
        self.model = model
        self.max_cost = max_cost
        # A subscription's selection runs again for each event, charged once: capped lower.
        self.max_subscription_cost = (
            max_cost if max_subscription_cost is None else (max_subscription_cost)
        )
        self.gated = gated
        self.charge: Charge | None = None

    async def on_validate(self) -> AsyncIterator[None]:
        execution = self.execution_context
        document = execution.graphql_document
        errors = execution.pre_execution_errors
        if errors is None and document is not None:
            errors = execution.pre_execution_errors = validate_document(
                execution.schema._schema, document, execution.validation_rules
            )
        if not errors and document is not None:
            refusals = await self._admit()
            if refusals:
                execution.pre_execution_errors = refusals
        yield

    def get_results(self) -> dict[str, Any]:
        charge, self.charge = self.charge, None
        return {} if charge is None else {"cost": charge.extensions()}

    async def _admit(self) -> list[GraphQLError]:
        execution = self.execution_context
        assert execution.graphql_document is not None
        analysis = self.model.analyse(
            execution.graphql_document, execution.operation_name, execution.variables
        )
        if analysis is None:
            return []  # execution refuses it before any resolver (variables, operation name)
        if analysis.errors:
            return list(analysis.errors)
        limit = self.max_cost
        if execution.operation_type is OperationType.SUBSCRIPTION:
            limit = self.max_subscription_cost
        self.charge = Charge(analysis.cost, limit)
        if analysis.cost > limit:
            metrics.RATE_LIMITED.labels("cost").inc()
            return [QueryTooCostly(analysis.cost, limit)]
        metrics.OPERATION_COST.observe(analysis.cost)
        context = execution.context
        if not isinstance(context, Context):
            return []
        try:
            if analysis.gated and execution.operation_type is OperationType.MUTATION:
                refused = await self._forbidden(context, analysis)
                if refused is not None:
                    return [refused]
            self.charge = context.cost = await budget.charge(
                throttle=context.runtime.throttle,
                plans=context.runtime.budgets,
                sessionmaker=context.runtime.read_sessionmaker,
                account_id=context.viewer_id,
                ip_group=context.ip_group if context.viewer is None else "",
                cost=analysis.cost,
                max_cost=limit,
            )
        except RateLimited as refusal:
            return [over_budget(refusal)]
        except Exception as exc:
            # Raised before MaskUnexpectedErrors is running: mask it here.
            return [failure(context.request_id, exc, "admission")]
        return []

    async def _forbidden(self, context: Context, analysis: Analysis) -> GraphQLError | None:
        """The refusal of the first gated field of a mutation's payload that the viewer may
        not use (checked as `@requiresRole` would check it during execution, after the
        write)."""
        for coordinate, node in analysis.gated:
            try:
                refusal = await role_refusal(context, self.gated[coordinate], coordinate, [node])
            except NotAuthenticated as unauthenticated:
                return GraphQLError(
                    unauthenticated.message, nodes=[node], extensions=unauthenticated.extensions
                )
            if refusal is not None:
                return refusal
        return None
