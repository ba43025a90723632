"""Moderation types that users and staff share: report categories, reports, strikes and
appeals, and the page of strikes."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from models.base import utcnow
from models.moderation import kinds, policies
from models.moderation.queries import StrikeRecord
from models.moderation.tables import Appeal as AppealRow
from models.moderation.tables import Report as ReportRow
from resolvers import moderation as resolvers
from resolvers.context import Info
from resolvers.paging import global_id
from schema.core.paging import Connection, page_of
from schema.core.permissions import requires_role
from schema.graph.types import Account, Post, account_or_none

STRIKE_READERS = tuple(sorted(policies.STRIKE_READERS, key=lambda r: r.value))


@strawberry.enum(
    name="ReportCategory", description="What is wrong with a reported post or account."
)
class ReportCategory(Enum):
    SPAM = strawberry.enum_value("SPAM", description="Spam or platform manipulation.")
    HARASSMENT = strawberry.enum_value("HARASSMENT", description="Harassment or bullying.")
    HATE = strawberry.enum_value("HATE", description="Hateful conduct.")
    VIOLENCE = strawberry.enum_value(
        "VIOLENCE", description="Violence or threats; enters the queue at HIGH priority."
    )
    SEXUAL_CONTENT = strawberry.enum_value(
        "SEXUAL_CONTENT", description="Sexual content outside what the rules allow."
    )
    ILLEGAL = strawberry.enum_value(
        "ILLEGAL", description="Illegal content or activity; enters the queue at HIGH priority."
    )
    IMPERSONATION = strawberry.enum_value("IMPERSONATION", description="Pretending to be another.")
    OTHER = strawberry.enum_value("OTHER", description="Anything else; say what in the note.")

    @property
    def kind(self) -> kinds.Category:
        return kinds.Category(str(self.value))


@strawberry.enum(name="ModerationAction", description="What moderators did.")
class ModerationAction(Enum):
    HIDE_POST = strawberry.enum_value(
        "HIDE_POST", description="The post is hidden from everyone but its author."
    )
    MARK_POST_SENSITIVE = strawberry.enum_value(
        "MARK_POST_SENSITIVE", description="The post is shown blurred until tapped."
    )
    LIMIT_ACCOUNT = strawberry.enum_value(
        "LIMIT_ACCOUNT",
        description="The account's posts leave the public feed and reach only its followers.",
    )
    SUSPEND_ACCOUNT = strawberry.enum_value(
        "SUSPEND_ACCOUNT", description="The account cannot log in; its sessions were ended."
    )


@strawberry.enum(name="StrikeStatus", description="Whether a strike's action is in force.")
class StrikeStatus(Enum):
    IN_FORCE = strawberry.enum_value("IN_FORCE", description="The action is in force.")
    LIFTED = strawberry.enum_value("LIFTED", description="A moderator lifted the action.")
    EXPIRED = strawberry.enum_value("EXPIRED", description="The suspension reached its end.")
    OVERTURNED = strawberry.enum_value(
        "OVERTURNED", description="An appeal found the strike wrong; its action was lifted."
    )


@strawberry.enum(name="AppealStatus", description="Where an appeal stands.")
class AppealStatus(Enum):
    PENDING = strawberry.enum_value("PENDING", description="Waiting for a moderator.")
    UPHELD = strawberry.enum_value("UPHELD", description="The strike stands.")
    OVERTURNED = strawberry.enum_value(
        "OVERTURNED", description="The strike was overturned and its action lifted."
    )


# The names admin's moderation types used while `schema.graph.types` had to be lazy here.
PostRef = Post
AccountRef = Account


@strawberry.type(description="A report of a post or an account.")
class Report:
    id: strawberry.ID = strawberry.field(description="The report's global id.")
    category: ReportCategory = strawberry.field(description="What the reporter says is wrong.")
    note: str = strawberry.field(description="The reporter's note; at most 1000 characters.")
    created_at: datetime = strawberry.field(description="When it was filed (UTC).")
    reporter_id: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: ReportRow) -> Report:
        return cls(
            id=strawberry.ID(global_id("Report", row.id)),
            category=ReportCategory(row.category),
            note=row.note,
            created_at=row.created_at,
            reporter_id=row.reporter_id,
        )

    @strawberry.field(description="Who filed it.")
    async def reporter(self, info: Info) -> Account | None:
        return await account_or_none(info, self.reporter_id)


@strawberry.type(description="The owner's appeal of a strike and its outcome.")
class Appeal:
    note: str = strawberry.field(description="Why the owner thinks the strike is wrong.")
    status: AppealStatus = strawberry.field(description="Where the appeal stands.")
    created_at: datetime = strawberry.field(description="When it was made (UTC).")
    decided_at: datetime | None = strawberry.field(description="When decided; null if pending.")
    message: str = strawberry.field(
        description="What the moderator who decided wrote to the owner; may be empty."
    )

    @classmethod
    def from_row(cls, row: AppealRow) -> Appeal:
        return cls(
            note=row.note,
            status=AppealStatus(row.status),
            created_at=row.created_at,
            decided_at=row.decided_at,
            message=row.decision_message,
        )


@strawberry.type(
    description="A moderation action against an account or one of its posts. Its owner and "
    "moderation and support staff see it."
)
class Strike:
    id: strawberry.ID = strawberry.field(description="The strike's global id.")
    action: ModerationAction = strawberry.field(description="What was done.")
    reason: str = strawberry.field(
        description="Why, as shown to the owner: the moderator's words for them, or the "
        "category's explanation."
    )
    category: ReportCategory | None = strawberry.field(description="The rule broken, if named.")
    status: StrikeStatus = strawberry.field(description="Whether the action is in force.")
    created_at: datetime = strawberry.field(description="When the action was taken (UTC).")
    expires_at: datetime | None = strawberry.field(
        description="When a suspension ends by itself; null if it does not."
    )
    lifted_at: datetime | None = strawberry.field(
        description="When the action was lifted, ran out or was overturned; null if in force."
    )
    appeal: Appeal | None = strawberry.field(description="The owner's appeal, if any.")
    record: strawberry.Private[StrikeRecord]

    @classmethod
    def from_record(cls, record: StrikeRecord) -> Strike:
        row = record.strike
        return cls(
            id=strawberry.ID(global_id("Strike", row.id)),
            action=ModerationAction(row.action),
            reason=policies.public_reason(row),
            category=None if row.category is None else ReportCategory(row.category),
            status=StrikeStatus(policies.strike_status(row, now=utcnow()).value),
            created_at=row.created_at,
            expires_at=row.expires_at,
            lifted_at=row.lifted_at,
            appeal=None if record.appeal is None else Appeal.from_row(record.appeal),
            record=record,
        )

    @strawberry.field(description="Whether the viewer may appeal it: the owner, once.")
    def can_appeal(self, info: Info) -> bool:
        return (
            self.record.appeal is None and info.context.viewer_id == self.record.strike.account_id
        )

    @strawberry.field(
        description="The reason staff recorded (for staff and the audit log, never shown to "
        "the owner).",
        extensions=requires_role(*STRIKE_READERS),
    )
    def staff_reason(self) -> str:
        return self.record.strike.reason

    @strawberry.field(description="The account the strike is against.")
    async def account(self, info: Info) -> Account | None:
        row = await info.context.loaders.accounts_by_id.load(self.record.strike.account_id)
        return None if row is None else Account.from_row(row)

    @strawberry.field(
        description="The post acted on, for post actions: its author sees it as always, "
        "staff see it whatever its visibility (reading one that is not public, or is hidden "
        "or deleted, is audited). Null for account actions."
    )
    async def post(self, info: Info) -> Post | None:
        strike = self.record.strike
        if strike.post_id is None:
            return None
        row = await resolvers.strike_post(
            info.context, post_id=strike.post_id, owner_id=strike.account_id
        )
        return None if row is None else Post.from_row(row)


@page_of("strike", "A page of strikes.", "The strikes on this page.")
class StrikeConnection(Connection[Strike]):
    pass


@strawberry.type(description="A strike after a change: an action, a lift, an appeal or a decision.")
class StrikePayload:
    strike: Strike = strawberry.field(description="The strike, with its appeal.")
