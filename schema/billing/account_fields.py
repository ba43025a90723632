"""Billing staff's field on `Account`: any customer's billing, read-only and audited. Mixed
into `Account`; `Billing` comes through `strawberry.lazy` (its module imports
`schema.graph.types`, which imports this one)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from models.access.roles import Role
from resolvers import billing as resolvers
from resolvers.context import Info
from schema.core.permissions import requires_role
from schema.graph.types import account_id_of

if TYPE_CHECKING:
    from schema.billing.account import Billing

LazyBilling = Annotated["Billing", strawberry.lazy("schema.billing.account")]


@strawberry.type
class AccountBillingFields:
    @strawberry.field(
        description="This account's billing as its owner sees it in `viewerBilling`: plan, "
        "subscription, invoices, payment methods, credit. For billing staff (and ADMIN); each "
        "read is "
        "audited (say why in the `Chirp-Access-Reason` header).",
        extensions=requires_role(Role.BILLING_ADMIN, Role.ADMIN),
    )
    async def billing(self, info: Info) -> LazyBilling:
        from schema.billing.account import Billing

        account_id = account_id_of(self)
        await resolvers.staff_read(info.context, account_id=account_id)
        customer = await resolvers.customer(info.context, account_id=account_id)
        return Billing(account_id=account_id, customer=customer, staff_view=True)
