"""Moderation fields on `Account`: its strikes (for the owner and staff, by the policy in
`models.moderation.policies`) and its standing (staff only, by `@requiresRole`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from resolvers import moderation as resolvers
from resolvers.context import Info
from resolvers.paging import MAX_PAGE
from schema.core.checks import checked, list_cursor, page_size
from schema.core.permissions import requires_role
from schema.graph.types import account_id_of
from schema.moderation.types import STRIKE_READERS, Strike, StrikeConnection


@strawberry.type(description="Where an account stands with moderation, as of now.")
class ModerationStatus:
    suspended: bool = strawberry.field(
        description="Whether a suspension is in force (one past its end never counts)."
    )
    suspended_since: datetime | None = strawberry.field(
        description="When the suspension in force began; null if none."
    )
    suspended_until: datetime | None = strawberry.field(
        description="When the suspension in force ends; null if none or if indefinite."
    )
    limited: bool = strawberry.field(
        description="Whether its posts are limited to its followers and kept off the public feed."
    )
    limited_since: datetime | None = strawberry.field(description="Since when; null if not.")
    strikes_in_force: int = strawberry.field(description="How many strikes are in force.")
    open_cases: int = strawberry.field(description="How many open cases concern it.")


@strawberry.type
class AccountModerationFields:
    @strawberry.field(
        description="The account's strikes, newest first: null unless the viewer owns the "
        "account or is moderation or support staff."
    )
    async def strikes(
        self,
        info: Info,
        first: Annotated[
            int,
            strawberry.argument(
                description=f"How many strikes: 1 to {MAX_PAGE}.", metadata=checked(page_size)
            ),
        ],
        after: Annotated[
            str | None,
            strawberry.argument(
                description="Continue after this edge's cursor.", metadata=checked(list_cursor)
            ),
        ] = None,
    ) -> StrikeConnection | None:
        page = await resolvers.strikes(
            info.context, account_id=account_id_of(self), first=first, after=after
        )
        return None if page is None else StrikeConnection.from_page(page, Strike.from_record)

    @strawberry.field(
        description="Suspension, limit, strikes in force and open cases.",
        extensions=requires_role(*STRIKE_READERS),
    )
    async def moderation_status(self, info: Info) -> ModerationStatus | None:
        standing = await resolvers.standing(info.context, account_id=account_id_of(self))
        if standing is None:
            return None
        return ModerationStatus(
            suspended=standing.suspended,
            suspended_since=standing.suspended_since,
            suspended_until=standing.suspended_until,
            limited=standing.limited_since is not None,
            limited_since=standing.limited_since,
            strikes_in_force=standing.strikes_in_force,
            open_cases=standing.open_cases,
        )
