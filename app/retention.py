"""`chirp retention run [--table X] [--dry-run]` and `chirp retention status`: the retention
sweep every server runs on a timer (`models.retention.sweep`), for operators: run it to the
end at once (after enabling retention on an old database), see what it would remove, or see
how far behind each table is."""

from __future__ import annotations

from datetime import datetime, timedelta

from app import db
from app.runtime import retention_policy
from app.settings import Settings
from models.base import utcnow
from models.retention import actions as retention
from models.retention.rules import RULES, Rule
from models.transactions import Transactions


def _rules(table: str | None) -> list[Rule]:
    return [rule for rule in RULES if table is None or rule.name == table]


async def run(settings: Settings, *, table: str | None, dry_run: bool) -> int:
    """Prune every table (or `table`) to the end, a batch per transaction, and print what
    went (with `dry_run`: what would go, removing nothing)."""
    policy = retention_policy(settings)
    now = utcnow()
    engine = db.create_engine(settings)
    try:
        transactions = Transactions(db.create_sessionmaker(engine))
        reads = db.create_read_sessionmaker(engine)
        for rule in _rules(table):
            cutoff = policy.cutoff(rule.name, now)
            if cutoff is None:
                print(f"{rule.name}: kept for ever (retention 0 days)")
                continue
            if dry_run:
                async with reads() as session:
                    count = await retention.count_prunable(session, rule=rule, cutoff=cutoff)
                print(f"{rule.name}: would remove {count}")
                continue
            count = await retention.prune_table(
                transactions, rule=rule, cutoff=cutoff, batch=policy.batch, batches=None
            )
            print(f"{rule.name}: removed {count}")
    finally:
        await engine.dispose()
    return 0


async def status(settings: Settings) -> int:
    """Print, per table: its retention, rows, rows past it, how many of those may go, and
    the oldest row's age."""
    policy = retention_policy(settings)
    now = utcnow()
    engine = db.create_engine(settings)
    try:
        async with db.create_read_sessionmaker(engine)() as session:
            found = [
                await retention.table_status(
                    session, rule=rule, retention=policy.periods.get(rule.name), now=now
                )
                for rule in RULES
            ]
    finally:
        await engine.dispose()
    print(
        f"{'table':<24} {'retention':>9} {'rows':>10} {'past':>10} {'prunable':>10} {'oldest':>10}"
    )
    for table in found:
        print(
            f"{table.name:<24} {_days(table.retention):>9} {table.rows:>10} "
            f"{table.past_retention:>10} {table.prunable:>10} {_age(table.oldest, now):>10}"
        )
    return 0


def _days(period: timedelta | None) -> str:
    return "for ever" if period is None else f"{period.days}d"


def _age(oldest: datetime | None, now: datetime) -> str:
    if oldest is None:
        return "-"
    age = now - oldest
    if age >= timedelta(days=1):
        return f"{age.days}d"
    return f"{int(age.total_seconds() // 3600)}h"
