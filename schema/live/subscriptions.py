"""Real-time fields over `graphql-transport-ws`. Each event carries a `cursor`; a client that
reconnects passes the last one it saw as `after` and first receives what it missed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from collections.abc import Set as AbstractSet
from typing import Annotated

import strawberry
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from models.events.actions import POST_DELETED
from models.outages import overloaded
from models.posts import policies as post_policies
from resolvers import accounts as account_resolvers
from resolvers.context import Context, Info
from resolvers.paging import (
    EVENT_CURSOR,
    BadUserInput,
    decode_cursor,
    encode_cursor,
    parse_id_argument,
)
from schema.core.checks import checked, cursor, global_id
from schema.graph.types import Post
from schema.live import shared
from subscriptions import live
from subscriptions.events import LiveEvent

Resume = Annotated[
    str | None,
    strawberry.argument(
        description="The `cursor` of the last event received, to resume after a reconnect: "
        "the events missed since are sent first. Refused as too old (`BAD_USER_INPUT`) when "
        "its event is older than the server's resume window (10 minutes unless configured "
        "otherwise), or once more than the server's replay bound (1,000) are due.",
        metadata=checked(cursor(EVENT_CURSOR)),
    ),
]


@strawberry.type(description="A new post in a live timeline.")
class TimelineEvent:
    cursor: str = strawberry.field(description="Pass as `after` when resubscribing.")
    post: Post = strawberry.field(description="The new post.")


@strawberry.type(description="A change to a post: a like, an edit, a new reply, or deletion.")
class PostUpdate:
    cursor: str = strawberry.field(description="Pass as `after` when resubscribing.")
    deleted: bool = strawberry.field(description="True when the post was deleted.")
    post: Post | None = strawberry.field(
        description="The post as it is now; null once deleted or no longer visible."
    )


class _Unchanged:
    """Whether the viewer's session's authority, read again, is still what it was when the
    stream started (`live.stream`'s `unchanged`): a small object, not a closure, as one is
    held by every subscriber."""

    __slots__ = ("ctx", "started")

    def __init__(self, ctx: Context, started: account_resolvers.Authority | None) -> None:
        self.ctx = ctx
        self.started = started

    async def __call__(self) -> bool:
        return await account_resolvers.session_authority(self.ctx) == self.started


# What a stream wants (`live.stream`'s `accepts`, `types` and `keys`): a tuple made in the
# call, so no frame of an idle subscriber holds it.
Wanted = tuple[Callable[[LiveEvent], bool], AbstractSet[str], Callable[[], live.Keys | None] | None]


def _timeline(graph: live.ViewerGraph, public_feed: bool) -> Wanted:
    if public_feed:
        return graph.public, live.TIMELINE_TYPES, None
    return graph.home, live.TIMELINE_TYPES, graph.home_authors


async def _stream(
    ctx: Context, wanted: Wanted, after: str | None, graph: live.ViewerGraph
) -> AsyncGenerator[LiveEvent, None]:
    """The subscriber's `live.stream` (not yet started) of the events it wants."""
    accepts, types, keys = wanted
    runtime = ctx.runtime
    # What the stream may do as it starts: a credentials change for the viewer closes it
    # unless the authority read again is still this (the change was in force already).
    started = await account_resolvers.session_authority(ctx)
    return live.stream(
        hub=runtime.hub,
        log_reader=runtime.event_log,
        accepts=accepts,
        types=types,
        keys=keys,
        revoked=live.revokes(ctx.viewer_id, ctx.session_id),
        unchanged=_Unchanged(ctx, started),
        observe=graph.observe,
        after=decode_cursor(after, kind=EVENT_CURSOR),
        window=runtime.settings.live_resume_window,
        max_events=runtime.settings.live_resume_max_events,
    )


def _bad_cursor(exc: live.CursorAhead | live.CursorTooOld) -> BadUserInput:
    if isinstance(exc, live.CursorAhead):
        return BadUserInput(
            "That cursor is ahead of the event log; subscribe again without `after`.",
            argument="after",
        )
    return BadUserInput(
        "That cursor is too old to resume from (older than the resume window, or too many "
        "events to replay); refetch and subscribe again without `after`.",
        argument="after",
    )


async def _events(
    ctx: Context, wanted: Wanted, after: str | None, graph: live.ViewerGraph
) -> AsyncIterator[LiveEvent]:
    try:
        stream = await _stream(ctx, wanted, after, graph)
        async with contextlib.aclosing(stream):  # its listener leaves the hub on cancel too
            async for event in stream:
                ctx.reset_for_event()
                yield event
    except (live.CursorAhead, live.CursorTooOld) as exc:
        raise _bad_cursor(exc) from exc
    except live.StreamClosed as closed:
        await _close(ctx, closed)


async def _close(ctx: Context, closed: live.StreamClosed) -> None:
    """Close the subscriber's socket with the stream's code, and wait to be cancelled."""
    if not isinstance(ctx.request, WebSocket):
        return
    websocket = ctx.request
    # Another operation of this connection may have closed it already.
    if websocket.application_state == WebSocketState.CONNECTED:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            await websocket.close(code=closed.code, reason=closed.reason)
    # Returning would make the operation send `complete` on the closed socket, which fails
    # and logs an error; the connection's handler cancels this operation as soon as the
    # socket is gone.
    await asyncio.Event().wait()


async def _shed_if_overloaded(ctx: Context, exc: Exception) -> None:
    """A subscription whose event found no database connection closes with 1013: its
    client resumes with its last cursor once the process has breath again (an internal
    error would end it for good)."""
    if overloaded(exc):
        await _close(ctx, live.StreamClosed(live.CLOSE_OVERLOADED, live.OVERLOADED))


async def _posts(
    info: Info, after: str | None, *, public_feed: bool
) -> AsyncGenerator[TimelineEvent, None]:
    ctx = info.context
    sessionmaker = ctx.runtime.read_sessionmaker
    viewer_id = ctx.viewer_id if public_feed else ctx.require_viewer().id
    graph = await live.ViewerGraph.load(sessionmaker, viewer_id)
    operation, reads = shared.LIVE_OPERATION.get(), ctx.runtime.live
    plan = shared.plan_for(info) if operation is not None and reads is not None else None
    if plan is not None and operation is not None and reads is not None:
        # Each event read and shaped once for every subscriber of this document, and sent
        # from here: nothing is yielded to the general executor. `deliver` reads the stream
        # itself (no generator of `_events` in between: every idle subscriber holds these).
        try:
            await shared.deliver(
                ctx,
                plan,
                operation,
                reads,
                await _stream(ctx, _timeline(graph, public_feed), after, graph),
            )
        except (live.CursorAhead, live.CursorTooOld) as exc:
            raise _bad_cursor(exc) from exc
        except live.StreamClosed as closed:
            await _close(ctx, closed)
        return
    async for event in _events(ctx, _timeline(graph, public_feed), after, graph):
        try:
            row = await ctx.loaders.visible_posts_by_id.load(int(event.payload["post_id"]))
            if row is not None and row.repost_of_id is not None:
                # A repost of a muted (or blocked) author's post stays out, as in the
                # timelines.
                original = await ctx.loaders.visible_posts_by_id.load(row.repost_of_id)
                if original is None or graph.hides(original.author_id):
                    continue
            if row is not None and public_feed:
                author = await ctx.loaders.accounts_by_id.load(row.author_id)
                if author is None or not post_policies.shown_in_public_feed(
                    author, viewer_id=ctx.viewer_id
                ):
                    continue
        except Exception as exc:
            await _shed_if_overloaded(ctx, exc)
            raise
        if row is not None:
            cursor = encode_cursor(event.seq, kind=EVENT_CURSOR)
            yield TimelineEvent(cursor=cursor, post=Post.from_row(row))


@strawberry.type(description="Live updates. Connect with `graphql-transport-ws`.")
class Subscription:
    # homeTimeline and publicFeed are not generators themselves: each returns `_posts`'
    # generator, so an idle subscriber holds one frame fewer.
    @strawberry.subscription(
        description="New posts for the viewer's home timeline (own posts and followees'). "
        "Requires a signed-in connection."
    )
    def home_timeline(
        self, info: Info, after: Resume = None
    ) -> AsyncGenerator[TimelineEvent, None]:
        return _posts(info, after, public_feed=False)

    @strawberry.subscription(description="New public top-level posts, as in `publicFeed`.")
    def public_feed(self, info: Info, after: Resume = None) -> AsyncGenerator[TimelineEvent, None]:
        return _posts(info, after, public_feed=True)

    @strawberry.subscription(
        description="Changes to one post: likes, edits, replies. Ends after its deletion, or "
        "when the viewer may no longer see it."
    )
    async def post_updated(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID,
            strawberry.argument(
                description="The post's global id.", metadata=checked(global_id("Post"))
            ),
        ],
        after: Resume = None,
    ) -> AsyncGenerator[PostUpdate, None]:
        ctx = info.context
        _, post_id = parse_id_argument(id, "Post", "id")
        if await ctx.loaders.visible_posts_by_id.load(post_id) is None:
            raise BadUserInput("No such post.", argument="id")
        graph = live.ViewerGraph(ctx.viewer_id)
        changes = live.post_changes(post_id)
        async for event in _events(
            ctx, (changes, live.POST_CHANGE_TYPES, changes.keys), after, graph
        ):
            deleted = event.type == POST_DELETED
            try:
                row = await ctx.loaders.visible_posts_by_id.load(post_id)
            except Exception as exc:
                await _shed_if_overloaded(ctx, exc)
                raise
            if row is None and not deleted:
                return  # the viewer may no longer see the post: say nothing more about it
            yield PostUpdate(
                cursor=encode_cursor(event.seq, kind=EVENT_CURSOR),
                deleted=deleted,
                post=None if row is None else Post.from_row(row),
            )
            if deleted:
                return
