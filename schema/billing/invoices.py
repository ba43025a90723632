"""Invoices in the graph: issued invoices with their lines and credit notes, pages of them,
and invoices computed but not issued (the upcoming one, a plan change's preview)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from models.billing import ledger
from models.billing import queries as billing_queries
from models.billing.invoicing import Draft, LineSpec
from models.billing.ledger import CreditNote as CreditNoteRow
from models.billing.ledger import Invoice as InvoiceRow
from models.billing.ledger import InvoiceLine as InvoiceLineRow
from resolvers import billing as billing_resolvers
from resolvers.context import Info
from resolvers.paging import global_id
from schema.billing.types import Money
from schema.core.paging import Connection, page_of

LINE_KIND = (
    "What the line is for: `subscription` (a plan's period), `proration_credit` (unused "
    "time on the old plan, negative), `proration_charge` (the rest of the period on the new "
    "plan), `balance_credit` (added to the credit balance) or `usage` (metered API calls)."
)


@strawberry.enum(description="Where an invoice stands.")
class InvoiceStatus(Enum):
    DRAFT = strawberry.enum_value(
        ledger.DRAFT, description="Computed, not issued: previews and the upcoming invoice."
    )
    OPEN = strawberry.enum_value(ledger.OPEN, description="Issued and waiting for payment.")
    PAID = strawberry.enum_value(ledger.PAID, description="Paid in full (or nothing was due).")
    VOID = strawberry.enum_value(
        ledger.VOID, description="Cancelled by billing staff: nothing is owed on it."
    )
    UNCOLLECTIBLE = strawberry.enum_value(
        ledger.UNCOLLECTIBLE,
        description="Given up on by billing staff: no longer collected, kept for the books.",
    )


@strawberry.type(description="One line of an invoice.")
class InvoiceLine:
    kind: str = strawberry.field(description=LINE_KIND)
    description: str = strawberry.field(description="What to show, in English (at most 200 chars).")
    quantity: int = strawberry.field(description="How many units (1 for a plan's period).")
    amount: Money = strawberry.field(description="The line's amount; negative for a credit.")
    period_start: datetime = strawberry.field(description="Start of the time it covers (UTC).")
    period_end: datetime = strawberry.field(description="End of the time it covers (UTC).")

    @classmethod
    def from_row(cls, row: InvoiceLineRow, currency: str) -> InvoiceLine:
        return cls(
            kind=row.kind,
            description=row.description,
            quantity=row.quantity,
            amount=Money.of(row.amount, currency),
            period_start=row.period_start,
            period_end=row.period_end,
        )

    @classmethod
    def from_spec(cls, spec: LineSpec, currency: str) -> InvoiceLine:
        return cls(
            kind=spec.kind,
            description=spec.description,
            quantity=spec.quantity,
            amount=Money.of(spec.amount, currency),
            period_start=spec.period_start,
            period_end=spec.period_end,
        )


@strawberry.enum(description="Where a refund's credit note stands.")
class CreditNoteStatus(Enum):
    PENDING = strawberry.enum_value(
        ledger.PENDING,
        description="The refund is under way (the amount is reserved); no number yet. "
        "Billing staff only.",
    )
    ISSUED = strawberry.enum_value(
        ledger.ISSUED, description="Refunded: numbered, and the customer's document."
    )
    FAILED = strawberry.enum_value(
        ledger.FAILED,
        description="The payment processor refused the refund: nothing was refunded and it "
        "has no number. Billing staff only.",
    )
    REVERSED = strawberry.enum_value(
        ledger.REVERSED,
        description="Issued, then the payment processor reported that its refund failed: "
        "nothing was refunded, its amount no longer counts as refunded, and it keeps its "
        "number. The customer sees it too.",
    )


@strawberry.type(
    description="A refund of an invoice and its document, numbered in its own series with no "
    "gaps. A customer sees only the ones issued."
)
class CreditNote:
    id: strawberry.ID = strawberry.field(description="The credit note's global id.")
    number: int | None = strawberry.field(
        description="Its number in the credit-note series; null unless `status` is ISSUED or "
        "REVERSED."
    )
    status: CreditNoteStatus = strawberry.field(
        description="ISSUED for a refund made, REVERSED for one that failed after it was "
        "issued; billing staff also see PENDING and FAILED."
    )
    amount: Money = strawberry.field(description="How much was (or is being) refunded.")
    reason: str | None = strawberry.field(
        description="Why billing staff refunded it, in their words (at most 500 characters), "
        "for billing staff only: never printed on the document, and null for the customer "
        "(`viewerBilling`)."
    )
    created_at: datetime = strawberry.field(description="When the refund was asked for (UTC).")
    html_url: str = strawberry.field(
        description="Where to download it as HTML once issued: a path on the API's host, "
        "fetched with the same `Authorization` header, by its customer or billing staff."
    )
    pdf_url: str = strawberry.field(description="Where to download it as PDF (same rules).")

    @classmethod
    def from_row(cls, row: CreditNoteRow, *, staff_view: bool) -> CreditNote:
        """`staff_view`: reached by billing staff (`Account.billing`, their mutations),
        who see the staff reason; otherwise by the customer, who does not."""
        return cls(
            id=strawberry.ID(global_id("CreditNote", row.id)),
            number=row.number,
            status=CreditNoteStatus(row.status),
            amount=Money.of(row.amount, row.currency),
            reason=row.reason if staff_view else None,
            created_at=row.created_at,
            html_url=f"/billing/credit-notes/{row.id}.html",
            pdf_url=f"/billing/credit-notes/{row.id}.pdf",
        )


@strawberry.type(
    description="What a customer owes for a period. total = subtotal - discount + tax; "
    "amountDue = total - creditApplied. All amounts are in the invoice's currency."
)
class Invoice:
    id: strawberry.ID = strawberry.field(description="The invoice's global id.")
    number: int | None = strawberry.field(
        description="Its number, from one series with no gaps; null only for a draft."
    )
    status: InvoiceStatus = strawberry.field(description="Where it stands.")
    reason: str = strawberry.field(
        description="Why it was issued: `subscription_create` (the first invoice), "
        "`subscription_cycle` (a renewal) or `subscription_update` (a plan change)."
    )
    currency: str = strawberry.field(description="The ISO 4217 code of every amount on it.")
    period_start: datetime = strawberry.field(description="Start of the period it bills (UTC).")
    period_end: datetime = strawberry.field(description="End of the period it bills (UTC).")
    subtotal: Money = strawberry.field(
        description="The lines added up; negative only when a credit for unused time, "
        "taxed at a lower rate than today's, outweighs the charges before tax."
    )
    discount: Money = strawberry.field(description="Taken off by a coupon.")
    tax_country: str | None = strawberry.field(
        description="The customer's country (ISO 3166 alpha-2) that set the tax rate; null "
        "when unknown (no tax)."
    )
    tax_rate_basis_points: int = strawberry.field(
        description="The tax rate in hundredths of a percent: 1900 is 19%."
    )
    tax: Money = strawberry.field(
        description="Tax on the charges less the discount, less the tax a credit for unused "
        "time gives back at the rate it was charged: negative when more is given back."
    )
    total: Money = strawberry.field(description="subtotal - discount + tax.")
    credit_applied: Money = strawberry.field(description="Paid from the customer's credit balance.")
    amount_due: Money = strawberry.field(description="total - creditApplied: what is charged.")
    amount_paid: Money = strawberry.field(description="What was collected for it.")
    amount_refunded: Money = strawberry.field(description="What was refunded of it so far.")
    created_at: datetime = strawberry.field(description="When it was created (UTC).")
    finalized_at: datetime | None = strawberry.field(
        description="When it was issued and numbered (UTC); null for a draft."
    )
    paid_at: datetime | None = strawberry.field(description="When it was paid (UTC), or null.")
    voided_at: datetime | None = strawberry.field(description="When it was voided, or null.")
    html_url: str = strawberry.field(
        description="Where to download it as HTML: a path on the API's host, to fetch with "
        "the same `Authorization` header. Only its customer and billing staff may."
    )
    pdf_url: str = strawberry.field(
        description="Where to download it as PDF (same rules as `htmlUrl`)."
    )
    key: strawberry.Private[int]
    staff_view: strawberry.Private[bool]

    @classmethod
    def from_row(cls, row: InvoiceRow, *, staff_view: bool = False) -> Invoice:
        """`staff_view` as for `CreditNote.from_row`; the customer's view by default."""
        c = row.currency
        return cls(
            id=strawberry.ID(global_id("Invoice", row.id)),
            number=row.number,
            status=InvoiceStatus(row.status),
            reason=row.reason,
            currency=c,
            period_start=row.period_start,
            period_end=row.period_end,
            subtotal=Money.of(row.subtotal, c),
            discount=Money.of(row.discount_total, c),
            tax_country=row.tax_country,
            tax_rate_basis_points=row.tax_rate_bp,
            tax=Money.of(row.tax_total, c),
            total=Money.of(row.total, c),
            credit_applied=Money.of(row.credit_applied, c),
            amount_due=Money.of(row.amount_due, c),
            amount_paid=Money.of(row.amount_paid, c),
            amount_refunded=Money.of(row.amount_refunded, c),
            created_at=row.created_at,
            finalized_at=row.finalized_at,
            paid_at=row.paid_at,
            voided_at=row.voided_at,
            html_url=f"/billing/invoices/{row.id}.html",
            pdf_url=f"/billing/invoices/{row.id}.pdf",
            key=row.id,
            staff_view=staff_view,
        )

    @strawberry.field(
        description="For its customer, when its payment waits for the cardholder to "
        "authenticate (3-D Secure) while subscribing or upgrading: the PaymentIntent client "
        "secret to pass to Stripe.js `confirmCardPayment`; once authenticated, Stripe's "
        "webhook settles the invoice. Null otherwise, and always null for billing staff."
    )
    async def payment_client_secret(self, info: Info) -> str | None:
        if self.staff_view or self.status is not InvoiceStatus.OPEN:
            return None
        return await billing_resolvers.payment_client_secret(info.context, invoice_id=self.key)

    @strawberry.field(description="Its lines, in order (an invoice has at most a few dozen).")
    async def lines(self, info: Info) -> list[InvoiceLine]:
        rows = await info.context.loaders.lines_by_invoice.load(self.key)
        return [InvoiceLine.from_row(r, self.currency) for r in rows]

    @strawberry.field(
        description="Its refunds' credit notes, oldest first: the issued ones for its "
        "customer; billing staff (`Account.billing`) also see refunds under way or refused."
    )
    async def credit_notes(self, info: Info) -> list[CreditNote]:
        rows = await info.context.loaders.credit_notes_by_invoice.load(self.key)
        if not self.staff_view:
            rows = [r for r in rows if billing_queries.shown_to_customer(r)]
        return [CreditNote.from_row(r, staff_view=self.staff_view) for r in rows]


