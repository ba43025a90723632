"""A refund counts as refunded only once Stripe says it succeeded (issue 12, defect 7): a
refund Stripe answers `pending` reserves its amount without counting it, and
`charge.refund.updated` settles it; a failed or canceled refund gives the amount back to what
can be refunded, fails or reverses its credit note, and tells billing staff once, however
often and in whatever order the events come. (The signed HTTP delivery of these events is
tested in tests/api/billing/test_billing_webhooks.py.)"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.access.roles import Role
from models.access.tables import AccountRole
from models.audit.actions import Actor
from models.base import utcnow
from models.billing import errors, refunds, webhooks
from models.billing.ledger import FAILED, ISSUED, PENDING, REVERSED, CreditNote, Invoice, Payment
from models.billing.setup import BillingSetup
from models.mail.tables import OutboundEmail
from models.transactions import Transactions
from tests.support.domain_accounts import new_account
from tests.support.domain_billing import customer, latest_invoice, subscribe
from tests.support.memory_gateway import InMemoryPaymentGateway

Sessions = async_sessionmaker[AsyncSession]


async def _paid_invoice(sessions: Sessions, setup: BillingSetup) -> int:
    async with sessions() as session, session.begin():
        admin = await new_account(session, "bea")
        session.add(AccountRole(account_id=admin.id, role=Role.BILLING_ADMIN.value))
    ada = await customer(sessions, setup, "ada")
    await subscribe(sessions, setup, ada)  # Plus, monthly, USD: 500
    async with sessions() as session:
        return (await latest_invoice(session, ada)).id


async def _refund(
    sessions: Sessions, setup: BillingSetup, invoice_id: int, amount: int
) -> CreditNote:
    return await refunds.refund_invoice(
        Transactions(sessions),
        setup,
        actor=Actor.system("test"),
        invoice_id=invoice_id,
        amount=amount,
        reason="goodwill gesture",
    )


def _refund_event(
    gateway: InMemoryPaymentGateway, refund_id: str, status: str, event_id: str
) -> dict[str, Any]:
    [refund] = [r for i in gateway.intents.values() for r in i.refunds if r["id"] == refund_id]
    if status in ("failed", "canceled"):  # as Stripe's refund is from then on
        refund["status"] = status
    obj = {**refund, "status": status, "object": "refund"}
    obj["failure_reason"] = "expired_or_canceled_card"
    return {
        "id": event_id,
        "type": "charge.refund.updated",
        "created": int(utcnow().timestamp()),
        "data": {"object": obj},
    }


async def _deliver(sessions: Sessions, setup: BillingSetup, *events: dict[str, Any]) -> None:
    for event in events:
        async with sessions() as session, session.begin():
            await webhooks.receive_event(session, setup, event=event, now=utcnow())


async def _state(sessions: Sessions, invoice_id: int) -> tuple[list[Any], int, int, int]:
    async with sessions() as session:
        notes = (
            await session.scalars(
                select(CreditNote)
                .where(CreditNote.invoice_id == invoice_id)
                .order_by(CreditNote.id)
            )
        ).all()
        invoice = await session.get(Invoice, invoice_id)
        payment = await session.scalar(select(Payment).where(Payment.invoice_id == invoice_id))
        mails = await session.scalar(
            select(func.count())
            .select_from(OutboundEmail)
            .where(OutboundEmail.key.like("refund:%:failed:%"))
        )
    assert invoice is not None and payment is not None
    summary = [(n.amount, n.status, n.number) for n in notes]
    return summary, invoice.amount_refunded, payment.amount_refunded, int(mails or 0)


async def test_a_pending_refund_is_reserved_not_refunded_until_stripe_says_it_succeeded(
    db_sessionmaker: Sessions, billing_setup: BillingSetup, payment_gateway: InMemoryPaymentGateway
) -> None:
    invoice_id = await _paid_invoice(db_sessionmaker, billing_setup)
    payment_gateway.refund_status = "pending"

    note = await _refund(db_sessionmaker, billing_setup, invoice_id, 300)

    assert (note.status, note.number) == (PENDING, None)
    assert await _state(db_sessionmaker, invoice_id) == ([(300, PENDING, None)], 0, 0, 0)
    with pytest.raises(errors.RefundTooLarge):  # 300 of 500 is reserved
        await _refund(db_sessionmaker, billing_setup, invoice_id, 201)
    assert note.stripe_refund_id is not None
    succeeded = _refund_event(payment_gateway, note.stripe_refund_id, "succeeded", "evt_ok")
    await _deliver(db_sessionmaker, billing_setup, succeeded, succeeded)
    assert await _state(db_sessionmaker, invoice_id) == ([(300, ISSUED, 1)], 300, 300, 0)


async def test_a_pending_refund_that_fails_is_never_counted_and_can_be_refunded_again(
    db_sessionmaker: Sessions, billing_setup: BillingSetup, payment_gateway: InMemoryPaymentGateway
) -> None:
    invoice_id = await _paid_invoice(db_sessionmaker, billing_setup)
    payment_gateway.refund_status = "pending"
    note = await _refund(db_sessionmaker, billing_setup, invoice_id, 300)
    assert note.stripe_refund_id is not None

    failed = _refund_event(payment_gateway, note.stripe_refund_id, "failed", "evt_failed")
    again = {**failed, "id": "evt_failed_again"}
    late_success = _refund_event(payment_gateway, note.stripe_refund_id, "succeeded", "evt_late")
    await _deliver(db_sessionmaker, billing_setup, failed, failed, again, late_success)

    assert await _state(db_sessionmaker, invoice_id) == ([(300, FAILED, None)], 0, 0, 1)
    async with db_sessionmaker() as session:
        failed_note = await session.get(CreditNote, note.id)
    assert failed_note is not None and "failed (expired_or_canceled_card)" in failed_note.reason
    payment_gateway.refund_status = "succeeded"
    whole = await _refund(db_sessionmaker, billing_setup, invoice_id, 500)
    assert (whole.status, whole.number, whole.amount) == (ISSUED, 1, 500)


async def test_an_issued_refund_that_fails_later_is_reversed_keeping_its_number(
    db_sessionmaker: Sessions, billing_setup: BillingSetup, payment_gateway: InMemoryPaymentGateway
) -> None:
    invoice_id = await _paid_invoice(db_sessionmaker, billing_setup)
    note = await _refund(db_sessionmaker, billing_setup, invoice_id, 200)
    assert (note.status, note.number) == (ISSUED, 1)
    assert note.stripe_refund_id is not None

    canceled = _refund_event(payment_gateway, note.stripe_refund_id, "canceled", "evt_canceled")
    await _deliver(db_sessionmaker, billing_setup, canceled, canceled, {**canceled, "id": "evt_2"})

    assert await _state(db_sessionmaker, invoice_id) == ([(200, REVERSED, 1)], 0, 0, 1)
    second = await _refund(db_sessionmaker, billing_setup, invoice_id, 500)
    assert (second.status, second.number) == (ISSUED, 2)
    assert await _state(db_sessionmaker, invoice_id) == (
        [(200, REVERSED, 1), (500, ISSUED, 2)],
        500,
        500,
        1,
    )
