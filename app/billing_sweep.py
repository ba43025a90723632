"""`chirp billing sweep [--now ISO]`: the billing sweep every server runs on a timer
(`models.billing.sweep.BillingSweep`), once, for operators (catching up after an outage, or seeing
what a later time would do on a copy of the data) and for tests."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from app import db
from app.runtime import billing_setup
from app.settings import Settings
from models.base import utcnow
from models.billing.sweep import BillingSweep
from models.transactions import Transactions


def parse_now(text: str | None) -> datetime:
    """`--now` as an aware UTC time; ValueError names what is wrong."""
    if text is None:
        return utcnow()
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("give --now with a UTC offset, e.g. 2031-02-28T00:00:00Z")
    return value.astimezone(UTC)


async def command(settings: Settings, *, now_text: str | None) -> int:
    """Run the sweep once at `--now` (default: the current time) and print what it did."""
    try:
        now = parse_now(now_text)
    except (ValueError, OverflowError) as exc:
        print(f"chirp: billing sweep: bad --now: {exc}", file=sys.stderr)
        return 2
    engine = db.create_engine(settings)
    setup = billing_setup(settings)
    try:
        sweep = BillingSweep(
            # No dispatcher in this process: the server's publishes the events on its sweep.
            Transactions(db.create_sessionmaker(engine, audit_key=settings.audit_chain_key)),
            db.create_read_sessionmaker(engine, audit_key=settings.audit_chain_key),
            setup,
        )
        report = await sweep.sweep(now=now)
    finally:
        await setup.gateway.aclose()
        await engine.dispose()
    print(
        f"chirp: billing sweep at {now.isoformat()}: renewed {report.renewed}, "
        f"collected {report.collected}, expired {report.expired}, dunning {report.dunning}, "
        f"usage {report.usage}, failed {report.failed}"
    )
    # Failures are logged with their ids and retried by the next sweep; a script sees them.
    return 1 if report.failed else 0
