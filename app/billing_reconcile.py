"""`chirp billing reconcile`: one reconciliation (models/billing/reconcile_loop.py, the
same run as every server's hourly loop), printed for operators and scripts."""

from __future__ import annotations

import sys
from datetime import timedelta

from app import db
from app.settings import Settings
from models.billing.errors import PaymentProcessorUnavailable
from models.billing.gateway import StripeGateway
from models.billing.reconcile_loop import run


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
