"""The retention sweep, run by `app.periodic.Periodic` in every server and worker: a few
bounded batches per table each run, so it never holds long locks or builds one large
transaction; a backlog (after enabling retention on an old database) drains over several
runs, or at once with `chirp retention run`. Each table is looked at through a read session
first, so an idle sweep never takes the writer's lock; several processes may sweep at once."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.base import utcnow
from models.retention import actions as retention
from models.retention.rules import RULES, RetentionPolicy
from models.transactions import Transactions
from telemetry import metrics

log = logging.getLogger("chirp.retention")


class RetentionSweep:
    """Removes what is past its table's retention and finished, a few batches a table."""

    def __init__(
        self,
        transactions: Transactions,
        read_sessionmaker: async_sessionmaker[AsyncSession],
        policy: RetentionPolicy,
    ) -> None:
        self._transactions = transactions
        self._read_sessionmaker = read_sessionmaker
        self._policy = policy

    async def run_once(self) -> int:
        """Prune every table with a retention; returns how many rows went. A table that
        fails is logged and the others still run; the sweep counts as successful (the
        `chirp_retention_last_success` gauge) only when none failed."""
        now = utcnow()
        removed, failed = 0, False
        for rule in RULES:
            cutoff = self._policy.cutoff(rule.name, now)
            if cutoff is None:
                continue
            try:
                async with self._read_sessionmaker() as session:
                    if not await retention.any_prunable(session, rule=rule, cutoff=cutoff):
                        continue
                count = await retention.prune_table(
                    self._transactions,
                    rule=rule,
                    cutoff=cutoff,
                    batch=self._policy.batch,
                    batches=self._policy.sweep_batches,
                )
            except Exception:
                log.exception("pruning %s failed; the next sweep retries", rule.name)
                failed = True
                continue
            metrics.RETENTION_PRUNED.labels(rule.name).inc(count)
            removed += count
        if not failed:
            metrics.RETENTION_LAST_SUCCESS.set(now.timestamp())
        return removed
