"""The billing back office: coupons, promotion codes, prices, refunds, closing invoices and
recording usage (BILLING_ADMIN, every change audited), and revenue figures (ADMIN)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from models.access.roles import Role
from resolvers import billing_staff as resolvers
from resolvers.context import Info
from resolvers.paging import key_of
from schema.billing.invoices import CreditNote, Invoice
from schema.billing.staff_inputs import (
    CloseInvoiceInput,
    CreateCouponInput,
    CreatePromotionCodeInput,
    RecordUsageInput,
    RefundInvoiceInput,
    SetPlanPriceInput,
)
from schema.billing.staff_types import Coupon, PromotionCode, Revenue
from schema.billing.types import Price
from schema.core.errors import (
    INPUT,
    ConflictError,
    NotFoundError,
    ServiceUnavailableError,
    ValidationError,
)
from schema.core.permissions import requires_role
from schema.core.results import mutation, outcome


@strawberry.type(description="A coupon just created.")
class CouponPayload:
    coupon: Coupon = strawberry.field(description="The coupon.")


@strawberry.type(description="A promotion code just created.")
class PromotionCodePayload:
    promotion_code: PromotionCode = strawberry.field(description="The promotion code.")


@strawberry.type(description="The price now sold; the one it replaced stays on subscriptions.")
class PricePayload:
    price: Price = strawberry.field(description="The new active price.")


@strawberry.type(description="The credit note a refund issued.")
class CreditNotePayload:
    credit_note: CreditNote = strawberry.field(description="The credit note.")


@strawberry.type(description="An invoice after a change of state.")
class InvoicePayload:
    invoice: Invoice = strawberry.field(description="The invoice now.")


@strawberry.type(description="A metered event as recorded.")
class UsagePayload:
    event_id: str = strawberry.field(description="The producer's event id.")
    quantity: int = strawberry.field(description="Units recorded.")
    occurred_at: datetime = strawberry.field(description="When it happened (UTC).")


CreateCouponResult = Annotated[
    CouponPayload | ValidationError | NotFoundError, outcome("createCoupon")
]
CreatePromotionCodeResult = Annotated[
    PromotionCodePayload | ValidationError | NotFoundError | ConflictError,
    outcome("createPromotionCode"),
]
SetPlanPriceResult = Annotated[
    PricePayload | ValidationError | NotFoundError, outcome("setPlanPrice")
]
RefundInvoiceResult = Annotated[
    CreditNotePayload | ValidationError | NotFoundError | ConflictError | ServiceUnavailableError,
    outcome("refundInvoice"),
]
VoidInvoiceResult = Annotated[
    InvoicePayload | ValidationError | NotFoundError | ConflictError, outcome("voidInvoice")
]
MarkInvoiceUncollectibleResult = Annotated[
    InvoicePayload | ValidationError | NotFoundError | ConflictError,
    outcome("markInvoiceUncollectible"),
]
RecordUsageResult = Annotated[
    UsagePayload | ValidationError | NotFoundError | ConflictError, outcome("recordUsage")
]
# ADMIN holds every staff power (docs/admin.md), billing's included.
BILLING_STAFF = (Role.BILLING_ADMIN, Role.ADMIN)
STAFF = requires_role(*BILLING_STAFF)


@strawberry.type
class BillingAdminQueries:
    @strawberry.field(
        description="Revenue in one currency: MRR, subscribers, 30-day churn and failed-"
        "payment rate. A currency Chirp does not bill in is BAD_USER_INPUT.",
        extensions=requires_role(Role.ADMIN),
    )
    async def revenue(
        self,
        info: Info,
        currency: Annotated[str, strawberry.argument(description="USD, EUR, GBP or JPY.")],
    ) -> Revenue:
        return Revenue.of(await resolvers.revenue_figures(info.context, currency=currency))


@strawberry.type
class BillingAdminMutations:
    @mutation(description="Define a coupon. Audited.", extensions=STAFF)
    async def create_coupon(
        self, info: Info, input: Annotated[CreateCouponInput, INPUT]
    ) -> CreateCouponResult:
        row = await resolvers.create_coupon(info.context, input.to_spec(), reason=input.reason)
        return CouponPayload(coupon=Coupon.from_row(row))

    @mutation(
        description="Create a promotion code for a coupon. A code that exists already is "
        "CONFLICT. Audited.",
        extensions=STAFF,
    )
    async def create_promotion_code(
        self, info: Info, input: Annotated[CreatePromotionCodeInput, INPUT]
    ) -> CreatePromotionCodeResult:
        row, coupon = await resolvers.create_promotion_code(
            info.context, input.to_spec(), reason=input.reason
        )
        return PromotionCodePayload(promotion_code=PromotionCode.from_row(row, coupon))

    @mutation(
        description="Sell a plan at a new price: it replaces the active price for that "
        "currency and interval; current subscribers keep theirs until they change plan. "
        "Audited with the old and new amounts.",
        extensions=STAFF,
    )
    async def set_plan_price(
        self, info: Info, input: Annotated[SetPlanPriceInput, INPUT]
    ) -> SetPlanPriceResult:
        row = await resolvers.set_plan_price(info.context, input.to_spec(), reason=input.reason)
        return PricePayload(price=Price.from_row(row))

    @mutation(
        description="Refund a paid invoice, in full or in part, through the payment "
        "processor, and issue a credit note. Safe to retry after "
        "PAYMENT_PROCESSOR_UNAVAILABLE: nothing is refunded twice. Audited.",
        extensions=STAFF,
    )
    async def refund_invoice(
        self, info: Info, input: Annotated[RefundInvoiceInput, INPUT]
    ) -> RefundInvoiceResult:
        note = await resolvers.refund_invoice(
            info.context,
            invoice_id=key_of(input.invoice_id, "Invoice", "invoiceId"),
            amount=input.amount,
            reason=input.reason,
        )
        return CreditNotePayload(credit_note=CreditNote.from_row(note, staff_view=True))

    @mutation(
        description="Void an open invoice that should not have been issued: nothing is owed "
        "and the credit it used goes back to the balance. It keeps its number. Audited.",
        extensions=STAFF,
    )
    async def void_invoice(
        self, info: Info, input: Annotated[CloseInvoiceInput, INPUT]
    ) -> VoidInvoiceResult:
        return await _close(info, input, void=True)

    @mutation(
        description="Stop collecting an open invoice (still owed on paper). Audited.",
        extensions=STAFF,
    )
    async def mark_invoice_uncollectible(
        self, info: Info, input: Annotated[CloseInvoiceInput, INPUT]
    ) -> MarkInvoiceUncollectibleResult:
        return await _close(info, input, void=False)

    @mutation(
        description="Record metered usage for an account on a metered plan (for internal "
        "producers; idempotent by `eventId`). Billed in arrears at renewal. Audited.",
        extensions=STAFF,
    )
    async def record_usage(
        self, info: Info, input: Annotated[RecordUsageInput, INPUT]
    ) -> RecordUsageResult:
        row = await resolvers.record_usage(info.context, input.to_spec())
        return UsagePayload(
            event_id=row.event_id, quantity=row.quantity, occurred_at=row.occurred_at
        )


async def _close(info: Info, input: CloseInvoiceInput, *, void: bool) -> VoidInvoiceResult:
    row = await resolvers.close_invoice(
        info.context,
        invoice_id=key_of(input.invoice_id, "Invoice", "invoiceId"),
        reason=input.reason,
        void=void,
    )
    return InvoicePayload(invoice=Invoice.from_row(row, staff_view=True))
