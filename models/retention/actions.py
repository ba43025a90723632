"""Pruning and inspecting the tables retention looks after (models/retention/rules.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.retention.rules import Rule
from models.transactions import Transactions


@dataclass(frozen=True)
class TableStatus:
    """One table as `chirp retention status` shows it."""

    name: str
    retention: timedelta | None
    rows: int
    # Older than the retention, and of those, what nothing reads any more (what a sweep
    # removes); the difference is held by a live rule (pending mail, retrying deliveries).
    past_retention: int
    prunable: int
    oldest: datetime | None


async def any_prunable(session: AsyncSession, *, rule: Rule, cutoff: datetime) -> bool:
    """Whether a sweep of `rule`'s table would remove anything (a read; no lock taken)."""
    found = await session.scalar(select(rule.key).where(rule.prunable(cutoff)).limit(1))
    return found is not None


async def prune_batch(session: AsyncSession, *, rule: Rule, cutoff: datetime, limit: int) -> int:
    """Remove up to `limit` prunable rows of `rule`'s table (oldest keys first), with the
    rows that belong to them; returns how many. Rows another process is removing at the
    same moment are skipped on PostgreSQL (SQLite runs one writer at a time)."""
    keys = select(rule.key).where(rule.prunable(cutoff)).order_by(rule.key).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        keys = keys.with_for_update(skip_locked=True)
    found = list(await session.scalars(keys))
    if not found:
        return 0
    for child in rule.children:
        await session.execute(delete(child.table).where(child.parent_key.in_(found)))
    result = await session.execute(delete(rule.table).where(rule.key.in_(found)))
    return int(getattr(result, "rowcount", 0) or 0)


async def prune_table(
    transactions: Transactions,
    *,
    rule: Rule,
    cutoff: datetime,
    batch: int,
    batches: int | None,
) -> int:
    """Remove `rule`'s prunable rows, `batch` per transaction, at most `batches` times (None:
    until none is left); returns how many went."""
    removed, runs = 0, 0
    while batches is None or runs < batches:
        async with transactions.begin() as session:
            count = await prune_batch(session, rule=rule, cutoff=cutoff, limit=batch)
        removed += count
        runs += 1
        if count < batch:
            break
    return removed


async def count_prunable(session: AsyncSession, *, rule: Rule, cutoff: datetime) -> int:
    """How many rows a full run would remove now."""
    return int(
        await session.scalar(
            select(func.count()).select_from(rule.table).where(rule.prunable(cutoff))
        )
        or 0
    )


async def table_status(
    session: AsyncSession, *, rule: Rule, retention: timedelta | None, now: datetime
) -> TableStatus:
    """Rows, rows past the retention (and how many of them may go), the oldest row."""
    rows, oldest = (
        await session.execute(select(func.count(), func.min(rule.created)).select_from(rule.table))
    ).one()
    past = prunable = 0
    if retention is not None:
        cutoff = now - retention
        past = int(
            await session.scalar(
                select(func.count()).select_from(rule.table).where(rule.created < cutoff)
            )
            or 0
        )
        prunable = await count_prunable(session, rule=rule, cutoff=cutoff)
    return TableStatus(
        name=rule.name,
        retention=retention,
        rows=int(rows),
        past_retention=past,
        prunable=prunable,
        oldest=oldest,
    )