@page_of(
    "invoice", "A page of a customer's issued invoices, newest first.", "The invoices, in order."
)
class InvoiceConnection(Connection[Invoice]):
    pass


@strawberry.type(
    description="An invoice computed but not issued: the next renewal's, as it stands now."
)
class DraftInvoice:
    currency: str = strawberry.field(description="The ISO 4217 code of every amount on it.")
    lines: list[InvoiceLine] = strawberry.field(description="Its lines, in order.")
    subtotal: Money = strawberry.field(
        description="The lines added up; negative only when a credit for unused time, "
        "taxed at a lower rate than today's, outweighs the charges before tax."
    )
    discount: Money = strawberry.field(description="Taken off by a coupon.")
    tax_rate_basis_points: int = strawberry.field(
        description="The tax rate in hundredths of a percent: 1900 is 19%."
    )
    tax: Money = strawberry.field(
        description="Tax on the charges less the discount, less the tax a credit for unused "
        "time gives back at the rate it was charged: negative when more is given back."
    )
    total: Money = strawberry.field(description="subtotal - discount + tax.")
    credit_applied: Money = strawberry.field(description="What the credit balance will pay.")
    amount_due: Money = strawberry.field(description="What will be charged.")

    @classmethod
    def of(cls, draft: Draft, currency: str) -> DraftInvoice:
        t = draft.totals
        return cls(
            currency=currency,
            lines=[InvoiceLine.from_spec(s, currency) for s in draft.lines],
            subtotal=Money.of(t.subtotal, currency),
            discount=Money.of(t.discount, currency),
            tax_rate_basis_points=draft.tax_rate_bp,
            tax=Money.of(t.tax, currency),
            total=Money.of(t.total, currency),
            credit_applied=Money.of(t.credit_applied, currency),
            amount_due=Money.of(t.amount_due, currency),
        )
