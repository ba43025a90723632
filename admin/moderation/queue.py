"""The moderation queue and the staff's work on a case (assign, note, priority, dismiss).
MODERATOR and ADMIN only; never a case about oneself or a higher rank; every change and
every refused attempt is audited."""

from __future__ import annotations

from typing import Annotated

import strawberry

from admin.moderation.types import (
    MODERATION,
    ModerationCase,
    ModerationCaseConnection,
    ModerationCaseStatus,
    ModerationPriority,
    QueueAssignment,
)
from models.moderation import kinds
from models.moderation.kinds import CaseStatus, Priority
from resolvers import moderation as resolvers
from resolvers.context import Info
from resolvers.paging import parse_global_id, parse_id_argument
from schema.core.checks import checked, global_id
from schema.core.errors import (
    INPUT,
    ConflictError,
    NotAllowedError,
    NotFoundError,
    ValidationError,
)
from schema.core.paging import AfterEdge, FirstItems
from schema.core.permissions import requires_role
from schema.core.results import mutation
from schema.moderation.types import AppealStatus, Strike, StrikeConnection

CASE_REASON = (
    "Why, for staff and the audit log: 3 to 1000 characters. Required: one left out or too "
    "short is refused with REASON_REQUIRED, and the refusal is audited."
)


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
        first: FirstItems,
        after: AfterEdge = None,
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
        return ModerationCaseConnection.from_page(page, ModerationCase.from_record)

    @strawberry.field(
        description="One case by its global id; null if there is none. A malformed id is a "
        "BAD_USER_INPUT error.",
        extensions=requires_role(*MODERATION),
    )
    async def moderation_case(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID,
            strawberry.argument(
                description="The case's global id.", metadata=checked(global_id("ModerationCase"))
            ),
        ],
    ) -> ModerationCase | None:
        _, key = parse_id_argument(id, "ModerationCase", "id")
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
        first: FirstItems,
        after: AfterEdge = None,
        status: Annotated[
            AppealStatus, strawberry.argument(description="Which appeals; PENDING unless given.")
        ] = AppealStatus.PENDING,
    ) -> StrikeConnection:
        page = await resolvers.appealed(
            info.context, status=kinds.AppealStatus(str(status.value)), first=first, after=after
        )
        return StrikeConnection.from_page(page, Strike.from_record)


@strawberry.input(description="A case to give to a moderator.")
class AssignModerationCaseInput:
    case_id: strawberry.ID = strawberry.field(description="The case's global id.")
    assignee_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="A MODERATOR's or ADMIN's account id, not the account the case is about "
        "nor one it outranks; the viewer when null or left out.",
    )
    reason: str = strawberry.field(description=CASE_REASON)
    note: str | None = strawberry.field(
        default=None, description="Optional, at most 2000 characters: kept on the case."
    )


@strawberry.input(description="A note to add to a case.")
class AddModerationNoteInput:
    case_id: strawberry.ID = strawberry.field(description="The case's global id.")
    body: str = strawberry.field(description="1 to 2000 characters; also the audit entry's reason.")


@strawberry.input(description="A case's new priority.")
class SetModerationPriorityInput:
    case_id: strawberry.ID = strawberry.field(description="The case's global id.")
    priority: ModerationPriority = strawberry.field(description="The new priority.")
    reason: str = strawberry.field(description=CASE_REASON)


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
    @mutation(
        description="Give an open case to a moderator (the viewer unless `assigneeId`) who "
        "may act on its account, saying why. Not a case about the viewer or a higher rank. "
        "Audited.",
        extensions=requires_role(*MODERATION),
    )
    async def assign_moderation_case(
        self, info: Info, input: Annotated[AssignModerationCaseInput, INPUT]
    ) -> AssignModerationCaseResult:
        case_id = _case_id(input.case_id)
        assignee = None
        if input.assignee_id is not None:
            _, assignee = parse_global_id(input.assignee_id, expect="Account", field="assigneeId")
        case = await resolvers.assign_case(
            info.context,
            case_id=case_id,
            assignee_id=assignee,
            reason=input.reason,
            note=input.note,
        )
        return await _payload(case.id, info)

    @mutation(
        description="Add a note to a case, open or closed. Not a case about the viewer or a "
        "higher rank. Audited, with the note as the reason.",
        extensions=requires_role(*MODERATION),
    )
    async def add_moderation_note(
        self, info: Info, input: Annotated[AddModerationNoteInput, INPUT]
    ) -> AddModerationNoteResult:
        case = await resolvers.add_note(
            info.context, case_id=_case_id(input.case_id), body=input.body
        )
        return await _payload(case.id, info)

    @mutation(
        description="Move an open case up or down the queue, saying why. Not a case about the "
        "viewer or a higher rank. Audited.",
        extensions=requires_role(*MODERATION),
    )
    async def set_moderation_priority(
        self, info: Info, input: Annotated[SetModerationPriorityInput, INPUT]
    ) -> SetModerationPriorityResult:
        case = await resolvers.set_priority(
            info.context,
            case_id=_case_id(input.case_id),
            priority=Priority[str(input.priority.value)],
            reason=input.reason,
        )
        return await _payload(case.id, info)

    @mutation(
        description="Close an open case with no action, saying why. Not a case about the "
        "viewer or a higher rank. Audited.",
        extensions=requires_role(*MODERATION),
    )
    async def dismiss_moderation_case(
        self, info: Info, input: Annotated[DismissModerationCaseInput, INPUT]
    ) -> DismissModerationCaseResult:
        case = await resolvers.dismiss_case(
            info.context, case_id=_case_id(input.case_id), reason=input.reason
        )
        return await _payload(case.id, info)
