"""A customer the payment processor no longer knows (deleted there, or a development
localstripe restarted empty while the database kept its ids): adding a card says so with
PAYMENT_CUSTOMER_UNKNOWN, or, in development, makes the customer again."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.billing import customers, errors
from models.billing.setup import BillingSetup
from models.billing.tables import BillingCustomer, PaymentMethod
from models.transactions import Transactions
from tests.support.domain_billing import customer
from tests.support.memory_gateway import GOOD_CARD, InMemoryPaymentGateway

Sessions = async_sessionmaker[AsyncSession]


async def add(
    sessionmaker: Sessions, setup: BillingSetup, account_id: int, payment_method_id: str
) -> PaymentMethod:
    """`addPaymentMethod` as the resolver calls it, with the setup's rule for lost customers."""
    return await customers.add_payment_method(
        Transactions(sessionmaker),
        setup.gateway,
        account_id=account_id,
        stripe_payment_method_id=payment_method_id,
        make_default=True,
        recreate_lost_customer=setup.recreate_lost_customers,
    )


async def state(sessionmaker: Sessions, account_id: int) -> tuple[str | None, int | None, int]:
    """The stored customer id, the default method, and how many methods are in use."""
    async with sessionmaker() as session:
        row = await session.scalar(
            select(BillingCustomer).where(BillingCustomer.account_id == account_id)
        )
        live = await session.scalars(
            select(PaymentMethod).where(
                PaymentMethod.account_id == account_id, PaymentMethod.detached_at.is_(None)
            )
        )
        assert row is not None
        return row.stripe_customer_id, row.default_payment_method_id, len(live.all())


async def test_a_lost_customer_is_a_typed_error_that_changes_nothing(
    db_sessionmaker: Sessions, billing_setup: BillingSetup, payment_gateway: InMemoryPaymentGateway
) -> None:
    ada = await customer(db_sessionmaker, billing_setup, "ada")
    before = await state(db_sessionmaker, ada)
    payment_gateway.forget_customers()

    with pytest.raises(errors.PaymentCustomerUnknown) as refused:
        await add(db_sessionmaker, billing_setup, ada, payment_gateway.new_card(GOOD_CARD))

    assert refused.value.code == "PAYMENT_CUSTOMER_UNKNOWN"
    assert "no longer knows" in str(refused.value)
    assert await state(db_sessionmaker, ada) == before


async def test_in_development_the_lost_customer_is_made_again_and_the_card_attached(
    db_sessionmaker: Sessions, billing_setup: BillingSetup, payment_gateway: InMemoryPaymentGateway
) -> None:
    development = dataclasses.replace(billing_setup, recreate_lost_customers=True)
    ada = await customer(db_sessionmaker, development, "ada")
    lost, old_default, _ = await state(db_sessionmaker, ada)
    payment_gateway.forget_customers()

    method = await add(db_sessionmaker, development, ada, payment_gateway.new_card(GOOD_CARD))
    again = await add(db_sessionmaker, development, ada, method.stripe_payment_method_id)

    made, default, in_use = await state(db_sessionmaker, ada)
    assert made is not None and made != lost
    assert await payment_gateway.customer_exists(customer_id=made)
    # The old customer's card went with it; the new card is the default and the only one.
    assert (default, in_use) == (method.id, 1) and default != old_default
    assert payment_gateway.attached[method.stripe_payment_method_id] == made
    # Adding the same card again is the same row, not a second customer.
    assert again.id == method.id
    assert (await state(db_sessionmaker, ada))[0] == made


async def test_an_unknown_card_of_a_known_customer_is_still_declined(
    db_sessionmaker: Sessions, billing_setup: BillingSetup
) -> None:
    development = dataclasses.replace(billing_setup, recreate_lost_customers=True)
    ada = await customer(db_sessionmaker, development, "ada")
    before = await state(db_sessionmaker, ada)

    with pytest.raises(errors.PaymentMethodDeclined):
        await add(db_sessionmaker, development, ada, "pm_never_made")

    assert await state(db_sessionmaker, ada) == before
