"""Reporting posts and accounts, and appealing one's own strikes."""

from __future__ import annotations

from typing import Annotated

import strawberry

from models.moderation.kinds import Target
from models.moderation.specs import ReportSpec
from resolvers import moderation as resolvers
from resolvers.context import Info
from resolvers.paging import parse_global_id
from schema.core.errors import INPUT, ConflictError, NotAllowedError, NotFoundError, ValidationError
from schema.core.limits import RateLimit
from schema.core.permissions import IsAuthenticated
from schema.core.results import mutation, outcome
from schema.moderation.types import Report, ReportCategory, Strike, StrikePayload

NOTE = "Optional context for moderators; at most 1000 characters."


@strawberry.input(description="A post to report to the moderators.")
class ReportPostInput:
    post_id: strawberry.ID = strawberry.field(description="The post's global id.")
    category: ReportCategory = strawberry.field(description="What is wrong with it.")
    note: str | None = strawberry.field(default=None, description=NOTE)


@strawberry.input(description="An account to report to the moderators.")
class ReportAccountInput:
    account_id: strawberry.ID = strawberry.field(description="The account's global id.")
    category: ReportCategory = strawberry.field(description="What is wrong with it.")
    note: str | None = strawberry.field(default=None, description=NOTE)


@strawberry.type(description="The report, filed (or the one already filed while the case is open).")
class ReportPayload:
    report: Report = strawberry.field(description="The viewer's report.")


ReportPostResult = Annotated[
    ReportPayload | ValidationError | NotFoundError | NotAllowedError, outcome("reportPost")
]
ReportAccountResult = Annotated[
    ReportPayload | ValidationError | NotFoundError | NotAllowedError, outcome("reportAccount")
]


@strawberry.input(description="An appeal of one of the viewer's strikes.")
class AppealStrikeInput:
    strike_id: strawberry.ID = strawberry.field(description="The strike's global id.")
    note: str = strawberry.field(
        description="Why the strike is wrong: 1 to 1000 characters. A strike is appealed once."
    )


AppealStrikeResult = Annotated[
    StrikePayload | ValidationError | NotFoundError | ConflictError, outcome("appealStrike")
]


async def _report(
    info: Info, raw_id: strawberry.ID, target: Target, category: ReportCategory, note: str | None
) -> ReportPayload:
    field = "postId" if target is Target.POST else "accountId"
    _, key = parse_global_id(raw_id, expect=target.value.title(), field=field)
    spec = ReportSpec(target=target, target_id=key, category=category.kind, note=note)
    row = await resolvers.report(info.context, spec=spec)
    return ReportPayload(report=Report.from_row(row))


@strawberry.type
class ModerationUserMutations:
    @mutation(
        description="Report a post the viewer can see. Reporting it again while its case is "
        "open returns the first report and changes nothing.",
        permission_classes=[IsAuthenticated],
        extensions=[RateLimit("reports.account", per="account")],
    )
    async def report_post(
        self, info: Info, input: Annotated[ReportPostInput, INPUT]
    ) -> ReportPostResult:
        return await _report(info, input.post_id, Target.POST, input.category, input.note)

    @mutation(
        description="Report an account (not one's own). Reporting it again while its case is "
        "open returns the first report and changes nothing.",
        permission_classes=[IsAuthenticated],
        extensions=[RateLimit("reports.account", per="account")],
    )
    async def report_account(
        self, info: Info, input: Annotated[ReportAccountInput, INPUT]
    ) -> ReportAccountResult:
        return await _report(info, input.account_id, Target.ACCOUNT, input.category, input.note)

    @mutation(
        description="Appeal one of the viewer's strikes, once; a moderator decides.",
        permission_classes=[IsAuthenticated],
    )
    async def appeal_strike(
        self, info: Info, input: Annotated[AppealStrikeInput, INPUT]
    ) -> AppealStrikeResult:
        _, key = parse_global_id(input.strike_id, expect="Strike", field="strikeId")
        record = await resolvers.appeal_strike(info.context, strike_id=key, note=input.note)
        return StrikePayload(strike=Strike.from_record(record))
