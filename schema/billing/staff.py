"""The billing back office: coupons, promotion codes, prices, refunds, closing invoices and
recording usage (BILLING_ADMIN, every change audited), and revenue figures (ADMIN)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from models.access.roles import Role
from resolvers import billing_staff as resolvers
from resolvers.context import Info
from resolvers.paging import parse_global_id
from schema.billing.invoices import CreditNote, Invoice
from schema.billing.staff_types import Coupon, CouponDuration, PromotionCode, Revenue
from schema.billing.types import BillingInterval, MinorUnits, Price
from schema.core.errors import (
    INPUT,
    ConflictError,
    NotFoundError,
    ServiceUnavailableError,
    ValidationError,
)
from schema.core.permissions import requires_role
from schema.core.results import mutation

REASON = "Why, for the audit log: 3 to 1000 characters."


def _key(value: str, type_name: str, field: str) -> int:
    return parse_global_id(value, expect=type_name, field=field)[1]


def _outcome(name: str) -> object:
    return strawberry.union(
        f"{name[0].upper()}{name[1:]}Result",
        description=f"The outcome of `{name}`: its payload or a UserError.",
    )


@strawberry.input(description="An amount in one currency.")
class MoneyInput:
    amount: MinorUnits = strawberry.field(
        description="Minor units (cents; yen for JPY), from 1 to 10^12."
    )
    currency: str = strawberry.field(description="USD, EUR, GBP or JPY.")


@strawberry.input(description="A new coupon: give `percentOff` or `amountsOff`, not both.")
class CreateCouponInput:
    name: str = strawberry.field(description="Shown on invoices: 1 to 100 characters.")
    percent_off: int | None = strawberry.field(default=None, description="1 to 100.")
    amounts_off: list[MoneyInput] = strawberry.field(
        default_factory=list,
        description="A fixed amount per currency it may be used in (one per currency, at most "
        "4); codes in other currencies are COUPON_NOT_APPLICABLE.",
    )
    duration: CouponDuration = strawberry.field(description="How long the discount lasts.")
    duration_months: int | None = strawberry.field(
        default=None, description="For REPEATING only, and then required: 1 to 120."
    )
    plan_codes: list[str] = strawberry.field(
        default_factory=list,
        description="Paid plans it applies to (`plus`, `pro`); empty for every paid plan.",
    )
    max_redemptions: int | None = strawberry.field(
        default=None, description="How many customers may redeem it in all (at least 1)."
    )
    redeem_by: datetime | None = strawberry.field(
        default=None, description="The last moment it can be redeemed (UTC); null for none."
    )
    first_time_only: bool = strawberry.field(
        default=False, description="Only for accounts that never subscribed before."
    )
    reason: str = strawberry.field(description=REASON)


@strawberry.type(description="A coupon just created.")
class CouponPayload:
    coupon: Coupon = strawberry.field(description="The coupon.")


@strawberry.input(description="A code customers type to redeem a coupon.")
class CreatePromotionCodeInput:
    coupon_id: strawberry.ID = strawberry.field(description="The coupon's global id.")
    code: str = strawberry.field(
        description="1 to 40 letters, digits or -; unique whatever the letter case."
    )
    max_redemptions: int | None = strawberry.field(
        default=None, description="How often this code may be redeemed (at least 1)."
    )
    expires_at: datetime | None = strawberry.field(
        default=None, description="When the code stops working (UTC); null for never."
    )
    first_time_only: bool = strawberry.field(
        default=False, description="Only for accounts that never subscribed before."
    )
    reason: str = strawberry.field(description=REASON)


@strawberry.type(description="A promotion code just created.")
class PromotionCodePayload:
    promotion_code: PromotionCode = strawberry.field(description="The promotion code.")


@strawberry.input(description="A plan's new price in one currency and interval.")
class SetPlanPriceInput:
    plan_code: str = strawberry.field(description="A paid plan: `plus` or `pro`.")
    currency: str = strawberry.field(description="USD, EUR, GBP or JPY.")
    interval: BillingInterval = strawberry.field(description="Monthly or yearly.")
    amount: MinorUnits = strawberry.field(
        description="Minor units per interval, before tax: 1 to 10^12."
    )
    reason: str = strawberry.field(description=REASON)


@strawberry.type(description="The price now sold; the one it replaced stays on subscriptions.")
class PricePayload:
    price: Price = strawberry.field(description="The new active price.")


@strawberry.input(description="A refund of a paid invoice through the payment processor.")
class RefundInvoiceInput:
    invoice_id: strawberry.ID = strawberry.field(description="The invoice's global id.")
    amount: MinorUnits | None = strawberry.field(
        default=None,
        description="Minor units to refund; null refunds everything not yet refunded. At "
        "most what was paid less what was refunded (REFUND_EXCEEDS_PAID).",
    )
    reason: str = strawberry.field(
        description=REASON + " Kept with the credit note for billing staff (its first 500 "
        "characters); never shown to the customer nor printed on the document."
    )


@strawberry.type(description="The credit note a refund issued.")
class CreditNotePayload:
    credit_note: CreditNote = strawberry.field(description="The credit note.")


@strawberry.input(description="An open invoice to close without payment, and why.")
class CloseInvoiceInput:
    invoice_id: strawberry.ID = strawberry.field(description="The invoice's global id.")
    reason: str = strawberry.field(description=REASON)


@strawberry.type(description="An invoice after a change of state.")
class InvoicePayload:
    invoice: Invoice = strawberry.field(description="The invoice now.")


@strawberry.input(description="A metered event, from an internal producer.")
class RecordUsageInput:
    event_id: str = strawberry.field(
        description="The producer's unique id for the event (1 to 100 characters): sending it "
        "again records nothing more; with other contents it is USAGE_EVENT_CONFLICT."
    )
    account_id: strawberry.ID = strawberry.field(description="The account's global id.")
    meter: str = strawberry.field(description="The meter: `api_calls`.")
    quantity: int = strawberry.field(description="Units used: 1 to 10^9.")
    occurred_at: datetime = strawberry.field(
        description="When it happened (with a time zone): within the open billing period, "
        "not in the future."
    )


@strawberry.type(description="A metered event as recorded.")
class UsagePayload:
    event_id: str = strawberry.field(description="The producer's event id.")
    quantity: int = strawberry.field(description="Units recorded.")
    occurred_at: datetime = strawberry.field(description="When it happened (UTC).")


CreateCouponResult = Annotated[
    CouponPayload | ValidationError | NotFoundError, _outcome("createCoupon")
]
CreatePromotionCodeResult = Annotated[
    PromotionCodePayload | ValidationError | NotFoundError | ConflictError,
    _outcome("createPromotionCode"),
]
SetPlanPriceResult = Annotated[
    PricePayload | ValidationError | NotFoundError, _outcome("setPlanPrice")
]
RefundInvoiceResult = Annotated[
    CreditNotePayload | ValidationError | NotFoundError | ConflictError | ServiceUnavailableError,
    _outcome("refundInvoice"),
]
VoidInvoiceResult = Annotated[
    InvoicePayload | ValidationError | NotFoundError | ConflictError, _outcome("voidInvoice")
]
MarkInvoiceUncollectibleResult = Annotated[
    InvoicePayload | ValidationError | NotFoundError | ConflictError,
    _outcome("markInvoiceUncollectible"),
]
RecordUsageResult = Annotated[
    UsagePayload | ValidationError | NotFoundError | ConflictError, _outcome("recordUsage")
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
        row = await resolvers.create_coupon(
            info.context,
            reason=input.reason,
            name=input.name,
            percent_off=input.percent_off,
            amounts_off=[(m.currency, m.amount) for m in input.amounts_off],
            duration=str(input.duration.value),
            duration_months=input.duration_months,
            plan_codes=input.plan_codes,
            max_redemptions=input.max_redemptions,
            redeem_by=input.redeem_by,
            first_time_only=input.first_time_only,
        )
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
            info.context,
            reason=input.reason,
            coupon_id=_key(input.coupon_id, "Coupon", "couponId"),
            code=input.code,
            max_redemptions=input.max_redemptions,
            expires_at=input.expires_at,
            first_time_only=input.first_time_only,
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
        row = await resolvers.set_plan_price(
            info.context,
            reason=input.reason,
            plan_code=input.plan_code,
            currency=input.currency,
            interval=str(input.interval.value),
            amount=input.amount,
        )
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
            invoice_id=_key(input.invoice_id, "Invoice", "invoiceId"),
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
        row = await resolvers.record_usage(
            info.context,
            account_id=_key(input.account_id, "Account", "accountId"),
            meter=input.meter,
            quantity=input.quantity,
            event_id=input.event_id,
            occurred_at=input.occurred_at,
        )
        return UsagePayload(
            event_id=row.event_id, quantity=row.quantity, occurred_at=row.occurred_at
        )


async def _close(info: Info, input: CloseInvoiceInput, *, void: bool) -> VoidInvoiceResult:
    row = await resolvers.close_invoice(
        info.context,
        invoice_id=_key(input.invoice_id, "Invoice", "invoiceId"),
        reason=input.reason,
        void=void,
    )
    return InvoicePayload(invoice=Invoice.from_row(row, staff_view=True))
