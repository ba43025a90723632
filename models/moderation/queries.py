"""Keyset-paged reads of moderation: the queue, a case's reports and notes, an account's
strikes, the appeals awaiting a decision, and an account's standing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.accounts.tables import Account
from models.moderation.kinds import AppealStatus, CaseStatus
from models.moderation.policies import suspension_in_force
from models.moderation.tables import Appeal, CaseNote, ModerationCase, Report, Strike
from models.pages import Page
from models.posts.tables import Post

# A queue position is (priority, id); the cursor packs both into one integer key.
_ID_BITS = 56


def queue_key(priority: int, case_id: int) -> int:
    return (priority << _ID_BITS) | case_id


def split_queue_key(key: int) -> tuple[int, int]:
    return key >> _ID_BITS, key & ((1 << _ID_BITS) - 1)


@dataclass(frozen=True, slots=True)
class CaseRecord:
    case: ModerationCase
    post: Post | None  # the reported post, deleted or hidden ones included


@dataclass(frozen=True, slots=True)
class StrikeRecord:
    strike: Strike
    appeal: Appeal | None


@dataclass(frozen=True, slots=True)
class Standing:
    suspended_since: datetime | None
    suspended_until: datetime | None
    suspended: bool
    limited_since: datetime | None
    strikes_in_force: int
    open_cases: int


async def queue_page(
    session: AsyncSession,
    *,
    status: CaseStatus,
    assignee: int | None,
    unassigned: bool,
    first: int,
    after: int | None,
) -> Page[CaseRecord]:
    """Cases of one status, most urgent first, then oldest first; `assignee` keeps one
    moderator's, `unassigned` those nobody holds."""
    stmt = (
        select(ModerationCase, Post)
        .outerjoin(Post, Post.id == ModerationCase.post_id)
        .where(ModerationCase.status == status.value)
    )
    if assignee is not None:
        stmt = stmt.where(ModerationCase.assignee_id == assignee)
    if unassigned:
        stmt = stmt.where(ModerationCase.assignee_id.is_(None))
    if after is not None:
        priority, last_id = split_queue_key(after)
        stmt = stmt.where(
            or_(
                ModerationCase.priority < priority,
                and_(ModerationCase.priority == priority, ModerationCase.id > last_id),
            )
        )
    rows = list(
        await session.execute(
            stmt.order_by(ModerationCase.priority.desc(), ModerationCase.id.asc()).limit(first + 1)
        )
    )
    items = [
        (queue_key(case.priority, case.id), CaseRecord(case, post)) for case, post in rows[:first]
    ]
    return Page(items=items, has_next=len(rows) > first)


async def post_in_any_state(session: AsyncSession, *, post_id: int) -> Post | None:
    """A post whatever its visibility, hidden or deleted: for staff reading a strike."""
    return await session.get(Post, post_id)


async def case_record(session: AsyncSession, *, case_id: int) -> CaseRecord | None:
    row = (
        await session.execute(
            select(ModerationCase, Post)
            .outerjoin(Post, Post.id == ModerationCase.post_id)
            .where(ModerationCase.id == case_id)
        )
    ).first()
    return None if row is None else CaseRecord(row[0], row[1])


async def reports_page(
    session: AsyncSession, *, case_id: int, first: int, after: int | None
) -> Page[Report]:
    """A case's reports, oldest first."""
    stmt = select(Report).where(Report.case_id == case_id)
    if after is not None:
        stmt = stmt.where(Report.id > after)
    rows = list(await session.scalars(stmt.order_by(Report.id).limit(first + 1)))
    return Page(items=[(r.id, r) for r in rows[:first]], has_next=len(rows) > first)


async def notes_page(
    session: AsyncSession, *, case_id: int, first: int, after: int | None
) -> Page[CaseNote]:
    """A case's staff notes, oldest first."""
    stmt = select(CaseNote).where(CaseNote.case_id == case_id)
    if after is not None:
        stmt = stmt.where(CaseNote.id > after)
    rows = list(await session.scalars(stmt.order_by(CaseNote.id).limit(first + 1)))
    return Page(items=[(n.id, n) for n in rows[:first]], has_next=len(rows) > first)


async def strikes_page(
    session: AsyncSession, *, account_id: int, first: int, before: int | None
) -> Page[StrikeRecord]:
    """An account's strikes, newest first, each with its appeal."""
    stmt = (
        select(Strike, Appeal)
        .outerjoin(Appeal, Appeal.strike_id == Strike.id)
        .where(Strike.account_id == account_id)
    )
    if before is not None:
        stmt = stmt.where(Strike.id < before)
    rows = list(await session.execute(stmt.order_by(Strike.id.desc()).limit(first + 1)))
    items = [(s.id, StrikeRecord(s, a)) for s, a in rows[:first]]
    return Page(items=items, has_next=len(rows) > first)


async def strike_record(session: AsyncSession, *, strike_id: int) -> StrikeRecord | None:
    row = (
        await session.execute(
            select(Strike, Appeal)
            .outerjoin(Appeal, Appeal.strike_id == Strike.id)
            .where(Strike.id == strike_id)
        )
    ).first()
    return None if row is None else StrikeRecord(row[0], row[1])


async def appeals_page(
    session: AsyncSession, *, status: AppealStatus, first: int, after: int | None
) -> Page[StrikeRecord]:
    """Appealed strikes whose appeal has `status`, oldest appeal first."""
    stmt = (
        select(Strike, Appeal)
        .join(Appeal, Appeal.strike_id == Strike.id)
        .where(Appeal.status == status.value)
    )
    if after is not None:
        stmt = stmt.where(Appeal.id > after)
    rows = list(await session.execute(stmt.order_by(Appeal.id).limit(first + 1)))
    items = [(a.id, StrikeRecord(s, a)) for s, a in rows[:first]]
    return Page(items=items, has_next=len(rows) > first)


def _live_strikes(account_id: int, now: datetime) -> ColumnElement[bool]:
    return and_(
        Strike.account_id == account_id,
        Strike.lifted_at.is_(None),
        or_(Strike.expires_at.is_(None), Strike.expires_at > now),
    )


async def standing(session: AsyncSession, *, account: Account, now: datetime) -> Standing:
    """Where an account stands with moderation, as of `now` (expired suspensions count as
    lifted even before the sweep records it)."""
    in_force = await session.scalar(
        select(func.count()).select_from(Strike).where(_live_strikes(account.id, now))
    )
    open_cases = await session.scalar(
        select(func.count())
        .select_from(ModerationCase)
        .where(
            ModerationCase.account_id == account.id,
            ModerationCase.status == CaseStatus.OPEN.value,
        )
    )
    suspended = suspension_in_force(account, now=now)
    return Standing(
        suspended_since=account.suspended_at if suspended else None,
        suspended_until=account.suspended_until if suspended else None,
        suspended=suspended,
        limited_since=account.limited_at,
        strikes_in_force=int(in_force or 0),
        open_cases=int(open_cases or 0),
    )
