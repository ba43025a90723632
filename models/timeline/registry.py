"""The timeline's registrations: the fan-out and backfill jobs and the events that call for
them."""

from __future__ import annotations

from models.events import actions as events
from models.registry import Domain, Event, JobCall, Services
from models.timeline import actions as timeline
from models.timeline import tables

FAN_OUT_POST = "chirp.fan_out_post"
BACKFILL_FOLLOW = "chirp.backfill_follow"


async def fan_out_post(services: Services, *, post_id: int) -> int:
    """Write a new post into its author's followers' home feeds."""
    async with services.transactions.begin() as session:
        return await timeline.fan_out_post(session, post_id=post_id)


async def backfill_follow(services: Services, *, follower_id: int, followee_id: int) -> int:
    """Bring a newly followed account's recent posts into the follower's home feed."""
    async with services.transactions.begin() as session:
        return await timeline.backfill_follow(
            session, follower_id=follower_id, followee_id=followee_id
        )


def jobs_for(event: Event) -> list[JobCall]:
    """A new post is fanned out; a new follow is backfilled."""
    payload = event.payload
    if event.type == events.POST_CREATED:
        return [(FAN_OUT_POST, {"post_id": payload["post_id"]})]
    if event.type == events.ACCOUNT_FOLLOWED:
        ids = {"follower_id": payload["follower_id"], "followee_id": payload["followee_id"]}
        return [(BACKFILL_FOLLOW, ids)]
    return []


DOMAIN = Domain(
    name="timeline",
    tables=(tables,),
    jobs={FAN_OUT_POST: fan_out_post, BACKFILL_FOLLOW: backfill_follow},
    jobs_for=jobs_for,
)
