"""Staff types of the moderation queue: cases, their reports and notes, and their enums."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from models.moderation.kinds import Priority
from models.moderation.policies import MODERATORS
from models.moderation.queries import CaseRecord
from models.moderation.tables import CaseNote as CaseNoteRow
from resolvers import moderation as resolvers
from resolvers.context import Info
from resolvers.paging import global_id
from schema.core.paging import AfterEdge, Connection, FirstItems, page_of
from schema.graph.types import Account, Post
from schema.moderation.types import Report

MODERATION = tuple(sorted(MODERATORS, key=lambda r: r.value))


@strawberry.enum(name="ModerationCaseStatus", description="Where a case stands.")
class ModerationCaseStatus(Enum):
    OPEN = strawberry.enum_value("OPEN", description="Waiting for a moderator.")
    ACTIONED = strawberry.enum_value("ACTIONED", description="Closed by an action.")
    DISMISSED = strawberry.enum_value("DISMISSED", description="Closed with no action.")


@strawberry.enum(name="ModerationPriority", description="How urgent a case is.")
class ModerationPriority(Enum):
    LOW = strawberry.enum_value("LOW", description="When there is time.")
    NORMAL = strawberry.enum_value("NORMAL", description="The default for new cases.")
    HIGH = strawberry.enum_value("HIGH", description="Reports of ILLEGAL or VIOLENCE start here.")
    URGENT = strawberry.enum_value("URGENT", description="Drop everything.")


@strawberry.enum(name="ReportTarget", description="What a case is about.")
class ReportTarget(Enum):
    POST = strawberry.enum_value("POST", description="One post.")
    ACCOUNT = strawberry.enum_value("ACCOUNT", description="An account as a whole.")


@strawberry.enum(name="QueueAssignment", description="Whose cases to list.")
class QueueAssignment(Enum):
    ANYONE = strawberry.enum_value("ANYONE", description="Every case, assigned or not.")
    ASSIGNED_TO_ME = strawberry.enum_value("ASSIGNED_TO_ME", description="The viewer's cases.")
    UNASSIGNED = strawberry.enum_value("UNASSIGNED", description="Cases nobody holds.")


@strawberry.type(description="A staff note on a case.")
class ModerationNote:
    body: str = strawberry.field(description="The note; at most 2000 characters.")
    created_at: datetime = strawberry.field(description="When it was written (UTC).")
    author_id: strawberry.Private[int | None]

    @strawberry.field(description="Who wrote it; null if that account is gone.")
    async def author(self, info: Info) -> Account | None:
        if self.author_id is None:
            return None
        row = await info.context.loaders.accounts_by_id.load(self.author_id)
        return None if row is None else Account.from_row(row)

    @classmethod
    def from_row(cls, row: CaseNoteRow) -> ModerationNote:
        return cls(body=row.body, created_at=row.created_at, author_id=row.author_id)


@page_of("note", "A page of notes, oldest first.", "The notes on this page.")
class ModerationNoteConnection(Connection[ModerationNote]):
    pass


@page_of("report", "A page of reports, oldest first.", "The reports on this page.")
class ReportConnection(Connection[Report]):
    pass


@strawberry.type(
    description="Every report of one post or account while the case is open, and the "
    "moderators' work on it."
)
class ModerationCase:
    id: strawberry.ID = strawberry.field(description="The case's global id.")
    target: ReportTarget = strawberry.field(description="Whether a post or an account.")
    status: ModerationCaseStatus = strawberry.field(description="Where the case stands.")
    priority: ModerationPriority = strawberry.field(description="How urgent it is.")
    report_count: int = strawberry.field(description="How many accounts reported it.")
    created_at: datetime = strawberry.field(description="When the first report came (UTC).")
    updated_at: datetime = strawberry.field(description="When it last changed (UTC).")
    closed_at: datetime | None = strawberry.field(description="When closed; null if open.")
    record: strawberry.Private[CaseRecord]

    @classmethod
    def from_record(cls, record: CaseRecord) -> ModerationCase:
        case = record.case
        return cls(
            id=strawberry.ID(global_id("ModerationCase", case.id)),
            target=ReportTarget(case.target_type),
            status=ModerationCaseStatus(case.status),
            priority=ModerationPriority(Priority(case.priority).name),
            report_count=case.report_count,
            created_at=case.created_at,
            updated_at=case.updated_at,
            closed_at=case.closed_at,
            record=record,
        )

    @strawberry.field(description="The account reported, or the reported post's author.")
    async def account(self, info: Info) -> Account | None:
        return await _account(info, self.record.case.account_id)

    @strawberry.field(description="The moderator holding the case; null if nobody.")
    async def assignee(self, info: Info) -> Account | None:
        return await _account(info, self.record.case.assignee_id)

    @strawberry.field(
        description="The reported post whatever its visibility, deleted or hidden ones "
        "included; reading one that is not public, or is hidden or deleted, is audited. Null "
        "for account cases."
    )
    async def post(self, info: Info) -> Post | None:
        if self.record.post is None:
            return None
        return Post.from_row(await resolvers.staff_post(info.context, self.record.post))

    @strawberry.field(description="The reports, oldest first.")
    async def reports(
        self, info: Info, first: FirstItems, after: AfterEdge = None
    ) -> ReportConnection:
        page = await resolvers.reports(
            info.context, case_id=self.record.case.id, first=first, after=after
        )
        return ReportConnection.from_page(page, Report.from_row)

    @strawberry.field(description="Staff notes, oldest first.")
    async def notes(
        self, info: Info, first: FirstItems, after: AfterEdge = None
    ) -> ModerationNoteConnection:
        page = await resolvers.notes(
            info.context, case_id=self.record.case.id, first=first, after=after
        )
        return ModerationNoteConnection.from_page(page, ModerationNote.from_row)


async def _account(info: Info, account_id: int | None) -> Account | None:
    if account_id is None:
        return None
    row = await info.context.loaders.accounts_by_id.load(account_id)
    return None if row is None else Account.from_row(row)


@page_of(
    "case",
    "A page of the moderation queue: most urgent first, then oldest.",
    "The cases on this page.",
    where="in the queue",
)
class ModerationCaseConnection(Connection[ModerationCase]):
    pass
