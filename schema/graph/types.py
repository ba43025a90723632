"""The graph's object types: accounts, posts and the connections that page them."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry import relay

from models.accounts.tables import Account as AccountRow
from models.posts.tables import Post as PostRow
from models.posts.tables import PostEdit as PostEditRow
from resolvers import accounts as account_resolvers
from resolvers import posts as post_resolvers
from resolvers import social as social_resolvers
from resolvers import support as support_resolvers
from resolvers import timeline as timeline_resolvers
from resolvers.context import Info
from schema.core.paging import After, Connection, First, page_of


@strawberry.enum(description="Who may see a post.")
class Visibility(Enum):
    PUBLIC = strawberry.enum_value("PUBLIC", description="Anyone, signed in or not.")
    FOLLOWERS = strawberry.enum_value(
        "FOLLOWERS", description="The author's followers and the author."
    )


@strawberry.type(description="A Chirp account and its public profile.")
class Account(relay.Node):
    """Domains attach their own fields to it (staff fields among them) in `app.schema`."""

    id: relay.NodeID[int]
    handle: str = strawberry.field(description="Unique handle, 3 to 30 letters, digits or _.")
    display_name: str = strawberry.field(description="Name shown beside the handle; at most 50.")
    bio: str = strawberry.field(description="Profile text; at most 300 characters.")
    avatar_url: str | None = strawberry.field(description="An https:// image URL, or null.")
    created_at: datetime = strawberry.field(description="When the account was created (UTC).")
    followers_count: int = strawberry.field(description="How many accounts follow this one.")
    following_count: int = strawberry.field(description="How many accounts this one follows.")
    posts_count: int = strawberry.field(description="How many live posts this account has.")
    email_address: strawberry.Private[str]

    @classmethod
    def from_row(cls, row: AccountRow) -> Account:
        return cls(
            id=row.id,
            handle=row.handle,
            display_name=row.display_name,
            bio=row.bio,
            avatar_url=row.avatar_url,
            created_at=row.created_at,
            followers_count=row.followers_count,
            following_count=row.following_count,
            posts_count=row.posts_count,
            email_address=row.email,
        )

    @strawberry.field(
        description="The account's email; null unless the viewer owns the account or is "
        "SUPPORT or ADMIN staff (a staff read is audited)."
    )
    async def email(self, info: Info) -> str | None:
        return await support_resolvers.email(
            info.context, account_id=self.id, address=self.email_address
        )

    @strawberry.field(description="Whether the viewer follows this account (false if anonymous).")
    async def viewer_follows(self, info: Info) -> bool:
        followed: bool = await info.context.loaders.followed_by_viewer.load(self.id)
        return followed

    @strawberry.field(description="Accounts following this one, most recent first.")
    async def followers(self, info: Info, first: First, after: After = None) -> AccountConnection:
        page = await social_resolvers.followers(
            info.context, account_id=self.id, first=first, after=after
        )
        return AccountConnection.from_page(page, Account.from_row)

    @strawberry.field(description="Accounts this one follows, most recent first.")
    async def following(self, info: Info, first: First, after: After = None) -> AccountConnection:
        page = await social_resolvers.following(
            info.context, account_id=self.id, first=first, after=after
        )
        return AccountConnection.from_page(page, Account.from_row)

    @strawberry.field(
        description="This account's posts, replies and reposts that the viewer may see, "
        "newest first."
    )
    async def posts(self, info: Info, first: First, after: After = None) -> PostConnection:
        page = await timeline_resolvers.account_timeline(
            info.context, account_id=self.id, first=first, after=after
        )
        return PostConnection.from_page(page, Post.from_row)


@strawberry.type(description="An earlier version of an edited post.")
class PostEdit:
    body: str = strawberry.field(description="The text as it was before this edit.")
    replaced_at: datetime = strawberry.field(description="When this text was replaced (UTC).")

    @classmethod
    def from_row(cls, row: PostEditRow) -> PostEdit:
        return cls(body=row.previous_body, replaced_at=row.created_at)


@strawberry.type(description="A post, reply or repost.")
class Post(relay.Node):
    id: relay.NodeID[int]
    body: str = strawberry.field(
        description="The text, 1 character up to the author's plan's `maxPostLength` (Free "
        "500, Plus 1000, Pro 4000); empty for a repost (see `repostOf`)."
    )
    visibility: Visibility = strawberry.field(description="Who may see this post.")
    created_at: datetime = strawberry.field(description="When it was posted (UTC).")
    edited_at: datetime | None = strawberry.field(description="When last edited, or null.")
    like_count: int = strawberry.field(description="How many accounts like this post.")
    repost_count: int = strawberry.field(description="How many live reposts it has.")
    sensitive: bool = strawberry.field(
        description="Moderators marked it sensitive: show it blurred until the reader taps it."
    )
    hidden: bool = strawberry.field(
        description="Moderators hid it: only its author (and staff) still see it, marked so."
    )
    row: strawberry.Private[PostRow]

    @classmethod
    def from_row(cls, row: PostRow) -> Post:
        return cls(
            id=row.id,
            body=row.body,
            visibility=Visibility(row.visibility),
            created_at=row.created_at,
            edited_at=row.edited_at,
            like_count=row.like_count,
            repost_count=row.repost_count,
            sensitive=row.sensitive,
            hidden=row.hidden_at is not None,
            row=row,
        )

    @strawberry.field(
        description="How many live replies it has that the viewer may see (as `thread` shows them)."
    )
    async def reply_count(self, info: Info) -> int:
        if self.row.reply_count == 0:  # no replies at all: nothing to look up
            return 0
        count: int = await info.context.loaders.visible_reply_counts.load(self.id)
        return count

    @strawberry.field(description="Who posted it.")
    async def author(self, info: Info) -> Account:
        row = await info.context.loaders.accounts_by_id.load(self.row.author_id)
        assert row is not None
        return Account.from_row(row)

    @strawberry.field(description="The post this replies to; null if none or not visible.")
    async def reply_to(self, info: Info) -> Post | None:
        return await _visible(info, self.row.reply_to_id)

    @strawberry.field(description="For a repost, the original post; null if it is not visible.")
    async def repost_of(self, info: Info) -> Post | None:
        return await _visible(info, self.row.repost_of_id)

    @strawberry.field(description="Whether the viewer likes this post (false if anonymous).")
    async def viewer_has_liked(self, info: Info) -> bool:
        liked: bool = await info.context.loaders.liked_by_viewer.load(self.id)
        return liked

    @strawberry.field(
        description="The whole thread this post belongs to: its root, then replies oldest "
        "first, as far as the viewer may see them."
    )
    async def thread(self, info: Info, first: First, after: After = None) -> PostConnection:
        root = self.row.thread_root_id or self.id
        page = await timeline_resolvers.thread(info.context, root_id=root, first=first, after=after)
        return PostConnection.from_page(page, Post.from_row)

    @strawberry.field(
        description="Earlier versions of the text, newest first (at most 50); null unless "
        "the viewer is the author or SUPPORT, MODERATOR, ADMIN or AUDITOR staff (a staff "
        "read is audited)."
    )
    async def edit_history(self, info: Info) -> list[PostEdit] | None:
        rows = await post_resolvers.edit_history(info.context, post=self.row)
        return None if rows is None else [PostEdit.from_row(r) for r in rows]


async def _visible(info: Info, post_id: int | None) -> Post | None:
    if post_id is None:
        return None
    row = await post_resolvers.post_by_id(info.context, post_id=post_id)
    return None if row is None else Post.from_row(row)


@page_of("post", "A page of posts.", "The posts on this page, in order.")
class PostConnection(Connection[Post]):
    pass


@page_of("account", "A page of accounts.", "The accounts on this page.")
class AccountConnection(Connection[Account]):
    pass


async def account_or_none(info: Info, account_id: int) -> Account | None:
    row = await account_resolvers.account_by_id(info.context, account_id=account_id)
    return None if row is None else Account.from_row(row)


def account_id_of(account: object) -> int:
    """The database id of the `Account` a mixin field resolves on."""
    value = vars(account)["id"]
    assert isinstance(value, int)
    return value
