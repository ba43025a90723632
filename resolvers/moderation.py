"""Moderation: reports and appeals by users; the queue, cases, actions and appeal decisions
by staff (each through `staff_write`, so refusals are audited too)."""

from __future__ import annotations

from models.accounts.tables import Account
from models.base import utcnow
from models.moderation import actions, appeals, cases, policies, queries
from models.moderation.kinds import Action, AppealStatus, CaseStatus, Priority
from models.moderation.queries import CaseRecord, Standing, StrikeRecord
from models.moderation.specs import ActionSpec, ReportSpec
from models.moderation.tables import CaseNote, ModerationCase, Report
from models.pages import Page
from models.posts.tables import Post
from resolvers.context import Context
from resolvers.paging import check_first, decode_cursor
from resolvers.staff import audit_read, staff_write


async def report(ctx: Context, *, spec: ReportSpec) -> Report:
    viewer = ctx.require_viewer()
    async with ctx.write() as session:
        return await cases.report(session, reporter_id=viewer.id, spec=spec)


async def appeal_strike(ctx: Context, *, strike_id: int, note: str | None) -> StrikeRecord:
    viewer = ctx.require_viewer()
    async with ctx.write() as session:
        strike, appeal = await appeals.appeal_strike(
            session, account_id=viewer.id, strike_id=strike_id, note=note
        )
    return StrikeRecord(strike, appeal)


async def may_view_strikes(ctx: Context, *, owner_id: int) -> bool:
    return policies.may_view_strikes(
        viewer_id=ctx.viewer_id, roles=await ctx.roles(), owner_id=owner_id
    )


async def strikes(
    ctx: Context, *, account_id: int, first: int, after: str | None
) -> Page[StrikeRecord] | None:
    """An account's strikes, for its owner and staff; None for anyone else."""
    if not await may_view_strikes(ctx, owner_id=account_id):
        return None
    check_first(first)
    before = decode_cursor(after)
    async with ctx.read() as session:
        return await queries.strikes_page(
            session, account_id=account_id, first=first, before=before
        )


async def standing(ctx: Context, *, account_id: int) -> Standing | None:
    async with ctx.read() as session:
        account = await session.get(Account, account_id)
        if account is None:
            return None
        return await queries.standing(session, account=account, now=utcnow())


async def queue(
    ctx: Context,
    *,
    status: CaseStatus,
    mine: bool,
    unassigned: bool,
    first: int,
    after: str | None,
) -> Page[CaseRecord]:
    check_first(first)
    start = decode_cursor(after)
    async with ctx.read() as session:
        return await queries.queue_page(
            session,
            status=status,
            assignee=ctx.viewer_id if mine else None,
            unassigned=unassigned,
            first=first,
            after=start,
        )


async def case_by_id(ctx: Context, *, case_id: int) -> CaseRecord | None:
    async with ctx.read() as session:
        return await queries.case_record(session, case_id=case_id)


async def reports(ctx: Context, *, case_id: int, first: int, after: str | None) -> Page[Report]:
    check_first(first)
    start = decode_cursor(after)
    async with ctx.read() as session:
        return await queries.reports_page(session, case_id=case_id, first=first, after=start)


async def notes(ctx: Context, *, case_id: int, first: int, after: str | None) -> Page[CaseNote]:
    check_first(first)
    start = decode_cursor(after)
    async with ctx.read() as session:
        return await queries.notes_page(session, case_id=case_id, first=first, after=start)


async def appealed(
    ctx: Context, *, status: AppealStatus, first: int, after: str | None
) -> Page[StrikeRecord]:
    check_first(first)
    start = decode_cursor(after)
    async with ctx.read() as session:
        return await queries.appeals_page(session, status=status, first=first, after=start)


async def staff_post(ctx: Context, post: Post) -> Post:
    """A post as staff see it, whoever may see it otherwise; reading one that is not public,
    or hidden or deleted, is a sensitive read and is audited first."""
    if policies.staff_read_is_sensitive(post):
        await audit_read(ctx, what="post", target_type="post", target_id=post.id)
    return post


