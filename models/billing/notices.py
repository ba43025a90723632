"""The dunning emails: what happened to the owner's payment and what to do about it.
`dunning` decides when each is due; each is queued once, under a key made of the
subscription, the time it became past due and the step, and sent after commit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.access.roles import Role
from models.access.tables import AccountRole
from models.accounts.tables import Account
from models.billing.catalogue import PLANS
from models.billing.ledger import OPEN, Invoice
from models.billing.money import format_money
from models.billing.tables import Price, Subscription
from models.mail import actions as mail

WHERE_TO_PAY = "Settings → Billing"


@dataclass(frozen=True)
class Notice:
    subject: str
    text: str


def _day(moment: datetime) -> str:
    return f"{moment.day} {moment:%B %Y} (UTC)"


def _payment_failed(
    *,
    handle: str,
    plan: str,
    due: str,
    attempt: int,
    next_retry_at: datetime | None,
    grace_ends_at: datetime | None,
) -> Notice:
    """The first failure (attempt 0) or a failed automatic retry."""
    what = (
        f"We could not charge your card for Chirp {plan}."
        if attempt == 0
        else f"We tried your card again for Chirp {plan} (retry {attempt}) and it was declined."
    )
    if next_retry_at is not None:
        then = f"We will try again on {_day(next_retry_at)}."
    else:
        then = "That was the last automatic retry."
    until = (
        f"Your {plan} features stay on until {_day(grace_ends_at)}; if the balance is still "
        "unpaid then, your account moves to the Free plan."
        if grace_ends_at is not None
        else "Your account may move to the Free plan if the balance stays unpaid."
    )
    return Notice(
        subject=f"Your Chirp {plan} payment failed"
        if attempt == 0
        else "Your card was declined again",
        text=(
            f"Hello @{handle},\n\n{what} The amount due is {due}.\n\n{then} {until}\n\n"
            f"What to do: add a working card in {WHERE_TO_PAY}. Open invoices are paid as soon "
            "as you do, and nothing else changes.\n\nYour posts and followers are not affected."
            "\n"
        ),
    )


def _moved_to_free(*, handle: str, plan: str, due: str) -> Notice:
    """The grace period ran out: Free entitlements until the open invoices are paid."""
    return Notice(
        subject=f"Your account has moved from Chirp {plan} to Free",
        text=(
            f"Hello @{handle},\n\nWe could not collect {due} for Chirp {plan}, and the grace "
            f"period has ended, so your account now has the Free plan's features. Nothing is "
            "deleted: your posts, followers and invoices are all still there.\n\n"
            f"What to do: add a working card in {WHERE_TO_PAY}. The open invoices are paid at "
            f"once and Chirp {plan} comes back straight away.\n"
        ),
    )


def _restored(*, handle: str, plan: str) -> Notice:
    """Every open invoice is paid: the plan is active again."""
    return Notice(
        subject=f"Your Chirp {plan} plan is active again",
        text=(
            f"Hello @{handle},\n\nThank you: your open invoices are paid and Chirp {plan} is "
            f"active again, with all its features.\n\nReceipts are in {WHERE_TO_PAY}. "
            "There is nothing else to do.\n"
        ),
    )


async def send_payment_failed(
    session: AsyncSession, *, subscription: Subscription, attempt: int
) -> bool:
    """The email of failed attempt `attempt` (0: the first failure, then each retry)."""
    plan, due = await _plan_and_due(session, subscription)
    return await _queue(
        session,
        subscription,
        f"step:{attempt}",
        lambda handle: _payment_failed(
            handle=handle,
            plan=plan,
            due=due,
            attempt=attempt,
            next_retry_at=subscription.next_retry_at,
            grace_ends_at=subscription.grace_ends_at,
        ),
    )


async def send_moved_to_free(session: AsyncSession, *, subscription: Subscription) -> bool:
    plan, due = await _plan_and_due(session, subscription)
    return await _queue(
        session,
        subscription,
        "unpaid",
        lambda handle: _moved_to_free(handle=handle, plan=plan, due=due),
    )


async def send_restored(session: AsyncSession, *, subscription: Subscription) -> bool:
    plan, _ = await _plan_and_due(session, subscription)
    return await _queue(
        session, subscription, "restored", lambda handle: _restored(handle=handle, plan=plan)
    )


def key(subscription: Subscription, step: str) -> str:
    """`dunning:<subscription>:<past_due_since>:<step>`: one email per step of one episode."""
    assert subscription.past_due_since is not None
    since = subscription.past_due_since.astimezone(UTC).isoformat()
    return f"dunning:{subscription.id}:{since}:{step}"


async def _plan_and_due(session: AsyncSession, subscription: Subscription) -> tuple[str, str]:
    price = await session.get(Price, subscription.price_id)
    assert price is not None
    amounts = await session.scalars(
        select(Invoice.amount_due - Invoice.amount_paid).where(
            Invoice.account_id == subscription.account_id, Invoice.status == OPEN
        )
    )
    return PLANS[price.plan_code].name, format_money(sum(amounts), price.currency)


async def _queue(
    session: AsyncSession,
    subscription: Subscription,
    step: str,
    build: Callable[[str], Notice],
) -> bool:
    account = await session.get(Account, subscription.account_id)
    if account is None:
        return False
    notice = build(account.handle)
    return await mail.queue_email(
        session,
        key=key(subscription, step),
        to=account.email,
        subject=notice.subject,
        text=notice.text,
    )


async def tell_billing_staff(session: AsyncSession, *, key: str, subject: str, text: str) -> None:
    """Email every BILLING_ADMIN once per `key` (each gets `key:<their id>`), sent after
    commit with the effect that caused it."""
    staff = await session.execute(
        select(Account.id, Account.email)
        .join(AccountRole, AccountRole.account_id == Account.id)
        .where(AccountRole.role == Role.BILLING_ADMIN.value)
        .order_by(Account.id)
    )
    for staff_id, email in staff:
        await mail.queue_email(
            session, key=f"{key}:{staff_id}", to=email, subject=subject, text=text
        )
