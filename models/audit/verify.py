"""Checking the chain: every edited, removed or reordered entry is found and named.

The chain alone cannot show that its newest entries were cut off (or the whole table
emptied): what is left is still a valid chain. A checkpoint kept outside the database (the
head a previous verification saw, `chirp audit verify --checkpoint FILE`) closes that gap:
the entry it names must still be there, unchanged, with the chain going on from it."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.audit.actions import PRUNED
from models.audit.chain import GENESIS, chain_key, entry_hash
from models.audit.tables import AuditEntry

BATCH = 1000


@dataclass
class Report:
    checked: int = 0
    first_id: int | None = None
    last_id: int | None = None
    last_hash: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


async def _expected_start(session: AsyncSession) -> tuple[int, str]:
    """Where the chain must start: entry 1 on GENESIS, or where the last prune left it."""
    pruned = await session.scalar(
        select(AuditEntry).where(AuditEntry.action == PRUNED).order_by(AuditEntry.id.desc())
    )
    if pruned is None or not isinstance(pruned.after, dict):
        return 1, GENESIS
    anchor = pruned.after.get("first_kept")
    if not isinstance(anchor, dict):
        return 1, GENESIS
    return int(str(anchor["id"])), str(anchor["prev_hash"])


@dataclass(frozen=True)
class Checkpoint:
    """The head of the chain as a previous verification saw it."""

    id: int
    hash: str


async def verify_chain(session: AsyncSession, *, checkpoint: Checkpoint | None = None) -> Report:
    """Recompute every entry's HMAC and link, in id order; with a checkpoint, also check
    that nothing up to it was cut off or rewritten since."""
    key = chain_key(session)
    report = Report()
    start_id, start_hash = await _expected_start(session)
    previous: AuditEntry | None = None
    after_id = 0
    while True:
        rows = list(
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.id > after_id)
                .order_by(AuditEntry.id)
                .limit(BATCH)
            )
        )
        if not rows:
            break
        for entry in rows:
            _check(report, entry, previous, start_id, start_hash, key)
            if (
                checkpoint is not None
                and entry.id == checkpoint.id
                and entry.hash != checkpoint.hash
            ):
                report.problems.append(
                    f"entry {entry.id}: rewritten since the checkpoint (its hash changed)"
                )
            previous = entry
            report.checked += 1
        after_id = rows[-1].id
        session.expunge_all()
    report.last_id = None if previous is None else previous.id
    report.last_hash = None if previous is None else previous.hash
    if checkpoint is not None and (report.last_id is None or report.last_id < checkpoint.id):
        report.problems.append(
            f"entry {checkpoint.id}: removed since the checkpoint (the log now ends at "
            f"{report.last_id or 'nothing'}): entries were cut off the end"
        )
    return report


def _check(
    report: Report,
    entry: AuditEntry,
    previous: AuditEntry | None,
    start_id: int,
    start_hash: str,
    key: bytes,
) -> None:
    if previous is None:
        report.first_id = entry.id
        if entry.id != start_id:
            report.problems.append(
                f"entry {entry.id}: the log should start at entry {start_id}; "
                f"entries {start_id}..{entry.id - 1} were removed"
                if entry.id > start_id
                else f"entry {entry.id}: precedes the start of the log (entry {start_id})"
            )
        elif entry.prev_hash != start_hash:
            report.problems.append(f"entry {entry.id}: does not link to the start of the log")
    elif entry.id != previous.id + 1:
        missing = (
            f"{previous.id + 1}"
            if entry.id == previous.id + 2
            else f"{previous.id + 1}..{entry.id - 1}"
        )
        report.problems.append(
            f"entry {missing}: removed (missing between {previous.id} and {entry.id})"
        )
    elif entry.prev_hash != previous.hash:
        report.problems.append(
            f"entry {entry.id}: does not link to entry {previous.id} "
            "(an entry was replaced, removed or reordered)"
        )
    if not hmac.compare_digest(entry_hash(entry, key), entry.hash):
        report.problems.append(f"entry {entry.id}: edited (its contents do not match its hash)")
