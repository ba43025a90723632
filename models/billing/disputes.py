"""Disputes (chargebacks) as Stripe reports them: kept in step with the dispute object of each
event, whatever order the events arrive in. A dispute concerns the subscription its charge
paid for (payment, invoice, subscription), never whichever one the account has now: opening
it freezes that subscription's paid plan while it is live (when BILLING_FREEZE_ON_DISPUTE is
on) and tells billing staff; winning it unfreezes; losing it counts the amount as given back
and, if that subscription is still live, ends it (Free, its open invoices written off)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.audit.actions import Actor, record_entry
from models.base import conflict_insert, utcnow
from models.billing import charges, customers, endings, invoicing, money, notices
from models.billing.charges import amount_field, text_field
from models.billing.errors import InvalidWebhookPayload
from models.billing.ledger import Dispute, Invoice, Payment
from models.billing.setup import BillingSetup
from models.billing.tables import CANCELED

WON = "won"
LOST = "lost"
# Stripe's closed statuses and what they mean for Chirp: the money stays (won) or goes (lost).
# An inquiry closed without a chargeback (warning_closed) keeps the money, like a win.
OUTCOMES = {"won": WON, "warning_closed": WON, "prevented": WON, "lost": LOST}
# Open statuses only move forward, so a late `created` never undoes an `updated`.
_OPEN_RANK = {
    "warning_needs_response": 0,
    "needs_response": 0,
    "warning_under_review": 1,
    "under_review": 1,
}
CANCEL_REASON = "dispute_lost"
STRIPE = Actor.system("stripe")


@dataclass
class DisputeChange:
    """What syncing one dispute event did (for the caller's metrics and tests)."""

    dispute: Dispute
    opened: bool = False
    closed: bool = False
    payment_settled: bool = False
    audit: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class _Fields:
    stripe_id: str
    charge_id: str
    intent_id: str | None
    amount: int
    currency: str
    reason: str
    status: str
    created: datetime


def _fields(obj: Mapping[str, Any], occurred_at: datetime) -> _Fields:
    stripe_id = text_field(obj, "id")
    charge_id = text_field(obj, "charge")
    assert stripe_id is not None and charge_id is not None
    currency = obj.get("currency")
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
        raise InvalidWebhookPayload("The dispute has no valid `currency`.", field="currency")
    status = obj.get("status")
    if not isinstance(status, str) or not 0 < len(status) <= 32:
        raise InvalidWebhookPayload("The dispute has no valid `status`.", field="status")
    created = obj.get("created")
    opened = (
        datetime.fromtimestamp(created, UTC)
        if isinstance(created, int) and not isinstance(created, bool) and 0 < created < 2**33
        else occurred_at
    )
    reason = obj.get("reason")
    return _Fields(
        stripe_id=stripe_id,
        charge_id=charge_id,
        intent_id=text_field(obj, "payment_intent", required=False),
        amount=amount_field(obj, "amount"),
        currency=currency.upper(),
        reason=reason[:64] if isinstance(reason, str) else "",
        status=status,
        created=opened,
    )


async def sync_dispute(
    session: AsyncSession,
    setup: BillingSetup,
    *,
    dispute: Mapping[str, Any],
    occurred_at: datetime,
    now: datetime,
) -> DisputeChange:
    """Bring the dispute in line with Stripe's dispute object. The first event seen opens it
    (whichever it is); a closed dispute never changes again. Audits last, in this
    transaction."""
    found = _fields(dispute, occurred_at)
    payment = await charges.find_payment(
        session, charge_id=found.charge_id, intent_id=found.intent_id
    )
    settled = False
    if payment is not None and payment.account_id is not None:
        # The customer's lock first, as payments.collect takes it: ending the disputed
        # subscription writes off its invoices and gives back the credit they used.
        await customers.lock_customer(session, account_id=payment.account_id)
    if payment is not None:
        settled = await charges.settle_paid(
            session, setup, payment=payment, charge_id=found.charge_id, now=now
        )
    row, inserted = await _upsert(session, found, payment)
    change = DisputeChange(row, payment_settled=settled)
    if inserted:
        await _open(session, setup, change)
    if row.outcome is None:
        outcome = OUTCOMES.get(found.status)
        if outcome is not None:
            await _close(session, change, status=found.status, outcome=outcome, at=occurred_at)
        elif _OPEN_RANK.get(found.status, 0) > _OPEN_RANK.get(row.status, 0):
            row.status = found.status
    for entry in change.audit:
        await record_entry(session, actor=STRIPE, **entry)
    return change


async def _upsert(
    session: AsyncSession, found: _Fields, payment: Payment | None
) -> tuple[Dispute, bool]:
    insert = conflict_insert(session)
    # Concurrent events of one dispute queue on the unique index: one inserts, the others
    # then lock the row it wrote.
    inserted = await session.scalar(
        insert(Dispute)
        .values(
            stripe_dispute_id=found.stripe_id,
            stripe_charge_id=found.charge_id,
            payment_id=payment.id if payment is not None else None,
            account_id=payment.account_id if payment is not None else None,
            amount=found.amount,
            currency=found.currency,
            reason=found.reason,
            # Opened first; a closed status is applied as a transition right after.
            status="needs_response" if found.status in OUTCOMES else found.status,
            opened_at=found.created,
            created_at=utcnow(),
            updated_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["stripe_dispute_id"])
        .returning(Dispute.id)
    )
    row = await session.scalar(
        select(Dispute)
        .where(Dispute.stripe_dispute_id == found.stripe_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row, inserted is not None


async def _open(session: AsyncSession, setup: BillingSetup, change: DisputeChange) -> None:
    row = change.dispute
    change.opened = True
    frozen = False
    subscription_id = await _disputed_subscription_id(session, row)
    if setup.freeze_on_dispute and subscription_id is not None:
        disputed = await customers.lock_subscription(session, subscription_id)
        if disputed is not None and disputed.status != CANCELED and not disputed.frozen:
            disputed.frozen = frozen = True
    amount = money.format_money(row.amount, row.currency)
    await _tell_staff(
        session,
        row,
        event="opened",
        subject=f"Dispute opened: {amount} ({row.reason or 'no reason given'})",
        text=(
            f"A customer's bank disputes a payment of {amount} (Stripe dispute "
            f"{row.stripe_dispute_id}, charge {row.stripe_charge_id}, account "
            f"{row.account_id or 'unknown'}). "
            + ("Their paid plan is frozen until it closes. " if frozen else "")
            + "Answer it with evidence in Stripe's dashboard before its deadline.\n"
        ),
    )
    change.audit.append(
        {
            "action": "billing.dispute_open",
            "target_type": "dispute",
            "target_id": row.stripe_dispute_id,
            "reason": row.reason or "dispute",
            "after": {
                "amount": row.amount,
                "currency": row.currency,
                "charge": row.stripe_charge_id,
                "account_id": row.account_id,
                "frozen": frozen,
            },
        }
    )


async def _close(
    session: AsyncSession, change: DisputeChange, *, status: str, outcome: str, at: datetime
) -> None:
    row = change.dispute
    change.closed = True
    before = {"status": row.status}
    row.status, row.outcome, row.closed_at = status, outcome, at
    effect = "none"
    subscription_id = await _disputed_subscription_id(session, row)
    if outcome == LOST:
        # The invoice before the subscription: the order payments.apply_intent_result locks in.
        await _count_lost(session, row)
        if subscription_id is not None:
            ended = await endings.end_subscription(
                session, subscription_id=subscription_id, reason=CANCEL_REASON, now=at
            )
            effect = "canceled" if ended is not None else effect
    elif subscription_id is not None:
        disputed = await customers.lock_subscription(session, subscription_id)
        if (
            disputed is not None
            and disputed.frozen
            and disputed.status != CANCELED
            and not await _others_open(session, row, subscription_id)
        ):
            disputed.frozen = False
            effect = "unfrozen"
    amount = money.format_money(row.amount, row.currency)
    consequence = {
        "canceled": " The disputed subscription was canceled: the account is on Free now.",
        "unfrozen": " The disputed subscription's paid plan is unfrozen.",
    }.get(effect, "")
    await _tell_staff(
        session,
        row,
        event="closed",
        subject=f"Dispute {outcome}: {amount}",
        text=(
            f"Stripe dispute {row.stripe_dispute_id} of {amount} (account "
            f"{row.account_id or 'unknown'}) closed as {status}.{consequence}\n"
        ),
    )
    change.audit.append(
        {
            "action": f"billing.dispute_{outcome}",
            "target_type": "dispute",
            "target_id": row.stripe_dispute_id,
            "reason": f"stripe status {status}",
            "before": before,
            "after": {"status": status, "outcome": outcome, "subscription": effect},
        }
    )


async def _count_lost(session: AsyncSession, row: Dispute) -> None:
    """The bank took the amount back: it counts as refunded on the invoice (never more than
    was paid). The payment's own refunded amount stays what Stripe's charge says."""
    if row.payment_id is None:
        return
    invoice_id = await session.scalar(
        select(Payment.invoice_id).where(Payment.id == row.payment_id)
    )
    invoice = await invoicing.lock_invoice(session, invoice_id=invoice_id) if invoice_id else None
    if invoice is not None:
        invoice.amount_refunded = min(invoice.amount_paid, invoice.amount_refunded + row.amount)


async def _disputed_subscription_id(session: AsyncSession, row: Dispute) -> int | None:
    """The subscription the disputed charge paid for (None: not a charge of a Chirp
    subscription's invoice)."""
    if row.payment_id is None:
        return None
    return await session.scalar(
        select(Invoice.subscription_id)
        .join(Payment, Payment.invoice_id == Invoice.id)
        .where(Payment.id == row.payment_id)
    )


async def _others_open(session: AsyncSession, row: Dispute, subscription_id: int) -> bool:
    """Whether another dispute of a charge of the same subscription is still open."""
    other = await session.scalar(
        select(Dispute.id)
        .join(Payment, Payment.id == Dispute.payment_id)
        .join(Invoice, Invoice.id == Payment.invoice_id)
        .where(
            Invoice.subscription_id == subscription_id,
            Dispute.outcome.is_(None),
            Dispute.id != row.id,
        )
        .limit(1)
    )
    return other is not None


async def _tell_staff(
    session: AsyncSession, row: Dispute, *, event: str, subject: str, text: str
) -> None:
    await notices.tell_billing_staff(
        session,
        key=f"dispute:{row.stripe_dispute_id}:{event}",
        subject=subject,
        text=f"{text}\n— Chirp billing\n",
    )
