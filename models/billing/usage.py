"""Metered usage: events recorded once by their producer's id, billed in arrears on the
invoice that closes their period, above the plan's included units, by graduated tiers.

The included units and the tiers are per **month of service**, whatever the price's interval:
each month from the billing anchor is counted on its own (an annual period includes twelve
times the monthly allowance, month by month; unused calls do not carry over). A monthly
period is one such month; an annual one is invoiced month by month (`usage_invoices.py`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import as_utc, conflict_insert, utcnow
from models.billing import errors
from models.billing.catalogue import API_CALLS, METERS, PLANS
from models.billing.invoicing import LineSpec
from models.billing.pricing import period_end_after, usage_amount
from models.billing.specs import UsageEvent
from models.billing.tables import ACTIVE, MONTH, PAST_DUE, Price, Subscription, UsageRecord
from models.text import check_text

USAGE = "usage"
MAX_QUANTITY = 10**9
EVENT_ID_MAX = 100
# Producers' clocks run a little ahead of ours; beyond this an event is refused.
CLOCK_SKEW = timedelta(minutes=5)


async def record_usage(
    session: AsyncSession, event: UsageEvent, *, now: datetime | None = None
) -> UsageRecord:
    """Record a metered event once: the same `event_id` with the same contents returns the
    first record; with other contents it is USAGE_EVENT_CONFLICT."""
    now = now or utcnow()
    _check(meter=event.meter, quantity=event.quantity, event_id=event.event_id)
    occurred_at = as_utc(event.occurred_at, field="occurredAt", error=errors.UsageOutsidePeriod)
    existing = await _by_event_id(session, event.event_id)
    if existing is not None:
        return _same_or_conflict(
            existing, event.account_id, event.meter, event.quantity, occurred_at
        )
    # A shared lock on the subscription: a renewal (which locks it for update) waits for
    # this record, or this record sees the period the renewal opened, so no event falls
    # between two invoices.
    subscription = await session.scalar(
        select(Subscription)
        .where(
            Subscription.account_id == event.account_id, Subscription.status.in_((ACTIVE, PAST_DUE))
        )
        .with_for_update(read=True)
        .execution_options(populate_existing=True)
    )
    if subscription is None or not await _metered(session, subscription):
        raise errors.NotSubscribed(
            "Usage is recorded only for an account on a paid plan with metered billing.",
            field="accountId",
        )
    if occurred_at > now + CLOCK_SKEW:
        raise errors.UsageOutsidePeriod(
            "`occurredAt` is in the future; send usage once it has happened.", field="occurredAt"
        )
    open_since = open_usage_start(subscription)
    if occurred_at < open_since:
        raise errors.UsageOutsidePeriod(
            "`occurredAt` is before the open billing period, which started "
            f"{open_since.isoformat()}; that period is invoiced already.",
            field="occurredAt",
        )
    insert = conflict_insert(session)
    # Two producers sending the same id at once: the unique index lets one insert through
    # and the other compares against it.
    record_id = await session.scalar(
        insert(UsageRecord)
        .values(
            event_id=event.event_id,
            account_id=event.account_id,
            meter=event.meter,
            quantity=event.quantity,
            occurred_at=occurred_at,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(UsageRecord.id)
    )
    if record_id is None:
        existing = await _by_event_id(session, event.event_id)
        assert existing is not None
        return _same_or_conflict(
            existing, event.account_id, event.meter, event.quantity, occurred_at
        )
    record = await session.get(UsageRecord, record_id)
    assert record is not None
    return record


def _check(*, meter: str, quantity: int, event_id: str) -> None:
    if meter not in METERS:
        raise errors.UnknownMeter(
            f"No meter {meter[:40]!r}; meters are {', '.join(sorted(METERS))}.", field="meter"
        )
    if not 1 <= quantity <= MAX_QUANTITY:
        raise errors.InvalidAmount(
            f"`quantity` must be a whole number from 1 to {MAX_QUANTITY}.", field="quantity"
        )
    check_text(event_id, field="eventId")
    if not event_id.strip() or len(event_id) > EVENT_ID_MAX:
        raise errors.InvalidAmount(
            f"`eventId` must be 1 to {EVENT_ID_MAX} characters, unique per event.",
            code="INVALID_INPUT",
            field="eventId",
        )


async def _by_event_id(session: AsyncSession, event_id: str) -> UsageRecord | None:
    return await session.scalar(select(UsageRecord).where(UsageRecord.event_id == event_id))


def _same_or_conflict(
    record: UsageRecord, account_id: int, meter: str, quantity: int, occurred_at: datetime
) -> UsageRecord:
    if (record.account_id, record.meter, record.quantity, record.occurred_at) != (
        account_id,
        meter,
        quantity,
        occurred_at,
    ):
        raise errors.UsageConflict(
            "That event id was recorded already with other contents; the first one stands.",
            field="eventId",
        )
    return record


async def _metered(session: AsyncSession, subscription: Subscription) -> bool:
    price = await session.get(Price, subscription.price_id)
    return price is not None and PLANS[price.plan_code].entitlements.metered_billing


def _unbilled(
    account_id: int, meter: str, period_start: datetime, period_end: datetime
) -> list[ColumnElement[bool]]:
    return [
        UsageRecord.account_id == account_id,
        UsageRecord.meter == meter,
        UsageRecord.invoice_id.is_(None),
        UsageRecord.occurred_at >= period_start,
        UsageRecord.occurred_at < period_end,
    ]


async def unbilled_units(
    session: AsyncSession,
    *,
    account_id: int,
    period_start: datetime,
    period_end: datetime,
    meter: str = API_CALLS,
) -> int:
    """Units of `meter` recorded in the period and not invoiced yet."""
    total = await session.scalar(
        select(func.coalesce(func.sum(UsageRecord.quantity), 0)).where(
            *_unbilled(account_id, meter, period_start, period_end)
        )
    )
    return int(total or 0)


def open_usage_start(subscription: Subscription) -> datetime:
    """Where the usage not invoiced yet starts: the period's start, or for an annual plan the
    month boundary its usage is invoiced up to."""
    billed = subscription.usage_billed_until
    start = subscription.current_period_start
    return billed if billed is not None and billed > start else start


def service_months(
    anchor: datetime, period_start: datetime, period_end: datetime
) -> list[tuple[datetime, datetime]]:
    """[period_start, period_end) cut at the months of the anchor's cycle: one window for a
    monthly period (or a part of one), twelve for a whole annual one."""
    windows = []
    start = period_start
    while start < period_end:
        end = min(period_end_after(anchor, start, MONTH), period_end)
        windows.append((start, end))
        start = end
    return windows


async def usage_line(
    session: AsyncSession,
    *,
    subscription: Subscription,
    currency: str,
    period_start: datetime,
    period_end: datetime,
) -> LineSpec | None:
    """The arrears charge for the API calls of [period_start, period_end) not invoiced yet:
    in each month of service, those above the plan's monthly included ones, priced by the
    meter's graduated tiers; None when nothing is above them."""
    price = await session.get(Price, subscription.price_id)
    assert price is not None
    included = PLANS[price.plan_code].entitlements.included_api_calls
    billable = amount = 0
    for start, end in service_months(subscription.billing_anchor, period_start, period_end):
        units = await unbilled_units(
            session, account_id=subscription.account_id, period_start=start, period_end=end
        )
        above = max(0, units - included)
        billable += above
        amount += usage_amount(above, METERS[API_CALLS][currency])
    if amount == 0:
        return None
    return LineSpec(
        USAGE,
        f"API calls: {billable:,} above the {included:,} included a month",
        amount,
        period_start,
        period_end,
        quantity=billable,
    )


async def mark_billed(
    session: AsyncSession,
    *,
    account_id: int,
    period_start: datetime,
    period_end: datetime,
    invoice_id: int,
) -> int:
    """Tie the period's unbilled usage to the invoice that closed the period, so it is never
    billed again (the included units too); returns how many records."""
    result = await session.execute(
        update(UsageRecord)
        .where(*_unbilled(account_id, API_CALLS, period_start, period_end))
        .values(invoice_id=invoice_id)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
