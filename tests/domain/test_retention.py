"""Retention on a real session: what is old and finished goes, what is recent, unfinished or
still read stays, and the outbox's numbering and cursors stay right after pruning."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from broadcaster import Broadcast
from prometheus_client import REGISTRY
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.runtime import retention_policy
from app.settings import Settings
from models.accounts import login_limits
from models.accounts.tables import FailedLogin, LoginSession
from models.base import utcnow
from models.billing import idempotency
from models.billing.tables import StripeRequest
from models.events import jobs as ledger
from models.events.tables import Event
from models.integrations.tables import (
    DELIVERED,
    FAILED,
    PENDING,
    WebhookAttempt,
    WebhookDelivery,
    WebhookFanout,
)
from models.mail.tables import OutboundEmail
from models.retention import actions as retention
from models.retention import rules
from models.retention.rules import BY_NAME, RetentionPolicy
from models.retention.sweep import RetentionSweep
from models.transactions import Transactions
from subscriptions import live
from subscriptions.dispatcher import Dispatcher
from subscriptions.events import EventLog, LiveEvent
from subscriptions.hub import Hub
from tests.support import retention_rows as rows
from tests.support.domain_accounts import new_account


@pytest.fixture
def transactions(db_sessionmaker: async_sessionmaker[AsyncSession]) -> Transactions:
    return Transactions(db_sessionmaker)


async def _prune(transactions: Transactions, settings: Settings, name: str) -> int:
    cutoff = retention_policy(settings).cutoff(name, utcnow())
    assert cutoff is not None
    return await retention.prune_table(
        transactions, rule=BY_NAME[name], cutoff=cutoff, batch=1000, batches=None
    )


def _pruned_total(table: str) -> float:
    found = REGISTRY.get_sample_value("chirp_retention_pruned_rows_total", {"table": table})
    assert found is not None
    return found


async def _ids(session: AsyncSession, column: Any) -> set[Any]:
    return set(await session.scalars(select(column)))


async def test_old_published_and_processed_events_go_the_rest_stay(
    db_session: AsyncSession, transactions: Transactions, domain_settings: Settings
) -> None:
    gone = [await rows.event(db_session, age=30, seq=seq) for seq in (1, 2)]
    unprocessed = await rows.event(db_session, age=30, seq=3, processed=False)
    unpublished = await rows.event(db_session, age=30, seq=4, published=False)
    recent = await rows.event(db_session, age=1, seq=5)
    delivered = await rows.event(db_session, age=30, seq=6)
    hook = await rows.endpoint(db_session)
    await rows.delivery(
        db_session, endpoint_id=hook.id, event_id=delivered.id, age=1, status=DELIVERED, attempts=1
    )
    # Old and processed, but its job (say, creating its webhook deliveries) is parked: an
    # operator's `chirp jobs retry` will read it.
    awaited = await rows.event(db_session, age=30, seq=8)
    await ledger.record(
        db_session, [(8, None, "chirp.create_webhook_deliveries", {"event_seq": 8})],
        policy=ledger.JobPolicy(),
    )  # fmt: skip
    # Old and finished, but the highest seq: numbering and "cursor ahead" read it.
    newest_seq = await rows.event(db_session, age=30, seq=9)
    unnumbered = await rows.event(db_session, age=30, seq=None)
    await db_session.commit()

    removed = await _prune(transactions, domain_settings, rules.EVENTS)

    assert removed == 2
    assert await _ids(db_session, Event.id) == {
        e.id for e in (unprocessed, unpublished, recent, delivered, awaited, newest_seq, unnumbered)
    }
    assert not {e.id for e in gone} & await _ids(db_session, Event.id)


async def test_numbering_and_cursors_are_right_after_pruning(
    db_session: AsyncSession,
    db_sessionmaker: async_sessionmaker[AsyncSession],
    transactions: Transactions,
    domain_settings: Settings,
) -> None:
    for seq in (1, 2, 3):
        await rows.event(db_session, age=30, seq=seq)
    await db_session.commit()
    log = EventLog(db_sessionmaker)

    assert await _prune(transactions, domain_settings, rules.EVENTS) == 2
    assert await log.last_seq() == 3
    fresh = await rows.event(db_session, age=0, seq=None, published=False, processed=False)
    await db_session.commit()
    processed: list[LiveEvent] = []

    class Jobs:
        """The dispatcher's jobs, recording which events it processed (they call for none)."""

        policy = ledger.JobPolicy()

        def jobs_for(self, event: LiveEvent) -> list[tuple[str, dict[str, Any]]]:
            processed.append(event)
            return []

        async def enqueue(self, ticket: ledger.Ticket) -> None:
            raise AssertionError(ticket)

    async with Broadcast("memory://") as broadcast:
        dispatcher = Dispatcher(
            db_sessionmaker, db_sessionmaker, broadcast, "retention-test", Jobs(), interval=60
        )
        await dispatcher.run_once()

    numbered = await db_session.scalar(select(Event.seq).where(Event.id == fresh.id))
    assert numbered == 4
    assert [e.seq for e in processed] == [4]
    assert await log.last_seq() == 4
    assert [e.seq for e in await log.after(3, limit=10)] == [4]


