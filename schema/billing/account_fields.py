"""Billing staff's field on `Account`: any customer's billing, read-only and audited.
Attached to `Account` by `app.schema`."""

from __future__ import annotations

import strawberry

from models.access.roles import Role
from resolvers import billing as resolvers
from resolvers.context import Info
from schema.billing.account import Billing
from schema.core.permissions import requires_role
from schema.graph.types import account_id_of


@strawberry.type
class AccountBillingFields:
    @strawberry.field(
        description="This account's billing as its owner sees it in `viewerBilling`: plan, "
        "subscription, invoices, payment methods, credit. For billing staff (and ADMIN); each "
        "read is "
        "audited (say why in the `Chirp-Access-Reason` header).",
        extensions=requires_role(Role.BILLING_ADMIN, Role.ADMIN),
    )
    async def billing(self, info: Info) -> Billing:
        account_id = account_id_of(self)
        await resolvers.staff_read(info.context, account_id=account_id)
        customer = await resolvers.customer(info.context, account_id=account_id)
        return Billing(account_id=account_id, customer=customer, staff_view=True)
