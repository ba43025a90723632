"""Reports and the cases they gather into: reporting, and the staff's work on a case
(assign, note, priority, dismiss). Staff never work a case about themselves or about an
account that outranks them; each change is audited in the same transaction, last."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.access import actions as access
from models.access import policies as access_policies
from models.access.roles import Role
from models.accounts.tables import Account
from models.audit import actions as audit
from models.audit.actions import Actor
from models.base import utcnow
from models.errors import NotFound
from models.events import actions as events
from models.moderation import errors, policies
from models.moderation.kinds import CaseStatus, Priority, Target
from models.moderation.specs import ReportSpec
from models.moderation.tables import CaseNote, ModerationCase, Report
from models.posts import actions as posts
from models.text import check_text

MAX_NOTE = 1000
MAX_CASE_NOTE = 2000


def check_note(note: str | None, *, limit: int, field: str, required: bool = False) -> str:
    note = check_text((note or "").strip(), field=field, multiline=True)
    if required and not note:
        raise errors.NoteRequired("Write the note.", field=field)
    if len(note) > limit:
        raise errors.NoteTooLong(f"A note is at most {limit} characters.", field=field)
    return note


async def report(
    session: AsyncSession,
    *,
    reporter_id: int,
    spec: ReportSpec,
) -> Report:
    """Report a post the reporter can see, or any account. The report joins the target's
    open case (opening one if none); reporting again while it is open changes nothing."""
    target, target_id, category = spec.target, spec.target_id, spec.category
    note = check_note(spec.note, limit=MAX_NOTE, field="note")
    if target is Target.POST:
        # Locked, so that concurrent reports of one target land in one case.
        post = await posts.get_visible_post(
            session, viewer_id=reporter_id, post_id=target_id, lock=True
        )
        owner_id = post.author_id
    else:
        account = await session.get(Account, target_id, with_for_update={"key_share": True})
        if account is None:
            raise NotFound("No such account.", field="accountId")
        owner_id = account.id
    if owner_id == reporter_id:
        raise errors.CannotReportSelf("You cannot report yourself or your own posts.")
    case = await open_case_of(session, target=target, target_id=target_id)
    if case is None:
        case = ModerationCase(
            target_type=target.value,
            target_id=target_id,
            account_id=owner_id,
            post_id=target_id if target is Target.POST else None,
            priority=int(policies.initial_priority(category)),
        )
        session.add(case)
        await session.flush()
    else:
        existing = await session.scalar(
            select(Report).where(Report.case_id == case.id, Report.reporter_id == reporter_id)
        )
        if existing is not None:
            return existing
        case.priority = max(case.priority, int(policies.initial_priority(category)))
    filed = Report(case_id=case.id, reporter_id=reporter_id, category=category.value, note=note)
    session.add(filed)
    case.report_count += 1
    await session.flush()
    ids: dict[str, object] = {"report_id": filed.id, "case_id": case.id, "category": category.value}
    if target is Target.POST:
        payload = {"post_id": target_id, "author_id": owner_id, **ids}
        events.record_event(session, type=events.POST_REPORTED, payload=payload)
    else:
        events.record_event(
            session, type=events.ACCOUNT_REPORTED, payload={"account_id": target_id, **ids}
        )
    return filed


async def open_case_of(
    session: AsyncSession, *, target: Target, target_id: int
) -> ModerationCase | None:
    return await session.scalar(
        select(ModerationCase)
        .where(
            ModerationCase.target_type == target.value,
            ModerationCase.target_id == target_id,
            ModerationCase.status == CaseStatus.OPEN.value,
        )
        .with_for_update(key_share=True)
    )


async def get_case(session: AsyncSession, case_id: int, *, lock: bool = False) -> ModerationCase:
    stmt = select(ModerationCase).where(ModerationCase.id == case_id)
    if lock:
        stmt = stmt.with_for_update(key_share=True)
    case = await session.scalar(stmt)
    if case is None:
        raise NotFound("No such case.", field="caseId")
    return case


async def _open_case(session: AsyncSession, case_id: int) -> ModerationCase:
    case = await get_case(session, case_id, lock=True)
    if case.status != CaseStatus.OPEN:
        raise errors.CaseClosed("That case is closed.", field="caseId")
    return case


def _close(case: ModerationCase, status: CaseStatus, actor: Actor) -> None:
    case.status, case.closed_at, case.closed_by_id = status.value, utcnow(), actor.account_id


async def resolve_case(
    session: AsyncSession,
    *,
    actor: Actor,
    case_id: int | None,
    target: Target,
    target_id: int,
    owner_id: int,
) -> int | None:
    """Close the case an action answers as ACTIONED: `case_id` when given (it must concern
    the same account), else the target's open case if there is one. Returns its id."""
    if case_id is None:
        case = await open_case_of(session, target=target, target_id=target_id)
        if case is None:
            return None
    else:
        case = await _open_case(session, case_id)
        if case.account_id != owner_id:
            raise NotFound("That case is not about this account or its posts.", field="caseId")
    _close(case, CaseStatus.ACTIONED, actor)
    return case.id