async def test_finished_webhook_deliveries_go_with_their_attempts_pending_ones_stay(
    db_session: AsyncSession, transactions: Transactions, domain_settings: Settings
) -> None:
    hook = await rows.endpoint(db_session)
    events = [await rows.event(db_session, age=40, seq=seq) for seq in range(1, 6)]

    async def delivery(event: Event, age: float, status: str) -> WebhookDelivery:
        return await rows.delivery(
            db_session, endpoint_id=hook.id, event_id=event.id, age=age, status=status, attempts=2
        )

    delivered = await delivery(events[0], 31, DELIVERED)
    given_up = await delivery(events[1], 31, FAILED)
    retrying = await delivery(events[2], 31, PENDING)
    recent = await delivery(events[3], 29, DELIVERED)
    newest = await delivery(events[4], 31, DELIVERED)
    await db_session.commit()

    removed = await _prune(transactions, domain_settings, rules.WEBHOOK_DELIVERIES)

    kept = {retrying.id, recent.id, newest.id}
    assert removed == 2
    assert await _ids(db_session, WebhookDelivery.id) == kept
    assert await _ids(db_session, WebhookAttempt.delivery_id) == kept
    assert {delivered.id, given_up.id}.isdisjoint(
        await _ids(db_session, WebhookAttempt.delivery_id)
    )
    # The events those deliveries held may go now (all but the highest seq, still held).
    assert await _prune(transactions, domain_settings, rules.EVENTS) == 2


async def test_old_fanout_markers_go(
    db_session: AsyncSession, transactions: Transactions, domain_settings: Settings
) -> None:
    db_session.add_all(
        [
            WebhookFanout(event_seq=1, created_at=rows.days_ago(8)),
            WebhookFanout(event_seq=2, created_at=rows.days_ago(6)),
        ]
    )
    await db_session.commit()

    assert await _prune(transactions, domain_settings, rules.WEBHOOK_FANOUTS) == 1
    assert await _ids(db_session, WebhookFanout.event_seq) == {2}


async def test_sent_and_given_up_mail_goes_mail_still_to_send_stays(
    db_session: AsyncSession, transactions: Transactions, domain_settings: Settings
) -> None:
    sent = await rows.email(db_session, key="sent", age=31, state="sent")
    given_up = await rows.email(db_session, key="given-up", age=31, state="given_up")
    pending = await rows.email(db_session, key="pending", age=31, state="pending")
    recent = await rows.email(db_session, key="recent", age=29, state="sent")
    await db_session.commit()

    removed = await _prune(transactions, domain_settings, rules.OUTBOUND_EMAILS)

    assert removed == 2
    assert await _ids(db_session, OutboundEmail.id) == {pending.id, recent.id}
    assert {sent.id, given_up.id}.isdisjoint(await _ids(db_session, OutboundEmail.id))


async def test_old_failed_logins_go_the_log_in_history_the_limits_read_stays(
    db_session: AsyncSession, transactions: Transactions, domain_settings: Settings
) -> None:
    ada = await new_account(db_session, "ada")
    db_session.add(
        LoginSession(
            account_id=ada.id,
            token_hash="a" * 64,
            ip="192.0.2.7",
            created_at=rows.days_ago(80),
            expires_at=rows.days_ago(50),
        )
    )
    old = [await rows.failed_login(db_session, age=31) for _ in range(2)]
    recent = await rows.failed_login(db_session, age=29)
    await db_session.commit()

    removed = await _prune(transactions, domain_settings, rules.FAILED_LOGINS)

    assert removed == 2
    assert await _ids(db_session, FailedLogin.id) == {recent.id}
    assert not {f.id for f in old} & await _ids(db_session, FailedLogin.id)
    # The "address seen in 90 days" exemption of the log-in limits still sees the session.
    assert await login_limits.logged_in_from(
        db_session, account_id=ada.id, ip="192.0.2.7", since=utcnow() - login_limits.KNOWN_FOR
    )


