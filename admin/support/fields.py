"""Support's root fields: finding an account, and ending its sessions (audited)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from models.access.roles import Role
from models.accounts.policies import EMAIL_READERS
from models.accounts.queries import AccountSearch
from models.support.actions import EndedSessions
from resolvers import support as resolvers
from resolvers.context import Info
from resolvers.paging import global_id, parse_global_id
from resolvers.staff import audit_refusal
from schema.core.errors import INPUT, NotAllowedError, NotFoundError, ValidationError
from schema.core.paging import After, First
from schema.core.permissions import Forbidden, requires_role
from schema.core.results import mutation, outcome
from schema.graph.types import Account, AccountConnection

SEARCHERS = (Role.SUPPORT, Role.MODERATOR, Role.ADMIN, Role.AUDITOR)
SESSION_ENDERS = (Role.SUPPORT, Role.ADMIN)


@strawberry.input(description="Exactly one way to find accounts.")
class AccountSearchInput:
    handle_prefix: str | None = strawberry.field(
        default=None, description="The start of a handle, any letter case (an @ is ignored)."
    )
    email: str | None = strawberry.field(
        default=None, description="An exact email address; for SUPPORT and ADMIN only."
    )
    email_prefix: str | None = strawberry.field(
        default=None,
        description="The start of an email address; at least 3 characters; for SUPPORT and "
        "ADMIN only.",
    )
    ip: str | None = strawberry.field(
        default=None, description="An IPv4 or IPv6 address one of the account's sessions used."
    )


@strawberry.input(description="A session to end, and why.")
class EndSessionInput:
    session_id: strawberry.ID = strawberry.field(
        description="The session's id (`AccountSession.id`)."
    )
    reason: str = strawberry.field(description="Why, for the audit log: 3 to 1000 characters.")


@strawberry.input(description="An account whose sessions all end, and why.")
class EndAllSessionsInput:
    account_id: strawberry.ID = strawberry.field(description="The account's global id.")
    reason: str = strawberry.field(description="Why, for the audit log: 3 to 1000 characters.")


@strawberry.type(description="Sessions a staff member ended.")
class SessionsEndedPayload:
    account_id: strawberry.ID = strawberry.field(description="The account's global id.")
    sessions_ended: int = strawberry.field(
        description="How many live sessions ended now (0 if they had already ended)."
    )


EndSessionResult = Annotated[
    SessionsEndedPayload | ValidationError | NotFoundError | NotAllowedError, outcome("endSession")
]
EndAllSessionsResult = Annotated[
    SessionsEndedPayload | ValidationError | NotFoundError | NotAllowedError,
    outcome("endAllSessions"),
]


def _payload(ended: EndedSessions) -> SessionsEndedPayload:
    return SessionsEndedPayload(
        account_id=strawberry.ID(global_id("Account", ended.account_id)),
        sessions_ended=len(ended.session_ids),
    )


@strawberry.type
class SupportQueries:
    @strawberry.field(
        description="Accounts matching one criterion (handle prefix, email, email prefix or "
        "a session's IP), newest first. Each search is audited; a bad filter is BAD_USER_INPUT. "
        "Searching by email or email prefix needs SUPPORT or ADMIN (as reading `Account.email` "
        "does): anyone else gets FORBIDDEN.",
        extensions=requires_role(*SEARCHERS),
    )
    async def account_search(
        self,
        info: Info,
        filter: Annotated[
            AccountSearchInput, strawberry.argument(description="What to search for.")
        ],
        first: First,
        after: After = None,
    ) -> AccountConnection:
        search = AccountSearch(
            handle_prefix=filter.handle_prefix,
            email=filter.email,
            email_prefix=filter.email_prefix,
            ip=filter.ip,
        )
        if search.by_email and not EMAIL_READERS & await info.context.roles():
            criterion = "email" if filter.email is not None else "emailPrefix"
            await audit_refusal(
                info.context, field=f"Query.accountSearch.{criterion}", reason="ROLE_REQUIRED"
            )
            names = ", ".join(sorted(r.value for r in EMAIL_READERS))
            raise Forbidden(
                f"Searching by email needs one of the roles {names}.", reason="ROLE_REQUIRED"
            )
        page = await resolvers.search_accounts(
            info.context, search=search, first=first, after=after
        )
        return AccountConnection.from_page(page, Account.from_row)


@strawberry.type
class SupportMutations:
    @mutation(
        description="End one session of an account (not of one that outranks you); its live "
        "subscriptions close at once. Audited with the reason.",
        extensions=requires_role(*SESSION_ENDERS),
    )
    async def end_session(
        self, info: Info, input: Annotated[EndSessionInput, INPUT]
    ) -> EndSessionResult:
        _, session_id = parse_global_id(
            input.session_id, expect="AccountSession", field="sessionId"
        )
        ended = await resolvers.end_session(
            info.context, session_id=session_id, reason=input.reason
        )
        return _payload(ended)

    @mutation(
        description="End every session of an account (not of one that outranks you), on "
        "every device; live subscriptions close at once. Audited with the reason.",
        extensions=requires_role(*SESSION_ENDERS),
    )
    async def end_all_sessions(
        self, info: Info, input: Annotated[EndAllSessionsInput, INPUT]
    ) -> EndAllSessionsResult:
        _, account_id = parse_global_id(input.account_id, expect="Account", field="accountId")
        ended = await resolvers.end_all_sessions(
            info.context, account_id=account_id, reason=input.reason
        )
        return _payload(ended)
