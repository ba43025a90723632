"""Moderation actions, each with a required reason and a strike for the owner: hide a post,
mark it sensitive, limit or suspend an account, lift any of them; and appeal decisions.
MODERATOR and ADMIN only; never on oneself or a higher rank; every attempt is audited."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from admin.moderation.types import MODERATION
from models.moderation.kinds import Action
from models.moderation.specs import ActionSpec
from resolvers import moderation as resolvers
from resolvers.context import Info
from resolvers.paging import parse_global_id
from schema.core.errors import (
    INPUT,
    ConflictError,
    NotAllowedError,
    NotFoundError,
    ValidationError,
)
from schema.core.permissions import requires_role
from schema.core.results import mutation
from schema.moderation.types import ReportCategory, Strike, StrikePayload

REASON = "Why, for staff and the audit log (never shown to the owner): 3 to 1000 characters."
PUBLIC_REASON = (
    "What the owner reads, at most 1000 characters; the category's explanation when left out."
)
CATEGORY = "The rule broken, if any; explains the strike to its owner when no public reason."
CASE = "The case this answers (closed as ACTIONED); else the target's open case, if any."


@strawberry.input(description="A post to act on, and why.")
class ModeratePostInput:
    post_id: strawberry.ID = strawberry.field(description="The post's global id.")
    reason: str = strawberry.field(description=REASON)
    public_reason: str | None = strawberry.field(default=None, description=PUBLIC_REASON)
    category: ReportCategory | None = strawberry.field(default=None, description=CATEGORY)
    case_id: strawberry.ID | None = strawberry.field(default=None, description=CASE)

    def to_spec(self, action: Action) -> ActionSpec:
        """The action on this post; a malformed id is INVALID_ID."""
        _, target = parse_global_id(self.post_id, expect="Post", field="postId")
        return _spec(action, target, self)


@strawberry.input(description="An account to limit, and why.")
class LimitAccountInput:
    account_id: strawberry.ID = strawberry.field(description="The account's global id.")
    reason: str = strawberry.field(description=REASON)
    public_reason: str | None = strawberry.field(default=None, description=PUBLIC_REASON)
    category: ReportCategory | None = strawberry.field(default=None, description=CATEGORY)
    case_id: strawberry.ID | None = strawberry.field(default=None, description=CASE)

    def to_spec(self, action: Action) -> ActionSpec:
        """The action on this account; a malformed id is INVALID_ID."""
        _, target = parse_global_id(self.account_id, expect="Account", field="accountId")
        return _spec(action, target, self)


@strawberry.input(description="An account to suspend, until when, and why.")
class SuspendAccountInput:
    account_id: strawberry.ID = strawberry.field(description="The account's global id.")
    reason: str = strawberry.field(description=REASON)
    until: datetime | None = strawberry.field(
        default=None,
        description="When the suspension lifts itself (ISO 8601 with a time zone, in the "
        "future); indefinite when null or left out.",
    )
    public_reason: str | None = strawberry.field(default=None, description=PUBLIC_REASON)
    category: ReportCategory | None = strawberry.field(default=None, description=CATEGORY)
    case_id: strawberry.ID | None = strawberry.field(default=None, description=CASE)

    def to_spec(self, action: Action) -> ActionSpec:
        """The suspension of this account; a malformed id is INVALID_ID."""
        _, target = parse_global_id(self.account_id, expect="Account", field="accountId")
        return _spec(action, target, self, until=self.until)


def _spec(
    action: Action,
    target: int,
    input: ModeratePostInput | LimitAccountInput | SuspendAccountInput,
    *,
    until: datetime | None = None,
) -> ActionSpec:
    """The fields every moderation input shares; the case id is read after the target's."""
    case_id = None
    if input.case_id is not None:
        _, case_id = parse_global_id(input.case_id, expect="ModerationCase", field="caseId")
    return ActionSpec(
        action=action,
        target_id=target,
        reason=input.reason,
        public_reason=input.public_reason,
        category=None if input.category is None else input.category.kind,
        case_id=case_id,
        until=until,
    )


@strawberry.input(description="A strike whose action to lift, and why.")
class LiftModerationActionInput:
    strike_id: strawberry.ID = strawberry.field(description="The strike's global id.")
    reason: str = strawberry.field(description=REASON)


@strawberry.enum(description="What to do with an appeal.")
class AppealDecision(Enum):
    UPHOLD = strawberry.enum_value("UPHOLD", description="The strike stands.")
    OVERTURN = strawberry.enum_value(
        "OVERTURN", description="The strike was wrong: lift its action if still in force."
    )