async def test_stripe_keys_go_after_a_week_and_can_be_stored_again(
    db_session: AsyncSession, transactions: Transactions, domain_settings: Settings
) -> None:
    await rows.stripe_request(db_session, key="chirp-customer-1", age=8)
    await rows.stripe_request(db_session, key="chirp-customer-2", age=6)
    await db_session.commit()

    removed = await _prune(transactions, domain_settings, rules.STRIPE_REQUESTS)
    stored = await idempotency.reserve(
        transactions, key="chirp-customer-1", operation="customer.create"
    )

    assert removed == 1
    assert stored is None
    assert await _ids(db_session, StripeRequest.key) == {"chirp-customer-1", "chirp-customer-2"}


async def test_the_sweep_removes_a_few_batches_a_run_and_records_it(
    db_session: AsyncSession,
    db_sessionmaker: async_sessionmaker[AsyncSession],
    transactions: Transactions,
) -> None:
    for _ in range(6):
        await rows.failed_login(db_session, age=40)
    await rows.email(db_session, key="kept", age=40, state="pending")
    await db_session.commit()
    policy = RetentionPolicy(
        periods={
            rules.FAILED_LOGINS: timedelta(days=30),
            rules.OUTBOUND_EMAILS: timedelta(days=30),
        },
        batch=2,
        sweep_batches=2,
    )
    sweep = RetentionSweep(transactions, db_sessionmaker, policy)
    before = _pruned_total(rules.FAILED_LOGINS)

    first, second, third = await sweep.run_once(), await sweep.run_once(), await sweep.run_once()

    # Six old rows, one of them the newest (kept): two batches of two, then the last one.
    assert (first, second, third) == (4, 1, 0)
    assert _pruned_total(rules.FAILED_LOGINS) - before == 5
    last_success = REGISTRY.get_sample_value("chirp_retention_last_success_timestamp_seconds")
    assert last_success is not None
    assert last_success >= (utcnow() - timedelta(minutes=1)).timestamp()
    assert len(await _ids(db_session, FailedLogin.id)) == 1
    assert len(await _ids(db_session, OutboundEmail.id)) == 1


async def test_status_counts_rows_past_retention_and_what_may_go(
    db_session: AsyncSession, domain_settings: Settings
) -> None:
    await rows.email(db_session, key="sent", age=40, state="sent")
    await rows.email(db_session, key="pending", age=35, state="pending")
    await rows.email(db_session, key="recent", age=1, state="sent")
    await db_session.commit()
    period = retention_policy(domain_settings).periods[rules.OUTBOUND_EMAILS]

    status = await retention.table_status(
        db_session, rule=BY_NAME[rules.OUTBOUND_EMAILS], retention=period, now=utcnow()
    )

    assert (status.rows, status.past_retention, status.prunable) == (3, 2, 1)
    assert status.oldest is not None
    assert timedelta(days=39) < utcnow() - status.oldest < timedelta(days=41)


async def _resume(log: EventLog, *, after: int, count: int) -> list[int]:
    """The seqs of the first `count` events a subscription resumed after `after` replays."""
    events = live.stream(
        hub=Hub(None, "retention-test", log, queue_size=10),  # type: ignore[arg-type]
        log_reader=log,
        accepts=lambda event: True,
        types=frozenset({"post.created"}),
        revoked=lambda event: False,
        after=after,
        # Wider than the events' age: only pruning can refuse the resume here.
        window=timedelta(days=60),
        max_events=100,
    )
    try:
        return [(await anext(events)).seq for _ in range(count)]
    finally:
        await events.aclose()


async def test_a_resume_across_pruned_events_is_refused_as_too_old(
    db_session: AsyncSession,
    db_sessionmaker: async_sessionmaker[AsyncSession],
    transactions: Transactions,
    domain_settings: Settings,
) -> None:
    for seq in (1, 2, 3, 4):
        await rows.event(db_session, age=30 if seq < 3 else 1, seq=seq)
    await db_session.commit()
    log = EventLog(db_sessionmaker)

    assert await _prune(transactions, domain_settings, rules.EVENTS) == 2

    assert await _resume(log, after=3, count=1) == [4]
    for pruned in (1, 2):  # the cursor's own event is gone: what followed it may be too
        with pytest.raises(live.CursorTooOld):
            await _resume(log, after=pruned, count=1)
