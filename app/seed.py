"""A small demo data set for a new machine: a few accounts that follow and post, and the
promotion code docs/billing.md's examples use."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.runtime import Services
from models.accounts import actions as accounts
from models.accounts.tables import Account
from models.billing import coupons
from models.billing.specs import CouponSpec
from models.billing.tables import REPEATING
from models.posts import actions as posts
from models.social import actions as social

DEMO_PASSWORD = "chirp-demo-password"  # noqa: S105 - published demo credentials
DEMO = {
    "ada": ["Analytical engines weave algebraic patterns.", "Notes on the engine, part one."],
    "grace": ["It's easier to ask forgiveness than permission.", "Found a moth in relay 70."],
    "linus": ["Talk is cheap. Show me the code."],
}
# docs/billing.md subscribes with this code: 50% off the first 3 months of any paid plan.
DEMO_PROMOTION_CODE = "LAUNCH-50"
FOLLOWS = [("ada", "grace"), ("grace", "ada"), ("linus", "ada"), ("ada", "linus")]


async def seed_if_empty(services: Services) -> bool:
    """Create the demo accounts unless the database already has accounts."""
    runtime = services.runtime
    async with runtime.sessionmaker() as session, session.begin():
        if await session.scalar(select(func.count()).select_from(Account)):
            return False
        await _seed(session, services)
    await runtime.dispatcher.run_once()
    return True


async def _seed(session: AsyncSession, services: Services) -> None:
    hasher = services.runtime.hasher
    ids: dict[str, int] = {}
    for handle in DEMO:
        new = await accounts.check_sign_up(
            session, handle=handle, email=f"{handle}@example.com", password=DEMO_PASSWORD
        )
        new = await accounts.hash_sign_up(new, hasher=hasher, password=DEMO_PASSWORD)
        account = await accounts.sign_up(session, new=new)
        ids[handle] = account.id
    for follower, followee in FOLLOWS:
        await social.follow_account(session, follower_id=ids[follower], followee_id=ids[followee])
    for handle, bodies in DEMO.items():
        for body in bodies:
            await posts.create_post(session, author_id=ids[handle], body=body)
    await _seed_promotion_code(session)


async def _seed_promotion_code(session: AsyncSession) -> None:
    launch = CouponSpec(
        name="Launch offer (demo): 50% off for 3 months",
        percent_off=50,
        amounts_off=(),
        duration=REPEATING,
        duration_months=3,
        plan_codes=(),
        max_redemptions=None,
        redeem_by=None,
        first_time_only=False,
    )
    await coupons.create_offer(session, launch, code=DEMO_PROMOTION_CODE)
