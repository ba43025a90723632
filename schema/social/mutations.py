"""Follow, unfollow, block, unblock, mute and unmute: one shape, six mutations."""

# No `from __future__ import annotations`: the factory below builds real annotations.
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import strawberry

from models.accounts.tables import Account as AccountRow
from resolvers import social as resolvers
from resolvers.context import Info
from resolvers.paging import parse_global_id
from schema.core.errors import INPUT, NotAllowedError, NotFoundError, ValidationError
from schema.core.limits import RateLimit
from schema.core.permissions import IsAuthenticated
from schema.core.results import mutation
from schema.graph.types import Account


@strawberry.input(description="The account to act on.")
class AccountTargetInput:
    account_id: strawberry.ID = strawberry.field(description="The account's global id.")


@strawberry.type(description="The account acted on, as it is now.")
class AccountPayload:
    account: Account = strawberry.field(description="The target account after the change.")


def _edge_mutation(
    name: str,
    description: str,
    resolver: Callable[..., Awaitable[AccountRow]],
    limit: RateLimit | None = None,
) -> Any:
    result = Annotated[
        AccountPayload | ValidationError | NotFoundError | NotAllowedError,
        strawberry.union(
            f"{name}Result",
            description=f"The outcome of `{name[0].lower()}{name[1:]}`: payload or UserError.",
        ),
    ]

    async def resolve(info: Info, input: Annotated[AccountTargetInput, INPUT]) -> Any:
        _, account_id = parse_global_id(input.account_id, expect="Account", field="accountId")
        row = await resolver(info.context, account_id=account_id)
        return AccountPayload(account=Account.from_row(row))

    resolve.__annotations__["return"] = result
    return mutation(
        description=description,
        permission_classes=[IsAuthenticated],
        extensions=None if limit is None else [limit],
    )(resolve)


@strawberry.type
class SocialMutations:
    follow_account = _edge_mutation(
        "FollowAccount",
        "Follow an account; their posts reach the viewer's home timeline. Idempotent.",
        resolvers.follow_account,
        RateLimit("follows.account", per="account"),
    )
    unfollow_account = _edge_mutation(
        "UnfollowAccount",
        "Stop following an account; their posts leave the home timeline. Idempotent.",
        resolvers.unfollow_account,
    )
    block_account = _edge_mutation(
        "BlockAccount",
        "Block an account: follows both ways end and neither sees the other. Idempotent.",
        resolvers.block_account,
    )
    unblock_account = _edge_mutation(
        "UnblockAccount",
        "Lift a block; follows it ended are not restored. Idempotent.",
        resolvers.unblock_account,
    )
    mute_account = _edge_mutation(
        "MuteAccount",
        "Hide an account's posts from the viewer's timelines, silently. Idempotent.",
        resolvers.mute_account,
    )
    unmute_account = _edge_mutation(
        "UnmuteAccount", "Show a muted account's posts again. Idempotent.", resolvers.unmute_account
    )
