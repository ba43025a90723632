"""Shared live delivery: a `homeTimeline` or `publicFeed` subscription whose document has a
live plan (`schema.compiled.compile_subscription`) does not run the general executor for each
event. Its stream still decides, per subscriber, which events it wants (the viewer's follows,
mutes and blocks, kept in memory) and when it ends (a revoked session, a slow consumer); each
wanted event's post is read and shaped once for every subscriber in the process that shares
the document (`models/timeline/shared.py`), and the subscriber's `next` message is that text
with its operation id, written straight to its socket.

The operation starts on the general path as any other (token limit, validation, cost,
budget, session check, the resolver's own checks), so what a subscriber may start and what
it is charged are unchanged. A plan holds public fields only: a document that asks for
anything else (a staff field, an account's email) runs per subscriber on the general path,
whose reads are checked and audited for each event, so one subscriber's authority never
shapes what another receives."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections import OrderedDict
from collections.abc import AsyncGenerator
from typing import Any

import orjson
from graphql import DocumentNode, print_ast
from starlette.websockets import WebSocket
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import Operation

from models.outages import overloaded
from models.timeline.shared import LiveReadFailed, LiveReads, retryable
from resolvers.context import Context, Info
from schema.compiled import LivePlan, compile_subscription
from subscriptions import live
from subscriptions.events import LiveEvent

# Subscription documents whose live plan (or its lack) is kept: a plan holds four compiled
# statements (about 1.5 MB with SQLAlchemy's caches), so few; apps use a handful.
PLANS = 64
# The socket closes with 1011 when an event cannot be read (the database is away): the client
# resubscribes with its last cursor and receives what it missed.
CLOSE_LIVE_READ_FAILED = 1011
# The database did not answer for the whole retry (about 15 s): 1013, come back later.
UNAVAILABLE = "Service unavailable; resubscribe with `after` in 5 seconds"


class LiveOperation:
    """The operation a subscription's resolver runs in (set by the WebSocket handler): its
    `id`, and `send` writes one text message to its socket while the operation is not
    completed. A small object over the handler's own operation, not a closure."""

    __slots__ = ("operation", "socket")

    def __init__(self, operation: Operation[Any, Any], socket: WebSocket) -> None:
        self.operation = operation
        self.socket = socket

    @property
    def id(self) -> str:
        return self.operation.id

    async def send(self, text: str) -> None:
        if not self.operation.completed:
            await self.socket.send_text(text)

    def head(self) -> str:
        """The start of each of its `next` messages: the payload and a `}` follow."""
        return '{"id":' + orjson.dumps(self.id).decode() + ',"type":"next","payload":'


LIVE_OPERATION: contextvars.ContextVar[LiveOperation | None] = contextvars.ContextVar(
    "chirp_live_operation", default=None
)
_plans: OrderedDict[tuple[str, str | None], LivePlan | None] = OrderedDict()


def plan_for(info: Info) -> LivePlan | None:
    """The live plan of this subscription's document, or None (the general path)."""
    operation = info.operation
    loc = operation.loc
    text = loc.source.body if loc is not None else print_ast(operation)
    name = operation.name.value if operation.name else None
    key = (text, name)
    if key in _plans:
        _plans.move_to_end(key)
        return _plans[key]
    # The parsed document is not on `info`: its operation and fragments are.
    fragments = info._raw_info.fragments  # strawberry's Info does not pass them on
    document = DocumentNode(definitions=(operation, *fragments.values()))
    plan = compile_subscription(document, name)
    _plans[key] = plan
    while len(_plans) > PLANS:
        _plans.popitem(last=False)
    return plan


async def deliver(
    ctx: Context,
    plan: LivePlan,
    operation: LiveOperation,
    reads: LiveReads,
    events: AsyncGenerator[LiveEvent, None],
) -> None:
    """Send each event's shared answer until the stream ends."""
    first = ctx.cost  # `extensions.cost` goes with the first event, as on the general path
    head = operation.head()
    # Closed on the way out, cancellation included: the stream's `finally` takes its
    # listener off the hub at once, not whenever a collection finds the cycle.
    async with contextlib.aclosing(events):
        async for event in events:
            ctx.reset_for_event()
            try:
                text = await reads.answer(
                    plan,
                    plan.read,
                    plan.shape,
                    seq=event.seq,
                    post_id=int(event.payload["post_id"]),
                    viewer_id=ctx.viewer_id,
                )
            except LiveReadFailed as failed:
                if overloaded(failed.__cause__):
                    raise live.StreamClosed(live.CLOSE_OVERLOADED, live.OVERLOADED) from None
                if retryable(failed.__cause__):  # the database stayed away through retries
                    raise live.StreamClosed(live.CLOSE_OVERLOADED, UNAVAILABLE) from None
                raise live.StreamClosed(
                    CLOSE_LIVE_READ_FAILED, "Could not read an event; resubscribe with `after`"
                ) from None
            if text is None:
                continue
            if first is not None:
                payload = orjson.loads(text)
                payload["extensions"] = {"cost": first.extensions()}
                text, first = orjson.dumps(payload).decode(), None
            try:
                await operation.send(head + text + "}")
            except Exception:
                # The socket is gone (another operation closed it): returning would send
                # `complete` on it and log a failure; its handler cancels this operation.
                await asyncio.Event().wait()
