"""Billing's root query fields: the public catalogue, the viewer's billing, and the preview
of a plan change. The mutations are in `schema.billing.mutations`."""

from __future__ import annotations

from typing import Annotated

import strawberry

from models.billing.catalogue import PLANS
from models.errors import DomainError
from resolvers import billing as resolvers
from resolvers.context import Info
from resolvers.paging import BadUserInput
from schema.billing.account import Billing, PlanChangePreview
from schema.billing.types import BillingInterval, Plan
from schema.core.permissions import IsAuthenticated

PLAN_CODE = "A plan's code: `plus` or `pro` (Free is what remains without a subscription)."


async def billing_of(info: Info, account_id: int) -> Billing:
    """The `Billing` object of an account (its customer row read once)."""
    customer = await resolvers.customer(info.context, account_id=account_id)
    return Billing(account_id=account_id, customer=customer)


@strawberry.type
class BillingQueries:
    @strawberry.field(
        description="The plans on sale, Free first then by rank, with their entitlements and "
        "prices. Public: no sign-in needed."
    )
    def plans(self) -> list[Plan]:
        return [Plan.of(code) for code in sorted(PLANS, key=lambda c: PLANS[c].rank)]

    @strawberry.field(
        description="The signed-in viewer's billing (plan, subscription, invoices, payment "
        "methods, credit), or null when not signed in. Billing staff read any account's "
        "through `Account.billing`."
    )
    async def viewer_billing(self, info: Info) -> Billing | None:
        viewer = info.context.viewer
        return None if viewer is None else await billing_of(info, viewer.id)

    @strawberry.field(
        description="What `changePlan` with these arguments would do now: kind, when it "
        "applies, the invoice it issues and what is charged. Nothing changes. Requires a "
        "signed-in viewer with a subscription; a bad argument (unknown plan, same plan, no "
        "active subscription) is a BAD_USER_INPUT error whose `extensions.reason` is the "
        "error code (UNKNOWN_PLAN, SAME_PLAN, NOT_SUBSCRIBED...).",
        permission_classes=[IsAuthenticated],
    )
    async def preview_plan_change(
        self,
        info: Info,
        plan_code: Annotated[str, strawberry.argument(description=PLAN_CODE)],
        interval: Annotated[
            BillingInterval, strawberry.argument(description="The billing interval wanted.")
        ],
    ) -> PlanChangePreview:
        try:
            change = await resolvers.preview_plan_change(
                info.context, plan_code=plan_code, interval=str(interval.value)
            )
        except DomainError as err:
            error = BadUserInput(err.message, argument=err.field or "planCode")
            assert error.extensions is not None
            error.extensions["reason"] = err.code
            raise error from err
        return PlanChangePreview.of(change)
