"""Running reconciliation (models/billing/reconcile.py): `chirp billing reconcile` and the
hourly loop of every server. Each run lists Stripe's intents and charges once; it writes
nothing, so several processes running it at once only repeat the reading."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import db
from app.settings import Settings
from models.base import utcnow
from models.billing import reconcile
from models.billing.errors import PaymentProcessorUnavailable
from models.billing.gateway import StripeGateway
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


def loop_step(
    read_sessionmaker: async_sessionmaker[AsyncSession], gateway: PaymentGateway
) -> Callable[[], Awaitable[int]]:
    """The periodic loop's step: the number of mismatches found."""

    async def step() -> int:
        return len(await run(read_sessionmaker, gateway, settle=LOOP_SETTLE))

    return step


async def command(settings: Settings, *, settle_minutes: float) -> int:
    """`chirp billing reconcile`: one line per mismatch; exit 1 when there is any."""
    engine = db.create_engine(settings)
    gateway = StripeGateway.from_settings(settings)
    try:
        found = await run(
            db.create_read_sessionmaker(engine),
            gateway,
            settle=timedelta(minutes=settle_minutes),
        )
    except PaymentProcessorUnavailable as exc:
        print(f"chirp: billing reconcile: {exc.message}", file=sys.stderr)
        return 2
    finally:
        await gateway.aclose()
        await engine.dispose()
    for mismatch in found:
        print(f"MISMATCH {mismatch.describe()}")
    verdict = f"{len(found)} mismatch(es)" if found else "Chirp and Stripe agree"
    print(f"chirp: billing reconcile: {verdict}")
    return 1 if found else 0
