"""Invoices, payments and credit notes are tax records with gap-free numbers: they outlive
their account (issue 12, defect 9), and `detach_account_billing` erases the customer's
personal data while keeping what the documents must show."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.accounts.tables import Account
from models.audit.actions import Actor
from models.billing import detach, documents, errors, refunds
from models.billing.ledger import ISSUED, CreditNote, Invoice, Payment
from models.billing.setup import BillingSetup
from models.billing.tables import CANCELED, BillingCustomer, PaymentMethod, Subscription
from models.transactions import Transactions
from tests.support.domain_billing import customer, latest_invoice, subscribe

Sessions = async_sessionmaker[AsyncSession]


async def _paid_and_partly_refunded(sessions: Sessions, setup: BillingSetup) -> tuple[int, int]:
    ada = await customer(sessions, setup, "ada")
    await subscribe(sessions, setup, ada, "pro", country="DE")
    async with sessions() as session:
        invoice_id = (await latest_invoice(session, ada)).id
    await refunds.refund_invoice(
        Transactions(sessions),
        setup,
        actor=Actor.system("test"),
        invoice_id=invoice_id,
        amount=500,
        reason="goodwill gesture",
    )
    return ada, invoice_id


async def test_deleting_an_account_row_keeps_its_invoices_payments_and_credit_notes(
    db_sessionmaker: Sessions, billing_setup: BillingSetup
) -> None:
    ada, invoice_id = await _paid_and_partly_refunded(db_sessionmaker, billing_setup)

    async with db_sessionmaker() as session, session.begin():
        await session.execute(delete(Account).where(Account.id == ada))

    async with db_sessionmaker() as session:
        invoice = await session.get(Invoice, invoice_id)
        payment = await session.scalar(select(Payment).where(Payment.invoice_id == invoice_id))
        note = await session.scalar(select(CreditNote).where(CreditNote.invoice_id == invoice_id))
        document = await documents.invoice_document(session, invoice_id=invoice_id)
    assert invoice is not None and payment is not None and note is not None
    assert invoice.account_id is None and payment.account_id is None
    assert (invoice.number, invoice.total, invoice.tax_total) == (1, 1785, 285)
    assert (invoice.tax_country, invoice.tax_rate_bp, invoice.amount_refunded) == ("DE", 1900, 500)
    assert (note.number, note.status, note.amount) == (1, ISSUED, 500)
    assert document is not None and document.customer == ("(closed account)",)


async def test_detaching_keeps_the_documents_and_erases_the_customers_personal_data(
    db_sessionmaker: Sessions, billing_setup: BillingSetup
) -> None:
    ada, invoice_id = await _paid_and_partly_refunded(db_sessionmaker, billing_setup)

    async with db_sessionmaker() as session, session.begin():
        try:
            await detach.detach_account_billing(session, account_id=ada)
        except errors.BillingNotAllowed as refused:
            assert refused.code == "NOT_ALLOWED"
        else:
            raise AssertionError("a live subscription must be canceled first")
    async with db_sessionmaker() as session, session.begin():
        subscription = await session.scalar(
            select(Subscription).where(Subscription.account_id == ada)
        )
        assert subscription is not None
        subscription.status = CANCELED
        done = await detach.detach_account_billing(session, account_id=ada)
        again = await detach.detach_account_billing(session, account_id=ada)
    async with db_sessionmaker() as session:
        invoice = await session.get(Invoice, invoice_id)
        billing = await session.get(BillingCustomer, ada)
        cards = (
            await session.scalars(select(PaymentMethod).where(PaymentMethod.account_id == ada))
        ).all()
        document = await documents.invoice_document(session, invoice_id=invoice_id)

    assert (done.invoices, done.payments) == (1, 1)
    assert done.stripe_customer_id is not None and done.stripe_customer_id.startswith("cus_")
    assert (again.invoices, again.payments, again.stripe_customer_id) == (0, 0, None)
    assert invoice is not None and invoice.account_id is None
    assert (invoice.number, invoice.total, invoice.tax_country) == (1, 1785, "DE")
    assert billing is not None and (billing.country, billing.stripe_customer_id) == (None, None)
    assert cards and all((c.brand, c.last4, c.exp_year) == ("", "", 0) for c in cards)
    assert document is not None and document.customer == ("(closed account)",)
