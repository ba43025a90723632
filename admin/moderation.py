"""The moderation queue: cases, their reports and notes, and the staff's work on them
(assign, note, priority, dismiss). MODERATOR and ADMIN only; every change is audited."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from models.errors import DomainError
from models.moderation import kinds
from models.moderation.kinds import CaseStatus, Priority
from models.moderation.policies import MODERATORS
from models.moderation.queries import CaseRecord
from models.moderation.tables import CaseNote as CaseNoteRow
from resolvers import moderation as resolvers
from resolvers.context import Info
from resolvers.paging import MAX_PAGE, BadUserInput, encode_cursor, global_id, parse_global_id
from schema.errors import (
    INPUT,
    ConflictError,
    NotAllowedError,
    NotFoundError,
    ValidationError,
    user_error,
)
from schema.moderation import (
    AccountRef,
    AppealStatus,
    PageInfoRef,
    PostRef,
    Report,
    StrikeConnection,
    page_info,
)
from schema.permissions import requires_role

MODERATION = tuple(sorted(MODERATORS, key=lambda r: r.value))
ERRORS = (ValidationError, NotFoundError, NotAllowedError, ConflictError)
First = Annotated[int, strawberry.argument(description=f"How many items: 1 to {MAX_PAGE}.")]
After = Annotated[str | None, strawberry.argument(description="Continue after this edge's cursor.")]


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
    async def author(self, info: Info) -> AccountRef | None:
        from schema.types import Account

        if self.author_id is None:
            return None
        row = await info.context.loaders.accounts_by_id.load(self.author_id)
        return None if row is None else Account.from_row(row)

    @classmethod
    def from_row(cls, row: CaseNoteRow) -> ModerationNote:
        return cls(body=row.body, created_at=row.created_at, author_id=row.author_id)


@strawberry.type(description="A note in a list, with the cursor that points at it.")
class ModerationNoteEdge:
    cursor: str = strawberry.field(description="Opaque; pass as `after` to continue from here.")
    node: ModerationNote = strawberry.field(description="The note.")


@strawberry.type(description="A page of notes, oldest first.")
class ModerationNoteConnection:
    edges: list[ModerationNoteEdge] = strawberry.field(description="The notes on this page.")
    page_info: PageInfoRef = strawberry.field(description="Where this page ends.")


@strawberry.type(description="A report in a list, with the cursor that points at it.")
class ReportEdge:
    cursor: str = strawberry.field(description="Opaque; pass as `after` to continue from here.")
    node: Report = strawberry.field(description="The report.")


@strawberry.type(description="A page of reports, oldest first.")
class ReportConnection:
    edges: list[ReportEdge] = strawberry.field(description="The reports on this page.")
    page_info: PageInfoRef = strawberry.field(description="Where this page ends.")


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
    async def account(self, info: Info) -> AccountRef | None:
        return await _account(info, self.record.case.account_id)

    @strawberry.field(description="The moderator holding the case; null if nobody.")
    async def assignee(self, info: Info) -> AccountRef | None:
        return await _account(info, self.record.case.assignee_id)

    @strawberry.field(
        description="The reported post whatever its visibility, deleted or hidden ones "
        "included; reading one that is not public is audited. Null for account cases."
    )
    async def post(self, info: Info) -> PostRef | None:
        from schema.types import Post

        if self.record.post is None:
            return None
        return Post.from_row(await resolvers.staff_post(info.context, self.record.post))

    @strawberry.field(description="The reports, oldest first.")
    async def reports(self, info: Info, first: First, after: After = None) -> ReportConnection:
        page = await resolvers.reports(
            info.context, case_id=self.record.case.id, first=first, after=after
        )
        edges = [
            ReportEdge(cursor=encode_cursor(k), node=Report.from_row(r)) for k, r in page.items
        ]
        return ReportConnection(
            edges=edges, page_info=page_info([e.cursor for e in edges], page.has_next)
        )

    @strawberry.field(description="Staff notes, oldest first.")
    async def notes(
        self, info: Info, first: First, after: After = None
    ) -> ModerationNoteConnection:
        page = await resolvers.notes(
            info.context, case_id=self.record.case.id, first=first, after=after
        )
        edges = [
            ModerationNoteEdge(cursor=encode_cursor(k), node=ModerationNote.from_row(n))
            for k, n in page.items
        ]
        return ModerationNoteConnection(
            edges=edges, page_info=page_info([e.cursor for e in edges], page.has_next)
        )


async def _account(info: Info, account_id: int | None) -> AccountRef | None:
    from schema.types import Account

    if account_id is None:
        return None
    row = await info.context.loaders.accounts_by_id.load(account_id)
    return None if row is None else Account.from_row(row)


@strawberry.type(description="A case in the queue, with the cursor that points at it.")
class ModerationCaseEdge:
    cursor: str = strawberry.field(description="Opaque; pass as `after` to continue from here.")
    node: ModerationCase = strawberry.field(description="The case.")


@strawberry.type(description="A page of the moderation queue: most urgent first, then oldest.")
class ModerationCaseConnection:
    edges: list[ModerationCaseEdge] = strawberry.field(description="The cases on this page.")
    page_info: PageInfoRef = strawberry.field(description="Where this page ends.")


def _case_id(raw: strawberry.ID) -> int:
    return parse_global_id(raw, expect="ModerationCase", field="caseId")[1]


@strawberry.type
class ModerationQueries:
    @strawberry.field(
        description="The moderation queue: cases of one status (OPEN unless given), most "
        "urgent first, then oldest first.",
        extensions=requires_role(*MODERATION),
    )
    async def moderation_queue(
        self,
        info: Info,
        first: First,
        after: After = None,
        status: Annotated[
            ModerationCaseStatus, strawberry.argument(description="Which cases; OPEN unless given.")
        ] = ModerationCaseStatus.OPEN,
        assignment: Annotated[
            QueueAssignment, strawberry.argument(description="Whose cases; ANYONE unless given.")
        ] = QueueAssignment.ANYONE,
    ) -> ModerationCaseConnection:
        page = await resolvers.queue(
            info.context,
            status=CaseStatus(str(status.value)),
            mine=assignment is QueueAssignment.ASSIGNED_TO_ME,
            unassigned=assignment is QueueAssignment.UNASSIGNED,
            first=first,
            after=after,
        )
        edges = [
            ModerationCaseEdge(cursor=encode_cursor(k), node=ModerationCase.from_record(r))
            for k, r in page.items
        ]
        return ModerationCaseConnection(
            edges=edges, page_info=page_info([e.cursor for e in edges], page.has_next)
        )

    @strawberry.field(
        description="One case by its global id; null if there is none. A malformed id is a "
        "BAD_USER_INPUT error.",
        extensions=requires_role(*MODERATION),
    )
    async def moderation_case(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The case's global id.")],
    ) -> ModerationCase | None:
        try:
            _, key = parse_global_id(id, expect="ModerationCase", field="id")
        except DomainError as err:
            raise BadUserInput(err.message, argument="id") from err
        record = await resolvers.case_by_id(info.context, case_id=key)
        return None if record is None else ModerationCase.from_record(record)

    @strawberry.field(
        description="Appealed strikes whose appeal has `status` (PENDING unless given), "
        "oldest appeal first.",
        extensions=requires_role(*MODERATION),
    )
    async def moderation_appeals(
        self,
        info: Info,
        first: First,
        after: After = None,
        status: Annotated[
            AppealStatus, strawberry.argument(description="Which appeals; PENDING unless given.")
        ] = AppealStatus.PENDING,
    ) -> StrikeConnection:
        page = await resolvers.appealed(
            info.context, status=kinds.AppealStatus(str(status.value)), first=first, after=after
        )
        return StrikeConnection.from_page(page)


@strawberry.input(description="A case to give to a moderator.")
class AssignModerationCaseInput:
    case_id: strawberry.ID = strawberry.field(description="The case's global id.")
    assignee_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="A MODERATOR's or ADMIN's account id; the viewer when null or left out.",
    )
    note: str | None = strawberry.field(
        default=None,
        description="Optional, at most 2000 characters: kept on the case, and the audit reason.",
    )


@strawberry.input(description="A note to add to a case.")
class AddModerationNoteInput:
    case_id: strawberry.ID = strawberry.field(description="The case's global id.")
    body: str = strawberry.field(description="1 to 2000 characters; also the audit entry's reason.")


@strawberry.input(description="A case's new priority.")
class SetModerationPriorityInput:
    case_id: strawberry.ID = strawberry.field(description="The case's global id.")
    priority: ModerationPriority = strawberry.field(description="The new priority.")
    reason: str | None = strawberry.field(
        default=None, description="Why, for the audit log; optional, at most 1000 characters."
    )


@strawberry.input(description="A case to close with no action.")
class DismissModerationCaseInput:
    case_id: strawberry.ID = strawberry.field(description="The case's global id.")
    reason: str = strawberry.field(description="Why no action: 3 to 1000 characters; audited.")


@strawberry.type(description="A case after a change.")
class ModerationCasePayload:
    moderation_case: ModerationCase = strawberry.field(description="The case as it is now.")


def _union(name: str, mutation: str) -> object:
    return strawberry.union(
        name, description=f"The outcome of `{mutation}`: its payload or a UserError."
    )


CaseOutcome = (
    ModerationCasePayload | ValidationError | NotFoundError | NotAllowedError | ConflictError
)
AssignModerationCaseResult = Annotated[
    CaseOutcome, _union("AssignModerationCaseResult", "assignModerationCase")
]
AddModerationNoteResult = Annotated[
    CaseOutcome, _union("AddModerationNoteResult", "addModerationNote")
]
SetModerationPriorityResult = Annotated[
    CaseOutcome, _union("SetModerationPriorityResult", "setModerationPriority")
]
DismissModerationCaseResult = Annotated[
    CaseOutcome, _union("DismissModerationCaseResult", "dismissModerationCase")
]


async def _payload(case_id: int, info: Info) -> ModerationCasePayload:
    record = await resolvers.case_by_id(info.context, case_id=case_id)
    assert record is not None
    return ModerationCasePayload(moderation_case=ModerationCase.from_record(record))


@strawberry.type
class ModerationCaseMutations:
    @strawberry.mutation(
        description="Give an open case to a moderator (the viewer unless `assigneeId`). "
        "Audited, with the note as the reason.",
        extensions=requires_role(*MODERATION),
    )
    async def assign_moderation_case(
        self, info: Info, input: Annotated[AssignModerationCaseInput, INPUT]
    ) -> AssignModerationCaseResult:
        try:
            case_id = _case_id(input.case_id)
            assignee = None
            if input.assignee_id is not None:
                _, assignee = parse_global_id(
                    input.assignee_id, expect="Account", field="assigneeId"
                )
            case = await resolvers.assign_case(
                info.context, case_id=case_id, assignee_id=assignee, note=input.note
            )
        except DomainError as err:
            return user_error(err, ERRORS)  # type: ignore[return-value]
        return await _payload(case.id, info)

    @strawberry.mutation(
        description="Add a note to a case, open or closed. Audited, with the note as the reason.",
        extensions=requires_role(*MODERATION),
    )
    async def add_moderation_note(
        self, info: Info, input: Annotated[AddModerationNoteInput, INPUT]
    ) -> AddModerationNoteResult:
        try:
            case = await resolvers.add_note(
                info.context, case_id=_case_id(input.case_id), body=input.body
            )
        except DomainError as err:
            return user_error(err, ERRORS)  # type: ignore[return-value]
        return await _payload(case.id, info)

    @strawberry.mutation(
        description="Move an open case up or down the queue. Audited.",
        extensions=requires_role(*MODERATION),
    )
    async def set_moderation_priority(
        self, info: Info, input: Annotated[SetModerationPriorityInput, INPUT]
    ) -> SetModerationPriorityResult:
        try:
            case = await resolvers.set_priority(
                info.context,
                case_id=_case_id(input.case_id),
                priority=Priority[str(input.priority.value)],
                reason=input.reason,
            )
        except DomainError as err:
            return user_error(err, ERRORS)  # type: ignore[return-value]
        return await _payload(case.id, info)

    @strawberry.mutation(
        description="Close an open case with no action, saying why. Not a case about the "
        "viewer or a higher rank. Audited.",
        extensions=requires_role(*MODERATION),
    )
    async def dismiss_moderation_case(
        self, info: Info, input: Annotated[DismissModerationCaseInput, INPUT]
    ) -> DismissModerationCaseResult:
        try:
            case = await resolvers.dismiss_case(
                info.context, case_id=_case_id(input.case_id), reason=input.reason
            )
        except DomainError as err:
            return user_error(err, ERRORS)  # type: ignore[return-value]
        return await _payload(case.id, info)
