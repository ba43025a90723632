"""Create, reply to, repost, like, edit and delete posts."""

from __future__ import annotations

from typing import Annotated

import strawberry

from models.posts.tables import Post as PostRow
from resolvers import posts as resolvers
from resolvers.context import Info
from resolvers.paging import global_id, parse_global_id
from schema.core.errors import INPUT, NotAllowedError, NotFoundError, ValidationError
from schema.core.limits import RateLimit
from schema.core.permissions import IsAuthenticated
from schema.core.results import mutation, outcome
from schema.graph.types import Post, Visibility


@strawberry.input(description="A new post or reply.")
class CreatePostInput:
    body: str = strawberry.field(
        description="1 character up to the viewer's plan's `maxPostLength` (Free 500, Plus "
        "1000, Pro 4000), not only whitespace; longer is POST_TOO_LONG."
    )
    visibility: Visibility = strawberry.field(
        default=Visibility.PUBLIC, description="Who may see it; PUBLIC unless given."
    )
    reply_to_id: strawberry.ID | None = strawberry.field(
        default=None, description="The post this replies to, if any."
    )


@strawberry.type(description="The post acted on, as it is now.")
class PostPayload:
    post: Post = strawberry.field(description="The post after the change.")


CreatePostResult = Annotated[PostPayload | ValidationError | NotFoundError, outcome("createPost")]


@strawberry.input(description="The post to act on.")
class PostTargetInput:
    post_id: strawberry.ID = strawberry.field(description="The post's global id.")


RepostPostResult = Annotated[
    PostPayload | ValidationError | NotFoundError | NotAllowedError, outcome("repostPost")
]
LikePostResult = Annotated[PostPayload | ValidationError | NotFoundError, outcome("likePost")]
UnlikePostResult = Annotated[PostPayload | ValidationError | NotFoundError, outcome("unlikePost")]


@strawberry.input(description="New text for a post.")
class EditPostInput:
    post_id: strawberry.ID = strawberry.field(description="The post's global id.")
    body: str = strawberry.field(
        description="1 character up to the viewer's plan's `maxPostLength` (Free 500, Plus "
        "1000, Pro 4000), not only whitespace."
    )


EditPostResult = Annotated[
    PostPayload | ValidationError | NotFoundError | NotAllowedError, outcome("editPost")
]


@strawberry.type(description="A post was deleted.")
class DeletePostPayload:
    deleted_post_id: strawberry.ID = strawberry.field(description="The deleted post's id.")


DeletePostResult = Annotated[
    DeletePostPayload | ValidationError | NotFoundError | NotAllowedError, outcome("deletePost")
]


def _post_id(value: str, field: str = "postId") -> int:
    return parse_global_id(value, expect="Post", field=field)[1]


def _payload(row: PostRow) -> PostPayload:
    return PostPayload(post=Post.from_row(row))


@strawberry.type
class PostMutations:
    @mutation(
        description="Publish a post, or a reply when `replyToId` is given.",
        permission_classes=[IsAuthenticated],
        extensions=[RateLimit("posts.account", per="account")],
    )
    async def create_post(
        self, info: Info, input: Annotated[CreatePostInput, INPUT]
    ) -> CreatePostResult:
        reply_to = None if input.reply_to_id is None else _post_id(input.reply_to_id, "replyToId")
        row = await resolvers.create_post(
            info.context,
            body=input.body,
            visibility=str(input.visibility.value),
            reply_to_id=reply_to,
        )
        return _payload(row)

    @mutation(
        description="Repost a public post to the viewer's followers; reposting twice returns "
        "the first repost.",
        permission_classes=[IsAuthenticated],
        extensions=[RateLimit("posts.account", per="account")],
    )
    async def repost_post(
        self, info: Info, input: Annotated[PostTargetInput, INPUT]
    ) -> RepostPostResult:
        return _payload(await resolvers.repost_post(info.context, post_id=_post_id(input.post_id)))

    @mutation(description="Like a post. Idempotent.", permission_classes=[IsAuthenticated])
    async def like_post(
        self, info: Info, input: Annotated[PostTargetInput, INPUT]
    ) -> LikePostResult:
        return _payload(await resolvers.like_post(info.context, post_id=_post_id(input.post_id)))

    @mutation(description="Take back a like. Idempotent.", permission_classes=[IsAuthenticated])
    async def unlike_post(
        self, info: Info, input: Annotated[PostTargetInput, INPUT]
    ) -> UnlikePostResult:
        return _payload(await resolvers.unlike_post(info.context, post_id=_post_id(input.post_id)))

    @mutation(
        description="Change a post's text (author only) within the author's plan's edit "
        "window (Free 1 hour, Plus 1 day, Pro without limit; later is EDIT_WINDOW_CLOSED); "
        "the old text is kept in its history.",
        permission_classes=[IsAuthenticated],
    )
    async def edit_post(self, info: Info, input: Annotated[EditPostInput, INPUT]) -> EditPostResult:
        post_id = _post_id(input.post_id)
        return _payload(await resolvers.edit_post(info.context, post_id=post_id, body=input.body))

    @mutation(
        description="Delete a post (author only); it disappears everywhere at once.",
        permission_classes=[IsAuthenticated],
    )
    async def delete_post(
        self, info: Info, input: Annotated[PostTargetInput, INPUT]
    ) -> DeletePostResult:
        deleted = await resolvers.delete_post(info.context, post_id=_post_id(input.post_id))
        return DeletePostPayload(deleted_post_id=strawberry.ID(global_id("Post", deleted)))
