"""Arranging billing directly through the billing engine, on the in-memory payment gateway,
for domain-tier tests."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.billing import coupons, customers, subscriptions
from models.billing.ledger import Invoice
from models.billing.setup import BillingSetup
from models.billing.specs import CouponSpec, SubscriptionSpec
from models.billing.tables import Subscription
from models.transactions import Transactions
from tests.support.domain_accounts import new_account
from tests.support.memory_gateway import GOOD_CARD, InMemoryPaymentGateway


async def customer(
    sessionmaker: async_sessionmaker[AsyncSession],
    setup: BillingSetup,
    handle: str,
    card: str | None = GOOD_CARD,
) -> int:
    """A new account's id, with a new `card` (a number) as its default payment method."""
    async with sessionmaker() as session, session.begin():
        account_id = (await new_account(session, handle)).id
    if card is not None:
        await add_card(sessionmaker, setup, account_id, card)
    return account_id


async def add_card(
    sessionmaker: async_sessionmaker[AsyncSession],
    setup: BillingSetup,
    account_id: int,
    number: str,
) -> None:
    """Attach a new payment method for the card `number` as the account's default, as the
    frontend and `addPaymentMethod` do."""
    assert isinstance(setup.gateway, InMemoryPaymentGateway), "domain tests only"
    await customers.add_payment_method(
        Transactions(sessionmaker),
        setup.gateway,
        account_id=account_id,
        stripe_payment_method_id=setup.gateway.new_card(number),
        make_default=True,
    )


async def subscribe(
    sessionmaker: async_sessionmaker[AsyncSession],
    setup: BillingSetup,
    account_id: int,
    plan_code: str = "plus",
    *,
    interval: str = "month",
    currency: str = "USD",
    country: str | None = None,
    promotion_code: str | None = None,
    now: datetime | None = None,
) -> Subscription:
    """Subscribe as the `subscribe` mutation does (Plus, monthly, USD unless told otherwise)."""
    return await subscriptions.subscribe(
        Transactions(sessionmaker),
        setup,
        account_id=account_id,
        spec=SubscriptionSpec(plan_code, interval, currency, country, promotion_code),
        now=now,
    )


async def latest_invoice(session: AsyncSession, account_id: int) -> Invoice:
    """The account's newest invoice."""
    invoice = await session.scalar(
        select(Invoice).where(Invoice.account_id == account_id).order_by(Invoice.id.desc())
    )
    assert invoice is not None
    return invoice


async def forever_code(
    sessions: async_sessionmaker[AsyncSession],
    code: str,
    *,
    percent_off: int | None = None,
    amounts_off: tuple[tuple[str, int], ...] = (),
    plan_codes: tuple[str, ...] = (),
) -> None:
    """A forever coupon (`percent_off` or `amounts_off`) and its promotion `code`."""
    spec = CouponSpec(
        name=code,
        percent_off=percent_off,
        amounts_off=amounts_off,
        duration="forever",
        duration_months=None,
        plan_codes=plan_codes,
        max_redemptions=None,
        redeem_by=None,
        first_time_only=False,
    )
    async with sessions() as session, session.begin():
        await coupons.create_offer(session, spec, code=code)
