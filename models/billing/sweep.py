"""The billing sweep: renew subscriptions whose period is over, collect open invoices nobody
is collecting, expire subscriptions whose first invoice stayed unpaid, make the dunning
retries that are due, end unpaid subscriptions whose period is over and write off what ended
subscriptions left open (docs/billing.md); one subscription or invoice that fails is logged
and counted, never holding up the rest. `chirp billing sweep --now ISO` runs it once.

It looks through a read session first, so an idle sweep never takes the writer's lock, and
is safe in several processes at once."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.base import utcnow
from models.billing import dunning, endings, incomplete, renewals, usage_invoices
from models.billing.setup import BillingSetup
from models.billing.sweep_tally import Tally
from models.transactions import Transactions

log = logging.getLogger("chirp.sweeper")


@dataclass(frozen=True)
class BillingSweepReport:
    expired: int = 0
    renewed: int = 0
    collected: int = 0
    dunning: int = 0
    # Usage invoices of annual plans' months (usage_invoices.py).
    usage: int = 0
    # Subscriptions or invoices that raised (logged with their ids; the next sweep retries).
    failed: int = 0

    @property
    def total(self) -> int:
        return self.expired + self.renewed + self.collected + self.dunning + self.usage


class BillingSweep:
    """Does what billing has due: expiries, renewals, collections and dunning retries."""

    def __init__(
        self,
        transactions: Transactions,
        read_sessionmaker: async_sessionmaker[AsyncSession],
        setup: BillingSetup,
    ) -> None:
        self._transactions = transactions
        self._read_sessionmaker = read_sessionmaker
        self._setup = setup

    async def run_once(self) -> int:
        """Do what billing has due now; returns how many subscriptions or invoices moved."""
        return (await self.sweep(now=utcnow())).total

    async def sweep(self, *, now: datetime) -> BillingSweepReport:
        """Everything due at `now` (operators and tests pass another time). Each subscription
        and invoice is handled on its own: one that fails is logged and counted in `failed`,
        and neither the others nor the later steps wait for it."""
        async with self._read_sessionmaker() as session:
            if not (
                await renewals.due(session, now=now)
                or await incomplete.due(session, now=now)
                or await dunning.due(session, now=now)
                or await endings.due(session, now=now)
                or await usage_invoices.due(session, now=now)
            ):
                return BillingSweepReport()
        transactions, setup = self._transactions, self._setup
        # Ending unpaid subscriptions and writing off what ended ones left open is the end of
        # dunning: counted with it. It runs after the renewals, so a subscription a renewal
        # ended has its invoices written off in the same sweep.
        steps: list[tuple[str, Callable[[], Awaitable[Tally]]]] = [
            ("expired", lambda: incomplete.expire_incomplete(transactions, setup, now=now)),
            ("renewed", lambda: renewals.renew_due(transactions, setup, now=now)),
            ("collected", lambda: renewals.collect_uncollected(transactions, setup, now=now)),
            ("dunning", lambda: dunning.retry_due(transactions, setup, now=now)),
            ("dunning", lambda: endings.end_due(transactions, now=now)),
            ("usage", lambda: usage_invoices.bill_closed_months(transactions, setup, now=now)),
        ]
        done: dict[str, int] = {}
        failed = 0
        for name, step in steps:
            tally = Tally()
            with tally.isolated(f"the {name} step"):
                tally = await step()
            done[name] = done.get(name, 0) + tally.done
            failed += tally.failed
        report = BillingSweepReport(**done, failed=failed)
        if report.failed:
            log.warning("billing sweep: %s", report)
        elif report.total:
            log.info("billing sweep: %s", report)
        return report
