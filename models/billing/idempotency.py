"""Idempotency keys for Stripe calls, stored and committed before the call is made."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import conflict_insert, utcnow
from models.billing.tables import StripeRequest
from models.transactions import Transactions


async def reserve(transactions: Transactions, *, key: str, operation: str) -> str | None:
    """Store `key` (once; a retry finds it) and commit. Returns the Stripe object id of an
    earlier call with this key that completed, so the caller need not call again."""
    async with transactions.begin() as session:
        insert = conflict_insert(session)
        await session.execute(
            insert(StripeRequest)
            .values(key=key, operation=operation, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["key"])
        )
        return await session.scalar(select(StripeRequest.result_id).where(StripeRequest.key == key))


async def complete(session: AsyncSession, *, key: str, result_id: str) -> None:
    """Remember what the call with `key` produced (in the caller's transaction)."""
    request = await session.get(StripeRequest, key)
    if request is not None and request.result_id is None:
        request.result_id = result_id
        request.completed_at = utcnow()
