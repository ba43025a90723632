"""Glue shared by every staff action: one transaction that carries the audit entry, and a
separate entry for an attempt that was refused, so refusals leave a trace too."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession

from models.access import policies as access_policies
from models.audit import actions as audit
from models.audit.actions import Actor
from models.errors import DomainError
from models.text import without_controls
from resolvers.context import Context

log = logging.getLogger("chirp.audit")


@asynccontextmanager
async def staff_write(
    ctx: Context, *, action: str, target_type: str, target_id: object, reason: str | None
) -> AsyncIterator[tuple[AsyncSession, Actor]]:
    """A write transaction for a staff action. The action records its own audit entry in it;
    when it fails with a domain error (no reason, outranked, unknown target...), the refusal
    is recorded in a transaction of its own and the error goes on to the client."""
    async with (
        staff_action(
            ctx, action=action, target_type=target_type, target_id=target_id, reason=reason
        ) as actor,
        ctx.write() as session,
    ):
        yield session, actor


@asynccontextmanager
async def staff_action(
    ctx: Context, *, action: str, target_type: str, target_id: object, reason: str | None
) -> AsyncIterator[Actor]:
    """A staff action that opens its own transactions (a refund, around its Stripe call):
    no transaction is open here, and a refusal is audited as `staff_write` audits it."""
    actor = await ctx.actor()
    try:
        yield actor
    except DomainError as err:
        async with ctx.write() as session:
            await audit.record_entry(
                session,
                actor=actor,
                action=action,
                target_type=target_type,
                target_id=target_id,
                reason=without_controls((reason or "").strip())[:1000],
                outcome=f"refused:{err.code}",
            )
        raise


async def audit_read(ctx: Context, *, what: str, target_type: str, target_id: object) -> None:
    """Record a staff read of sensitive data (an email, sessions, a private post...) before
    the data is returned: one entry per operation, kind and target. A failure to record
    fails the read."""
    key = (what, target_type, str(target_id))
    if key in ctx.audited_reads:
        return
    actor = await ctx.actor()
    async with ctx.write() as session:
        await audit.record_entry(
            session,
            actor=actor,
            action=f"read.{what}",
            target_type=target_type,
            target_id=target_id,
            reason=ctx.access_reason,
        )
    ctx.audited_reads.add(key)


# A refusal is recorded once per account and field per minute and process, so a staff
# session cannot fill the log (or queue every writer behind the chain's lock) by repeating a
# refused request.
REFUSAL_EVERY = 60.0


def _first_refusal_in_a_while(ctx: Context, account_id: int, field: str) -> bool:
    recent = ctx.runtime.refusals_audited
    now = time.monotonic()
    if len(recent) > 10_000:
        recent.clear()
    last = recent.get((account_id, field))
    if last is not None and now - last < REFUSAL_EVERY:
        return False
    recent[(account_id, field)] = now
    return True


async def audit_refusal(ctx: Context, *, field: str, reason: str) -> None:
    """A staff member refused by `@requiresRole` (a role they lack, or no second factor):
    recorded at most once a minute per account and field. A plain user's refusal is not
    recorded, so anyone cannot fill the log. The refusal stands even if recording fails."""
    if ctx.viewer is None:
        return
    stored = await ctx.stored_roles()
    if not access_policies.is_staff(stored) or not _first_refusal_in_a_while(
        ctx, ctx.viewer.id, field
    ):
        return
    actor = Actor(
        account_id=ctx.viewer.id,
        handle=ctx.viewer.handle,
        roles=tuple(sorted(r.value for r in stored)),
        request_id=ctx.request_id,
        ip=ctx.client_ip,
        user_agent=ctx.user_agent,
    )
    try:
        async with ctx.write() as session:
            await audit.record_entry(
                session,
                actor=actor,
                action="access.refused",
                target_type="field",
                target_id=field,
                reason=ctx.access_reason,
                outcome=f"refused:{reason}",
            )
    except Exception:
        log.exception("could not record a refused staff attempt on %s", field)
