"""Writing audit entries, in the caller's transaction, and pruning by retention."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from models.access import errors
from models.audit.chain import GENESIS, chain_key, entry_hash
from models.audit.tables import AuditEntry
from models.base import utcnow
from models.text import check_text

# One writer at a time extends the chain (PostgreSQL; SQLite serialises writers anyway).
AUDIT_LOCK_KEY = 0x43484952_41554454  # "CHIR" "AUDT"
PRUNED = "audit.pruned"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting, as the audit log records them."""

    account_id: int | None
    handle: str
    roles: tuple[str, ...]
    request_id: str = ""
    ip: str = ""
    user_agent: str = ""

    @classmethod
    def system(cls, name: str) -> Actor:
        """An operator at the command line or a scheduled job: no account."""
        return cls(account_id=None, handle=f"system:{name}", roles=())


def require_reason(reason: str | None) -> str:
    """Every staff action states why; at least 3 and at most 1000 characters."""
    reason = check_text((reason or "").strip(), field="reason", multiline=True)
    if len(reason) < 3:
        raise errors.ReasonRequired(
            "Say why: staff actions need a reason of at least 3 characters.", field="reason"
        )
    if len(reason) > 1000:
        raise errors.ReasonRequired("A reason is at most 1000 characters.", field="reason")
    return reason


async def _lock_chain(session: AsyncSession) -> None:
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": AUDIT_LOCK_KEY})


async def record_entry(
    session: AsyncSession,
    *,
    actor: Actor,
    action: str,
    target_type: str = "",
    target_id: object = "",
    reason: str = "",
    before: dict[str, object] | None = None,
    after: dict[str, object] | None = None,
    outcome: str = "ok",
) -> AuditEntry:
    """Append an entry to the chain; it commits or rolls back with the caller's change.
    Call it last in the transaction: it takes the chain's lock, held until commit."""
    key = chain_key(session)
    await _lock_chain(session)
    last = (
        await session.execute(
            select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)
        )
    ).first()
    entry = AuditEntry(
        id=1 if last is None else last.id + 1,
        created_at=utcnow(),
        actor_id=actor.account_id,
        actor_handle=actor.handle[:64],
        actor_roles=sorted(actor.roles),
        action=action,
        outcome=outcome[:64],
        target_type=target_type,
        target_id=str(target_id)[:64],
        reason=reason,
        before=before,
        after=after,
        request_id=actor.request_id[:64],
        ip=actor.ip[:64],
        user_agent=actor.user_agent[:300],
        prev_hash=GENESIS if last is None else last.hash,
    )
    entry.hash = entry_hash(entry, key)
    session.add(entry)
    await session.flush()
    return entry


async def prune_entries(session: AsyncSession, *, before: datetime, actor: Actor) -> int:
    """Remove entries older than `before` (the retention limit) and append an entry naming
    the first one kept and its link, so `chirp audit verify` can still check the chain."""
    await _lock_chain(session)
    # The newest entry is always kept, so the chain goes on from it.
    first_kept = await session.scalar(
        select(AuditEntry).where(AuditEntry.created_at >= before).order_by(AuditEntry.id).limit(1)
    ) or await session.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1))
    if first_kept is None:
        return 0
    if session.get_bind().dialect.name == "postgresql":
        # The append-only trigger lets a delete through only inside a declared prune.
        await session.execute(text("SET LOCAL chirp.audit_prune = 'on'"))
    result = await session.execute(delete(AuditEntry).where(AuditEntry.id < first_kept.id))
    removed = int(getattr(result, "rowcount", 0) or 0)
    if removed:
        anchor = {"id": first_kept.id, "prev_hash": first_kept.prev_hash}
        await record_entry(
            session,
            actor=actor,
            action=PRUNED,
            reason="retention",
            after={"removed": removed, "before": before.isoformat(), "first_kept": anchor},
        )
    return removed
