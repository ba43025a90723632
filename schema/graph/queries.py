"""Root query fields."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry import relay

from resolvers import accounts as account_resolvers
from resolvers import posts as post_resolvers
from resolvers import timeline as timeline_resolvers
from resolvers.context import Info
from resolvers.paging import parse_id_argument
from schema.core.checks import checked, global_id
from schema.core.paging import After, First
from schema.graph.types import Account, Post, PostConnection, account_or_none


@strawberry.type
class PublicQuery:
    @strawberry.field(description="The signed-in account, or null when not signed in.")
    def viewer(self, info: Info) -> Account | None:
        viewer = info.context.viewer
        return None if viewer is None else Account.from_row(viewer)

    @strawberry.field(
        description="Any object by its global id; null if it does not exist or is not "
        "visible. A malformed id is a BAD_USER_INPUT error."
    )
    async def node(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID,
            strawberry.argument(description="A global id.", metadata=checked(global_id(None))),
        ],
    ) -> relay.Node | None:
        type_name, key = parse_id_argument(id, None, "id")
        if type_name == "Account":
            return await account_or_none(info, key)
        if type_name == "Post":
            row = await post_resolvers.post_by_id(info.context, post_id=key)
            return None if row is None else Post.from_row(row)
        return None

    @strawberry.field(description="An account by handle (any letter case); null if none.")
    async def account(
        self,
        info: Info,
        handle: Annotated[str, strawberry.argument(description="The handle, without @.")],
    ) -> Account | None:
        row = await account_resolvers.account_by_handle(info.context, handle=handle)
        return None if row is None else Account.from_row(row)

    @strawberry.field(description="A post by id; null if it does not exist or is not visible.")
    async def post(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID,
            strawberry.argument(
                description="The post's global id.", metadata=checked(global_id("Post"))
            ),
        ],
    ) -> Post | None:
        _, key = parse_id_argument(id, "Post", "id")
        row = await post_resolvers.post_by_id(info.context, post_id=key)
        return None if row is None else Post.from_row(row)

    @strawberry.field(
        description="The viewer's home timeline: their own posts and the posts and reposts "
        "of accounts they follow, newest first, without muted or blocked accounts. "
        "Requires a signed-in viewer."
    )
    async def home_timeline(self, info: Info, first: First, after: After = None) -> PostConnection:
        page = await timeline_resolvers.home_timeline(info.context, first=first, after=after)
        return PostConnection.from_page(page, Post.from_row)

    @strawberry.field(
        description="Every public top-level post, newest first, without the viewer's muted "
        "or blocked accounts."
    )
    async def public_feed(self, info: Info, first: First, after: After = None) -> PostConnection:
        page = await timeline_resolvers.public_feed(info.context, first=first, after=after)
        return PostConnection.from_page(page, Post.from_row)