@strawberry.input(description="A decision on the pending appeal of a strike.")
class DecideAppealInput:
    strike_id: strawberry.ID = strawberry.field(description="The appealed strike's global id.")
    decision: AppealDecision = strawberry.field(description="Uphold or overturn.")
    reason: str = strawberry.field(description=REASON)
    message: str | None = strawberry.field(
        default=None, description="What the owner reads about the decision; at most 1000."
    )


Outcome = StrikePayload | ValidationError | NotFoundError | NotAllowedError | ConflictError


def _union(name: str, mutation: str) -> object:
    return strawberry.union(
        name, description=f"The outcome of `{mutation}`: its payload or a UserError."
    )


HidePostResult = Annotated[Outcome, _union("HidePostResult", "hidePost")]
MarkPostSensitiveResult = Annotated[Outcome, _union("MarkPostSensitiveResult", "markPostSensitive")]
LimitAccountResult = Annotated[Outcome, _union("LimitAccountResult", "limitAccount")]
SuspendAccountResult = Annotated[Outcome, _union("SuspendAccountResult", "suspendAccount")]
LiftModerationActionResult = Annotated[
    Outcome, _union("LiftModerationActionResult", "liftModerationAction")
]
DecideAppealResult = Annotated[Outcome, _union("DecideAppealResult", "decideAppeal")]


async def _act(
    info: Info,
    action: Action,
    input: ModeratePostInput | LimitAccountInput | SuspendAccountInput,
) -> Outcome:
    record = await resolvers.take_action(info.context, spec=input.to_spec(action))
    return StrikePayload(strike=Strike.from_record(record))


def _strike_id(raw: strawberry.ID) -> int:
    return parse_global_id(raw, expect="Strike", field="strikeId")[1]


@strawberry.type
class ModerationActionMutations:
    @mutation(
        description="Hide a post from everyone but its author, who sees it marked hidden.",
        extensions=requires_role(*MODERATION),
    )
    async def hide_post(
        self, info: Info, input: Annotated[ModeratePostInput, INPUT]
    ) -> HidePostResult:
        return await _act(info, Action.HIDE_POST, input)

    @mutation(
        description="Mark a post sensitive: clients show it blurred.",
        extensions=requires_role(*MODERATION),
    )
    async def mark_post_sensitive(
        self, info: Info, input: Annotated[ModeratePostInput, INPUT]
    ) -> MarkPostSensitiveResult:
        return await _act(info, Action.MARK_POST_SENSITIVE, input)

    @mutation(
        description="Limit an account: its posts leave the public feed and reach only its "
        "followers.",
        extensions=requires_role(*MODERATION),
    )
    async def limit_account(
        self, info: Info, input: Annotated[LimitAccountInput, INPUT]
    ) -> LimitAccountResult:
        return await _act(info, Action.LIMIT_ACCOUNT, input)

    @mutation(
        description="Suspend an account, until `until` or indefinitely: it cannot log in and "
        "every session of it ends at once.",
        extensions=requires_role(*MODERATION),
    )
    async def suspend_account(
        self, info: Info, input: Annotated[SuspendAccountInput, INPUT]
    ) -> SuspendAccountResult:
        return await _act(info, Action.SUSPEND_ACCOUNT, input)

    @mutation(
        description="Lift the action of a strike that is in force; the strike stays on record.",
        extensions=requires_role(*MODERATION),
    )
    async def lift_moderation_action(
        self, info: Info, input: Annotated[LiftModerationActionInput, INPUT]
    ) -> LiftModerationActionResult:
        record = await resolvers.lift_action(
            info.context, strike_id=_strike_id(input.strike_id), reason=input.reason
        )
        return StrikePayload(strike=Strike.from_record(record))

    @mutation(
        description="Uphold or overturn the pending appeal of a strike; overturning lifts its "
        "action.",
        extensions=requires_role(*MODERATION),
    )
    async def decide_appeal(
        self, info: Info, input: Annotated[DecideAppealInput, INPUT]
    ) -> DecideAppealResult:
        record = await resolvers.decide_appeal(
            info.context,
            strike_id=_strike_id(input.strike_id),
            overturn=input.decision is AppealDecision.OVERTURN,
            reason=input.reason,
            message=input.message,
        )
        return StrikePayload(strike=Strike.from_record(record))
