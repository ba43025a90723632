"""Detaching an account's billing documents before the account is deleted: invoices,
payments and credit notes are tax records with gap-free numbers, so they outlive the account
(their `account_id` becomes NULL, also when an account row is deleted without this), while
the personal data billing keeps of the customer is erased."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import utcnow
from models.billing import endings, errors
from models.billing.ledger import OPEN, Invoice, Payment
from models.billing.tables import CANCELED, BillingCustomer, PaymentMethod, Subscription


@dataclass(frozen=True)
class DetachedBilling:
    """What `detach_account_billing` did. `stripe_customer_id`: the Stripe customer (it holds
    the email) for the caller to delete at Stripe after commit; None when there was none."""

    invoices: int
    payments: int
    stripe_customer_id: str | None


async def detach_account_billing(
    session: AsyncSession, *, account_id: int, now: datetime | None = None
) -> DetachedBilling:
    """Keep the account's invoices, payments and credit notes (number, amounts, tax, tax
    country, currency, periods stay) without the account, and erase the billing customer's
    personal data: its country and Stripe customer, and its cards' brand, last four digits and
    expiry. In the caller's transaction; running it again changes nothing. Refused
    (`NOT_ALLOWED`) while the account has a subscription that is not canceled."""
    now = now or utcnow()
    live = await session.scalar(
        select(func.count())
        .select_from(Subscription)
        .where(Subscription.account_id == account_id, Subscription.status != CANCELED)
    )
    if live:
        raise errors.BillingNotAllowed(
            "Cancel the account's subscription before detaching its billing documents.",
            field="accountId",
        )
    # Nothing will collect an invoice without its account: the open ones are written off
    # first (the credit they used goes back to the balance, erased with the customer).
    customer = await session.get(BillingCustomer, account_id, with_for_update=True)
    left_open = await session.scalars(
        select(Invoice)
        .where(Invoice.account_id == account_id, Invoice.status == OPEN)
        .order_by(Invoice.id)
        .with_for_update()
    )
    await endings.write_off(session, invoices=list(left_open), why="the account was closed")
    invoices = await session.execute(
        update(Invoice).where(Invoice.account_id == account_id).values(account_id=None)
    )
    payments = await session.execute(
        update(Payment).where(Payment.account_id == account_id).values(account_id=None)
    )
    await session.execute(
        update(PaymentMethod)
        .where(PaymentMethod.account_id == account_id)
        .values(
            brand="",
            last4="",
            exp_month=0,
            exp_year=0,
            detached_at=func.coalesce(PaymentMethod.detached_at, now),
        )
    )
    stripe_customer_id = None
    if customer is not None:
        stripe_customer_id = customer.stripe_customer_id
        customer.country = None
        customer.stripe_customer_id = None
        customer.default_payment_method_id = None
    await session.flush()
    return DetachedBilling(
        invoices=int(invoices.rowcount),  # type: ignore[attr-defined]
        payments=int(payments.rowcount),  # type: ignore[attr-defined]
        stripe_customer_id=stripe_customer_id,
    )
