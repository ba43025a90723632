"""Checking the chain: every edited, removed or reordered entry is found and named."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.audit.actions import PRUNED
from models.audit.chain import GENESIS, entry_hash
from models.audit.tables import AuditEntry

BATCH = 1000


@dataclass
class Report:
    checked: int = 0
    first_id: int | None = None
    last_id: int | None = None
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


async def verify_chain(session: AsyncSession) -> Report:
    """Recompute every entry's hash and link, in id order."""
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
            _check(report, entry, previous, start_id, start_hash)
            previous = entry
            report.checked += 1
        after_id = rows[-1].id
        session.expunge_all()
    report.last_id = None if previous is None else previous.id
    return report


def _check(
    report: Report, entry: AuditEntry, previous: AuditEntry | None, start_id: int, start_hash: str
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
    if entry_hash(entry) != entry.hash:
        report.problems.append(f"entry {entry.id}: edited (its contents do not match its hash)")