async def strike_post(ctx: Context, *, post_id: int, owner_id: int) -> Post | None:
    """The post a strike acts on: the owner sees it as they always do (hidden ones too);
    strike readers on staff see it whatever its visibility."""
    if policies.reads_strike_post_as_staff(
        viewer_id=ctx.viewer_id, roles=await ctx.roles(), owner_id=owner_id
    ):
        async with ctx.read() as session:
            post = await queries.post_in_any_state(session, post_id=post_id)
        return None if post is None else await staff_post(ctx, post)
    found: Post | None = await ctx.loaders.visible_posts_by_id.load(post_id)
    return found


async def assign_case(
    ctx: Context, *, case_id: int, assignee_id: int | None, reason: str | None, note: str | None
) -> ModerationCase:
    viewer = ctx.require_viewer()
    roles = await ctx.roles()
    async with staff_write(
        ctx,
        action="moderation.case.assign",
        target_type="moderation_case",
        target_id=case_id,
        reason=reason,
    ) as (session, actor):
        return await cases.assign_case(
            session,
            actor=actor,
            actor_roles=roles,
            case_id=case_id,
            assignee_id=viewer.id if assignee_id is None else assignee_id,
            reason=reason,
            note=note,
        )


async def add_note(ctx: Context, *, case_id: int, body: str | None) -> ModerationCase:
    roles = await ctx.roles()
    async with staff_write(
        ctx,
        action="moderation.case.note",
        target_type="moderation_case",
        target_id=case_id,
        reason=body,
    ) as (session, actor):
        return await cases.add_note(
            session, actor=actor, actor_roles=roles, case_id=case_id, body=body
        )


async def set_priority(
    ctx: Context, *, case_id: int, priority: Priority, reason: str | None
) -> ModerationCase:
    roles = await ctx.roles()
    async with staff_write(
        ctx,
        action="moderation.case.priority",
        target_type="moderation_case",
        target_id=case_id,
        reason=reason,
    ) as (session, actor):
        return await cases.set_priority(
            session,
            actor=actor,
            actor_roles=roles,
            case_id=case_id,
            priority=priority,
            reason=reason,
        )


async def dismiss_case(ctx: Context, *, case_id: int, reason: str | None) -> ModerationCase:
    roles = await ctx.roles()
    async with staff_write(
        ctx,
        action="moderation.case.dismiss",
        target_type="moderation_case",
        target_id=case_id,
        reason=reason,
    ) as (session, actor):
        return await cases.dismiss_case(
            session, actor=actor, actor_roles=roles, case_id=case_id, reason=reason
        )


async def take_action(
    ctx: Context,
    *,
    spec: ActionSpec,
) -> StrikeRecord:
    roles = await ctx.roles()
    action = spec.action
    target_type = "post" if action in (Action.HIDE_POST, Action.MARK_POST_SENSITIVE) else "account"
    async with staff_write(
        ctx,
        action=f"moderation.{action.value.lower()}",
        target_type=target_type,
        target_id=spec.target_id,
        reason=spec.reason,
    ) as (session, actor):
        strike = await actions.take_action(session, actor=actor, actor_roles=roles, spec=spec)
    return StrikeRecord(strike, None)


async def lift_action(ctx: Context, *, strike_id: int, reason: str | None) -> StrikeRecord:
    roles = await ctx.roles()
    async with staff_write(
        ctx, action="moderation.lift", target_type="strike", target_id=strike_id, reason=reason
    ) as (session, actor):
        await actions.lift_action(
            session, actor=actor, actor_roles=roles, strike_id=strike_id, reason=reason
        )
        record = await queries.strike_record(session, strike_id=strike_id)
    assert record is not None
    return record


async def decide_appeal(
    ctx: Context, *, strike_id: int, overturn: bool, reason: str | None, message: str | None
) -> StrikeRecord:
    roles = await ctx.roles()
    verb = "overturn" if overturn else "uphold"
    async with staff_write(
        ctx,
        action=f"moderation.appeal.{verb}",
        target_type="strike",
        target_id=strike_id,
        reason=reason,
    ) as (session, actor):
        strike, appeal = await appeals.decide_appeal(
            session,
            actor=actor,
            actor_roles=roles,
            strike_id=strike_id,
            overturn=overturn,
            reason=reason,
            message=message,
        )
    return StrikeRecord(strike, appeal)
