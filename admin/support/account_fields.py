"""Support's fields on `Account`: sessions, log-in history, whether TOTP is on (staff,
audited where sensitive) and the profile's history (owner or staff). Mixed into `Account` by
the composition (`app.schema`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from models.access.roles import Role
from models.accounts.queries import LogInRecord
from models.accounts.tables import LoginSession, ProfileEdit
from models.base import utcnow
from models.pages import Page
from resolvers import support as resolvers
from resolvers.context import Info
from resolvers.paging import encode_cursor, global_id
from schema.core.checks import checked, cursor, decoded_by
from schema.core.paging import AFTER, Connection, First, page_of
from schema.core.permissions import requires_role
from schema.graph.types import Account, account_id_of

ACCOUNT_READERS = (Role.SUPPORT, Role.ADMIN, Role.AUDITOR)
PROFILE_FIELDS = {"display_name": "displayName", "bio": "bio", "avatar_url": "avatarUrl"}
SessionAfter = Annotated[
    str | None,
    strawberry.argument(description=AFTER, metadata=checked(cursor(resolvers.SESSION_CURSOR))),
]
HistoryAfter = Annotated[
    str | None,
    strawberry.argument(
        description=AFTER, metadata=checked(decoded_by(resolvers.decode_history_cursor))
    ),
]


@strawberry.type(description="A log-in session of an account, as support sees it.")
class AccountSession:
    id: strawberry.ID = strawberry.field(description="The session's id, for `endSession`.")
    created_at: datetime = strawberry.field(description="When the log-in opened it (UTC).")
    expires_at: datetime = strawberry.field(description="When it expires (UTC).")
    revoked_at: datetime | None = strawberry.field(
        description="When it was ended (log-out or staff), or null."
    )
    active: bool = strawberry.field(description="Neither ended nor expired.")
    ip: str = strawberry.field(description="The client IP address at log-in.")
    user_agent: str = strawberry.field(description="The client's User-Agent at log-in.")
    second_factor: bool = strawberry.field(
        description="Whether the session proved a second factor (TOTP or a recovery code)."
    )

    @classmethod
    def from_row(cls, row: LoginSession, now: datetime) -> AccountSession:
        return cls(
            id=strawberry.ID(global_id("AccountSession", row.id)),
            created_at=row.created_at,
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
            active=row.revoked_at is None and row.expires_at > now,
            ip=row.ip,
            user_agent=row.user_agent,
            second_factor=row.second_factor_at is not None,
        )


@page_of("session", "A page of an account's sessions, newest first.", "The sessions on this page.")
class AccountSessionConnection(Connection[AccountSession]):
    pass


@strawberry.type(description="One attempt to log in to an account: a success or a refusal.")
class LogInAttempt:
    at: datetime = strawberry.field(description="When it happened (UTC).")
    succeeded: bool = strawberry.field(
        description="True when it opened a session (signing up opens one too)."
    )
    failure: str | None = strawberry.field(
        description="Why it was refused (an ErrorCode value such as INVALID_CREDENTIALS or "
        "INVALID_TOTP_CODE), or null when it succeeded."
    )
    ip: str = strawberry.field(description="The client IP address.")
    user_agent: str = strawberry.field(description="The client's User-Agent.")
    second_factor: bool = strawberry.field(
        description="Whether a successful log-in proved a second factor; false for refusals."
    )
    session_id: strawberry.ID | None = strawberry.field(
        description="The session it opened, or null for a refusal."
    )

    @classmethod
    def from_record(cls, record: LogInRecord) -> LogInAttempt:
        return cls(
            at=record.at,
            succeeded=record.succeeded,
            failure=record.failure or None,
            ip=record.ip,
            user_agent=record.user_agent,
            second_factor=record.second_factor,
            session_id=None
            if record.session_id is None
            else strawberry.ID(global_id("AccountSession", record.session_id)),
        )


@page_of("log-in attempt", "A page of log-in attempts, newest first.", "The attempts on this page.")
class LogInAttemptConnection(Connection[LogInAttempt]):
    pass


@strawberry.type(description="One profile field as it was before and after a change.")
class ProfileFieldChange:
    field: str = strawberry.field(description="The field: displayName, bio or avatarUrl.")
    before: str | None = strawberry.field(description="Its value before the change.")
    after: str | None = strawberry.field(description="Its value after the change.")


@strawberry.type(description="One change to a profile: who made it, when, and what changed.")
class ProfileChange:
    changed_at: datetime = strawberry.field(description="When the change was made (UTC).")
    changes: list[ProfileFieldChange] = strawberry.field(
        description="The fields it changed (at most three)."
    )
    editor_id: strawberry.Private[int | None]

    @classmethod
    def from_row(cls, row: ProfileEdit) -> ProfileChange:
        changes = [
            ProfileFieldChange(
                field=name,
                before=_text(row.before.get(key)),
                after=_text(row.after.get(key)),
            )
            for key, name in PROFILE_FIELDS.items()
            if key in row.after
        ]
        return cls(changed_at=row.created_at, changes=changes, editor_id=row.editor_id)

    @strawberry.field(
        description="Who made the change: the owner, or a staff member; null if that account "
        "no longer exists."
    )
    async def editor(self, info: Info) -> Account | None:
        if self.editor_id is None:
            return None
        row = await info.context.loaders.accounts_by_id.load(self.editor_id)
        return None if row is None else Account.from_row(row)


def _text(value: object) -> str | None:
    return None if value is None else str(value)


@strawberry.type
class AccountSupportFields:
    @strawberry.field(
        description="The account's log-in sessions, newest first, live or not. Reading them "
        "is audited.",
        extensions=requires_role(*ACCOUNT_READERS),
    )
    async def sessions(
        self, info: Info, first: First, after: SessionAfter = None
    ) -> AccountSessionConnection:
        page = await resolvers.sessions(
            info.context, account_id=account_id_of(self), first=first, after=after
        )
        now = utcnow()
        return AccountSessionConnection.from_page(
            page,
            lambda row: AccountSession.from_row(row, now),
            lambda key: encode_cursor(key, kind=resolvers.SESSION_CURSOR),
        )

    @strawberry.field(
        description="Log-in attempts, newest first: each session opened and each refused "
        "attempt (wrong password, missing or wrong second factor) with its IP and User-Agent. "
        "Reading it is audited.",
        extensions=requires_role(*ACCOUNT_READERS),
    )
    async def login_history(
        self, info: Info, first: First, after: HistoryAfter = None
    ) -> LogInAttemptConnection:
        page = await resolvers.login_history(
            info.context, account_id=account_id_of(self), first=first, after=after
        )
        # A history key is a (time, rank, id) triple, not an int: number the records so each
        # cursor is made from its own record's key.
        numbered = Page(items=list(enumerate(r for _, r in page.items)), has_next=page.has_next)
        return LogInAttemptConnection.from_page(
            numbered,
            LogInAttempt.from_record,
            lambda n: resolvers.encode_history_cursor(numbered.items[n][1].key),
        )

    @strawberry.field(
        description="Whether the account has two-factor authentication (TOTP) on.",
        extensions=requires_role(*ACCOUNT_READERS),
    )
    async def two_factor_enabled(self, info: Info) -> bool:
        return await resolvers.totp_enabled(info.context, account_id=account_id_of(self))

    @strawberry.field(
        description="Changes to the profile, newest first (at most 50): who changed which "
        "fields and when. Null unless the viewer owns the account or is SUPPORT, MODERATOR, "
        "ADMIN or AUDITOR staff (a staff read is audited)."
    )
    async def profile_history(self, info: Info) -> list[ProfileChange] | None:
        rows = await resolvers.profile_history(info.context, account_id=account_id_of(self))
        return None if rows is None else [ProfileChange.from_row(r) for r in rows]
