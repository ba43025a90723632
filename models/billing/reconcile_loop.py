"""Running reconciliation (models/billing/reconcile.py), counted in the metrics: for
`chirp billing reconcile` and the hourly loop of every server. Each run lists Stripe's
intents and charges once; it writes nothing, so several processes running it at once only
repeat the reading."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.base import utcnow
from models.billing import reconcile
from models.billing.processor import PaymentGateway
from telemetry import metrics

# The loop's settle time is longer than the CLI's: a webhook Stripe is still retrying
# should not page anyone.
LOOP_SETTLE = timedelta(minutes=30)


async def run(
    read_sessionmaker: async_sessionmaker[AsyncSession],
    gateway: PaymentGateway,
    *,
    settle: timedelta,
) -> list[reconcile.Mismatch]:
    """One reconciliation, counted in the metrics (each mismatch is logged by the domain)."""
    try:
        found = await reconcile.reconcile_payments(
            read_sessionmaker, gateway, now=utcnow(), settle=settle
        )
    except Exception:
        metrics.RECONCILE_RUNS.labels("error").inc()
        raise
    for mismatch in found:
        metrics.RECONCILE_MISMATCHES.labels(mismatch.kind.value).inc()
    metrics.RECONCILE_RUNS.labels("mismatches" if found else "clean").inc()
    return found


class ReconcileLoop:
    """The periodic loop's step."""

    def __init__(
        self, read_sessionmaker: async_sessionmaker[AsyncSession], gateway: PaymentGateway
    ) -> None:
        self._read_sessionmaker = read_sessionmaker
        self._gateway = gateway

    async def run_once(self) -> int:
        """Reconcile once; returns the number of mismatches found."""
        return len(await run(self._read_sessionmaker, self._gateway, settle=LOOP_SETTLE))
