"""Integrations glue: webhook endpoints, their delivery log, and account exports."""

from __future__ import annotations

from dataclasses import dataclass

from models.integrations import actions, exports, queries
from models.integrations.exports import ExportChunk
from models.integrations.specs import AccountExportSpec, EndpointChange, EndpointSpec
from models.integrations.tables import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from models.pages import Page
from resolvers.context import Context
from resolvers.paging import check_first, decode_cursor
from resolvers.staff import staff_write

ENDPOINT = "webhook_endpoint"


async def create_endpoint(ctx: Context, *, spec: EndpointSpec) -> tuple[WebhookEndpoint, str]:
    roles = await ctx.roles()
    async with staff_write(
        ctx, action="webhook.create", target_type=ENDPOINT, target_id="", reason=spec.reason
    ) as (session, actor):
        return await actions.create_endpoint(
            session,
            actor=actor,
            actor_roles=roles,
            spec=spec,
            production=ctx.settings.is_production,
        )


async def update_endpoint(ctx: Context, *, change: EndpointChange) -> WebhookEndpoint:
    roles = await ctx.roles()
    async with staff_write(
        ctx,
        action="webhook.update",
        target_type=ENDPOINT,
        target_id=change.endpoint_id,
        reason=change.reason,
    ) as (session, actor):
        return await actions.update_endpoint(
            session,
            actor=actor,
            actor_roles=roles,
            change=change,
            production=ctx.settings.is_production,
        )


async def set_endpoint_enabled(
    ctx: Context, *, endpoint_id: int, enabled: bool, reason: str | None
) -> WebhookEndpoint:
    roles = await ctx.roles()
    action = "webhook.enable" if enabled else "webhook.disable"
    async with staff_write(
        ctx, action=action, target_type=ENDPOINT, target_id=endpoint_id, reason=reason
    ) as (session, actor):
        return await actions.set_endpoint_enabled(
            session,
            actor=actor,
            actor_roles=roles,
            endpoint_id=endpoint_id,
            enabled=enabled,
            reason=reason,
        )


async def rotate_endpoint_secret(
    ctx: Context, *, endpoint_id: int, reason: str | None
) -> tuple[WebhookEndpoint, str]:
    roles = await ctx.roles()
    async with staff_write(
        ctx,
        action="webhook.rotate_secret",
        target_type=ENDPOINT,
        target_id=endpoint_id,
        reason=reason,
    ) as (session, actor):
        return await actions.rotate_endpoint_secret(
            session, actor=actor, actor_roles=roles, endpoint_id=endpoint_id, reason=reason
        )


async def delete_endpoint(ctx: Context, *, endpoint_id: int, reason: str | None) -> None:
    roles = await ctx.roles()
    async with staff_write(
        ctx, action="webhook.delete", target_type=ENDPOINT, target_id=endpoint_id, reason=reason
    ) as (session, actor):
        await actions.delete_endpoint(
            session, actor=actor, actor_roles=roles, endpoint_id=endpoint_id, reason=reason
        )


async def endpoints(ctx: Context) -> list[WebhookEndpoint]:
    async with ctx.read() as session:
        return await queries.list_endpoints(session)


async def endpoint(ctx: Context, *, endpoint_id: int) -> WebhookEndpoint | None:
    async with ctx.read() as session:
        return await queries.get_endpoint(session, endpoint_id=endpoint_id)


@dataclass(frozen=True, slots=True)
class DeliveryPage:
    page: Page[WebhookDelivery]
    attempts: dict[int, list[WebhookAttempt]]


async def deliveries(
    ctx: Context, *, endpoint_id: int, first: int, after: str | None
) -> DeliveryPage:
    """A page of an endpoint's deliveries with their latest attempts (two queries)."""
    first, before_id = check_first(first), decode_cursor(after)
    async with ctx.read() as session:
        rows, has_next = await queries.delivery_page(
            session, endpoint_id=endpoint_id, first=first, before_id=before_id
        )
        attempts = await queries.attempts_of(session, delivery_ids=[r.id for r in rows])
    return DeliveryPage(Page(items=[(r.id, r) for r in rows], has_next=has_next), attempts)


async def export_accounts(ctx: Context, *, spec: AccountExportSpec) -> ExportChunk:
    roles = await ctx.roles()
    async with staff_write(
        ctx, action="accounts.export", target_type="accounts", target_id="", reason=spec.reason
    ) as (session, actor):
        return await exports.export_accounts(session, actor=actor, actor_roles=roles, spec=spec)