async def _audit_case(
    session: AsyncSession,
    actor: Actor,
    case: ModerationCase,
    what: str,
    reason: str,
    before: dict[str, object],
    after: dict[str, object],
) -> None:
    """The entry for a change to a case: the change is flushed first, so the audit lock is
    the last lock the transaction takes (see `models.audit.actions.record_entry`)."""
    await session.flush()
    await audit.record_entry(
        session,
        actor=actor,
        action=f"moderation.case.{what}",
        target_type="moderation_case",
        target_id=case.id,
        reason=reason,
        before=before,
        after=after,
    )


async def check_may_work(
    session: AsyncSession, *, actor: Actor, actor_roles: Collection[Role], case: ModerationCase
) -> None:
    """Staff work no case about themselves or about an account that outranks them."""
    policies.check_may_moderate(
        actor_id=actor.account_id,
        actor_roles=actor_roles,
        target_id=case.account_id,
        target_roles=await access.roles_of(session, account_id=case.account_id),
    )


async def _check_assignee(session: AsyncSession, case: ModerationCase, assignee_id: int) -> None:
    roles = await access.roles_of(session, account_id=assignee_id)
    if not policies.is_moderator(roles):
        raise errors.InvalidAssignee("Cases go to a MODERATOR or an ADMIN.", field="assigneeId")
    if assignee_id == case.account_id:
        raise errors.InvalidAssignee("Nobody handles a case about themselves.", field="assigneeId")
    target_roles = await access.roles_of(session, account_id=case.account_id)
    if not access_policies.may_act_on(roles, target_roles):
        raise errors.InvalidAssignee(
            "The case is about an account that outranks the assignee.", field="assigneeId"
        )


async def assign_case(
    session: AsyncSession,
    *,
    actor: Actor,
    actor_roles: Collection[Role],
    case_id: int,
    assignee_id: int,
    reason: str | None,
    note: str | None,
) -> ModerationCase:
    """Give an open case to a moderator (oneself included) who may act on its account, saying
    why; the note, if any, is kept on the case."""
    reason = audit.require_reason(reason)
    note = check_note(note, limit=MAX_CASE_NOTE, field="note")
    case = await _open_case(session, case_id)
    await check_may_work(session, actor=actor, actor_roles=actor_roles, case=case)
    await _check_assignee(session, case, assignee_id)
    before = case.assignee_id
    case.assignee_id = assignee_id
    if note:
        session.add(CaseNote(case_id=case.id, author_id=actor.account_id, body=note))
    await _audit_case(
        session,
        actor,
        case,
        "assign",
        reason,
        {"assignee_id": before},
        {"assignee_id": assignee_id},
    )
    return case


async def add_note(
    session: AsyncSession,
    *,
    actor: Actor,
    actor_roles: Collection[Role],
    case_id: int,
    body: str | None,
) -> ModerationCase:
    """A note on a case, open or closed; its text is the audit entry's reason."""
    body = check_note(body, limit=MAX_CASE_NOTE, field="body", required=True)
    case = await get_case(session, case_id, lock=True)
    await check_may_work(session, actor=actor, actor_roles=actor_roles, case=case)
    note = CaseNote(case_id=case.id, author_id=actor.account_id, body=body)
    session.add(note)
    await session.flush()
    await _audit_case(session, actor, case, "note", body, {}, {"note_id": note.id})
    return case


async def set_priority(
    session: AsyncSession,
    *,
    actor: Actor,
    actor_roles: Collection[Role],
    case_id: int,
    priority: Priority,
    reason: str | None,
) -> ModerationCase:
    """Move an open case up or down the queue, saying why."""
    reason = audit.require_reason(reason)
    case = await _open_case(session, case_id)
    await check_may_work(session, actor=actor, actor_roles=actor_roles, case=case)
    before = Priority(case.priority).name
    case.priority = int(priority)
    await _audit_case(
        session, actor, case, "priority", reason, {"priority": before}, {"priority": priority.name}
    )
    return case


async def dismiss_case(
    session: AsyncSession,
    *,
    actor: Actor,
    actor_roles: Collection[Role],
    case_id: int,
    reason: str | None,
) -> ModerationCase:
    """Close an open case with no action; not a case about oneself or a higher rank."""
    reason = audit.require_reason(reason)
    case = await _open_case(session, case_id)
    await check_may_work(session, actor=actor, actor_roles=actor_roles, case=case)
    _close(case, CaseStatus.DISMISSED, actor)
    await _audit_case(
        session, actor, case, "dismiss", reason, {"status": "OPEN"}, {"status": "DISMISSED"}
    )
    return case
