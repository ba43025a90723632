"""Customers and their payment methods. Card data never reaches Chirp: the frontend creates a
payment method with Stripe's library and passes its id."""

from __future__ import annotations

import logging

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.accounts.tables import Account
from models.base import conflict_insert, utcnow
from models.billing import errors, idempotency
from models.billing.processor import CardDetails, PaymentGateway
from models.billing.tables import BillingCustomer, PaymentMethod, Subscription
from models.errors import InvalidInput, NotFound
from models.text import check_text
from models.transactions import Transactions

log = logging.getLogger("chirp.billing")


async def lock_customer(session: AsyncSession, *, account_id: int) -> BillingCustomer:
    """The account's customer row, created if missing, locked for the transaction: every
    change to one customer's billing runs one at a time."""
    insert = conflict_insert(session)
    await session.execute(
        insert(BillingCustomer)
        .values(account_id=account_id, credit_balance=0, created_at=utcnow(), updated_at=utcnow())
        .on_conflict_do_nothing(index_elements=["account_id"])
    )
    customer = await session.scalar(
        select(BillingCustomer)
        .where(BillingCustomer.account_id == account_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert customer is not None
    return customer


async def lock_subscription(session: AsyncSession, subscription_id: int) -> Subscription | None:
    """A subscription locked for the transaction, re-read (after the customer's lock, or
    after an invoice's: the order `payments.apply_intent_result` locks them in)."""
    return await session.scalar(
        select(Subscription)
        .where(Subscription.id == subscription_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def ensure_stripe_customer(
    transactions: Transactions,
    gateway: PaymentGateway,
    *,
    account_id: int,
    replacing: str | None = None,
) -> str:
    """The account's Stripe customer id, created once (a retry reuses the stored key).

    `replacing` names a customer the processor no longer knows: it is forgotten, with the
    payment methods attached to it, and a new customer is made under a key of its own."""
    async with transactions.begin() as session:
        customer = await lock_customer(session, account_id=account_id)
        if replacing is not None and customer.stripe_customer_id == replacing:
            await _forget_lost_customer(session, customer)
        if customer.stripe_customer_id:
            return customer.stripe_customer_id
        email = await session.scalar(select(Account.email).where(Account.id == account_id))
    key = f"chirp-customer-{account_id}"
    if replacing is not None:
        key = f"{key}-replacing-{replacing}"
    done = await idempotency.reserve(transactions, key=key, operation="customer.create")
    stripe_id = done or await gateway.create_customer(
        account_id=account_id, email=email or "", key=key
    )
    async with transactions.begin() as session:
        customer = await lock_customer(session, account_id=account_id)
        if customer.stripe_customer_id is None:
            customer.stripe_customer_id = stripe_id
        await idempotency.complete(session, key=key, result_id=stripe_id)
        return customer.stripe_customer_id


async def _forget_lost_customer(session: AsyncSession, customer: BillingCustomer) -> None:
    log.warning(
        "the payment processor no longer knows customer %s of account %s: made again",
        customer.stripe_customer_id,
        customer.account_id,
    )
    customer.stripe_customer_id = None
    customer.default_payment_method_id = None
    await session.execute(
        update(PaymentMethod)
        .where(PaymentMethod.account_id == customer.account_id, PaymentMethod.detached_at.is_(None))
        .values(detached_at=utcnow())
    )


async def _attach(
    transactions: Transactions,
    gateway: PaymentGateway,
    *,
    account_id: int,
    stripe_payment_method_id: str,
    recreate_lost_customer: bool,
) -> tuple[CardDetails, str]:
    """Attach the card to the account's customer; the card and the key it was attached
    with. A decline whose cause is a customer the
    processor no longer knows is PAYMENT_CUSTOMER_UNKNOWN, or, where that is allowed
    (development against localstripe), the customer is made again and the card attached
    to the new one."""
    customer_id = await ensure_stripe_customer(transactions, gateway, account_id=account_id)
    for attempt in range(2):
        key = f"chirp-attach-{account_id}-{stripe_payment_method_id}"
        if attempt:
            key = f"{key}-{customer_id}"
        await idempotency.reserve(transactions, key=key, operation="payment_method.attach")
        try:
            card = await gateway.attach_payment_method(
                customer_id=customer_id, payment_method_id=stripe_payment_method_id, key=key
            )
        except errors.PaymentMethodDeclined:
            if attempt or await gateway.customer_exists(customer_id=customer_id):
                raise
            if not recreate_lost_customer:
                raise errors.PaymentCustomerUnknown(
                    "The payment processor no longer knows this account's customer record, "
                    "so no card can be added. Contact support.",
                    field=None,
                ) from None
            customer_id = await ensure_stripe_customer(
                transactions, gateway, account_id=account_id, replacing=customer_id
            )
            continue
        return card, key
    raise AssertionError("unreachable")


async def add_payment_method(
    transactions: Transactions,
    gateway: PaymentGateway,
    *,
    account_id: int,
    stripe_payment_method_id: str,
    make_default: bool,
    recreate_lost_customer: bool = False,
) -> PaymentMethod:
    """Attach a payment method to the customer and keep what can be shown of it."""
    check_text(stripe_payment_method_id, field="paymentMethodId")
    if not stripe_payment_method_id.startswith("pm_") or len(stripe_payment_method_id) > 64:
        raise InvalidInput(
            "Give the id of a payment method created with Stripe's library (pm_...).",
            field="paymentMethodId",
        )
    async with transactions.session() as session:
        existing = await session.scalar(
            select(PaymentMethod).where(
                PaymentMethod.stripe_payment_method_id == stripe_payment_method_id
            )
        )
        if existing is not None and existing.account_id != account_id:
            raise InvalidInput(
                "That payment method belongs to another account.", field="paymentMethodId"
            )
    card, key = await _attach(
        transactions,
        gateway,
        account_id=account_id,
        stripe_payment_method_id=stripe_payment_method_id,
        recreate_lost_customer=recreate_lost_customer,
    )
    async with transactions.begin() as session:
        customer = await lock_customer(session, account_id=account_id)
        method = await session.scalar(
            select(PaymentMethod).where(
                PaymentMethod.stripe_payment_method_id == stripe_payment_method_id
            )
        )
        if method is None:
            method = PaymentMethod(
                account_id=account_id,
                stripe_payment_method_id=card.stripe_id,
                brand=card.brand,
                last4=card.last4,
                exp_month=card.exp_month,
                exp_year=card.exp_year,
            )
            session.add(method)
            await session.flush()
        method.detached_at = None
        if make_default or customer.default_payment_method_id is None:
            customer.default_payment_method_id = method.id
        await idempotency.complete(session, key=key, result_id=card.stripe_id)
        return method


async def set_default_payment_method(
    session: AsyncSession, *, account_id: int, payment_method_id: int
) -> PaymentMethod:
    """Make one of the customer's payment methods the one charged from now on."""
    customer = await lock_customer(session, account_id=account_id)
    method = await session.get(PaymentMethod, payment_method_id)
    if method is None or method.account_id != account_id or method.detached_at is not None:
        raise NotFound("No such payment method.", field="paymentMethodId")
    customer.default_payment_method_id = method.id
    return method


async def remove_payment_method(
    session: AsyncSession, *, account_id: int, payment_method_id: int
) -> PaymentMethod:
    """Stop using a payment method (it stays on past payments)."""
    customer = await lock_customer(session, account_id=account_id)
    method = await session.get(PaymentMethod, payment_method_id)
    if method is None or method.account_id != account_id or method.detached_at is not None:
        raise NotFound("No such payment method.", field="paymentMethodId")
    method.detached_at = utcnow()
    if customer.default_payment_method_id == method.id:
        customer.default_payment_method_id = None
    return method


async def default_method(session: AsyncSession, customer: BillingCustomer) -> PaymentMethod:
    if customer.default_payment_method_id is None:
        raise errors.NoPaymentMethod("Add a payment method first (addPaymentMethod).", field=None)
    method = await session.get(PaymentMethod, customer.default_payment_method_id)
    if method is None or method.detached_at is not None:
        raise errors.NoPaymentMethod("Add a payment method first (addPaymentMethod).", field=None)
    return method
